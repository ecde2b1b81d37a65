/**
 * EC2 lookups the handlers share: a resource by id or name in a region, or the error EC2 answers when
 * it is not there. Below every handler file (images, key-pairs, network, security-groups,
 * launch-templates, instances), above records.ts and state.ts; Auto Scaling resolves its groups'
 * launch templates here too.
 */
import { ServiceError, type World } from '../../types.js';
import { checkIdFormat, inRegion, missing, notFound } from './common.js';
import { amisIn, type AmiRecord } from './ec2-data.js';
import type { InstanceRecord, KeyPairRecord, LaunchTemplateRecord, LaunchTemplateVersionRecord, SecurityGroupRecord, SubnetRecord, VpcRecord } from './records.js';
import { state } from './state.js';

// ---- Network ---------------------------------------------------------------------------------------

export function getVpc(world: World, region: string, vpcId: string): VpcRecord {
  const vpc = state(world).vpcs[vpcId];
  if (!vpc || vpc.region !== region) throw notFound('InvalidVpcID.NotFound', 'vpc ID', [vpcId]);
  return vpc;
}

export function getSubnet(world: World, region: string, subnetId: string): SubnetRecord {
  const subnet = state(world).subnets[subnetId];
  if (!subnet || subnet.region !== region) throw notFound('InvalidSubnetID.NotFound', 'subnet ID', [subnetId]);
  return subnet;
}

export function defaultVpc(world: World, region: string): VpcRecord | undefined {
  return inRegion(state(world).vpcs, region).find((v) => v.isDefault);
}

// ---- Security groups, key pairs, AMIs ------------------------------------------------------------

export function getSecurityGroup(world: World, region: string, groupId: string): SecurityGroupRecord {
  const group = state(world).securityGroups[groupId];
  if (!group || group.region !== region) {
    throw new ServiceError('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`, 400);
  }
  return group;
}

/** By GroupId, or by GroupName in the default VPC (as EC2 resolves names). */
export function groupFromParams(world: World, region: string, p: { GroupId?: string; GroupName?: string }): SecurityGroupRecord {
  if (p.GroupId) return getSecurityGroup(world, region, String(p.GroupId));
  if (p.GroupName) {
    const vpc = defaultVpc(world, region);
    const group = inRegion(state(world).securityGroups, region).find(
      (g) => g.groupName === p.GroupName && g.vpcId === vpc?.vpcId,
    );
    if (!group) {
      throw new ServiceError(
        'InvalidGroup.NotFound',
        `The security group '${p.GroupName}' does not exist in default VPC '${vpc?.vpcId ?? 'none'}'`,
        400,
      );
    }
    return group;
  }
  throw missing('GroupId');
}

export function keyPairByName(world: World, region: string, name: string): KeyPairRecord | undefined {
  return inRegion(state(world).keyPairs, region).find((k) => k.keyName === name);
}

export function findAmi(world: World, region: string, imageId: string): AmiRecord {
  checkIdFormat(imageId, 'ami', 'InvalidAMIID.Malformed');
  const ami = amisIn(world, region).find((a) => a.imageId === imageId);
  if (!ami) throw new ServiceError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`, 400);
  return ami;
}

// ---- Launch templates ------------------------------------------------------------------------------

export const TEMPLATE_ID_PATTERN = /^lt-[0-9a-f]{17}$/;

export const nameNotFound = (name: string) =>
  new ServiceError('InvalidLaunchTemplateName.NotFoundException', `The specified launch template, with template name ${name}, does not exist.`, 400);
export const someNotFound = () =>
  new ServiceError('InvalidLaunchTemplateName.NotFoundException', 'At least one of the launch templates specified in the request does not exist.', 400);
export const idNotFound = (id: string) =>
  new ServiceError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${id}, does not exist.`, 400);
export const malformedId = (id: string) =>
  new ServiceError('InvalidLaunchTemplateId.Malformed', `The specified ID for the launch template, ${id}, is not valid. The ID must be in the form lt-xxxxxxxxxxxxxxxxx.`, 400);
export const versionNotFound = (version: string, id: string) =>
  new ServiceError('InvalidLaunchTemplateId.VersionNotFound', `Could not find the specified version ${version} for the launch template with ID ${id}.`, 400);

/** The template a request names by LaunchTemplateId or LaunchTemplateName (exactly one). */
export function findTemplate(world: World, region: string, ref: { LaunchTemplateId?: string; LaunchTemplateName?: string }): LaunchTemplateRecord {
  const { LaunchTemplateId: id, LaunchTemplateName: name } = ref;
  if (id && name) {
    throw new ServiceError('InvalidParameterCombination', 'Either a launch template ID or a launch template name must be specified, but not both.', 400);
  }
  const templates = inRegion(state(world).launchTemplates, region);
  if (id) {
    if (!TEMPLATE_ID_PATTERN.test(id)) throw malformedId(id);
    const t = templates.find((x) => x.launchTemplateId === id);
    if (!t) throw idNotFound(id);
    return t;
  }
  if (name) {
    const t = templates.find((x) => x.launchTemplateName === name);
    if (!t) throw nameNotFound(name);
    return t;
  }
  throw missing('LaunchTemplateId or LaunchTemplateName');
}

/** Version '$Latest', '$Default' or a number (absent: the default version). */
export function resolveVersion(t: LaunchTemplateRecord, version: string | undefined): LaunchTemplateVersionRecord {
  const v = version === undefined || version === '' || version === '$Default' ? t.defaultVersion : version === '$Latest' ? t.latestVersion : Number(version);
  const record = Number.isInteger(v) ? t.versions[String(v)] : undefined;
  if (!record) throw versionNotFound(String(version), t.launchTemplateId);
  return record;
}

// ---- Instances -------------------------------------------------------------------------------------

export function lookupInstances(world: World, region: string, ids: string[]): InstanceRecord[] {
  for (const id of ids) checkIdFormat(id, 'i', 'InvalidInstanceID.Malformed');
  const missingIds = ids.filter((id) => state(world).instances[id]?.region !== region);
  if (missingIds.length) throw notFound('InvalidInstanceID.NotFound', 'instance ID', missingIds);
  return ids.map((id) => state(world).instances[id]);
}
