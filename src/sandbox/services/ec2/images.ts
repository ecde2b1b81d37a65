/** EC2 images (the built-in ECS-optimized AMIs, ec2-data.ts) and instance types. */
import { unflatten } from '../../protocols/query.js';
import { ServiceError, type Operation, type SandboxRequest, type World } from '../../types.js';
import type { TagMap } from '../util.js';
import { applyFilters, checkIdFormat, page, strings } from './common.js';
import { describeInstanceTypeOfferings } from './ec2-offerings.js';
import { regional } from './state.js';
import { INSTANCE_TYPES, amisIn, architectureOf, specsOf, type AmiRecord } from './ec2-data.js';

export function amiShape(ami: AmiRecord) {
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

export function findAmi(world: World, region: string, imageId: string): AmiRecord {
  checkIdFormat(imageId, 'ami', 'InvalidAMIID.Malformed');
  const ami = amisIn(world, region).find((a) => a.imageId === imageId);
  if (!ami) throw new ServiceError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`, 400);
  return ami;
}

export function describeImages(req: SandboxRequest, world: World) {
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

export function describeInstanceTypes(req: SandboxRequest, world: World) {
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

export const operations: Record<string, Operation> = {
  DescribeImages: { mutating: false, handler: regional(describeImages) },
  DescribeInstanceTypes: { mutating: false, handler: regional(describeInstanceTypes) },
  DescribeInstanceTypeOfferings: { mutating: false, handler: regional(describeInstanceTypeOfferings) },
};
