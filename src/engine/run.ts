/**
 * What a run reads once: a read several steps need (the instance type, the stack's inventory) is made
 * once per run and shared, instead of once per step. The run is the one its abort signal belongs to
 * (every run has its own, src/cli/runtime.ts interruptSignal): a new run reads afresh.
 */
import type { Context, Inventory } from './context.js';

const runs = new WeakMap<AbortSignal, Map<string, Promise<unknown>>>();

export function oncePerRun<T>(ctx: { readonly signal: AbortSignal }, key: string, read: () => Promise<T>): Promise<T> {
  let memo = runs.get(ctx.signal);
  if (!memo) runs.set(ctx.signal, (memo = new Map()));
  let p = memo.get(key) as Promise<T> | undefined;
  if (!p) {
    p = read();
    memo.set(key, p);
    // A failed read is not remembered: the next step asks again (and says why itself).
    p.catch(() => memo.delete(key));
  }
  return p;
}

/**
 * A fresh set of reads shared by once(): a failed read is made again by the next asker. The run's
 * inventory is one (steps/inventory.ts stackInventory), a plan's shared reads another.
 */
export function sharedReads(): Inventory {
  const reads = new Map<string, Promise<unknown>>();
  return {
    once<T>(key: string, read: () => Promise<T>): Promise<T> {
      let p = reads.get(key) as Promise<T> | undefined;
      if (!p) {
        const started = read();
        p = started;
        reads.set(key, started);
        started.catch(() => {
          if (reads.get(key) === started) reads.delete(key);
        });
      }
      return p;
    },
  };
}

/** The context of one plan: its steps share their reads of the same fact (oncePerPlan). */
export function withPlanReads(ctx: Context): Context {
  return Object.create(ctx, { planReads: { value: sharedReads(), enumerable: true } }) as Context;
}

/**
 * A read two steps of one plan make (the cluster, for the cluster step and the capacity provider's
 * attachment): made once for the plan. Outside a plan (apply, a context made by hand), made each time.
 */
export function oncePerPlan<T>(ctx: { readonly planReads?: Inventory }, key: string, read: () => Promise<T>): Promise<T> {
  return ctx.planReads ? ctx.planReads.once(key, read) : read();
}

/**
 * The context of a run's writes: ownership read from each resource's own service. The listing's tags
 * answer runs that write nothing (a second `up`, `status`); a write rests on what the service says now.
 */
export function forWrites(ctx: Context): Context {
  return ctx.tagsFromServices ? ctx : (Object.create(ctx, { tagsFromServices: { value: true, enumerable: true } }) as Context);
}
