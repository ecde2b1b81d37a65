/** IAM roles: create, read, list, delete, the trust policy, and the managed policies attached. */
import {
  AttachRolePolicyRequest$,
  CreateRoleRequest$,
  DeleteRoleRequest$,
  DetachRolePolicyRequest$,
  GetRoleRequest$,
  ListAttachedRolePoliciesRequest$,
  ListRolePoliciesRequest$,
  ListRolesRequest$,
  UpdateAssumeRolePolicyRequest$,
  type AttachRolePolicyRequest,
  type CreateRoleRequest,
  type CreateRoleResponse,
  type DeleteRoleRequest,
  type DetachRolePolicyRequest,
  type GetRoleRequest,
  type GetRoleResponse,
  type ListAttachedRolePoliciesRequest,
  type ListAttachedRolePoliciesResponse,
  type ListRolePoliciesRequest,
  type ListRolePoliciesResponse,
  type ListRolesRequest,
  type ListRolesResponse,
  type UpdateAssumeRolePolicyRequest,
} from '@aws-sdk/client-iam';
import { ServiceError, type Operation } from '../../types.js';
import type { Call } from '../../typed.js';
import { int } from '../util.js';
import {
  checkPolicyDocument,
  getRole,
  iamId,
  iamOperation,
  listPage,
  readTags,
  roleView,
  sortedByName,
  validArn,
  validationError,
  validName,
  validPath,
  validPathPrefix,
  type Empty,
} from './common.js';
import { account, state, type PolicyRecord, type RoleRecord } from './records.js';

function createRole(p: CreateRoleRequest, { world, now }: Call): CreateRoleResponse {
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
    createDate: now,
    tags,
    attachedPolicyArns: [],
  };
  state(world).roles[key] = role;
  return { Role: roleView(role, true) };
}

function getRoleOp(p: GetRoleRequest, { world }: Call): GetRoleResponse {
  const name = validName(p.RoleName, 'roleName', 64);
  return { Role: roleView(getRole(world, name), true) };
}

function listRoles(p: ListRolesRequest, { world }: Call): ListRolesResponse {
  const pathPrefix = validPathPrefix(p.PathPrefix);
  const roles = Object.values(state(world).roles).filter((r) => r.path.startsWith(pathPrefix));
  const page = listPage(world, sortedByName(roles, (r) => r.roleName), p);
  return { Roles: page.items.map((r) => roleView(r, false)), ...page.extra };
}

function deleteRole(p: DeleteRoleRequest, { world }: Call): Empty {
  const name = validName(p.RoleName, 'roleName', 64);
  const role = getRole(world, name);
  if (role.attachedPolicyArns.length > 0) {
    throw new ServiceError('DeleteConflict', 'Cannot delete entity, must detach all policies first.', 409);
  }
  const inProfile = Object.values(state(world).instanceProfiles).some((ip) => ip.roles.some((r) => r.toLowerCase() === name.toLowerCase()));
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
function updateAssumeRolePolicy(p: UpdateAssumeRolePolicyRequest, { world }: Call): Empty {
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
  const page = listPage(world, [] as string[], p);
  return { PolicyNames: page.items, ...page.extra };
}

function attachRolePolicy(p: AttachRolePolicyRequest, { world }: Call): Empty {
  const name = validName(p.RoleName, 'roleName', 64);
  const arn = validArn(p.PolicyArn, 'policyArn');
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

function detachRolePolicy(p: DetachRolePolicyRequest, { world }: Call): Empty {
  const name = validName(p.RoleName, 'roleName', 64);
  const arn = validArn(p.PolicyArn, 'policyArn');
  const role = getRole(world, name);
  if (!role.attachedPolicyArns.includes(arn)) {
    throw new ServiceError('NoSuchEntity', `Policy ${arn} was not found.`, 404);
  }
  role.attachedPolicyArns = role.attachedPolicyArns.filter((a) => a !== arn);
  return {};
}

function listAttachedRolePolicies(p: ListAttachedRolePoliciesRequest, { world }: Call): ListAttachedRolePoliciesResponse {
  const role = getRole(world, validName(p.RoleName, 'roleName', 64));
  const pathPrefix = validPathPrefix(p.PathPrefix);
  const attached = role.attachedPolicyArns
    .map((arn) => state(world).policies[arn])
    .filter((x): x is PolicyRecord => x !== undefined && x.path.startsWith(pathPrefix));
  const page = listPage(world, attached, p);
  return { AttachedPolicies: page.items.map((x) => ({ PolicyName: x.policyName, PolicyArn: x.arn })), ...page.extra };
}

export const roleOperations: Record<string, Operation> = {
  CreateRole: iamOperation(true, CreateRoleRequest$, createRole),
  GetRole: iamOperation(false, GetRoleRequest$, getRoleOp),
  ListRoles: iamOperation(false, ListRolesRequest$, listRoles),
  DeleteRole: iamOperation(true, DeleteRoleRequest$, deleteRole),
  UpdateAssumeRolePolicy: iamOperation(true, UpdateAssumeRolePolicyRequest$, updateAssumeRolePolicy),
  ListRolePolicies: iamOperation(false, ListRolePoliciesRequest$, listRolePolicies),
  AttachRolePolicy: iamOperation(true, AttachRolePolicyRequest$, attachRolePolicy),
  DetachRolePolicy: iamOperation(true, DetachRolePolicyRequest$, detachRolePolicy),
  ListAttachedRolePolicies: iamOperation(false, ListAttachedRolePoliciesRequest$, listAttachedRolePolicies),
};
