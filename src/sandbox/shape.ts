/**
 * A small structural checker for JSON read from disk (the sandbox's state file): each Shape checks a
 * value and reports the first problem with the path to it ("ecs.services["arn:…"].clusterArn must be a
 * string"). Objects may carry members the shape does not name (newer files, fields only some records
 * have); every member a shape names is checked when present and required unless optional().
 */

/**
 * A checker that also carries the TypeScript type of what it accepts, so a record's type is inferred
 * from its persisted shape (`type RoleRecord = Infer<typeof roleShape>`): one declaration for both.
 */
export interface Shape<T = unknown> {
  (value: unknown, path: string): string | undefined;
  /** Type only: never set. */
  readonly __type?: T;
}

/** The TypeScript type a shape accepts. */
export type Infer<S> = S extends Shape<infer T> ? T : never;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

const fail = (path: string, what: string, v: unknown) => `${path} must be ${what} (found ${describe(v)})`;

export const str: Shape<string> = (v, path) => (typeof v === 'string' ? undefined : fail(path, 'a string', v));
export const num: Shape<number> = (v, path) => (typeof v === 'number' && Number.isFinite(v) ? undefined : fail(path, 'a number', v));
export const int: Shape<number> = (v, path) => (Number.isInteger(v) ? undefined : fail(path, 'an integer', v));
export const bool: Shape<boolean> = (v, path) => (typeof v === 'boolean' ? undefined : fail(path, 'true or false', v));
/** Any JSON value (kept as the API gave it, e.g. a launch template version's data). */
export const json: Shape<unknown> = () => undefined;

/** A JSON object whose members are not checked (kept as the API gave it). */
export const jsonObject: Shape<Record<string, unknown>> = (v, path) => (isObject(v) ? undefined : fail(path, 'an object', v));

/** A value whose type the code knows better than a checker could (checked as a JSON object, typed as T). */
export function opaque<T extends object>(): Shape<T> {
  return jsonObject as Shape<T>;
}

export function oneOf<const V extends readonly (string | number)[]>(...values: V): Shape<V[number]> {
  return (v, path) => (values.includes(v as string) ? undefined : fail(path, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v));
}

const OPTIONAL = Symbol('optional');
type OptionalShape<T> = Shape<T> & { [OPTIONAL]: true };

/** A member that may be absent (undefined or, as JSON.stringify drops undefined, missing). */
export function optional<T>(shape: Shape<T>): OptionalShape<T> {
  const s = ((v: unknown, path: string) => (v === undefined ? undefined : shape(v, path))) as OptionalShape<T>;
  s[OPTIONAL] = true;
  return s;
}

export function arrayOf<T>(item: Shape<T>): Shape<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) return fail(path, 'a list', v);
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  };
}

/** A JSON object used as a map: every value has `item`'s shape. */
export function recordOf<T>(item: Shape<T>): Shape<Record<string, T>> {
  return (v, path) => {
    if (!isObject(v)) return fail(path, 'an object', v);
    for (const [k, value] of Object.entries(v)) {
      const problem = item(value, `${path}[${JSON.stringify(k)}]`);
      if (problem) return problem;
    }
    return undefined;
  };
}

type Members = Record<string, Shape<unknown>>;
type OptionalKeys<M extends Members> = { [K in keyof M]: M[K] extends { [OPTIONAL]: true } ? K : never }[keyof M];
type Flatten<T> = { [K in keyof T]: T[K] };
/** The record type of an object() shape: optional() members are optional (`?:`), the others required. */
export type ObjectOf<M extends Members> = Flatten<
  { -readonly [K in Exclude<keyof M, OptionalKeys<M>>]: Infer<M[K]> } & { -readonly [K in OptionalKeys<M>]?: Infer<M[K]> }
>;

export function object<M extends Members>(members: M): Shape<ObjectOf<M>> {
  return (v, path) => {
    if (!isObject(v)) return fail(path, 'an object', v);
    for (const [name, shape] of Object.entries(members)) {
      const value = v[name];
      const where = path ? `${path}.${name}` : name;
      if (value === undefined && !(shape as Partial<OptionalShape<unknown>>)[OPTIONAL]) return `${where} is missing`;
      const problem = shape(value, where);
      if (problem) return problem;
    }
    return undefined;
  };
}
