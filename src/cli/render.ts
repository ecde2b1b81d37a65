/**
 * Human renderings of engine reports (the --json rendering is the report itself).
 */
import type { RunReport, StepReport } from '../core/engine.js';
import { formatDiff } from '../core/diff.js';

const VERB: Record<StepReport['action'], string> = {
  create: 'created',
  update: 'updated',
  noop: 'in sync',
  conflict: 'conflict',
  skipped: 'skipped',
  failed: 'failed',
  destroy: 'deleted',
  absent: 'absent',
  interrupted: 'interrupted',
  unconfigured: 'not set up',
};

const DRY: Partial<Record<StepReport['action'], string>> = { create: 'would create', update: 'would update', noop: 'in sync, no change' };

export function renderApply(report: RunReport): string {
  const lines: string[] = [];
  for (const s of report.steps) {
    const verb = report.dryRun ? (DRY[s.action] ?? VERB[s.action]) : VERB[s.action];
    lines.push(`${s.title}: ${verb}`);
    if (s.plan?.action === 'update') for (const d of s.plan.diffs) lines.push(`    ${formatDiff(d)}`);
    for (const [k, v] of Object.entries(s.outputs ?? {})) lines.push(`    ${k}: ${v}`);
  }
  if (report.dryRun) lines.push('Dry run: nothing was changed.');
  return lines.join('\n');
}

export function renderDestroy(report: RunReport): string {
  const lines: string[] = [];
  for (const s of report.steps) {
    if (s.deleted?.length) lines.push(`${s.title}: deleted ${s.deleted.join(', ')}`);
    else if (s.action === 'destroy') lines.push(`${s.title}: nothing of this stack to delete`);
    else lines.push(`${s.title}: ${s.action}${s.error ? ` (${s.error})` : ''}`);
    for (const k of s.kept ?? []) lines.push(`    kept ${k}`);
  }
  return lines.join('\n');
}
