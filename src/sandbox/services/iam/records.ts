/**
 * IAM's state (world.state.iam): each record declared once, as the shape a saved state file is
 * checked against (../../shape.ts), with its TypeScript type inferred from that shape.
 */
import { arrayOf, bool, int, num, object, optional, recordOf, str, type Infer } from '../../shape.js';
import type { World } from '../../types.js';

const tagMap = recordOf(str);

export const policyVersionShape = object({ versionId: str, document: str, createDate: num });
export type PolicyVersionRecord = Infer<typeof policyVersionShape>;

export const policyShape = object({
  policyName: str,
  policyId: str,
  arn: str,
  path: str,
  description: optional(str),
  createDate: num,
  updateDate: num,
  defaultVersionId: str,
  versions: arrayOf(policyVersionShape),
  /** Number of the next version (v2, v3, ...): AWS never reuses version ids. */
  nextVersion: int,
  tags: tagMap,
  awsManaged: bool,
});
export type PolicyRecord = Infer<typeof policyShape>;

export const roleShape = object({
  roleName: str,
  roleId: str,
  arn: str,
  path: str,
  assumeRolePolicyDocument: str,
  description: optional(str),
  maxSessionDuration: int,
  createDate: num,
  tags: tagMap,
  attachedPolicyArns: arrayOf(str),
});
export type RoleRecord = Infer<typeof roleShape>;

export const instanceProfileShape = object({
  instanceProfileName: str,
  instanceProfileId: str,
  arn: str,
  path: str,
  createDate: num,
  /** Role names (IAM allows one role per instance profile). */
  roles: arrayOf(str),
  /** When a role was last added: EC2 rejects the profile for iamPropagationMs after that. */
  roleAddedAt: optional(num),
  tags: tagMap,
});
export type InstanceProfileRecord = Infer<typeof instanceProfileShape>;

export const iamStateShape = object({
  /** By ARN. */
  policies: recordOf(policyShape),
  /** By lower-cased name: IAM names are unique regardless of case. */
  roles: recordOf(roleShape),
  instanceProfiles: recordOf(instanceProfileShape),
});
export type IamState = Infer<typeof iamStateShape>;

export function state(world: World): IamState {
  return world.state.iam as IamState;
}

export function account(world: World): string {
  return world.settings.accountId;
}
