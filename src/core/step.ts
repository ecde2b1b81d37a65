/**
 * The step interface. Each lab step (src/steps/*.ts) implements it:
 *
 *   prepare  -> read-only checks of the settings against the account, and what the run discovers
 *               (default VPC, caller's IP, AMI): a typed result, never written into the config
 *   read     -> the observed state, or ABSENT (a typed not-found, never an exception)
 *   desired  -> pure: built from the frozen config, what prepare discovered, and the outputs of the
 *               steps it depends on
 *   plan     -> compares normalised forms: create, update (with field diffs), replace, noop, or conflict
 *   apply    -> makes only the calls the plan needs (a noop plan makes no mutating call; it may still wait)
 *   destroy  -> deletes what this stack owns; not-found counts as success
 *
 * A step declares the slice of the context it needs (`Pick<Context, ...>`), so tests can hand it
 * exactly that and nothing else.
 */
import type { SettingKey } from './settings.js';

/**
 * The registry is the steps themselves: each step file declares its outputs by adding its id to
 * StepOutputs (below), and its command, shapes and tagged resources on its step object
 * (StepDeclaration). Nothing in core names a step.
 */
export type StepId = keyof StepOutputs & string;

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

/** A value that is known only once a step has applied (an ARN, an instance id, a digest). */
export interface Unknown {
  readonly unknown: true;
  /** What makes it known, e.g. "create", "push", "launch". */
  readonly after: string;
}
export function unknown(after: string): Unknown {
  return Object.freeze({ unknown: true as const, after });
}
export function isUnknown(x: unknown): x is Unknown {
  return typeof x === 'object' && x !== null && (x as Unknown).unknown === true;
}
/** T, or not known before apply. */
export type Later<T> = T | Unknown;
export function known<T>(x: Later<T> | undefined): T | undefined {
  return x === undefined || isUnknown(x) ? undefined : x;
}
/** How a value reads in plans and summaries. */
export function showValue(x: Later<unknown> | undefined): string {
  if (x === undefined) return '';
  if (isUnknown(x)) return `(known after ${x.after})`;
  return String(x);
}

export interface FieldDiff {
  /** Dotted path of the field, e.g. "tags.ecs-cwlogs:stack" or "containerDefinitions[0].image". */
  field: string;
  from: unknown;
  to: unknown;
}

export type Plan =
  | { readonly action: 'create'; readonly summary: string }
  | { readonly action: 'update'; readonly summary: string; readonly diffs: readonly FieldDiff[]; readonly note?: string }
  /** Only a new resource can have what is wanted (e.g. another instance type or subnet). */
  | { readonly action: 'replace'; readonly summary: string; readonly diffs: readonly FieldDiff[]; readonly fix: string; readonly note?: string }
  /** `note`: worth knowing, not drift (e.g. "newer AMI available"); shown by status and up. */
  | { readonly action: 'noop'; readonly summary?: string; readonly note?: string }
  /** The step cannot proceed safely by itself, e.g. a resource of that name not owned by this stack. */
  | { readonly action: 'conflict'; readonly what: string; readonly why: string; readonly fix: string };

export type PlanAction = Plan['action'];

/** A value the run found rather than was given: shown in plans, never saved. */
export interface Discovered<T = string> {
  readonly value: T;
  readonly source: 'discovered';
  /** How it was found, e.g. "the default VPC", "your public IP". */
  readonly how: string;
}
export function discovered<T>(value: T, how: string): Discovered<T> {
  return { value, source: 'discovered', how };
}

/**
 * What each step hands to the steps that depend on it, and to the final summary, by step id. Each
 * step adds its own entry in its file (TypeScript's declaration merging), e.g. in steps/cluster.ts:
 *
 *   declare module '../core/step.js' {
 *     interface StepOutputs { cluster: ClusterOutputs }
 *   }
 *
 * so a dependency's outputs are typed where they are read (`deps.cluster?.clusterArn`), and the
 * union of ids (StepId) is whatever steps the program has.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-empty-object-type
export interface StepOutputs {}
export type Outputs = StepOutputs[StepId];

export interface DestroyResult {
  /** What was deleted (human readable), empty when there was nothing of ours. */
  deleted: string[];
  /** What was left alone on purpose (e.g. "log group ecs (kept; pass --delete-logs)"). */
  kept: string[];
}

/** Outputs of completed (or, when planning, previewed) dependencies, by step id. */
export type DepOutputs = { readonly [K in StepId]?: StepOutputs[K] };

export interface Step<C = object, O = unknown, D = unknown, P = undefined, Id extends StepId = StepId> {
  readonly id: Id;
  /** Short human title, e.g. "ECS cluster". */
  readonly title: string;
  readonly dependsOn: readonly StepId[];
  /**
   * Dependencies that hold only when those steps are part of the run: the topology picks the steps
   * (each step's declared `shapes`), so e.g. the service comes after the instance in one and after the
   * capacity provider in the other; `down` runs them all, so every edge orders the teardown.
   */
  readonly after?: readonly StepId[];

  /**
   * Optional, read-only: validate settings against the account (the key pair exists, the subnet is
   * in the VPC, the registry answers) and return what the run discovers (the default VPC, the
   * caller's IP). Runs for every step of a run before any step applies, so bad input fails before
   * anything is created.
   */
  prepare?(ctx: C): Promise<P>;
  read(ctx: C, prepared: P): Promise<O | Absent>;
  desired(ctx: C, deps: DepOutputs, prepared: P): D;
  plan(observed: O | Absent, desired: D): Plan;
  apply(ctx: C, change: Change<O, D>): Promise<StepOutputs[Id]>;
  /** Pure: the outputs as far as they are known without applying (plans, dry runs, status). */
  preview(observed: O | Absent, desired: D): StepOutputs[Id];
  /** Ids and facts worth showing in `status` for an observed resource. */
  describe(observed: O): Record<string, string>;
  // ---- ownership: what is the stack's, and what deleting it means (src/engine/ownership.ts) ----
  /**
   * The step's one answer to "what is ours": the engine derives destroy and destroyPreview from it.
   * A step whose teardown has an order of its own writes destroy/destroyPreview instead.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly ownership?: Ownership<C, any>;
  destroy?(ctx: C): Promise<DestroyResult>;
  /** What destroy would delete and keep, read-only (`down`'s confirmation list, --dry-run). */
  destroyPreview?(ctx: C): Promise<DestroyResult>;
}

/** The stack's resources of a kind, and what was found but is not the stack's (or kept on purpose). */
export interface Found<R> {
  readonly ours: readonly R[];
  /** Shown as kept, e.g. "cluster ecs (not tagged as stack lab)". */
  readonly kept: readonly string[];
}

/**
 * How a step's resources are found (the stack's carry the stack tag; one of our name without it is
 * someone else's, kept), how each reads in `down`'s list, and what deleting one means.
 */
export interface Ownership<C, R> {
  find(ctx: C): Promise<Found<R>>;
  /** How one reads in the confirmation list (`down`, --dry-run). */
  preview(r: R): string;
  /** How one reads once deleted. */
  deleted(r: R): string;
  /** Delete one: its calls (engine/ownership.ts deleteOwned), and the wait until it is gone where later steps need that. False: it was already gone. */
  delete(ctx: C, r: R): Promise<void | boolean>;
  /** Delete all of them in one go where the API takes several (e.g. DeleteAlarms): those it deleted. Used instead of `delete` when given. */
  deleteAll?(ctx: C, rs: R[]): Promise<R[]>;
  /** Nothing is deleted this run though some is the stack's (e.g. log groups without --delete-logs). */
  keepAll?(ctx: C): boolean;
}

export interface Change<O, D> {
  plan: Plan;
  observed: O | Absent;
  desired: D;
}

/** A step's dependencies among the steps of this run. */
export function edgesOf(step: Pick<AnyStep, 'dependsOn' | 'after'>, present: ReadonlySet<StepId>): StepId[] {
  return [...step.dependsOn, ...(step.after ?? []).filter((d) => present.has(d))];
}

/** Any step, for collections. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStep = Step<any, any, any, any, any>;

/**
 * The stack's shapes a step belongs to (core/settings.ts topologyOf): 'single' one instance,
 * 'group' an Auto Scaling group, 'group-with-alb' a group with --load-balancer only.
 */
export type Shape = 'single' | 'group' | 'group-with-alb';

/** A resource as the Resource Groups Tagging API lists it: its ARN and its tags. */
export interface TaggedResource {
  arn: string;
  tags: Record<string, string>;
}

/**
 * How a step's resources show among the stack's tagged resources: a Tagging API resource type
 * ("service:type" as the ARN spells it, e.g. "ecs:cluster", "ec2:instance"), and, where the type is
 * not this step's alone, which of its resources are.
 */
export interface TaggedKind {
  readonly type: string;
  readonly is?: (r: TaggedResource) => boolean;
}

/** A step's flag of its own, beyond its settings' and --delete/--adopt (read by the run as a run flag). */
export interface CommandOption {
  readonly flags: string;
  readonly description: string;
}

/** A step's command: `ecs-cwlogs <id>`. */
export interface StepCommand {
  readonly summary: string;
  /** The settings it takes as flags (core/settings.ts). */
  readonly settings: readonly SettingKey[];
  readonly examples: readonly string[];
  readonly options?: readonly CommandOption[];
  /** Help text after the examples. */
  readonly notes?: string;
  /**
   * 'resource' (the default): creates, changes or (--delete) deletes the step's resources, with
   * --adopt; 'artifact': builds something and pushes it (the logging image), with the build's flags.
   */
  readonly kind?: 'resource' | 'artifact';
}

/** What a step declares besides what the engine runs: its command, its shapes, how it is found. */
export interface StepDeclaration {
  readonly command: StepCommand;
  readonly shapes: readonly Shape[];
  /**
   * How the stack's resources of this step are found in the Tagging API (the types asked for, and
   * which resources show that the step has something to remove). A step whose own resource the API
   * does not cover names what shows it instead (an Auto Scaling group: its instances, its launch
   * template); empty where the API has nothing of it (IAM, found by its path; the image).
   */
  readonly tagged: readonly TaggedKind[];
  /**
   * Steps that, when part of the same run, come after this one, as though they named it in their
   * `after`: a new step orders an existing one without an edit to it.
   */
  readonly before?: readonly StepId[];
  /**
   * A part of the stack the user can turn off whatever its shape: 'monitoring' (--no-monitoring).
   * A step of a facet that is off is left out of `up`, and what it left is removed, as a step of
   * the other shape is (core/topology.ts inShape).
   */
  readonly facet?: Facet;
}

/** The parts of a stack that can be turned off: 'monitoring' is the setting `monitoring`. */
export type Facet = 'monitoring';

/** A step of the registry (src/steps/index.ts): the engine's interface plus its declaration. */
export type DeclaredStep<C = object, O = unknown, D = unknown, P = undefined, Id extends StepId = StepId> = Step<C, O, D, P, Id> & StepDeclaration;

/** Any registered step, for collections. */
export type AnyDeclaredStep = AnyStep & StepDeclaration;
