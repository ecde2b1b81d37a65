/** EC2 VPCs, subnets and availability zones (the built-in network is seeded in state.ts). */
import { unflatten } from '../../protocols/query.js';
import type { Operation, SandboxRequest, World } from '../../types.js';
import type { TagMap } from '../util.js';
import { applyFilters, inRegion, notFound, page, strings, tagSet } from './common.js';
import { availabilityZones, builtinId } from './ec2-data.js';
import { regional, state } from './state.js';

export interface VpcRecord {
  vpcId: string;
  region: string;
  cidrBlock: string;
  isDefault: boolean;
  dhcpOptionsId: string;
  tags: TagMap;
}

export interface SubnetRecord {
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

export function availableIps(world: World, subnet: SubnetRecord): number {
  const prefix = Number(subnet.cidrBlock.split('/')[1]);
  const used = Object.values(state(world).instances).filter(
    (i) => i.subnetId === subnet.subnetId && i.state !== 'terminated',
  ).length;
  return 2 ** (32 - prefix) - 5 - used;
}

export function describeVpcs(req: SandboxRequest, world: World) {
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

export function describeSubnets(req: SandboxRequest, world: World) {
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

export function describeAvailabilityZones(req: SandboxRequest) {
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

export const operations: Record<string, Operation> = {
  DescribeVpcs: { mutating: false, handler: regional(describeVpcs) },
  DescribeSubnets: { mutating: false, handler: regional(describeSubnets) },
  DescribeAvailabilityZones: { mutating: false, handler: regional(describeAvailabilityZones) },
};
