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
import { awsTags } from '../core/context.js';
import { ABSENT, discovered, isAbsent, unknown, type Absent, type DepOutputs, type Discovered, type FieldDiff, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { CLUSTER_TAG, METADATA_HOP_LIMIT, amiNoteFor, architectureByName, cpuCreditsFor, hostUserData, prepareInstanceType, prepareKeyPair, prepareNetwork, resolveAmi, valueOf } from './host.js';
import { ownedTagsDiff } from './ownership.js';
import { previewedOf, recordPreviewed } from '../engine/ownership.js';
import { iamNameIn, readOnce } from './inventory.js';
import { LIVE_STATES, readCredits, stackInstances, type Ctx, type InstanceDesired, type InstanceObserved, type InstancePrepared, type InstanceStepObserved } from './instance-observe.js';
import { launch, terminateAndWait, waitRegistered, waitRunning } from './instance-launch.js';

export interface InstanceOutputs {
  instanceId: Later<string>;
  instanceType: string;
  publicIp: Later<string | undefined>;
  privateIp: Later<string | undefined>;
  securityGroupId: Later<string>;
  subnetId: Later<string>;
  vpcId: Later<string>;
  amiId: Later<string>;
  architecture: 'x86_64' | 'arm64';
}

declare module '../core/step.js' {
  interface StepOutputs {
    instance: InstanceOutputs;
  }
}

// What moved to host.ts and security-group.ts, still importable from here.
export { AMI_PARAMETER, CLUSTER_TAG, METADATA_HOP_LIMIT, architectureOf, isBurstable, offeredZones, resolveAmi, type AmiInfo, type SubnetChoice } from './host.js';
export { detectPublicIp, readSecurityGroup, type IngressRule, type SecurityGroupObserved } from './security-group.js';

export { ASG_TAG, stackInstances, type InstanceDesired, type InstanceObserved, type InstancePrepared, type InstanceStepObserved } from './instance-observe.js';
export { isRegistered, launchRequest, registeredEc2Ids, tokenBasis, whileProfilePropagates } from './instance-launch.js';

// ---- prepare ----------------------------------------------------------------------------------------

/** The stack's live instances, read once for the run: prepare and read share them. */
function liveInstances(ctx: Pick<Ctx, 'ec2' | 'stack' | 'inventory'>): Promise<InstanceObserved[]> {
  return readOnce(ctx, 'ec2:instances:live', () => stackInstances(ctx, LIVE_STATES));
}

/**
 * The stack's one running instance, when it already is what the settings ask for (its type, the
 * given VPC, subnet and key pair), so nothing about a launch needs checking: EC2 runs that type
 * there. Not with --replace-instance, which launches.
 */
function fittingInstance(ctx: Pick<Ctx, 'config' | 'flags'>, live: readonly InstanceObserved[]): InstanceObserved | undefined {
  const c = ctx.config;
  const i = live.length === 1 ? live[0]! : undefined;
  if (!i || ctx.flags.replaceInstance || !['pending', 'running'].includes(i.state) || !i.subnetId || !i.vpcId) return undefined;
  const fits = i.instanceType === c.instanceType && (!c.subnetId || c.subnetId === i.subnetId) && (!c.vpcId || c.vpcId === i.vpcId) && (c.keyName || undefined) === i.keyName;
  return fits ? i : undefined;
}

/**
 * What a run that finds its instance fitting needs: its network, and the AMI's id, to say when a
 * newer one is out (one SSM call, instead of checking the type, its zones, the VPC, the subnets and
 * the image; a launch, should one still be planned, reads the image's root device then).
 */
async function preparedFrom(ctx: Ctx, i: InstanceObserved): Promise<InstancePrepared> {
  const c = ctx.config;
  const ami = await resolveAmi(ctx, { idOnly: true }).catch((e) => {
    if (ctx.flags.intent === 'inspect') return undefined;
    throw e;
  });
  return {
    vpcId: c.vpcId ?? discovered(i.vpcId, `the VPC of instance ${i.instanceId}`),
    subnetId: c.subnetId ?? discovered(i.subnetId, `the subnet of instance ${i.instanceId}`),
    subnets: [{ subnetId: i.subnetId }],
    ...(ami ? { ami } : {}),
  };
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

/** The states of an instance `down` terminates (and waits for, when shutting-down). */
const DOOMED_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];

export const instanceStep: DeclaredStep<Ctx, InstanceStepObserved, InstanceDesired, InstancePrepared, 'instance'> = {
  id: 'instance',
  title: 'EC2 container instance',
  dependsOn: ['iam', 'cluster', 'security-group'],
  command: {
    summary: 'Launch the ECS container instance in the security group, then wait until it joins the cluster (lab steps 5-6)',
    settings: ['instanceType', 'keyName', 'vpcId', 'subnetId', 'clusterName', 'iamName'],
    examples: [
      'ecs-cwlogs instance',
      'ecs-cwlogs instance --instance-type t4g.small --key-name my-key',
      'ecs-cwlogs instance --vpc vpc-0a1b2c3d4e5f60718 --subnet subnet-0a1b2c3d4e5f60718 --allow-cidr 203.0.113.7/32',
      'ecs-cwlogs instance --replace-instance          # a new instance on the newest AMI, then the old one terminated',
      'ecs-cwlogs instance --delete --yes',
    ],
    options: [
      { flags: '--replace-instance', description: 'replace the instance where only a new one can change things (a newer AMI, another type, subnet or key pair): launch the new one, then terminate the old' },
    ],
  },
  shapes: ['single'],
  tagged: [{ type: 'ec2:instance', is: (r) => !r.tags['aws:autoscaling:groupName'] }],

  async prepare(ctx): Promise<InstancePrepared> {
    const running = fittingInstance(ctx, await liveInstances(ctx));
    if (running) return preparedFrom(ctx, running);
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
    const live = await liveInstances(ctx);
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
    // As the confirmation list found them (down), else read now.
    const instances = previewedOf<InstanceObserved>(ctx)?.ours ?? (await stackInstances(ctx, DOOMED_STATES));
    if (!instances.length) return { deleted: [], kept: [] };
    const ids = instances.map((i) => i.instanceId);
    ctx.report(`terminating ${ids.join(', ')}`);
    await terminateAndWait(ctx, ids, instances.filter((i) => i.state === 'shutting-down').map((i) => i.instanceId));
    return { deleted: ids.map((id) => `instance ${id}`), kept: [] };
  },

  async destroyPreview(ctx) {
    const instances = await stackInstances(ctx, DOOMED_STATES);
    recordPreviewed(ctx, { ours: instances, kept: [] });
    return { deleted: instances.map((i) => `EC2 instance ${i.instanceId} (${i.instanceType}, ${i.state})`), kept: [] };
  },
};

