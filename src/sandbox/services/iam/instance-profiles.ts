/** IAM instance profiles and the one role each may hold. */
import {
  AddRoleToInstanceProfileRequest$,
  CreateInstanceProfileRequest$,
  DeleteInstanceProfileRequest$,
  GetInstanceProfileRequest$,
  ListInstanceProfilesForRoleRequest$,
  ListInstanceProfilesRequest$,
  RemoveRoleFromInstanceProfileRequest$,
  type AddRoleToInstanceProfileRequest,
  type CreateInstanceProfileRequest,
  type CreateInstanceProfileResponse,
  type DeleteInstanceProfileRequest,
  type GetInstanceProfileRequest,
  type GetInstanceProfileResponse,
  type ListInstanceProfilesForRoleRequest,
  type ListInstanceProfilesForRoleResponse,
  type ListInstanceProfilesRequest,
  type ListInstanceProfilesResponse,
  type RemoveRoleFromInstanceProfileRequest,
} from '@aws-sdk/client-iam';
import { ServiceError, type Operation } from '../../types.js';
import type { Call } from '../../typed.js';
import { getInstanceProfile, getRole, iamId, iamOperation, instanceProfileView, listPage, readTags, sortedByName, validName, validPath, validPathPrefix, type Empty } from './common.js';
import { account, state, type InstanceProfileRecord } from './records.js';

function createInstanceProfile(p: CreateInstanceProfileRequest, { world, now }: Call): CreateInstanceProfileResponse {
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
    createDate: now,
    roles: [],
    tags,
  };
  state(world).instanceProfiles[key] = profile;
  return { InstanceProfile: instanceProfileView(world, profile) };
}

function getInstanceProfileOp(p: GetInstanceProfileRequest, { world }: Call): GetInstanceProfileResponse {
  const name = validName(p.InstanceProfileName, 'instanceProfileName', 128);
  return { InstanceProfile: instanceProfileView(world, getInstanceProfile(world, name)) };
}

function listInstanceProfiles(p: ListInstanceProfilesRequest, { world }: Call): ListInstanceProfilesResponse {
  const pathPrefix = validPathPrefix(p.PathPrefix);
  const profiles = Object.values(state(world).instanceProfiles).filter((ip) => ip.path.startsWith(pathPrefix));
  const page = listPage(world, sortedByName(profiles, (ip) => ip.instanceProfileName), p);
  return { InstanceProfiles: page.items.map((ip) => instanceProfileView(world, ip)), ...page.extra };
}

function deleteInstanceProfile(p: DeleteInstanceProfileRequest, { world }: Call): Empty {
  const name = validName(p.InstanceProfileName, 'instanceProfileName', 128);
  const profile = getInstanceProfile(world, name);
  if (profile.roles.length > 0) {
    throw new ServiceError('DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.', 409);
  }
  delete state(world).instanceProfiles[name.toLowerCase()];
  return {};
}

function addRoleToInstanceProfile(p: AddRoleToInstanceProfileRequest, { world, now }: Call): Empty {
  const profileName = validName(p.InstanceProfileName, 'instanceProfileName', 128);
  const roleName = validName(p.RoleName, 'roleName', 64);
  const profile = getInstanceProfile(world, profileName);
  const role = getRole(world, roleName);
  if (profile.roles.length >= 1) {
    throw new ServiceError('LimitExceeded', 'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1', 409);
  }
  profile.roles.push(role.roleName);
  profile.roleAddedAt = now;
  return {};
}

function removeRoleFromInstanceProfile(p: RemoveRoleFromInstanceProfileRequest, { world }: Call): Empty {
  const profileName = validName(p.InstanceProfileName, 'instanceProfileName', 128);
  const roleName = validName(p.RoleName, 'roleName', 64);
  const profile = getInstanceProfile(world, profileName);
  getRole(world, roleName);
  if (!profile.roles.some((r) => r.toLowerCase() === roleName.toLowerCase())) {
    throw new ServiceError('NoSuchEntity', `The role with name ${roleName} cannot be found.`, 404);
  }
  profile.roles = profile.roles.filter((r) => r.toLowerCase() !== roleName.toLowerCase());
  return {};
}

function listInstanceProfilesForRole(p: ListInstanceProfilesForRoleRequest, { world }: Call): ListInstanceProfilesForRoleResponse {
  const role = getRole(world, validName(p.RoleName, 'roleName', 64));
  const profiles = Object.values(state(world).instanceProfiles).filter((ip) => ip.roles.includes(role.roleName));
  const page = listPage(world, sortedByName(profiles, (ip) => ip.instanceProfileName), p);
  return { InstanceProfiles: page.items.map((ip) => instanceProfileView(world, ip)), ...page.extra };
}

export const instanceProfileOperations: Record<string, Operation> = {
  CreateInstanceProfile: iamOperation(true, CreateInstanceProfileRequest$, createInstanceProfile),
  GetInstanceProfile: iamOperation(false, GetInstanceProfileRequest$, getInstanceProfileOp),
  ListInstanceProfiles: iamOperation(false, ListInstanceProfilesRequest$, listInstanceProfiles),
  DeleteInstanceProfile: iamOperation(true, DeleteInstanceProfileRequest$, deleteInstanceProfile),
  AddRoleToInstanceProfile: iamOperation(true, AddRoleToInstanceProfileRequest$, addRoleToInstanceProfile),
  RemoveRoleFromInstanceProfile: iamOperation(true, RemoveRoleFromInstanceProfileRequest$, removeRoleFromInstanceProfile),
  ListInstanceProfilesForRole: iamOperation(false, ListInstanceProfilesForRoleRequest$, listInstanceProfilesForRole),
};
