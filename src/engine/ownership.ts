/**
 * What the engine derives from a step's ownership (the step answers once, in `ownership`, what is
 * the stack's and what is someone else's, and what deleting one means):
 *
 *   destroyPreview  the stack's resources, as `down` lists them before it asks; what carries our name
 *                   without our tag is listed as kept, never deleted
 *   destroy         each of them deleted through deleteOwned: "already gone" counts as done, "not yet"
 *                   is retried under the one timeout policy (core/wait.ts within)
 *   the pending check: a desired state still waiting for a value only a dependency's apply makes
 *                   known (`pending`) is never applied
 *
 * A step whose teardown has an order of its own (scale to 0, wait, then delete) still writes
 * `destroy`/`destroyPreview` itself, with deleteOwned for each delete.
 */
import { hasAwsCode } from '../core/errors.js';
import type { AnyStep, DestroyResult, Found, Ownership } from '../core/step.js';

export type { Found, Ownership };
import { retryOn, within, type WaitContext } from '../core/wait.js';

/** How one kind of delete answers: which errors mean "already gone", which "not yet, retry". */
export interface Deletion {
  /** AWS error codes (or a test of the error) that mean the resource is already gone. */
  gone: readonly string[] | ((e: unknown) => boolean);
  /** AWS error codes (or a test) that mean "not yet": something still holds it, retried with backoff. */
  busy?: readonly string[] | ((e: unknown) => boolean);
  /** The retry's limit in minutes against AWS (the timeout policy scales it); 5 when not said. */
  minutes?: number;
  /** The retry's longest pause (5 times the run's retry delay when not said). */
  maxDelayMs?: number;
  /** Said on each retry, e.g. "security group sg-1 still in use". */
  waiting?: string;
}

const matches = (test: readonly string[] | ((e: unknown) => boolean), e: unknown) => (typeof test === 'function' ? test(e) : hasAwsCode(e, ...test));

/** Delete one resource, once: true once deleted, false when it was already gone. */
export async function deleteOnce(call: () => Promise<unknown>, gone: Deletion['gone']): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (e) {
    if (matches(gone, e)) return false;
    throw e;
  }
}

/** Delete one resource: "already gone" counts as done, "not yet" is retried under the timeout policy. */
export async function deleteOwned(ctx: WaitContext & { report?(message: string): void }, call: () => Promise<unknown>, d: Deletion): Promise<boolean> {
  const once = () => deleteOnce(call, d.gone);
  if (!d.busy) return once();
  const busy = d.busy;
  return retryOn(once, (e) => matches(busy, e), {
    ...within(ctx, d.minutes ?? 5),
    initialDelayMs: ctx.timing.retryMs,
    maxDelayMs: d.maxDelayMs ?? 5 * ctx.timing.retryMs,
    onRetry: (_n, e) => ctx.report?.(`waiting: ${d.waiting ?? (e as Error).name}`),
  });
}

/**
 * What a destroy preview found, per step, for the destroy that follows it in the same run: what the
 * user was shown and confirmed is what is deleted, without reading it again (a resource gone
 * meanwhile counts as deleted; the delete ignores NotFound).
 */
export type FoundByStep = Map<string, Found<unknown>>;

/** Where a preview context's finding goes (withRecorder), for the destroy of the same run. */
const recorderFor = new WeakMap<object, (f: Found<unknown>) => void>();
export function withRecorder<C extends object>(ctx: C, record: ((f: Found<unknown>) => void) | undefined): C {
  if (record) recorderFor.set(ctx, record);
  return ctx;
}

/** What destroy would delete and keep, read-only (what was found handed to withRecorder's callback). */
export async function previewOwned<C, R>(o: Ownership<C, R>, ctx: C): Promise<DestroyResult> {
  const f = await o.find(ctx);
  recordPreviewed(ctx, f);
  const { ours, kept } = f;
  return { deleted: o.keepAll?.(ctx) ? [] : ours.map((r) => o.preview(r)), kept: [...kept] };
}

/**
 * The preview's finding handed to a step's destroy context (keyed by that context, so a step
 * wrapped on its way, as steps/index.ts does for the other shape's steps, still gets it).
 */
const previewedFor = new WeakMap<object, Found<unknown>>();
export function withPreviewed<C extends object>(ctx: C, previewed: Found<unknown> | undefined): C {
  if (previewed) previewedFor.set(ctx, previewed);
  return ctx;
}

/**
 * For a step that writes its own destroyPreview and destroy (it scales down or waits first): its
 * preview hands what it found to recordPreviewed, and its destroy takes it back with previewedOf,
 * so `down` reads the stack's resources once, for the confirmation list, and deletes what it listed.
 * Undefined outside such a run (a step's --delete, a test calling destroy): the destroy reads.
 */
export function recordPreviewed<R>(ctx: unknown, f: Found<R>): void {
  if (typeof ctx === 'object' && ctx !== null) recorderFor.get(ctx)?.(f as Found<unknown>);
}
export function previewedOf<R>(ctx: unknown): Found<R> | undefined {
  return typeof ctx === 'object' && ctx !== null ? (previewedFor.get(ctx) as Found<R> | undefined) : undefined;
}

/**
 * The steps of this run whose teardown finished before a step's began (in `down`, among them every
 * step that depends on it: the engine starts a teardown only once those are done). Empty outside a
 * teardown run of several steps (a step's --delete alone, a test calling a step's destroy).
 */
const deletedBeforeFor = new WeakMap<object, ReadonlySet<string>>();
export function withDeletedBefore<C extends object>(ctx: C, ids: Iterable<string>): C {
  deletedBeforeFor.set(ctx, new Set(ids));
  return ctx;
}
export function deletedBefore(ctx: unknown): ReadonlySet<string> {
  return (typeof ctx === 'object' && ctx !== null ? deletedBeforeFor.get(ctx) : undefined) ?? new Set();
}

/** Delete what is the stack's, one after the other (or all at once: deleteAll); what is not is listed as kept. */
export async function destroyOwned<C, R>(o: Ownership<C, R>, ctx: C): Promise<DestroyResult> {
  const { ours, kept } = previewedOf<R>(ctx) ?? (await o.find(ctx));
  if (o.keepAll?.(ctx)) return { deleted: [], kept: [...kept] };
  if (o.deleteAll) return { deleted: ours.length ? (await o.deleteAll(ctx, [...ours])).map((r) => o.deleted(r)) : [], kept: [...kept] };
  const deleted: string[] = [];
  for (const r of ours) {
    if ((await o.delete(ctx, r)) !== false) deleted.push(o.deleted(r));
  }
  return { deleted, kept: [...kept] };
}

/** A step's destroy: its own, or derived from its ownership. */
export function destroyOf(step: AnyStep, ctx: unknown): Promise<DestroyResult> {
  if (step.destroy) return step.destroy(ctx);
  if (step.ownership) return destroyOwned(step.ownership, ctx);
  return Promise.resolve({ deleted: [], kept: [] });
}

/** A step's destroy preview: its own, or derived from its ownership. */
export function destroyPreviewOf(step: AnyStep, ctx: unknown): Promise<DestroyResult> {
  if (step.destroyPreview) return step.destroyPreview(ctx);
  if (step.ownership) return previewOwned(step.ownership, ctx);
  return Promise.resolve({ deleted: [], kept: [] });
}

/** What a desired state still waits for: a value only a dependency's apply makes known. */
export function pendingOf(desired: unknown): string | undefined {
  const p = typeof desired === 'object' && desired !== null ? (desired as { pending?: unknown }).pending : undefined;
  return typeof p === 'string' && p ? p : undefined;
}

/** The pending check, once for every step: a desired state with an unknown part is never applied. */
export function assertKnown(step: Pick<AnyStep, 'title'>, desired: unknown): void {
  const p = pendingOf(desired);
  if (p) throw new Error(`${step.title}: ${p} is not known yet`);
}
