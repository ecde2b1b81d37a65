/**
 * EC2 state: world.state.ec2 (Ec2State, composed of the record types of records.ts), its
 * initial value, the built-in network seeded per region, and the instance lifecycles advanced in tick().
 *
 * Instances start 'pending' and become 'running' after settings.latency.instanceBootMs (public IP
 * assigned then, if the subnet maps public IPs); TerminateInstances moves them to 'shutting-down'
 * and, after instanceTerminateMs, 'terminated'; terminated instances stay visible for an hour.
 * StopInstances moves a running instance to 'stopping' and, after instanceTerminateMs, 'stopped'
 * (volumes kept, public IP released); StartInstances boots a stopped one again.
 * The simulated ECS agent reads world.state.ec2.instances (Ec2InstanceRecord in ../../types.ts).
 */
import type { Call } from '../../typed.js';
import type { World } from '../../types.js';
import type { TagMap } from '../util.js';
import { availabilityZones, builtinId, type AmiReleases } from './ec2-data.js';
import type { InstanceRecord, KeyPairRecord, LaunchTemplateRecord, ReservationRecord, SecurityGroupRecord, SubnetRecord, VolumeRecord, VpcRecord } from './records.js';

export interface Ec2State {
  /** Regions whose default VPC, subnets and other VPC have been created. */
  seededRegions: string[];
  vpcs: Record<string, VpcRecord>;
  subnets: Record<string, SubnetRecord>;
  securityGroups: Record<string, SecurityGroupRecord>;
  keyPairs: Record<string, KeyPairRecord>;
  volumes: Record<string, VolumeRecord>;
  instances: Record<string, InstanceRecord>;
  reservations: Record<string, ReservationRecord>;
  /** Counter for public IPs handed to instances. */
  publicIpSeq: number;
  /** Launch templates by id (absent in state files written before launch templates existed). */
  launchTemplates: Record<string, LaunchTemplateRecord>;  /** ECS-optimized AMI releases published since the built-in ones, by region (ec2-data.ts publishEcsAmi). */
  amiReleases?: AmiReleases['amiReleases'];
}

export const TERMINATED_VISIBLE_MS = 60 * 60 * 1000;
export const MAX_INSTANCES_PER_REQUEST = 20;
export const VOLUME_TYPES = ['standard', 'io1', 'io2', 'gp2', 'gp3', 'sc1', 'st1'];
export const STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export function state(world: World): Ec2State {
  const s = world.state.ec2 as Ec2State;
  s.launchTemplates ??= {};
  return s;
}

export function initState(): Ec2State {
  return {
    seededRegions: [],
    vpcs: {},
    subnets: {},
    securityGroups: {},
    keyPairs: {},
    volumes: {},
    instances: {},
    reservations: {},
    publicIpSeq: 0,
    launchTemplates: {},
  };
}

/**
 * Creates a region's built-in network the first time the region is used: the default VPC
 * 172.31.0.0/16 with a default public subnet per availability zone, and a second, non-default VPC
 * 10.0.0.0/16 ("sandbox-other") with one private subnet. Each VPC has its "default" security group.
 */
export function seedRegion(world: World, region: string): void {
  const s = state(world);
  if (s.seededRegions.includes(region)) return;
  s.seededRegions.push(region);
  // Network ids are the account's own, as on AWS: two sandboxes of other accounts never share one.
  const scope = networkScope(region, world.settings.accountId);
  const defaultVpc = builtinVpc('default-vpc', '172.31.0.0/16', true, {});
  availabilityZones(region).forEach((az, i) => {
    builtinSubnet(defaultVpc, `default-subnet-${az.zoneName}`, `172.31.${i * 16}.0/20`, az, true, {});
  });
  const other = builtinVpc('other-vpc', '10.0.0.0/16', false, { Name: 'sandbox-other' });
  builtinSubnet(other, 'other-subnet', '10.0.1.0/24', availabilityZones(region)[0], false, { Name: 'sandbox-other-private' });

  function builtinVpc(label: string, cidrBlock: string, isDefault: boolean, tags: TagMap) {
    const vpc: VpcRecord = {
      vpcId: builtinId('vpc-', scope, label),
      region,
      cidrBlock,
      isDefault,
      dhcpOptionsId: builtinId('dopt-', scope, 'dhcp'),
      tags,
    };
    s.vpcs[vpc.vpcId] = vpc;
    const groupId = builtinId('sg-', scope, `${label}/default-sg`);
    s.securityGroups[groupId] = {
      groupId,
      region,
      groupName: 'default',
      description: 'default VPC security group',
      vpcId: vpc.vpcId,
      ingress: [{ ruleId: builtinId('sgr-', scope, `${label}/in`), ipProtocol: '-1', groupId }],
      egress: [{ ruleId: builtinId('sgr-', scope, `${label}/out`), ipProtocol: '-1', cidrIp: '0.0.0.0/0' }],
      tags: {},
    };
    return vpc;
  }

  function builtinSubnet(
    vpc: VpcRecord,
    label: string,
    cidrBlock: string,
    az: { zoneName: string; zoneId: string },
    isDefault: boolean,
    tags: TagMap,
  ) {
    const subnet: SubnetRecord = {
      subnetId: builtinId('subnet-', scope, label),
      region,
      vpcId: vpc.vpcId,
      cidrBlock,
      availabilityZone: az.zoneName,
      availabilityZoneId: az.zoneId,
      defaultForAz: isDefault,
      mapPublicIpOnLaunch: isDefault,
      nextHost: 4,
      tags,
    };
    s.subnets[subnet.subnetId] = subnet;
  }
}

// ---------------------------------------------------------------------------------------------
// Lifecycles

export function tick(world: World, now: number): void {
  const s = state(world);
  const { instanceBootMs, instanceTerminateMs } = world.settings.latency;
  for (const inst of Object.values(s.instances)) {
    if (inst.state === 'pending' && now - inst.launchTime >= instanceBootMs) {
      inst.state = 'running';
      inst.stateChangedAt = inst.launchTime + instanceBootMs;
      if (inst.publicIpAddress === undefined && inst.wantsPublicIp) {
        inst.publicIpAddress = nextPublicIp(s);
      }
    }
    if (inst.state === 'stopping' && now - inst.stateChangedAt >= instanceTerminateMs) {
      // A stopped instance keeps its volumes and private IP; its public IP (not an Elastic IP) goes.
      inst.state = 'stopped';
      inst.stateChangedAt += instanceTerminateMs;
      delete inst.publicIpAddress;
    }
    if (inst.state === 'shutting-down' && now - inst.stateChangedAt >= instanceTerminateMs) {
      inst.state = 'terminated';
      inst.stateChangedAt += instanceTerminateMs;
      delete inst.publicIpAddress;
      for (const dev of inst.blockDevices) {
        const volume = s.volumes[dev.volumeId];
        if (!volume) continue;
        if (dev.deleteOnTermination) {
          delete s.volumes[dev.volumeId];
        } else {
          volume.state = 'available';
          delete volume.instanceId;
          delete volume.deviceName;
        }
      }
    }
    if (inst.state === 'terminated' && now - inst.stateChangedAt >= TERMINATED_VISIBLE_MS) {
      delete s.instances[inst.instanceId];
    }
  }
}

export function nextPublicIp(s: Ec2State): string {
  s.publicIpSeq += 1;
  const n = s.publicIpSeq;
  return `54.${160 + ((n >> 16) % 64)}.${(n >> 8) & 255}.${(n % 254) + 1}`;
}

/** Ids of the built-in network in a region (for tests and documentation). */
/** What the built-in network ids are derived from: the region, and the account unless it is the default one. */
export function networkScope(region: string, accountId: string): string {
  return accountId === DEFAULT_SANDBOX_ACCOUNT ? region : `${accountId}/${region}`;
}

export function builtinNetwork(region: string, accountId = DEFAULT_SANDBOX_ACCOUNT) {
  const azs = availabilityZones(region);
  const scope = networkScope(region, accountId);
  return {
    defaultVpcId: builtinId('vpc-', scope, 'default-vpc'),
    defaultSubnetIds: azs.map((az) => builtinId('subnet-', scope, `default-subnet-${az.zoneName}`)),
    defaultSecurityGroupId: builtinId('sg-', scope, 'default-vpc/default-sg'),
    otherVpcId: builtinId('vpc-', scope, 'other-vpc'),
    otherSubnetId: builtinId('subnet-', scope, 'other-subnet'),
  };
}

/** The sandbox's account when none is given. */
export const DEFAULT_SANDBOX_ACCOUNT = '123456789012';


/** Every handler first makes sure the request's region has its default network. */
export function seeded<I, O>(handler: (input: I, call: Call) => O): (input: I, call: Call) => O {
  return (input, call) => {
    seedRegion(call.world, call.region);
    return handler(input, call);
  };
}
