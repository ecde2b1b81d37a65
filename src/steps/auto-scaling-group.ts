/**
 * Step: the Auto Scaling group (group topology). min = max = desired = --instances, one public
 * subnet per Availability Zone (the group balances the zones), instances launched from the stack's
 * launch template ($Default version) and carrying the stack tag (PropagateAtLaunch). New instances
 * are protected from scale-in: the capacity provider's managed termination protection requires it,
 * and ECS clears the protection of an instance once it runs no task, so a smaller --instances only
 * ever terminates an empty instance. An instance that dies is replaced by the group.
 *
 * The capacity provider comes before the group's first instance. The ECS developer guide ("Amazon
 * ECS capacity providers for EC2 workloads",
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/asg-capacity-providers.html) says to
 * create the group empty, create the provider and attach it to the cluster, and only then scale out:
 * creating the provider tags the group AmazonECSManaged (propagated at launch), and instances launched
 * or registered before that may never be the provider's (hashicorp/terraform-provider-aws#12582,
 * aws/containers-roadmap#2055), so the service's tasks may never be placed. So a new group is created
 * with 0 instances, and its size is set (scaleGroup) only once the stack's provider over this group is
 * ACTIVE and attached to the cluster: here when it already is, else by the capacity-provider step right
 * after attaching it. The AmazonECSManaged tag is AWS's: never set, removed or counted as drift here.
 *
 * Applying then waits until the group has N instances InService and registered in the cluster; a
 * smaller N is not waited for (the service stops tasks first, then ECS lets the group scale in).
 *
 * CreateAutoScalingGroup (and UpdateAutoScalingGroup with the template) right after IAM created the
 * instance profile the template names is refused ("ValidationError: You must use a valid fully-formed
 * launch template. ... Invalid IAM Instance Profile name") until the profile reaches EC2: retried, as
 * `instance` retries RunInstances and terraform-provider-aws retries this very answer
 * (internal/service/autoscaling/group.go, resourceGroupCreate).
 *
 * Teardown: the group is set to 0 and its instances' protection cleared, the instances terminate
 * (waited for), then the group is deleted (waited for). Resumable: every step of it reads first.
 */
import type { AutoScalingGroup, Instance as AsgInstance } from '@aws-sdk/client-auto-scaling';
import { inServiceText } from '../core/plural.js';
import { deleteOnce, deleteOwned } from '../engine/ownership.js';
import type { Context, Inventory } from '../engine/context.js';
import { containerInstancesSeen, taggedGroups } from './inventory.js';
import { ownedBy, STACK_TAG } from '../core/context.js';
import { diff } from '../core/diff.js';
import { hasAwsCode } from '../core/errors.js';
import { isAbsent, known, showValue, unknown, absent, type Absent, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { groupNames } from '../core/topology.js';
import { pollUntil, within } from '../core/wait.js';
import { ownedTagsDiff, ownershipConflict } from './ownership.js';
import { groupNetwork, type GroupNetwork } from './zones.js';
import { groupKey, readRawGroup } from './group-fit.js';
import { oncePerPlan } from '../engine/run.js';
import { registeredEc2Ids, whileProfilePropagates } from './instance.js';

export interface AutoScalingGroupOutputs { groupName: string; groupArn: Later<string>; desired: number; subnetIds: string[]; zones: string[] }

declare module '../core/step.js' {
  interface StepOutputs {
    'auto-scaling-group': AutoScalingGroupOutputs;
  }
}

type Ctx = Pick<Context, 'autoscaling' | 'ec2' | 'ecs' | 'config' | 'tags' | 'stack' | 'flags' | 'clock' | 'timing' | 'signal' | 'report' | 'inventory' | 'planReads'>;
/** What sizing the group and waiting for it need (the capacity-provider step calls scaleGroup too). */
export type ScaleCtx = Pick<Context, 'autoscaling' | 'ecs' | 'stack' | 'clock' | 'timing' | 'signal' | 'report'> & Partial<Pick<Context, 'inventory'>>;

/** The tag ECS puts on a group when a capacity provider is created over it. AWS's, not ours. */
export const ECS_MANAGED_TAG = 'AmazonECSManaged';

export interface AsgObserved {
  name: string;
  arn: string;
  min: number;
  max: number;
  desired: number;
  subnets: string[];
  launchTemplate?: { id?: string; name?: string; version?: string };
  protectNew: boolean;
  healthCheckType: string;
  instances: { id: string; zone: string; state: string; health: string; protected: boolean }[];
  deleting: boolean;
  tags: Record<string, string>;
  owned: boolean;
}

export interface AsgDesired {
  name: string;
  count: number;
  subnets: string[];
  zones: string[];
  launchTemplateId: string;
  cluster: string;
  tags: Record<string, string>;
  adopt: boolean;
  pending?: string;
}

const LT_VERSION = '$Default';

function shape(g: AutoScalingGroup, stack: string): AsgObserved {
  const tags = Object.fromEntries((g.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  const lt = g.LaunchTemplate ?? g.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  return {
    name: g.AutoScalingGroupName ?? '',
    arn: g.AutoScalingGroupARN ?? '',
    min: g.MinSize ?? 0,
    max: g.MaxSize ?? 0,
    desired: g.DesiredCapacity ?? 0,
    subnets: (g.VPCZoneIdentifier ?? '').split(',').map((s) => s.trim()).filter(Boolean).sort(),
    launchTemplate: lt ? { id: lt.LaunchTemplateId, name: lt.LaunchTemplateName, version: lt.Version } : undefined,
    protectNew: Boolean(g.NewInstancesProtectedFromScaleIn),
    healthCheckType: g.HealthCheckType ?? 'EC2',
    instances: (g.Instances ?? []).map((i: AsgInstance) => ({ id: i.InstanceId ?? '', zone: i.AvailabilityZone ?? '', state: i.LifecycleState ?? '', health: i.HealthStatus ?? '', protected: Boolean(i.ProtectedFromScaleIn) })),
    deleting: g.Status === 'Delete in progress',
    tags,
    owned: ownedBy(tags, stack),
  };
}

export async function readGroup(ctx: Pick<Context, 'autoscaling' | 'stack'>, name: string): Promise<AsgObserved | undefined> {
  const g = await readRawGroup(ctx, name);
  return g ? shape(g, ctx.stack) : undefined;
}

/** The stack's groups: by name, and any other carrying the stack tag. */
async function stackGroups(ctx: Ctx): Promise<{ ours: AsgObserved[]; kept: string[] }> {
  const found = new Map<string, AsgObserved>();
  for (const g of await taggedGroups(ctx)) found.set(g.AutoScalingGroupName ?? '', shape(g, ctx.stack));
  const kept: string[] = [];
  const name = groupNames(ctx.config).autoScalingGroup;
  if (!found.has(name)) {
    const g = await readGroup(ctx, name);
    if (g?.owned) found.set(name, g);
    else if (g) kept.push(`Auto Scaling group ${name} (not tagged as stack ${ctx.stack})`);
  }
  return { ours: [...found.values()].filter((g) => g.owned), kept };
}

const inService = (g: AsgObserved) => g.instances.filter((i) => i.state === 'InService');

export const autoScalingGroupStep: DeclaredStep<Ctx, AsgObserved, AsgDesired, GroupNetwork, 'auto-scaling-group'> = {
  id: 'auto-scaling-group',
  title: 'Auto Scaling group',
  dependsOn: ['launch-template', 'cluster'],
  command: {
    summary: 'Create or resize the Auto Scaling group (min = max = desired = --instances, a public subnet per zone) and wait until its instances join the cluster',
    settings: ['clusterName', 'instanceType', 'vpcId', 'instances', 'loadBalancer'],
    examples: [
      'ecs-cwlogs auto-scaling-group --instances 3',
      'ecs-cwlogs auto-scaling-group --instances 2 --dry-run',
      'ecs-cwlogs auto-scaling-group --delete --yes',
    ],
  },
  shapes: ['group'],
  tagged: [
    // The Tagging API has no Auto Scaling groups: their instances, launch template and capacity provider show one.
    { type: 'ec2:instance', is: (r) => Boolean(r.tags['aws:autoscaling:groupName']) },
    { type: 'ec2:launch-template' },
    { type: 'ecs:capacity-provider' },
  ],

  prepare: (ctx) => groupNetwork(ctx),

  async read(ctx): Promise<AsgObserved | Absent> {
    // Shared with the launch checks of this plan (group-fit.ts).
    const name = groupNames(ctx.config).autoScalingGroup;
    const raw = await oncePerPlan(ctx, groupKey(name), () => readRawGroup(ctx, name));
    const g = raw ? shape(raw, ctx.stack) : undefined;
    if (!g) return absent();
    if (g.deleting) return absent('being deleted');
    return g;
  },

  desired(ctx, deps, network): AsgDesired {
    const lt = deps['launch-template']?.launchTemplateId;
    return {
      name: groupNames(ctx.config).autoScalingGroup,
      count: ctx.config.instances,
      subnets: [...network.subnets],
      zones: [...network.zones],
      launchTemplateId: known(lt) ?? showValue(lt),
      ...(known(lt) === undefined ? { pending: `the launch template (${showValue(lt)})` } : {}),
      cluster: ctx.config.clusterName,
      tags: { ...ctx.tags, Name: `ecs-cwlogs ${ctx.stack}` },
      adopt: ctx.flags.adopt,
    };
  },

  plan(observed, desired): Plan {
    const where = `${desired.zones.length} zone${desired.zones.length === 1 ? '' : 's'} (${desired.zones.join(', ')})`;
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.name}: ${desired.count} instance${desired.count === 1 ? '' : 's'} across ${where}, created empty and scaled out once its capacity provider is attached` };
    if (!observed.owned && !desired.adopt) return ownershipConflict('Auto Scaling group', desired.name, observed.tags[STACK_TAG], 'up');
    const diffs = [
      ...diff(
        { min: observed.min, max: observed.max, desired: observed.desired, subnets: observed.subnets, protectNew: observed.protectNew },
        { min: desired.count, max: desired.count, desired: desired.count, subnets: desired.subnets, protectNew: true },
      ),
      ...(desired.pending || (observed.launchTemplate?.id === desired.launchTemplateId && observed.launchTemplate?.version === LT_VERSION)
        ? []
        : [{ field: 'launchTemplate', from: `${observed.launchTemplate?.id ?? observed.launchTemplate?.name}:${observed.launchTemplate?.version}`, to: `${desired.launchTemplateId}:${LT_VERSION}` }]),
      ...ownedTagsDiff(observed.tags, desired.tags),
    ];
    const running = inService(observed).length;
    return diffs.length
      ? { action: 'update', summary: diffs.map((d) => d.field).join(', '), diffs }
      : { action: 'noop', summary: inServiceText(running, desired.count) };
  },

  async apply(ctx, { plan, observed, desired }) {
    const tags = Object.entries(desired.tags).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: true, ResourceId: desired.name, ResourceType: 'auto-scaling-group' }));
    if (isAbsent(observed)) {
      if (observed.detail === 'being deleted') await waitGone(ctx, desired.name);
      ctx.report(`creating ${desired.name} empty (scaled to ${desired.count} once its capacity provider is attached)`);
      await profileRetry(ctx, () =>
        ctx.autoscaling.createAutoScalingGroup({
          ...shapeOf(desired),
          MinSize: 0,
          MaxSize: 0,
          DesiredCapacity: 0,
          HealthCheckType: 'EC2',
          HealthCheckGracePeriod: 60,
          Tags: tags,
        }),
      ).catch((e) => {
        // Created by a run that was killed before it read the group back.
        if (!hasAwsCode(e, 'AlreadyExists', 'AlreadyExistsFault')) throw e;
      });
    } else if (plan.action === 'update') {
      const fields = new Set(plan.diffs.map((d) => d.field.split('.')[0]));
      if ([...fields].some((f) => f !== 'tags' && !SIZE_FIELDS.includes(f!))) {
        // The shape without the size: the size is scaleGroup's, once the provider is in place.
        const { MinSize: _min, MaxSize: _max, DesiredCapacity: _desired, ...rest } = shapeOf(desired);
        await profileRetry(ctx, () => ctx.autoscaling.updateAutoScalingGroup(rest));
      }
      if (fields.has('tags')) await ctx.autoscaling.createOrUpdateTags({ Tags: tags });
    }
    // A group that changes nothing, at its size with its instances in service and handed to its
    // capacity provider when the plan read it a moment ago, is not read and waited on again.
    const settled = plan.action === 'noop' && !isAbsent(observed) && observed.tags[ECS_MANAGED_TAG] !== undefined && [observed.min, observed.max, observed.desired].every((n) => n === desired.count) && inService(observed).length >= desired.count;
    if (settled) {
      settledAtPlan(ctx, observed);
      return { groupName: desired.name, groupArn: observed.arn, desired: desired.count, subnetIds: desired.subnets, zones: desired.zones };
    }
    const g = await readGroup(ctx, desired.name);
    if (!g) throw new Error(`Auto Scaling group ${desired.name} was not found right after it was created`);
    if (await providerAttached(ctx, g, desired.cluster)) {
      await scaleGroup(ctx, desired.name, desired.count, desired.cluster);
    } else {
      ctx.report(`${g.instances.length} instance${g.instances.length === 1 ? '' : 's'} until the capacity provider is attached, then ${desired.count}`);
    }
    return { groupName: desired.name, groupArn: g.arn, desired: desired.count, subnetIds: desired.subnets, zones: desired.zones };
  },

  preview: (observed, desired) => ({ groupName: desired.name, groupArn: isAbsent(observed) ? unknown('create') : observed.arn, desired: desired.count, subnetIds: desired.subnets, zones: desired.zones }),

  describe(o) {
    const up = inService(o);
    const zones = [...new Set(up.map((i) => i.zone))].sort();
    const other = o.instances.filter((i) => i.state !== 'InService').map((i) => `${i.id} ${i.state}`);
    return {
      arn: o.arn,
      instances: `${inServiceText(up.length, o.desired)}${zones.length ? ` in ${zones.join(', ')}` : ''}`,
      ...(other.length ? { changing: other.join(', ') } : {}),
    };
  },

  async destroy(ctx) {
    const { ours, kept } = await stackGroups(ctx);
    const deleted: string[] = [];
    for (const g of ours) {
      const n = g.instances.length;
      if (!g.deleting) {
        if (g.min || g.max || g.desired) {
          ctx.report(`${g.name}: scaling to 0`);
          await ctx.autoscaling.updateAutoScalingGroup({ AutoScalingGroupName: g.name, MinSize: 0, MaxSize: 0, DesiredCapacity: 0 });
        }
        // Managed termination protection keeps instances with tasks; the service is gone by now.
        const protectedIds = g.instances.filter((i) => i.protected && i.state !== 'Terminated').map((i) => i.id);
        for (let k = 0; k < protectedIds.length; k += 50) {
          // ValidationError: an instance already left the group.
          await deleteOnce(() => ctx.autoscaling.setInstanceProtection({ AutoScalingGroupName: g.name, InstanceIds: protectedIds.slice(k, k + 50), ProtectedFromScaleIn: false }), ['ValidationError']);
        }
        await waitEmpty(ctx, g.name);
        await deleteOwned(ctx, () => ctx.autoscaling.deleteAutoScalingGroup({ AutoScalingGroupName: g.name }), {
          gone: (e) => hasAwsCode(e, 'ValidationError') && /not found/i.test((e as Error).message),
          busy: ['ScalingActivityInProgress', 'ResourceInUse'],
          minutes: 10,
        });
      }
      await waitGone(ctx, g.name);
      deleted.push(`Auto Scaling group ${g.name}${n ? ` and its ${n} instance${n === 1 ? '' : 's'}` : ''}`);
    }
    return { deleted, kept };
  },

  async destroyPreview(ctx) {
    const { ours, kept } = await stackGroups(ctx);
    return { deleted: ours.map((g) => `Auto Scaling group ${g.name} and its ${g.instances.length} instance${g.instances.length === 1 ? '' : 's'} (${g.instances.map((i) => i.id).join(', ') || 'none'})`), kept };
  },
};

const SIZE_FIELDS = ['min', 'max', 'desired'];

/**
 * Groups the group step found settled at the plan's read (at their size, in service, handed to their
 * provider) and so wrote nothing to: the capacity provider's wait takes that read as its first look
 * instead of reading the group again. Taken once.
 */
const settledGroups = new WeakMap<Inventory, Map<string, AsgObserved>>();

function settledAtPlan(ctx: Pick<Context, 'inventory'>, g: AsgObserved): void {
  if (!ctx.inventory) return;
  let m = settledGroups.get(ctx.inventory);
  if (!m) settledGroups.set(ctx.inventory, (m = new Map()));
  m.set(g.name, g);
}

function takeSettled(ctx: Pick<Context, 'inventory'>, name: string): AsgObserved | undefined {
  const m = ctx.inventory ? settledGroups.get(ctx.inventory) : undefined;
  const g = m?.get(name);
  m?.delete(name);
  return g;
}

/** A launch template's instance profile that IAM has not yet propagated to EC2 (see the header). */
function isProfilePropagation(e: unknown): boolean {
  return hasAwsCode(e, 'ValidationError') && /Invalid IAM Instance Profile/i.test((e as Error).message ?? '');
}

function profileRetry<T>(ctx: Ctx, call: () => Promise<T>): Promise<T> {
  return whileProfilePropagates(ctx, call, isProfilePropagation);
}

/**
 * Whether the stack's capacity provider manages this group: ECS tagged the group AmazonECSManaged,
 * the provider over this very group is ACTIVE, and it is attached to the cluster.
 */
async function providerAttached(ctx: Ctx, g: AsgObserved, cluster: string): Promise<boolean> {
  if (g.tags[ECS_MANAGED_TAG] === undefined) return false;
  const name = groupNames(ctx.config).capacityProvider;
  const cp = (await ctx.ecs.describeCapacityProviders({ capacityProviders: [name] })).capacityProviders?.find((x) => x.name === name);
  if (!cp || cp.status !== 'ACTIVE' || cp.autoScalingGroupProvider?.autoScalingGroupArn !== g.arn) return false;
  const c = (await ctx.ecs.describeClusters({ clusters: [cluster] })).clusters?.find((x) => x.status === 'ACTIVE');
  return Boolean(c?.capacityProviders?.includes(name));
}

/**
 * Size the group to `count` (min = max = desired) if it is not, and wait for a larger size to be in
 * service and registered in the cluster. Called only once the capacity provider is attached.
 */
export async function scaleGroup(ctx: ScaleCtx, name: string, count: number, cluster: string): Promise<AsgObserved> {
  const planned = takeSettled(ctx, name);
  // The group step wrote nothing to a settled group: the plan's read of it is still the fact, and
  // so is what that plan saw of the cluster's container instances.
  if (planned && planned.min === count && planned.max === count && planned.desired === count) return waitInService(ctx, name, count, cluster, planned, containerInstancesSeen(ctx, cluster));
  const g = await readGroup(ctx, name);
  if (!g) throw new Error(`Auto Scaling group ${name} does not exist`);
  if (g.min !== count || g.max !== count || g.desired !== count) {
    ctx.report(`${name}: ${g.desired} -> ${count} instance${count === 1 ? '' : 's'}`);
    await ctx.autoscaling.updateAutoScalingGroup({ AutoScalingGroupName: name, MinSize: count, MaxSize: count, DesiredCapacity: count });
    return waitInService(ctx, name, count, cluster);
  }
  // At its size: the group just read is the wait's first look (nothing was written since).
  return waitInService(ctx, name, count, cluster, g);
}

/** What the group is made of: its template, size (min = max = desired) and subnets; create and update alike. */
function shapeOf(d: AsgDesired) {
  return {
    AutoScalingGroupName: d.name,
    LaunchTemplate: { LaunchTemplateId: d.launchTemplateId, Version: LT_VERSION },
    MinSize: d.count,
    MaxSize: d.count,
    DesiredCapacity: d.count,
    VPCZoneIdentifier: d.subnets.join(','),
    NewInstancesProtectedFromScaleIn: true,
  };
}

/**
 * Wait until `count` instances of the group are in service and registered in the cluster. `read` is
 * the first look at the group; `seen`, what the plan saw of the container instances with it: where
 * it shows every instance in service ACTIVE, the cluster's are not listed again.
 */
async function waitInService(ctx: ScaleCtx, name: string, count: number, cluster: string, read?: AsgObserved, seen?: ReadonlyMap<string, string>): Promise<AsgObserved> {
  const d = { name, count, cluster };
  let last = '';
  let first = read;
  let firstSeen = seen;
  return pollUntil(
    async () => {
      const g = first ?? (await readGroup(ctx, d.name));
      const known = first ? firstSeen : undefined;
      first = undefined;
      firstSeen = undefined;
      if (!g) return undefined;
      const up = inService(g);
      const shown = known && up.length >= d.count && up.every((i) => known.get(i.id) === 'ACTIVE');
      const active = shown ? new Set(up.map((i) => i.id)) : up.length >= d.count ? await registeredEc2Ids(ctx, d.cluster) : new Set<string>();
      const registered = up.filter((i) => active.has(i.id)).length;
      const line = `${inServiceText(up.length, d.count)}, ${registered} registered in cluster ${d.cluster}`;
      if (line !== last) ctx.report(line);
      last = line;
      return up.length >= d.count && registered >= d.count ? g : undefined;
    },
    { ...within(ctx, 15), intervalMs: ctx.timing.pollMs, what: `${d.count} instances of ${d.name} to be in service and registered in cluster ${d.cluster} (look at \`aws autoscaling describe-scaling-activities --auto-scaling-group-name ${d.name}\`)` },
  );
}

async function waitEmpty(ctx: Ctx, name: string): Promise<void> {
  await pollUntil(
    async () => {
      const g = await readGroup(ctx, name);
      const left = g?.instances.filter((i) => i.state !== 'Terminated') ?? [];
      if (left.length) ctx.report(`${name}: ${left.length} instance${left.length === 1 ? '' : 's'} terminating`);
      return left.length === 0 ? true : undefined;
    },
    { ...within(ctx, 15), intervalMs: ctx.timing.pollMs, what: `the instances of ${name} to terminate` },
  );
}

async function waitGone(ctx: Ctx, name: string): Promise<void> {
  await pollUntil(async () => ((await readGroup(ctx, name)) ? undefined : true), {
    ...within(ctx, 15),
    intervalMs: ctx.timing.pollMs,
    what: `Auto Scaling group ${name} to be deleted`,
  });
}
