/**
 * Load heavy modules on first use. The AWS SDK clients and dockerode cost a second or more of
 * start-up on a slow disk; `ecs-cwlogs --help` or a `logs` call should not pay for EC2's client.
 *
 * lazyObject(load) returns a stand-in whose every method waits for `load()` (once) and then calls
 * the real object's method. It suits interfaces whose methods all return promises (the narrow SDK
 * interfaces, DockerEngine).
 */
export function lazyObject<T extends object>(load: () => Promise<T>, props: Partial<T> = {}): T {
  let real: Promise<T> | undefined;
  return new Proxy({} as T, {
    get(_target, prop) {
      if (typeof prop === 'string' && prop in props) return (props as Record<string, unknown>)[prop];
      // Not a thenable: `await ctx.ecs` must not try to call .then on the stand-in.
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      return (...args: unknown[]) =>
        (real ??= load()).then((obj) => {
          const fn = (obj as Record<string, unknown>)[prop];
          if (typeof fn !== 'function') throw new TypeError(`${String(prop)} is not a method`);
          return (fn as (...a: unknown[]) => unknown).apply(obj, args);
        });
    },
  });
}
