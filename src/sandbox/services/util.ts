/**
 * Small helpers shared by the service modules (iam, ec2, ssm, logs, ecr): reading parameters,
 * timestamps and tag lists. Flat Query parameters are nested by unflatten() in ../protocols/query.ts;
 * pagination is in ../paginate.ts.
 */

/**
 * A nested value that should be a list: arrays as they are, a missing value as []. For handlers that
 * read unflatten()ed wire names without a schema (EC2's): its default item type is the protocol glue's.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export function list<T = any>(value: unknown): T[] {
  if (value === undefined || value === null || value === '') return [];
  return (Array.isArray(value) ? value : [value]) as T[];
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

/** Tags kept in state as a plain record; AWS lists them as [{ Key, Value }]. */
export type TagMap = Record<string, string>;

export function tagList(tags: TagMap, keyName = 'Key', valueName = 'Value'): Record<string, string>[] {
  return Object.entries(tags).map(([k, v]) => ({ [keyName]: k, [valueName]: v }));
}

/** { Key, Value } pairs, the way most APIs list tags. */
export function keyValueTags(tags: TagMap): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function arrayToTagMap(list: readonly unknown[], keyName = 'Key', valueName = 'Value'): TagMap {
  const tags: TagMap = {};
  for (const item of list) {
    if (typeof item !== 'object' || item === null) continue;
    const t = item as Record<string, unknown>;
    if (t[keyName] !== undefined) tags[String(t[keyName])] = t[valueName] === undefined ? '' : String(t[valueName]);
  }
  return tags;
}
