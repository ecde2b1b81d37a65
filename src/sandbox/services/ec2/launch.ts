/**
 * Launching EC2 instances: RunInstances' validation (planLaunch, in EC2's order), a launch template's
 * data merged under the request's own parameters (withTemplate), placement and capacity
 * (ec2-offerings.ts), and the records a launch writes (launch). Auto Scaling launches and terminates
 * its members through launchFromTemplate() and terminateInstance(). Below the handlers (instances.ts,
 * instance-attributes.ts); above lookups.ts, records.ts and state.ts.
 */
import { createHash } from 'node:crypto';
import {
  RunInstancesRequest$,
  type BlockDeviceMapping,
  type EbsBlockDevice,
  type InstanceMetadataOptionsRequest,
  type InstanceNetworkInterfaceSpecification,
  type LaunchTemplateSpecification,
  type RequestLaunchTemplateData,
  type RunInstancesRequest,
} from '@aws-sdk/client-ec2';
import { ServiceError, type Ec2InstanceRecord, type World } from '../../types.js';
import { findInstanceProfile, instanceProfileUsable } from '../iam.js';
import { bool, int, type TagMap } from '../util.js';
import { ec2Decoder, ec2NestedDecoder, ec2Params } from './codec.js';
import { inRegion, invalidValue, missing, requiredParam, sdkTagSpecifications, strings } from './common.js';
import { INSTANCE_TYPES, architectureOf, type AmiRecord } from './ec2-data.js';
import { checkPlacement, launchCredits, useCapacity } from './ec2-offerings.js';
import { defaultVpc, findAmi, findTemplate, getSubnet, keyPairByName, resolveVersion } from './lookups.js';
import type { InstanceRecord, ReservationRecord, SecurityGroupRecord, SubnetRecord, VolumeRecord } from './records.js';
import { MAX_INSTANCES_PER_REQUEST, VOLUME_TYPES, seedRegion, state } from './state.js';

export function privateIp(subnet: SubnetRecord): string {
  const [base, prefix] = subnet.cidrBlock.split('/');
  const start = base.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(prefix));
  const host = subnet.nextHost;
  subnet.nextHost = host + 1 >= size - 1 ? 4 : host + 1;
  const n = start + host;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function decodeUserData(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  const text = String(value).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw invalidValue('Invalid BASE64 encoding of user data.');
  }
  const decoded = Buffer.from(text, 'base64');
  if (decoded.length > 16384) throw invalidValue('User data is limited to 16384 bytes');
  return decoded.toString('utf8');
}

export interface LaunchPlan {
  ami: AmiRecord;
  instanceType: string;
  count: number;
  keyName?: string;
  subnet: SubnetRecord;
  securityGroups: SecurityGroupRecord[];
  userData?: string;
  profile?: { arn: string; name: string; id: string };
  metadataOptions: InstanceRecord['metadataOptions'];
  volumes: { deviceName: string; size: number; volumeType: string; encrypted: boolean; iops?: number; throughput?: number; deleteOnTermination: boolean; snapshotId?: string }[];
  wantsPublicIp: boolean;
  tags: Record<string, TagMap>;
  disableApiTermination: boolean;
}

/** Validates a RunInstances request the way EC2 does, in roughly the same order. */
export function planLaunch(req: { region: string; now: number }, world: World, p: RunInstancesRequest): LaunchPlan {
  const region = req.region;
  const minCount = int(requiredParam(p.MinCount, 'MinCount'))!;
  const maxCount = int(requiredParam(p.MaxCount, 'MaxCount'))!;
  if (!Number.isInteger(minCount) || minCount < 1) throw invalidValue(`Value (${p.MinCount}) for parameter minCount is invalid. Expected a positive integer.`);
  if (!Number.isInteger(maxCount) || maxCount < 1) throw invalidValue(`Value (${p.MaxCount}) for parameter maxCount is invalid. Expected a positive integer.`);
  if (minCount > maxCount) throw invalidValue('Minimum count cannot be greater than maximum count.');

  const ami = findAmi(world, region, requiredParam(p.ImageId, 'ImageId'));
  const instanceType = p.InstanceType ? String(p.InstanceType) : 'm1.small';
  if (!INSTANCE_TYPES.has(instanceType)) throw invalidValue(`Invalid value '${instanceType}' for InstanceType.`);
  const typeArch = architectureOf(instanceType);
  if (typeArch !== ami.architecture) {
    throw invalidValue(
      `The architecture '${typeArch}' of the specified instance type does not match the architecture '${ami.architecture}' of the specified AMI. ` +
        `Specify an instance type and an AMI that have matching architectures, and try again. ` +
        `You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.`,
    );
  }
  if (minCount > MAX_INSTANCES_PER_REQUEST) {
    throw new ServiceError(
      'InstanceLimitExceeded',
      `You have requested more instances (${minCount}) than your current instance limit of ${MAX_INSTANCES_PER_REQUEST} allows for the specified instance type. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`,
      400,
    );
  }
  const count = Math.min(maxCount, MAX_INSTANCES_PER_REQUEST);

  const keyName = p.KeyName ? String(p.KeyName) : undefined;
  if (keyName && !keyPairByName(world, region, keyName)) {
    throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`, 400);
  }

  // Network: SubnetId (or NetworkInterface.1.SubnetId), else the default subnet of the first AZ.
  const nic: InstanceNetworkInterfaceSpecification = p.NetworkInterfaces?.[0] ?? {};
  const subnetId = p.SubnetId ?? nic.SubnetId;
  let subnet: SubnetRecord;
  if (subnetId) {
    subnet = getSubnet(world, region, String(subnetId));
  } else {
    const vpc = defaultVpc(world, region);
    const candidates = inRegion(state(world).subnets, region).filter((s) => s.vpcId === vpc?.vpcId && s.defaultForAz);
    if (!vpc || candidates.length === 0) {
      throw new ServiceError('VPCIdNotSpecified', 'No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.', 400);
    }
    subnet = candidates.sort((a, b) => a.availabilityZone.localeCompare(b.availabilityZone))[0];
  }

  const groupIds = [...strings(p.SecurityGroupIds), ...strings(nic.Groups)];
  const groupNames = strings(p.SecurityGroups);
  const groups: SecurityGroupRecord[] = [];
  for (const id of groupIds) {
    const group = state(world).securityGroups[id];
    if (!group || group.region !== region) {
      throw new ServiceError('InvalidGroup.NotFound', `The security group '${id}' does not exist in VPC '${subnet.vpcId}'`, 400);
    }
    groups.push(group);
  }
  for (const name of groupNames) {
    const group = inRegion(state(world).securityGroups, region).find((g) => g.groupName === name && g.vpcId === subnet.vpcId);
    if (!group) {
      throw new ServiceError('InvalidGroup.NotFound', `The security group '${name}' does not exist in VPC '${subnet.vpcId}'`, 400);
    }
    groups.push(group);
  }
  for (const group of groups) {
    if (group.vpcId !== subnet.vpcId) {
      throw new ServiceError(
        'InvalidParameter',
        `Security group ${group.groupId} and subnet ${subnet.subnetId} belong to different networks.`,
        400,
      );
    }
  }
  if (groups.length === 0) {
    const fallback = inRegion(state(world).securityGroups, region).find((g) => g.vpcId === subnet.vpcId && g.groupName === 'default');
    if (fallback) groups.push(fallback);
  }

  const userData = decodeUserData(p.UserData);

  let profile: LaunchPlan['profile'];
  if (p.IamInstanceProfile && (p.IamInstanceProfile.Name || p.IamInstanceProfile.Arn)) {
    const byArn = !p.IamInstanceProfile.Name;
    const ref = String(p.IamInstanceProfile.Name ?? p.IamInstanceProfile.Arn);
    const found = findInstanceProfile(world, ref);
    // A profile IAM has not yet propagated to EC2 is indistinguishable from one that does not exist.
    if (!found || !instanceProfileUsable(world, ref, req.now)) {
      throw invalidValue(
        byArn
          ? `Value (${ref}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN`
          : `Value (${ref}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`,
      );
    }
    profile = { arn: found.arn, name: found.instanceProfileName, id: found.instanceProfileId };
  }

  const mo: InstanceMetadataOptionsRequest = p.MetadataOptions ?? {};
  const httpTokens: string = mo.HttpTokens ?? 'required'; // AL2023 AMIs are ImdsSupport v2.0: IMDSv2 by default
  if (!['optional', 'required'].includes(httpTokens)) throw invalidValue(`Invalid value '${httpTokens}' for HttpTokens.`);
  const hopLimit = int(mo.HttpPutResponseHopLimit) ?? 2;
  if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > 64) {
    throw invalidValue(`The HttpPutResponseHopLimit '${mo.HttpPutResponseHopLimit}' is invalid. Specify a value between 1 and 64.`);
  }
  const httpEndpoint: string = mo.HttpEndpoint ?? 'enabled';
  if (!['enabled', 'disabled'].includes(httpEndpoint)) throw invalidValue(`Invalid value '${httpEndpoint}' for HttpEndpoint.`);
  const instanceMetadataTags: string = mo.InstanceMetadataTags ?? 'disabled';
  if (!['enabled', 'disabled'].includes(instanceMetadataTags)) {
    throw invalidValue(`Invalid value '${instanceMetadataTags}' for InstanceMetadataTags.`);
  }

  const volumes = planVolumes(ami, p.BlockDeviceMappings ?? []);
  const tags = sdkTagSpecifications(p.TagSpecifications, ['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu']);
  const associate = bool(nic.AssociatePublicIpAddress);

  return {
    ami,
    instanceType,
    count,
    keyName,
    subnet,
    securityGroups: groups,
    userData,
    profile,
    metadataOptions: { httpTokens, httpPutResponseHopLimit: hopLimit, httpEndpoint, instanceMetadataTags },
    volumes,
    wantsPublicIp: associate ?? subnet.mapPublicIpOnLaunch,
    tags,
    disableApiTermination: bool(p.DisableApiTermination) ?? false,
  };
}

export function planVolumes(ami: AmiRecord, mappings: BlockDeviceMapping[]): LaunchPlan['volumes'] {
  const root = {
    deviceName: '/dev/xvda',
    size: ami.rootVolumeSize,
    volumeType: 'gp3',
    encrypted: false,
    iops: 3000 as number | undefined,
    throughput: 125 as number | undefined,
    deleteOnTermination: true,
    snapshotId: ami.snapshotId as string | undefined,
  };
  const volumes = [root];
  for (const m of mappings) {
    if (!m) continue;
    const deviceName = requiredParam(m.DeviceName, 'BlockDeviceMapping.DeviceName');
    if (m.NoDevice !== undefined || m.VirtualName) continue;
    const ebs: EbsBlockDevice = m.Ebs ?? {};
    const target = deviceName === root.deviceName ? root : { ...root, deviceName, size: 0, snapshotId: undefined };
    const size = int(ebs.VolumeSize);
    const volumeType: string = ebs.VolumeType ?? target.volumeType;
    if (!VOLUME_TYPES.includes(volumeType)) throw invalidValue(`Value (${volumeType}) for parameter volumeType is invalid.`);
    if (size !== undefined) {
      if (!Number.isInteger(size) || size < 1 || size > 16384) {
        throw invalidValue(`Volume size ${ebs.VolumeSize} is out of range for volume type ${volumeType}.`);
      }
      if (target === root && size < ami.rootVolumeSize) {
        throw new ServiceError(
          'InvalidBlockDeviceMapping',
          `Volume of size ${size}GB is smaller than snapshot '${ami.snapshotId}', expect size >= ${ami.rootVolumeSize}GB`,
          400,
        );
      }
      target.size = size;
    }
    if (target !== root && !target.size) throw missing('BlockDeviceMapping.Ebs.VolumeSize');
    target.volumeType = volumeType;
    target.encrypted = bool(ebs.Encrypted) ?? target.encrypted;
    target.deleteOnTermination = bool(ebs.DeleteOnTermination) ?? target.deleteOnTermination;
    target.iops = int(ebs.Iops) ?? (volumeType === 'gp3' ? 3000 : undefined);
    target.throughput = int(ebs.Throughput) ?? (volumeType === 'gp3' ? 125 : undefined);
    if (target !== root) volumes.push(target);
  }
  return volumes;
}

/** The fingerprint ClientToken idempotency compares: every parameter except the token itself. */
export function requestHash(params: Record<string, string>): string {
  const entries = Object.entries(params)
    .filter(([k]) => k !== 'ClientToken' && k !== 'DryRun')
    .sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

/**
 * RunInstances with LaunchTemplate: the version's data as parameters, with every parameter the
 * request names replacing the template's (tag specifications are merged, the request's tags winning),
 * as EC2 documents. Instances launched from a template carry aws:ec2launchtemplate:id and :version.
 */
export function withTemplate(world: World, region: string, spec: LaunchTemplateSpecification, request: RunInstancesRequest): { params: RunInstancesRequest; tags: TagMap } {
  if (!spec.LaunchTemplateId && !spec.LaunchTemplateName) {
    throw missing('LaunchTemplate.LaunchTemplateId or LaunchTemplate.LaunchTemplateName');
  }
  const t = findTemplate(world, region, { LaunchTemplateId: spec.LaunchTemplateId, LaunchTemplateName: spec.LaunchTemplateName });
  const v = resolveVersion(t, spec.Version === undefined ? undefined : String(spec.Version));
  const base = templateRequest(v.data);
  const params: RunInstancesRequest = { ...base, ...request };
  delete params.LaunchTemplate;
  if (base.TagSpecifications && request.TagSpecifications) params.TagSpecifications = [...base.TagSpecifications, ...request.TagSpecifications];
  // A subnet or groups named by the request replace the template's network interface's.
  const nic = params.NetworkInterfaces?.[0];
  if (nic && (request.SubnetId || request.SecurityGroupIds) && !request.NetworkInterfaces) {
    params.NetworkInterfaces = [{ ...nic, SubnetId: request.SubnetId ?? nic.SubnetId, Groups: request.SecurityGroupIds ?? nic.Groups }];
    delete params.SubnetId;
    delete params.SecurityGroupIds;
  }
  return {
    params,
    tags: { 'aws:ec2launchtemplate:id': t.launchTemplateId, 'aws:ec2launchtemplate:version': String(v.versionNumber) },
  };
}

/** What Auto Scaling asks EC2 for: one instance of a template version in a subnet. */
export interface TemplateLaunch {
  region: string;
  now: number;
  launchTemplateId?: string;
  launchTemplateName?: string;
  /** '$Latest', '$Default' or a version number; absent: the default version. */
  version?: string;
  subnetId: string;
  /** Set on the instance as they are (Auto Scaling's aws:autoscaling:groupName and propagated tags). */
  tags?: TagMap;
}

/**
 * Launch one instance from a launch template into a subnet, with the same validation, placement
 * and capacity checks (ec2-offerings.ts: settings.capacity, settings.notOffered) and IAM
 * propagation check as RunInstances. Throws the ServiceError RunInstances would answer with.
 */
export function launchFromTemplate(world: World, launchSpec: TemplateLaunch): Ec2InstanceRecord & { availabilityZone: string } {
  seedRegion(world, launchSpec.region);
  const { params, tags } = withTemplate(
    world,
    launchSpec.region,
    { LaunchTemplateId: launchSpec.launchTemplateId, LaunchTemplateName: launchSpec.launchTemplateName, Version: launchSpec.version },
    { MinCount: 1, MaxCount: 1, SubnetId: launchSpec.subnetId },
  );
  const reservation = launch(world, { region: launchSpec.region, now: launchSpec.now }, params, { extraInstanceTags: { ...tags, ...(launchSpec.tags ?? {}) } });
  return state(world).instances[reservation.instanceIds[0]!]!;
}

/**
 * Terminate an instance as TerminateInstances would (pending/running/stopping/stopped ->
 * shutting-down); `reason` becomes its stateTransitionReason. Returns false if it was already gone.
 */
export function terminateInstance(world: World, region: string, instanceId: string, now: number, reason?: string): boolean {
  const inst = state(world).instances[instanceId];
  if (!inst || inst.region !== region) return false;
  if (inst.state === 'shutting-down' || inst.state === 'terminated') return false;
  inst.state = 'shutting-down';
  inst.stateChangedAt = now;
  inst.stateTransitionReason = reason ?? userInitiated(now);
  return true;
}

/** "User initiated (2026-11-25 12:00:00 GMT)", as EC2 writes stateTransitionReason. */
export function userInitiated(now: number): string {
  return `User initiated (${new Date(now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' GMT')})`;
}

export interface LaunchOptions {
  clientToken?: string;
  requestHash?: string;
  /** Called once the request is valid, before placement (RunInstances' DryRun). */
  dryRun?: () => void;
  /** Tags set on every instance after validation (Auto Scaling's aws:autoscaling:groupName). */
  extraInstanceTags?: TagMap;
}

/** Validates and launches what a RunInstances request describes. */
export function launch(world: World, at: { region: string; now: number }, p: RunInstancesRequest, opts: LaunchOptions = {}): ReservationRecord {
  const s = state(world);
  const plan = planLaunch(at, world, p);
  const cpuCredits = launchCredits(plan.instanceType, p);
  opts.dryRun?.();
  // Placement (ec2-offerings.ts): the zone must offer the type and have capacity left.
  checkPlacement(world, at.region, plan.instanceType, plan.subnet.availabilityZone, plan.count);

  const reservation: ReservationRecord = {
    reservationId: world.nextId('r-'),
    region: at.region,
    instanceIds: [],
    clientToken: opts.clientToken,
    requestHash: opts.requestHash,
  };
  const clientToken = opts.clientToken;
  const req = at;
  for (let index = 0; index < plan.count; index++) {
    const instanceId = world.nextId('i-');
    const blockDevices = plan.volumes.map((v) => {
      const volume: VolumeRecord = {
        volumeId: world.nextId('vol-'),
        region: req.region,
        size: v.size,
        volumeType: v.volumeType,
        encrypted: v.encrypted,
        iops: v.iops,
        throughput: v.throughput,
        snapshotId: v.snapshotId,
        availabilityZone: plan.subnet.availabilityZone,
        createTime: req.now,
        instanceId,
        deviceName: v.deviceName,
        deleteOnTermination: v.deleteOnTermination,
        state: 'in-use',
        tags: { ...(plan.tags.volume ?? {}) },
      };
      s.volumes[volume.volumeId] = volume;
      return { deviceName: v.deviceName, volumeId: volume.volumeId, deleteOnTermination: v.deleteOnTermination };
    });
    const instance: InstanceRecord = {
      instanceId,
      imageId: plan.ami.imageId,
      instanceType: plan.instanceType,
      state: 'pending',
      launchTime: req.now,
      stateChangedAt: req.now,
      userData: plan.userData,
      iamInstanceProfile: plan.profile ? { arn: plan.profile.arn, name: plan.profile.name } : undefined,
      iamInstanceProfileId: plan.profile?.id,
      privateIpAddress: privateIp(plan.subnet),
      subnetId: plan.subnet.subnetId,
      vpcId: plan.subnet.vpcId,
      securityGroupIds: plan.securityGroups.map((g) => g.groupId),
      tags: { ...(plan.tags.instance ?? {}), ...(opts.extraInstanceTags ?? {}) },
      region: req.region,
      reservationId: reservation.reservationId,
      amiLaunchIndex: index,
      keyName: plan.keyName,
      availabilityZone: plan.subnet.availabilityZone,
      architecture: plan.ami.architecture,
      clientToken,
      metadataOptions: plan.metadataOptions,
      blockDevices,
      disableApiTermination: plan.disableApiTermination,
      ...(bool(p.DisableApiStop) ? { disableApiStop: true } : {}),
      ...(bool(p.EbsOptimized) ? { ebsOptimized: true } : {}),
      ...(p.InstanceInitiatedShutdownBehavior === 'terminate' ? { instanceInitiatedShutdownBehavior: 'terminate' as const } : {}),
      wantsPublicIp: plan.wantsPublicIp,
      ...(cpuCredits ? { cpuCredits } : {}),
    };
    s.instances[instanceId] = instance;
    reservation.instanceIds.push(instanceId);
  }
  s.reservations[reservation.reservationId] = reservation;
  useCapacity(world, plan.subnet.availabilityZone, plan.count);
  return reservation;
}


/**
 * A template version's data as a RunInstances request: the members RunInstances has, read through
 * the SDK's RunInstancesRequest schema (as EC2 would receive them on the wire), for RunInstances and
 * Auto Scaling to merge their own parameters over.
 */
export function templateRequest(data: RequestLaunchTemplateData): RunInstancesRequest {
  return ec2NestedDecoder<RunInstancesRequest>(RunInstancesRequest$)(ec2Params(RunInstancesRequest$, data));
}

/** The wire's RunInstances parameters as the SDK's request (codec.ts). */
export const runInstancesRequest = ec2Decoder<RunInstancesRequest>(RunInstancesRequest$);
