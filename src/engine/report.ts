/**
 * What a run reports (per step: its action, time, outputs, what it deleted), the context bound to a
 * step for its progress lines, and how several failures become one error.
 */
import { CliError, InterruptedError, UserInputError } from '../core/errors.js';
import type { AnyStep, DepOutputs, Outputs, Plan, StepId } from '../core/step.js';
import type { Context } from './context.js';

export interface StepReport {
  id: StepId;
  title: string;
  /** What was (or, in dry-run, would be) done. */
  action: Plan['action'] | 'skipped' | 'failed' | 'destroy' | 'absent' | 'interrupted' | 'unconfigured';
  plan?: Plan;
  ms: number;
  /** When it started, in ms after the run began to apply (executePlan): the benchmarks' critical path. */
  startMs?: number;
  /** The steps of the run it waited on (its edges in this run's graph). */
  waitedOn?: StepId[];
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

/** Bind `report` to a step, keeping every other property (lazy client getters included). */
export function stepContext(ctx: Context, step: AnyStep): Context {
  const bound = Object.create(ctx) as Context;
  Object.defineProperty(bound, 'report', {
    value: (message: string) => ctx.io.emit({ type: 'step-progress', step: step.id, message }),
  });
  return bound;
}

export function interrupted(why = 'Ctrl-C'): InterruptedError {
  return new InterruptedError({ what: 'Interrupted', why });
}

export function checkInterrupted(ctx: Context): void {
  if (ctx.signal.aborted) throw interrupted();
}

/** One error for several: the worst kind first, every message listed. */
export function combine(all: CliError[]): CliError {
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

/** Interrupted wins, then input errors, then the first failure. */
export function pickError(errors: CliError[]): CliError {
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
