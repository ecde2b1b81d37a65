/**
 * The step interface. Each lab step (src/steps/*.ts) implements it:
 *
 *   read     -> the observed state, or ABSENT (a typed not-found, never an exception)
 *   desired  -> pure: built from config, templates/ and the outputs of the steps it depends on
 *   plan     -> compares normalised forms: create, update (with field diffs), noop, or conflict
 *   apply    -> makes only the calls the plan needs (a noop plan makes no mutating call; it may still wait)
 *   destroy  -> deletes what this stack owns; not-found counts as success
 *
 * A step declares the slice of the context it needs (`Pick<Context, ...>`), so tests can hand it
 * exactly that and nothing else.
 */
import type { Context } from './context.js';

export type StepId = 'image' | 'cluster' | 'iam' | 'log-group' | 'instance' | 'task' | 'service';

/** Typed not-found. `read` returns it instead of throwing. */
export interface Absent {
  readonly status: 'absent';
  /** Why it is absent, when there is something to say (e.g. "deleted, INACTIVE"). */
  readonly detail?: string;
}
export const ABSENT: Absent = Object.freeze({ status: 'absent' });
export function absent(detail?: string): Absent {
  return detail ? { status: 'absent', detail } : ABSENT;
}
export function isAbsent(x: unknown): x is Absent {
  return typeof x === 'object' && x !== null && (x as Absent).status === 'absent';
}

export interface FieldDiff {
  /** Dotted path of the field, e.g. "tags.ecs-cwlogs:stack" or "containerDefinitions[0].image". */
  field: string;
  from: unknown;
  to: unknown;
}

export type Plan =
  | { readonly action: 'create'; readonly summary: string }
  | { readonly action: 'update'; readonly summary: string; readonly diffs: readonly FieldDiff[] }
  | { readonly action: 'noop'; readonly summary?: string }
  /** The step cannot proceed safely by itself, e.g. a resource of that name not owned by this stack. */
  | { readonly action: 'conflict'; readonly what: string; readonly why: string; readonly fix: string };

export type PlanAction = Plan['action'];

/** What a step hands to the steps that depend on it, and to the final summary. Plain strings only. */
export type Outputs = Readonly<Record<string, string>>;

export interface DestroyResult {
  /** What was deleted (human readable), empty when there was nothing of ours. */
  deleted: string[];
  /** What was left alone on purpose (e.g. "log group ecs (kept; pass --delete-logs)"). */
  kept: string[];
}

/** Outputs of completed dependencies, by step id. */
export type DepOutputs = Readonly<Partial<Record<StepId, Outputs>>>;

export interface Step<C = Context, O = unknown, D = unknown> {
  readonly id: StepId;
  /** Short human title, e.g. "ECS cluster". */
  readonly title: string;
  readonly dependsOn: readonly StepId[];

  /**
   * Optional, read-only: validate settings against the account (the key pair exists, the subnet is
   * in the VPC) and fill in discovered defaults (the default VPC, the caller's IP). Runs for every
   * step of a run before any step applies, so bad input fails before anything is created.
   */
  prepare?(ctx: C): Promise<void>;
  read(ctx: C): Promise<O | Absent>;
  desired(ctx: C, deps: DepOutputs): D;
  plan(observed: O | Absent, desired: D): Plan;
  apply(ctx: C, change: Change<O, D>): Promise<Outputs>;
  /**
   * Pure: the outputs as far as they are known without applying (used by --dry-run and status).
   * Unknown values read like "(after create)".
   */
  preview(observed: O | Absent, desired: D): Outputs;
  /** Ids and facts worth showing in `status` for an observed resource. */
  describe(observed: O): Record<string, string>;
  destroy(ctx: C): Promise<DestroyResult>;
  /** What destroy would delete, read-only (for `down`'s confirmation list). */
  destroyPreview?(ctx: C): Promise<string[]>;
}

export interface Change<O, D> {
  plan: Plan;
  observed: O | Absent;
  desired: D;
}

/** Any step, for collections. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStep = Step<any, any, any>;
