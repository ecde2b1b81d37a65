/** EC2 images (the built-in ECS-optimized AMIs, ec2-data.ts) and instance types. */
import {
  DescribeImagesRequest$,
  DescribeImagesResult$,
  DescribeInstanceTypesRequest$,
  DescribeInstanceTypesResult$,
  DescribeInstanceTypeOfferingsRequest$,
  DescribeInstanceTypeOfferingsResult$,
  type DescribeInstanceTypeOfferingsRequest,
  type DescribeInstanceTypeOfferingsResult,
  type _InstanceType,
  type ArchitectureValues,
  type DescribeImagesRequest,
  type DescribeImagesResult,
  type DescribeInstanceTypesRequest,
  type DescribeInstanceTypesResult,
  type Image,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation } from '../../types.js';
import type { TagMap } from '../util.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { filterItems, pageOf } from './common.js';
import { describeInstanceTypeOfferings } from './ec2-offerings.js';
import { INSTANCE_TYPES, amisIn, architectureOf, specsOf, type AmiRecord } from './ec2-data.js';
import { findAmi } from './lookups.js';
import { seeded } from './state.js';

export function amiShape(ami: AmiRecord): Image {
  return {
    ImageId: ami.imageId,
    ImageLocation: `amazon/${ami.name}`,
    State: 'available',
    OwnerId: ami.ownerId,
    CreationDate: ami.creationDate,
    Public: true,
    Architecture: ami.architecture as ArchitectureValues,
    ImageType: 'machine',
    ImageOwnerAlias: 'amazon',
    Name: ami.name,
    Description: ami.description,
    RootDeviceType: 'ebs',
    RootDeviceName: '/dev/xvda',
    BlockDeviceMappings: [
      {
        DeviceName: '/dev/xvda',
        Ebs: { SnapshotId: ami.snapshotId, VolumeSize: ami.rootVolumeSize, DeleteOnTermination: true, VolumeType: 'gp3', Iops: 3000, Throughput: 125, Encrypted: false },
      },
    ],
    VirtualizationType: 'hvm',
    Hypervisor: 'xen',
    EnaSupport: true,
    SriovNetSupport: 'simple',
    BootMode: 'uefi-preferred',
    ImdsSupport: 'v2.0',
    PlatformDetails: 'Linux/UNIX',
    UsageOperation: 'RunInstances',
    DeprecationTime: '2027-02-25T01:12:34.000Z',
    ProductCodes: [],
    Tags: [],
  };
}

export function describeImages(input: DescribeImagesRequest, { world, region }: Call): DescribeImagesResult {
  const ids = input.ImageIds ?? [];
  const owners = input.Owners ?? [];
  for (const id of ids) findAmi(world, region, id);
  let amis = amisIn(world, region).map((a) => ({ ...a, tags: {} as TagMap }));
  if (ids.length) amis = amis.filter((a) => ids.includes(a.imageId));
  if (owners.length) {
    amis = amis.filter((a) =>
      owners.some((o) => o === 'amazon' || o === a.ownerId || (o === 'self' && a.ownerId === world.settings.accountId)),
    );
  }
  amis = filterItems(amis, input.Filters, {
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
  const result = pageOf(world, amis, input.MaxResults, input.NextToken);
  return { Images: result.items.map(amiShape), NextToken: result.nextToken };
}

const currentGeneration = (t: string) => !/^(t1|m1|m2|m3|c1|c3|r3|i2|cc2|cr1|hs1|g2)\./.test(t);

export function describeInstanceTypes(input: DescribeInstanceTypesRequest, { world }: Call): DescribeInstanceTypesResult {
  const requested: string[] = input.InstanceTypes ?? [];
  const unknown = requested.filter((t) => !INSTANCE_TYPES.has(t));
  if (unknown.length) {
    throw new ServiceError('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown.join(', ')}]`, 400);
  }
  let types = (requested.length ? requested : [...INSTANCE_TYPES].sort()).map((t) => ({ instanceType: t, tags: {} as TagMap }));
  types = filterItems(types, input.Filters, {
    'instance-type': (t) => [t.instanceType],
    'processor-info.supported-architecture': (t) => [architectureOf(t.instanceType)],
    'current-generation': (t) => [currentGeneration(t.instanceType)],
    'vcpu-info.default-vcpus': (t) => [specsOf(t.instanceType)?.vcpus],
    'memory-info.size-in-mib': (t) => [specsOf(t.instanceType)?.memoryMiB],
  });
  const result = pageOf(world, types, input.MaxResults, input.NextToken, { min: 5, max: 100 });
  return {
    InstanceTypes: result.items.map(({ instanceType }) => {
      const specs = specsOf(instanceType);
      return {
        InstanceType: instanceType as _InstanceType,
        CurrentGeneration: currentGeneration(instanceType),
        BareMetal: instanceType.includes('metal'),
        Hypervisor: instanceType.includes('metal') ? undefined : 'nitro',
        ProcessorInfo: { SupportedArchitectures: [architectureOf(instanceType)] },
        VCpuInfo: specs ? { DefaultVCpus: specs.vcpus } : undefined,
        MemoryInfo: specs ? { SizeInMiB: specs.memoryMiB } : undefined,
        SupportedRootDeviceTypes: ['ebs'],
        SupportedVirtualizationTypes: ['hvm'],
      };
    }),
    NextToken: result.nextToken,
  };
}

export const operations: Record<string, Operation> = {
  DescribeImages: typedOperation<DescribeImagesRequest, DescribeImagesResult>({
    mutating: false,
    decode: ec2Decoder(DescribeImagesRequest$),
    encode: ec2Encoder(DescribeImagesResult$),
    handler: seeded(describeImages),
  }),
  DescribeInstanceTypes: typedOperation<DescribeInstanceTypesRequest, DescribeInstanceTypesResult>({
    mutating: false,
    decode: ec2Decoder(DescribeInstanceTypesRequest$),
    encode: ec2Encoder(DescribeInstanceTypesResult$),
    handler: seeded(describeInstanceTypes),
  }),
  DescribeInstanceTypeOfferings: typedOperation<DescribeInstanceTypeOfferingsRequest, DescribeInstanceTypeOfferingsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeInstanceTypeOfferingsRequest$),
    encode: ec2Encoder(DescribeInstanceTypeOfferingsResult$),
    handler: seeded(describeInstanceTypeOfferings),
  }),
};
