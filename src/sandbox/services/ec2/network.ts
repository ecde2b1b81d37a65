/** EC2 VPCs, subnets and availability zones (the built-in network is seeded in state.ts). */
import {
  DescribeAvailabilityZonesRequest$,
  DescribeAvailabilityZonesResult$,
  DescribeSubnetsRequest$,
  DescribeSubnetsResult$,
  DescribeVpcsRequest$,
  DescribeVpcsResult$,
  type DescribeAvailabilityZonesRequest,
  type DescribeAvailabilityZonesResult,
  type DescribeSubnetsRequest,
  type DescribeSubnetsResult,
  type DescribeVpcsRequest,
  type DescribeVpcsResult,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import type { Operation, World } from '../../types.js';
import type { TagMap } from '../util.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { filterItems, inRegion, notFound, pageOf, sdkTags } from './common.js';
import { availabilityZones, builtinId } from './ec2-data.js';
import type { SubnetRecord } from './records.js';
import { seeded, state } from './state.js';

export function availableIps(world: World, subnet: SubnetRecord): number {
  const prefix = Number(subnet.cidrBlock.split('/')[1]);
  const used = Object.values(state(world).instances).filter(
    (i) => i.subnetId === subnet.subnetId && i.state !== 'terminated',
  ).length;
  return 2 ** (32 - prefix) - 5 - used;
}

export function describeVpcs(input: DescribeVpcsRequest, { world, region }: Call): DescribeVpcsResult {
  let vpcs = inRegion(state(world).vpcs, region);
  const ids = input.VpcIds ?? [];
  if (ids.length) {
    const missingIds = ids.filter((id) => !vpcs.some((v) => v.vpcId === id));
    if (missingIds.length) throw notFound('InvalidVpcID.NotFound', 'vpc ID', missingIds);
    vpcs = vpcs.filter((v) => ids.includes(v.vpcId));
  }
  // Besides the documented names, EC2 still accepts the camelCase ones of older documentation
  // (isDefault, vpcId, cidrBlock) and cidr-block, as moto also models.
  vpcs = filterItems(vpcs, input.Filters, {
    'vpc-id': (v) => [v.vpcId],
    vpcId: (v) => [v.vpcId],
    'is-default': (v) => [v.isDefault],
    isDefault: (v) => [v.isDefault],
    'cidr': (v) => [v.cidrBlock],
    'cidr-block': (v) => [v.cidrBlock],
    cidrBlock: (v) => [v.cidrBlock],
    'cidr-block-association.cidr-block': (v) => [v.cidrBlock],
    'cidr-block-association.state': () => ['associated'],
    'dhcp-options-id': (v) => [v.dhcpOptionsId],
    dhcpOptionsId: (v) => [v.dhcpOptionsId],
    'owner-id': () => [world.settings.accountId],
    state: () => ['available'],
  });
  const result = pageOf(world, vpcs, input.MaxResults, input.NextToken);
  return {
    Vpcs: result.items.map((v) => ({
      VpcId: v.vpcId,
      OwnerId: world.settings.accountId,
      State: 'available',
      CidrBlock: v.cidrBlock,
      CidrBlockAssociationSet: [
        { CidrBlock: v.cidrBlock, AssociationId: builtinId('vpc-cidr-assoc-', v.region, v.vpcId), CidrBlockState: { State: 'associated' } },
      ],
      DhcpOptionsId: v.dhcpOptionsId,
      InstanceTenancy: 'default',
      IsDefault: v.isDefault,
      Tags: sdkTags(v.tags),
    })),
    NextToken: result.nextToken,
  };
}

export function describeSubnets(input: DescribeSubnetsRequest, { world, region }: Call): DescribeSubnetsResult {
  let subnets = inRegion(state(world).subnets, region);
  const ids = input.SubnetIds ?? [];
  if (ids.length) {
    const missingIds = ids.filter((id) => !subnets.some((s) => s.subnetId === id));
    if (missingIds.length) throw notFound('InvalidSubnetID.NotFound', 'subnet ID', missingIds);
    subnets = subnets.filter((s) => ids.includes(s.subnetId));
  }
  // The documented aliases (availabilityZone, availabilityZoneId, cidr, cidrBlock, defaultForAz) and
  // vpcId, which EC2 accepts from older documentation.
  subnets = filterItems(subnets, input.Filters, {
    'subnet-id': (s) => [s.subnetId],
    subnetId: (s) => [s.subnetId],
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
    availableIpAddressCount: (s) => [availableIps(world, s)],
    'map-public-ip-on-launch': (s) => [s.mapPublicIpOnLaunch],
    'cidr-block': (s) => [s.cidrBlock],
    cidr: (s) => [s.cidrBlock],
    cidrBlock: (s) => [s.cidrBlock],
    'owner-id': () => [world.settings.accountId],
    state: () => ['available'],
  });
  const result = pageOf(world, subnets, input.MaxResults, input.NextToken);
  return {
    Subnets: result.items.map((s) => ({
      SubnetId: s.subnetId,
      SubnetArn: `arn:aws:ec2:${s.region}:${world.settings.accountId}:subnet/${s.subnetId}`,
      State: 'available',
      OwnerId: world.settings.accountId,
      VpcId: s.vpcId,
      CidrBlock: s.cidrBlock,
      AvailableIpAddressCount: availableIps(world, s),
      AvailabilityZone: s.availabilityZone,
      AvailabilityZoneId: s.availabilityZoneId,
      DefaultForAz: s.defaultForAz,
      MapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
      AssignIpv6AddressOnCreation: false,
      Tags: sdkTags(s.tags),
    })),
    NextToken: result.nextToken,
  };
}

export function describeAvailabilityZones(input: DescribeAvailabilityZonesRequest, { region }: Call): DescribeAvailabilityZonesResult {
  const names = input.ZoneNames ?? [];
  const zoneIds = input.ZoneIds ?? [];
  const zones = availabilityZones(region).map((z) => ({ ...z, tags: {} as TagMap }));
  const selected = filterItems(
    names.length || zoneIds.length ? zones.filter((z) => names.includes(z.zoneName) || zoneIds.includes(z.zoneId)) : zones,
    input.Filters,
    {
      'zone-name': (z) => [z.zoneName],
      'zone-id': (z) => [z.zoneId],
      'region-name': () => [region],
      state: () => ['available'],
      'zone-type': () => ['availability-zone'],
      'group-name': () => [region],
      'opt-in-status': () => ['opt-in-not-required'],
    },
  );
  return {
    AvailabilityZones: selected.map((z) => ({
      ZoneName: z.zoneName,
      ZoneId: z.zoneId,
      State: 'available',
      RegionName: region,
      ZoneType: 'availability-zone',
      OptInStatus: 'opt-in-not-required',
      GroupName: region,
      NetworkBorderGroup: region,
      Messages: [],
    })),
  };
}

export const operations: Record<string, Operation> = {
  DescribeVpcs: typedOperation<DescribeVpcsRequest, DescribeVpcsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeVpcsRequest$),
    encode: ec2Encoder(DescribeVpcsResult$),
    handler: seeded(describeVpcs),
  }),
  DescribeSubnets: typedOperation<DescribeSubnetsRequest, DescribeSubnetsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeSubnetsRequest$),
    encode: ec2Encoder(DescribeSubnetsResult$),
    handler: seeded(describeSubnets),
  }),
  DescribeAvailabilityZones: typedOperation<DescribeAvailabilityZonesRequest, DescribeAvailabilityZonesResult>({
    mutating: false,
    decode: ec2Decoder(DescribeAvailabilityZonesRequest$),
    encode: ec2Encoder(DescribeAvailabilityZonesResult$),
    handler: seeded(describeAvailabilityZones),
  }),
};
