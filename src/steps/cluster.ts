/**
 * Step: the ECS cluster (lab step 7).
 *
 * destroy: a cluster can only be deleted once no container instance is registered in it. After the
 * run deleted the stack's instances (`down`), DeleteCluster is asked first (ECS refuses it while one is
 * registered); otherwise, or on that refusal, the container instances are listed: one whose EC2
 * instance is gone (terminated) is deregistered here; one whose EC2 instance still exists (running or
 * stopped: ECS keeps a stopped one registered) stops the delete with what to delete first, instead of
 * retrying DeleteCluster for minutes.
 */
import type { Context } from '../engine/context.js';
import { STACK_TAG, ecsTags, ownedBy, tagValue } from '../core/context.js';
import { ConflictError, hasAwsCode } from '../core/errors.js';
import { ABSENT, absent, isAbsent, unknown, type Absent, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import type { DescribeClustersCommandOutput } from '@aws-sdk/client-ecs';
import { deletedBefore, deleteOnce, deleteOwned } from '../engine/ownership.js';
import { oncePerPlan } from '../engine/run.js';
import { namesOf, taggedResources } from './inventory.js';
import { ownershipConflict, ownedTagsDiff } from './ownership.js';

export interface ClusterOutputs { clusterName: string; clusterArn: Later<string> }

declare module '../core/step.js' {
  interface StepOutputs {
    cluster: ClusterOutputs;
  }
}

type Ctx = Pick<Context, 'ecs' | 'ec2' | 'tagging' | 'config' | 'tags' | 'stack' | 'flags' | 'clock' | 'timing' | 'signal' | 'report'>;

export interface ClusterObserved {
  name: string;
  arn: string;
  status: string;
  tags: Record<string, string>;
  owned: boolean;
  registeredContainerInstances: number;
  activeServices: number;
  runningTasks: number;
}

export interface ClusterDesired {
  name: string;
  tags: Record<string, string>;
  adopt: boolean;
}

/**
 * DescribeClusters of the cluster with its tags, once per plan: the cluster step's read and the
 * capacity provider's (the cluster's providers and default strategy) are the same fact at the same moment.
 */
export function clusterInPlan(ctx: Pick<Context, 'ecs' | 'planReads'>, name: string): Promise<DescribeClustersCommandOutput> {
  return oncePerPlan(ctx, `ecs:cluster:${name}`, () => ctx.ecs.describeClusters({ clusters: [name], include: ['TAGS'] }));
}

export async function readCluster(ctx: Pick<Context, 'ecs' | 'stack'> & Partial<Pick<Context, 'planReads'>>, name: string): Promise<ClusterObserved | Absent> {
  const res = await clusterInPlan(ctx, name);
  const c = res.clusters?.find((x) => x.clusterName === name);
  if (!c) return ABSENT;
  if (c.status === 'INACTIVE') return absent('deleted (INACTIVE)');
  const tags = Object.fromEntries((c.tags ?? []).map((t) => [t.key ?? '', t.value ?? '']));
  return {
    name,
    arn: c.clusterArn ?? '',
    status: c.status ?? 'UNKNOWN',
    tags,
    owned: ownedBy(tags, ctx.stack),
    registeredContainerInstances: c.registeredContainerInstancesCount ?? 0,
    activeServices: c.activeServicesCount ?? 0,
    runningTasks: c.runningTasksCount ?? 0,
  };
}

/** The stack's clusters: the configured one and any other carrying the stack tag. */
async function stackClusters(ctx: Ctx): Promise<{ ours: ClusterObserved[]; notOurs: ClusterObserved[] }> {
  const tagged = await taggedResources(ctx);
  const names = [...new Set([ctx.config.clusterName, ...(tagged ? namesOf(tagged).clusters : [])])];
  const seen = await Promise.all(names.map((n) => readCluster(ctx, n)));
  const live = seen.filter((c): c is ClusterObserved => !isAbsent(c));
  return { ours: live.filter((c) => c.owned), notOurs: live.filter((c) => !c.owned) };
}

interface Registered {
  arn: string;
  ec2InstanceId: string;
  /** The EC2 instance's state, or "gone". */
  ec2State: string;
  ec2Ours: boolean;
}

async function registeredInstances(ctx: Ctx, cluster: string): Promise<Registered[]> {
  const arns: string[] = [];
  let token: string | undefined;
  do {
    const page = await ctx.ecs.listContainerInstances({ cluster, nextToken: token });
    arns.push(...(page.containerInstanceArns ?? []));
    token = page.nextToken;
  } while (token);
  const out: Registered[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const res = await ctx.ecs.describeContainerInstances({ cluster, containerInstances: arns.slice(i, i + 100) });
    for (const c of res.containerInstances ?? []) out.push({ arn: c.containerInstanceArn ?? '', ec2InstanceId: c.ec2InstanceId ?? '', ec2State: 'gone', ec2Ours: false });
  }
  const ids = out.map((c) => c.ec2InstanceId).filter(Boolean);
  if (ids.length) {
    const states = new Map<string, { state: string; ours: boolean }>();
    try {
      const res = await ctx.ec2.describeInstances({ InstanceIds: ids });
      for (const r of res.Reservations ?? []) {
        for (const i of r.Instances ?? []) states.set(i.InstanceId ?? '', { state: i.State?.Name ?? 'unknown', ours: tagValue(i.Tags, STACK_TAG) === ctx.stack });
      }
    } catch (e) {
      if (!hasAwsCode(e, 'InvalidInstanceID.NotFound')) throw e;
    }
    for (const c of out) {
      const s = states.get(c.ec2InstanceId);
      if (s) Object.assign(c, { ec2State: s.state, ec2Ours: s.ours });
    }
  }
  return out;
}

const isGone = (r: Registered) => r.ec2State === 'gone' || r.ec2State === 'terminated' || r.ec2State === 'shutting-down';

export const clusterStep: DeclaredStep<Ctx, ClusterObserved, ClusterDesired, undefined, 'cluster'> = {
  id: 'cluster',
  title: 'ECS cluster',
  dependsOn: [],
  command: {
    summary: 'Create the ECS cluster (lab step 7), tagged with the stack',
    settings: ['clusterName'],
    examples: [
      'ecs-cwlogs cluster',
      'ecs-cwlogs cluster --cluster-name logs-demo --dry-run',
      'ecs-cwlogs cluster --delete --yes',
    ],
  },
  shapes: ['single', 'group'],
  tagged: [{ type: 'ecs:cluster' }],

  read: (ctx) => readCluster(ctx, ctx.config.clusterName),

  desired: (ctx) => ({ name: ctx.config.clusterName, tags: { ...ctx.tags }, adopt: ctx.flags.adopt }),

  plan(observed, desired): Plan {
    if (isAbsent(observed)) return { action: 'create', summary: desired.name };
    if (!observed.owned && !desired.adopt) return ownershipConflict('ECS cluster', desired.name, observed.tags[STACK_TAG], 'cluster');
    const diffs = ownedTagsDiff(observed.tags, desired.tags);
    return diffs.length ? { action: 'update', summary: 'tags', diffs } : { action: 'noop', summary: desired.name };
  },

  async apply(ctx, { plan, observed, desired }) {
    if (plan.action === 'create') {
      const res = await ctx.ecs.createCluster({ clusterName: desired.name, tags: ecsTags(desired.tags) });
      return { clusterName: desired.name, clusterArn: res.cluster?.clusterArn ?? '' };
    }
    const o = observed as ClusterObserved;
    if (plan.action === 'update') {
      await ctx.ecs.tagResource({ resourceArn: o.arn, tags: ecsTags(desired.tags) });
    }
    return { clusterName: o.name, clusterArn: o.arn };
  },

  preview: (observed, desired) =>
    isAbsent(observed) ? { clusterName: desired.name, clusterArn: unknown('create') } : { clusterName: observed.name, clusterArn: observed.arn },

  describe: (o) => ({ arn: o.arn, status: o.status, instances: String(o.registeredContainerInstances), services: String(o.activeServices) }),

  ownership: {
    async find(ctx) {
      const { ours, notOurs } = await stackClusters(ctx);
      return { ours, kept: notOurs.map((c) => `cluster ${c.name} (not tagged as stack ${ctx.stack})`) };
    },
    preview: (c: ClusterObserved) => `ECS cluster ${c.name}${c.registeredContainerInstances ? ` (${c.registeredContainerInstances} container instance${c.registeredContainerInstances === 1 ? '' : 's'} registered)` : ''}`,
    deleted: (c: ClusterObserved) => `cluster ${c.name}`,
    delete: deleteCluster,
  },
};

/** What DeleteCluster answers while something still holds the cluster ("not yet": retried). */
const CLUSTER_BUSY = ['ClusterContainsServicesException', 'ClusterContainsTasksException', 'UpdateInProgressException', 'ClusterContainsContainerInstancesException'];

/** A cluster is deleted once no container instance is registered: gone instances are deregistered, live ones stop it. */
async function deleteCluster(ctx: Ctx, c: ClusterObserved): Promise<void> {
  // When this run has just deleted the stack's instances (`down`: the instance step, or the Auto
  // Scaling group's, waited until terminated), ECS has deregistered them, and it refuses DeleteCluster
  // atomically while any container instance is registered: asked first, the container instances are
  // listed only on a refusal (docs/aws-behaviour.md, "ECS: DeleteCluster is refused while container
  // instances are registered"). Alone (`cluster --delete`), a live instance stops it before any write.
  const before = deletedBefore(ctx);
  if (before.has('instance') || before.has('auto-scaling-group')) {
    try {
      await deleteOnce(() => ctx.ecs.deleteCluster({ cluster: c.name }), ['ClusterNotFoundException']);
      return;
    } catch (e) {
      if (!hasAwsCode(e, ...CLUSTER_BUSY)) throw e;
    }
  }
  const registered = await registeredInstances(ctx, c.name);
  const blocking = registered.filter((r) => !isGone(r));
  if (blocking.length) {
    const list = blocking.map((r) => `${r.ec2InstanceId} (${r.ec2State}${r.ec2Ours ? '' : ', not this stack\'s'})`).join(', ');
    throw new ConflictError({
      what: `Cluster ${c.name} still has container instances: ${list}`,
      why: 'ECS deletes a cluster only when no instance is registered in it',
      fix: blocking.every((r) => r.ec2Ours)
        ? 'Delete them first: `ecs-cwlogs instance --delete` (or `ecs-cwlogs down`, which deletes everything in order).'
        : `Terminate or deregister the instances that are not this stack's (aws ecs deregister-container-instance --cluster ${c.name} --force --container-instance …), then run this again.`,
    });
  }
  for (const r of registered) {
    ctx.report(`deregistering container instance of ${r.ec2InstanceId || 'a gone instance'} (${r.ec2State})`);
    await deleteOnce(() => ctx.ecs.deregisterContainerInstance({ cluster: c.name, containerInstance: r.arn, force: true }), ['InvalidParameterException', 'ClientException']);
  }
  // Services take a moment to go INACTIVE after their deletion (ECS is eventually consistent).
  await deleteOwned(ctx, () => ctx.ecs.deleteCluster({ cluster: c.name }), {
    gone: ['ClusterNotFoundException'],
    busy: CLUSTER_BUSY,
    minutes: 3,
    maxDelayMs: 15_000,
  });
}
