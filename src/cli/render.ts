/**
 * Human renderings of engine reports (the --json rendering is the report itself).
 */
import type { RunReport, StepReport } from '../engine/engine.js';
import { formatDiff } from '../core/diff.js';
import { showValue } from '../core/step.js';

const VERB: Record<StepReport['action'], string> = {
  create: 'created',
  update: 'updated',
  noop: 'in sync',
  replace: 'needs replacing',
  conflict: 'conflict',
  skipped: 'skipped',
  failed: 'failed',
  destroy: 'deleted',
  absent: 'absent',
  interrupted: 'interrupted',
  unconfigured: 'not set up',
};

const DRY: Partial<Record<StepReport['action'], string>> = { create: 'would create', update: 'would update', replace: 'would replace', noop: 'no change' };

export function renderApply(report: RunReport): string {
  const lines: string[] = [];
  for (const s of report.steps) {
    const verb = report.dryRun ? (DRY[s.action] ?? VERB[s.action]) : VERB[s.action];
    lines.push(`${s.title}: ${verb}`);
    if (s.plan?.action === 'update' || s.plan?.action === 'replace') for (const d of s.plan.diffs) lines.push(`    ${formatDiff(d)}`);
    if (s.plan?.action === 'replace') lines.push(`    ${s.plan.fix}`);
    for (const [k, v] of Object.entries(s.outputs ?? {})) if (v !== undefined) lines.push(`    ${k}: ${showValue(v)}`);
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

/** What `down` or `<step> --delete` would delete and keep (the confirmation list, and --dry-run's result). */
export function renderDestroyPreview(stack: string, region: string, report: RunReport, dryRun = true): string {
  const doomed = report.steps.flatMap((s) => s.deleted ?? []);
  const kept = report.steps.flatMap((s) => s.kept ?? []);
  const lines = [
    doomed.length
      ? `${dryRun ? 'Would delete' : 'To delete'}, from stack ${stack} in ${region}:`
      : `Nothing to delete: stack ${stack} has nothing of that kind in ${region}.`,
    ...doomed.map((d) => `  - ${d}`),
    ...(kept.length ? ['Kept:', ...kept.map((k) => `  - ${k}`)] : []),
  ];
  if (dryRun && doomed.length) lines.push('Dry run: nothing was deleted.');
  return lines.join('\n');
}
