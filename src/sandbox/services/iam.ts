/**
 * IAM (Query protocol, global): managed policies and their versions, roles, instance profiles, tags.
 *
 * Eventual consistency: a role added to an instance profile (or a new instance profile) is not
 * usable by EC2 for settings.iamPropagationMs; ec2/instances.ts asks instanceProfileUsable().
 */

import type { ListRolePoliciesRequest, ListRolePoliciesResponse, UpdateAssumeRolePolicyRequest } from '@aws-sdk/client-iam';
import { ServiceError, type SandboxRequest, type ServiceModule, type World } from '../types.js';
import { typedOperation, type Call } from '../typed.js';
import { paginate } from '../paginate.js';
import { unflatten } from '../protocols/query.js';
import { arrayToTagMap, bool, int, list, tagList, type TagMap } from './util.js';
import { simulatePrincipalPolicy, type NamedPolicy } from './iam-simulate.js';

interface PolicyVersionRecord {
  versionId: string;
  document: string;
  createDate: number;
}

interface PolicyRecord {
  policyName: string;
  policyId: string;
  arn: string;
  path: string;
  description?: string;
  createDate: number;
  updateDate: number;
  defaultVersionId: string;
  versions: PolicyVersionRecord[];
  /** Number of the next version (v2, v3, ...): AWS never reuses version ids. */
  nextVersion: number;
  tags: TagMap;
  awsManaged: boolean;
}

interface RoleRecord {
  roleName: string;
  roleId: string;
  arn: string;
  path: string;
  assumeRolePolicyDocument: string;
  description?: string;
  maxSessionDuration: number;
  createDate: number;
  tags: TagMap;
  attachedPolicyArns: string[];
}

interface InstanceProfileRecord {
  instanceProfileName: string;
  instanceProfileId: string;
  arn: string;
  path: string;
  createDate: number;
  /** Role names (IAM allows one role per instance profile). */
  roles: string[];
  /** When a role was last added: EC2 rejects the profile for iamPropagationMs after that. */
  roleAddedAt?: number;
  tags: TagMap;
}

export interface IamState {
  /** By ARN. */
  policies: Record<string, PolicyRecord>;
  /** By lower-cased name: IAM names are unique regardless of case. */
  roles: Record<string, RoleRecord>;
  instanceProfiles: Record<string, InstanceProfileRecord>;
}

/** The AWS managed policies the sandbox knows (the ones ecs-cwlogs attaches). */
export const AWS_MANAGED_POLICIES: Record<string, { path: string; description: string; document: object }> = {
  AmazonEC2ContainerServiceforEC2Role: {
    path: '/service-role/',
    description: 'Default policy for the Amazon EC2 Role for Amazon EC2 Container Service.',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [
            'ec2:DescribeTags',
            'ecs:CreateCluster',
            'ecs:DeregisterContainerInstance',
            'ecs:DiscoverPollEndpoint',
            'ecs:Poll',
            'ecs:RegisterContainerInstance',
            'ecs:StartTelemetrySession',
            'ecs:UpdateContainerInstancesState',
            'ecs:Submit*',
            'ecr:GetAuthorizationToken',
            'ecr:BatchCheckLayerAvailability',
            'ecr:GetDownloadUrlForLayer',
            'ecr:BatchGetImage',
            'logs:CreateLogStream',
            'logs:PutLogEvents',
          ],
          Resource: '*',
        },
        { Effect: 'Allow', Action: 'ecs:TagResource', Resource: '*' },
      ],
    },
  },
  CloudWatchAgentServerPolicy: {
    path: '/',
    description: 'Permissions required to use AmazonCloudWatchAgent on servers',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'CWACloudWatchServerPermissions',
          Effect: 'Allow',
          Action: [
            'cloudwatch:PutMetricData',
            'ec2:DescribeVolumes',
            'ec2:DescribeTags',
            'logs:PutLogEvents',
            'logs:PutRetentionPolicy',
            'logs:DescribeLogStreams',
            'logs:DescribeLogGroups',
            'logs:CreateLogStream',
            'logs:CreateLogGroup',
            'xray:PutTraceSegments',
            'xray:PutTelemetryRecords',
            'xray:GetSamplingRules',
            'xray:GetSamplingTargets',
            'xray:GetSamplingStatisticSummaries',
          ],
          Resource: '*',
        },
        {
          Sid: 'CWASSMServerPermissions',
          Effect: 'Allow',
          Action: ['ssm:GetParameter'],
          Resource: 'arn:aws:ssm:*:*:parameter/AmazonCloudWatch-*',
        },
      ],
    },
  },
  AmazonSSMManagedInstanceCore: {
    path: '/',
    description: 'The policy for Amazon EC2 Role to enable AWS Systems Manager service core functionality.',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [
            'ssm:DescribeAssociation',
            'ssm:GetDeployablePatchSnapshotForInstance',
            'ssm:GetDocument',
            'ssm:DescribeDocument',
            'ssm:GetManifest',
            'ssm:GetParameter',
            'ssm:GetParameters',
            'ssm:ListAssociations',
            'ssm:ListInstanceAssociations',
            'ssm:PutInventory',
            'ssm:PutComplianceItems',
            'ssm:PutConfigurePackageResult',
            'ssm:UpdateAssociationStatus',
            'ssm:UpdateInstanceAssociationStatus',
            'ssm:UpdateInstanceInformation',
          ],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: [
            'ssmmessages:CreateControlChannel',
            'ssmmessages:CreateDataChannel',
            'ssmmessages:OpenControlChannel',
            'ssmmessages:OpenDataChannel',
          ],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: [
            'ec2messages:AcknowledgeMessage',
            'ec2messages:DeleteMessage',
            'ec2messages:FailMessage',
            'ec2messages:GetEndpoint',
            'ec2messages:GetMessages',
            'ec2messages:SendReply',
          ],
          Resource: '*',
        },
      ],
    },
  },
  AmazonECSTaskExecutionRolePolicy: {
    path: '/service-role/',
    description: 'Provides access to other AWS service resources that are required to run Amazon ECS tasks',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [
            'ecr:GetAuthorizationToken',
            'ecr:BatchCheckLayerAvailability',
            'ecr:GetDownloadUrlForLayer',
            'ecr:BatchGetImage',
            'logs:CreateLogStream',
            'logs:PutLogEvents',
          ],
          Resource: '*',
        },
      ],
    },
  },
};

export function awsManagedPolicyArn(name: string): string {
  return `arn:aws:iam::aws:policy${AWS_MANAGED_POLICIES[name].path}${name}`;
}

/** When the AWS managed policies were "created": a fixed date, like AWS's own. */
const MANAGED_POLICY_DATE = Date.UTC(2015, 2, 19, 19, 42, 0);

const NAME_PATTERN = /^[\w+=,.@-]+$/;
const PATH_PATTERN = /^(\u002F)|(\u002F[\u0021-\u007E]+\u002F)$/;
const DEFAULT_MAX_ITEMS = 100;

function state(world: World): IamState {
  return world.state.iam as IamState;
}

function account(world: World): string {
  return world.settings.accountId;
}

// ---------------------------------------------------------------------------------------------
// Validation

function validationError(message: string): ServiceError {
  return new ServiceError('ValidationError', message, 400);
}

function required(value: unknown, member: string): string {
  if (value === undefined || value === null || value === '') {
    throw validationError(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  return String(value);
}

function validName(value: unknown, member: string, max: number): string {
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

function validPath(value: unknown): string {
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
function validPathPrefix(value: unknown): string {
  if (value === undefined || value === '') return '/';
  const prefix = String(value);
  if (!/^\u002F[\u0021-\u007F]*$/.test(prefix) || prefix.length > 512) {
    throw validationError(
      `1 validation error detected: Value '${prefix}' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*`,
    );
  }
  return prefix;
}

function validArn(value: unknown, member: string): string {
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
function checkPolicyDocument(value: unknown, member: string, kind: 'identity' | 'trust'): string {
  const text = required(value, member);
  if (text.length > 6144 && kind === 'identity') {
    throw new ServiceError('LimitExceeded', 'Cannot exceed quota for PolicySize: 6144', 409);
  }
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ServiceError('MalformedPolicyDocument', 'This policy contains invalid Json', 400);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ServiceError('MalformedPolicyDocument', 'This policy contains invalid Json', 400);
  }
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    throw new ServiceError('MalformedPolicyDocument', 'The policy failed legacy parsing', 400);
  }
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  if (statements.length === 0) {
    throw new ServiceError('MalformedPolicyDocument', 'Syntax errors in policy.', 400);
  }
  for (const s of statements) {
    if (typeof s !== 'object' || s === null || (s.Effect !== 'Allow' && s.Effect !== 'Deny')) {
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

function readTags(p: Record<string, any>): TagMap {
  const tags = list(p.Tags);
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

function readTagKeys(p: Record<string, any>): string[] {
  return list(p.TagKeys).map(String);
}

/** AWS returns policy documents URL-encoded (RFC 3986). */
function urlEncode(document: string): string {
  return encodeURIComponent(document).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function listPage<T>(world: World, items: T[], p: Record<string, any>) {
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

function iamId(world: World, prefix: string): string {
  // IAM unique ids look like AROA + 17 upper-case alphanumerics.
  const hex = world.nextId('', 17).replace(/[^0-9a-zA-Z]/g, '').toUpperCase();
  return prefix + hex.slice(-17).padStart(17, '0');
}

// ---------------------------------------------------------------------------------------------
// Lookups

function getPolicy(world: World, arn: string): PolicyRecord {
  const policy = state(world).policies[arn];
  if (!policy) throw new ServiceError('NoSuchEntity', `Policy ${arn} was not found.`, 404);
  return policy;
}

function getRole(world: World, name: string): RoleRecord {
  const role = state(world).roles[name.toLowerCase()];
  if (!role) throw new ServiceError('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);
  return role;
}

function getInstanceProfile(world: World, name: string): InstanceProfileRecord {
  const profile = state(world).instanceProfiles[name.toLowerCase()];
  if (!profile) throw new ServiceError('NoSuchEntity', `Instance Profile ${name} cannot be found.`, 404);
  return profile;
}

function attachmentCount(world: World, arn: string): number {
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
function rolePolicies(world: World, roleName: string): NamedPolicy[] | undefined {
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

function policyShape(world: World, p: PolicyRecord, withTags: boolean) {
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
    ...(withTags && Object.keys(p.tags).length ? { Tags: tagList(p.tags) } : {}),
  };
}

function versionShape(p: PolicyRecord, v: PolicyVersionRecord, withDocument: boolean) {
  return {
    ...(withDocument ? { Document: urlEncode(v.document) } : {}),
    VersionId: v.versionId,
    IsDefaultVersion: v.versionId === p.defaultVersionId,
    CreateDate: new Date(v.createDate),
  };
}

function roleShape(r: RoleRecord, withTags: boolean) {
  return {
    Path: r.path,
    RoleName: r.roleName,
    RoleId: r.roleId,
    Arn: r.arn,
    CreateDate: new Date(r.createDate),
    AssumeRolePolicyDocument: urlEncode(r.assumeRolePolicyDocument),
    ...(r.description !== undefined ? { Description: r.description } : {}),
    MaxSessionDuration: r.maxSessionDuration,
    ...(withTags && Object.keys(r.tags).length ? { Tags: tagList(r.tags) } : {}),
  };
}

function instanceProfileShape(world: World, ip: InstanceProfileRecord) {
  return {
    Path: ip.path,
    InstanceProfileName: ip.instanceProfileName,
    InstanceProfileId: ip.instanceProfileId,
    Arn: ip.arn,
    CreateDate: new Date(ip.createDate),
    Roles: ip.roles.map((name) => roleShape(getRole(world, name), false)),
    ...(Object.keys(ip.tags).length ? { Tags: tagList(ip.tags) } : {}),
  };
}

function sortedByName<T>(items: T[], name: (t: T) => string): T[] {
  return [...items].sort((a, b) => name(a).localeCompare(name(b)));
}

// ---------------------------------------------------------------------------------------------
// Operations: policies

function createPolicy(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const name = validName(p.PolicyName, 'policyName', 128);
  const path = validPath(p.Path);
  const document = checkPolicyDocument(p.PolicyDocument, 'policyDocument', 'identity');
  const tags = readTags(p);
  const arn = `arn:aws:iam::${account(world)}:policy${path}${name}`;
  const existing = Object.values(state(world).policies).find(
    (x) => !x.awsManaged && x.policyName.toLowerCase() === name.toLowerCase(),
  );
  if (existing) {
    throw new ServiceError('EntityAlreadyExists', `A policy called ${name} already exists. Duplicate names are not allowed.`, 409);
  }
  const policy: PolicyRecord = {
    policyName: name,
    policyId: iamId(world, 'ANPA'),
    arn,
    path,
    description: p.Description,
    createDate: req.now,
    updateDate: req.now,
    defaultVersionId: 'v1',
    versions: [{ versionId: 'v1', document, createDate: req.now }],
    nextVersion: 2,
    tags,
    awsManaged: false,
  };
  state(world).policies[arn] = policy;
  return { Policy: policyShape(world, policy, true) };
}

function getPolicyOp(req: SandboxRequest, world: World) {
  const arn = validArn(req.params.PolicyArn, 'policyArn');
  return { Policy: policyShape(world, getPolicy(world, arn), true) };
}

function deletePolicy(req: SandboxRequest, world: World) {
  const arn = validArn(req.params.PolicyArn, 'policyArn');
  const policy = getPolicy(world, arn);
  if (policy.awsManaged) {
    throw new ServiceError('AccessDenied', `User is not authorized to perform: iam:DeletePolicy on resource: policy ${arn}`, 403);
  }
  if (attachmentCount(world, arn) > 0) {
    throw new ServiceError('DeleteConflict', 'Cannot delete a policy attached to entities.', 409);
  }
  if (policy.versions.length > 1) {
    throw new ServiceError(
      'DeleteConflict',
      "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
      409,
    );
  }
  delete state(world).policies[arn];
  return {};
}

function findVersion(policy: PolicyRecord, versionId: string): PolicyVersionRecord {
  const version = policy.versions.find((v) => v.versionId === versionId);
  if (!version) {
    throw new ServiceError('NoSuchEntity', `Policy ${policy.arn} version ${versionId} does not exist or is not attachable.`, 404);
  }
  return version;
}

function getPolicyVersion(req: SandboxRequest, world: World) {
  const arn = validArn(req.params.PolicyArn, 'policyArn');
  const versionId = required(req.params.VersionId, 'versionId');
  const policy = getPolicy(world, arn);
  return { PolicyVersion: versionShape(policy, findVersion(policy, versionId), true) };
}

function createPolicyVersion(req: SandboxRequest, world: World) {
  const arn = validArn(req.params.PolicyArn, 'policyArn');
  const document = checkPolicyDocument(req.params.PolicyDocument, 'policyDocument', 'identity');
  const policy = getPolicy(world, arn);
  if (policy.awsManaged) {
    throw new ServiceError('AccessDenied', `User is not authorized to perform: iam:CreatePolicyVersion on resource: policy ${arn}`, 403);
  }
  if (policy.versions.length >= 5) {
    throw new ServiceError(
      'LimitExceeded',
      'A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.',
      409,
    );
  }
  const version: PolicyVersionRecord = { versionId: `v${policy.nextVersion}`, document, createDate: req.now };
  policy.nextVersion += 1;
  policy.versions.push(version);
  policy.updateDate = req.now;
  if (bool(req.params.SetAsDefault)) policy.defaultVersionId = version.versionId;
  return { PolicyVersion: versionShape(policy, version, false) };
}

function listPolicyVersions(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const policy = getPolicy(world, validArn(p.PolicyArn, 'policyArn'));
  const versions = [...policy.versions].reverse();
  const page = listPage(world, versions, p);
  return { Versions: page.items.map((v) => versionShape(policy, v, false)), ...page.extra };
}

function deletePolicyVersion(req: SandboxRequest, world: World) {
  const arn = validArn(req.params.PolicyArn, 'policyArn');
  const versionId = required(req.params.VersionId, 'versionId');
  const policy = getPolicy(world, arn);
  findVersion(policy, versionId);
  if (versionId === policy.defaultVersionId) {
    throw new ServiceError('DeleteConflict', 'Cannot delete the default version of a policy.', 409);
  }
  policy.versions = policy.versions.filter((v) => v.versionId !== versionId);
  return {};
}

function setDefaultPolicyVersion(req: SandboxRequest, world: World) {
  const arn = validArn(req.params.PolicyArn, 'policyArn');
  const versionId = required(req.params.VersionId, 'versionId');
  const policy = getPolicy(world, arn);
  findVersion(policy, versionId);
  policy.defaultVersionId = versionId;
  policy.updateDate = req.now;
  return {};
}

function listPolicies(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const scope = p.Scope ?? 'All';
  if (!['All', 'AWS', 'Local'].includes(scope)) {
    throw validationError(
      `1 validation error detected: Value '${scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]`,
    );
  }
  const pathPrefix = validPathPrefix(p.PathPrefix);
  let policies = Object.values(state(world).policies).filter(
    (x) => (scope === 'All' || (scope === 'AWS') === x.awsManaged) && x.path.startsWith(pathPrefix),
  );
  if (bool(p.OnlyAttached)) policies = policies.filter((x) => attachmentCount(world, x.arn) > 0);
  const page = listPage(world, sortedByName(policies, (x) => x.policyName), p);
  return { Policies: page.items.map((x) => policyShape(world, x, false)), ...page.extra };
}

// ---------------------------------------------------------------------------------------------
// Operations: roles

function createRole(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const name = validName(p.RoleName, 'roleName', 64);
  const path = validPath(p.Path);
  const document = checkPolicyDocument(p.AssumeRolePolicyDocument, 'assumeRolePolicyDocument', 'trust');
  const tags = readTags(p);
  const maxSessionDuration = int(p.MaxSessionDuration) ?? 3600;
  if (Number.isNaN(maxSessionDuration) || maxSessionDuration < 3600 || maxSessionDuration > 43200) {
    throw validationError(
      `1 validation error detected: Value '${p.MaxSessionDuration}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200`,
    );
  }
  const key = name.toLowerCase();
  if (state(world).roles[key]) {
    throw new ServiceError('EntityAlreadyExists', `Role with name ${name} already exists.`, 409);
  }
  const role: RoleRecord = {
    roleName: name,
    roleId: iamId(world, 'AROA'),
    arn: `arn:aws:iam::${account(world)}:role${path}${name}`,
    path,
    assumeRolePolicyDocument: document,
    description: p.Description,
    maxSessionDuration,
    createDate: req.now,
    tags,
    attachedPolicyArns: [],
  };
  state(world).roles[key] = role;
  return { Role: roleShape(role, true) };
}

function getRoleOp(req: SandboxRequest, world: World) {
  const name = validName(req.params.RoleName, 'roleName', 64);
  return { Role: roleShape(getRole(world, name), true) };
}

function listRoles(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const pathPrefix = validPathPrefix(p.PathPrefix);
  const roles = Object.values(state(world).roles).filter((r) => r.path.startsWith(pathPrefix));
  const page = listPage(world, sortedByName(roles, (r) => r.roleName), p);
  return { Roles: page.items.map((r) => roleShape(r, false)), ...page.extra };
}

function deleteRole(req: SandboxRequest, world: World) {
  const name = validName(req.params.RoleName, 'roleName', 64);
  const role = getRole(world, name);
  if (role.attachedPolicyArns.length > 0) {
    throw new ServiceError('DeleteConflict', 'Cannot delete entity, must detach all policies first.', 409);
  }
  const inProfile = Object.values(state(world).instanceProfiles).some((ip) =>
    ip.roles.some((r) => r.toLowerCase() === name.toLowerCase()),
  );
  if (inProfile) {
    throw new ServiceError('DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.', 409);
  }
  delete state(world).roles[name.toLowerCase()];
  return {};
}

/**
 * UpdateAssumeRolePolicy: replaces the role's trust policy (checked as CreateRole checks it). AWS:
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html -- NoSuchEntity
 * for an unknown role, MalformedPolicyDocument for a bad document; an empty response on success.
 */
function updateAssumeRolePolicy(p: UpdateAssumeRolePolicyRequest, { world }: Call): Record<string, never> {
  const role = getRole(world, validName(p.RoleName, 'roleName', 64));
  role.assumeRolePolicyDocument = checkPolicyDocument(p.PolicyDocument, 'policyDocument', 'trust');
  return {};
}

/**
 * ListRolePolicies: the names of the role's inline policies. The sandbox models no PutRolePolicy, so
 * an existing role has none (AWS answers the same for a role that never had one); NoSuchEntity for an
 * unknown role. https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRolePolicies.html
 */
function listRolePolicies(p: ListRolePoliciesRequest, { world }: Call): ListRolePoliciesResponse {
  getRole(world, validName(p.RoleName, 'roleName', 64));
  const page = listPage(world, [] as string[], p as Record<string, any>);
  return { PolicyNames: page.items, ...page.extra };
}

function attachRolePolicy(req: SandboxRequest, world: World) {
  const name = validName(req.params.RoleName, 'roleName', 64);
  const arn = validArn(req.params.PolicyArn, 'policyArn');
  const role = getRole(world, name);
  if (!state(world).policies[arn]) {
    throw new ServiceError('NoSuchEntity', `Policy ${arn} does not exist or is not attachable.`, 404);
  }
  if (!role.attachedPolicyArns.includes(arn)) {
    if (role.attachedPolicyArns.length >= 10) {
      throw new ServiceError('LimitExceeded', 'Cannot exceed quota for PoliciesPerRole: 10', 409);
    }
    role.attachedPolicyArns.push(arn);
  }
  return {};
}

function detachRolePolicy(req: SandboxRequest, world: World) {
  const name = validName(req.params.RoleName, 'roleName', 64);
  const arn = validArn(req.params.PolicyArn, 'policyArn');
  const role = getRole(world, name);
  if (!role.attachedPolicyArns.includes(arn)) {
    throw new ServiceError('NoSuchEntity', `Policy ${arn} was not found.`, 404);
  }
  role.attachedPolicyArns = role.attachedPolicyArns.filter((a) => a !== arn);
  return {};
}

function listAttachedRolePolicies(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const role = getRole(world, validName(p.RoleName, 'roleName', 64));
  const pathPrefix = validPathPrefix(p.PathPrefix);
  const attached = role.attachedPolicyArns
    .map((arn) => state(world).policies[arn])
    .filter((x): x is PolicyRecord => x !== undefined && x.path.startsWith(pathPrefix));
  const page = listPage(world, attached, p);
  return { AttachedPolicies: page.items.map((x) => ({ PolicyName: x.policyName, PolicyArn: x.arn })), ...page.extra };
}

// ---------------------------------------------------------------------------------------------
// Operations: instance profiles

function createInstanceProfile(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const name = validName(p.InstanceProfileName, 'instanceProfileName', 128);
  const path = validPath(p.Path);
  const tags = readTags(p);
  const key = name.toLowerCase();
  if (state(world).instanceProfiles[key]) {
    throw new ServiceError('EntityAlreadyExists', `Instance Profile ${name} already exists.`, 409);
  }
  const profile: InstanceProfileRecord = {
    instanceProfileName: name,
    instanceProfileId: iamId(world, 'AIPA'),
    arn: `arn:aws:iam::${account(world)}:instance-profile${path}${name}`,
    path,
    createDate: req.now,
    roles: [],
    tags,
  };
  state(world).instanceProfiles[key] = profile;
  return { InstanceProfile: instanceProfileShape(world, profile) };
}

function getInstanceProfileOp(req: SandboxRequest, world: World) {
  const name = validName(req.params.InstanceProfileName, 'instanceProfileName', 128);
  return { InstanceProfile: instanceProfileShape(world, getInstanceProfile(world, name)) };
}

function listInstanceProfiles(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const pathPrefix = validPathPrefix(p.PathPrefix);
  const profiles = Object.values(state(world).instanceProfiles).filter((ip) => ip.path.startsWith(pathPrefix));
  const page = listPage(world, sortedByName(profiles, (ip) => ip.instanceProfileName), p);
  return { InstanceProfiles: page.items.map((ip) => instanceProfileShape(world, ip)), ...page.extra };
}

function deleteInstanceProfile(req: SandboxRequest, world: World) {
  const name = validName(req.params.InstanceProfileName, 'instanceProfileName', 128);
  const profile = getInstanceProfile(world, name);
  if (profile.roles.length > 0) {
    throw new ServiceError('DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.', 409);
  }
  delete state(world).instanceProfiles[name.toLowerCase()];
  return {};
}

function addRoleToInstanceProfile(req: SandboxRequest, world: World) {
  const profileName = validName(req.params.InstanceProfileName, 'instanceProfileName', 128);
  const roleName = validName(req.params.RoleName, 'roleName', 64);
  const profile = getInstanceProfile(world, profileName);
  const role = getRole(world, roleName);
  if (profile.roles.length >= 1) {
    throw new ServiceError('LimitExceeded', 'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1', 409);
  }
  profile.roles.push(role.roleName);
  profile.roleAddedAt = req.now;
  return {};
}

function removeRoleFromInstanceProfile(req: SandboxRequest, world: World) {
  const profileName = validName(req.params.InstanceProfileName, 'instanceProfileName', 128);
  const roleName = validName(req.params.RoleName, 'roleName', 64);
  const profile = getInstanceProfile(world, profileName);
  getRole(world, roleName);
  if (!profile.roles.some((r) => r.toLowerCase() === roleName.toLowerCase())) {
    throw new ServiceError('NoSuchEntity', `The role with name ${roleName} cannot be found.`, 404);
  }
  profile.roles = profile.roles.filter((r) => r.toLowerCase() !== roleName.toLowerCase());
  return {};
}

function listInstanceProfilesForRole(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const role = getRole(world, validName(p.RoleName, 'roleName', 64));
  const profiles = Object.values(state(world).instanceProfiles).filter((ip) => ip.roles.includes(role.roleName));
  const page = listPage(world, sortedByName(profiles, (ip) => ip.instanceProfileName), p);
  return { InstanceProfiles: page.items.map((ip) => instanceProfileShape(world, ip)), ...page.extra };
}

// ---------------------------------------------------------------------------------------------
// Operations: tags

function addTags(target: { tags: TagMap }, tags: TagMap) {
  const merged = { ...target.tags, ...tags };
  if (Object.keys(merged).length > 50) {
    throw new ServiceError('LimitExceeded', 'Cannot exceed quota for TagsPerRole: 50', 409);
  }
  target.tags = merged;
}

function removeTags(target: { tags: TagMap }, keys: string[]) {
  for (const k of keys) delete target.tags[k];
}

function tagsPage(world: World, tags: TagMap, p: Record<string, any>) {
  const page = listPage(world, tagList(tags), p);
  return { Tags: page.items, ...page.extra };
}

function ok(handler: (p: Record<string, any>, world: World, req: SandboxRequest) => unknown) {
  return (req: SandboxRequest, world: World) => handler(unflatten(req.params), world, req);
}

const roleOf = (p: Record<string, any>, world: World) => getRole(world, validName(p.RoleName, 'roleName', 64));
const policyOf = (p: Record<string, any>, world: World) => getPolicy(world, validArn(p.PolicyArn, 'policyArn'));
const profileOf = (p: Record<string, any>, world: World) =>
  getInstanceProfile(world, validName(p.InstanceProfileName, 'instanceProfileName', 128));

// ---------------------------------------------------------------------------------------------

function initState(): IamState {
  const policies: Record<string, PolicyRecord> = {};
  let n = 0;
  for (const [name, def] of Object.entries(AWS_MANAGED_POLICIES)) {
    n += 1;
    const arn = awsManagedPolicyArn(name);
    policies[arn] = {
      policyName: name,
      policyId: `ANPAJ${String(n).padStart(16, '0')}`,
      arn,
      path: def.path,
      description: def.description,
      createDate: MANAGED_POLICY_DATE,
      updateDate: MANAGED_POLICY_DATE,
      defaultVersionId: 'v1',
      versions: [{ versionId: 'v1', document: JSON.stringify(def.document, null, 4), createDate: MANAGED_POLICY_DATE }],
      nextVersion: 2,
      tags: {},
      awsManaged: true,
    };
  }
  return { policies, roles: {}, instanceProfiles: {} };
}

export const iam: ServiceModule = {
  name: 'iam',
  protocol: 'query',
  xmlNamespace: 'https://iam.amazonaws.com/doc/2010-05-08/',
  initState,
  operations: {
    CreatePolicy: { mutating: true, handler: createPolicy },
    GetPolicy: { mutating: false, handler: getPolicyOp },
    DeletePolicy: { mutating: true, handler: deletePolicy },
    ListPolicies: { mutating: false, handler: listPolicies },
    GetPolicyVersion: { mutating: false, handler: getPolicyVersion },
    CreatePolicyVersion: { mutating: true, handler: createPolicyVersion },
    ListPolicyVersions: { mutating: false, handler: listPolicyVersions },
    DeletePolicyVersion: { mutating: true, handler: deletePolicyVersion },
    SetDefaultPolicyVersion: { mutating: true, handler: setDefaultPolicyVersion },

    CreateRole: { mutating: true, handler: createRole },
    GetRole: { mutating: false, handler: getRoleOp },
    ListRoles: { mutating: false, handler: listRoles },
    DeleteRole: { mutating: true, handler: deleteRole },
    UpdateAssumeRolePolicy: typedOperation<UpdateAssumeRolePolicyRequest, Record<string, never>>({
      mutating: true,
      decode: (p) => unflatten(p) as UpdateAssumeRolePolicyRequest,
      handler: updateAssumeRolePolicy,
    }),
    ListRolePolicies: typedOperation<ListRolePoliciesRequest, ListRolePoliciesResponse>({
      mutating: false,
      decode: (p) => unflatten(p) as ListRolePoliciesRequest,
      handler: listRolePolicies,
    }),
    AttachRolePolicy: { mutating: true, handler: attachRolePolicy },
    DetachRolePolicy: { mutating: true, handler: detachRolePolicy },
    ListAttachedRolePolicies: { mutating: false, handler: listAttachedRolePolicies },
    SimulatePrincipalPolicy: { mutating: false, handler: simulatePrincipalPolicy(rolePolicies) },

    CreateInstanceProfile: { mutating: true, handler: createInstanceProfile },
    GetInstanceProfile: { mutating: false, handler: getInstanceProfileOp },
    ListInstanceProfiles: { mutating: false, handler: listInstanceProfiles },
    DeleteInstanceProfile: { mutating: true, handler: deleteInstanceProfile },
    AddRoleToInstanceProfile: { mutating: true, handler: addRoleToInstanceProfile },
    RemoveRoleFromInstanceProfile: { mutating: true, handler: removeRoleFromInstanceProfile },
    ListInstanceProfilesForRole: { mutating: false, handler: listInstanceProfilesForRole },

    TagRole: { mutating: true, handler: ok((p, w) => (addTags(roleOf(p, w), readTags(p)), {})) },
    UntagRole: { mutating: true, handler: ok((p, w) => (removeTags(roleOf(p, w), readTagKeys(p)), {})) },
    ListRoleTags: { mutating: false, handler: ok((p, w) => tagsPage(w, roleOf(p, w).tags, p)) },
    TagPolicy: { mutating: true, handler: ok((p, w) => (addTags(policyOf(p, w), readTags(p)), {})) },
    UntagPolicy: { mutating: true, handler: ok((p, w) => (removeTags(policyOf(p, w), readTagKeys(p)), {})) },
    ListPolicyTags: { mutating: false, handler: ok((p, w) => tagsPage(w, policyOf(p, w).tags, p)) },
    TagInstanceProfile: { mutating: true, handler: ok((p, w) => (addTags(profileOf(p, w), readTags(p)), {})) },
    UntagInstanceProfile: { mutating: true, handler: ok((p, w) => (removeTags(profileOf(p, w), readTagKeys(p)), {})) },
    ListInstanceProfileTags: { mutating: false, handler: ok((p, w) => tagsPage(w, profileOf(p, w).tags, p)) },
  },
};
