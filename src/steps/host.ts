/**
 * What an EC2 container host is launched with, shared by the `instance` step (one instance) and the
 * `launch-template` step (every instance of the Auto Scaling group):
 *
 *   the ECS-optimized Amazon Linux 2023 AMI from SSM for the instance type's architecture (arm64 for
 *   Graviton), the user data (ECS_CLUSTER, the IMDS block for bridge containers, the host facts for the
 *   logging container), IMDSv2 with hop limit 1, standard CPU credits for burstable types, and the
 *   read-only checks of the settings: the instance type (EC2 must know it), the key pair (must exist),
 *   the VPC and its public subnets in zones that offer the type.
 */
import type { _InstanceType } from '@aws-sdk/client-ec2';
import type { Context } from '../engine/context.js';
import { oncePerRun } from '../engine/run.js';
import { AwsError, UserInputError, hasAwsCode } from '../core/errors.js';
import { discovered, type Discovered } from '../core/step.js';
import { render } from '../core/templates.js';
import * as v from '../core/validate.js';
import { stackSecurityGroupsAtStart } from './inventory.js';

type Ctx = Pick<Context, 'ec2' | 'ssm' | 'config' | 'flags'>;

/**
 * IMDSv2 answers only one network hop away: the host (the ECS agent, the user data that writes the
 * host facts). No container needs instance metadata any more (the logging container's credentials
 * come from its task role through the ECS agent, the stream names from the host facts file), and a
 * bridge container is a second hop, so even with the iptables block gone it gets no IMDSv2 token.
 */
export const METADATA_HOP_LIMIT = 1;

/** Tag recording the cluster the instance's user data joins (user data can't be changed in place). */
export const CLUSTER_TAG = 'ecs-cwlogs:cluster';

export const AMI_PARAMETER = {
  x86_64: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id',
  arm64: '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id',
} as const;

/** A public subnet an instance may launch in, and its availability zone. */
export interface SubnetChoice {
  subnetId: string;
  az?: string;
}

// ---- discovered values ------------------------------------------------------------------------------

/** The AMI a launch uses: found in SSM for the instance type's architecture, never configured. */
export interface AmiInfo {
  amiId: string;
  /** Absent where only the AMI's id was looked up (a run that launches nothing): a launch reads it then. */
  rootDeviceName?: string;
  architecture: 'x86_64' | 'arm64';
}


/** The network a host launches in: the VPC and its public subnets, in the order a launch tries them. */
export interface HostNetwork {
  vpcId: string | Discovered<string>;
  subnetId: string | Discovered<string>;
  /** The subnets a launch may use, in order (the first is subnetId). */
  subnets?: SubnetChoice[];
}

/** A given value, or what a run discovered. */
export const valueOf = <T>(x: T | Discovered<T> | undefined): T | undefined => (x !== undefined && typeof x === 'object' && (x as Discovered<T>).source === 'discovered' ? (x as Discovered<T>).value : (x as T | undefined));

/** DescribeInstanceTypes of the type, once per run: the type's check, the AMI's architecture and the image's platform share it. */
function instanceTypeInfo(ctx: Pick<Ctx, 'ec2'>, type: string) {
  const read = () => ctx.ec2.describeInstanceTypes({ InstanceTypes: [type as _InstanceType] });
  const signal = (ctx as { signal?: AbortSignal }).signal;
  return signal ? oncePerRun({ signal }, `ec2:DescribeInstanceTypes ${type}`, read) : read();
}

/** The instance type's architecture from EC2 (its name as a fallback when EC2 does not say). */
export async function architectureOf(ctx: Pick<Ctx, 'ec2'>, type: string): Promise<'x86_64' | 'arm64'> {
  try {
    const res = await instanceTypeInfo(ctx, type);
    const archs = res.InstanceTypes?.[0]?.ProcessorInfo?.SupportedArchitectures ?? [];
    if (archs.includes('x86_64')) return 'x86_64';
    if (archs.includes('arm64')) return 'arm64';
  } catch (e) {
    if (hasAwsCode(e, 'InvalidInstanceType')) throw e;
  }
  return v.isArmInstanceType(type) ? 'arm64' : 'x86_64';
}

/**
 * The ECS-optimized AL2023 AMI for the instance type's architecture, and its root device. With
 * `idOnly`, the id alone, for a type whose architecture its name tells (architectureByName) and a run
 * that only compares the AMI with a running instance's: one SSM call.
 */
export async function resolveAmi(ctx: Pick<Ctx, 'ec2' | 'ssm' | 'config'>, opts: { idOnly?: boolean } = {}): Promise<AmiInfo> {
  const arch = opts.idOnly ? architectureByName(ctx.config.instanceType) : await architectureOf(ctx, ctx.config.instanceType);
  const name = AMI_PARAMETER[arch];
  let amiId: string | undefined;
  try {
    amiId = (await ctx.ssm.getParameter({ Name: name })).Parameter?.Value;
  } catch (e) {
    if (!hasAwsCode(e, 'ParameterNotFound')) throw e;
  }
  if (!amiId) {
    throw new AwsError({
      what: 'Cannot find the ECS-optimized Amazon Linux 2023 AMI',
      why: `SSM parameter ${name} does not exist in ${ctx.config.region}`,
      fix: 'Use a region where Amazon ECS is available, or an instance type of another architecture.',
    });
  }
  if (opts.idOnly) return { amiId, architecture: arch };
  return { amiId, rootDeviceName: await rootDeviceOf(ctx, amiId), architecture: arch };
}

/** The AMI's root device name (/dev/xvda, the AL2023 AMIs' own, where EC2 won't say). */
export async function rootDeviceOf(ctx: Pick<Ctx, 'ec2'>, amiId: string): Promise<string> {
  try {
    return (await ctx.ec2.describeImages({ ImageIds: [amiId] })).Images?.[0]?.RootDeviceName ?? '/dev/xvda';
  } catch {
    return '/dev/xvda'; // the launch uses the AMI's default mapping then
  }
}

// ---- prepare: validation and defaults ---------------------------------------------------------------

export function inputError(what: string, why: string, fix: string): UserInputError {
  return new UserInputError({ what, why, fix });
}

/** Burstable families, whose instances earn and spend CPU credits. */
export function isBurstable(instanceType: string): boolean {
  return /^t(2|3|3a|4g)\./.test(instanceType);
}

/**
 * The availability zones of the region that offer the instance type (DescribeInstanceTypeOfferings),
 * or undefined when the endpoint can't say (not permitted, not implemented): then every zone is tried.
 */
export async function offeredZones(ctx: Pick<Ctx, 'ec2'>, instanceType: string): Promise<Set<string> | undefined> {
  const zones = new Set<string>();
  let token: string | undefined;
  try {
    do {
      const res = await ctx.ec2.describeInstanceTypeOfferings({
        LocationType: 'availability-zone',
        Filters: [{ Name: 'instance-type', Values: [instanceType] }],
        NextToken: token,
      });
      for (const o of res.InstanceTypeOfferings ?? []) if (o.Location) zones.add(o.Location);
      token = res.NextToken;
    } while (token);
  } catch (e) {
    if (hasAwsCode(e, 'UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException', 'InvalidAction', 'NotImplemented', 'UnsupportedOperation')) return undefined;
    throw e;
  }
  return zones;
}

type SubnetFound = { SubnetId?: string; VpcId?: string; MapPublicIpOnLaunch?: boolean; AvailabilityZone?: string };

/** One lookup per client and settings: the security group's and the host's prepare share it (and its error). */
const vpcLookups = new WeakMap<object, Map<string, Promise<{ vpcId: string | Discovered<string>; subnet?: SubnetFound }>>>();

/**
 * The VPC the stack lives in: --vpc (it must exist), else the VPC of --subnet (it must exist), else
 * the default VPC. Read only; the same answer (or error) for every step of a run.
 */
export function resolveVpc(ctx: VpcCtx): Promise<{ vpcId: string | Discovered<string>; subnet?: SubnetFound }> {
  const c = ctx.config;
  const key = JSON.stringify([c.region, c.vpcId ?? '', c.subnetId ?? '']);
  let byKey = vpcLookups.get(ctx.ec2);
  if (!byKey) vpcLookups.set(ctx.ec2, (byKey = new Map()));
  let p = byKey.get(key);
  if (!p) {
    p = lookUpVpc(ctx);
    byKey.set(key, p);
    // A failed lookup (throttled, interrupted) is not remembered beyond the run that saw it.
    p.catch(() => byKey!.delete(key));
  }
  return p;
}

/** With the stack and the run's inventory, a stack that has its security group keeps that group's VPC. */
type VpcCtx = Pick<Ctx, 'ec2' | 'config'> & Partial<Pick<Context, 'stack' | 'inventory'>>;

/**
 * The VPC of the stack's own security group (the one of its name, carrying its tag), if it has one:
 * where a stack given no --vpc or --subnet already lives. Its resources stay there, even if the
 * account's default VPC changed since, and the default VPC is not looked up again.
 */
async function stackVpc(ctx: VpcCtx): Promise<{ vpcId: string; group: string } | undefined> {
  if (!ctx.stack) return undefined;
  const groups = await stackSecurityGroupsAtStart({ ec2: ctx.ec2, stack: ctx.stack, inventory: ctx.inventory });
  const g = groups.find((x) => x.GroupName === ctx.config.securityGroupName && x.VpcId);
  return g ? { vpcId: g.VpcId!, group: `${g.GroupName} (${g.GroupId})` } : undefined;
}

async function lookUpVpc(ctx: VpcCtx): Promise<{ vpcId: string | Discovered<string>; subnet?: SubnetFound }> {
  const c = ctx.config;
  const region = c.region;
  let vpcId: string | Discovered<string> | undefined = c.vpcId;
  let subnet: SubnetFound | undefined;
  let own: { vpcId: string; group: string } | undefined;
  if (c.subnetId) {
    try {
      subnet = (await ctx.ec2.describeSubnets({ SubnetIds: [c.subnetId] })).Subnets?.[0];
    } catch (e) {
      if (!hasAwsCode(e, 'InvalidSubnetID.NotFound', 'InvalidSubnetID.Malformed')) throw e;
    }
    if (!subnet) throw inputError(`Subnet ${c.subnetId} not found`, `there is no such subnet in ${region}`, 'Pass --subnet with a subnet of this region, or leave it out to use a public subnet of the VPC.');
  }
  if (c.vpcId) {
    let found = false;
    try {
      found = Boolean((await ctx.ec2.describeVpcs({ VpcIds: [c.vpcId] })).Vpcs?.length);
    } catch (e) {
      if (!hasAwsCode(e, 'InvalidVpcID.NotFound', 'InvalidVpcID.Malformed')) throw e;
    }
    if (!found) throw inputError(`VPC ${c.vpcId} not found`, `there is no such VPC in ${region}`, 'Pass --vpc with a VPC of this region, or leave it out to use the default VPC.');
  } else if (subnet?.VpcId) {
    vpcId = discovered(subnet.VpcId, `the VPC of subnet ${c.subnetId}`);
  } else if ((own = await stackVpc(ctx))) {
    vpcId = discovered(own.vpcId, `the VPC of the stack's security group ${own.group}`);
  } else {
    const vpc = (await ctx.ec2.describeVpcs({ Filters: [{ Name: 'is-default', Values: ['true'] }] })).Vpcs?.[0];
    if (!vpc?.VpcId) {
      throw inputError(`No default VPC in ${region}`, 'the account has no default VPC in this region', 'Pass --vpc and --subnet (a public subnet), or create a default VPC: aws ec2 create-default-vpc.');
    }
    vpcId = discovered(vpc.VpcId, 'the default VPC');
  }
  return { vpcId: vpcId!, subnet };
}

export async function prepareNetwork(ctx: VpcCtx): Promise<HostNetwork> {
  const c = ctx.config;
  const region = c.region;
  const type = c.instanceType;
  const offeredP = offeredZones(ctx, type);
  offeredP.catch(() => undefined);
  const { vpcId, subnet } = await resolveVpc(ctx);
  const vpc = valueOf(vpcId)!;
  if (subnet) {
    if (subnet.VpcId !== vpc) {
      throw inputError(`Subnet ${c.subnetId} is not in VPC ${vpc}`, `it belongs to ${subnet.VpcId}`, `Pass a --subnet of ${vpc}, or leave --subnet out to pick a public subnet of it.`);
    }
    const offered = await offeredP;
    const az = subnet.AvailabilityZone;
    if (offered && az && !offered.has(az)) {
      const where = [...offered].sort();
      throw inputError(
        `Instance type ${type} is not offered in ${az}`,
        `subnet ${c.subnetId} is in ${az}; ${where.length ? `the zones of ${region} that offer ${type}: ${where.join(', ')}` : `no zone of ${region} offers ${type}`}`,
        `Pass --subnet with a subnet in ${where.length ? `one of those zones` : 'another region'}, leave --subnet out to choose one, or pick another --instance-type.`,
      );
    }
    return { vpcId: vpcId!, subnetId: c.subnetId!, subnets: [{ subnetId: c.subnetId!, az }] };
  }
  // A public subnet of the VPC, chosen the same way every run (so a re-run plans the same launch).
  const subnets: { SubnetId?: string; AvailabilityZone?: string; MapPublicIpOnLaunch?: boolean; DefaultForAz?: boolean; State?: string }[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ec2.describeSubnets({ Filters: [{ Name: 'vpc-id', Values: [vpc] }], NextToken: token });
    subnets.push(...(res.Subnets ?? []));
    token = res.NextToken;
  } while (token);
  const pub = subnets
    .filter((s) => s.MapPublicIpOnLaunch && (s.State ?? 'available') === 'available' && s.SubnetId)
    .sort((a, b) => Number(Boolean(b.DefaultForAz)) - Number(Boolean(a.DefaultForAz)) || (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? '') || a.SubnetId!.localeCompare(b.SubnetId!));
  if (!pub[0]) {
    throw inputError(`No public subnet in VPC ${vpc}`, 'none of its subnets gives instances a public IP address', 'Pass --subnet with a public subnet of the VPC (one with a route to an internet gateway).');
  }
  // Only zones that offer the instance type (t3.small is not offered in us-east-1e, for one).
  const offered = await offeredP;
  const usable = offered ? pub.filter((s) => !s.AvailabilityZone || offered.has(s.AvailabilityZone)) : pub;
  if (!usable[0]) {
    const zones = [...new Set(pub.map((s) => s.AvailabilityZone ?? '?'))].sort();
    throw inputError(
      `Instance type ${type} is not offered where VPC ${vpc} has public subnets`,
      `its public subnets are in ${zones.join(', ')}; ${offered!.size ? `${type} is offered in ${[...offered!].sort().join(', ')}` : `no zone of ${region} offers ${type}`}`,
      'Pick another --instance-type (e.g. t3.small, t3a.small or t4g.small), or pass --vpc/--subnet with a public subnet in a zone that offers it.',
    );
  }
  const first = usable[0];
  return {
    vpcId: vpcId!,
    subnetId: discovered(first.SubnetId!, `a public subnet of ${vpc} (${first.AvailabilityZone ?? 'its AZ'}${offered ? `, which offers ${type}` : ''})`),
    subnets: usable.map((s) => ({ subnetId: s.SubnetId!, az: s.AvailabilityZone })),
  };
}

export async function prepareKeyPair(ctx: Pick<Ctx, 'ec2' | 'config' | 'flags'>): Promise<void> {
  const name = ctx.config.keyName;
  if (!name || ctx.flags.newKeyPair === name) return; // none, or created once the plan is confirmed
  let found = false;
  try {
    found = Boolean((await ctx.ec2.describeKeyPairs({ KeyNames: [name] })).KeyPairs?.length);
  } catch (e) {
    if (!hasAwsCode(e, 'InvalidKeyPair.NotFound')) throw e;
  }
  if (!found) {
    throw inputError(
      `Key pair ${name} not found`,
      `there is no key pair of that name in ${ctx.config.region}`,
      'Create or import it first (aws ec2 create-key-pair / import-key-pair), pass the name of an existing one with --key-name, or leave --key-name out (no SSH).',
    );
  }
}

export async function prepareInstanceType(ctx: Pick<Ctx, 'ec2' | 'config'>): Promise<void> {
  try {
    await instanceTypeInfo(ctx, ctx.config.instanceType);
  } catch (e) {
    if (hasAwsCode(e, 'InvalidInstanceType', 'InvalidParameterValue')) {
      throw inputError(`Unknown instance type ${ctx.config.instanceType}`, `EC2 does not offer it in ${ctx.config.region}`, 'Pass --instance-type with a type such as t3.small, t3.medium or t4g.small.');
    }
    throw e;
  }
}


/**
 * The host's user data: blocks bridge containers from IMDS, writes the host facts for the logging
 * container and ECS_CLUSTER to /etc/ecs/ecs.config. The same script for one instance and for the group.
 */
export function hostUserData(clusterName: string, stack: string): string {
  return render('user-data.sh', { clusterName, stack });
}

/** IMDSv2 only, answered one hop away (the host), as RunInstances and launch templates take it. */
export const METADATA_OPTIONS = { HttpTokens: 'required', HttpPutResponseHopLimit: METADATA_HOP_LIMIT, HttpEndpoint: 'enabled' } as const;

/** The CPU credit option a host launches with: `standard` for burstable types (no surplus credit charges). */
export function cpuCreditsFor(instanceType: string): 'standard' | undefined {
  return isBurstable(instanceType) ? 'standard' : undefined;
}

/** The architecture a type has when EC2 was not asked (status before prepare): from its name. */
export function architectureByName(instanceType: string): 'x86_64' | 'arm64' {
  return v.isArmInstanceType(instanceType) ? 'arm64' : 'x86_64';
}

export function tagMap(tags: { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/** The recommended AMI moved on since launch: worth a note, not drift (replaced only with --replace-instance). */
export function amiNoteFor(running: string | undefined, recommended: string | undefined): string | undefined {
  return running && recommended && running !== recommended ? `newer AMI available: ${recommended} (running ${running})` : undefined;
}

