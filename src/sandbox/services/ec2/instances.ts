/** EC2 instances (RunInstances, Describe/Terminate/Stop/Start), their volumes and reservations. */
import { createHash } from 'node:crypto';
import {
  DescribeInstanceCreditSpecificationsRequest$,
  DescribeInstanceCreditSpecificationsResult$,
  DescribeVolumesRequest$,
  ModifyInstanceCreditSpecificationRequest$,
  ModifyInstanceCreditSpecificationResult$,
  type DescribeInstanceCreditSpecificationsRequest,
  type DescribeInstanceCreditSpecificationsResult,
  type ModifyInstanceCreditSpecificationRequest,
  type ModifyInstanceCreditSpecificationResult,
  DescribeVolumesResult$,
  StartInstancesRequest$,
  StartInstancesResult$,
  StopInstancesRequest$,
  StopInstancesResult$,
  TerminateInstancesRequest$,
  TerminateInstancesResult$,
  type DescribeVolumesRequest,
  type DescribeVolumesResult,
  type InstanceStateChange,
  type StartInstancesRequest,
  type StartInstancesResult,
  type StopInstancesRequest,
  type StopInstancesResult,
  type TerminateInstancesRequest,
  type TerminateInstancesResult,
  type VolumeType,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { unflatten } from '../../protocols/query.js';
import { ServiceError, type Ec2InstanceRecord, type Operation, type SandboxRequest, type World } from '../../types.js';
import { findInstanceProfile, instanceProfileUsable } from '../iam.js';
import { bool, int, list, type TagMap } from '../util.js';
import { applyFilters, checkIdFormat, dryRun, filterItems, inRegion, invalidValue, missing, notFound, page, pageOf, requiredParam, sdkTags, strings, tagSet, tagSpecifications } from './common.js';
import { INSTANCE_TYPES, architectureOf, type AmiRecord } from './ec2-data.js';
import { checkPlacement, describeInstanceCreditSpecifications, launchCredits, modifyInstanceCreditSpecification, useCapacity } from './ec2-offerings.js';
import { findAmi } from './images.js';
import { findTemplate, launchParams, resolveVersion } from './launch-templates.js';
import { keyPairByName } from './key-pairs.js';
import { defaultVpc, getSubnet, type SubnetRecord } from './network.js';
import type { SecurityGroupRecord } from './security-groups.js';
import { MAX_INSTANCES_PER_REQUEST, STATE_CODES, VOLUME_TYPES, regional, seedRegion, seeded, state } from './state.js';

export interface VolumeRecord {
  volumeId: string;
  region: string;
  size: number;
  volumeType: string;
  encrypted: boolean;
  iops?: number;
  throughput?: number;
  snapshotId?: string;
  availabilityZone: string;
  createTime: number;
  instanceId?: string;
  deviceName?: string;
  deleteOnTermination: boolean;
  state: 'in-use' | 'available';
  tags: TagMap;
}

/** The agreed record (../types.ts) plus what DescribeInstances needs. */
export interface InstanceRecord extends Ec2InstanceRecord {
  region: string;
  reservationId: string;
  amiLaunchIndex: number;
  keyName?: string;
  availabilityZone: string;
  architecture: string;
  clientToken?: string;
  /** IAM instance profile id, for DescribeInstances' iamInstanceProfile.id. */
  iamInstanceProfileId?: string;
  metadataOptions: { httpTokens: string; httpPutResponseHopLimit: number; httpEndpoint: string; instanceMetadataTags: string };
  /** Root and extra EBS volumes, by device name. */
  blockDevices: { deviceName: string; volumeId: string; deleteOnTermination: boolean }[];
  disableApiTermination: boolean;
  /** Set by TerminateInstances: "User initiated (2026-11-25 12:00:00 GMT)". */
  stateTransitionReason?: string;
  /** Whether the instance gets a public IP when it is running (subnet setting or AssociatePublicIpAddress). */
  wantsPublicIp: boolean;
  /** Burstable types: the CPU credit option (CreditSpecification, else the family's default). */
  cpuCredits?: 'standard' | 'unlimited';
  /** Attributes RunInstances or ModifyInstanceAttribute set (instance-attributes.ts); absent = EC2's default. */
  sourceDestCheck?: boolean;
  instanceInitiatedShutdownBehavior?: 'stop' | 'terminate';
  disableApiStop?: boolean;
  ebsOptimized?: boolean;
}

export interface ReservationRecord {
  reservationId: string;
  region: string;
  instanceIds: string[];
  clientToken?: string;
  /** Fingerprint of the request parameters, for ClientToken idempotency. */
  requestHash?: string;
}

export function privateIp(subnet: SubnetRecord): string {
  const [base, prefix] = subnet.cidrBlock.split('/');
  const start = base.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(prefix));
  const host = subnet.nextHost;
  subnet.nextHost = host + 1 >= size - 1 ? 4 : host + 1;
  const n = start + host;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function dnsNames(region: string, inst: { privateIpAddress: string; publicIpAddress?: string }) {
  const internal = region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
  const external = region === 'us-east-1' ? 'compute-1.amazonaws.com' : `${region}.compute.amazonaws.com`;
  return {
    privateDnsName: `ip-${inst.privateIpAddress.replace(/\./g, '-')}.${internal}`,
    dnsName: inst.publicIpAddress ? `ec2-${inst.publicIpAddress.replace(/\./g, '-')}.${external}` : '',
  };
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
export function planLaunch(req: { region: string; now: number }, world: World, p: Record<string, any>): LaunchPlan {
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
  const nic = list(p.NetworkInterface)[0] ?? {};
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

  const groupIds = [...strings(p.SecurityGroupId), ...strings(nic.SecurityGroupId)];
  const groupNames = strings(p.SecurityGroup);
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

  const mo = p.MetadataOptions ?? {};
  const httpTokens = mo.HttpTokens ?? 'required'; // AL2023 AMIs are ImdsSupport v2.0: IMDSv2 by default
  if (!['optional', 'required'].includes(httpTokens)) throw invalidValue(`Invalid value '${httpTokens}' for HttpTokens.`);
  const hopLimit = int(mo.HttpPutResponseHopLimit) ?? 2;
  if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > 64) {
    throw invalidValue(`The HttpPutResponseHopLimit '${mo.HttpPutResponseHopLimit}' is invalid. Specify a value between 1 and 64.`);
  }
  const httpEndpoint = mo.HttpEndpoint ?? 'enabled';
  if (!['enabled', 'disabled'].includes(httpEndpoint)) throw invalidValue(`Invalid value '${httpEndpoint}' for HttpEndpoint.`);
  const instanceMetadataTags = mo.InstanceMetadataTags ?? 'disabled';
  if (!['enabled', 'disabled'].includes(instanceMetadataTags)) {
    throw invalidValue(`Invalid value '${instanceMetadataTags}' for InstanceMetadataTags.`);
  }

  const volumes = planVolumes(ami, list(p.BlockDeviceMapping));
  const tags = tagSpecifications(p, ['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu']);
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

export function planVolumes(ami: AmiRecord, mappings: any[]): LaunchPlan['volumes'] {
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
    const ebs = m.Ebs ?? {};
    const target = deviceName === root.deviceName ? root : { ...root, deviceName, size: 0, snapshotId: undefined };
    const size = int(ebs.VolumeSize);
    const volumeType = ebs.VolumeType ?? target.volumeType;
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
export function requestHash(params: Record<string, any>): string {
  const entries = Object.entries(params)
    .filter(([k]) => k !== 'ClientToken' && k !== 'DryRun')
    .sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

export function runInstances(req: SandboxRequest, world: World) {
  const raw = unflatten(req.params);
  const s = state(world);
  const clientToken = raw.ClientToken ? String(raw.ClientToken) : undefined;
  if (clientToken) {
    if (clientToken.length > 64) throw invalidValue('The client token must be 64 characters or less.');
    const previous = inRegion(s.reservations, req.region).find((r) => r.clientToken === clientToken);
    if (previous) {
      if (previous.requestHash !== requestHash(req.params)) {
        throw new ServiceError(
          'IdempotentParameterMismatch',
          'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).',
          400,
        );
      }
      return reservationShape(world, previous);
    }
  }
  // LaunchTemplate: the template version's data, overridden by what the request itself names.
  const fromTemplate = raw.LaunchTemplate ? withTemplate(world, req.region, raw.LaunchTemplate, raw) : undefined;
  const reservation = launch(world, { region: req.region, now: req.now }, fromTemplate?.params ?? raw, {
    extraInstanceTags: fromTemplate?.tags,
    clientToken,
    requestHash: clientToken ? requestHash(req.params) : undefined,
    dryRun: () => dryRun(raw),
  });
  return reservationShape(world, reservation);
}

/**
 * RunInstances with LaunchTemplate: the version's data as parameters, with every parameter the
 * request names replacing the template's (tag specifications are merged, the request's tags winning),
 * as EC2 documents. Instances launched from a template carry aws:ec2launchtemplate:id and :version.
 */
function withTemplate(world: World, region: string, spec: Record<string, any>, request: Record<string, any>) {
  if (typeof spec !== 'object' || (!spec.LaunchTemplateId && !spec.LaunchTemplateName)) {
    throw missing('LaunchTemplate.LaunchTemplateId or LaunchTemplate.LaunchTemplateName');
  }
  const t = findTemplate(world, region, { LaunchTemplateId: spec.LaunchTemplateId, LaunchTemplateName: spec.LaunchTemplateName });
  const v = resolveVersion(t, spec.Version === undefined ? undefined : String(spec.Version));
  const base = launchParams(v.data);
  const params: Record<string, any> = { ...base, ...request };
  delete params.LaunchTemplate;
  if (base.TagSpecification && request.TagSpecification) params.TagSpecification = [...list(base.TagSpecification), ...list(request.TagSpecification)];
  // A subnet or groups named by the request replace the template's network interface's.
  const nic = list(params.NetworkInterface)[0];
  if (nic && (request.SubnetId || request.SecurityGroupId) && !request.NetworkInterface) {
    params.NetworkInterface = [{ ...nic, SubnetId: request.SubnetId ?? nic.SubnetId, SecurityGroupId: request.SecurityGroupId ?? nic.SecurityGroupId }];
    delete params.SubnetId;
    delete params.SecurityGroupId;
  }
  return {
    params,
    tags: { 'aws:ec2launchtemplate:id': t.launchTemplateId, 'aws:ec2launchtemplate:version': String(v.versionNumber) } as TagMap,
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
    { MinCount: '1', MaxCount: '1', SubnetId: launchSpec.subnetId },
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

interface LaunchOptions {
  clientToken?: string;
  requestHash?: string;
  /** Called once the request is valid, before placement (RunInstances' DryRun). */
  dryRun?: () => void;
  /** Tags set on every instance after validation (Auto Scaling's aws:autoscaling:groupName). */
  extraInstanceTags?: TagMap;
}

/** Validates and launches what RunInstances parameters `p` (unflattened, wire names) describe. */
function launch(world: World, at: { region: string; now: number }, p: Record<string, any>, opts: LaunchOptions = {}): ReservationRecord {
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


export function reservationShape(world: World, reservation: ReservationRecord, only?: Set<string>) {
  const instances = reservation.instanceIds
    .map((id) => state(world).instances[id])
    .filter((i): i is InstanceRecord => i !== undefined && (!only || only.has(i.instanceId)));
  const groups = instances[0]?.securityGroupIds ?? [];
  return {
    reservationId: reservation.reservationId,
    ownerId: world.settings.accountId,
    groupSet: groups.map((id) => ({ groupId: id, groupName: state(world).securityGroups[id]?.groupName })),
    instancesSet: instances.map((i) => instanceShape(world, i)),
  };
}

export function instanceShape(world: World, i: InstanceRecord) {
  const terminated = i.state === 'terminated';
  const dns = dnsNames(i.region, i);
  return {
    instanceId: i.instanceId,
    imageId: i.imageId,
    instanceState: { code: STATE_CODES[i.state], name: i.state },
    privateDnsName: terminated ? '' : dns.privateDnsName,
    dnsName: dns.dnsName,
    reason: i.stateTransitionReason ?? '',
    keyName: i.keyName,
    amiLaunchIndex: i.amiLaunchIndex,
    productCodes: [],
    instanceType: i.instanceType,
    launchTime: new Date(i.launchTime),
    placement: { availabilityZone: i.availabilityZone, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: terminated ? undefined : i.subnetId,
    vpcId: terminated ? undefined : i.vpcId,
    privateIpAddress: terminated ? undefined : i.privateIpAddress,
    ipAddress: i.publicIpAddress,
    sourceDestCheck: terminated ? undefined : (i.sourceDestCheck ?? true),
    groupSet: i.securityGroupIds.map((id) => ({ groupId: id, groupName: state(world).securityGroups[id]?.groupName })),
    stateReason: terminated
      ? { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' }
      : i.state === 'pending'
        ? { code: 'pending', message: 'pending' }
        : undefined,
    architecture: i.architecture,
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: terminated
      ? []
      : i.blockDevices.map((d) => ({
          deviceName: d.deviceName,
          ebs: { volumeId: d.volumeId, status: 'attached', attachTime: new Date(i.launchTime), deleteOnTermination: d.deleteOnTermination },
        })),
    virtualizationType: 'hvm',
    clientToken: i.clientToken ?? '',
    tagSet: Object.keys(i.tags).length ? tagSet(i.tags) : undefined,
    hypervisor: 'xen',
    iamInstanceProfile: i.iamInstanceProfile ? { arn: i.iamInstanceProfile.arn, id: i.iamInstanceProfileId } : undefined,
    ebsOptimized: i.ebsOptimized ?? false,
    enaSupport: true,
    bootMode: 'uefi',
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    metadataOptions: {
      state: i.state === 'pending' ? 'pending' : 'applied',
      httpTokens: i.metadataOptions.httpTokens,
      httpPutResponseHopLimit: i.metadataOptions.httpPutResponseHopLimit,
      httpEndpoint: i.metadataOptions.httpEndpoint,
      httpProtocolIpv6: 'disabled',
      instanceMetadataTags: i.metadataOptions.instanceMetadataTags,
    },
    currentInstanceBootMode: 'uefi',
  };
}

export function lookupInstances(world: World, region: string, ids: string[]): InstanceRecord[] {
  for (const id of ids) checkIdFormat(id, 'i', 'InvalidInstanceID.Malformed');
  const missingIds = ids.filter((id) => state(world).instances[id]?.region !== region);
  if (missingIds.length) throw notFound('InvalidInstanceID.NotFound', 'instance ID', missingIds);
  return ids.map((id) => state(world).instances[id]);
}

export function describeInstances(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.InstanceId);
  if (ids.length && p.MaxResults) {
    throw new ServiceError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults', 400);
  }
  let instances = ids.length
    ? lookupInstances(world, req.region, ids)
    : inRegion(state(world).instances, req.region).sort((a, b) => a.launchTime - b.launchTime || a.amiLaunchIndex - b.amiLaunchIndex);
  instances = applyFilters(instances, p, {
    'instance-id': (i) => [i.instanceId],
    'instance-state-name': (i) => [i.state],
    'instance-state-code': (i) => [STATE_CODES[i.state]],
    'instance-type': (i) => [i.instanceType],
    'image-id': (i) => [i.imageId],
    'client-token': (i) => [i.clientToken],
    'reservation-id': (i) => [i.reservationId],
    'vpc-id': (i) => [i.vpcId],
    'subnet-id': (i) => [i.subnetId],
    'key-name': (i) => [i.keyName],
    'availability-zone': (i) => [i.availabilityZone],
    'private-ip-address': (i) => [i.privateIpAddress],
    'ip-address': (i) => [i.publicIpAddress],
    'iam-instance-profile.arn': (i) => [i.iamInstanceProfile?.arn],
    'instance.group-id': (i) => i.securityGroupIds,
    'group-id': (i) => i.securityGroupIds,
    // Group names: instance.group-name and, from EC2-Classic's documentation, group-name.
    'instance.group-name': (i) => i.securityGroupIds.map((id) => state(world).securityGroups[id]?.groupName),
    'group-name': (i) => i.securityGroupIds.map((id) => state(world).securityGroups[id]?.groupName),
    'network-interface.subnet-id': (i) => [i.subnetId],
    'network-interface.vpc-id': (i) => [i.vpcId],
    'launch-time': (i) => [new Date(i.launchTime).toISOString()],
    'root-device-type': () => ['ebs'],
    tenancy: () => ['default'],
    'dns-name': (i) => [dnsNames(i.region, i).dnsName],
    'private-dns-name': (i) => [dnsNames(i.region, i).privateDnsName],
    architecture: (i) => [i.architecture],
  });
  const result = page(world, instances, p);
  // Group the page's instances back into their reservations, in order.
  const reservations: ReservationRecord[] = [];
  const onPage = new Set(result.items.map((i) => i.instanceId));
  for (const inst of result.items) {
    const r = state(world).reservations[inst.reservationId];
    if (r && !reservations.includes(r)) reservations.push(r);
  }
  return {
    reservationSet: reservations.map((r) => reservationShape(world, r, onPage)),
    nextToken: result.nextToken,
  };
}

export function terminateInstances(p: TerminateInstancesRequest, { world, region, now }: Call): TerminateInstancesResult {
  const req = { region, now };
  const ids = p.InstanceIds ?? [];
  if (ids.length === 0) throw missing('InstanceId');
  const instances = lookupInstances(world, req.region, ids);
  for (const inst of instances) {
    if (inst.disableApiTermination && inst.state !== 'terminated') {
      throw new ServiceError(
        'OperationNotPermitted',
        `The instance '${inst.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
        400,
      );
    }
  }
  dryRun(p);
  const when = new Date(req.now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' GMT');
  return {
    TerminatingInstances: instances.map((inst) => {
      const previous = inst.state;
      if (inst.state === 'pending' || inst.state === 'running' || inst.state === 'stopping' || inst.state === 'stopped') {
        inst.state = 'shutting-down';
        inst.stateChangedAt = req.now;
        inst.stateTransitionReason = `User initiated (${when})`;
      }
      return stateChange(inst, previous);
    }),
  };
}

/** "User initiated (2026-11-25 12:00:00 GMT)", as EC2 writes stateTransitionReason. */
export function userInitiated(now: number): string {
  return `User initiated (${new Date(now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' GMT')})`;
}

export function stateChange(inst: InstanceRecord, previous: InstanceRecord['state']): InstanceStateChange {
  return {
    InstanceId: inst.instanceId,
    CurrentState: { Code: STATE_CODES[inst.state], Name: inst.state },
    PreviousState: { Code: STATE_CODES[previous], Name: previous },
  };
}

/** StopInstances: running -> stopping -> (instanceTerminateMs) stopped. The instance keeps its volumes. */
export function stopInstances(p: StopInstancesRequest, { world, region, now }: Call): StopInstancesResult {
  const req = { region, now };
  const ids = p.InstanceIds ?? [];
  if (ids.length === 0) throw missing('InstanceId');
  const instances = lookupInstances(world, req.region, ids);
  for (const inst of instances) {
    if (inst.state === 'shutting-down' || inst.state === 'terminated' || inst.state === 'pending') {
      throw new ServiceError('IncorrectInstanceState', `This instance '${inst.instanceId}' is not in a state from which it can be stopped.`, 400);
    }
    // Stop protection (ModifyInstanceAttribute --disable-api-stop), as termination protection above.
    if (inst.disableApiStop) {
      throw new ServiceError('OperationNotPermitted', `The instance '${inst.instanceId}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`, 400);
    }
  }
  dryRun(p);
  return {
    StoppingInstances: instances.map((inst) => {
      const previous = inst.state;
      if (inst.state === 'running') {
        inst.state = 'stopping';
        inst.stateChangedAt = req.now;
        inst.stateTransitionReason = userInitiated(req.now);
      }
      return stateChange(inst, previous);
    }),
  };
}

/** StartInstances: stopped -> pending -> (instanceBootMs) running. */
export function startInstances(p: StartInstancesRequest, { world, region, now }: Call): StartInstancesResult {
  const req = { region, now };
  const ids = p.InstanceIds ?? [];
  if (ids.length === 0) throw missing('InstanceId');
  const instances = lookupInstances(world, req.region, ids);
  for (const inst of instances) {
    if (inst.state !== 'stopped' && inst.state !== 'running' && inst.state !== 'pending') {
      throw new ServiceError('IncorrectInstanceState', `The instance '${inst.instanceId}' is not in a state from which it can be started.`, 400);
    }
  }
  dryRun(p);
  return {
    StartingInstances: instances.map((inst) => {
      const previous = inst.state;
      if (inst.state === 'stopped') {
        // The boot timer runs from launchTime, which EC2 also resets when an instance starts again.
        inst.state = 'pending';
        inst.launchTime = req.now;
        inst.stateChangedAt = req.now;
        delete inst.stateTransitionReason;
      }
      return stateChange(inst, previous);
    }),
  };
}

export function describeVolumes(p: DescribeVolumesRequest, { world, region }: Call): DescribeVolumesResult {
  let volumes = inRegion(state(world).volumes, region);
  const ids = p.VolumeIds ?? [];
  const missingIds = ids.filter((id) => !volumes.some((v) => v.volumeId === id));
  if (missingIds.length) throw notFound('InvalidVolume.NotFound', 'volume', missingIds);
  if (ids.length) volumes = volumes.filter((v) => ids.includes(v.volumeId));
  volumes = filterItems(volumes, p.Filters, {
    'volume-id': (v) => [v.volumeId],
    'attachment.instance-id': (v) => [v.instanceId],
    'attachment.device': (v) => [v.deviceName],
    'volume-type': (v) => [v.volumeType],
    status: (v) => [v.state],
    encrypted: (v) => [v.encrypted],
    size: (v) => [v.size],
    'availability-zone': (v) => [v.availabilityZone],
  });
  const result = pageOf(world, volumes, p.MaxResults, p.NextToken);
  return {
    Volumes: result.items.map((v) => ({
      VolumeId: v.volumeId,
      Size: v.size,
      SnapshotId: v.snapshotId ?? '',
      AvailabilityZone: v.availabilityZone,
      State: v.state,
      CreateTime: new Date(v.createTime),
      Attachments: v.instanceId
        ? [{ VolumeId: v.volumeId, InstanceId: v.instanceId, Device: v.deviceName, State: 'attached', AttachTime: new Date(v.createTime), DeleteOnTermination: v.deleteOnTermination }]
        : [],
      VolumeType: v.volumeType as VolumeType,
      Iops: v.iops,
      Throughput: v.throughput,
      Encrypted: v.encrypted,
      MultiAttachEnabled: false,
      Tags: sdkTags(v.tags),
    })),
    NextToken: result.nextToken,
  };
}

export const operations: Record<string, Operation> = {
  RunInstances: { mutating: true, handler: regional(runInstances) },
  DescribeInstances: { mutating: false, handler: regional(describeInstances) },
  TerminateInstances: typedOperation<TerminateInstancesRequest, TerminateInstancesResult>({
    mutating: true,
    decode: ec2Decoder(TerminateInstancesRequest$),
    encode: ec2Encoder(TerminateInstancesResult$),
    handler: seeded(terminateInstances),
  }),
  StopInstances: typedOperation<StopInstancesRequest, StopInstancesResult>({
    mutating: true,
    decode: ec2Decoder(StopInstancesRequest$),
    encode: ec2Encoder(StopInstancesResult$),
    handler: seeded(stopInstances),
  }),
  StartInstances: typedOperation<StartInstancesRequest, StartInstancesResult>({
    mutating: true,
    decode: ec2Decoder(StartInstancesRequest$),
    encode: ec2Encoder(StartInstancesResult$),
    handler: seeded(startInstances),
  }),
  DescribeVolumes: typedOperation<DescribeVolumesRequest, DescribeVolumesResult>({
    mutating: false,
    decode: ec2Decoder(DescribeVolumesRequest$),
    encode: ec2Encoder(DescribeVolumesResult$),
    handler: seeded(describeVolumes),
  }),
  DescribeInstanceCreditSpecifications: typedOperation<DescribeInstanceCreditSpecificationsRequest, DescribeInstanceCreditSpecificationsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeInstanceCreditSpecificationsRequest$),
    encode: ec2Encoder(DescribeInstanceCreditSpecificationsResult$),
    handler: seeded(describeInstanceCreditSpecifications),
  }),
  ModifyInstanceCreditSpecification: typedOperation<ModifyInstanceCreditSpecificationRequest, ModifyInstanceCreditSpecificationResult>({
    mutating: true,
    decode: ec2Decoder(ModifyInstanceCreditSpecificationRequest$),
    encode: ec2Encoder(ModifyInstanceCreditSpecificationResult$),
    handler: seeded(modifyInstanceCreditSpecification),
  }),
};
