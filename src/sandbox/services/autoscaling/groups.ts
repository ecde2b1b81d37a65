/**
 * Auto Scaling groups: CreateAutoScalingGroup, DescribeAutoScalingGroups, UpdateAutoScalingGroup,
 * DeleteAutoScalingGroup. Their records and state are in model.ts; tick() (instances.ts) keeps each
 * group at its desired capacity.
 */
import { randomUUID } from 'node:crypto';
import {
  AutoScalingGroupNamesType$,
  CreateAutoScalingGroupType$,
  DeleteAutoScalingGroupType$,
  UpdateAutoScalingGroupType$,
  type AutoScalingGroup,
  type AutoScalingGroupNamesType,
  type AutoScalingGroupsType,
  type CreateAutoScalingGroupType,
  type DeleteAutoScalingGroupType,
  type LaunchTemplateSpecification,
  type UpdateAutoScalingGroupType,
} from '@aws-sdk/client-auto-scaling';
import { paginate } from '../../paginate.js';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import type { SubnetView } from '../../views.js';
import { queryDecoder } from '../ec2/codec.js';
import { findTemplate, resolveVersion } from '../ec2/lookups.js';
import { instanceProfileUsable } from '../iam.js';
import { seedRegion, state as ec2State } from '../ec2/state.js';
import { inProgress } from './activity-log.js';
import { instanceShape, terminateMember } from './members.js';
import { DELETE_IN_PROGRESS, asgState, causeTime, findGroup, isDeleting, notDeleting, validation, type AsgGroupRecord } from './model.js';
import { matchesTagFilters, tagsFromInput } from './tag-rules.js';

/** index.ts and the tests take the service's state and records from here. */
export { initState } from './model.js';
export type { AsgGroupRecord, AutoScalingState } from './model.js';

// ---- Parameters ------------------------------------------------------------------------------------

function checkSizes(min: number, max: number, desired: number): void {
  if (min < 0) throw validation(`Min size must be greater than or equal to 0`);
  if (max < min) throw validation(`Max bound, ${max}, must be greater than or equal to min bound, ${min}`);
  if (desired < min || desired > max) throw validation(`Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`);
}

/**
 * The template a group names, checked as Auto Scaling checks it (ValidationError with EC2's message).
 * Its instance profile must be one EC2 can use: a profile IAM has just created (or just given its role)
 * is refused while it propagates, as RunInstances refuses it (ec2/launch.ts). terraform-provider-aws
 * retries exactly this answer on CreateAutoScalingGroup ("ValidationError: You must use a valid
 * fully-formed launch template. Value (...) for parameter iamInstanceProfile.name is invalid. Invalid
 * IAM Instance Profile name": internal/service/autoscaling/group.go, resourceGroupCreate).
 */
function launchTemplateOf(world: World, region: string, spec: LaunchTemplateSpecification, now: number): AsgGroupRecord['launchTemplate'] {
  if (!spec.LaunchTemplateId && !spec.LaunchTemplateName) {
    throw validation('Valid requests must contain either launchTemplateId or LaunchTemplateName');
  }
  try {
    const t = findTemplate(world, region, spec);
    const v = resolveVersion(t, spec.Version ?? '$Default');
    if (!v.data.ImageId) throw validation('You must use a valid fully-formed launch template. The request must contain the parameter ImageId');
    const profile = v.data.IamInstanceProfile;
    const ref = profile?.Name ?? profile?.Arn;
    if (ref && !instanceProfileUsable(world, ref, now)) {
      throw validation(
        `You must use a valid fully-formed launch template. Value (${ref}) for parameter iamInstanceProfile.${profile?.Name ? 'name' : 'arn'} is invalid. Invalid IAM Instance Profile ${profile?.Name ? 'name' : 'ARN'}`,
      );
    }
    return { launchTemplateId: t.launchTemplateId, launchTemplateName: t.launchTemplateName, version: spec.Version ?? '$Default' };
  } catch (err) {
    if (err instanceof ServiceError && err.code !== 'ValidationError') throw validation(err.message);
    throw err;
  }
}

/** VPCZoneIdentifier (comma-separated subnets) or AvailabilityZones (their default subnets). */
function subnetsOf(world: World, region: string, vpcZoneIdentifier: string | undefined, zones: string[] | undefined): SubnetView[] {
  const subnets = Object.values(ec2State(world).subnets).filter((s) => s.region === region);
  if (vpcZoneIdentifier) {
    const ids = vpcZoneIdentifier.split(',').map((s) => s.trim()).filter(Boolean);
    const found = ids.map((id) => {
      const s = subnets.find((x) => x.subnetId === id);
      if (!s) throw validation(`The subnet ID '${id}' does not exist`);
      return s;
    });
    if (new Set(found.map((s) => s.vpcId)).size > 1) throw validation('The subnets must all be in the same VPC.');
    return found;
  }
  if (zones?.length) {
    return zones.map((z) => {
      const s = subnets.find((x) => x.availabilityZone === z && x.defaultForAz);
      if (!s) throw validation(`The availability zone ${z} is not legally formatted or has no default subnet`);
      return s;
    });
  }
  throw validation('At least one Availability Zone or VPC Subnet is required.');
}

function applySubnets(g: AsgGroupRecord, subnets: SubnetView[], vpcZoneIdentifier: string | undefined): void {
  g.subnetIds = subnets.map((s) => s.subnetId);
  g.availabilityZones = [...new Set(subnets.map((s) => s.availabilityZone))].sort();
  g.vpcZoneIdentifier = vpcZoneIdentifier ? g.subnetIds.join(',') : '';
}

// ---- Shapes ----------------------------------------------------------------------------------------

export function groupShape(g: AsgGroupRecord): AutoScalingGroup {
  return {
    AutoScalingGroupName: g.autoScalingGroupName,
    AutoScalingGroupARN: g.autoScalingGroupArn,
    LaunchTemplate: { LaunchTemplateId: g.launchTemplate.launchTemplateId, LaunchTemplateName: g.launchTemplate.launchTemplateName, Version: g.launchTemplate.version },
    MinSize: g.minSize,
    MaxSize: g.maxSize,
    DesiredCapacity: g.desiredCapacity,
    DefaultCooldown: g.defaultCooldown,
    AvailabilityZones: g.availabilityZones,
    LoadBalancerNames: [],
    TargetGroupARNs: g.targetGroupArns,
    HealthCheckType: g.healthCheckType,
    HealthCheckGracePeriod: g.healthCheckGracePeriod,
    Instances: g.instances.map(instanceShape),
    CreatedTime: new Date(g.createdTime),
    SuspendedProcesses: [],
    VPCZoneIdentifier: g.vpcZoneIdentifier,
    EnabledMetrics: [],
    Status: g.status,
    Tags: Object.entries(g.tags).map(([Key, Value]) => ({
      ResourceId: g.autoScalingGroupName,
      ResourceType: 'auto-scaling-group',
      Key,
      Value,
      PropagateAtLaunch: g.propagateAtLaunch[Key] ?? false,
    })),
    TerminationPolicies: g.terminationPolicies,
    NewInstancesProtectedFromScaleIn: g.newInstancesProtectedFromScaleIn,
    ServiceLinkedRoleARN: `arn:aws:iam::${g.autoScalingGroupArn.split(':')[4]}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
    MaxInstanceLifetime: g.maxInstanceLifetime,
    CapacityRebalance: g.capacityRebalance,
  };
}

// ---- Handlers --------------------------------------------------------------------------------------

function createAutoScalingGroup(input: CreateAutoScalingGroupType, { world, region, now }: Call): void {
  seedRegion(world, region);
  const name = input.AutoScalingGroupName;
  if (!name) throw validation("1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null");
  if (name.length > 255) throw validation(`1 validation error detected: Value '${name}' at 'autoScalingGroupName' failed to satisfy constraint: Member must have length less than or equal to 255`);
  const s = asgState(world);
  if (s.groups[`${region}/${name}`]) throw new ServiceError('AlreadyExists', `AutoScalingGroup by this name already exists - A group with the name ${name} already exists`, 400);
  const sources = [input.LaunchTemplate, input.LaunchConfigurationName, input.MixedInstancesPolicy, input.InstanceId].filter((x) => x !== undefined);
  if (sources.length !== 1) throw validation('Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.');
  if (!input.LaunchTemplate) throw validation('The sandbox supports Auto Scaling groups with a LaunchTemplate only.');
  if (input.MinSize === undefined) throw validation("1 validation error detected: Value null at 'minSize' failed to satisfy constraint: Member must not be null");
  if (input.MaxSize === undefined) throw validation("1 validation error detected: Value null at 'maxSize' failed to satisfy constraint: Member must not be null");
  const desired = input.DesiredCapacity ?? input.MinSize;
  checkSizes(input.MinSize, input.MaxSize, desired);
  const launchTemplate = launchTemplateOf(world, region, input.LaunchTemplate, now);
  const subnets = subnetsOf(world, region, input.VPCZoneIdentifier, input.AvailabilityZones);
  const healthCheckType = input.HealthCheckType ?? 'EC2';
  if (!['EC2', 'ELB', 'VPC_LATTICE', 'EBS'].includes(healthCheckType)) throw validation(`Invalid health check type: ${healthCheckType}`);
  const { tags, propagate } = tagsFromInput(input.Tags ?? [], name);
  const g: AsgGroupRecord = {
    autoScalingGroupName: name,
    autoScalingGroupArn: `arn:aws:autoscaling:${region}:${world.settings.accountId}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${name}`,
    region,
    minSize: input.MinSize,
    maxSize: input.MaxSize,
    desiredCapacity: desired,
    newInstancesProtectedFromScaleIn: input.NewInstancesProtectedFromScaleIn ?? false,
    instances: [],
    tags,
    propagateAtLaunch: propagate,
    createdTime: now,
    launchTemplate,
    vpcZoneIdentifier: '',
    subnetIds: [],
    availabilityZones: [],
    healthCheckType,
    healthCheckGracePeriod: input.HealthCheckGracePeriod ?? (healthCheckType === 'EC2' ? 0 : 300),
    defaultCooldown: input.DefaultCooldown ?? 300,
    terminationPolicies: input.TerminationPolicies?.length ? input.TerminationPolicies : ['Default'],
    targetGroupArns: input.TargetGroupARNs ?? [],
    capacityRebalance: input.CapacityRebalance ?? false,
    maxInstanceLifetime: input.MaxInstanceLifetime,
    capacityCause: `At ${causeTime(now)} a user request created an AutoScalingGroup changing the desired capacity from 0 to ${desired}.`,
  };
  applySubnets(g, subnets, input.VPCZoneIdentifier);
  s.groups[`${region}/${name}`] = g;
}

function describeAutoScalingGroups(input: AutoScalingGroupNamesType, { world, region }: Call): AutoScalingGroupsType {
  const max = input.MaxRecords;
  if (max !== undefined && (max < 1 || max > 100)) {
    throw validation(`1 validation error detected: Value '${max}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100`);
  }
  const names = input.AutoScalingGroupNames ?? [];
  const groups = Object.values(asgState(world).groups)
    .filter((g) => g.region === region && (!names.length || names.includes(g.autoScalingGroupName)))
    .filter((g) => matchesTagFilters(g, input.Filters))
    .sort((a, b) => a.autoScalingGroupName.localeCompare(b.autoScalingGroupName));
  const page = paginate(groups, {
    maxResults: max,
    nextToken: input.NextToken,
    defaultPageSize: 50,
    settings: world.settings,
    invalidToken: () => new ServiceError('InvalidNextToken', 'The token provided is invalid.', 400),
  });
  return { AutoScalingGroups: page.items.map(groupShape), NextToken: page.nextToken };
}

function updateAutoScalingGroup(input: UpdateAutoScalingGroupType, { world, region, now }: Call): void {
  const g = notDeleting(findGroup(world, region, input.AutoScalingGroupName));
  const min = input.MinSize ?? g.minSize;
  const max = input.MaxSize ?? g.maxSize;
  // Like Auto Scaling, a new min or max the desired capacity falls outside of moves the desired capacity with it.
  let desired = input.DesiredCapacity ?? g.desiredCapacity;
  if (input.DesiredCapacity === undefined) desired = Math.min(Math.max(desired, min), max);
  checkSizes(min, max, desired);
  const launchTemplate = input.LaunchTemplate ? launchTemplateOf(world, region, input.LaunchTemplate, now) : undefined;
  const subnets = input.VPCZoneIdentifier || input.AvailabilityZones?.length ? subnetsOf(world, region, input.VPCZoneIdentifier, input.AvailabilityZones) : undefined;
  if (desired !== g.desiredCapacity) {
    g.capacityCause = `At ${causeTime(now)} a user request update of AutoScalingGroup constraints to min: ${min}, max: ${max}, desired: ${desired} changing the desired capacity from ${g.desiredCapacity} to ${desired}.`;
  }
  g.minSize = min;
  g.maxSize = max;
  g.desiredCapacity = desired;
  if (launchTemplate) g.launchTemplate = launchTemplate;
  if (subnets) applySubnets(g, subnets, input.VPCZoneIdentifier);
  if (input.HealthCheckType) g.healthCheckType = input.HealthCheckType;
  if (input.HealthCheckGracePeriod !== undefined) g.healthCheckGracePeriod = input.HealthCheckGracePeriod;
  if (input.DefaultCooldown !== undefined) g.defaultCooldown = input.DefaultCooldown;
  if (input.NewInstancesProtectedFromScaleIn !== undefined) g.newInstancesProtectedFromScaleIn = input.NewInstancesProtectedFromScaleIn;
  if (input.TerminationPolicies?.length) g.terminationPolicies = input.TerminationPolicies;
  if (input.CapacityRebalance !== undefined) g.capacityRebalance = input.CapacityRebalance;
  if (input.MaxInstanceLifetime !== undefined) g.maxInstanceLifetime = input.MaxInstanceLifetime;
  delete g.lastLaunchFailureAt;
}

function deleteAutoScalingGroup(input: DeleteAutoScalingGroupType, { world, region, now }: Call): void {
  const g = findGroup(world, region, input.AutoScalingGroupName);
  const s = asgState(world);
  if (!input.ForceDelete) {
    if (inProgress(world, region, g.autoScalingGroupName).length || isDeleting(g)) {
      throw new ServiceError('ScalingActivityInProgress', 'You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.', 400);
    }
    if (g.instances.length) {
      throw new ServiceError('ResourceInUse', 'You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.', 400);
    }
    delete s.groups[`${region}/${g.autoScalingGroupName}`];
    return;
  }
  // ForceDelete: every instance is terminated (protection notwithstanding); the group goes once they are.
  g.status = DELETE_IN_PROGRESS;
  g.minSize = 0;
  g.maxSize = 0;
  g.desiredCapacity = 0;
  g.capacityCause = `At ${causeTime(now)} a user request deleted the AutoScalingGroup changing the desired capacity from ${g.instances.length} to 0.`;
  for (const m of g.instances) terminateMember(world, g, m, now, `${g.capacityCause}  At ${causeTime(now)} an instance was taken out of service in response to a user request to delete the group.`);
  if (!g.instances.length) delete s.groups[`${region}/${g.autoScalingGroupName}`];
}

export const operations: Record<string, Operation> = {
  CreateAutoScalingGroup: typedOperation<CreateAutoScalingGroupType, void>({
    mutating: true,
    decode: queryDecoder(CreateAutoScalingGroupType$),
    handler: createAutoScalingGroup,
  }),
  DescribeAutoScalingGroups: typedOperation<AutoScalingGroupNamesType, AutoScalingGroupsType>({
    mutating: false,
    decode: queryDecoder(AutoScalingGroupNamesType$),
    handler: describeAutoScalingGroups,
  }),
  UpdateAutoScalingGroup: typedOperation<UpdateAutoScalingGroupType, void>({
    mutating: true,
    decode: queryDecoder(UpdateAutoScalingGroupType$),
    handler: updateAutoScalingGroup,
  }),
  DeleteAutoScalingGroup: typedOperation<DeleteAutoScalingGroupType, void>({
    mutating: true,
    decode: queryDecoder(DeleteAutoScalingGroupType$),
    handler: deleteAutoScalingGroup,
  }),
};

