/**
 * The context handed to steps. Steps declare the slice they use (`Pick<Context, 'ecs' | 'config' | ...>`),
 * so dependencies are explicit and tests build only what a step needs. It lives above `core`, `aws`,
 * `io` and `docker`, whose parts it gathers.
 */
import type { AwsClients } from '../aws/clients.js';
import type { DockerEngine } from '../docker/engine.js';
import type { IoHost } from '../io/host.js';
import type { Clock, RunFlags, Timing } from '../core/context.js';
import type { Target } from '../core/config.js';
import type { StackConfig } from '../core/settings.js';
import type { TaggedResource } from '../core/step.js';

/**
 * The stack's inventory, read once per run (steps/inventory.ts stackInventory): the Tagging API's
 * list of what carries the stack tag, and the IAM names at the stack's path, shared by the tagged
 * facts, the retired-step check and the steps. A read that failed is made again by the next asker.
 */
export interface Inventory {
  once<T>(key: string, read: () => Promise<T>): Promise<T>;
}

export type { TaggedResource };

export interface Context extends AwsClients {
  readonly stack: string;
  /** Where the stack lives: the account and region (AWS, the sandbox or another endpoint). */
  readonly target: Target;
  /** The caller's account id and ARN (STS GetCallerIdentity, read once before any step). */
  readonly account: string;
  readonly callerArn: string;
  readonly config: StackConfig;
  /** Tags every resource gets: { 'ecs-cwlogs:stack': stack, 'ecs-cwlogs:managed-by': 'ecs-cwlogs' }. */
  readonly tags: Readonly<Record<string, string>>;
  readonly io: IoHost;
  readonly flags: RunFlags;
  readonly clock: Clock;
  /** Poll and backoff pace: seconds against AWS, much less against the sandbox. */
  readonly timing: Timing;
  readonly signal: AbortSignal;
  /** The AWS endpoint override (--endpoint-url, the sandbox), when there is one. */
  readonly endpoint?: string;
  /** The stack's inventory, read once per run (absent in contexts made by hand: read per client). */
  readonly inventory?: Inventory;
  /**
   * Reads the steps of one plan share (engine/run.ts oncePerPlan): the same fact at the same moment,
   * read by two steps. A plan made again (under the account lock) reads afresh. Absent outside a plan.
   */
  readonly planReads?: Inventory;
  /**
   * A run about to write (the plan made again under the account lock, `down`, a step's `--delete`):
   * a resource's tags come from its own service, never from the run's Tagging API listing, which can
   * still show the stack's tags on a resource deleted and made again by someone else (engine/run.ts
   * forWrites; docs/aws-behaviour.md).
   */
  readonly tagsFromServices?: boolean;
  /** The Docker daemon (the image step); created on first use. */
  readonly docker: DockerEngine;
  /** Progress for the step being run (the engine binds it to the step). */
  report(message: string): void;
}
