/**
 * What every run shares and that depends on nothing above `core`: the ownership tags, the clock and
 * its pace, the run's flags. The context handed to steps is src/engine/context.ts.
 */

/** The tag that records ownership. `down` deletes only what carries it with this stack's name. */
export const STACK_TAG = 'ecs-cwlogs:stack';
export const MANAGED_BY_TAG = 'ecs-cwlogs:managed-by';

export interface Clock {
  now(): number;
  /** Resolves after ms, or rejects with an InterruptedError when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface Timing {
  /** Between two reads while waiting for a state (instance running, service steady). */
  pollMs: number;
  /** First backoff delay of an eventual-consistency retry (IAM propagation, DependencyViolation). */
  retryMs: number;
  /** Multiplies every wait's timeout (1 against AWS). */
  timeoutScale: number;
}

export const AWS_TIMING: Timing = { pollMs: 5000, retryMs: 2000, timeoutScale: 1 };
export const SANDBOX_TIMING: Timing = { pollMs: 200, retryMs: 200, timeoutScale: 1 };

export interface RunFlags {
  /** Take over resources of the same name that don't carry this stack's tag. */
  adopt: boolean;
  /** `down`: delete the log group too. */
  deleteLogs: boolean;
  /**
   * What the run is for: `apply` may change things; `inspect` (status, the read side of a dry run
   * of another command) only looks, so it needs nothing that only a change needs (the caller's IP).
   */
  intent: 'apply' | 'inspect';
  /** A key pair that is created after the plan is confirmed (the wizard's "create a new key pair"). */
  newKeyPair?: string;
  /**
   * `--replace-instance`: what only a new instance can change (a newer AMI, another instance type,
   * subnet or key pair) is done by launching a new instance, then terminating the old one. A run flag,
   * never saved.
   */
  replaceInstance?: boolean;
}


export function stackTags(stack: string): Record<string, string> {
  return { [STACK_TAG]: stack, [MANAGED_BY_TAG]: 'ecs-cwlogs' };
}

/** The tag global resources (IAM) carry to say which region's stack they serve. */
export const REGION_TAG = 'ecs-cwlogs:region';

/** Does a tag set (any of the shapes AWS uses) say this stack owns the resource? */
export function ownedBy(tags: TagsLike, stack: string): boolean {
  return tagValue(tags, STACK_TAG) === stack;
}

export type TagsLike =
  | readonly { key?: string; value?: string }[]
  | readonly { Key?: string; Value?: string }[]
  | Record<string, string>
  | undefined;

export function tagValue(tags: TagsLike, key: string): string | undefined {
  if (!tags) return undefined;
  if (Array.isArray(tags)) {
    for (const t of tags as { key?: string; value?: string; Key?: string; Value?: string }[]) {
      if ((t.key ?? t.Key) === key) return t.value ?? t.Value;
    }
    return undefined;
  }
  return (tags as Record<string, string>)[key];
}

/** Tags as { key, value } (ECS, Logs) or { Key, Value } (IAM, EC2). */
export function ecsTags(tags: Record<string, string>): { key: string; value: string }[] {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}
export function awsTags(tags: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
