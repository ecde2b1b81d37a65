/**
 * EC2 (EC2 Query protocol, regional): VPCs and subnets (a default VPC per region plus one non-default
 * VPC), security groups and their ingress rules, key pairs, AMIs, instance types, instances and their
 * volumes, tags.
 *
 * Instances start 'pending' and become 'running' after settings.latency.instanceBootMs (public IP
 * assigned then, if the subnet maps public IPs); TerminateInstances moves them to 'shutting-down'
 * and, after instanceTerminateMs, 'terminated'; terminated instances stay visible for an hour.
 * StopInstances moves a running instance to 'stopping' and, after instanceTerminateMs, 'stopped'
 * (volumes kept, public IP released); StartInstances boots a stopped one again.
 * The simulated ECS agent reads world.state.ec2.instances (Ec2InstanceRecord in ../types.ts).
 */

import { createHash, generateKeyPairSync } from 'node:crypto';
import { paginate } from '../paginate.js';
import { unflatten } from '../protocols/query.js';
import { ServiceError, type Ec2InstanceRecord, type SandboxRequest, type ServiceModule, type World } from '../types.js';
import {
  INSTANCE_TYPES,
  amisIn,
  architectureOf,
  availabilityZones,
  builtinId,
  specsOf,
  type AmiRecord,
} from './ec2-data.js';
import { checkPlacement, describeInstanceCreditSpecifications, describeInstanceTypeOfferings, launchCredits, modifyInstanceCreditSpecification, useCapacity } from './ec2-offerings.js';
import { findInstanceProfile, instanceProfileUsable } from './iam.js';
import { bool, int, list, type TagMap } from './util.js';

// ---------------------------------------------------------------------------------------------
// State

interface VpcRecord {
  vpcId: string;
  region: string;
  cidrBlock: string;
  isDefault: boolean;
  dhcpOptionsId: string;
  tags: TagMap;
}

interface SubnetRecord {
  subnetId: string;
  region: string;
  vpcId: string;
  cidrBlock: string;
  availabilityZone: string;
  availabilityZoneId: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
  /** Host number of the next private IP to hand out (AWS reserves the first four). */
  nextHost: number;
  tags: TagMap;
}

interface RuleRecord {
  ruleId: string;
  /** 'tcp' | 'udp' | 'icmp' | '-1' (all) or a protocol number. */
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidrIp?: string;
  /** Source security group (instead of cidrIp). */
  groupId?: string;
  description?: string;
}

interface SecurityGroupRecord {
  groupId: string;
  region: string;
  groupName: string;
  description: string;
  vpcId: string;
  ingress: RuleRecord[];
  egress: RuleRecord[];
  tags: TagMap;
}

interface KeyPairRecord {
  keyPairId: string;
  region: string;
  keyName: string;
  keyType: 'rsa' | 'ed25519';
  keyFingerprint: string;
  publicKey: string;
  createTime: number;
  tags: TagMap;
}

interface VolumeRecord {
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
interface InstanceRecord extends Ec2InstanceRecord {
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
}

interface ReservationRecord {
  reservationId: string;
  region: string;
  instanceIds: string[];
  clientToken?: string;
  /** Fingerprint of the request parameters, for ClientToken idempotency. */
  requestHash?: string;
}

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
}

const TERMINATED_VISIBLE_MS = 60 * 60 * 1000;
const MAX_INSTANCES_PER_REQUEST = 20;
const VOLUME_TYPES = ['standard', 'io1', 'io2', 'gp2', 'gp3', 'sc1', 'st1'];
const STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

function state(world: World): Ec2State {
  return world.state.ec2 as Ec2State;
}

function initState(): Ec2State {
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
  };
}

/**
 * Creates a region's built-in network the first time the region is used: the default VPC
 * 172.31.0.0/16 with a default public subnet per availability zone, and a second, non-default VPC
 * 10.0.0.0/16 ("sandbox-other") with one private subnet. Each VPC has its "default" security group.
 */
function seedRegion(world: World, region: string): void {
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

function tick(world: World, now: number): void {
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

function nextPublicIp(s: Ec2State): string {
  s.publicIpSeq += 1;
  const n = s.publicIpSeq;
  return `54.${160 + ((n >> 16) % 64)}.${(n >> 8) & 255}.${(n % 254) + 1}`;
}

// ---------------------------------------------------------------------------------------------
// Errors and parameter helpers

function invalidValue(message: string): ServiceError {
  return new ServiceError('InvalidParameterValue', message, 400);
}

function missing(name: string): ServiceError {
  return new ServiceError('MissingParameter', `The request must contain the parameter ${name}`, 400);
}

function requiredParam(value: unknown, name: string): string {
  if (value === undefined || value === null || value === '') throw missing(name);
  return String(value);
}

function notFound(code: string, what: string, ids: string[]): ServiceError {
  const quoted = ids.join(', ');
  return new ServiceError(
    code,
    ids.length === 1 ? `The ${what} '${quoted}' does not exist` : `The ${what}s '${quoted}' do not exist`,
    400,
  );
}

const ID_PATTERN = (prefix: string) => new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`);

function checkIdFormat(id: string, prefix: string, code: string): void {
  if (!ID_PATTERN(prefix).test(id)) {
    throw new ServiceError(code, `Invalid id: "${id}" (expecting "${prefix}-...")`, 400);
  }
}

function strings(value: unknown): string[] {
  return list(value)
    .filter((v) => v !== undefined && v !== null)
    .map(String);
}

function tagSet(tags: TagMap) {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

function tagsFromList(items: any[]): TagMap {
  const tags: TagMap = {};
  for (const t of items) {
    if (!t || t.Key === undefined || t.Key === '') continue;
    if (String(t.Key).toLowerCase().startsWith('aws:')) {
      throw invalidValue(`Tag keys starting with 'aws:' are reserved for internal use`);
    }
    tags[String(t.Key)] = t.Value === undefined ? '' : String(t.Value);
  }
  return tags;
}

/**
 * Tags from TagSpecification.N, by resource type. Types the operation cannot tag are rejected, as
 * EC2 does.
 */
function tagSpecifications(p: Record<string, any>, allowed: string[]): Record<string, TagMap> {
  const byType: Record<string, TagMap> = {};
  for (const spec of list(p.TagSpecification)) {
    const type = spec?.ResourceType;
    if (!type) throw missing('TagSpecification.ResourceType');
    if (!allowed.includes(type)) {
      throw invalidValue(`'${type}' is not a valid taggable resource type for this operation.`);
    }
    byType[type] = { ...byType[type], ...tagsFromList(list(spec.Tag)) };
  }
  return byType;
}

function dryRun(p: Record<string, any>): void {
  if (bool(p.DryRun)) {
    throw new ServiceError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
  }
}

// ---------------------------------------------------------------------------------------------
// Filters: Filter.N.Name / Filter.N.Value.M, values may use * and ? wildcards, filters are ANDed,
// values within a filter are ORed.

type FilterFields<T> = Record<string, (item: T) => (string | number | boolean | undefined)[]>;

function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 's');
}

function applyFilters<T extends { tags: TagMap }>(items: T[], p: Record<string, any>, fields: FilterFields<T>): T[] {
  const filters = list(p.Filter).filter((f) => f && f.Name);
  for (const f of filters) {
    const name = String(f.Name);
    if (!name.startsWith('tag:') && !['tag-key', 'tag-value'].includes(name) && !fields[name]) {
      throw invalidValue(`The filter '${name}' is invalid`);
    }
  }
  return items.filter((item) =>
    filters.every((f) => {
      const name = String(f.Name);
      const patterns = strings(f.Value).map(wildcard);
      let values: string[];
      if (name.startsWith('tag:')) {
        const key = name.slice(4);
        values = key in item.tags ? [item.tags[key]] : [];
      } else if (name === 'tag-key') {
        values = Object.keys(item.tags);
      } else if (name === 'tag-value') {
        values = Object.values(item.tags);
      } else {
        values = fields[name](item)
          .filter((v) => v !== undefined)
          .map(String);
      }
      return values.some((v) => patterns.some((re) => re.test(v)));
    }),
  );
}

function page<T>(world: World, items: T[], p: Record<string, any>, opts: { min?: number; max?: number } = {}) {
  const maxResults = int(p.MaxResults);
  const min = opts.min ?? 5;
  const max = opts.max ?? 1000;
  if (maxResults !== undefined && (Number.isNaN(maxResults) || maxResults < min || maxResults > max)) {
    throw invalidValue(`Value ( ${p.MaxResults} ) for parameter maxResults is invalid. Parameter must be between ${min} and ${max}.`);
  }
  return paginate(items, {
    maxResults,
    nextToken: p.NextToken || undefined,
    defaultPageSize: 1000,
    settings: world.settings,
    invalidToken: () => new ServiceError('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.', 400),
  });
}

function inRegion<T extends { region: string }>(records: Record<string, T>, region: string): T[] {
  return Object.values(records).filter((r) => r.region === region);
}

// ---------------------------------------------------------------------------------------------
// VPCs, subnets, availability zones

function getVpc(world: World, region: string, vpcId: string): VpcRecord {
  const vpc = state(world).vpcs[vpcId];
  if (!vpc || vpc.region !== region) throw notFound('InvalidVpcID.NotFound', 'vpc ID', [vpcId]);
  return vpc;
}

function getSubnet(world: World, region: string, subnetId: string): SubnetRecord {
  const subnet = state(world).subnets[subnetId];
  if (!subnet || subnet.region !== region) throw notFound('InvalidSubnetID.NotFound', 'subnet ID', [subnetId]);
  return subnet;
}

function defaultVpc(world: World, region: string): VpcRecord | undefined {
  return inRegion(state(world).vpcs, region).find((v) => v.isDefault);
}

function availableIps(world: World, subnet: SubnetRecord): number {
  const prefix = Number(subnet.cidrBlock.split('/')[1]);
  const used = Object.values(state(world).instances).filter(
    (i) => i.subnetId === subnet.subnetId && i.state !== 'terminated',
  ).length;
  return 2 ** (32 - prefix) - 5 - used;
}

function describeVpcs(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  let vpcs = inRegion(state(world).vpcs, req.region);
  const ids = strings(p.VpcId);
  if (ids.length) {
    const missingIds = ids.filter((id) => !vpcs.some((v) => v.vpcId === id));
    if (missingIds.length) throw notFound('InvalidVpcID.NotFound', 'vpc ID', missingIds);
    vpcs = vpcs.filter((v) => ids.includes(v.vpcId));
  }
  // Besides the documented names, EC2 still accepts the camelCase ones of older documentation
  // (isDefault, vpcId, cidrBlock) and cidr-block, as moto also models.
  vpcs = applyFilters(vpcs, p, {
    'vpc-id': (v) => [v.vpcId],
    vpcId: (v) => [v.vpcId],
    'is-default': (v) => [v.isDefault],
    isDefault: (v) => [v.isDefault],
    'cidr': (v) => [v.cidrBlock],
    'cidr-block': (v) => [v.cidrBlock],
    cidrBlock: (v) => [v.cidrBlock],
    'cidr-block-association.cidr-block': (v) => [v.cidrBlock],
    'dhcp-options-id': (v) => [v.dhcpOptionsId],
    'owner-id': () => [world.settings.accountId],
    state: () => ['available'],
  });
  const result = page(world, vpcs, p);
  return {
    vpcSet: result.items.map((v) => ({
      vpcId: v.vpcId,
      ownerId: world.settings.accountId,
      state: 'available',
      cidrBlock: v.cidrBlock,
      cidrBlockAssociationSet: [
        { cidrBlock: v.cidrBlock, associationId: builtinId('vpc-cidr-assoc-', v.region, v.vpcId), cidrBlockState: { state: 'associated' } },
      ],
      dhcpOptionsId: v.dhcpOptionsId,
      instanceTenancy: 'default',
      isDefault: v.isDefault,
      tagSet: Object.keys(v.tags).length ? tagSet(v.tags) : undefined,
    })),
    nextToken: result.nextToken,
  };
}

function describeSubnets(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  let subnets = inRegion(state(world).subnets, req.region);
  const ids = strings(p.SubnetId);
  if (ids.length) {
    const missingIds = ids.filter((id) => !subnets.some((s) => s.subnetId === id));
    if (missingIds.length) throw notFound('InvalidSubnetID.NotFound', 'subnet ID', missingIds);
    subnets = subnets.filter((s) => ids.includes(s.subnetId));
  }
  // The documented aliases (availabilityZone, availabilityZoneId, cidr, cidrBlock, defaultForAz) and
  // vpcId, which EC2 accepts from older documentation.
  subnets = applyFilters(subnets, p, {
    'subnet-id': (s) => [s.subnetId],
    'subnet-arn': (s) => [`arn:aws:ec2:${s.region}:${world.settings.accountId}:subnet/${s.subnetId}`],
    'vpc-id': (s) => [s.vpcId],
    vpcId: (s) => [s.vpcId],
    'default-for-az': (s) => [s.defaultForAz],
    defaultForAz: (s) => [s.defaultForAz],
    'availability-zone': (s) => [s.availabilityZone],
    availabilityZone: (s) => [s.availabilityZone],
    'availability-zone-id': (s) => [s.availabilityZoneId],
    availabilityZoneId: (s) => [s.availabilityZoneId],
    'available-ip-address-count': (s) => [availableIps(world, s)],
    'map-public-ip-on-launch': (s) => [s.mapPublicIpOnLaunch],
    'cidr-block': (s) => [s.cidrBlock],
    cidr: (s) => [s.cidrBlock],
    cidrBlock: (s) => [s.cidrBlock],
    'owner-id': () => [world.settings.accountId],
    state: () => ['available'],
  });
  const result = page(world, subnets, p);
  return {
    subnetSet: result.items.map((s) => ({
      subnetId: s.subnetId,
      subnetArn: `arn:aws:ec2:${s.region}:${world.settings.accountId}:subnet/${s.subnetId}`,
      state: 'available',
      ownerId: world.settings.accountId,
      vpcId: s.vpcId,
      cidrBlock: s.cidrBlock,
      availableIpAddressCount: availableIps(world, s),
      availabilityZone: s.availabilityZone,
      availabilityZoneId: s.availabilityZoneId,
      defaultForAz: s.defaultForAz,
      mapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
      assignIpv6AddressOnCreation: false,
      tagSet: Object.keys(s.tags).length ? tagSet(s.tags) : undefined,
    })),
    nextToken: result.nextToken,
  };
}

function describeAvailabilityZones(req: SandboxRequest) {
  const p = unflatten(req.params);
  const names = strings(p.ZoneName);
  const zones = availabilityZones(req.region).map((z) => ({ ...z, tags: {} as TagMap }));
  const selected = applyFilters(
    names.length ? zones.filter((z) => names.includes(z.zoneName)) : zones,
    p,
    {
      'zone-name': (z) => [z.zoneName],
      'zone-id': (z) => [z.zoneId],
      'region-name': () => [req.region],
      state: () => ['available'],
      'zone-type': () => ['availability-zone'],
    },
  );
  return {
    availabilityZoneInfo: selected.map((z) => ({
      zoneName: z.zoneName,
      zoneId: z.zoneId,
      zoneState: 'available',
      regionName: req.region,
      zoneType: 'availability-zone',
      optInStatus: 'opt-in-not-required',
      groupName: req.region,
      networkBorderGroup: req.region,
      messageSet: [],
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Key pairs

function keyPairByName(world: World, region: string, name: string): KeyPairRecord | undefined {
  return inRegion(state(world).keyPairs, region).find((k) => k.keyName === name);
}

function createKeyPair(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const keyName = requiredParam(p.KeyName, 'KeyName');
  if (keyName.length > 255) throw invalidValue(`Value (${keyName}) for parameter keyName is invalid. Length exceeds maximum of 255.`);
  const keyType = (p.KeyType ?? 'rsa') as 'rsa' | 'ed25519';
  if (keyType !== 'rsa' && keyType !== 'ed25519') throw invalidValue(`Invalid value '${keyType}' for keyType.`);
  const tags = tagSpecifications(p, ['key-pair'])['key-pair'] ?? {};
  if (keyPairByName(world, req.region, keyName)) {
    throw new ServiceError('InvalidKeyPair.Duplicate', `The keypair '${keyName}' already exists.`, 400);
  }
  const { material, fingerprint, publicKey } = generateKeyMaterial(keyType);
  const record: KeyPairRecord = {
    keyPairId: world.nextId('key-'),
    region: req.region,
    keyName,
    keyType,
    keyFingerprint: fingerprint,
    publicKey,
    createTime: req.now,
    tags,
  };
  state(world).keyPairs[record.keyPairId] = record;
  return {
    keyName,
    keyFingerprint: fingerprint,
    keyMaterial: material,
    keyPairId: record.keyPairId,
    tagSet: Object.keys(tags).length ? tagSet(tags) : undefined,
  };
}

/** A real key pair, so the private key is usable: RSA as PKCS#1 PEM, ed25519 in OpenSSH format. */
function generateKeyMaterial(type: 'rsa' | 'ed25519') {
  if (type === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    // EC2's fingerprint of a key it created: SHA-1 of the DER-encoded PKCS#8 private key.
    const fingerprint = createHash('sha1').update(der).digest('hex').match(/../g)!.join(':');
    return {
      material: privateKey.export({ format: 'pem', type: 'pkcs1' }).toString().trim(),
      fingerprint,
      publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString().trim(),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const rawPublic = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const fingerprint = createHash('sha256').update(rawPublic).digest('base64').replace(/=+$/, '') + '=';
  return {
    material: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().trim(),
    fingerprint,
    publicKey: `ssh-ed25519 ${rawPublic.toString('base64')}`,
  };
}

function describeKeyPairs(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  let keys = inRegion(state(world).keyPairs, req.region);
  const names = strings(p.KeyName);
  const ids = strings(p.KeyPairId);
  for (const name of names) {
    if (!keys.some((k) => k.keyName === name)) {
      throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${name}' does not exist`, 400);
    }
  }
  for (const id of ids) {
    if (!keys.some((k) => k.keyPairId === id)) {
      throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${id}' does not exist`, 400);
    }
  }
  if (names.length || ids.length) keys = keys.filter((k) => names.includes(k.keyName) || ids.includes(k.keyPairId));
  keys = applyFilters(keys, p, {
    'key-name': (k) => [k.keyName],
    'key-pair-id': (k) => [k.keyPairId],
    fingerprint: (k) => [k.keyFingerprint],
    'key-type': (k) => [k.keyType],
  });
  const includePublicKey = bool(p.IncludePublicKey) ?? false;
  return {
    keySet: keys.map((k) => ({
      keyPairId: k.keyPairId,
      keyName: k.keyName,
      keyFingerprint: k.keyFingerprint,
      keyType: k.keyType,
      tagSet: tagSet(k.tags),
      publicKey: includePublicKey ? k.publicKey : undefined,
      createTime: new Date(k.createTime),
    })),
  };
}

function deleteKeyPair(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  if (!p.KeyName && !p.KeyPairId) throw missing('KeyName');
  const keys = state(world).keyPairs;
  let record: KeyPairRecord | undefined;
  if (p.KeyPairId) {
    record = keys[p.KeyPairId];
    if (!record || record.region !== req.region) {
      throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${p.KeyPairId}' does not exist`, 400);
    }
  } else {
    // Like EC2, deleting a key pair name that does not exist succeeds.
    record = keyPairByName(world, req.region, String(p.KeyName));
  }
  if (record) delete keys[record.keyPairId];
  return { return: true, keyPairId: record?.keyPairId };
}

// ---------------------------------------------------------------------------------------------
// Security groups

function getSecurityGroup(world: World, region: string, groupId: string): SecurityGroupRecord {
  const group = state(world).securityGroups[groupId];
  if (!group || group.region !== region) {
    throw new ServiceError('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`, 400);
  }
  return group;
}

/** By GroupId, or by GroupName in the default VPC (as EC2 resolves names). */
function groupFromParams(world: World, region: string, p: Record<string, any>): SecurityGroupRecord {
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

function createSecurityGroup(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const groupName = requiredParam(p.GroupName, 'GroupName');
  const description = requiredParam(p.GroupDescription, 'GroupDescription');
  if (groupName.length > 255) throw invalidValue(`Invalid value '${groupName}' for groupName. Length exceeds maximum of 255.`);
  if (description.length > 255) throw invalidValue(`Invalid value for GroupDescription. Length exceeds maximum of 255.`);
  if (groupName.toLowerCase().startsWith('sg-')) throw invalidValue(`Group names may not be in the format sg-*.`);
  const vpcId = p.VpcId ? getVpc(world, req.region, String(p.VpcId)).vpcId : defaultVpc(world, req.region)?.vpcId;
  if (!vpcId) throw new ServiceError('VPCIdNotSpecified', 'No default VPC for this user', 400);
  const tags = tagSpecifications(p, ['security-group'])['security-group'] ?? {};
  const groups = inRegion(state(world).securityGroups, req.region);
  if (groups.some((g) => g.vpcId === vpcId && g.groupName === groupName)) {
    throw new ServiceError('InvalidGroup.Duplicate', `The security group '${groupName}' already exists for VPC '${vpcId}'`, 400);
  }
  const group: SecurityGroupRecord = {
    groupId: world.nextId('sg-'),
    region: req.region,
    groupName,
    description,
    vpcId,
    ingress: [],
    egress: [{ ruleId: world.nextId('sgr-'), ipProtocol: '-1', cidrIp: '0.0.0.0/0' }],
    tags,
  };
  state(world).securityGroups[group.groupId] = group;
  return {
    groupId: group.groupId,
    securityGroupArn: `arn:aws:ec2:${req.region}:${world.settings.accountId}:security-group/${group.groupId}`,
    tagSet: Object.keys(tags).length ? tagSet(tags) : undefined,
  };
}

/** Rules grouped the way DescribeSecurityGroups shows them: one IpPermission per protocol and port range. */
function ipPermissions(rules: RuleRecord[], world: World) {
  const byRange = new Map<string, RuleRecord[]>();
  for (const r of rules) {
    const key = `${r.ipProtocol}/${r.fromPort ?? ''}/${r.toPort ?? ''}`;
    byRange.set(key, [...(byRange.get(key) ?? []), r]);
  }
  return [...byRange.values()].map((group) => {
    const first = group[0];
    return {
      ipProtocol: first.ipProtocol,
      fromPort: first.fromPort,
      toPort: first.toPort,
      groups: group
        .filter((r) => r.groupId)
        .map((r) => ({ groupId: r.groupId, userId: world.settings.accountId, description: r.description })),
      ipRanges: group.filter((r) => r.cidrIp).map((r) => ({ cidrIp: r.cidrIp, description: r.description })),
      ipv6Ranges: [],
      prefixListIds: [],
    };
  });
}

function describeSecurityGroups(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  let groups = inRegion(state(world).securityGroups, req.region);
  const ids = strings(p.GroupId);
  const names = strings(p.GroupName);
  for (const id of ids) getSecurityGroup(world, req.region, id);
  if (names.length) {
    const vpc = defaultVpc(world, req.region);
    for (const name of names) {
      if (!groups.some((g) => g.groupName === name && g.vpcId === vpc?.vpcId)) {
        throw new ServiceError(
          'InvalidGroup.NotFound',
          `The security group '${name}' does not exist in default VPC '${vpc?.vpcId ?? 'none'}'`,
          400,
        );
      }
    }
  }
  if (ids.length || names.length) {
    const vpcId = defaultVpc(world, req.region)?.vpcId;
    groups = groups.filter((g) => ids.includes(g.groupId) || (names.includes(g.groupName) && g.vpcId === vpcId));
  }
  groups = applyFilters(groups, p, {
    'group-id': (g) => [g.groupId],
    'group-name': (g) => [g.groupName],
    'vpc-id': (g) => [g.vpcId],
    description: (g) => [g.description],
    'owner-id': () => [world.settings.accountId],
    'ip-permission.cidr': (g) => g.ingress.map((r) => r.cidrIp),
    'ip-permission.from-port': (g) => g.ingress.map((r) => r.fromPort),
    'ip-permission.to-port': (g) => g.ingress.map((r) => r.toPort),
    'ip-permission.protocol': (g) => g.ingress.map((r) => r.ipProtocol),
  });
  const result = page(world, groups, p);
  return {
    securityGroupInfo: result.items.map((g) => ({
      ownerId: world.settings.accountId,
      groupId: g.groupId,
      groupName: g.groupName,
      groupDescription: g.description,
      vpcId: g.vpcId,
      securityGroupArn: `arn:aws:ec2:${g.region}:${world.settings.accountId}:security-group/${g.groupId}`,
      ipPermissions: ipPermissions(g.ingress, world),
      ipPermissionsEgress: ipPermissions(g.egress, world),
      tagSet: Object.keys(g.tags).length ? tagSet(g.tags) : undefined,
    })),
    nextToken: result.nextToken,
  };
}

function deleteSecurityGroup(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const group = groupFromParams(world, req.region, p);
  if (group.groupName === 'default') {
    throw new ServiceError(
      'CannotDelete',
      `the specified group: "${group.groupId}" name: "default" cannot be deleted by a user`,
      400,
    );
  }
  const inUse = Object.values(state(world).instances).some(
    (i) => i.state !== 'terminated' && i.securityGroupIds.includes(group.groupId),
  );
  const referenced = Object.values(state(world).securityGroups).some(
    (g) => g.groupId !== group.groupId && [...g.ingress, ...g.egress].some((r) => r.groupId === group.groupId),
  );
  if (inUse || referenced) {
    throw new ServiceError('DependencyViolation', `resource ${group.groupId} has a dependent object`, 400);
  }
  delete state(world).securityGroups[group.groupId];
  return { return: true, groupId: group.groupId };
}

/** The rules an Authorize/Revoke request names, from IpPermissions.N or the legacy top-level fields. */
function requestedRules(world: World, region: string, p: Record<string, any>): Omit<RuleRecord, 'ruleId'>[] {
  const permissions = list(p.IpPermissions);
  if (permissions.length === 0 && (p.IpProtocol || p.CidrIp)) {
    permissions.push({
      IpProtocol: p.IpProtocol,
      FromPort: p.FromPort,
      ToPort: p.ToPort,
      IpRanges: p.CidrIp ? [{ CidrIp: p.CidrIp }] : [],
      Groups: p.SourceSecurityGroupName ? [{ GroupName: p.SourceSecurityGroupName }] : [],
    });
  }
  if (permissions.length === 0) throw missing('IpPermissions');
  const rules: Omit<RuleRecord, 'ruleId'>[] = [];
  for (const perm of permissions) {
    const ipProtocol = normaliseProtocol(perm.IpProtocol);
    let fromPort: number | undefined;
    let toPort: number | undefined;
    if (ipProtocol !== '-1') {
      fromPort = int(perm.FromPort);
      toPort = int(perm.ToPort);
      if (fromPort === undefined || toPort === undefined || Number.isNaN(fromPort) || Number.isNaN(toPort)) {
        throw new ServiceError('InvalidParameterValue', `Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.`, 400);
      }
      if ((ipProtocol === 'tcp' || ipProtocol === 'udp') && (fromPort < 0 || toPort > 65535 || fromPort > toPort)) {
        throw invalidValue(`Invalid TCP/UDP port range: ${fromPort}-${toPort}`);
      }
    }
    const ranges = list(perm.IpRanges);
    const pairs = list(perm.Groups);
    if (ranges.length === 0 && pairs.length === 0) {
      throw new ServiceError('InvalidParameterValue', 'Invalid value: a rule must name at least one source (IpRanges or Groups).', 400);
    }
    for (const range of ranges) {
      const cidrIp = requiredParam(range?.CidrIp, 'CidrIp');
      if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidrIp)) {
        throw invalidValue(`CIDR block ${cidrIp} is malformed`);
      }
      rules.push({ ipProtocol, fromPort, toPort, cidrIp, description: range.Description });
    }
    for (const pair of pairs) {
      const source = pair.GroupId
        ? getSecurityGroup(world, region, String(pair.GroupId))
        : groupFromParams(world, region, { GroupName: pair.GroupName });
      rules.push({ ipProtocol, fromPort, toPort, groupId: source.groupId, description: pair.Description });
    }
  }
  return rules;
}

function normaliseProtocol(value: unknown): string {
  const v = String(value ?? '').toLowerCase();
  const named: Record<string, string> = { '-1': '-1', all: '-1', tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', icmp: 'icmp', '1': 'icmp', icmpv6: 'icmpv6', '58': 'icmpv6' };
  if (named[v]) return named[v];
  if (/^\d+$/.test(v) && Number(v) <= 255) return v;
  if (v === '') throw missing('IpProtocol');
  throw invalidValue(`Invalid value '${value}' for IP protocol. Unknown protocol.`);
}

function sameRule(a: Omit<RuleRecord, 'ruleId'>, b: Omit<RuleRecord, 'ruleId'>): boolean {
  return (
    a.ipProtocol === b.ipProtocol &&
    a.fromPort === b.fromPort &&
    a.toPort === b.toPort &&
    a.cidrIp === b.cidrIp &&
    a.groupId === b.groupId
  );
}

function describeRule(r: Omit<RuleRecord, 'ruleId'>): string {
  const proto = r.ipProtocol === '-1' ? 'ALL' : r.ipProtocol.toUpperCase();
  const ports = r.ipProtocol === '-1' ? '' : `, from port: ${r.fromPort}, to port: ${r.toPort}`;
  return `peer: ${r.cidrIp ?? r.groupId}, ${proto}${ports}, ALLOW`;
}

function authorizeIngress(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const group = groupFromParams(world, req.region, p);
  const rules = requestedRules(world, req.region, p);
  for (const rule of rules) {
    if (group.ingress.some((existing) => sameRule(existing, rule))) {
      throw new ServiceError('InvalidPermission.Duplicate', `the specified rule "${describeRule(rule)}" already exists`, 400);
    }
  }
  const added = rules.map((r) => ({ ...r, ruleId: world.nextId('sgr-') }));
  group.ingress.push(...added);
  return {
    return: true,
    securityGroupRuleSet: added.map((r) => ({
      securityGroupRuleId: r.ruleId,
      groupId: group.groupId,
      groupOwnerId: world.settings.accountId,
      isEgress: false,
      ipProtocol: r.ipProtocol,
      fromPort: r.fromPort ?? -1,
      toPort: r.toPort ?? -1,
      cidrIpv4: r.cidrIp,
      referencedGroupInfo: r.groupId ? { groupId: r.groupId, userId: world.settings.accountId } : undefined,
      description: r.description,
    })),
  };
}

function revokeIngress(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const group = groupFromParams(world, req.region, p);
  const ruleIds = strings(p.SecurityGroupRuleId);
  if (ruleIds.length) {
    for (const id of ruleIds) {
      if (!group.ingress.some((r) => r.ruleId === id)) {
        throw new ServiceError('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist`, 400);
      }
    }
    group.ingress = group.ingress.filter((r) => !ruleIds.includes(r.ruleId));
    return { return: true };
  }
  const rules = requestedRules(world, req.region, p);
  for (const rule of rules) {
    if (!group.ingress.some((existing) => sameRule(existing, rule))) {
      throw new ServiceError('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.', 400);
    }
  }
  group.ingress = group.ingress.filter((existing) => !rules.some((r) => sameRule(existing, r)));
  return { return: true };
}

// ---------------------------------------------------------------------------------------------
// Images and instance types

function amiShape(ami: AmiRecord) {
  return {
    imageId: ami.imageId,
    imageLocation: `amazon/${ami.name}`,
    imageState: 'available',
    imageOwnerId: ami.ownerId,
    creationDate: ami.creationDate,
    isPublic: true,
    architecture: ami.architecture,
    imageType: 'machine',
    imageOwnerAlias: 'amazon',
    name: ami.name,
    description: ami.description,
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: [
      {
        deviceName: '/dev/xvda',
        ebs: {
          snapshotId: ami.snapshotId,
          volumeSize: ami.rootVolumeSize,
          deleteOnTermination: true,
          volumeType: 'gp3',
          iops: 3000,
          throughput: 125,
          encrypted: false,
        },
      },
    ],
    virtualizationType: 'hvm',
    hypervisor: 'xen',
    enaSupport: true,
    sriovNetSupport: 'simple',
    bootMode: 'uefi-preferred',
    imdsSupport: 'v2.0',
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    deprecationTime: '2027-02-25T01:12:34.000Z',
    productCodes: [],
    tagSet: [],
  };
}

function findAmi(world: World, region: string, imageId: string): AmiRecord {
  checkIdFormat(imageId, 'ami', 'InvalidAMIID.Malformed');
  const ami = amisIn(world, region).find((a) => a.imageId === imageId);
  if (!ami) throw new ServiceError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`, 400);
  return ami;
}

function describeImages(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.ImageId);
  const owners = strings(p.Owner);
  for (const id of ids) findAmi(world, req.region, id);
  let amis = amisIn(world, req.region).map((a) => ({ ...a, tags: {} as TagMap }));
  if (ids.length) amis = amis.filter((a) => ids.includes(a.imageId));
  if (owners.length) {
    amis = amis.filter((a) =>
      owners.some((o) => o === 'amazon' || o === a.ownerId || (o === 'self' && a.ownerId === world.settings.accountId)),
    );
  }
  amis = applyFilters(amis, p, {
    name: (a) => [a.name],
    'image-id': (a) => [a.imageId],
    architecture: (a) => [a.architecture],
    'owner-id': (a) => [a.ownerId],
    'owner-alias': () => ['amazon'],
    state: () => ['available'],
    'image-type': () => ['machine'],
    'is-public': () => [true],
    'root-device-type': () => ['ebs'],
    'root-device-name': () => ['/dev/xvda'],
    'virtualization-type': () => ['hvm'],
    hypervisor: () => ['xen'],
    description: (a) => [a.description],
    'platform-details': () => ['Linux/UNIX'],
  });
  const result = page(world, amis, p);
  return {
    imagesSet: result.items.map(amiShape),
    nextToken: result.nextToken,
  };
}

function describeInstanceTypes(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const requested = strings(p.InstanceType);
  const unknown = requested.filter((t) => !INSTANCE_TYPES.has(t));
  if (unknown.length) {
    throw new ServiceError('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown.join(', ')}]`, 400);
  }
  let types = (requested.length ? requested : [...INSTANCE_TYPES].sort()).map((t) => ({ instanceType: t, tags: {} as TagMap }));
  types = applyFilters(types, p, {
    'instance-type': (t) => [t.instanceType],
    'processor-info.supported-architecture': (t) => [architectureOf(t.instanceType)],
    'current-generation': (t) => [!/^(t1|m1|m2|m3|c1|c3|r3|i2|cc2|cr1|hs1|g2)\./.test(t.instanceType)],
    'vcpu-info.default-vcpus': (t) => [specsOf(t.instanceType)?.vcpus],
    'memory-info.size-in-mib': (t) => [specsOf(t.instanceType)?.memoryMiB],
  });
  const result = page(world, types, p, { min: 5, max: 100 });
  return {
    instanceTypeSet: result.items.map(({ instanceType }) => {
      const specs = specsOf(instanceType);
      return {
        instanceType,
        currentGeneration: !/^(t1|m1|m2|m3|c1|c3|r3|i2|cc2|cr1|hs1|g2)\./.test(instanceType),
        bareMetal: instanceType.includes('metal'),
        hypervisor: instanceType.includes('metal') ? undefined : 'nitro',
        processorInfo: { supportedArchitectures: [architectureOf(instanceType)] },
        vCpuInfo: specs ? { defaultVCpus: specs.vcpus } : undefined,
        memoryInfo: specs ? { sizeInMiB: specs.memoryMiB } : undefined,
        supportedRootDeviceTypes: ['ebs'],
        supportedVirtualizationTypes: ['hvm'],
      };
    }),
    nextToken: result.nextToken,
  };
}

// ---------------------------------------------------------------------------------------------
// Instances

function privateIp(subnet: SubnetRecord): string {
  const [base, prefix] = subnet.cidrBlock.split('/');
  const start = base.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(prefix));
  const host = subnet.nextHost;
  subnet.nextHost = host + 1 >= size - 1 ? 4 : host + 1;
  const n = start + host;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function dnsNames(region: string, inst: { privateIpAddress: string; publicIpAddress?: string }) {
  const internal = region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
  const external = region === 'us-east-1' ? 'compute-1.amazonaws.com' : `${region}.compute.amazonaws.com`;
  return {
    privateDnsName: `ip-${inst.privateIpAddress.replace(/\./g, '-')}.${internal}`,
    dnsName: inst.publicIpAddress ? `ec2-${inst.publicIpAddress.replace(/\./g, '-')}.${external}` : '',
  };
}

function decodeUserData(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  const text = String(value).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw invalidValue('Invalid BASE64 encoding of user data.');
  }
  const decoded = Buffer.from(text, 'base64');
  if (decoded.length > 16384) throw invalidValue('User data is limited to 16384 bytes');
  return decoded.toString('utf8');
}

interface LaunchPlan {
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
function planLaunch(req: SandboxRequest, world: World, p: Record<string, any>): LaunchPlan {
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

function planVolumes(ami: AmiRecord, mappings: any[]): LaunchPlan['volumes'] {
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
function requestHash(params: Record<string, any>): string {
  const entries = Object.entries(params)
    .filter(([k]) => k !== 'ClientToken' && k !== 'DryRun')
    .sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

function runInstances(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const s = state(world);
  const clientToken = p.ClientToken ? String(p.ClientToken) : undefined;
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
  const plan = planLaunch(req, world, p);
  const cpuCredits = launchCredits(plan.instanceType, p);
  dryRun(p);
  // Placement (ec2-offerings.ts): the zone must offer the type and have capacity left.
  checkPlacement(world, req.region, plan.instanceType, plan.subnet.availabilityZone, plan.count);

  const reservation: ReservationRecord = {
    reservationId: world.nextId('r-'),
    region: req.region,
    instanceIds: [],
    clientToken,
    requestHash: clientToken ? requestHash(req.params) : undefined,
  };
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
      tags: { ...(plan.tags.instance ?? {}) },
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
      wantsPublicIp: plan.wantsPublicIp,
      ...(cpuCredits ? { cpuCredits } : {}),
    };
    s.instances[instanceId] = instance;
    reservation.instanceIds.push(instanceId);
  }
  s.reservations[reservation.reservationId] = reservation;
  useCapacity(world, plan.subnet.availabilityZone, plan.count);
  return reservationShape(world, reservation);
}

function reservationShape(world: World, reservation: ReservationRecord, only?: Set<string>) {
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

function instanceShape(world: World, i: InstanceRecord) {
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
    sourceDestCheck: terminated ? undefined : true,
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
    ebsOptimized: false,
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

function lookupInstances(world: World, region: string, ids: string[]): InstanceRecord[] {
  for (const id of ids) checkIdFormat(id, 'i', 'InvalidInstanceID.Malformed');
  const missingIds = ids.filter((id) => state(world).instances[id]?.region !== region);
  if (missingIds.length) throw notFound('InvalidInstanceID.NotFound', 'instance ID', missingIds);
  return ids.map((id) => state(world).instances[id]);
}

function describeInstances(req: SandboxRequest, world: World) {
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

function terminateInstances(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.InstanceId);
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
    instancesSet: instances.map((inst) => {
      const previous = inst.state;
      if (inst.state === 'pending' || inst.state === 'running' || inst.state === 'stopping' || inst.state === 'stopped') {
        inst.state = 'shutting-down';
        inst.stateChangedAt = req.now;
        inst.stateTransitionReason = `User initiated (${when})`;
      }
      return {
        instanceId: inst.instanceId,
        currentState: { code: STATE_CODES[inst.state], name: inst.state },
        previousState: { code: STATE_CODES[previous], name: previous },
      };
    }),
  };
}

/** "User initiated (2026-11-25 12:00:00 GMT)", as EC2 writes stateTransitionReason. */
function userInitiated(now: number): string {
  return `User initiated (${new Date(now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' GMT')})`;
}

function stateChange(inst: InstanceRecord, previous: InstanceRecord['state']) {
  return {
    instanceId: inst.instanceId,
    currentState: { code: STATE_CODES[inst.state], name: inst.state },
    previousState: { code: STATE_CODES[previous], name: previous },
  };
}

/** StopInstances: running -> stopping -> (instanceTerminateMs) stopped. The instance keeps its volumes. */
function stopInstances(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.InstanceId);
  if (ids.length === 0) throw missing('InstanceId');
  const instances = lookupInstances(world, req.region, ids);
  for (const inst of instances) {
    if (inst.state === 'shutting-down' || inst.state === 'terminated' || inst.state === 'pending') {
      throw new ServiceError('IncorrectInstanceState', `This instance '${inst.instanceId}' is not in a state from which it can be stopped.`, 400);
    }
  }
  dryRun(p);
  return {
    instancesSet: instances.map((inst) => {
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
function startInstances(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.InstanceId);
  if (ids.length === 0) throw missing('InstanceId');
  const instances = lookupInstances(world, req.region, ids);
  for (const inst of instances) {
    if (inst.state !== 'stopped' && inst.state !== 'running' && inst.state !== 'pending') {
      throw new ServiceError('IncorrectInstanceState', `The instance '${inst.instanceId}' is not in a state from which it can be started.`, 400);
    }
  }
  dryRun(p);
  return {
    instancesSet: instances.map((inst) => {
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

function describeVolumes(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  let volumes = inRegion(state(world).volumes, req.region);
  const ids = strings(p.VolumeId);
  const missingIds = ids.filter((id) => !volumes.some((v) => v.volumeId === id));
  if (missingIds.length) throw notFound('InvalidVolume.NotFound', 'volume', missingIds);
  if (ids.length) volumes = volumes.filter((v) => ids.includes(v.volumeId));
  volumes = applyFilters(volumes, p, {
    'volume-id': (v) => [v.volumeId],
    'attachment.instance-id': (v) => [v.instanceId],
    'attachment.device': (v) => [v.deviceName],
    'volume-type': (v) => [v.volumeType],
    status: (v) => [v.state],
    encrypted: (v) => [v.encrypted],
    size: (v) => [v.size],
    'availability-zone': (v) => [v.availabilityZone],
  });
  const result = page(world, volumes, p);
  return {
    volumeSet: result.items.map((v) => ({
      volumeId: v.volumeId,
      size: v.size,
      snapshotId: v.snapshotId ?? '',
      availabilityZone: v.availabilityZone,
      status: v.state,
      createTime: new Date(v.createTime),
      attachmentSet: v.instanceId
        ? [{ volumeId: v.volumeId, instanceId: v.instanceId, device: v.deviceName, status: 'attached', attachTime: new Date(v.createTime), deleteOnTermination: v.deleteOnTermination }]
        : [],
      volumeType: v.volumeType,
      iops: v.iops,
      throughput: v.throughput,
      encrypted: v.encrypted,
      multiAttachEnabled: false,
      tagSet: Object.keys(v.tags).length ? tagSet(v.tags) : undefined,
    })),
    nextToken: result.nextToken,
  };
}

// ---------------------------------------------------------------------------------------------
// Tags

interface Taggable {
  resourceType: string;
  tags: TagMap;
}

/** The taggable resource with this id in the region, or the EC2 not-found error for its kind. */
function taggable(world: World, region: string, id: string): Taggable {
  const s = state(world);
  const kinds: [prefix: string, records: Record<string, { region: string; tags: TagMap }>, type: string, code: string, what: string][] = [
    ['i-', s.instances, 'instance', 'InvalidInstanceID.NotFound', 'instance ID'],
    ['sg-', s.securityGroups, 'security-group', 'InvalidGroup.NotFound', 'security group'],
    ['vpc-', s.vpcs, 'vpc', 'InvalidVpcID.NotFound', 'vpc ID'],
    ['subnet-', s.subnets, 'subnet', 'InvalidSubnetID.NotFound', 'subnet ID'],
    ['vol-', s.volumes, 'volume', 'InvalidVolume.NotFound', 'volume'],
    ['key-', s.keyPairs, 'key-pair', 'InvalidKeyPair.NotFound', 'key pair'],
  ];
  for (const [prefix, records, resourceType, code, what] of kinds) {
    if (!id.startsWith(prefix)) continue;
    const record = records[id];
    if (!record || record.region !== region) throw notFound(code, what, [id]);
    return { resourceType, tags: record.tags };
  }
  throw new ServiceError('InvalidID', `The ID '${id}' is not valid`, 400);
}

function createTags(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.ResourceId);
  if (ids.length === 0) throw missing('ResourceId');
  const tags = tagsFromList(list(p.Tag));
  const targets = ids.map((id) => taggable(world, req.region, id));
  dryRun(p);
  for (const t of targets) {
    if (Object.keys({ ...t.tags, ...tags }).length > 50) {
      throw new ServiceError('TagLimitExceeded', 'The maximum number of tags for a resource has been reached.', 400);
    }
    Object.assign(t.tags, tags);
  }
  return { return: true };
}

function deleteTags(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.ResourceId);
  if (ids.length === 0) throw missing('ResourceId');
  const targets = ids.map((id) => taggable(world, req.region, id));
  dryRun(p);
  const requested = list(p.Tag).filter((t) => t && t.Key !== undefined);
  for (const t of targets) {
    if (requested.length === 0) {
      for (const k of Object.keys(t.tags)) delete t.tags[k];
      continue;
    }
    for (const tag of requested) {
      // A tag given with a value is deleted only if the value matches.
      if (tag.Value === undefined || t.tags[tag.Key] === String(tag.Value)) delete t.tags[tag.Key];
    }
  }
  return { return: true };
}

function describeTags(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const s = state(world);
  const all: { resourceId: string; resourceType: string; key: string; value: string; tags: TagMap }[] = [];
  const add = (id: string, type: string, tags: TagMap) => {
    for (const [key, value] of Object.entries(tags)) all.push({ resourceId: id, resourceType: type, key, value, tags: { [key]: value } });
  };
  for (const i of inRegion(s.instances, req.region)) add(i.instanceId, 'instance', i.tags);
  for (const g of inRegion(s.securityGroups, req.region)) add(g.groupId, 'security-group', g.tags);
  for (const v of inRegion(s.vpcs, req.region)) add(v.vpcId, 'vpc', v.tags);
  for (const sn of inRegion(s.subnets, req.region)) add(sn.subnetId, 'subnet', sn.tags);
  for (const v of inRegion(s.volumes, req.region)) add(v.volumeId, 'volume', v.tags);
  for (const k of inRegion(s.keyPairs, req.region)) add(k.keyPairId, 'key-pair', k.tags);
  const filtered = applyFilters(all, p, {
    'resource-id': (t) => [t.resourceId],
    'resource-type': (t) => [t.resourceType],
    key: (t) => [t.key],
    value: (t) => [t.value],
  });
  const result = page(world, filtered, p);
  return {
    tagSet: result.items.map(({ resourceId, resourceType, key, value }) => ({ resourceId, resourceType, key, value })),
    nextToken: result.nextToken,
  };
}

// ---------------------------------------------------------------------------------------------

/** Every handler first makes sure the request's region has its default network. */
function regional(handler: (req: SandboxRequest, world: World) => unknown) {
  return (req: SandboxRequest, world: World) => {
    seedRegion(world, req.region);
    return handler(req, world);
  };
}

export const ec2: ServiceModule = {
  name: 'ec2',
  protocol: 'ec2',
  apiVersion: '2016-11-15',
  xmlNamespace: 'http://ec2.amazonaws.com/doc/2016-11-15/',
  initState,
  tick,
  operations: {
    DescribeVpcs: { mutating: false, handler: regional(describeVpcs) },
    DescribeSubnets: { mutating: false, handler: regional(describeSubnets) },
    DescribeAvailabilityZones: { mutating: false, handler: regional(describeAvailabilityZones) },

    CreateKeyPair: { mutating: true, handler: regional(createKeyPair) },
    DescribeKeyPairs: { mutating: false, handler: regional(describeKeyPairs) },
    DeleteKeyPair: { mutating: true, handler: regional(deleteKeyPair) },

    CreateSecurityGroup: { mutating: true, handler: regional(createSecurityGroup) },
    DescribeSecurityGroups: { mutating: false, handler: regional(describeSecurityGroups) },
    DeleteSecurityGroup: { mutating: true, handler: regional(deleteSecurityGroup) },
    AuthorizeSecurityGroupIngress: { mutating: true, handler: regional(authorizeIngress) },
    RevokeSecurityGroupIngress: { mutating: true, handler: regional(revokeIngress) },

    DescribeImages: { mutating: false, handler: regional(describeImages) },
    DescribeInstanceTypes: { mutating: false, handler: regional(describeInstanceTypes) },
    DescribeInstanceTypeOfferings: { mutating: false, handler: regional(describeInstanceTypeOfferings) },
    DescribeInstanceCreditSpecifications: { mutating: false, handler: regional(describeInstanceCreditSpecifications) },
    ModifyInstanceCreditSpecification: { mutating: true, handler: regional(modifyInstanceCreditSpecification) },

    RunInstances: { mutating: true, handler: regional(runInstances) },
    DescribeInstances: { mutating: false, handler: regional(describeInstances) },
    TerminateInstances: { mutating: true, handler: regional(terminateInstances) },
    StopInstances: { mutating: true, handler: regional(stopInstances) },
    StartInstances: { mutating: true, handler: regional(startInstances) },
    DescribeVolumes: { mutating: false, handler: regional(describeVolumes) },

    CreateTags: { mutating: true, handler: regional(createTags) },
    DeleteTags: { mutating: true, handler: regional(deleteTags) },
    DescribeTags: { mutating: false, handler: regional(describeTags) },
  },
};

/** Ids of the built-in network in a region (for tests and documentation). */
/** What the built-in network ids are derived from: the region, and the account unless it is the default one. */
function networkScope(region: string, accountId: string): string {
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
