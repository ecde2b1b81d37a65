/**
 * Waiting and retrying, on the context's clock (tests use a fast one) and abortable by Ctrl-C.
 * The SDK already retries throttling and 5xx; these are for AWS's *eventual* states: IAM propagation,
 * instances booting, security groups still in use by a terminating instance, services draining.
 */
import { hasAwsCode } from './errors.js';
import type { Clock, Timing } from './context.js';

export interface RetryOptions {
  clock: Clock;
  signal?: AbortSignal;
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** First delay; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
}

/** Retry fn while it fails with one of the AWS error codes (or a predicate), with exponential backoff. */
export async function retryOn<T>(
  fn: () => Promise<T>,
  retryable: readonly string[] | ((e: unknown) => boolean),
  opts: RetryOptions,
): Promise<T> {
  const isRetryable = typeof retryable === 'function' ? retryable : (e: unknown) => hasAwsCode(e, ...retryable);
  const deadline = opts.clock.now() + opts.timeoutMs;
  let delay = opts.initialDelayMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isRetryable(e) || opts.clock.now() + delay > deadline) throw e;
      opts.onRetry?.(attempt, e, delay);
      await opts.clock.sleep(delay, opts.signal);
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 15_000);
    }
  }
}

export interface PollOptions {
  clock: Clock;
  signal?: AbortSignal;
  timeoutMs: number;
  intervalMs: number;
  /** Each interval this many times the last, up to maxIntervalMs (default: a steady pace). */
  backoff?: number;
  maxIntervalMs?: number;
  /** The first check only after this long (what was just asked of AWS is never done at once). */
  firstCheckAfterMs?: number;
  /** What we are waiting for, for the timeout message. */
  what: string;
}

export class WaitTimeoutError extends Error {}

/** How a wait is going: reported after every check, and once more when it ends. */
export interface WaitProgress {
  what: string;
  elapsedMs: number;
  limitMs: number;
  done: boolean;
}

let waitObserver: ((p: WaitProgress) => void) | undefined;

/** One observer for every wait of the process (the IO host: a non-TTY run prints a heartbeat). */
export function observeWaits(fn: ((p: WaitProgress) => void) | undefined): void {
  waitObserver = fn;
}

/** Poll until check() returns a value (not undefined). */
export async function pollUntil<T>(check: () => Promise<T | undefined>, opts: PollOptions): Promise<T> {
  const start = opts.clock.now();
  const deadline = start + opts.timeoutMs;
  const progress = (done: boolean) => waitObserver?.({ what: opts.what, elapsedMs: opts.clock.now() - start, limitMs: opts.timeoutMs, done });
  let interval = opts.intervalMs;
  try {
    if (opts.firstCheckAfterMs) await opts.clock.sleep(opts.firstCheckAfterMs, opts.signal);
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (opts.clock.now() >= deadline) throw new WaitTimeoutError(`Timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${opts.what}`);
      progress(false);
      await opts.clock.sleep(interval, opts.signal);
      if (opts.backoff) interval = Math.min(interval * opts.backoff, opts.maxIntervalMs ?? interval * opts.backoff);
    }
  } finally {
    progress(true);
  }
}

/**
 * The one timeout policy of every wait and retry a step makes: a limit given in minutes against AWS,
 * scaled by the run's timing (tests shorten it), on the run's clock and abortable by its signal.
 * Polls go at the run's poll pace, retries start at its retry delay.
 */
export interface WaitContext {
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly timing: Timing;
}
export function within(ctx: WaitContext, minutes: number): { clock: Clock; signal: AbortSignal; timeoutMs: number } {
  return { clock: ctx.clock, signal: ctx.signal, timeoutMs: minutes * 60_000 * ctx.timing.timeoutScale };
}

/**
 * The one pace of waiting for AWS to finish what it was just asked (an instance terminating, a
 * service draining its tasks): never done at once, so the first look is 2 poll intervals after the
 * request, then one every 3 (15 s against AWS, as its own instance-terminated and services-inactive
 * waiters poll).
 */
export function settlingPace(ctx: WaitContext, minutes: number, what: string): PollOptions {
  const p = ctx.timing.pollMs;
  return { ...within(ctx, minutes), firstCheckAfterMs: 2 * p, intervalMs: 3 * p, what };
}
