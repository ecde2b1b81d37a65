/**
 * Teardown: `down`, and a step's --delete. Reverse dependency order, a step once everything that
 * depends on it is gone, independent ones together; with dryRun, only what would be deleted is read.
 */
import { InterruptedError, type CliError } from '../core/errors.js';
import { edgesOf, type AnyStep, type StepId } from '../core/step.js';
import { toCliError } from '../aws/errors.js';
import type { Context } from './context.js';
import { destroyOf, destroyPreviewOf, withDeletedBefore, withPreviewed, withRecorder, type FoundByStep } from './ownership.js';
import { runGraph, topoSort } from './graph.js';
import { checkInterrupted, EngineError, interrupted, pickError, stepContext, type RunReport, type StepReport } from './report.js';

export interface DestroyOptions {
  targets?: readonly StepId[];
  /** Read what would be deleted; delete nothing. */
  dryRun?: boolean;
  /**
   * What a preview of the same run found (previewDestroy fills it, destroySteps uses it): a step
   * whose teardown is derived from its ownership deletes what the preview listed, not read again.
   */
  found?: FoundByStep;
}

/** What `down` (or a step's --delete) would delete, per step, read-only. */
export async function previewDestroy(steps: readonly AnyStep[], ctx: Context, opts: DestroyOptions = {}): Promise<RunReport> {
  const order = topoSort(steps);
  const targets = new Set<StepId>(opts.targets ?? order.map((s) => s.id));
  const run = order.filter((s) => targets.has(s.id)).reverse();
  const steps_ = await Promise.all(
    run.map(async (step): Promise<StepReport> => {
      const t0 = ctx.clock.now();
      try {
        const found = opts.found;
        const r = await destroyPreviewOf(step, withRecorder(stepContext(ctx, step), found && ((f) => found.set(step.id, f))));
        return { id: step.id, title: step.title, action: 'destroy', ms: ctx.clock.now() - t0, deleted: r.deleted, kept: r.kept };
      } catch (e) {
        throw toCliError(e, `Reading ${step.title}`);
      }
    }),
  );
  return { ok: true, dryRun: true, steps: steps_, outputs: {} };
}

/** Destroy in reverse dependency order, in parallel where independent. */
export async function destroySteps(steps: readonly AnyStep[], ctx: Context, opts: DestroyOptions = {}): Promise<RunReport> {
  if (opts.dryRun) {
    const report = await previewDestroy(steps, ctx, opts);
    for (const s of report.steps) {
      const detail = [...(s.deleted ?? []), ...(s.kept ?? []).map((k) => `kept ${k}`)].join('; ');
      ctx.io.emit({ type: 'step-done', step: s.id, title: s.title, action: 'destroy', ms: s.ms, detail, verb: s.deleted?.length ? 'would delete' : 'nothing to delete' });
    }
    return report;
  }
  const order = topoSort(steps);
  const targets = new Set<StepId>(opts.targets ?? order.map((s) => s.id));
  const run = order.filter((s) => targets.has(s.id)).reverse();
  const present = new Set(run.map((s) => s.id));
  const dependents = (s: AnyStep) => run.filter((o) => edgesOf(o, present).includes(s.id)).map((o) => o.id);
  const reports = new Map<StepId, StepReport>();
  const errors: CliError[] = [];
  const done: StepId[] = [];

  await runGraph(
    run,
    dependents,
    async (step) => {
      const t0 = ctx.clock.now();
      try {
        checkInterrupted(ctx);
        ctx.io.emit({ type: 'step-start', step: step.id, title: step.title, phase: 'destroy' });
        const res = await destroyOf(step, withDeletedBefore(withPreviewed(stepContext(ctx, step), opts.found?.get(step.id)), done));
        done.push(step.id);
        const ms = ctx.clock.now() - t0;
        reports.set(step.id, { id: step.id, title: step.title, action: 'destroy', ms, deleted: res.deleted, kept: res.kept });
        const detail = [...res.deleted, ...res.kept.map((k) => `kept ${k}`)].join('; ');
        const verb = res.deleted.length ? 'deleted' : 'nothing to delete';
        ctx.io.emit({ type: 'step-done', step: step.id, title: step.title, action: 'destroy', ms, detail, verb });
        return 'ok';
      } catch (e) {
        const err = ctx.signal.aborted ? interrupted(`Ctrl-C while deleting ${step.title}`) : toCliError(e, step.title);
        errors.push(err);
        const ms = ctx.clock.now() - t0;
        reports.set(step.id, { id: step.id, title: step.title, action: 'failed', ms, error: err.message });
        ctx.io.emit({ type: 'step-failed', step: step.id, title: step.title, ms, message: err.message, interrupted: err instanceof InterruptedError });
        return 'failed';
      }
    },
    (s, because) => {
      reports.set(s.id, { id: s.id, title: s.title, action: 'skipped', ms: 0, error: `kept: ${because} could not be deleted first` });
      ctx.io.emit({ type: 'step-skipped', step: s.id, title: s.title, reason: `kept: ${because} could not be deleted first` });
    },
  );
  const report: RunReport = { ok: errors.length === 0, dryRun: false, steps: run.map((s) => reports.get(s.id)!).filter(Boolean), outputs: {} };
  if (errors.length > 0) throw new EngineError(report, pickError(errors));
  return report;
}
