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
 *                 with dryRun, only what would be deleted is read.
 *
 * When only some steps are targeted (a single subcommand), their dependencies are read, not applied:
 * a missing dependency is a clear error naming the command that creates it.
 */
import { CliError, ConflictError, InterruptedError, UserInputError } from '../core/errors.js';
import type { Context } from './context.js';
import { edgesOf, isAbsent, type Absent, type AnyStep, type DepOutputs, type Outputs, type Plan, type StepId, type StepOutputs } from '../core/step.js';
import { toCliError } from '../aws/errors.js';
import { deepEqual } from '../core/diff.js';
import { assertKnown, destroyOf, destroyPreviewOf } from './ownership.js';

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
  outputs: DepOutputs;
}

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

/** Order steps so that each comes after its dependencies; reject cycles and unknown ids. */
export function topoSort(steps: readonly AnyStep[]): AnyStep[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const present = new Set(byId.keys());
  const out: AnyStep[] = [];
  const state = new Map<StepId, 'visiting' | 'done'>();
  const visit = (s: AnyStep, path: StepId[]) => {
    const st = state.get(s.id);
    if (st === 'done') return;
    if (st === 'visiting') throw new Error(`Step dependency cycle: ${[...path, s.id].join(' -> ')}`);
    state.set(s.id, 'visiting');
    for (const d of edgesOf(s, present)) {
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

function interrupted(why = 'Ctrl-C'): InterruptedError {
  return new InterruptedError({ what: 'Interrupted', why });
}

function checkInterrupted(ctx: Context): void {
  if (ctx.signal.aborted) throw interrupted();
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
      const deps = depsOf(s).filter((d) => order.some((o) => o.id === d));
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

/**
 * The steps a run touches: the targets and, read only, everything they depend on. `after` edges
 * only order the steps a run has; with `withAfter` (the CLI, whose steps are the topology's) they
 * bring their steps in too, as dependsOn does.
 */
function runOrder(steps: readonly AnyStep[], targets?: readonly StepId[], withAfter = false): { run: AnyStep[]; targets: Set<StepId> } {
  const order = topoSort(steps);
  const present = new Set(order.map((s) => s.id));
  const t = new Set<StepId>(targets ?? order.map((s) => s.id));
  const needed = new Set<StepId>();
  const addNeeded = (id: StepId) => {
    if (needed.has(id)) return;
    needed.add(id);
    const s = order.find((x) => x.id === id);
    if (s) (withAfter ? edgesOf(s, present) : s.dependsOn).forEach(addNeeded);
  };
  t.forEach(addNeeded);
  return { run: order.filter((s) => needed.has(s.id)), targets: t };
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

/** One error for several: the worst kind first, every message listed. */
function combine(all: CliError[]): CliError {
  // Two steps that check the same thing (the VPC) fail with the same message: say it once.
  const errors = all.filter((e, i) => all.findIndex((x) => x.message === e.message) === i);
  const first = pickError(errors);
  if (errors.length === 1) return first;
  const others = errors.filter((e) => e !== first);
  if (first instanceof InterruptedError) return first;
  const Kind = first.constructor as new (p: { what: string; why?: string; fix?: string; cause?: unknown }) => CliError;
  return new Kind({
    what: `${errors.length} problems, nothing was changed`,
    why: ['', first.message, ...others.map((e) => e.message)].join('\n  - '),
    cause: first,
  });
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
export async function planRun(steps: readonly AnyStep[], ctx: Context, opts: PlanOptions = {}): Promise<RunPlan> {
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
        reports.set(step.id, { id: step.id, title: step.title, action: plan.action, plan, ms, outputs: out });
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

/** Read and plan every step without changing anything (status). */
export async function inspectSteps(steps: readonly AnyStep[], ctx: Context): Promise<RunReport> {
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

export interface DestroyOptions {
  targets?: readonly StepId[];
  /** Read what would be deleted; delete nothing. */
  dryRun?: boolean;
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
        const r = await destroyPreviewOf(step, stepContext(ctx, step));
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

  await runGraph(
    run,
    dependents,
    async (step) => {
      const t0 = ctx.clock.now();
      try {
        checkInterrupted(ctx);
        ctx.io.emit({ type: 'step-start', step: step.id, title: step.title, phase: 'destroy' });
        const res = await destroyOf(step, stepContext(ctx, step));
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

export type { StepOutputs };
