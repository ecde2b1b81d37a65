/**
 * The engine: runs steps as a dependency graph, overlapping what is independent (the image build,
 * IAM, the cluster and the log group all start at once), and reports progress events.
 *
 *   planRun     : Validate and Plan. prepare every step of the run (read-only checks, discovered
 *                 values), then read -> desired -> plan every step, dependencies' outputs previewed.
 *                 Every conflict of the whole run is found here, before anything is written.
 *   executePlan : Execute. Applies the frozen plan; a step whose dependencies only became known by
 *                 applying (a new ARN, a pushed digest) has its desired state completed with them.
 *   inspectSteps: the plan, shown (status): conflicts are reported, not thrown.
 *   destroySteps: reverse order, a step is destroyed once everything that depends on it is gone;
 *                 with dryRun, only what would be deleted is read (destroy.ts).
 *
 * The scheduler (graph.ts) starts a step as soon as every step it waits on is done, so a run takes
 * its critical path: the image, IAM, the cluster and the log group start together, the task
 * definition does not wait for the instance.
 *
 * When only some steps are targeted (a single subcommand), their dependencies are read, not applied:
 * a missing dependency is a clear error naming the command that creates it.
 */
import { CliError, ConflictError, InterruptedError, UserInputError } from '../core/errors.js';
import type { Context } from './context.js';
import { edgesOf, isAbsent, type Absent, type AnyStep, type DepOutputs, type Outputs, type Plan, type StepId, type StepOutputs } from '../core/step.js';
import { toCliError } from '../aws/errors.js';
import { deepEqual } from '../core/diff.js';
import { runGraph, runOrder } from './graph.js';
import { checkInterrupted, combine, EngineError, interrupted, pickError, stepContext, type RunReport, type StepReport } from './report.js';
import { assertKnown } from './ownership.js';
import { withPlanReads } from './run.js';

export { topoSort } from './graph.js';
export { EngineError, type RunReport, type StepReport } from './report.js';
export { destroySteps, previewDestroy, type DestroyOptions } from './destroy.js';

/** One step of a planned run. */
export interface PlannedStep {
  step: AnyStep;
  /** Applied (true) or only read as a dependency of a target (false). */
  target: boolean;
  prepared: unknown;
  observed: unknown;
  desired: unknown;
  plan: Plan;
  preview: Outputs;
  /** The dependency outputs desired was derived from. */
  deps: DepOutputs;
  readMs: number;
}

export interface RunPlan {
  steps: PlannedStep[];
  byId: Map<StepId, PlannedStep>;
  /** Steps whose plan changes something (create, update, replace). */
  changes: PlannedStep[];
}

/** Validate: every step's read-only checks, all of them, before any step applies. All problems together. */
export async function prepareSteps(steps: readonly AnyStep[], ctx: Context): Promise<Map<StepId, unknown>> {
  const out = new Map<StepId, unknown>();
  const errors: CliError[] = [];
  await Promise.all(
    steps.map(async (step) => {
      if (!step.prepare) return;
      try {
        out.set(step.id, await step.prepare(stepContext(ctx, step)));
      } catch (e) {
        errors.push(ctx.signal.aborted ? interrupted() : toCliError(e, `Checking the settings of ${step.title}`));
      }
    }),
  );
  if (errors.length) throw combine(errors);
  return out;
}

export interface PlanOptions {
  targets?: readonly StepId[];
  /** Targets bring in their `after` dependencies too (the steps given are one topology's). */
  withAfter?: boolean;
}

function depsFor(step: AnyStep, outputs: Map<StepId, Outputs>): DepOutputs {
  return Object.fromEntries([...step.dependsOn, ...(step.after ?? [])].map((d) => [d, outputs.get(d)]).filter(([, v]) => v !== undefined));
}

/**
 * Validate and plan the whole run, changing nothing. Throws (0 mutating calls made) on any
 * conflict, missing dependency or failed precondition, naming all of them.
 */
export async function planRun(steps: readonly AnyStep[], runCtx: Context, opts: PlanOptions = {}): Promise<RunPlan> {
  const ctx = withPlanReads(runCtx);
  const { run, targets } = runOrder(steps, opts.targets, opts.withAfter);
  const prepared = await prepareSteps(run, ctx);
  const outputs = new Map<StepId, Outputs>();
  const planned = new Map<StepId, PlannedStep>();
  const errors: CliError[] = [];
  // Reads are independent of each other: start them all, then plan in dependency order.
  const reads = new Map(
    run.map((s) => {
      const t0 = ctx.clock.now();
      const p = s.read(stepContext(ctx, s), prepared.get(s.id)).then((o: unknown) => ({ o, ms: ctx.clock.now() - t0 }));
      p.catch(() => undefined);
      return [s.id, p] as const;
    }),
  );
  for (const step of run) {
    checkInterrupted(ctx);
    if ([...step.dependsOn, ...(step.after ?? [])].some((d) => !outputs.has(d) && run.some((r) => r.id === d))) continue; // a dependency failed to plan
    let observed: unknown;
    let readMs = 0;
    try {
      const r = await reads.get(step.id)!;
      observed = r.o;
      readMs = r.ms;
    } catch (e) {
      errors.push(ctx.signal.aborted ? interrupted() : toCliError(e, `Reading ${step.title}`));
      continue;
    }
    const isTarget = targets.has(step.id);
    if (!isTarget && isAbsent(observed)) {
      errors.push(
        new UserInputError({
          what: `${step.title} does not exist yet`,
          why: `it is needed by ${[...targets].join(', ')}`,
          fix: `Create it first with \`ecs-cwlogs ${step.id}\`, or run \`ecs-cwlogs up\`.`,
        }),
      );
      continue;
    }
    const deps = depsFor(step, outputs);
    let desired: unknown;
    let plan: Plan;
    try {
      desired = step.desired(stepContext(ctx, step), deps, prepared.get(step.id));
      plan = step.plan(observed, desired);
    } catch (e) {
      errors.push(toCliError(e, step.title));
      continue;
    }
    if (!isTarget && plan.action !== 'conflict') plan = { action: 'noop', summary: 'read only' };
    if (plan.action === 'conflict') errors.push(new ConflictError({ what: plan.what, why: plan.why, fix: plan.fix }));
    const preview = step.preview(observed, desired);
    outputs.set(step.id, preview);
    planned.set(step.id, { step, target: isTarget, prepared: prepared.get(step.id), observed, desired, plan, preview, deps, readMs });
  }
  if (errors.length) throw combine(errors);
  const list = run.map((s) => planned.get(s.id)).filter((x): x is PlannedStep => Boolean(x));
  return { steps: list, byId: planned, changes: list.filter((p) => p.target && ['create', 'update', 'replace'].includes(p.plan.action)) };
}

export interface ExecuteOptions {
  /** Emit each step's plan as it starts (off when the plan was already shown and confirmed). */
  announcePlan?: boolean;
}

/** A run's report without executing: what the plan would do (dry run). */
export function planReport(p: RunPlan): RunReport {
  const outputs: Record<string, Outputs> = {};
  for (const s of p.steps) outputs[s.step.id] = s.preview;
  return {
    ok: true,
    dryRun: true,
    steps: p.steps.map((s) => ({ id: s.step.id, title: s.step.title, action: s.plan.action, plan: s.plan, ms: s.readMs, outputs: s.preview })),
    outputs: outputs as DepOutputs,
  };
}

/** Print the plan as progress lines ("would create", "in sync"), as a dry run shows it. */
export function announceDryRun(p: RunPlan, ctx: Context): void {
  for (const s of p.steps) {
    if (!s.target) continue;
    ctx.io.emit({ type: 'plan', step: s.step.id, title: s.step.title, plan: s.plan });
    const a = s.plan.action;
    ctx.io.emit({
      type: 'step-done',
      step: s.step.id,
      title: s.step.title,
      action: a,
      ms: s.readMs,
      verb: a === 'noop' ? 'no change' : `would ${a}`,
      detail: '(dry run)',
    });
  }
}

/** Execute a frozen plan. */
export async function executePlan(p: RunPlan, ctx: Context, opts: ExecuteOptions = {}): Promise<RunReport> {
  const outputs = new Map<StepId, Outputs>();
  const reports = new Map<StepId, StepReport>();
  const errors: CliError[] = [];
  const order = p.steps.map((s) => s.step);
  const present = new Set(order.map((s) => s.id));
  const began = ctx.clock.now();

  await runGraph(
    order,
    (s) => edgesOf(s, present),
    async (step) => {
      const ps = p.byId.get(step.id)!;
      const t0 = ctx.clock.now();
      const sctx = stepContext(ctx, step);
      if (ctx.signal.aborted) {
        reports.set(step.id, { id: step.id, title: step.title, action: 'skipped', ms: 0, error: 'not started (interrupted)' });
        ctx.io.emit({ type: 'step-skipped', step: step.id, title: step.title, reason: 'not started (interrupted)' });
        if (!errors.some((e) => e instanceof InterruptedError)) errors.push(interrupted());
        return 'failed';
      }
      if (!ps.target) {
        outputs.set(step.id, ps.preview);
        reports.set(step.id, { id: step.id, title: step.title, action: 'noop', ms: ps.readMs, outputs: ps.preview, details: isAbsent(ps.observed) ? {} : step.describe(ps.observed) });
        return 'ok';
      }
      try {
        ctx.io.emit({ type: 'step-start', step: step.id, title: step.title, phase: 'apply' });
        // The plan was made with the dependencies' previews; where applying them made more known
        // (an ARN, a digest), complete the desired state with it. The observation is the plan's.
        let { desired, plan } = ps;
        const deps = depsFor(step, outputs);
        if (!deepEqual(deps, ps.deps)) {
          desired = step.desired(sctx, deps, ps.prepared);
          plan = step.plan(ps.observed, desired);
        }
        if (opts.announcePlan !== false || plan.action === 'conflict') ctx.io.emit({ type: 'plan', step: step.id, title: step.title, plan });
        if (plan.action === 'conflict') throw new ConflictError({ what: plan.what, why: plan.why, fix: plan.fix });
        checkInterrupted(ctx);
        assertKnown(step, desired);
        const out = await step.apply(sctx, { plan, observed: ps.observed, desired });
        outputs.set(step.id, out);
        const ms = ctx.clock.now() - t0;
        reports.set(step.id, { id: step.id, title: step.title, action: plan.action, plan, ms, startMs: t0 - began, waitedOn: edgesOf(step, present), outputs: out });
        ctx.io.emit({ type: 'step-done', step: step.id, title: step.title, action: plan.action, ms, outputs: out, detail: summaryOf(plan) });
        return 'ok';
      } catch (e) {
        const err = ctx.signal.aborted ? interrupted(`Ctrl-C during ${step.title}`) : toCliError(e, step.title);
        errors.push(err);
        const ms = ctx.clock.now() - t0;
        reports.set(step.id, { id: step.id, title: step.title, action: err instanceof InterruptedError ? 'interrupted' : 'failed', plan: ps.plan, ms, error: err.message });
        ctx.io.emit({ type: 'step-failed', step: step.id, title: step.title, ms, message: err.message, interrupted: err instanceof InterruptedError });
        return 'failed';
      }
    },
    (s, because) => {
      const reason = ctx.signal.aborted ? 'not started (interrupted)' : `skipped: ${because} did not complete`;
      reports.set(s.id, { id: s.id, title: s.title, action: 'skipped', plan: p.byId.get(s.id)?.plan, ms: 0, error: reason });
      ctx.io.emit({ type: 'step-skipped', step: s.id, title: s.title, reason });
    },
  );

  const report: RunReport = {
    ok: errors.length === 0,
    dryRun: false,
    steps: order.map((s) => reports.get(s.id)!).filter(Boolean),
    outputs: Object.fromEntries(outputs) as DepOutputs,
  };
  if (errors.length > 0) throw new EngineError(report, pickError(errors));
  return report;
}

/** Plan and execute (tests, and commands with nothing to confirm). */
export async function applySteps(steps: readonly AnyStep[], ctx: Context, opts: PlanOptions & ExecuteOptions & { dryRun?: boolean } = {}): Promise<RunReport> {
  const p = await planRun(steps, ctx, opts);
  if (opts.dryRun) {
    announceDryRun(p, ctx);
    return planReport(p);
  }
  return executePlan(p, ctx, opts);
}

function summaryOf(plan: Plan): string | undefined {
  if (plan.action === 'update' || plan.action === 'replace') return plan.diffs.map((d) => d.field).join(', ');
  return undefined;
}

/** Read and plan every step without changing anything (status). */
export async function inspectSteps(steps: readonly AnyStep[], runCtx: Context): Promise<RunReport> {
  const ctx = withPlanReads(runCtx);
  const { run } = runOrder(steps);
  let prepared: Map<StepId, unknown>;
  try {
    prepared = await prepareSteps(run, ctx);
  } catch (e) {
    if (e instanceof InterruptedError || (e as CliError).kind === 'aws') throw e;
    prepared = new Map(); // a setting that does not check out: each step says so below
  }
  const outputs = new Map<StepId, Outputs>();
  const reports: StepReport[] = [];
  for (const step of run) {
    const t0 = ctx.clock.now();
    checkInterrupted(ctx);
    const sctx = stepContext(ctx, step);
    try {
      const observed: unknown = await step.read(sctx, prepared.get(step.id));
      const desired = step.desired(sctx, depsFor(step, outputs), prepared.get(step.id));
      const plan = step.plan(observed, desired);
      outputs.set(step.id, step.preview(observed, desired));
      reports.push({
        id: step.id,
        title: step.title,
        action: isAbsent(observed) ? 'absent' : plan.action,
        plan,
        ms: ctx.clock.now() - t0,
        outputs: outputs.get(step.id),
        details: isAbsent(observed) ? ((observed as Absent).detail ? { detail: (observed as Absent).detail! } : {}) : step.describe(observed),
      });
    } catch (e) {
      const err = toCliError(e, step.title);
      // A setting the step needs is missing (e.g. no image yet): say so, it is not a failure to read.
      const action = err instanceof UserInputError ? 'unconfigured' : 'failed';
      reports.push({ id: step.id, title: step.title, action, ms: ctx.clock.now() - t0, error: err.message });
      if (err instanceof InterruptedError || err.kind === 'aws') throw new EngineError({ ok: false, dryRun: true, steps: reports, outputs: Object.fromEntries(outputs) }, err);
    }
  }
  return { ok: reports.every((r) => r.action !== 'failed'), dryRun: true, steps: reports, outputs: Object.fromEntries(outputs) as DepOutputs };
}

export type { StepOutputs };
