/** Helpers the EC2 resource files share: errors, parameters, tags, filters, paging. */
import { paginate } from '../../paginate.js';
import { ServiceError, type World } from '../../types.js';
import { bool, int, list, type TagMap } from '../util.js';

export function invalidValue(message: string): ServiceError {
  return new ServiceError('InvalidParameterValue', message, 400);
}

export function missing(name: string): ServiceError {
  return new ServiceError('MissingParameter', `The request must contain the parameter ${name}`, 400);
}

export function requiredParam(value: unknown, name: string): string {
  if (value === undefined || value === null || value === '') throw missing(name);
  return String(value);
}

export function notFound(code: string, what: string, ids: string[]): ServiceError {
  const quoted = ids.join(', ');
  return new ServiceError(
    code,
    ids.length === 1 ? `The ${what} '${quoted}' does not exist` : `The ${what}s '${quoted}' do not exist`,
    400,
  );
}

export const ID_PATTERN = (prefix: string) => new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`);

export function checkIdFormat(id: string, prefix: string, code: string): void {
  if (!ID_PATTERN(prefix).test(id)) {
    throw new ServiceError(code, `Invalid id: "${id}" (expecting "${prefix}-...")`, 400);
  }
}

export function strings(value: unknown): string[] {
  return list(value)
    .filter((v) => v !== undefined && v !== null)
    .map(String);
}

/** Tags as the SDK lists them; undefined when there are none (EC2 then leaves out the tagSet). */
export function sdkTags(tags: TagMap): { Key: string; Value: string }[] | undefined {
  const entries = Object.entries(tags);
  return entries.length ? entries.map(([Key, Value]) => ({ Key, Value })) : undefined;
}

export function tagSet(tags: TagMap) {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

export function tagsFromList(items: readonly ({ Key?: unknown; Value?: unknown } | undefined)[]): TagMap {
  const tags: TagMap = {};
  for (const t of items) {
    if (!t || t.Key === undefined || t.Key === '') continue;
    if (String(t.Key).toLowerCase().startsWith('aws:')) {
      throw invalidValue(`Tag keys starting with 'aws:' are reserved for internal use`);
    }
    tags[String(t.Key)] = t.Value === undefined ? '' : String(t.Value);
  }
  return tags;
}

/**
 * Tags from the SDK's TagSpecifications ({ ResourceType, Tags }), by resource type. Types the
 * operation cannot tag are rejected, as EC2 does.
 */
export function sdkTagSpecifications(specs: { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[] | undefined, allowed: string[]): Record<string, TagMap> {
  const byType: Record<string, TagMap> = {};
  for (const spec of specs ?? []) {
    const type = spec?.ResourceType;
    if (!type) throw missing('TagSpecification.ResourceType');
    if (!allowed.includes(type)) {
      throw invalidValue(`'${type}' is not a valid taggable resource type for this operation.`);
    }
    byType[type] = { ...byType[type], ...tagsFromList(spec.Tags ?? []) };
  }
  return byType;
}

export function dryRun(p: { DryRun?: unknown }): void {
  if (bool(p.DryRun)) {
    throw new ServiceError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
  }
}

// ---------------------------------------------------------------------------------------------
// Filters: Filter.N.Name / Filter.N.Value.M, values may use * and ? wildcards, filters are ANDed,
// values within a filter are ORed.

export type FilterFields<T> = Record<string, (item: T) => (string | number | boolean | undefined)[]>;

export function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 's');
}

/** The SDK's Filters ({ Name, Values }) applied to `items`; `fields` are the filter names besides tags. */
export function filterItems<T extends { tags: TagMap }>(items: T[], sdkFilters: { Name?: string; Values?: string[] }[] | undefined, fields: FilterFields<T>): T[] {
  const filters = (sdkFilters ?? []).filter((f) => f && f.Name);
  for (const f of filters) {
    const name = String(f.Name);
    if (!name.startsWith('tag:') && !['tag-key', 'tag-value'].includes(name) && !fields[name]) {
      throw invalidValue(`The filter '${name}' is invalid`);
    }
  }
  return items.filter((item) =>
    filters.every((f) => {
      const name = String(f.Name);
      const patterns = strings(f.Values ?? []).map(wildcard);
      let values: string[];
      if (name.startsWith('tag:')) {
        const key = name.slice(4);
        values = key in item.tags ? [item.tags[key]] : [];
      } else if (name === 'tag-key') {
        values = Object.keys(item.tags);
      } else if (name === 'tag-value') {
        values = Object.values(item.tags);
      } else {
        values = fields[name](item)
          .filter((v) => v !== undefined)
          .map(String);
      }
      return values.some((v) => patterns.some((re) => re.test(v)));
    }),
  );
}

/** A page of `items` by the SDK's MaxResults (between opts.min and opts.max) and NextToken. */
export function pageOf<T>(world: World, items: T[], requested: number | undefined, nextToken: string | undefined, opts: { min?: number; max?: number } = {}) {
  const p = { MaxResults: requested, NextToken: nextToken };
  const maxResults = int(p.MaxResults);
  const min = opts.min ?? 5;
  const max = opts.max ?? 1000;
  if (maxResults !== undefined && (Number.isNaN(maxResults) || maxResults < min || maxResults > max)) {
    throw invalidValue(`Value ( ${p.MaxResults} ) for parameter maxResults is invalid. Parameter must be between ${min} and ${max}.`);
  }
  return paginate(items, {
    maxResults,
    nextToken: p.NextToken || undefined,
    defaultPageSize: 1000,
    settings: world.settings,
    invalidToken: () => new ServiceError('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.', 400),
  });
}

export function inRegion<T extends { region: string }>(records: Record<string, T>, region: string): T[] {
  return Object.values(records).filter((r) => r.region === region);
}
