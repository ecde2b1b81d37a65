/**
 * SSM Parameter Store, the account's own parameters (JSON 1.1): PutParameter, GetParameter,
 * DeleteParameter, GetParameterHistory, DescribeParameters and the tag operations. ecs-cwlogs keeps
 * one parameter per stack while a run changes it: the account-wide lock (src/core/account-lock.ts).
 *
 * Following the API reference (PutParameter, DeleteParameter, AddTagsToResource):
 *   - PutParameter without Overwrite on an existing name: ParameterAlreadyExists, nothing changed.
 *     This is the one conditional write Parameter Store offers, and the lock relies on it.
 *   - Overwrite with Tags: ValidationException ("tags and overwrite can't be used together").
 *   - Each write is a new version (1, 2, ...); a deleted and re-created parameter starts at 1 again.
 *   - Names: case-sensitive, unique per region, a-zA-Z0-9_.-/ only, no "aws"/"ssm" prefix, at most
 *     15 levels, a hierarchy starts with "/"; values up to 4 KB (Standard tier).
 *   - DeleteParameter of a missing name: ParameterNotFound.
 */
import type {
  AddTagsToResourceRequest,
  DeleteParameterRequest,
  DescribeParametersRequest,
  DescribeParametersResult,
  GetParameterHistoryRequest,
  GetParameterHistoryResult,
  GetParameterResult,
  ListTagsForResourceRequest,
  ListTagsForResourceResult,
  Parameter,
  PutParameterRequest,
  PutParameterResult,
  RemoveTagsFromResourceRequest,
} from '@aws-sdk/client-ssm';
import { ServiceError, type World } from '../types.js';
import { paginate } from '../paginate.js';
import { arrayOf, int, num, object, oneOf, optional, recordOf, str, type Infer } from '../shape.js';
import type { Call } from '../typed.js';
import type { TagMap } from './util.js';

// Each record declared once, as the shape a saved state file is checked against (../shape.ts), with
// its TypeScript type inferred from it.
const parameterVersionShape = object({
  value: str,
  version: int,
  lastModified: num,
  /** Who wrote it (the caller's access key id), as LastModifiedUser names an IAM identity. */
  lastModifiedUser: str,
  description: optional(str),
});
export type ParameterVersion = Infer<typeof parameterVersionShape>;

const parameterShape = object({
  name: str,
  region: str,
  type: oneOf('String', 'StringList', 'SecureString'),
  tier: oneOf('Standard', 'Advanced'),
  dataType: str,
  tags: recordOf(str),
  /** Oldest first; the last one is current. AWS keeps the last 100. */
  versions: arrayOf(parameterVersionShape),
});
export type ParameterRecord = Infer<typeof parameterShape>;

export const ssmStateShape = object({
  /** By `${region}/${name}`. */
  parameters: recordOf(parameterShape),
});
export type SsmState = Infer<typeof ssmStateShape>;

export const initSsmState = (): SsmState => ({ parameters: {} });

export function ssmState(world: World): SsmState {
  const s = (world.state.ssm ??= initSsmState()) as Partial<SsmState>;
  s.parameters ??= {};
  return s as SsmState;
}

const MAX_VALUE = 4096;
const MAX_HISTORY = 100;

function validation(message: string): ServiceError {
  return new ServiceError('ValidationException', message);
}

export function checkUserName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null");
  if (name.length > 1011) throw validation(`1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 1011`);
  if (!/^[a-zA-Z0-9_.\-/]+$/.test(name)) {
    throw validation('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_');
  }
  const first = name.replace(/^\//, '').split('/')[0]!.toLowerCase();
  if (first.startsWith('aws') || first.startsWith('ssm')) {
    throw validation('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
  }
  if (name.includes('/') && !name.startsWith('/')) throw validation('Parameter name must be a fully qualified name.');
  if (name.split('/').length - 1 > 15) throw new ServiceError('HierarchyLevelLimitExceededException', 'A hierarchy can have a maximum of 15 levels.');
  return name;
}

/** One page of a listing, as Parameter Store pages them (MaxResults, NextToken). */
function pageOf<T>(world: World, items: T[], r: { MaxResults?: number; NextToken?: string }, defaultPageSize: number) {
  return paginate(items, {
    maxResults: r.MaxResults,
    nextToken: r.NextToken,
    defaultPageSize,
    settings: world.settings,
    invalidToken: () => validation('The specified token is not valid.'),
  });
}

const key = (region: string, name: string) => `${region}/${name}`;

export function userParameter(world: World, region: string, name: string): ParameterRecord | undefined {
  return ssmState(world).parameters[key(region, name)];
}

export const parameterArn = (world: World, region: string, name: string) =>
  `arn:aws:ssm:${region}:${world.settings.accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`;

export function userParameterShape(world: World, region: string, p: ParameterRecord): Parameter {
  const v = p.versions[p.versions.length - 1]!;
  return {
    Name: p.name,
    Type: p.type,
    Value: v.value,
    Version: v.version,
    LastModifiedDate: new Date(v.lastModified),
    ARN: parameterArn(world, region, p.name),
    DataType: p.dataType,
  };
}

export function putParameter(input: PutParameterRequest, call: Call): PutParameterResult {
  const { world, region, now } = call;
  const p = input;
  const name = checkUserName(p.Name);
  if (typeof p.Value !== 'string') throw validation("1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null");
  if (Buffer.byteLength(p.Value) > MAX_VALUE) {
    throw new ServiceError('ValidationException', 'Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.');
  }
  const type = p.Type ?? undefined;
  if (type !== undefined && !['String', 'StringList', 'SecureString'].includes(type)) throw validation(`1 validation error detected: Value '${type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]`);
  const tags = p.Tags ?? [];
  if (p.Overwrite && tags.length) {
    throw validation(
      'Invalid request: tags and overwrite can\'t be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.',
    );
  }
  const existing = userParameter(world, region, name);
  if (existing && !p.Overwrite) throw new ServiceError('ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
  if (!existing && !type) throw validation('A parameter type is required when you create a parameter.');
  if (existing && type && type !== existing.type) {
    // AWS allows changing the type with Overwrite; kept simple and strict: the same type only.
    throw validation(`The parameter ${name} is of type ${existing.type}; overwrite it with that type.`);
  }
  const version: ParameterVersion = {
    value: p.Value,
    version: existing ? existing.versions[existing.versions.length - 1]!.version + 1 : 1,
    lastModified: now,
    lastModifiedUser: `arn:aws:iam::${world.settings.accountId}:user/${call.req.accessKeyId || 'sandbox'}`,
    ...(p.Description !== undefined ? { description: p.Description } : {}),
  };
  if (existing) {
    if (existing.versions.length >= MAX_HISTORY) {
      throw new ServiceError('ParameterMaxVersionLimitExceeded', `Parameter ${name} has reached the maximum number of ${MAX_HISTORY} versions.`);
    }
    existing.versions.push(version);
  } else {
    const tagMap: TagMap = {};
    for (const t of tags) if (t.Key) tagMap[t.Key] = t.Value ?? '';
    ssmState(world).parameters[key(region, name)] = {
      name,
      region: region,
      type: type as ParameterRecord['type'],
      tier: 'Standard',
      dataType: p.DataType ?? 'text',
      tags: tagMap,
      versions: [version],
    };
  }
  return { Version: version.version, Tier: 'Standard' };
}

export function getUserParameter(region: string, world: World, name: string): GetParameterResult | undefined {
  const p = userParameter(world, region, name);
  return p ? { Parameter: userParameterShape(world, region, p) } : undefined;
}

export function deleteParameter(input: DeleteParameterRequest, { world, region, now }: Call): Record<string, never> {
  const name = checkUserName(input.Name);
  const k = key(region, name);
  if (!ssmState(world).parameters[k]) throw new ServiceError('ParameterNotFound', `Parameter ${name} not found.`);
  delete ssmState(world).parameters[k];
  return {};
}

export function getParameterHistory(input: GetParameterHistoryRequest, { world, region, now }: Call): GetParameterHistoryResult {
  const r = input;
  const name = checkUserName(r.Name);
  const p = userParameter(world, region, name);
  if (!p) throw new ServiceError('ParameterNotFound', '');
  const page = pageOf(world, p.versions, r, 50);
  return {
    Parameters: page.items.map((v) => ({
      Name: p.name,
      Type: p.type,
      Value: v.value,
      Version: v.version,
      LastModifiedDate: new Date(v.lastModified),
      LastModifiedUser: v.lastModifiedUser,
      Tier: p.tier,
      DataType: p.dataType,
      Labels: [],
      Policies: [],
      ...(v.description !== undefined ? { Description: v.description } : {}),
    })),
    NextToken: page.nextToken,
  };
}

export function describeParameters(input: DescribeParametersRequest, { world, region, now }: Call): DescribeParametersResult {
  const r = input;
  let items = Object.values(ssmState(world).parameters).filter((p) => p.region === region);
  for (const f of r.ParameterFilters ?? []) {
    const values = f.Values ?? [];
    if (f.Key === 'Name') items = items.filter((p) => (f.Option === 'BeginsWith' ? values.some((v) => p.name.startsWith(v)) : values.includes(p.name)));
    else if (f.Key === 'Path') {
      const recursive = f.Option === 'Recursive';
      items = items.filter((p) => values.some((v) => {
        const prefix = v.endsWith('/') ? v : `${v}/`;
        return p.name.startsWith(prefix) && (recursive || !p.name.slice(prefix.length).includes('/'));
      }));
    } else if (f.Key === 'Type') items = items.filter((p) => values.includes(p.type));
    else if (f.Key?.startsWith('tag:')) {
      const k = f.Key.slice(4);
      items = items.filter((p) => k in p.tags && (values.length === 0 || values.includes(p.tags[k]!)));
    } else throw new ServiceError('InvalidFilterKey', `The following filter key is not valid: ${f.Key}`);
  }
  items.sort((a, b) => a.name.localeCompare(b.name));
  const page = pageOf(world, items, r, 10);
  return {
    Parameters: page.items.map((p) => {
      const v = p.versions[p.versions.length - 1]!;
      return {
        Name: p.name,
        ARN: parameterArn(world, region, p.name),
        Type: p.type,
        Version: v.version,
        LastModifiedDate: new Date(v.lastModified),
        LastModifiedUser: v.lastModifiedUser,
        Tier: p.tier,
        DataType: p.dataType,
        Policies: [],
        ...(v.description !== undefined ? { Description: v.description } : {}),
      };
    }),
    NextToken: page.nextToken,
  };
}

function taggedParameter(region: string, world: World, type: unknown, id: unknown): ParameterRecord {
  if (type !== 'Parameter') {
    throw new ServiceError('InvalidResourceType', 'The resource type is not valid. For example, if you are attempting to tag an EC2 instance, the instance must be a managed node.');
  }
  const p = typeof id === 'string' ? userParameter(world, region, id) : undefined;
  if (!p) throw new ServiceError('InvalidResourceId', 'The resource ID is not valid. Verify that you entered the correct ID and try again.');
  return p;
}

export function addTagsToResource(input: AddTagsToResourceRequest, { world, region, now }: Call): Record<string, never> {
  const r = input;
  const p = taggedParameter(region, world, r.ResourceType, r.ResourceId);
  for (const t of r.Tags ?? []) if (t.Key) p.tags[t.Key] = t.Value ?? '';
  if (Object.keys(p.tags).length > 50) throw new ServiceError('TooManyTagsError', 'The Targets parameter includes too many tags. Remove one or more tags and try the command again.');
  return {};
}

export function removeTagsFromResource(input: RemoveTagsFromResourceRequest, { world, region, now }: Call): Record<string, never> {
  const r = input;
  const p = taggedParameter(region, world, r.ResourceType, r.ResourceId);
  for (const k of r.TagKeys ?? []) delete p.tags[k];
  return {};
}

export function listTagsForResource(input: ListTagsForResourceRequest, { world, region, now }: Call): ListTagsForResourceResult {
  const r = input;
  const p = taggedParameter(region, world, r.ResourceType, r.ResourceId);
  return { TagList: Object.entries(p.tags).map(([Key, Value]) => ({ Key, Value })) };
}

/**
 * For the Tagging API: every parameter of the region (every region when none is given) with its tags,
 * none included (the listing leaves those out, but its index remembers a parameter that lost its last
 * tag: services/tagging-index.ts).
 */
export function taggedParameters(world: World, region?: string): { arn: string; tags: TagMap }[] {
  const s = world.state.ssm as Partial<SsmState> | undefined;
  return Object.values(s?.parameters ?? {})
    .filter((p) => region === undefined || p.region === region)
    .map((p) => ({ arn: parameterArn(world, p.region, p.name), tags: p.tags }));
}
