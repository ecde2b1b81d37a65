/**
 * Static EC2 data the sandbox serves: the instance types EC2 accepts, the ECS-optimized Amazon Linux
 * 2023 AMIs (which SSM also publishes), and deterministic ids for per-region default resources.
 */

import { createHash } from 'node:crypto';

/**
 * Real instance types by family (from the EC2 API model's InstanceType enum, plus newer families).
 * RunInstances rejects anything else with InvalidParameterValue, as EC2 does.
 */
const INSTANCE_FAMILIES: Record<string, string> = {
  a1: 'medium large xlarge 2xlarge 4xlarge metal',
  c1: 'medium xlarge',
  c3: 'large xlarge 2xlarge 4xlarge 8xlarge',
  c4: 'large xlarge 2xlarge 4xlarge 8xlarge',
  c5: 'large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge metal',
  c5a: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge',
  c5ad: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge',
  c5d: 'large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge metal',
  c5n: 'large xlarge 2xlarge 4xlarge 9xlarge 18xlarge metal',
  c6g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal',
  c6gd: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal',
  c6gn: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  c6i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal',
  cc1: '4xlarge',
  cc2: '8xlarge',
  cg1: '4xlarge',
  cr1: '8xlarge',
  d2: 'xlarge 2xlarge 4xlarge 8xlarge',
  d3: 'xlarge 2xlarge 4xlarge 8xlarge',
  d3en: 'xlarge 2xlarge 4xlarge 6xlarge 8xlarge 12xlarge',
  dl1: '24xlarge',
  f1: '2xlarge 4xlarge 16xlarge',
  g2: '2xlarge 8xlarge',
  g3: '4xlarge 8xlarge 16xlarge',
  g3s: 'xlarge',
  g4ad: 'xlarge 2xlarge 4xlarge 8xlarge 16xlarge',
  g4dn: 'xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal',
  g5: 'xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge',
  g5g: 'xlarge 2xlarge 4xlarge 8xlarge 16xlarge metal',
  hi1: '4xlarge',
  hpc6a: '48xlarge',
  hs1: '8xlarge',
  h1: '2xlarge 4xlarge 8xlarge 16xlarge',
  i2: 'xlarge 2xlarge 4xlarge 8xlarge',
  i3: 'large xlarge 2xlarge 4xlarge 8xlarge 16xlarge metal',
  i3en: 'large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 24xlarge metal',
  im4gn: 'large xlarge 2xlarge 4xlarge 8xlarge 16xlarge',
  inf1: 'xlarge 2xlarge 6xlarge 24xlarge',
  is4gen: 'medium large xlarge 2xlarge 4xlarge 8xlarge',
  m1: 'small medium large xlarge',
  m2: 'xlarge 2xlarge 4xlarge',
  m3: 'medium large xlarge 2xlarge',
  m4: 'large xlarge 2xlarge 4xlarge 10xlarge 16xlarge',
  m5: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  m5a: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge',
  m5ad: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge',
  m5d: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  m5dn: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  m5n: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  m5zn: 'large xlarge 2xlarge 3xlarge 6xlarge 12xlarge metal',
  m6a: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal',
  m6g: 'metal medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  m6gd: 'metal medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  m6i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal',
  mac1: 'metal',
  p2: 'xlarge 8xlarge 16xlarge',
  p3: '2xlarge 8xlarge 16xlarge',
  p3dn: '24xlarge',
  p4d: '24xlarge',
  r3: 'large xlarge 2xlarge 4xlarge 8xlarge',
  r4: 'large xlarge 2xlarge 4xlarge 8xlarge 16xlarge',
  r5: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  r5a: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge',
  r5ad: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge',
  r5b: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  r5d: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  r5dn: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  r5n: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal',
  r6g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal',
  r6gd: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal',
  r6i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal',
  t1: 'micro',
  t2: 'nano micro small medium large xlarge 2xlarge',
  t3: 'nano micro small medium large xlarge 2xlarge',
  t3a: 'nano micro small medium large xlarge 2xlarge',
  t4g: 'nano micro small medium large xlarge 2xlarge',
  'u-6tb1': '56xlarge 112xlarge metal',
  'u-9tb1': '112xlarge metal',
  'u-12tb1': '112xlarge metal',
  'u-18tb1': 'metal 112xlarge',
  'u-24tb1': 'metal 112xlarge',
  vt1: '3xlarge 6xlarge 24xlarge',
  x1: '16xlarge 32xlarge',
  x1e: 'xlarge 2xlarge 4xlarge 8xlarge 16xlarge 32xlarge',
  x2iezn: '2xlarge 4xlarge 6xlarge 8xlarge 12xlarge metal',
  x2gd: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal',
  z1d: 'large xlarge 2xlarge 3xlarge 6xlarge 12xlarge metal',
  x2idn: '16xlarge 24xlarge 32xlarge metal',
  x2iedn: 'xlarge 2xlarge 4xlarge 8xlarge 16xlarge 24xlarge 32xlarge metal',
  c6a: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal',
  i4i: 'large xlarge 2xlarge 4xlarge 8xlarge 16xlarge 32xlarge metal',
  c7g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge',
  mac2: 'metal',
  c6id: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal',
  m6id: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal',
  r6id: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal',
  r6a: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal',
  p4de: '24xlarge',
  'u-3tb1': '56xlarge',
  trn1: '2xlarge 32xlarge',
  hpc6id: '32xlarge',
  c6in: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  m6in: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  m6idn: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  r6in: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  r6idn: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge',
  c7i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl',
  m7i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl',
  r7i: 'large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl',
  'm7i-flex': 'large xlarge 2xlarge 4xlarge 8xlarge',
  c7a: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal-48xl',
  m7a: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal-48xl',
  r7a: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal-48xl',
  c7gn: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal',
  c8g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl',
  m8g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl',
  r8g: 'medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-24xl metal-48xl',
};

export const INSTANCE_TYPES: ReadonlySet<string> = new Set(
  Object.entries(INSTANCE_FAMILIES).flatMap(([family, sizes]) => sizes.split(' ').map((size) => `${family}.${size}`)),
);

/** Graviton families (a1, t4g, m6g, c7gn, r8g, im4gn, ...) are arm64; the rest are x86_64. */
export function architectureOf(instanceType: string): 'arm64' | 'x86_64' {
  const family = instanceType.split('.')[0];
  return /^(a1|[a-z]+\d+g[a-z]*)$/.test(family) ? 'arm64' : 'x86_64';
}

const BURSTABLE: Record<string, [vcpus: number, mib: number]> = {
  nano: [2, 512],
  micro: [2, 1024],
  small: [2, 2048],
  medium: [2, 4096],
  large: [2, 8192],
  xlarge: [4, 16384],
  '2xlarge': [8, 32768],
};

/**
 * vCPUs and memory for the common general purpose (m), compute (c), memory (r) and burstable (t3,
 * t3a, t4g) families; undefined for the rest (DescribeInstanceTypes then leaves them out).
 */
export function specsOf(instanceType: string): { vcpus: number; memoryMiB: number } | undefined {
  const [family, size] = instanceType.split('.');
  if (!INSTANCE_TYPES.has(instanceType)) return undefined;
  if (/^t(3|3a|4g)$/.test(family)) {
    const spec = BURSTABLE[size];
    return spec && { vcpus: spec[0], memoryMiB: spec[1] };
  }
  const perVcpuGiB = { m: 4, c: 2, r: 8 }[family[0]];
  if (!perVcpuGiB || !/^[mcr][5-8]/.test(family)) return undefined;
  const match = /^(?:(\d*)xlarge|(large)|(medium))$/.exec(size);
  if (!match) return undefined;
  const vcpus = match[3] ? 1 : match[2] ? 2 : 4 * Number(match[1] || 1);
  return { vcpus, memoryMiB: vcpus * perVcpuGiB * 1024 };
}

/** A deterministic, AWS-looking id ("vpc-0" + 16 hex digits) for a per-region built-in resource. */
export function builtinId(prefix: string, region: string, label: string): string {
  return `${prefix}0${createHash('sha256').update(`${region}/${label}`).digest('hex').slice(0, 16)}`;
}

export const AMAZON_OWNER_ID = '591542846629';
export const AMAZON_LINUX_OWNER_ID = '137112412989';

export interface AmiRecord {
  imageId: string;
  name: string;
  description: string;
  architecture: 'x86_64' | 'arm64';
  ownerId: string;
  creationDate: string;
  rootVolumeSize: number;
  snapshotId: string;
  /** The SSM parameter path this AMI is published under, if any. */
  ssmPath?: string;
  /** SSM parameter fields (ecs_agent_version, ...). */
  ssmFields?: Record<string, string | number>;
}

const ECS_AMI_VERSION = '2023.0.20250224';
const AL2023_SOURCE_VERSION = '2023.6.20250218.2';
export const ECS_AGENT_VERSION = '1.91.2';

function ecsAmi(region: string, architecture: 'x86_64' | 'arm64', version = ECS_AMI_VERSION, creationDate = '2025-02-25T01:12:34.000Z'): AmiRecord {
  const name = `al2023-ami-ecs-hvm-${version}-kernel-6.1-${architecture}`;
  return {
    imageId: builtinId('ami-', region, name),
    name,
    description: `Amazon Linux AMI ${version} ${architecture} ECS HVM EBS`,
    architecture,
    ownerId: AMAZON_OWNER_ID,
    creationDate,
    rootVolumeSize: 30,
    snapshotId: builtinId('snap-', region, name),
    ssmPath:
      architecture === 'x86_64'
        ? '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended'
        : '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended',
    ssmFields: {
      ecs_agent_version: ECS_AGENT_VERSION,
      ecs_runtime_version: 'Docker version 25.0.8',
      image_name: name,
      os: 'Amazon Linux 2023',
      schema_version: 1,
      source_image_name: `al2023-ami-minimal-${AL2023_SOURCE_VERSION}-kernel-6.1-${architecture}`,
    },
  };
}

function plainAl2023Ami(region: string): AmiRecord {
  const name = `al2023-ami-${AL2023_SOURCE_VERSION}-kernel-6.1-x86_64`;
  return {
    imageId: builtinId('ami-', region, name),
    name,
    description: 'Amazon Linux 2023 AMI 2023.6.20250218.2 x86_64 HVM kernel-6.1',
    architecture: 'x86_64',
    ownerId: AMAZON_LINUX_OWNER_ID,
    creationDate: '2025-02-19T22:10:05.000Z',
    rootVolumeSize: 8,
    snapshotId: builtinId('snap-', region, name),
  };
}

/** The public AMIs available in a region: the ECS-optimized AL2023 x86_64 and arm64, and plain AL2023. */
export function amisForRegion(region: string): AmiRecord[] {
  return [ecsAmi(region, 'x86_64'), ecsAmi(region, 'arm64'), plainAl2023Ami(region)];
}

/** The ECS-optimized AMI releases published since the built-in ones, by region (Ec2State.amiReleases). */
export interface AmiReleases {
  amiReleases?: Record<string, AmiRecord[]>;
}

/** A world whose EC2 state may hold releases (the sandbox's World, or a test's). */
type WithReleases = { state: { ec2?: AmiReleases } };

/**
 * The AMIs of a region including the ECS-optimized releases published since (publishEcsAmi): a
 * release is what SSM's recommended parameter names from then on; older AMIs stay launchable.
 */
export function amisIn(world: WithReleases, region: string): AmiRecord[] {
  const releases: AmiRecord[] = world.state.ec2?.amiReleases?.[region] ?? [];
  const builtin = amisForRegion(region);
  return [...builtin, ...releases.filter((r) => !builtin.some((b) => b.imageId === r.imageId))];
}

/** The AMI SSM recommends for an architecture: the latest release, else the built-in one. */
export function recommendedEcsAmi(world: WithReleases, region: string, architecture: 'x86_64' | 'arm64'): AmiRecord {
  const releases: AmiRecord[] = (world.state.ec2?.amiReleases?.[region] ?? []).filter((r) => r.architecture === architecture && r.ssmPath);
  return releases[releases.length - 1] ?? ecsAmi(region, architecture);
}

/**
 * A new ECS-optimized AMI release (tests: "the recommended AMI moved"). EC2 knows it from now on and
 * SSM's recommended parameter names it; the earlier AMIs stay describable and launchable.
 * Stored in world.state.ec2.amiReleases, so it persists with the state file.
 */
export function publishEcsAmi(world: WithReleases, region: string, architecture: 'x86_64' | 'arm64' = 'x86_64', version?: string): AmiRecord {
  const ec2 = (world.state.ec2 ??= {});
  const byRegion: Record<string, AmiRecord[]> = (ec2.amiReleases ??= {});
  const list = (byRegion[region] ??= []);
  const n = list.filter((r) => r.architecture === architecture).length + 1;
  const v = version ?? `2023.0.2025030${Math.min(n, 9)}${n > 9 ? n : ''}`;
  const ami = ecsAmi(region, architecture, v, new Date(Date.UTC(2025, 2, n)).toISOString());
  if (!list.some((r) => r.imageId === ami.imageId)) list.push(ami);
  return ami;
}

/** Availability zones of a region: region + a, b, c (zone ids like use1-az1). */
export function availabilityZones(region: string): { zoneName: string; zoneId: string }[] {
  const short = region.replace(/^(\w\w)-(\w)\w*-(\d+)$/, (_, a: string, b: string, n: string) => `${a}${b}${n}`);
  return ['a', 'b', 'c'].map((letter, i) => ({ zoneName: `${region}${letter}`, zoneId: `${short}-az${i + 1}` }));
}
