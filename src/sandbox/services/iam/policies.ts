/** IAM customer managed policies and their versions (the AWS managed ones are in managed-policies.ts). */
import {
  CreatePolicyRequest$,
  CreatePolicyVersionRequest$,
  DeletePolicyRequest$,
  DeletePolicyVersionRequest$,
  GetPolicyRequest$,
  GetPolicyVersionRequest$,
  ListPoliciesRequest$,
  ListPolicyVersionsRequest$,
  SetDefaultPolicyVersionRequest$,
  type CreatePolicyRequest,
  type CreatePolicyResponse,
  type CreatePolicyVersionRequest,
  type CreatePolicyVersionResponse,
  type DeletePolicyRequest,
  type DeletePolicyVersionRequest,
  type GetPolicyRequest,
  type GetPolicyResponse,
  type GetPolicyVersionRequest,
  type GetPolicyVersionResponse,
  type ListPoliciesRequest,
  type ListPoliciesResponse,
  type ListPolicyVersionsRequest,
  type ListPolicyVersionsResponse,
  type SetDefaultPolicyVersionRequest,
} from '@aws-sdk/client-iam';
import { ServiceError, type Operation } from '../../types.js';
import type { Call } from '../../typed.js';
import {
  attachmentCount,
  checkPolicyDocument,
  getPolicy,
  iamId,
  iamOperation,
  listPage,
  policyView,
  readTags,
  required,
  sortedByName,
  validArn,
  validationError,
  validName,
  validPath,
  validPathPrefix,
  versionView,
  type Empty,
} from './common.js';
import { account, state, type PolicyRecord, type PolicyVersionRecord } from './records.js';

function createPolicy(p: CreatePolicyRequest, { world, now }: Call): CreatePolicyResponse {
  const name = validName(p.PolicyName, 'policyName', 128);
  const path = validPath(p.Path);
  const document = checkPolicyDocument(p.PolicyDocument, 'policyDocument', 'identity');
  const tags = readTags(p);
  const arn = `arn:aws:iam::${account(world)}:policy${path}${name}`;
  const existing = Object.values(state(world).policies).find((x) => !x.awsManaged && x.policyName.toLowerCase() === name.toLowerCase());
  if (existing) {
    throw new ServiceError('EntityAlreadyExists', `A policy called ${name} already exists. Duplicate names are not allowed.`, 409);
  }
  const policy: PolicyRecord = {
    policyName: name,
    policyId: iamId(world, 'ANPA'),
    arn,
    path,
    description: p.Description,
    createDate: now,
    updateDate: now,
    defaultVersionId: 'v1',
    versions: [{ versionId: 'v1', document, createDate: now }],
    nextVersion: 2,
    tags,
    awsManaged: false,
  };
  state(world).policies[arn] = policy;
  return { Policy: policyView(world, policy, true) };
}

function getPolicyOp(p: GetPolicyRequest, { world }: Call): GetPolicyResponse {
  const arn = validArn(p.PolicyArn, 'policyArn');
  return { Policy: policyView(world, getPolicy(world, arn), true) };
}

function deletePolicy(p: DeletePolicyRequest, { world }: Call): Empty {
  const arn = validArn(p.PolicyArn, 'policyArn');
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

function getPolicyVersion(p: GetPolicyVersionRequest, { world }: Call): GetPolicyVersionResponse {
  const arn = validArn(p.PolicyArn, 'policyArn');
  const versionId = required(p.VersionId, 'versionId');
  const policy = getPolicy(world, arn);
  return { PolicyVersion: versionView(policy, findVersion(policy, versionId), true) };
}

function createPolicyVersion(p: CreatePolicyVersionRequest, { world, now }: Call): CreatePolicyVersionResponse {
  const arn = validArn(p.PolicyArn, 'policyArn');
  const document = checkPolicyDocument(p.PolicyDocument, 'policyDocument', 'identity');
  const policy = getPolicy(world, arn);
  if (policy.awsManaged) {
    throw new ServiceError('AccessDenied', `User is not authorized to perform: iam:CreatePolicyVersion on resource: policy ${arn}`, 403);
  }
  if (policy.versions.length >= 5) {
    throw new ServiceError('LimitExceeded', 'A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.', 409);
  }
  const version: PolicyVersionRecord = { versionId: `v${policy.nextVersion}`, document, createDate: now };
  policy.nextVersion += 1;
  policy.versions.push(version);
  policy.updateDate = now;
  if (p.SetAsDefault) policy.defaultVersionId = version.versionId;
  return { PolicyVersion: versionView(policy, version, false) };
}

function listPolicyVersions(p: ListPolicyVersionsRequest, { world }: Call): ListPolicyVersionsResponse {
  const policy = getPolicy(world, validArn(p.PolicyArn, 'policyArn'));
  const versions = [...policy.versions].reverse();
  const page = listPage(world, versions, p);
  return { Versions: page.items.map((v) => versionView(policy, v, false)), ...page.extra };
}

function deletePolicyVersion(p: DeletePolicyVersionRequest, { world }: Call): Empty {
  const arn = validArn(p.PolicyArn, 'policyArn');
  const versionId = required(p.VersionId, 'versionId');
  const policy = getPolicy(world, arn);
  findVersion(policy, versionId);
  if (versionId === policy.defaultVersionId) {
    throw new ServiceError('DeleteConflict', 'Cannot delete the default version of a policy.', 409);
  }
  policy.versions = policy.versions.filter((v) => v.versionId !== versionId);
  return {};
}

function setDefaultPolicyVersion(p: SetDefaultPolicyVersionRequest, { world, now }: Call): Empty {
  const arn = validArn(p.PolicyArn, 'policyArn');
  const versionId = required(p.VersionId, 'versionId');
  const policy = getPolicy(world, arn);
  findVersion(policy, versionId);
  policy.defaultVersionId = versionId;
  policy.updateDate = now;
  return {};
}

function listPolicies(p: ListPoliciesRequest, { world }: Call): ListPoliciesResponse {
  const scope = p.Scope ?? 'All';
  if (!['All', 'AWS', 'Local'].includes(scope)) {
    throw validationError(`1 validation error detected: Value '${scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]`);
  }
  const pathPrefix = validPathPrefix(p.PathPrefix);
  let policies = Object.values(state(world).policies).filter((x) => (scope === 'All' || (scope === 'AWS') === x.awsManaged) && x.path.startsWith(pathPrefix));
  if (p.OnlyAttached) policies = policies.filter((x) => attachmentCount(world, x.arn) > 0);
  const page = listPage(world, sortedByName(policies, (x) => x.policyName), p);
  return { Policies: page.items.map((x) => policyView(world, x, false)), ...page.extra };
}

export const policyOperations: Record<string, Operation> = {
  CreatePolicy: iamOperation(true, CreatePolicyRequest$, createPolicy),
  GetPolicy: iamOperation(false, GetPolicyRequest$, getPolicyOp),
  DeletePolicy: iamOperation(true, DeletePolicyRequest$, deletePolicy),
  ListPolicies: iamOperation(false, ListPoliciesRequest$, listPolicies),
  GetPolicyVersion: iamOperation(false, GetPolicyVersionRequest$, getPolicyVersion),
  CreatePolicyVersion: iamOperation(true, CreatePolicyVersionRequest$, createPolicyVersion),
  ListPolicyVersions: iamOperation(false, ListPolicyVersionsRequest$, listPolicyVersions),
  DeletePolicyVersion: iamOperation(true, DeletePolicyVersionRequest$, deletePolicyVersion),
  SetDefaultPolicyVersion: iamOperation(true, SetDefaultPolicyVersionRequest$, setDefaultPolicyVersion),
};
