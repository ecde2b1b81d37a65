/**
 * IAM (Query protocol, global): managed policies and their versions, roles, instance profiles, tags.
 * The operations live in iam/ by resource; every one is typed with the SDK's request and response
 * types (iam/common.ts iamOperation), and the records' types come from their persisted shapes
 * (iam/records.ts).
 *
 * Eventual consistency: a role added to an instance profile (or a new instance profile) is not
 * usable by EC2 for settings.iamPropagationMs; ec2/instances.ts asks instanceProfileUsable().
 */
import {
  ListInstanceProfileTagsRequest$,
  ListPolicyTagsRequest$,
  ListRoleTagsRequest$,
  SimulatePrincipalPolicyRequest$,
  TagInstanceProfileRequest$,
  TagPolicyRequest$,
  TagRoleRequest$,
  UntagInstanceProfileRequest$,
  UntagPolicyRequest$,
  UntagRoleRequest$,
  type ListRoleTagsResponse,
  type Tag,
} from '@aws-sdk/client-iam';
import type { Call } from '../typed.js';
import { ServiceError, type ServiceModule, type World } from '../types.js';
import { keyValueTags, type TagMap } from './util.js';
import { getInstanceProfile, getPolicy, getRole, iamOperation, listPage, readTagKeys, readTags, rolePolicies, validArn, validName, type Empty } from './iam/common.js';
import { instanceProfileOperations } from './iam/instance-profiles.js';
import { managedPolicies } from './iam/managed-policies.js';
import { policyOperations } from './iam/policies.js';
import type { IamState } from './iam/records.js';
import { roleOperations } from './iam/roles.js';
import { simulatePrincipalPolicy } from './iam/simulate.js';

export { AWS_MANAGED_POLICIES, awsManagedPolicyArn } from './iam/managed-policies.js';
export { findInstanceProfile, instanceProfilePolicyArns, instanceProfileUsable } from './iam/common.js';
export type { IamState } from './iam/records.js';

// ---- Tags: the same three operations on roles, policies and instance profiles ----------------------

type Tagged = { tags: TagMap };
interface TagInput {
  Tags?: Tag[];
  TagKeys?: string[];
  MaxItems?: number;
  Marker?: string;
}

function addTags(target: Tagged, tags: TagMap): void {
  const merged = { ...target.tags, ...tags };
  if (Object.keys(merged).length > 50) {
    throw new ServiceError('LimitExceeded', 'Cannot exceed quota for TagsPerRole: 50', 409);
  }
  target.tags = merged;
}

/** TagX, UntagX and ListXTags for a resource that `find` reads from the request. */
function tagOperations<I extends TagInput>(find: (p: I, world: World) => Tagged, schemas: { tag: unknown; untag: unknown; list: unknown }) {
  return {
    tag: iamOperation(true, schemas.tag, (p: I, { world }: Call): Empty => (addTags(find(p, world), readTags(p)), {})),
    untag: iamOperation(true, schemas.untag, (p: I, { world }: Call): Empty => {
      const target = find(p, world);
      for (const k of readTagKeys(p)) delete target.tags[k];
      return {};
    }),
    list: iamOperation(false, schemas.list, (p: I, { world }: Call): ListRoleTagsResponse => {
      const page = listPage(world, keyValueTags(find(p, world).tags), p);
      return { Tags: page.items, ...page.extra };
    }),
  };
}

const roleTags = tagOperations<TagInput & { RoleName?: string }>((p, world) => getRole(world, validName(p.RoleName, 'roleName', 64)), {
  tag: TagRoleRequest$,
  untag: UntagRoleRequest$,
  list: ListRoleTagsRequest$,
});
const policyTags = tagOperations<TagInput & { PolicyArn?: string }>((p, world) => getPolicy(world, validArn(p.PolicyArn, 'policyArn')), {
  tag: TagPolicyRequest$,
  untag: UntagPolicyRequest$,
  list: ListPolicyTagsRequest$,
});
const profileTags = tagOperations<TagInput & { InstanceProfileName?: string }>(
  (p, world) => getInstanceProfile(world, validName(p.InstanceProfileName, 'instanceProfileName', 128)),
  { tag: TagInstanceProfileRequest$, untag: UntagInstanceProfileRequest$, list: ListInstanceProfileTagsRequest$ },
);

function initState(): IamState {
  return { policies: managedPolicies(), roles: {}, instanceProfiles: {} };
}

export const iam: ServiceModule = {
  name: 'iam',
  protocol: 'query',
  xmlNamespace: 'https://iam.amazonaws.com/doc/2010-05-08/',
  initState,
  operations: {
    ...policyOperations,
    ...roleOperations,
    ...instanceProfileOperations,
    SimulatePrincipalPolicy: iamOperation(false, SimulatePrincipalPolicyRequest$, simulatePrincipalPolicy(rolePolicies)),
    TagRole: roleTags.tag,
    UntagRole: roleTags.untag,
    ListRoleTags: roleTags.list,
    TagPolicy: policyTags.tag,
    UntagPolicy: policyTags.untag,
    ListPolicyTags: policyTags.list,
    TagInstanceProfile: profileTags.tag,
    UntagInstanceProfile: profileTags.untag,
    ListInstanceProfileTags: profileTags.list,
  },
};
