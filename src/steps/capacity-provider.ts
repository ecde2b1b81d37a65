/**
 * Step: the ECS capacity provider over the stack's Auto Scaling group (group topology), attached to
 * the cluster as its default strategy. Managed scaling keeps the group sized for the tasks (within
 * the group's min and max, which the group step pins to --instances); managed termination
 * protection lets the group terminate only instances that run no task; managed draining drains an
 * instance before the group terminates it.
 *
 * Order (see auto-scaling-group.ts): the group is created empty; this step creates the provider
 * (ECS then tags the group AmazonECSManaged), attaches it to the cluster as its default strategy, and
 * only then scales the group to --instances and waits for the instances (scaleGroup), so that every
 * instance is launched, and registers, as the provider's.
 *
 * A capacity provider's group can't change: one that points at another group (the group was
 * recreated) is a replace plan.
 *
 * Teardown: detached from every cluster that holds it (an Auto Scaling group provider sits on one
 * cluster at a time, not necessarily ours: only that one provider leaves the cluster's list and
 * default strategy, the rest is kept), deleted, waited until INACTIVE. DeleteCapacityProvider on a
 * provider still attached answers HTTP 200 with updateStatus DELETE_FAILED and an updateStatusReason,
 * and the provider stays ACTIVE (no exception: API_DeleteCapacityProvider, "the capacity provider
 * must be removed from the capacity provider strategy of all services" and disassociated from the
 * cluster, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteCapacityProvider.html).
 * So the answer's updateStatus is read: DELETE_FAILED detaches again, wherever it is, and retries.
 */
import type { CapacityProvider, CapacityProviderStrategyItem, DeleteCapacityProviderCommandOutput } from '@aws-sdk/client-ecs';
import type { Context } from '../engine/context.js';
import { ecsTags, ownedBy, STACK_TAG } from '../core/context.js';
import { diff } from '../core/diff.js';
import { hasAwsCode } from '../core/errors.js';
import { absent, isAbsent, known, showValue, unknown, type Absent, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { groupNames } from '../core/topology.js';
import { pollUntil, retryOn, within } from '../core/wait.js';
import { ownedTagsDiff, ownershipConflict } from './ownership.js';
import { scaleGroup } from './auto-scaling-group.js';
import { clusterInPlan } from './cluster.js';

export interface CapacityProviderOutputs { capacityProviderName: string; capacityProviderArn: Later<string> }

declare module '../core/step.js' {
  interface StepOutputs {
    'capacity-provider': CapacityProviderOutputs;
  }
}

type Ctx = Pick<Context, 'ecs' | 'autoscaling' | 'config' | 'tags' | 'stack' | 'flags' | 'clock' | 'timing' | 'signal' | 'report' | 'planReads'>;

export interface CapacityProviderSettings {
  managedScaling: 'ENABLED' | 'DISABLED';
  targetCapacity: number;
  managedTerminationProtection: 'ENABLED' | 'DISABLED';
  managedDraining: 'ENABLED' | 'DISABLED';
}

export interface CapacityProviderObserved extends CapacityProviderSettings {
  name: string;
  arn: string;
  groupArn: string;
  /** The cluster's providers and default strategy (the association is this step's too). */
  cluster: { providers: string[]; strategy: CapacityProviderStrategyItem[] } | undefined;
  tags: Record<string, string>;
  owned: boolean;
}

export interface CapacityProviderDesired extends CapacityProviderSettings {
  name: string;
  cluster: string;
  groupArn: string;
  /** The group this provider scales out once attached, and to how many instances. */
  groupName: string;
  count: number;
  tags: Record<string, string>;
  adopt: boolean;
  pending?: string;
}

const SETTINGS: CapacityProviderSettings = { managedScaling: 'ENABLED', targetCapacity: 100, managedTerminationProtection: 'ENABLED', managedDraining: 'ENABLED' };

function shape(cp: CapacityProvider, stack: string, cluster: CapacityProviderObserved['cluster']): CapacityProviderObserved {
  const tags = Object.fromEntries((cp.tags ?? []).map((t) => [t.key ?? '', t.value ?? '']));
  const p = cp.autoScalingGroupProvider;
  return {
    name: cp.name ?? '',
    arn: cp.capacityProviderArn ?? '',
    groupArn: p?.autoScalingGroupArn ?? '',
    managedScaling: (p?.managedScaling?.status ?? 'DISABLED') as 'ENABLED' | 'DISABLED',
    targetCapacity: p?.managedScaling?.targetCapacity ?? 100,
    managedTerminationProtection: (p?.managedTerminationProtection ?? 'DISABLED') as 'ENABLED' | 'DISABLED',
    managedDraining: (p?.managedDraining ?? 'ENABLED') as 'ENABLED' | 'DISABLED',
    cluster,
    tags,
    owned: ownedBy(tags, stack),
  };
}

/** The cluster's providers and default strategy: in a plan, from the cluster step's read of it (clusterInPlan). */
async function readCluster(ctx: Pick<Context, 'ecs'> & Partial<Pick<Context, 'planReads'>>, cluster: string): Promise<CapacityProviderObserved['cluster']> {
  const c = (await clusterInPlan(ctx, cluster)).clusters?.find((x) => x.status === 'ACTIVE' || x.status === 'PROVISIONING');
  return c ? { providers: c.capacityProviders ?? [], strategy: c.defaultCapacityProviderStrategy ?? [] } : undefined;
}

async function readProvider(ctx: Pick<Context, 'ecs' | 'stack'>, name: string, cluster: string): Promise<CapacityProviderObserved | Absent> {
  const res = await ctx.ecs.describeCapacityProviders({ capacityProviders: [name], include: ['TAGS'] });
  const cp = res.capacityProviders?.find((x) => x.name === name);
  if (!cp || cp.status === 'INACTIVE') return absent();
  if (cp.updateStatus === 'DELETE_IN_PROGRESS' || cp.status === 'DEPROVISIONING') return absent('being deleted');
  return shape(cp, ctx.stack, await readCluster(ctx, cluster));
}

const strategyFor = (name: string): CapacityProviderStrategyItem[] => [{ capacityProvider: name, weight: 1, base: 0 }];
const sameStrategy = (a: CapacityProviderStrategyItem[], name: string) => a.length === 1 && a[0]!.capacityProvider === name && (a[0]!.weight ?? 0) === 1 && (a[0]!.base ?? 0) === 0;

export const capacityProviderStep: DeclaredStep<Ctx, CapacityProviderObserved, CapacityProviderDesired, undefined, 'capacity-provider'> = {
  id: 'capacity-provider',
  title: 'Capacity provider',
  dependsOn: ['cluster', 'auto-scaling-group'],
  command: {
    summary: 'Create the ECS capacity provider over the group (managed scaling and termination protection) and make it the cluster\'s default',
    settings: ['clusterName', 'instances', 'loadBalancer'],
    examples: [
      'ecs-cwlogs capacity-provider',
      'ecs-cwlogs capacity-provider --dry-run',
      'ecs-cwlogs capacity-provider --delete --yes',
    ],
  },
  shapes: ['group'],
  tagged: [{ type: 'ecs:capacity-provider' }],

  read: (ctx) => readProvider(ctx, groupNames(ctx.config).capacityProvider, ctx.config.clusterName),

  desired(ctx, deps) {
    const g = deps['auto-scaling-group']?.groupArn;
    return {
      name: groupNames(ctx.config).capacityProvider,
      cluster: ctx.config.clusterName,
      groupArn: known(g) ?? showValue(g),
      groupName: deps['auto-scaling-group']?.groupName ?? groupNames(ctx.config).autoScalingGroup,
      count: deps['auto-scaling-group']?.desired ?? ctx.config.instances,
      ...(known(g) === undefined ? { pending: `the Auto Scaling group (${showValue(g)})` } : {}),
      ...SETTINGS,
      tags: { ...ctx.tags },
      adopt: ctx.flags.adopt,
    };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.name}: managed scaling and termination protection, the default of cluster ${desired.cluster}` };
    if (!observed.owned && !desired.adopt) return ownershipConflict('Capacity provider', desired.name, observed.tags[STACK_TAG], 'up');
    if (!desired.pending && observed.groupArn !== desired.groupArn) {
      return {
        action: 'conflict',
        what: `Capacity provider ${desired.name} belongs to another Auto Scaling group (${observed.groupArn.split('/').pop()})`,
        why: "a capacity provider's group can't change",
        fix: 'Run `ecs-cwlogs down` (logs are kept), then `ecs-cwlogs up`.',
      };
    }
    const pick = (x: CapacityProviderSettings) => ({ managedScaling: x.managedScaling, targetCapacity: x.targetCapacity, managedTerminationProtection: x.managedTerminationProtection, managedDraining: x.managedDraining });
    const diffs = [...diff(pick(observed), pick(desired)), ...ownedTagsDiff(observed.tags, desired.tags)];
    if (!observed.cluster?.providers.includes(desired.name)) diffs.push({ field: 'cluster.capacityProviders', from: observed.cluster?.providers ?? [], to: [...(observed.cluster?.providers ?? []), desired.name] });
    if (!sameStrategy(observed.cluster?.strategy ?? [], desired.name)) diffs.push({ field: 'cluster.defaultStrategy', from: (observed.cluster?.strategy ?? []).map((s) => s.capacityProvider), to: [desired.name] });
    return diffs.length ? { action: 'update', summary: [...new Set(diffs.map((d) => d.field))].join(', '), diffs } : { action: 'noop' };
  },

  async apply(ctx, { plan, observed, desired }) {
    const provider = {
      managedScaling: { status: desired.managedScaling, targetCapacity: desired.targetCapacity, minimumScalingStepSize: 1, maximumScalingStepSize: 10 },
      managedTerminationProtection: desired.managedTerminationProtection,
      managedDraining: desired.managedDraining,
    };
    let arn: string;
    if (isAbsent(observed)) {
      if (observed.detail === 'being deleted') await waitInactive(ctx, desired.name);
      try {
        const res = await ctx.ecs.createCapacityProvider({ name: desired.name, autoScalingGroupProvider: { autoScalingGroupArn: desired.groupArn, ...provider }, tags: ecsTags(desired.tags) });
        arn = res.capacityProvider?.capacityProviderArn ?? '';
      } catch (e) {
        // Created by a run killed before it could attach it: read it back.
        if (!hasAwsCode(e, 'ClientException') || !/already exists/i.test((e as Error).message)) throw e;
        const again = await readProvider(ctx, desired.name, desired.cluster);
        if (isAbsent(again)) throw e;
        arn = again.arn;
      }
    } else {
      arn = observed.arn;
      if (plan.action === 'update') {
        const fields = new Set(plan.diffs.map((d) => d.field.split('.')[0]));
        if (['managedScaling', 'targetCapacity', 'managedTerminationProtection', 'managedDraining'].some((f) => fields.has(f))) {
          await ctx.ecs.updateCapacityProvider({ name: desired.name, autoScalingGroupProvider: provider });
        }
        if (fields.has('tags')) await ctx.ecs.tagResource({ resourceArn: arn, tags: ecsTags(desired.tags) });
      }
    }
    // The plan saw it attached as the cluster's default (else it would not be a noop).
    const cluster = plan.action === 'noop' && !isAbsent(observed) ? observed.cluster : await readCluster(ctx, desired.cluster);
    if (!cluster?.providers.includes(desired.name) || !sameStrategy(cluster.strategy, desired.name)) {
      ctx.report(`attaching to cluster ${desired.cluster}`);
      await putProviders(ctx, desired.cluster, [...new Set([...(cluster?.providers ?? []), desired.name])], strategyFor(desired.name));
    }
    // Only now may the group have instances: each is launched carrying AmazonECSManaged and registers as the provider's.
    await scaleGroup(ctx, desired.groupName, desired.count, desired.cluster);
    return { capacityProviderName: desired.name, capacityProviderArn: arn };
  },

  preview: (observed, desired) => ({ capacityProviderName: desired.name, capacityProviderArn: isAbsent(observed) ? unknown('create') : observed.arn }),

  describe: (o) => ({ arn: o.arn, scaling: `managed ${o.managedScaling.toLowerCase()}, termination protection ${o.managedTerminationProtection.toLowerCase()}`, default: o.cluster && sameStrategy(o.cluster.strategy, o.name) ? 'yes' : 'no' }),

  async destroy(ctx) {
    const { ours, kept } = await stackProviders(ctx);
    const deleted: string[] = [];
    for (const cp of ours) {
      let failed: string | undefined;
      for (let attempt = 1; ; attempt++) {
        await detachEverywhere(ctx, cp.name);
        let res: DeleteCapacityProviderCommandOutput | undefined;
        try {
          res = await retryOn(() => ctx.ecs.deleteCapacityProvider({ capacityProvider: cp.name }), ['UpdateInProgressException', 'ResourceInUseException'], {
            ...within(ctx, 5),
            initialDelayMs: ctx.timing.retryMs,
            maxDelayMs: 5 * ctx.timing.retryMs,
          });
        } catch (e) {
          if (!(hasAwsCode(e, 'ClientException', 'InvalidParameterException') && /not found|does not exist|INACTIVE/i.test((e as Error).message))) throw e;
        }
        // HTTP 200, yet refused: still attached somewhere (attached again meanwhile, or a cluster update still settling).
        if (res?.capacityProvider?.updateStatus !== 'DELETE_FAILED') break;
        failed = res.capacityProvider.updateStatusReason ?? 'DELETE_FAILED';
        if (attempt >= 5) throw new Error(`Deleting capacity provider ${cp.name} failed: ${failed}. Detach it from that cluster (aws ecs put-cluster-capacity-providers) and run \`ecs-cwlogs down\` again.`);
        ctx.report(`delete refused (${failed}): detaching and retrying`);
        await ctx.clock.sleep(ctx.timing.retryMs * attempt, ctx.signal);
      }
      await waitInactive(ctx, cp.name);
      deleted.push(`capacity provider ${cp.name}`);
    }
    return { deleted, kept };
  },

  async destroyPreview(ctx) {
    const { ours, kept } = await stackProviders(ctx);
    return { deleted: ours.map((c) => `capacity provider ${c.name}`), kept };
  },
};

/** The stack's capacity provider(s): the one named for the cluster, and any other with the stack tag. */
async function stackProviders(ctx: Ctx): Promise<{ ours: CapacityProviderObserved[]; kept: string[] }> {
  const all: CapacityProvider[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ecs.describeCapacityProviders({ include: ['TAGS'], nextToken: token });
    all.push(...(res.capacityProviders ?? []));
    token = res.nextToken;
  } while (token);
  const name = groupNames(ctx.config).capacityProvider;
  const ours: CapacityProviderObserved[] = [];
  const kept: string[] = [];
  for (const cp of all) {
    if (cp.status === 'INACTIVE' || !cp.autoScalingGroupProvider) continue; // FARGATE, FARGATE_SPOT, deleted
    const o = shape(cp, ctx.stack, undefined);
    if (o.owned) ours.push(o);
    else if (o.name === name) kept.push(`capacity provider ${name} (not tagged as stack ${ctx.stack})`);
  }
  return { ours, kept };
}

/**
 * Take the provider off every cluster that holds it, ours or not: only it leaves the list and the
 * default strategy; the cluster's other providers stay.
 */
async function detachEverywhere(ctx: Ctx, name: string): Promise<void> {
  const arns: string[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ecs.listClusters({ nextToken: token });
    arns.push(...(res.clusterArns ?? []));
    token = res.nextToken;
  } while (token);
  for (let k = 0; k < arns.length; k += 100) {
    const clusters = (await ctx.ecs.describeClusters({ clusters: arns.slice(k, k + 100) })).clusters ?? [];
    for (const c of clusters) {
      if (c.status !== 'ACTIVE' || !c.capacityProviders?.includes(name)) continue;
      ctx.report(`detaching from cluster ${c.clusterName}`);
      const strategy = (c.defaultCapacityProviderStrategy ?? []).filter((s) => s.capacityProvider !== name);
      await putProviders(ctx, c.clusterArn ?? c.clusterName ?? '', c.capacityProviders.filter((p) => p !== name), strategy);
    }
  }
}

async function putProviders(ctx: Ctx, cluster: string, providers: string[], strategy: CapacityProviderStrategyItem[]): Promise<void> {
  // ECS takes one cluster update at a time: UpdateInProgressException while the last one settles.
  await retryOn(() => ctx.ecs.putClusterCapacityProviders({ cluster, capacityProviders: providers, defaultCapacityProviderStrategy: strategy }), ['UpdateInProgressException'], {
    ...within(ctx, 5),
    initialDelayMs: ctx.timing.retryMs,
    maxDelayMs: 5 * ctx.timing.retryMs,
  });
}

async function waitInactive(ctx: Ctx, name: string): Promise<void> {
  await pollUntil(
    async () => {
      const cp = (await ctx.ecs.describeCapacityProviders({ capacityProviders: [name] })).capacityProviders?.find((x) => x.name === name);
      return !cp || cp.status === 'INACTIVE' ? true : undefined;
    },
    { ...within(ctx, 10), intervalMs: ctx.timing.pollMs, what: `capacity provider ${name} to be deleted` },
  );
}
