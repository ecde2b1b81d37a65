/**
 * What a run reads once: a read several steps need (the instance type, the stack's inventory) is made
 * once per run and shared, instead of once per step. The run is the one its abort signal belongs to
 * (every run has its own, src/cli/runtime.ts interruptSignal): a new run reads afresh.
 */
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
