/**
 * Step: the EC2 container instance of the single topology (lab steps 5-6). The security group is its
 * own step (security-group.ts); what a host is launched with is shared with the launch template (host.ts).
 *
 *   prepare  the VPC and a public subnet (the default VPC unless given; a given subnet must be in it),
 *            the key pair (must exist), the instance type (EC2 must know it), the ECS-optimized AL2023
 *            AMI from SSM (arm64 for Graviton)
 *   read     the live instances carrying the stack tag
 *   apply    RunInstances with a ClientToken derived from the launch request, so a re-run after a
 *            crash gets the same instance back rather than a second one; IMDSv2 required with hop
 *            limit 1 (only the host reaches it); encrypted gp3 root volume; user data that blocks
 *            bridge containers from IMDS, writes the host facts for the logging container and
 *            ECS_CLUSTER to /etc/ecs/ecs.config. "Invalid IAM Instance Profile" is IAM propagation
 *            and retried. Then waits: pending -> running -> registered as a container instance of
 *            the cluster.
 *   drift    tags and CPU credits are repaired; what only a new instance can change (type, AMI,
 *            subnet, key pair, security group, ...) is shown in the plan, never done silently.
 *   destroy  every instance carrying the stack tag terminated (waiting for terminated).
 */
import type { _InstanceType, Instance, RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { deleteOnce } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { clientToken } from './tokens.js';
import { STACK_TAG, awsTags } from '../core/context.js';
import { AwsError, awsErrorCode, hasAwsCode } from '../core/errors.js';
import { ABSENT, isAbsent, unknown, type Absent, type DepOutputs, type Discovered, type FieldDiff, type Plan, type Step } from '../core/step.js';
import { pollUntil, retryOn, within } from '../core/wait.js';
import {
  CLUSTER_TAG,
  METADATA_HOP_LIMIT,
  METADATA_OPTIONS,
  amiNoteFor,
  architectureByName,
  cpuCreditsFor,
  hostUserData,
  isBurstable,
  prepareInstanceType,
  prepareKeyPair,
  prepareNetwork,
  resolveAmi,
  tagMap,
  valueOf,
  type AmiInfo,
  type SubnetChoice,
} from './host.js';
import { ownedTagsDiff } from './ownership.js';
import { iamNameIn } from './inventory.js';

// What moved to host.ts and security-group.ts, still importable from here.
export { AMI_PARAMETER, CLUSTER_TAG, METADATA_HOP_LIMIT, architectureOf, isBurstable, offeredZones, resolveAmi, type AmiInfo, type SubnetChoice } from './host.js';
export { detectPublicIp, readSecurityGroup, type IngressRule, type SecurityGroupObserved } from './security-group.js';

type Ctx = Pick<Context, 'ec2' | 'ssm' | 'ecs' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'clock' | 'timing' | 'signal' | 'report'>;

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

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
  /** The oldest live instance carrying the stack tag (normally the only one). */
  instance?: InstanceObserved;
  /** Every live instance of the stack, oldest first: two after a replacement cut short. */
  instances?: InstanceObserved[];
}

export interface InstanceDesired {
  /** The security group the instance launches in (the security-group step's); undefined until it is created. */
  securityGroupId?: string;
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
  instanceType: string;
  architecture: 'x86_64' | 'arm64';
  amiId?: string;
  rootDeviceName?: string;
  keyName?: string;
  clusterName: string;
  instanceProfileName: string;
  userData: string;
  tags: Record<string, string>;
  /** How the network was chosen, for the plan ("discovered: the default VPC"). */
  found: string[];
  stack: string;
}

/** What prepare finds for a run: the network and the AMI. Never saved. */
export interface InstancePrepared {
  vpcId: string | Discovered<string>;
  subnetId: string | Discovered<string>;
  /** The subnets a launch may use, in order (the first is subnetId); see InstanceDesired.subnetChoices. */
  subnets?: SubnetChoice[];
  ami?: AmiInfo;
}

// ---- read -------------------------------------------------------------------------------------------

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

/** The tag EC2 Auto Scaling puts on every instance it launches. */
export const ASG_TAG = 'aws:autoscaling:groupName';

/**
 * Instances carrying the stack tag in the given states, oldest first: this step's, not those of the
 * group topology's Auto Scaling group (they carry the stack tag too, from the launch template, and
 * the group replaces and terminates them itself).
 */
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
      for (const i of r.Instances ?? []) {
        if (i.Tags?.some((t) => t.Key === ASG_TAG)) continue;
        found.push({ ...instanceShape(i), launch: i.LaunchTime?.getTime() ?? 0 });
      }
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
function replaceDiffs(i: InstanceObserved, d: InstanceDesired): FieldDiff[] {
  const sgId = d.securityGroupId;
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
  const cost = (i: InstanceObserved) => replaceDiffs(i, d).filter((x) => d.replaceInstance || x.field !== 'instance.amiId').length;
  let instance = all[all.length - 1]!;
  for (const i of [...all].reverse()) if (cost(i) < cost(instance)) instance = i;
  return { instance, extra: all.filter((i) => i !== instance) };
}

/** The AMI moved on since launch: worth a note, not drift. */
function amiNote(diffs: FieldDiff[]): string | undefined {
  const d = diffs.find((x) => x.field === 'instance.amiId');
  return d ? amiNoteFor(String(d.from), String(d.to)) : undefined;
}

// ---- the step ---------------------------------------------------------------------------------------

export const instanceStep: Step<Ctx, InstanceStepObserved, InstanceDesired, InstancePrepared, 'instance'> = {
  id: 'instance',
  title: 'EC2 container instance',
  dependsOn: ['iam', 'cluster', 'security-group'],

  async prepare(ctx): Promise<InstancePrepared> {
    const [, network, , ami] = await Promise.all([
      prepareInstanceType(ctx),
      prepareNetwork(ctx),
      prepareKeyPair(ctx),
      resolveAmi(ctx).catch((e) => {
        if (ctx.flags.intent === 'inspect') return undefined; // best effort: the plan compares the AMI when known
        throw e;
      }),
    ]);
    return { ...network, ami };
  },

  async read(ctx): Promise<InstanceStepObserved | Absent> {
    const live = await stackInstances(ctx, LIVE_STATES);
    if (live.length === 0) return ABSENT;
    await readCredits(ctx, live);
    return { instance: live[0], ...(live.length > 1 ? { instances: live } : {}) };
  },

  desired(ctx, deps: DepOutputs, prepared): InstanceDesired {
    const c = ctx.config;
    const clusterName = deps.cluster?.clusterName || c.clusterName;
    const ami = prepared?.ami;
    const sg = deps['security-group'];
    const cpuCredits = cpuCreditsFor(c.instanceType);
    return {
      ...(sg && typeof sg.securityGroupId === 'string' ? { securityGroupId: sg.securityGroupId } : {}),
      securityGroupName: sg?.groupName ?? c.securityGroupName,
      vpcId: valueOf(prepared?.vpcId) ?? c.vpcId,
      subnetId: valueOf(prepared?.subnetId) ?? c.subnetId,
      subnetChoices: prepared?.subnets ?? (c.subnetId ? [{ subnetId: c.subnetId }] : []),
      subnetFixed: Boolean(c.subnetId),
      ...(cpuCredits ? { cpuCredits } : {}),
      replaceInstance: Boolean(ctx.flags.replaceInstance),
      architecture: ami?.architecture ?? architectureByName(c.instanceType),
      instanceType: c.instanceType,
      amiId: ami?.amiId,
      rootDeviceName: ami?.rootDeviceName,
      keyName: c.keyName || undefined,
      clusterName,
      instanceProfileName: deps.iam?.instanceProfileName || iamNameIn(c.iamName, c.region),
      userData: hostUserData(clusterName, ctx.stack),
      tags: { ...ctx.tags, Name: `ecs-cwlogs-${ctx.stack}` },
      found: [prepared?.vpcId, prepared?.subnetId]
        .filter((x): x is Discovered<string> => typeof x === 'object' && x !== null && x.source === 'discovered')
        .map((x) => `${x.value} (${x.how})`),
      stack: ctx.stack,
    };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) {
      return {
        action: 'create',
        summary:
          `a ${desired.instanceType} instance in cluster ${desired.clusterName}, security group ${desired.securityGroupName}` +
          `, subnet ${desired.subnetId ?? '?'} of ${desired.vpcId ?? '?'}${desired.found.length ? `; discovered: ${desired.found.join(', ')}` : ''}`,
      };
    }
    const fix: FieldDiff[] = [];
    const { instance: i, extra } = currentInstance(observed, desired);
    let replace: FieldDiff[] = [];
    if (!i) fix.push({ field: 'instance', from: undefined, to: `${desired.instanceType} (launch)` });
    else {
      fix.push(...ownedTagsDiff(i.tags, desired.tags).map((d) => ({ ...d, field: `instance.${d.field}` })));
      // An instance launched before credits were set (t3 defaults to unlimited): changed in place.
      if (desired.cpuCredits && i.cpuCredits && i.cpuCredits !== desired.cpuCredits && i.instanceType === desired.instanceType) {
        fix.push({ field: 'instance.cpuCredits', from: i.cpuCredits, to: desired.cpuCredits });
      }
      replace = replaceDiffs(i, desired);
    }
    // A replacement cut short left the old instance running next to the new one: finish it.
    if (extra.length) fix.push({ field: 'instance.extra', from: extra.map((x) => x.instanceId), to: [] });
    // The recommended AMI moves every few weeks: that alone is a note, replaced only on request.
    const note = desired.replaceInstance ? undefined : amiNote(replace);
    if (!desired.replaceInstance) replace = replace.filter((d) => d.field !== 'instance.amiId');
    const noted = note ? { note } : {};
    if (fix.length === 0 && replace.length === 0) return { action: 'noop', summary: `${i!.instanceId} (${i!.state})`, ...noted };
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
    const sgId = desired.securityGroupId;
    if (!sgId) throw new Error(`instance: security group ${desired.securityGroupName} is not known (the security-group step did not run)`);
    const current = currentInstance(o, desired);
    let instance = current.instance;
    if (instance && plan.action === 'replace' && desired.replaceInstance) {
      // Launch the new one first: the cluster keeps a registered instance, and the service's task
      // moves to the new one once the old is gone. At the end only the new instance runs.
      const old = instance;
      const leaving = [old, ...current.extra];
      ctx.report(`replacing ${old.instanceId}: launching a new ${desired.instanceType} first`);
      let fresh = await launch(ctx, desired, sgId, leaving.map((x) => x.instanceId));
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
      instance = await launch(ctx, desired, sgId);
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
      securityGroupId: sgId,
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
    if (i && desired.replaceInstance && replaceDiffs(i, desired).length) i = undefined;
    return {
      instanceId: i?.instanceId ?? later,
      instanceType: i?.instanceType ?? desired.instanceType,
      publicIp: i ? i.publicIp : later,
      privateIp: i ? i.privateIp : later,
      securityGroupId: desired.securityGroupId ?? unknown('create'),
      subnetId: i?.subnetId ?? desired.subnetId ?? later,
      vpcId: i?.vpcId ?? desired.vpcId ?? later,
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
    return out;
  },

  async destroy(ctx) {
    // Every instance of the stack (normally one), then wait until they are terminated.
    const instances = await stackInstances(ctx, ['pending', 'running', 'stopping', 'stopped', 'shutting-down']);
    if (!instances.length) return { deleted: [], kept: [] };
    const ids = instances.map((i) => i.instanceId);
    ctx.report(`terminating ${ids.join(', ')}`);
    await terminateAndWait(ctx, ids, instances.filter((i) => i.state === 'shutting-down').map((i) => i.instanceId));
    return { deleted: ids.map((id) => `instance ${id}`), kept: [] };
  },

  async destroyPreview(ctx) {
    const instances = await stackInstances(ctx, ['pending', 'running', 'stopping', 'stopped', 'shutting-down']);
    return { deleted: instances.map((i) => `EC2 instance ${i.instanceId} (${i.instanceType}, ${i.state})`), kept: [] };
  },
};

// ---- apply helpers ----------------------------------------------------------------------------------

/** Terminate the stack's instances (those already shutting down are only waited for) and wait until they are gone. */
async function terminateAndWait(ctx: Ctx, ids: string[], alreadyGoing: string[] = []): Promise<void> {
  const toTerminate = ids.filter((id) => !alreadyGoing.includes(id));
  if (toTerminate.length) {
    await deleteOnce(() => ctx.ec2.terminateInstances({ InstanceIds: toTerminate }), ['InvalidInstanceID.NotFound']);
  }
  await pollUntil(
    async () => {
      const left = (await stackInstances(ctx, ['pending', 'running', 'stopping', 'stopped', 'shutting-down'])).filter((i) => ids.includes(i.instanceId));
      return left.length === 0 ? true : undefined;
    },
    { ...within(ctx, 10), intervalMs: ctx.timing.pollMs, what: `${ids.join(', ')} to terminate` },
  );
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
    MetadataOptions: { ...METADATA_OPTIONS },
    BlockDeviceMappings: [{ DeviceName: d.rootDeviceName ?? '/dev/xvda', Ebs: { VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: awsTags(tags) },
      { ResourceType: 'volume', Tags: awsTags({ ...d.tags }) },
    ],
  };
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
      const token = clientToken({ account: ctx.account, region: ctx.config.region, stack: ctx.stack }, basis, n);
      let res;
      try {
        res = await whileProfilePropagates(ctx, () => ctx.ec2.runInstances({ ...request, ClientToken: token }), isProfilePropagation);
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
    { ...within(ctx, 10), intervalMs: ctx.timing.pollMs, what: `${instance.instanceId} to be running` },
  );
}

/** Whether the instance is an ACTIVE container instance of the cluster. */
/** The EC2 instance ids of the cluster's ACTIVE container instances (none when there is no cluster). */
export async function registeredEc2Ids(ctx: Pick<Ctx, 'ecs'>, cluster: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let token: string | undefined;
  do {
    let page;
    try {
      page = await ctx.ecs.listContainerInstances({ cluster, nextToken: token });
    } catch (e) {
      if (hasAwsCode(e, 'ClusterNotFoundException')) return ids;
      throw e;
    }
    const arns = page.containerInstanceArns ?? [];
    for (let k = 0; k < arns.length; k += 100) {
      const res = await ctx.ecs.describeContainerInstances({ cluster, containerInstances: arns.slice(k, k + 100) });
      for (const c of res.containerInstances ?? []) if (c.ec2InstanceId && c.status === 'ACTIVE') ids.add(c.ec2InstanceId);
    }
    token = page.nextToken;
  } while (token);
  return ids;
}

export async function isRegistered(ctx: Pick<Ctx, 'ecs'>, cluster: string, ec2InstanceId: string): Promise<boolean> {
  return (await registeredEc2Ids(ctx, cluster)).has(ec2InstanceId);
}

async function waitRegistered(ctx: Ctx, instanceId: string, cluster: string): Promise<void> {
  if (await isRegistered(ctx, cluster, instanceId)) return;
  ctx.report(`${instanceId}: running, waiting for the ECS agent to register in cluster ${cluster}`);
  await pollUntil(async () => ((await isRegistered(ctx, cluster, instanceId)) ? true : undefined), {
    ...within(ctx, 10),
    intervalMs: ctx.timing.pollMs,
    what: `${instanceId} to register in cluster ${cluster} (check the instance can reach the internet and its user data)`,
  });
  ctx.report(`${instanceId}: registered in cluster ${cluster}`);
}

/**
 * A call that names an instance profile IAM has not yet propagated to EC2 (RunInstances here, the
 * group's CreateAutoScalingGroup there: docs/aws-behaviour.md), retried for up to 3 minutes while
 * `isPropagation` says that is the error, saying so.
 */
export function whileProfilePropagates<T>(ctx: Pick<Context, 'clock' | 'signal' | 'timing' | 'report'>, call: () => Promise<T>, isPropagation: (e: unknown) => boolean): Promise<T> {
  return retryOn(call, isPropagation, {
    ...within(ctx, 3),
    initialDelayMs: ctx.timing.retryMs,
    maxDelayMs: Math.max(ctx.timing.retryMs, 15_000),
    onRetry: () => ctx.report('waiting for the instance profile to reach EC2 (IAM propagation)'),
  });
}
