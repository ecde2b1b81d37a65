/**
 * A small structural checker for JSON read from disk (the sandbox's state file): each Shape checks a
 * value and reports the first problem with the path to it ("ecs.services["arn:…"].clusterArn must be a
 * string"). Objects may carry members the shape does not name (newer files, fields only some records
 * have); every member a shape names is checked when present and required unless optional().
 */

export type Shape = (value: unknown, path: string) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

const fail = (path: string, what: string, v: unknown) => `${path} must be ${what} (found ${describe(v)})`;

export const str: Shape = (v, path) => (typeof v === 'string' ? undefined : fail(path, 'a string', v));
export const num: Shape = (v, path) => (typeof v === 'number' && Number.isFinite(v) ? undefined : fail(path, 'a number', v));
export const int: Shape = (v, path) => (Number.isInteger(v) ? undefined : fail(path, 'an integer', v));
export const bool: Shape = (v, path) => (typeof v === 'boolean' ? undefined : fail(path, 'true or false', v));
/** Anything (kept as the API gave it, e.g. a task definition's container definitions). */
export const any: Shape = () => undefined;

export function oneOf(...values: (string | number)[]): Shape {
  return (v, path) => (values.includes(v as string) ? undefined : fail(path, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v));
}

const OPTIONAL = Symbol('optional');
type OptionalShape = Shape & { [OPTIONAL]: true };

/** A member that may be absent (undefined or, as JSON.stringify drops undefined, missing). */
export function optional(shape: Shape): Shape {
  const s = ((v: unknown, path: string) => (v === undefined ? undefined : shape(v, path))) as OptionalShape;
  s[OPTIONAL] = true;
  return s;
}

export function arrayOf(item: Shape): Shape {
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
export function recordOf(item: Shape): Shape {
  return (v, path) => {
    if (!isObject(v)) return fail(path, 'an object', v);
    for (const [k, value] of Object.entries(v)) {
      const problem = item(value, `${path}[${JSON.stringify(k)}]`);
      if (problem) return problem;
    }
    return undefined;
  };
}

export function object(members: Record<string, Shape>): Shape {
  return (v, path) => {
    if (!isObject(v)) return fail(path, 'an object', v);
    for (const [name, shape] of Object.entries(members)) {
      const value = v[name];
      const where = path ? `${path}.${name}` : name;
      if (value === undefined && !(shape as Partial<OptionalShape>)[OPTIONAL]) return `${where} is missing`;
      const problem = shape(value, where);
      if (problem) return problem;
    }
    return undefined;
  };
}
