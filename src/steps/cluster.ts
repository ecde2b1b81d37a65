/**
 * Step: the ECS cluster (lab step 7).
 */
import type { Context } from '../core/context.js';
import { STACK_TAG, ecsTags, ownedBy } from '../core/context.js';
import { hasAwsCode } from '../core/errors.js';
import { ABSENT, absent, isAbsent, type Absent, type Plan, type Step } from '../core/step.js';
import { retryOn } from '../core/wait.js';
import { ownershipConflict, ownedTagsDiff } from './ownership.js';

type Ctx = Pick<Context, 'ecs' | 'config' | 'tags' | 'stack' | 'flags' | 'clock' | 'timing' | 'signal' | 'report'>;

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

export async function readCluster(ctx: Pick<Context, 'ecs' | 'stack'>, name: string): Promise<ClusterObserved | Absent> {
  const res = await ctx.ecs.describeClusters({ clusters: [name], include: ['TAGS'] });
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

export const clusterStep: Step<Ctx, ClusterObserved, ClusterDesired> = {
  id: 'cluster',
  title: 'ECS cluster',
  dependsOn: [],

  read: (ctx) => readCluster(ctx, ctx.config.clusterName),

  desired: (ctx) => ({ name: ctx.config.clusterName, tags: ctx.tags, adopt: ctx.flags.adopt }),

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
    isAbsent(observed) ? { clusterName: desired.name, clusterArn: '(after create)' } : { clusterName: observed.name, clusterArn: observed.arn },

  describe: (o) => ({ arn: o.arn, status: o.status, instances: String(o.registeredContainerInstances), services: String(o.activeServices) }),

  async destroy(ctx) {
    const name = ctx.config.clusterName;
    const observed = await readCluster(ctx, name);
    if (isAbsent(observed)) return { deleted: [], kept: [] };
    if (!observed.owned) return { deleted: [], kept: [`cluster ${name} (not tagged as stack ${ctx.stack})`] };
    // Container instances deregister a little after their EC2 instance terminates; services take a
    // moment to go INACTIVE. Both are AWS being eventually consistent, so wait it out.
    await retryOn(
      async () => {
        try {
          await ctx.ecs.deleteCluster({ cluster: name });
        } catch (e) {
          if (hasAwsCode(e, 'ClusterNotFoundException')) return;
          throw e;
        }
      },
      ['ClusterContainsContainerInstancesException', 'ClusterContainsServicesException', 'ClusterContainsTasksException', 'UpdateInProgressException'],
      {
        clock: ctx.clock,
        signal: ctx.signal,
        timeoutMs: 10 * 60_000 * ctx.timing.timeoutScale,
        initialDelayMs: ctx.timing.retryMs,
        onRetry: (_n, e) => ctx.report(`waiting: ${(e as Error).name}`),
      },
    );
    return { deleted: [`cluster ${name}`], kept: [] };
  },
};
