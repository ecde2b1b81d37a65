/**
 * The engine: runs steps as a dependency graph, overlapping what is independent (the image build,
 * IAM, the cluster and the log group all start at once), and reports progress events.
 *
 *   apply   : read -> desired -> plan -> apply (or, with dryRun, print the plan and stop there)
 *   inspect : read -> desired -> plan for every step, no change (status, dry-run, the wizard's summary)
 *   destroy : reverse order, a step is destroyed once everything that depends on it is gone
 *
 * When only some steps are targeted (a single subcommand), their dependencies are read, not applied:
 * a missing dependency is a clear error naming the command that creates it.
 */
import { CliError, ConflictError, InterruptedError, UserInputError } from './errors.js';
import type { Context } from './context.js';
import { isAbsent, type AnyStep, type DepOutputs, type Outputs, type Plan, type StepId } from './step.js';
import { toCliError } from '../aws/errors.js';

export interface StepReport {
  id: StepId;
  title: string;
  /** What was (or, in dry-run, would be) done. */
  action: Plan['action'] | 'skipped' | 'failed' | 'destroy' | 'absent' | 'interrupted' | 'unconfigured';
  plan?: Plan;
  ms: number;
  outputs?: Outputs;
  details?: Record<string, string>;
  error?: string;
  deleted?: string[];
  kept?: string[];
}

export interface RunReport {
  ok: boolean;
  dryRun: boolean;
  steps: StepReport[];
  outputs: Partial<Record<StepId, Outputs>>;
}

export interface ApplyOptions {
  /** Steps to apply; their dependencies that aren't targets are only read. Default: all. */
  targets?: readonly StepId[];
  dryRun?: boolean;
  /** Emit each step's plan as it is made (off when the wizard has already shown the whole plan). */
  announcePlan?: boolean;
}

/** Order steps so that each comes after its dependencies; reject cycles and unknown ids. */
export function topoSort(steps: readonly AnyStep[]): AnyStep[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const out: AnyStep[] = [];
  const state = new Map<StepId, 'visiting' | 'done'>();
  const visit = (s: AnyStep, path: StepId[]) => {
    const st = state.get(s.id);
    if (st === 'done') return;
    if (st === 'visiting') throw new Error(`Step dependency cycle: ${[...path, s.id].join(' -> ')}`);
    state.set(s.id, 'visiting');
    for (const d of s.dependsOn) {
      const dep = byId.get(d);
      if (!dep) throw new Error(`Step ${s.id} depends on unknown step ${d}`);
      visit(dep, [...path, s.id]);
    }
    state.set(s.id, 'done');
    out.push(s);
  };
  for (const s of steps) visit(s, []);
  return out;
}

/** Bind `report` to a step, keeping every other property (lazy client getters included). */
function stepContext(ctx: Context, step: AnyStep): Context {
  const bound = Object.create(ctx) as Context;
  Object.defineProperty(bound, 'report', {
    value: (message: string) => ctx.io.emit({ type: 'step-progress', step: step.id, message }),
  });
  return bound;
}

function checkInterrupted(ctx: Context): void {
  if (ctx.signal.aborted) throw new InterruptedError({ what: 'Interrupted', why: 'Ctrl-C' });
}

/** Run a graph of jobs, each started as soon as its dependencies are done. */
async function runGraph(
  order: readonly AnyStep[],
  depsOf: (s: AnyStep) => readonly StepId[],
  job: (s: AnyStep) => Promise<'ok' | 'failed'>,
  onSkip: (s: AnyStep, because: StepId) => void,
): Promise<void> {
  const status = new Map<StepId, 'ok' | 'failed' | 'skipped'>();
  const running = new Map<StepId, Promise<void>>();
  const pending = [...order];
  while (pending.length > 0 || running.size > 0) {
    let started = false;
    for (const s of [...pending]) {
      const deps = depsOf(s);
      const bad = deps.find((d) => status.get(d) === 'failed' || status.get(d) === 'skipped');
      if (bad) {
        pending.splice(pending.indexOf(s), 1);
        status.set(s.id, 'skipped');
        onSkip(s, bad);
        started = true;
        continue;
      }
      if (deps.every((d) => status.get(d) === 'ok')) {
        pending.splice(pending.indexOf(s), 1);
        const p = job(s).then(
          (r) => {
            status.set(s.id, r);
            running.delete(s.id);
          },
          () => {
            status.set(s.id, 'failed');
            running.delete(s.id);
          },
        );
        running.set(s.id, p);
        started = true;
      }
    }
    if (!started) {
      if (running.size === 0) break; // nothing can start (should not happen after topoSort)
      await Promise.race(running.values());
    }
  }
}

export async function applySteps(steps: readonly AnyStep[], ctx: Context, opts: ApplyOptions = {}): Promise<RunReport> {
  const order = topoSort(steps);
  const targets = new Set<StepId>(opts.targets ?? order.map((s) => s.id));
  const needed = new Set<StepId>();
  const addNeeded = (id: StepId) => {
    if (needed.has(id)) return;
    needed.add(id);
    order.find((s) => s.id === id)?.dependsOn.forEach(addNeeded);
  };
  targets.forEach(addNeeded);
  const run = order.filter((s) => needed.has(s.id));

  await prepareSteps(run, ctx);

  const outputs: Partial<Record<StepId, Outputs>> = {};
  const reports = new Map<StepId, StepReport>();
  const errors: CliError[] = [];
  const depOutputs = (s: AnyStep): DepOutputs => Object.fromEntries(s.dependsOn.map((d) => [d, outputs[d] ?? {}]));

  await runGraph(
    run,
    (s) => s.dependsOn,
    async (step) => {
      const t0 = ctx.clock.now();
      const sctx = stepContext(ctx, step);
      const isTarget = targets.has(step.id);
      if (ctx.signal.aborted) {
        reports.set(step.id, { id: step.id, title: step.title, action: 'skipped', ms: 0, error: 'not started (interrupted)' });
        ctx.io.emit({ type: 'step-skipped', step: step.id, title: step.title, reason: 'not started (interrupted)' });
        if (!errors.some((e) => e instanceof InterruptedError)) errors.push(new InterruptedError({ what: 'Interrupted', why: 'Ctrl-C' }));
        return 'failed';
      }
      try {
        ctx.io.emit({ type: 'step-start', step: step.id, title: step.title, phase: isTarget && !opts.dryRun ? 'apply' : 'read' });
        const observed = await step.read(sctx);
        const desired = step.desired(sctx, depOutputs(step));
        if (!isTarget) {
          // A dependency of a targeted step: read it, never change it.
          if (isAbsent(observed)) {
            throw new UserInputError({
              what: `${step.title} does not exist yet`,
              why: `it is needed by ${[...targets].join(', ')}`,
              fix: `Create it first with \`ecs-cwlogs ${step.id}\`, or run \`ecs-cwlogs up\`.`,
            });
          }
          outputs[step.id] = step.preview(observed, desired);
          reports.set(step.id, { id: step.id, title: step.title, action: 'noop', ms: ctx.clock.now() - t0, outputs: outputs[step.id], details: step.describe(observed) });
          ctx.io.emit({ type: 'step-done', step: step.id, title: step.title, action: 'noop', ms: ctx.clock.now() - t0, detail: 'read only' });
          return 'ok';
        }
        const plan = step.plan(observed, desired);
        if (opts.announcePlan !== false || plan.action === 'conflict') ctx.io.emit({ type: 'plan', step: step.id, title: step.title, plan });
        if (plan.action === 'conflict') {
          throw new ConflictError({ what: plan.what, why: plan.why, fix: plan.fix });
        }
        if (opts.dryRun) {
          outputs[step.id] = step.preview(observed, desired);
          reports.set(step.id, { id: step.id, title: step.title, action: plan.action, plan, ms: ctx.clock.now() - t0, outputs: outputs[step.id] });
          ctx.io.emit({
            type: 'step-done',
            step: step.id,
            title: step.title,
            action: plan.action,
            ms: ctx.clock.now() - t0,
            verb: plan.action === 'noop' ? 'in sync' : `would ${plan.action}`,
            detail: '(dry run)',
          });
          return 'ok';
        }
        checkInterrupted(ctx);
        const out = await step.apply(sctx, { plan, observed, desired });
        outputs[step.id] = out;
        const ms = ctx.clock.now() - t0;
        reports.set(step.id, { id: step.id, title: step.title, action: plan.action, plan, ms, outputs: out });
        ctx.io.emit({ type: 'step-done', step: step.id, title: step.title, action: plan.action, ms, outputs: out, detail: summaryOf(plan) });
        return 'ok';
      } catch (e) {
        const err = ctx.signal.aborted ? new InterruptedError({ what: 'Interrupted', why: `Ctrl-C during ${step.title}` }) : toCliError(e, step.title);
        errors.push(err);
        const ms = ctx.clock.now() - t0;
        reports.set(step.id, { id: step.id, title: step.title, action: err instanceof InterruptedError ? 'interrupted' : 'failed', ms, error: err.message });
        ctx.io.emit({ type: 'step-failed', step: step.id, title: step.title, ms, message: err.message, interrupted: err instanceof InterruptedError });
        return 'failed';
      }
    },
    (s, because) => {
      const reason = ctx.signal.aborted ? 'not started (interrupted)' : `skipped: ${because} did not complete`;
      reports.set(s.id, { id: s.id, title: s.title, action: 'skipped', ms: 0, error: reason });
      ctx.io.emit({ type: 'step-skipped', step: s.id, title: s.title, reason });
    },
  );

  const report: RunReport = {
    ok: errors.length === 0,
    dryRun: Boolean(opts.dryRun),
    steps: run.map((s) => reports.get(s.id)!).filter(Boolean),
    outputs,
  };
  if (errors.length > 0) throw new EngineError(report, pickError(errors));
  return report;
}

function summaryOf(plan: Plan): string | undefined {
  if (plan.action === 'update') return plan.diffs.map((d) => d.field).join(', ');
  return undefined;
}

/** Interrupted wins, then input errors, then the first failure. */
function pickError(errors: CliError[]): CliError {
  return errors.find((e) => e instanceof InterruptedError) ?? errors.find((e) => e instanceof UserInputError) ?? errors[0]!;
}

/** A failed run: the error to show, plus the report of what did and didn't happen. */
export class EngineError extends Error {
  constructor(
    readonly report: RunReport,
    readonly error: CliError,
  ) {
    super(error.message);
  }
}

/** Validate: every step's read-only checks, before any step applies. */
export async function prepareSteps(steps: readonly AnyStep[], ctx: Context): Promise<void> {
  for (const step of steps) {
    if (!step.prepare) continue;
    try {
      await step.prepare(stepContext(ctx, step));
    } catch (e) {
      throw toCliError(e, `Checking the settings of ${step.title}`);
    }
  }
}

/** Read and plan every step without changing anything (status, the wizard's summary). */
export async function inspectSteps(steps: readonly AnyStep[], ctx: Context, opts: { prepare?: boolean } = {}): Promise<RunReport> {
  const order = topoSort(steps);
  if (opts.prepare) await prepareSteps(order, ctx);
  const outputs: Partial<Record<StepId, Outputs>> = {};
  const reports: StepReport[] = [];
  for (const step of order) {
    const t0 = ctx.clock.now();
    checkInterrupted(ctx);
    const sctx = stepContext(ctx, step);
    try {
      const observed = await step.read(sctx);
      const desired = step.desired(sctx, Object.fromEntries(step.dependsOn.map((d) => [d, outputs[d] ?? {}])));
      const plan = step.plan(observed, desired);
      outputs[step.id] = step.preview(observed, desired);
      reports.push({
        id: step.id,
        title: step.title,
        action: isAbsent(observed) ? 'absent' : plan.action,
        plan,
        ms: ctx.clock.now() - t0,
        outputs: outputs[step.id],
        details: isAbsent(observed) ? (observed.detail ? { detail: observed.detail } : {}) : step.describe(observed),
      });
    } catch (e) {
      const err = toCliError(e, step.title);
      // A setting the step needs is missing (e.g. no image yet): say so, it is not a failure to read.
      const action = err instanceof UserInputError ? 'unconfigured' : 'failed';
      reports.push({ id: step.id, title: step.title, action, ms: ctx.clock.now() - t0, error: err.message });
      if (err instanceof InterruptedError || err.kind === 'aws') throw new EngineError({ ok: false, dryRun: true, steps: reports, outputs }, err);
    }
  }
  return { ok: reports.every((r) => r.action !== 'failed'), dryRun: true, steps: reports, outputs };
}

/** Destroy in reverse dependency order, in parallel where independent. */
export async function destroySteps(steps: readonly AnyStep[], ctx: Context, opts: { targets?: readonly StepId[] } = {}): Promise<RunReport> {
  const order = topoSort(steps);
  const targets = new Set<StepId>(opts.targets ?? order.map((s) => s.id));
  const run = order.filter((s) => targets.has(s.id)).reverse();
  const dependents = (s: AnyStep) => run.filter((o) => o.dependsOn.includes(s.id)).map((o) => o.id);
  const reports = new Map<StepId, StepReport>();
  const errors: CliError[] = [];

  await runGraph(
    run,
    dependents,
    async (step) => {
      const t0 = ctx.clock.now();
      try {
        checkInterrupted(ctx);
        ctx.io.emit({ type: 'step-start', step: step.id, title: step.title, phase: 'destroy' });
        const res = await step.destroy(stepContext(ctx, step));
        const ms = ctx.clock.now() - t0;
        reports.set(step.id, { id: step.id, title: step.title, action: 'destroy', ms, deleted: res.deleted, kept: res.kept });
        const detail = [...res.deleted, ...res.kept.map((k) => `kept ${k}`)].join('; ');
        const verb = res.deleted.length ? 'deleted' : 'nothing to delete';
        ctx.io.emit({ type: 'step-done', step: step.id, title: step.title, action: 'destroy', ms, detail, verb });
        return 'ok';
      } catch (e) {
        const err = ctx.signal.aborted ? new InterruptedError({ what: 'Interrupted', why: `Ctrl-C while deleting ${step.title}` }) : toCliError(e, step.title);
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

export interface Observation {
  id: StepId;
  title: string;
  present: boolean;
  details: Record<string, string>;
}

/** Read every step (in parallel), nothing else: what exists right now (for `down`'s confirmation). */
export async function observeSteps(steps: readonly AnyStep[], ctx: Context): Promise<Observation[]> {
  return Promise.all(
    steps.map(async (step) => {
      try {
        const observed = await step.read(stepContext(ctx, step));
        return { id: step.id, title: step.title, present: !isAbsent(observed), details: isAbsent(observed) ? {} : step.describe(observed) };
      } catch (e) {
        throw toCliError(e, `Reading ${step.title}`);
      }
    }),
  );
}
