/**
 * Step: the security group and the EC2 container instance (lab steps 4-6).
 *
 *   prepare  the VPC and a public subnet (the default VPC unless given; a given subnet must be in it),
 *            the key pair (must exist), the instance type (EC2 must know it), the caller's public IP
 *            (for --allow-cidr's default), the ECS-optimized AL2023 AMI from SSM (arm64 for Graviton)
 *   read     the security group by name (ours carries the stack tag) and the live instance carrying
 *            the stack tag
 *   apply    security group: created, then its ingress made exactly HTTP 80 (and SSH 22 when a key
 *            pair is given) from the allowed CIDR: missing rules authorised, others revoked.
 *            instance: RunInstances with a ClientToken derived from the launch request, so a re-run
 *            after a crash gets the same instance back rather than a second one; IMDSv2 required with
 *            hop limit 1 (only the host reaches it); encrypted gp3 root volume; user data that blocks
 *            bridge containers from IMDS, writes the host facts for the logging container and
 *            ECS_CLUSTER to /etc/ecs/ecs.config. "Invalid IAM
 *            Instance Profile" is IAM propagation and retried. Then waits: pending -> running ->
 *            registered as a container instance of the cluster.
 *   drift    tags and security group rules are repaired; what only a new instance can change (type,
 *            AMI, subnet, key pair, ...) is shown in the plan, never done silently.
 *   destroy  every instance carrying the stack tag terminated (waiting for terminated), then the
 *            stack's security groups, retried while EC2 still reports a DependencyViolation.
 */
import { callerIpEndpoint } from '../aws/endpoints.js';
import { createHash } from 'node:crypto';
import type { _InstanceType, Instance, IpPermission, RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import type { Context } from '../core/context.js';
import { STACK_TAG, awsTags, ownedBy } from '../core/context.js';
import { diff } from '../core/diff.js';
import { AwsError, ConflictError, UserInputError, awsErrorCode, hasAwsCode } from '../core/errors.js';
import { ABSENT, discovered, isAbsent, unknown, type Absent, type DepOutputs, type Discovered, type FieldDiff, type Plan, type Step } from '../core/step.js';
import { render } from '../core/templates.js';
import * as v from '../core/validate.js';
import { pollUntil, retryOn } from '../core/wait.js';
import { ownershipConflict, ownedTagsDiff } from './ownership.js';
import { iamNameIn } from './inventory.js';

type Ctx = Pick<
  Context,
  'ec2' | 'ssm' | 'ecs' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'clock' | 'timing' | 'signal' | 'report' | 'io' | 'endpoint'
>;

/**
 * IMDSv2 answers only one network hop away: the host (the ECS agent, the user data that writes the
 * host facts). No container needs instance metadata any more (the logging container's credentials
 * come from its task role through the ECS agent, the stream names from the host facts file), and a
 * bridge container is a second hop, so even with the iptables block gone it gets no IMDSv2 token.
 */
export const METADATA_HOP_LIMIT = 1;

/** Tag recording the cluster the instance's user data joins (user data can't be changed in place). */
export const CLUSTER_TAG = 'ecs-cwlogs:cluster';
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

export const AMI_PARAMETER = {
  x86_64: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id',
  arm64: '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id',
} as const;

export interface IngressRule {
  protocol: string;
  fromPort: number;
  toPort: number;
  cidr: string;
  ipv6?: boolean;
  description?: string;
}

export interface SecurityGroupObserved {
  groupId: string;
  name: string;
  vpcId: string;
  ingress: IngressRule[];
  tags: Record<string, string>;
  owned: boolean;
}

export interface InstanceObserved {
  instanceId: string;
  state: string;
  instanceType: string;
  imageId: string;
  subnetId: string;
  vpcId: string;
  keyName?: string;
  publicIp?: string;
  privateIp?: string;
  securityGroupIds: string[];
  instanceProfileArn?: string;
  httpTokens?: string;
  hopLimit?: number;
  /** Burstable types: the CPU credit option, when EC2 says (DescribeInstanceCreditSpecifications). */
  cpuCredits?: string;
  tags: Record<string, string>;
}

export interface InstanceStepObserved {
  securityGroup?: SecurityGroupObserved;
  /** The oldest live instance carrying the stack tag (normally the only one). */
  instance?: InstanceObserved;
  /** Every live instance of the stack, oldest first: two after a replacement cut short. */
  instances?: InstanceObserved[];
}

/** A public subnet an instance may launch in, and its availability zone. */
export interface SubnetChoice {
  subnetId: string;
  az?: string;
}

export interface InstanceDesired {
  securityGroupName: string;
  vpcId?: string;
  subnetId?: string;
  /**
   * Where a launch may go, in order: the first is tried first, the next ones when EC2 answers
   * InsufficientInstanceCapacity or Unsupported. Only the given one with --subnet.
   */
  subnetChoices: SubnetChoice[];
  /** The subnet was given (--subnet): an instance elsewhere differs. Otherwise any public subnet of the VPC will do. */
  subnetFixed: boolean;
  /** Burstable types (t2, t3, t3a, t4g) launch with `standard` CPU credits: no surplus credit charges. */
  cpuCredits?: 'standard';
  /** --replace-instance: what only a new instance can change (the AMI included) is done by replacing it. */
  replaceInstance: boolean;
  /** Undefined when the allowed CIDR is not known (status without prepare): rules are not compared. */
  ingress?: IngressRule[];
  instanceType: string;
  architecture: 'x86_64' | 'arm64';
  amiId?: string;
  rootDeviceName?: string;
  keyName?: string;
  clusterName: string;
  instanceProfileName: string;
  userData: string;
  tags: Record<string, string>;
  securityGroupTags: Record<string, string>;
  /** How the network and the allowed CIDR were chosen, for the plan ("discovered: the default VPC"). */
  found: string[];
  adopt: boolean;
  stack: string;
}

// ---- discovered values ------------------------------------------------------------------------------

/** The AMI a launch uses: found in SSM for the instance type's architecture, never configured. */
export interface AmiInfo {
  amiId: string;
  rootDeviceName: string;
  architecture: 'x86_64' | 'arm64';
}

/** What prepare finds for a run: the network, who may connect, the AMI. Never saved. */
export interface InstancePrepared {
  vpcId: string | Discovered<string>;
  subnetId: string | Discovered<string>;
  /** The subnets a launch may use, in order (the first is subnetId); see InstanceDesired.subnetChoices. */
  subnets?: SubnetChoice[];
  /** Undefined when only inspecting (status): the rules are then not compared. */
  allowCidr?: string | Discovered<string>;
  ami?: AmiInfo;
}

const valueOf = <T>(x: T | Discovered<T> | undefined): T | undefined => (x !== undefined && typeof x === 'object' && (x as Discovered<T>).source === 'discovered' ? (x as Discovered<T>).value : (x as T | undefined));

/** The instance type's architecture from EC2 (its name as a fallback when EC2 does not say). */
export async function architectureOf(ctx: Pick<Ctx, 'ec2'>, type: string): Promise<'x86_64' | 'arm64'> {
  try {
    const res = await ctx.ec2.describeInstanceTypes({ InstanceTypes: [type as _InstanceType] });
    const archs = res.InstanceTypes?.[0]?.ProcessorInfo?.SupportedArchitectures ?? [];
    if (archs.includes('x86_64')) return 'x86_64';
    if (archs.includes('arm64')) return 'arm64';
  } catch (e) {
    if (hasAwsCode(e, 'InvalidInstanceType')) throw e;
  }
  return v.isArmInstanceType(type) ? 'arm64' : 'x86_64';
}

/** The ECS-optimized AL2023 AMI for the instance type's architecture, and its root device. */
export async function resolveAmi(ctx: Pick<Ctx, 'ec2' | 'ssm' | 'config'>): Promise<AmiInfo> {
  const arch = await architectureOf(ctx, ctx.config.instanceType);
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
  let rootDeviceName: string | undefined;
  try {
    rootDeviceName = (await ctx.ec2.describeImages({ ImageIds: [amiId] })).Images?.[0]?.RootDeviceName;
  } catch {
    rootDeviceName = undefined; // the launch uses the AMI's default mapping (/dev/xvda) then
  }
  return { amiId, rootDeviceName: rootDeviceName ?? '/dev/xvda', architecture: arch };
}

// ---- prepare: validation and defaults ---------------------------------------------------------------

function inputError(what: string, why: string, fix: string): UserInputError {
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

async function prepareNetwork(ctx: Ctx): Promise<Pick<InstancePrepared, 'vpcId' | 'subnetId' | 'subnets'>> {
  const c = ctx.config;
  const region = c.region;
  const type = c.instanceType;
  const offeredP = offeredZones(ctx, type);
  offeredP.catch(() => undefined);
  let vpcId: string | Discovered<string> | undefined = c.vpcId;
  let subnet: { SubnetId?: string; VpcId?: string; MapPublicIpOnLaunch?: boolean; AvailabilityZone?: string } | undefined;
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
  } else {
    const vpc = (await ctx.ec2.describeVpcs({ Filters: [{ Name: 'is-default', Values: ['true'] }] })).Vpcs?.[0];
    if (!vpc?.VpcId) {
      throw inputError(`No default VPC in ${region}`, 'the account has no default VPC in this region', 'Pass --vpc and --subnet (a public subnet), or create a default VPC: aws ec2 create-default-vpc.');
    }
    vpcId = discovered(vpc.VpcId, 'the default VPC');
  }
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

async function prepareKeyPair(ctx: Ctx): Promise<void> {
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

async function prepareInstanceType(ctx: Ctx): Promise<void> {
  try {
    await ctx.ec2.describeInstanceTypes({ InstanceTypes: [ctx.config.instanceType as _InstanceType] });
  } catch (e) {
    if (hasAwsCode(e, 'InvalidInstanceType', 'InvalidParameterValue')) {
      throw inputError(`Unknown instance type ${ctx.config.instanceType}`, `EC2 does not offer it in ${ctx.config.region}`, 'Pass --instance-type with a type such as t3.small, t3.medium or t4g.small.');
    }
    throw e;
  }
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

async function fetchIp(url: string, timeoutMs: number): Promise<{ ip?: string; status?: number; error?: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { status: res.status, error: `${url} answered HTTP ${res.status}` };
    const text = (await res.text()).trim();
    const m = IPV4.exec(text);
    if (!m || m.slice(1).some((o) => Number(o) > 255)) return { error: `${url} did not answer with an IPv4 address` };
    return { ip: text };
  } catch (e) {
    return { error: `${url}: ${(e as Error).name === 'TimeoutError' ? 'no answer within 3 s' : (e as Error).message}` };
  }
}

const isLoopback = (url: string) => /^https?:\/\/(127\.|localhost|\[::1\])/.test(url);

/**
 * The caller's public IPv4 address: https://checkip.amazonaws.com, or the sandbox's /_sandbox/checkip
 * when the AWS endpoint is a sandbox. Undefined (and why) when it can't be found.
 */
export async function detectPublicIp(endpoint: string | undefined, timeoutMs = 3000): Promise<{ ip?: string; why?: string }> {
  if (endpoint) {
    const r = await fetchIp(`${endpoint.replace(/\/+$/, '')}/_sandbox/checkip`, timeoutMs);
    if (r.ip) return { ip: r.ip };
    // A local endpoint that is no sandbox: a test setup where a public IP means nothing. Don't go out.
    if (isLoopback(endpoint)) return { why: r.error };
  }
  const r = await fetchIp('https://checkip.amazonaws.com', timeoutMs);
  return r.ip ? { ip: r.ip } : { why: r.error };
}

async function prepareAllowCidr(ctx: Ctx): Promise<InstancePrepared['allowCidr']> {
  if (ctx.config.allowCidr) return ctx.config.allowCidr;
  if (ctx.flags.intent === 'inspect') return undefined; // status needs no caller IP
  const found = await detectPublicIp(await callerIpEndpoint(ctx));
  if (found.ip) return discovered(`${found.ip}/32`, 'your public IP');
  throw inputError(
    'Cannot detect your public IP address',
    `${found.why ?? 'no answer'}; it is needed to allow HTTP${ctx.config.keyName ? ' and SSH' : ''} from your address only`,
    'Pass --allow-cidr with your address, e.g. --allow-cidr 203.0.113.7/32.',
  );
}

// ---- read -------------------------------------------------------------------------------------------

function tagMap(tags: { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

function rulesOf(perms: IpPermission[] | undefined): IngressRule[] {
  const out: IngressRule[] = [];
  for (const p of perms ?? []) {
    const base = { protocol: p.IpProtocol ?? '-1', fromPort: p.FromPort ?? -1, toPort: p.ToPort ?? -1 };
    for (const r of p.IpRanges ?? []) if (r.CidrIp) out.push({ ...base, cidr: r.CidrIp, description: r.Description });
    for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) out.push({ ...base, cidr: r.CidrIpv6, ipv6: true, description: r.Description });
  }
  return out;
}

const ruleKey = (r: IngressRule) => `${r.protocol}:${r.fromPort}-${r.toPort}:${r.cidr}`;

export async function readSecurityGroup(
  ctx: Pick<Ctx, 'ec2' | 'stack'>,
  name: string,
  vpcId: string | undefined,
): Promise<SecurityGroupObserved | undefined> {
  const filters = [{ Name: 'group-name', Values: [name] }, ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : [])];
  const groups: SecurityGroupObserved[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ec2.describeSecurityGroups({ Filters: filters, NextToken: token });
    for (const g of res.SecurityGroups ?? []) {
      const tags = tagMap(g.Tags);
      groups.push({ groupId: g.GroupId ?? '', name: g.GroupName ?? name, vpcId: g.VpcId ?? '', ingress: rulesOf(g.IpPermissions), tags, owned: ownedBy(tags, ctx.stack) });
    }
    token = res.NextToken;
  } while (token);
  // Without a VPC (status before prepare), prefer ours among same-named groups of other VPCs.
  return groups.find((g) => g.owned) ?? groups[0];
}

function instanceShape(i: Instance): InstanceObserved {
  return {
    instanceId: i.InstanceId ?? '',
    state: i.State?.Name ?? 'unknown',
    instanceType: i.InstanceType ?? '',
    imageId: i.ImageId ?? '',
    subnetId: i.SubnetId ?? '',
    vpcId: i.VpcId ?? '',
    keyName: i.KeyName,
    publicIp: i.PublicIpAddress,
    privateIp: i.PrivateIpAddress,
    securityGroupIds: (i.SecurityGroups ?? []).map((g) => g.GroupId ?? ''),
    instanceProfileArn: i.IamInstanceProfile?.Arn,
    httpTokens: i.MetadataOptions?.HttpTokens,
    hopLimit: i.MetadataOptions?.HttpPutResponseHopLimit,
    tags: tagMap(i.Tags),
  };
}

/** Fills in the CPU credit option of burstable instances (left unknown where EC2 won't say). */
async function readCredits(ctx: Pick<Ctx, 'ec2'>, instances: InstanceObserved[]): Promise<void> {
  const ids = instances.filter((i) => isBurstable(i.instanceType) && i.state !== 'shutting-down').map((i) => i.instanceId);
  if (!ids.length) return;
  try {
    const res = await ctx.ec2.describeInstanceCreditSpecifications({ InstanceIds: ids });
    for (const c of res.InstanceCreditSpecifications ?? []) {
      const i = instances.find((x) => x.instanceId === c.InstanceId);
      if (i && c.CpuCredits) i.cpuCredits = c.CpuCredits;
    }
  } catch (e) {
    if (!hasAwsCode(e, 'UnauthorizedOperation', 'AccessDenied', 'InvalidAction', 'NotImplemented', 'InvalidInstanceID.NotFound')) throw e;
  }
}

/** Instances carrying the stack tag in the given states, oldest first. */
export async function stackInstances(ctx: Pick<Ctx, 'ec2' | 'stack'>, states: readonly string[]): Promise<InstanceObserved[]> {
  const found: (InstanceObserved & { launch: number })[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ec2.describeInstances({
      Filters: [
        { Name: `tag:${STACK_TAG}`, Values: [ctx.stack] },
        { Name: 'instance-state-name', Values: [...states] },
      ],
      NextToken: token,
    });
    for (const r of res.Reservations ?? []) {
      for (const i of r.Instances ?? []) found.push({ ...instanceShape(i), launch: i.LaunchTime?.getTime() ?? 0 });
    }
    token = res.NextToken;
  } while (token);
  return found.sort((a, b) => a.launch - b.launch).map(({ launch: _launch, ...i }) => i);
}

async function describeInstance(ctx: Pick<Ctx, 'ec2'>, id: string): Promise<InstanceObserved | undefined> {
  try {
    const res = await ctx.ec2.describeInstances({ InstanceIds: [id] });
    const i = res.Reservations?.[0]?.Instances?.[0];
    return i ? instanceShape(i) : undefined;
  } catch (e) {
    if (hasAwsCode(e, 'InvalidInstanceID.NotFound')) return undefined; // just launched: not visible yet
    throw e;
  }
}

// ---- plan -------------------------------------------------------------------------------------------

/** Differences only a new instance can fix. */
function replaceDiffs(i: InstanceObserved, d: InstanceDesired, sgId: string | undefined): FieldDiff[] {
  const out: FieldDiff[] = [];
  const add = (field: string, from: unknown, to: unknown) => {
    if (to !== undefined && from !== to) out.push({ field: `instance.${field}`, from, to });
  };
  add('instanceType', i.instanceType, d.instanceType);
  add('amiId', i.imageId, d.amiId);
  // A chosen subnet is only where the first launch goes: a fallback to another zone is no drift.
  if (d.subnetFixed) add('subnetId', i.subnetId, d.subnetId);
  else if (i.vpcId) add('vpcId', i.vpcId, d.vpcId);
  add('keyName', i.keyName, d.keyName);
  add('cluster', i.tags[CLUSTER_TAG], d.clusterName);
  const profile = i.instanceProfileArn?.split('/').pop();
  add('instanceProfile', profile, d.instanceProfileName);
  add('metadata.httpTokens', i.httpTokens, 'required');
  if (i.hopLimit !== undefined) add('metadata.hopLimit', i.hopLimit, METADATA_HOP_LIMIT);
  if (sgId && !i.securityGroupIds.includes(sgId)) out.push({ field: 'instance.securityGroups', from: i.securityGroupIds, to: [sgId] });
  if (i.state === 'stopped' || i.state === 'stopping') out.push({ field: 'instance.state', from: i.state, to: 'running' });
  return out;
}

/**
 * Which live instance is the stack's, and which are extra (a replacement cut short leaves the old
 * and the new one): the newest of those with the fewest differences only a new instance can fix
 * (a moved AMI counts only with --replace-instance), so the replacement's instance wins.
 */
export function currentInstance(o: InstanceStepObserved, d: InstanceDesired): { instance?: InstanceObserved; extra: InstanceObserved[] } {
  const all = o.instances ?? (o.instance ? [o.instance] : []);
  if (all.length <= 1) return { instance: all[0], extra: [] };
  const cost = (i: InstanceObserved) => replaceDiffs(i, d, o.securityGroup?.groupId).filter((x) => d.replaceInstance || x.field !== 'instance.amiId').length;
  let instance = all[all.length - 1]!;
  for (const i of [...all].reverse()) if (cost(i) < cost(instance)) instance = i;
  return { instance, extra: all.filter((i) => i !== instance) };
}

/** The AMI moved on since launch: worth a note, not drift. */
function amiNote(diffs: FieldDiff[]): string | undefined {
  const d = diffs.find((x) => x.field === 'instance.amiId');
  return d ? `newer AMI available: ${String(d.to)} (running ${String(d.from)})` : undefined;
}

function ingressDiffs(observed: IngressRule[], desired: IngressRule[] | undefined): FieldDiff[] {
  if (!desired) return [];
  const from = observed.map(ruleKey).sort();
  const to = desired.map(ruleKey).sort();
  return diff(from.join(', ') || undefined, to.join(', '), 'securityGroup.ingress');
}

// ---- the step ---------------------------------------------------------------------------------------

export const instanceStep: Step<Ctx, InstanceStepObserved, InstanceDesired, InstancePrepared, 'instance'> = {
  id: 'instance',
  title: 'Security group and EC2 container instance',
  dependsOn: ['iam', 'cluster'],

  async prepare(ctx): Promise<InstancePrepared> {
    const [, network, , allowCidr, ami] = await Promise.all([
      prepareInstanceType(ctx),
      prepareNetwork(ctx),
      prepareKeyPair(ctx),
      prepareAllowCidr(ctx),
      resolveAmi(ctx).catch((e) => {
        if (ctx.flags.intent === 'inspect') return undefined; // best effort: the plan compares the AMI when known
        throw e;
      }),
    ]);
    return { ...network, allowCidr, ami };
  },

  async read(ctx, prepared): Promise<InstanceStepObserved | Absent> {
    const [securityGroup, live] = await Promise.all([
      readSecurityGroup(ctx, ctx.config.securityGroupName, valueOf(prepared?.vpcId) ?? ctx.config.vpcId),
      stackInstances(ctx, LIVE_STATES),
    ]);
    if (!securityGroup && live.length === 0) return ABSENT;
    await readCredits(ctx, live);
    return { securityGroup, instance: live[0], ...(live.length > 1 ? { instances: live } : {}) };
  },

  desired(ctx, deps: DepOutputs, prepared): InstanceDesired {
    const c = ctx.config;
    const clusterName = deps.cluster?.clusterName || c.clusterName;
    const cidr = valueOf(prepared?.allowCidr);
    const ami = prepared?.ami;
    return {
      securityGroupName: c.securityGroupName,
      vpcId: valueOf(prepared?.vpcId) ?? c.vpcId,
      subnetId: valueOf(prepared?.subnetId) ?? c.subnetId,
      subnetChoices: prepared?.subnets ?? (c.subnetId ? [{ subnetId: c.subnetId }] : []),
      subnetFixed: Boolean(c.subnetId),
      ...(isBurstable(c.instanceType) ? { cpuCredits: 'standard' as const } : {}),
      replaceInstance: Boolean(ctx.flags.replaceInstance),
      architecture: ami?.architecture ?? (v.isArmInstanceType(c.instanceType) ? 'arm64' : 'x86_64'),
      ingress: cidr
        ? [
            { protocol: 'tcp', fromPort: 80, toPort: 80, cidr, description: 'HTTP (ecs-cwlogs)' },
            ...(c.keyName ? [{ protocol: 'tcp', fromPort: 22, toPort: 22, cidr, description: 'SSH (ecs-cwlogs)' }] : []),
          ]
        : undefined,
      instanceType: c.instanceType,
      amiId: ami?.amiId,
      rootDeviceName: ami?.rootDeviceName,
      keyName: c.keyName || undefined,
      clusterName,
      instanceProfileName: deps.iam?.instanceProfileName || iamNameIn(c.iamName, c.region),
      userData: render('user-data.sh', { clusterName, stack: ctx.stack }),
      tags: { ...ctx.tags, Name: `ecs-cwlogs-${ctx.stack}` },
      securityGroupTags: { ...ctx.tags, Name: c.securityGroupName },
      found: [prepared?.vpcId, prepared?.subnetId, prepared?.allowCidr]
        .filter((x): x is Discovered<string> => typeof x === 'object' && x !== null && x.source === 'discovered')
        .map((x) => `${x.value} (${x.how})`),
      adopt: ctx.flags.adopt,
      stack: ctx.stack,
    };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) {
      return {
        action: 'create',
        summary:
          `security group ${desired.securityGroupName} (HTTP${desired.keyName ? ', SSH' : ''} from ${desired.ingress?.[0]?.cidr ?? 'your IP'}) and a ${desired.instanceType} instance in cluster ${desired.clusterName}` +
          `, subnet ${desired.subnetId ?? '?'} of ${desired.vpcId ?? '?'}${desired.found.length ? `; discovered: ${desired.found.join(', ')}` : ''}`,
      };
    }
    const sg = observed.securityGroup;
    if (sg && !sg.owned && !desired.adopt) return ownershipConflict('Security group', desired.securityGroupName, sg.tags[STACK_TAG], 'instance');
    const fix: FieldDiff[] = [];
    if (!sg) fix.push({ field: 'securityGroup', from: undefined, to: desired.securityGroupName });
    else {
      fix.push(...ownedTagsDiff(sg.tags, desired.securityGroupTags).map((d) => ({ ...d, field: `securityGroup.${d.field}` })));
      fix.push(...ingressDiffs(sg.ingress, desired.ingress));
    }
    const { instance: i, extra } = currentInstance(observed, desired);
    let replace: FieldDiff[] = [];
    if (!i) fix.push({ field: 'instance', from: undefined, to: `${desired.instanceType} (launch)` });
    else {
      fix.push(...ownedTagsDiff(i.tags, desired.tags).map((d) => ({ ...d, field: `instance.${d.field}` })));
      // An instance launched before credits were set (t3 defaults to unlimited): changed in place.
      if (desired.cpuCredits && i.cpuCredits && i.cpuCredits !== desired.cpuCredits && i.instanceType === desired.instanceType) {
        fix.push({ field: 'instance.cpuCredits', from: i.cpuCredits, to: desired.cpuCredits });
      }
      replace = replaceDiffs(i, desired, sg?.groupId);
    }
    // A replacement cut short left the old instance running next to the new one: finish it.
    if (extra.length) fix.push({ field: 'instance.extra', from: extra.map((x) => x.instanceId), to: [] });
    // The recommended AMI moves every few weeks: that alone is a note, replaced only on request.
    const note = desired.replaceInstance ? undefined : amiNote(replace);
    if (!desired.replaceInstance) replace = replace.filter((d) => d.field !== 'instance.amiId');
    const noted = note ? { note } : {};
    if (fix.length === 0 && replace.length === 0) return { action: 'noop', summary: i ? `${i.instanceId} (${i.state})` : desired.securityGroupName, ...noted };
    const repair = fix.length
      ? `${extra.length ? `terminate ${extra.map((x) => x.instanceId).join(', ')} (left by a replacement)` : ''}${
          fix.some((d) => d.field !== 'instance.extra') ? `${extra.length ? '; ' : ''}repair ${fix.filter((d) => d.field !== 'instance.extra').map((d) => d.field.split('.').slice(0, 2).join('.')).filter((x, n, a) => a.indexOf(x) === n).join(', ')}` : ''
        }`
      : '';
    if (replace.length) {
      const what = `${replace.map((d) => d.field.replace(/^instance\./, '')).join(', ')} differ${replace.length === 1 ? 's' : ''} on the running instance`;
      return {
        action: 'replace',
        summary: [repair, what, desired.replaceInstance ? `replace ${i!.instanceId}: launch the new instance, wait until it is registered, then terminate the old one` : ''].filter(Boolean).join('; '),
        diffs: [...fix, ...replace],
        fix: desired.replaceInstance
          ? `The new instance joins cluster ${desired.clusterName} before ${i!.instanceId} is terminated; the service's task moves to it.`
          : 'Only a new instance can change that, and it is never replaced silently: run `ecs-cwlogs up --replace-instance` (or `ecs-cwlogs instance --delete`, then `ecs-cwlogs up`).',
        ...noted,
      };
    }
    return { action: 'update', summary: repair, diffs: fix, ...noted };
  },

  async apply(ctx, { plan, observed, desired }) {
    const o: InstanceStepObserved = isAbsent(observed) ? {} : observed;
    if ((plan.action === 'noop' || plan.action === 'update' || plan.action === 'replace') && plan.note) ctx.report(plan.note);
    const sg = await ensureSecurityGroup(ctx, o.securityGroup, desired);
    const current = currentInstance(o, desired);
    let instance = current.instance;
    if (instance && plan.action === 'replace' && desired.replaceInstance) {
      // Launch the new one first: the cluster keeps a registered instance, and the service's task
      // moves to the new one once the old is gone. At the end only the new instance runs.
      const old = instance;
      const leaving = [old, ...current.extra];
      ctx.report(`replacing ${old.instanceId}: launching a new ${desired.instanceType} first`);
      let fresh = await launch(ctx, desired, sg.groupId, leaving.map((x) => x.instanceId));
      fresh = await waitRunning(ctx, fresh);
      await waitRegistered(ctx, fresh.instanceId, desired.clusterName);
      ctx.report(`${fresh.instanceId} registered; terminating ${leaving.map((x) => x.instanceId).join(', ')} (the service's task moves to ${fresh.instanceId})`);
      await terminateAndWait(ctx, leaving.map((x) => x.instanceId));
      instance = fresh;
    } else if (instance) {
      if (ownedTagsDiff(instance.tags, desired.tags).length) {
        await ctx.ec2.createTags({ Resources: [instance.instanceId], Tags: awsTags(desired.tags) });
      }
      if (desired.cpuCredits && instance.cpuCredits && instance.cpuCredits !== desired.cpuCredits && instance.instanceType === desired.instanceType) {
        const res = await ctx.ec2.modifyInstanceCreditSpecification({ InstanceCreditSpecifications: [{ InstanceId: instance.instanceId, CpuCredits: desired.cpuCredits }] });
        const failed = res.UnsuccessfulInstanceCreditSpecifications?.[0];
        if (failed) ctx.report(`could not set ${desired.cpuCredits} CPU credits on ${instance.instanceId}: ${failed.Error?.Code ?? ''} ${failed.Error?.Message ?? ''}`.trim());
        else ctx.report(`${instance.instanceId}: CPU credits ${instance.cpuCredits} -> ${desired.cpuCredits}`);
      }
    } else {
      instance = await launch(ctx, desired, sg.groupId);
    }
    instance = await waitRunning(ctx, instance);
    if (instance.tags[CLUSTER_TAG] === desired.clusterName || instance.tags[CLUSTER_TAG] === undefined) {
      await waitRegistered(ctx, instance.instanceId, desired.clusterName);
    } else {
      ctx.report(`the instance joins cluster ${instance.tags[CLUSTER_TAG]}, not ${desired.clusterName}: replace it to change that`);
    }
    // A replacement cut short: the old instance goes once the one kept is running and registered.
    const leftOver = current.extra.filter((x) => x.instanceId !== instance!.instanceId);
    if (!(plan.action === 'replace' && desired.replaceInstance) && leftOver.length) {
      ctx.report(`terminating ${leftOver.map((x) => x.instanceId).join(', ')}, left running by a replacement that was cut short`);
      await terminateAndWait(ctx, leftOver.map((x) => x.instanceId));
    }
    return {
      instanceId: instance.instanceId,
      instanceType: instance.instanceType,
      publicIp: instance.publicIp,
      privateIp: instance.privateIp,
      securityGroupId: sg.groupId,
      subnetId: instance.subnetId,
      vpcId: instance.vpcId,
      amiId: instance.imageId,
      architecture: desired.architecture,
    };
  },

  preview(observed, desired) {
    const o: InstanceStepObserved = isAbsent(observed) ? {} : observed;
    const later = unknown('launch');
    let i = currentInstance(o, desired).instance;
    // Replaced: what the new instance will have is known only once it is launched.
    if (i && desired.replaceInstance && replaceDiffs(i, desired, o.securityGroup?.groupId).length) i = undefined;
    return {
      instanceId: i?.instanceId ?? later,
      instanceType: i?.instanceType ?? desired.instanceType,
      publicIp: i ? i.publicIp : later,
      privateIp: i ? i.privateIp : later,
      securityGroupId: o.securityGroup?.groupId ?? unknown('create'),
      subnetId: i?.subnetId ?? desired.subnetId ?? later,
      vpcId: i?.vpcId ?? o.securityGroup?.vpcId ?? desired.vpcId ?? later,
      amiId: i?.imageId ?? desired.amiId ?? later,
      architecture: desired.architecture,
    };
  },

  describe(o) {
    const out: Record<string, string> = {};
    if (o.instance) {
      const i = o.instance;
      out.instance = `${i.instanceId} (${i.state}, ${i.instanceType})`;
      if (i.publicIp) out.publicIp = i.publicIp;
      out.ami = i.imageId;
      if ((o.instances?.length ?? 0) > 1) out.instances = o.instances!.map((x) => `${x.instanceId} (${x.state}, ${x.imageId})`).join(', ');
    } else out.instance = 'none';
    if (o.securityGroup) {
      const g = o.securityGroup;
      out.securityGroup = `${g.groupId} (${g.ingress.map(ruleKey).join(', ') || 'no ingress'})`;
    } else out.securityGroup = 'none';
    return out;
  },

  async destroy(ctx) {
    const deleted: string[] = [];
    const kept: string[] = [];

    // 1. Every instance of the stack (normally one), then wait until they are terminated.
    const instances = await stackInstances(ctx, ['pending', 'running', 'stopping', 'stopped', 'shutting-down']);
    if (instances.length) {
      const ids = instances.map((i) => i.instanceId);
      ctx.report(`terminating ${ids.join(', ')}`);
      await terminateAndWait(ctx, ids, instances.filter((i) => i.state === 'shutting-down').map((i) => i.instanceId));
      deleted.push(...ids.map((id) => `instance ${id}`));
    }

    // 2. The stack's security groups (by tag, whatever their name), then say which same-named one was left.
    const ours: { GroupId?: string; GroupName?: string }[] = [];
    let token: string | undefined;
    do {
      const res = await ctx.ec2.describeSecurityGroups({ Filters: [{ Name: `tag:${STACK_TAG}`, Values: [ctx.stack] }], NextToken: token });
      ours.push(...(res.SecurityGroups ?? []));
      token = res.NextToken;
    } while (token);
    for (const g of ours) {
      if (!g.GroupId) continue;
      await retryOn(
        async () => {
          try {
            await ctx.ec2.deleteSecurityGroup({ GroupId: g.GroupId });
          } catch (e) {
            if (hasAwsCode(e, 'InvalidGroup.NotFound')) return;
            throw e;
          }
        },
        ['DependencyViolation'],
        {
          clock: ctx.clock,
          signal: ctx.signal,
          timeoutMs: 5 * 60_000 * ctx.timing.timeoutScale,
          initialDelayMs: ctx.timing.retryMs,
          maxDelayMs: Math.max(ctx.timing.retryMs, 15_000),
          onRetry: () => ctx.report(`security group ${g.GroupId} still in use (DependencyViolation): waiting`),
        },
      );
      deleted.push(`security group ${g.GroupName ?? ''} (${g.GroupId})`.replace('  ', ' '));
    }
    const sameName = await readSecurityGroup(ctx, ctx.config.securityGroupName, ctx.config.vpcId);
    if (sameName && !sameName.owned) kept.push(`security group ${sameName.name} (${sameName.groupId}, not tagged as stack ${ctx.stack})`);
    return { deleted, kept };
  },

  async destroyPreview(ctx) {
    const instances = await stackInstances(ctx, ['pending', 'running', 'stopping', 'stopped', 'shutting-down']);
    const res = await ctx.ec2.describeSecurityGroups({ Filters: [{ Name: `tag:${STACK_TAG}`, Values: [ctx.stack] }] });
    const sameName = await readSecurityGroup(ctx, ctx.config.securityGroupName, ctx.config.vpcId);
    return {
      deleted: [
        ...instances.map((i) => `EC2 instance ${i.instanceId} (${i.instanceType}, ${i.state})`),
        ...(res.SecurityGroups ?? []).map((g) => `security group ${g.GroupName} (${g.GroupId})`),
      ],
      kept: sameName && !sameName.owned ? [`security group ${sameName.name} (${sameName.groupId}, not tagged as stack ${ctx.stack})`] : [],
    };
  },
};

// ---- apply helpers ----------------------------------------------------------------------------------

/** Terminate the stack's instances (those already shutting down are only waited for) and wait until they are gone. */
async function terminateAndWait(ctx: Ctx, ids: string[], alreadyGoing: string[] = []): Promise<void> {
  const toTerminate = ids.filter((id) => !alreadyGoing.includes(id));
  if (toTerminate.length) {
    try {
      await ctx.ec2.terminateInstances({ InstanceIds: toTerminate });
    } catch (e) {
      if (!hasAwsCode(e, 'InvalidInstanceID.NotFound')) throw e;
    }
  }
  await pollUntil(
    async () => {
      const left = (await stackInstances(ctx, ['pending', 'running', 'stopping', 'stopped', 'shutting-down'])).filter((i) => ids.includes(i.instanceId));
      return left.length === 0 ? true : undefined;
    },
    { clock: ctx.clock, signal: ctx.signal, timeoutMs: 10 * 60_000 * ctx.timing.timeoutScale, intervalMs: ctx.timing.pollMs, what: `${ids.join(', ')} to terminate` },
  );
}

function permissions(rules: IngressRule[], withDescription: boolean): IpPermission[] {
  return rules.map((r) => ({
    IpProtocol: r.protocol,
    ...(r.protocol === '-1' ? {} : { FromPort: r.fromPort, ToPort: r.toPort }),
    ...(r.ipv6
      ? { Ipv6Ranges: [{ CidrIpv6: r.cidr, ...(withDescription && r.description ? { Description: r.description } : {}) }] }
      : { IpRanges: [{ CidrIp: r.cidr, ...(withDescription && r.description ? { Description: r.description } : {}) }] }),
  }));
}

async function ensureSecurityGroup(ctx: Ctx, observed: SecurityGroupObserved | undefined, d: InstanceDesired): Promise<SecurityGroupObserved> {
  let sg = observed;
  if (!sg) {
    if (!d.vpcId) throw new Error('instance: the VPC is not known (prepare did not run)');
    try {
      const res = await ctx.ec2.createSecurityGroup({
        GroupName: d.securityGroupName,
        Description: `ecs-cwlogs stack ${d.stack}: HTTP${d.keyName ? ' and SSH' : ''} from the allowed CIDR only`,
        VpcId: d.vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: awsTags(d.securityGroupTags) }],
      });
      sg = { groupId: res.GroupId ?? '', name: d.securityGroupName, vpcId: d.vpcId, ingress: [], tags: d.securityGroupTags, owned: true };
    } catch (e) {
      if (!hasAwsCode(e, 'InvalidGroup.Duplicate')) throw e;
      sg = await readSecurityGroup(ctx, d.securityGroupName, d.vpcId);
      if (!sg) throw e;
      if (!sg.owned && !d.adopt) {
        const c = ownershipConflict('Security group', d.securityGroupName, sg.tags[STACK_TAG], 'instance');
        if (c.action === 'conflict') throw new ConflictError({ what: c.what, why: c.why, fix: c.fix });
      }
    }
  }
  if (ownedTagsDiff(sg.tags, d.securityGroupTags).length) {
    await ctx.ec2.createTags({ Resources: [sg.groupId], Tags: awsTags(d.securityGroupTags) });
  }
  if (d.ingress) {
    const want = new Set(d.ingress.map(ruleKey));
    const have = new Set(sg.ingress.map(ruleKey));
    const missing = d.ingress.filter((r) => !have.has(ruleKey(r)));
    const extra = sg.ingress.filter((r) => !want.has(ruleKey(r)));
    if (missing.length) {
      try {
        await ctx.ec2.authorizeSecurityGroupIngress({ GroupId: sg.groupId, IpPermissions: permissions(missing, true) });
      } catch (e) {
        if (!hasAwsCode(e, 'InvalidPermission.Duplicate')) throw e;
      }
    }
    if (extra.length) {
      try {
        await ctx.ec2.revokeSecurityGroupIngress({ GroupId: sg.groupId, IpPermissions: permissions(extra, false) });
      } catch (e) {
        if (!hasAwsCode(e, 'InvalidPermission.NotFound')) throw e;
      }
    }
    sg = { ...sg, ingress: d.ingress };
  }
  return sg;
}

/** The launch request, minus the ClientToken. Deterministic: the token is derived from it. */
export function launchRequest(d: InstanceDesired, securityGroupId: string): Omit<RunInstancesCommandInput, 'ClientToken'> {
  if (!d.amiId) throw new Error('instance: the AMI is not known (prepare did not run)');
  const tags = { ...d.tags, [CLUSTER_TAG]: d.clusterName };
  return {
    ImageId: d.amiId,
    InstanceType: d.instanceType as _InstanceType,
    MinCount: 1,
    MaxCount: 1,
    ...(d.keyName ? { KeyName: d.keyName } : {}),
    IamInstanceProfile: { Name: d.instanceProfileName },
    NetworkInterfaces: [
      { DeviceIndex: 0, SubnetId: d.subnetId, Groups: [securityGroupId], AssociatePublicIpAddress: true, DeleteOnTermination: true },
    ],
    UserData: Buffer.from(d.userData, 'utf8').toString('base64'),
    ...(d.cpuCredits ? { CreditSpecification: { CpuCredits: d.cpuCredits } } : {}),
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: METADATA_HOP_LIMIT, HttpEndpoint: 'enabled' },
    BlockDeviceMappings: [{ DeviceName: d.rootDeviceName ?? '/dev/xvda', Ebs: { VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: awsTags(tags) },
      { ResourceType: 'volume', Tags: awsTags({ ...d.tags }) },
    ],
  };
}

/**
 * ClientToken for the n-th launch of this exact request by this stack (EC2 allows 64 characters).
 * The same request after a crash gets the same token, so EC2 returns the instance it already
 * launched. A token whose instance has since been terminated is used up: the next n is tried.
 */
export function clientToken(account: string, region: string, stack: string, request: object, n: number): string {
  const h = createHash('sha256').update(JSON.stringify([account, region, stack, request])).digest('hex').slice(0, 40);
  return `ecs-cwlogs-${h}-${n}`;
}

function isProfilePropagation(e: unknown): boolean {
  return hasAwsCode(e, 'InvalidParameterValue') && /Invalid IAM Instance Profile/i.test((e as Error).message ?? '');
}

const MAX_GENERATIONS = 50;

/**
 * What the ClientToken is derived from: the launch request without its subnet. One launch keeps its
 * token while it moves from zone to zone, so a run that was cut short after a fallback and runs
 * again (trying the first zone again) gets IdempotentParameterMismatch for that token, and finds the
 * instance it launched by the token instead of launching a second one.
 */
export function tokenBasis(request: Omit<RunInstancesCommandInput, 'ClientToken'>): object {
  return { ...request, NetworkInterfaces: request.NetworkInterfaces?.map(({ SubnetId: _subnet, ...nic }) => nic) };
}

/** Capacity answers: the next zone may have what this one has not. */
const PLACEMENT_CODES = ['InsufficientInstanceCapacity', 'Unsupported'];

async function launchedWith(ctx: Ctx, token: string, exclude: readonly string[]): Promise<InstanceObserved | undefined> {
  const res = await ctx.ec2.describeInstances({
    Filters: [
      { Name: 'client-token', Values: [token] },
      { Name: 'instance-state-name', Values: LIVE_STATES },
    ],
  });
  const found = (res.Reservations ?? []).flatMap((r) => r.Instances ?? []).map(instanceShape);
  return found.find((i) => !exclude.includes(i.instanceId));
}

/**
 * RunInstances in the first subnet of the desired choices; on InsufficientInstanceCapacity or
 * Unsupported, in the next one (the next zone), saying so. `exclude`: instances that don't count as
 * this launch (the one a replacement replaces).
 */
async function launch(ctx: Ctx, d: InstanceDesired, securityGroupId: string, exclude: readonly string[] = []): Promise<InstanceObserved> {
  const choices: SubnetChoice[] = d.subnetChoices.length ? d.subnetChoices : [{ subnetId: d.subnetId ?? '' }];
  const tried: { az: string; code: string }[] = [];
  let n = 0;
  for (let k = 0; k < choices.length; k++) {
    const choice = choices[k]!;
    const request = launchRequest({ ...d, subnetId: choice.subnetId || undefined }, securityGroupId);
    const basis = tokenBasis(request);
    let moved = false;
    for (; n < MAX_GENERATIONS; n++) {
      const token = clientToken(ctx.account, ctx.config.region, ctx.stack, basis, n);
      let res;
      try {
        res = await retryOn(() => ctx.ec2.runInstances({ ...request, ClientToken: token }), isProfilePropagation, {
          clock: ctx.clock,
          signal: ctx.signal,
          timeoutMs: 3 * 60_000 * ctx.timing.timeoutScale,
          initialDelayMs: ctx.timing.retryMs,
          maxDelayMs: Math.max(ctx.timing.retryMs, 15_000),
          onRetry: () => ctx.report('waiting for the instance profile to reach EC2 (IAM propagation)'),
        });
      } catch (e) {
        if (hasAwsCode(e, 'IdempotentParameterMismatch')) {
          // That token launched this request in another subnet (a run cut short after a fallback).
          const earlier = await launchedWith(ctx, token, exclude);
          if (earlier) {
            ctx.report(`found ${earlier.instanceId}, launched by an earlier run in ${earlier.subnetId}`);
            return earlier;
          }
          continue;
        }
        if (hasAwsCode(e, ...PLACEMENT_CODES)) {
          const code = awsErrorCode(e) ?? 'InsufficientInstanceCapacity';
          tried.push({ az: choice.az ?? choice.subnetId, code });
          const next = choices[k + 1];
          ctx.report(
            `${code === 'Unsupported' ? `${d.instanceType} is not supported` : `no ${d.instanceType} capacity`} in ${choice.az ?? choice.subnetId}` +
              (next ? `: trying ${next.az ?? next.subnetId} (subnet ${next.subnetId})` : ''),
          );
          moved = true;
          break;
        }
        if (isProfilePropagation(e)) {
          throw new AwsError({
            what: `EC2 does not accept instance profile ${d.instanceProfileName}`,
            why: 'it still is not visible to EC2 after 3 minutes',
            fix: 'Check it exists and holds a role (`ecs-cwlogs iam`), then run the command again.',
            code: awsErrorCode(e),
            cause: e,
          });
        }
        throw e;
      }
      const i = res.Instances?.[0];
      if (!i?.InstanceId) throw new Error('RunInstances returned no instance');
      const state = i.State?.Name ?? 'pending';
      if (state === 'terminated' || state === 'shutting-down') continue; // an earlier generation, since deleted
      if (exclude.includes(i.InstanceId)) continue; // the instance being replaced was launched by this very request
      ctx.report(`launched ${i.InstanceId} in ${choice.az ?? choice.subnetId}: pending`);
      return instanceShape(i);
    }
    if (!moved) throw new Error(`instance: ${MAX_GENERATIONS} launch tokens of this stack are used up`);
  }
  const zones = tried.map((t) => t.az).join(', ');
  throw new AwsError({
    what: `Cannot launch a ${d.instanceType} instance`,
    why: `EC2 has no capacity for it in ${zones} (${[...new Set(tried.map((t) => t.code))].join(', ')})${d.subnetFixed ? `; --subnet ${d.subnetId} allows no other zone` : ''}`,
    fix: `Try another --instance-type (e.g. ${d.architecture === 'arm64' ? 't4g.medium or m7g.medium' : 't3a.small, t3.medium or m5.large'})${d.subnetFixed ? ', or another --subnet' : ''}, or run the command again later.`,
    code: tried[tried.length - 1]?.code,
  });
}

async function waitRunning(ctx: Ctx, instance: InstanceObserved): Promise<InstanceObserved> {
  if (instance.state === 'running') return instance;
  if (instance.state === 'stopped' || instance.state === 'stopping') {
    ctx.report(`${instance.instanceId} is ${instance.state}: start it (aws ec2 start-instances) or replace it`);
    return instance;
  }
  let last = instance.state;
  return pollUntil(
    async () => {
      const now = await describeInstance(ctx, instance.instanceId);
      if (!now) return undefined;
      if (now.state !== last) {
        last = now.state;
        ctx.report(`${now.instanceId}: ${now.state}`);
      }
      if (now.state === 'running') return now;
      if (now.state === 'terminated' || now.state === 'shutting-down') {
        throw new AwsError({
          what: `Instance ${now.instanceId} stopped while starting`,
          why: `it is ${now.state} (capacity, quota or a bad AMI); see the EC2 console's state reason`,
          fix: 'Run the command again to launch a new one, or try another --instance-type.',
        });
      }
      return undefined;
    },
    { clock: ctx.clock, signal: ctx.signal, timeoutMs: 10 * 60_000 * ctx.timing.timeoutScale, intervalMs: ctx.timing.pollMs, what: `${instance.instanceId} to be running` },
  );
}

/** Whether the instance is an ACTIVE container instance of the cluster. */
export async function isRegistered(ctx: Pick<Ctx, 'ecs'>, cluster: string, ec2InstanceId: string): Promise<boolean> {
  let token: string | undefined;
  do {
    let page;
    try {
      page = await ctx.ecs.listContainerInstances({ cluster, nextToken: token });
    } catch (e) {
      if (hasAwsCode(e, 'ClusterNotFoundException')) return false;
      throw e;
    }
    const arns = page.containerInstanceArns ?? [];
    for (let k = 0; k < arns.length; k += 100) {
      const res = await ctx.ecs.describeContainerInstances({ cluster, containerInstances: arns.slice(k, k + 100) });
      if (res.containerInstances?.some((c) => c.ec2InstanceId === ec2InstanceId && c.status === 'ACTIVE')) return true;
    }
    token = page.nextToken;
  } while (token);
  return false;
}

async function waitRegistered(ctx: Ctx, instanceId: string, cluster: string): Promise<void> {
  if (await isRegistered(ctx, cluster, instanceId)) return;
  ctx.report(`${instanceId}: running, waiting for the ECS agent to register in cluster ${cluster}`);
  await pollUntil(async () => ((await isRegistered(ctx, cluster, instanceId)) ? true : undefined), {
    clock: ctx.clock,
    signal: ctx.signal,
    timeoutMs: 10 * 60_000 * ctx.timing.timeoutScale,
    intervalMs: ctx.timing.pollMs,
    what: `${instanceId} to register in cluster ${cluster} (check the instance can reach the internet and its user data)`,
  });
  ctx.report(`${instanceId}: registered in cluster ${cluster}`);
}

