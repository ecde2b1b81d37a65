/**
 * What IAM's operations share: validation as IAM words it, tags, Marker/MaxItems pages, lookups, and
 * the SDK output types a record is shown as. Every operation is typed: the Query protocol's one
 * decoder (../../protocols/schema.ts) turns the form fields into the SDK's input type by the SDK's
 * own schema, and the handler returns the SDK's output type.
 */
import type { InstanceProfile, Policy, PolicyVersion, Role, Tag } from '@aws-sdk/client-iam';
import { paginate } from '../../paginate.js';
import { queryDecoder, type Schema } from '../../protocols/schema.js';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { arrayToTagMap, int, keyValueTags, type TagMap } from '../util.js';
import type { NamedPolicy } from './simulate.js';
import { state, type InstanceProfileRecord, type PolicyRecord, type PolicyVersionRecord, type RoleRecord } from './records.js';

/** An IAM operation: the SDK's input type (decoded by `schema`, the SDK's `XRequest$`) to its output type. */
export function iamOperation<I, O>(mutating: boolean, schema: Schema, handler: (input: I, call: Call) => O): Operation {
  return typedOperation<I, O>({ mutating, decode: queryDecoder<I>(schema), handler });
}

/** What an operation without output returns (the Query protocol then writes an empty <XResult>). */
export type Empty = Record<string, never>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const NAME_PATTERN = /^[\w+=,.@-]+$/;
const PATH_PATTERN = /^(\u002F)|(\u002F[\u0021-\u007E]+\u002F)$/;
const DEFAULT_MAX_ITEMS = 100;

// ---------------------------------------------------------------------------------------------
// Validation

export function validationError(message: string): ServiceError {
  return new ServiceError('ValidationError', message, 400);
}

export function required(value: unknown, member: string): string {
  if (value === undefined || value === null || value === '') {
    throw validationError(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  return String(value);
}

export function validName(value: unknown, member: string, max: number): string {
  const name = required(value, member);
  if (name.length > max) {
    throw validationError(
      `1 validation error detected: Value '${name}' at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    );
  }
  if (!NAME_PATTERN.test(name)) {
    throw validationError(
      `1 validation error detected: Value '${name}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`,
    );
  }
  return name;
}

export function validPath(value: unknown): string {
  if (value === undefined || value === '') return '/';
  const path = String(value);
  if (!PATH_PATTERN.test(path) || path.length > 512) {
    throw validationError(
      `1 validation error detected: Value '${path}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)`,
    );
  }
  return path;
}

/** PathPrefix of the List operations: "/" (all) by default, else it must start with "/". */
export function validPathPrefix(value: unknown): string {
  if (value === undefined || value === '') return '/';
  const prefix = String(value);
  if (!/^\u002F[\u0021-\u007F]*$/.test(prefix) || prefix.length > 512) {
    throw validationError(
      `1 validation error detected: Value '${prefix}' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*`,
    );
  }
  return prefix;
}

export function validArn(value: unknown, member: string): string {
  const arn = required(value, member);
  if (!/^arn:aws[a-z-]*:iam::(\d{12}|aws):/.test(arn)) {
    throw new ServiceError('InvalidInput', `ARN ${arn} is not valid.`, 400);
  }
  return arn;
}

/**
 * Checks a policy document the way IAM does, roughly: valid JSON, a Statement with Allow/Deny
 * effects; identity policies must not name a Principal, trust policies must.
 */

export function checkPolicyDocument(value: unknown, member: string, kind: 'identity' | 'trust'): string {
  const text = required(value, member);
  if (text.length > 6144 && kind === 'identity') {
    throw new ServiceError('LimitExceeded', 'Cannot exceed quota for PolicySize: 6144', 409);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ServiceError('MalformedPolicyDocument', 'This policy contains invalid Json', 400);
  }
  if (!isObject(parsed)) {
    throw new ServiceError('MalformedPolicyDocument', 'This policy contains invalid Json', 400);
  }
  const doc = parsed;
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    throw new ServiceError('MalformedPolicyDocument', 'The policy failed legacy parsing', 400);
  }
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  if (statements.length === 0) {
    throw new ServiceError('MalformedPolicyDocument', 'Syntax errors in policy.', 400);
  }
  for (const s of statements as unknown[]) {
    if (!isObject(s) || (s.Effect !== 'Allow' && s.Effect !== 'Deny')) {
      throw new ServiceError('MalformedPolicyDocument', 'Syntax errors in policy.', 400);
    }
    if (s.Action === undefined && s.NotAction === undefined) {
      throw new ServiceError('MalformedPolicyDocument', 'Policy statement must contain actions.', 400);
    }
    if (kind === 'identity' && (s.Principal !== undefined || s.NotPrincipal !== undefined)) {
      throw new ServiceError('MalformedPolicyDocument', 'Policy document should not specify a principal.', 400);
    }
    if (kind === 'trust' && s.Principal === undefined && s.NotPrincipal === undefined) {
      throw new ServiceError('MalformedPolicyDocument', 'AssumeRolepolicy contained an invalid principal element', 400);
    }
    if (kind === 'identity' && s.Resource === undefined && s.NotResource === undefined) {
      throw new ServiceError('MalformedPolicyDocument', 'Policy statement must contain resources.', 400);
    }
  }
  return text;
}

export function readTags(p: { Tags?: Tag[] }): TagMap {
  const tags = p.Tags ?? [];
  if (tags.length > 50) {
    throw new ServiceError('LimitExceeded', 'Cannot exceed quota for TagsPerRole: 50', 409);
  }
  for (const t of tags) {
    if (!t || t.Key === undefined || t.Key === '') {
      throw validationError(`1 validation error detected: Value null at 'tags.member.key' failed to satisfy constraint: Member must not be null`);
    }
  }
  return arrayToTagMap(tags);
}

export function readTagKeys(p: { TagKeys?: string[] }): string[] {
  return (p.TagKeys ?? []).map(String);
}

/** AWS returns policy documents URL-encoded (RFC 3986). */
export function urlEncode(document: string): string {
  return encodeURIComponent(document).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export function listPage<T>(world: World, items: T[], p: { MaxItems?: number; Marker?: string }) {
  const maxItems = int(p.MaxItems);
  if (maxItems !== undefined && (Number.isNaN(maxItems) || maxItems < 1 || maxItems > 1000)) {
    throw validationError(
      `1 validation error detected: Value '${p.MaxItems}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000`,
    );
  }
  const page = paginate(items, {
    maxResults: maxItems,
    nextToken: p.Marker || undefined,
    defaultPageSize: DEFAULT_MAX_ITEMS,
    settings: world.settings,
    invalidToken: () => validationError('Invalid Marker.'),
  });
  return {
    items: page.items,
    extra: page.nextToken ? { IsTruncated: true, Marker: page.nextToken } : { IsTruncated: false },
  };
}

export function iamId(world: World, prefix: string): string {
  // IAM unique ids look like AROA + 17 upper-case alphanumerics.
  const hex = world.nextId('', 17).replace(/[^0-9a-zA-Z]/g, '').toUpperCase();
  return prefix + hex.slice(-17).padStart(17, '0');
}

// ---------------------------------------------------------------------------------------------
// Lookups

export function getPolicy(world: World, arn: string): PolicyRecord {
  const policy = state(world).policies[arn];
  if (!policy) throw new ServiceError('NoSuchEntity', `Policy ${arn} was not found.`, 404);
  return policy;
}

export function getRole(world: World, name: string): RoleRecord {
  const role = state(world).roles[name.toLowerCase()];
  if (!role) throw new ServiceError('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);
  return role;
}

export function getInstanceProfile(world: World, name: string): InstanceProfileRecord {
  const profile = state(world).instanceProfiles[name.toLowerCase()];
  if (!profile) throw new ServiceError('NoSuchEntity', `Instance Profile ${name} cannot be found.`, 404);
  return profile;
}

export function attachmentCount(world: World, arn: string): number {
  return Object.values(state(world).roles).filter((r) => r.attachedPolicyArns.includes(arn)).length;
}

/** Finds an instance profile by name or ARN (as RunInstances' IamInstanceProfile gives it). */
export function findInstanceProfile(world: World, nameOrArn: string): InstanceProfileRecord | undefined {
  const profiles = state(world).instanceProfiles;
  if (nameOrArn.startsWith('arn:')) return Object.values(profiles).find((p) => p.arn === nameOrArn);
  return profiles[nameOrArn.toLowerCase()];
}

/**
 * Whether EC2 can use the instance profile at `now`: it exists, and neither the profile nor the
 * role added to it is younger than settings.iamPropagationMs (IAM is eventually consistent).
 */
export function instanceProfileUsable(world: World, nameOrArn: string, now: number): boolean {
  const profile = findInstanceProfile(world, nameOrArn);
  if (!profile) return false;
  const changedAt = Math.max(profile.createDate, profile.roleAddedAt ?? 0);
  return now - changedAt >= world.settings.iamPropagationMs;
}

/** The managed policy ARNs attached to the role in an instance profile (for the simulated ECS agent). */
export function instanceProfilePolicyArns(world: World, nameOrArn: string): string[] {
  const profile = findInstanceProfile(world, nameOrArn);
  if (!profile) return [];
  return profile.roles.flatMap((name) => state(world).roles[name.toLowerCase()]?.attachedPolicyArns ?? []);
}

/** A role's identity policies for the simulator: its attached managed policies at their default version. */
export function rolePolicies(world: World, roleName: string): NamedPolicy[] | undefined {
  const role = state(world).roles[roleName.toLowerCase()];
  if (!role) return undefined;
  return role.attachedPolicyArns.flatMap((arn) => {
    const p = state(world).policies[arn];
    const v = p?.versions.find((x) => x.versionId === p.defaultVersionId);
    return p && v ? [{ id: p.policyName, awsManaged: p.awsManaged, document: v.document }] : [];
  });
}

// ---------------------------------------------------------------------------------------------
// Response shapes

export function policyView(world: World, p: PolicyRecord, withTags: boolean): Policy {
  return {
    PolicyName: p.policyName,
    PolicyId: p.policyId,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: p.defaultVersionId,
    AttachmentCount: attachmentCount(world, p.arn),
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    ...(p.description !== undefined ? { Description: p.description } : {}),
    CreateDate: new Date(p.createDate),
    UpdateDate: new Date(p.updateDate),
    ...(withTags && Object.keys(p.tags).length ? { Tags: keyValueTags(p.tags) } : {}),
  };
}

export function versionView(p: PolicyRecord, v: PolicyVersionRecord, withDocument: boolean): PolicyVersion {
  return {
    ...(withDocument ? { Document: urlEncode(v.document) } : {}),
    VersionId: v.versionId,
    IsDefaultVersion: v.versionId === p.defaultVersionId,
    CreateDate: new Date(v.createDate),
  };
}

export function roleView(r: RoleRecord, withTags: boolean): Role {
  return {
    Path: r.path,
    RoleName: r.roleName,
    RoleId: r.roleId,
    Arn: r.arn,
    CreateDate: new Date(r.createDate),
    AssumeRolePolicyDocument: urlEncode(r.assumeRolePolicyDocument),
    ...(r.description !== undefined ? { Description: r.description } : {}),
    MaxSessionDuration: r.maxSessionDuration,
    ...(withTags && Object.keys(r.tags).length ? { Tags: keyValueTags(r.tags) } : {}),
  };
}

export function instanceProfileView(world: World, ip: InstanceProfileRecord): InstanceProfile {
  return {
    Path: ip.path,
    InstanceProfileName: ip.instanceProfileName,
    InstanceProfileId: ip.instanceProfileId,
    Arn: ip.arn,
    CreateDate: new Date(ip.createDate),
    Roles: ip.roles.map((name) => roleView(getRole(world, name), false)),
    ...(Object.keys(ip.tags).length ? { Tags: keyValueTags(ip.tags) } : {}),
  };
}

export function sortedByName<T>(items: T[], name: (t: T) => string): T[] {
  return [...items].sort((a, b) => name(a).localeCompare(name(b)));
}
