/**
 * Small helpers shared by the service modules (iam, ec2, ssm, logs, ecr): reading flat Query
 * parameters, timestamps and tag lists. Pagination is in ../paginate.ts.
 */

/**
 * Turns flat Query parameters ("Filter.1.Value.2" => "x") into nested values. Path segments that
 * are all numbers become arrays, in index order: { Filter: [{ Value: [undefined?, 'x'] }] }.
 * IAM-style "Tags.member.1.Key" becomes { Tags: { member: [{ Key }] } }; use members() to read it.
 */
export function nest(params: Record<string, unknown>): Record<string, any> {
  const root: Record<string, any> = {};
  for (const [key, value] of Object.entries(params)) {
    const parts = key.split('.');
    let node = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        node[part] = value;
      } else {
        if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
        node = node[part];
      }
    });
  }
  return toArrays(root);
}

function toArrays(node: any): any {
  if (typeof node !== 'object' || node === null) return node;
  const keys = Object.keys(node);
  for (const k of keys) node[k] = toArrays(node[k]);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => node[String(k)]);
  }
  return node;
}

/** A nested value that should be a list: arrays as they are, a missing value as []. */
export function list<T = any>(value: unknown): T[] {
  if (value === undefined || value === null || value === '') return [];
  return (Array.isArray(value) ? value : [value]) as T[];
}

/** IAM Query lists: "Tags.member.N" nests as { member: [...] }. */
export function members<T = any>(value: any): T[] {
  return list<T>(value?.member);
}

export function bool(value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return value === true || String(value).toLowerCase() === 'true';
}

export function int(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : NaN;
}

/** ISO 8601 with milliseconds, as EC2 returns timestamps. */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

/** ISO 8601 without milliseconds, as IAM returns timestamps. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** JSON protocol timestamps (ECR, SSM) are epoch seconds. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

/** Tags kept in state as a plain record; AWS lists them as [{ Key, Value }]. */
export type TagMap = Record<string, string>;

export function tagList(tags: TagMap, keyName = 'Key', valueName = 'Value'): Record<string, string>[] {
  return Object.entries(tags).map(([k, v]) => ({ [keyName]: k, [valueName]: v }));
}

export function arrayToTagMap(list: any[], keyName = 'Key', valueName = 'Value'): TagMap {
  const tags: TagMap = {};
  for (const t of list) {
    if (t && t[keyName] !== undefined) tags[String(t[keyName])] = t[valueName] === undefined ? '' : String(t[valueName]);
  }
  return tags;
}
