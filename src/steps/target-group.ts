/**
 * Step: the ALB's target group (group topology with --load-balancer). Instance targets on the tasks'
 * dynamic host ports: ECS registers each task's (instance, port) itself, so the group is created
 * empty. The health check asks httpd for / and counts 200-399 as healthy; the deregistration delay
 * is 30 s instead of 300 so that a deployment or `down` does not wait five minutes per task.
 *
 * Protocol, port, VPC and target type cannot change in place: another value there is a replace plan
 * (the listener has to forward elsewhere first), which the step refuses to do silently.
 */
import type { TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import { deleteOwned } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { ownedBy } from '../core/context.js';
import { diff } from '../core/diff.js';
import { hasAwsCode } from '../core/errors.js';
import { ABSENT, isAbsent, unknown, type Absent, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { groupNames } from '../core/topology.js';
import { listedTags } from './inventory.js';
import { ownedTagsDiff, ownershipConflict } from './ownership.js';
import { groupNetwork, vpcOf, type GroupNetwork } from './zones.js';

/** Group topology with --load-balancer: where the ALB sends requests (instance targets, the tasks' dynamic host ports). */
export interface TargetGroupOutputs { targetGroupArn: Later<string>; targetGroupName: string }

declare module '../core/step.js' {
  interface StepOutputs {
    'target-group': TargetGroupOutputs;
  }
}

type Ctx = Pick<Context, 'elbv2' | 'ec2' | 'autoscaling' | 'tagging' | 'inventory' | 'config' | 'tags' | 'stack' | 'flags' | 'clock' | 'timing' | 'signal' | 'report'>;

export interface TargetGroupSettings {
  protocol: 'HTTP';
  port: number;
  vpcId: string;
  targetType: 'instance';
  healthCheckPath: string;
  healthCheckIntervalSeconds: number;
  healthCheckTimeoutSeconds: number;
  healthyThresholdCount: number;
  unhealthyThresholdCount: number;
  matcher: string;
  deregistrationDelaySeconds: number;
}

export interface TargetGroupObserved extends TargetGroupSettings {
  arn: string;
  name: string;
  loadBalancerArns: string[];
  tags: Record<string, string>;
  owned: boolean;
}

export interface TargetGroupDesired extends TargetGroupSettings {
  name: string;
  tags: Record<string, string>;
  adopt: boolean;
}

const HEALTH = { healthCheckPath: '/', healthCheckIntervalSeconds: 10, healthCheckTimeoutSeconds: 5, healthyThresholdCount: 2, unhealthyThresholdCount: 3, matcher: '200-399', deregistrationDelaySeconds: 30 };

function tagMap(tags: { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/**
 * The tags of load balancers and target groups: those the run's Tagging API listing shows (it covers
 * elasticloadbalancing:loadbalancer and :targetgroup, by the same ARNs), the rest with DescribeTags,
 * 20 ARNs a call. A resource missing from the listing (created moments ago: the listing is eventually
 * consistent; or not the stack's) is always read from ELB itself.
 */
export async function elbTags(ctx: Pick<Context, 'elbv2' | 'stack'> & Partial<Pick<Context, 'tagging' | 'inventory'>>, all: string[]): Promise<Map<string, Record<string, string>>> {
  const out = await listedTags(ctx, all);
  const arns = all.filter((a) => !out.has(a));
  for (let i = 0; i < arns.length; i += 20) {
    const res = await ctx.elbv2.describeTags({ ResourceArns: arns.slice(i, i + 20) });
    for (const d of res.TagDescriptions ?? []) if (d.ResourceArn) out.set(d.ResourceArn, tagMap(d.Tags));
  }
  return out;
}

async function observe(ctx: Pick<Context, 'elbv2' | 'stack'> & Partial<Pick<Context, 'tagging' | 'inventory'>>, tg: TargetGroup, tags?: Record<string, string>): Promise<TargetGroupObserved> {
  const arn = tg.TargetGroupArn ?? '';
  const t = tags ?? (await elbTags(ctx, [arn])).get(arn) ?? {};
  let delay = 300;
  try {
    const attrs = await ctx.elbv2.describeTargetGroupAttributes({ TargetGroupArn: arn });
    const v = attrs.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
    if (v !== undefined) delay = Number(v);
  } catch (e) {
    if (!hasAwsCode(e, 'TargetGroupNotFound')) throw e;
  }
  return {
    arn,
    name: tg.TargetGroupName ?? '',
    protocol: (tg.Protocol ?? 'HTTP') as 'HTTP',
    port: tg.Port ?? 0,
    vpcId: tg.VpcId ?? '',
    targetType: (tg.TargetType ?? 'instance') as 'instance',
    healthCheckPath: tg.HealthCheckPath ?? '/',
    healthCheckIntervalSeconds: tg.HealthCheckIntervalSeconds ?? 30,
    healthCheckTimeoutSeconds: tg.HealthCheckTimeoutSeconds ?? 5,
    healthyThresholdCount: tg.HealthyThresholdCount ?? 5,
    unhealthyThresholdCount: tg.UnhealthyThresholdCount ?? 2,
    matcher: tg.Matcher?.HttpCode ?? '200',
    deregistrationDelaySeconds: delay,
    loadBalancerArns: tg.LoadBalancerArns ?? [],
    tags: t,
    owned: ownedBy(t, ctx.stack),
  };
}

export async function readTargetGroup(ctx: Pick<Context, 'elbv2' | 'stack'> & Partial<Pick<Context, 'tagging' | 'inventory'>>, name: string): Promise<TargetGroupObserved | Absent> {
  try {
    const res = await ctx.elbv2.describeTargetGroups({ Names: [name] });
    const tg = res.TargetGroups?.[0];
    return tg ? observe(ctx, tg) : ABSENT;
  } catch (e) {
    if (hasAwsCode(e, 'TargetGroupNotFound')) return ABSENT;
    throw e;
  }
}

/** The stack's target groups: ours by name, and any other carrying the stack tag. */
async function stackTargetGroups(ctx: Ctx): Promise<{ ours: TargetGroupObserved[]; kept: string[] }> {
  const all: TargetGroup[] = [];
  let marker: string | undefined;
  do {
    const res = await ctx.elbv2.describeTargetGroups({ Marker: marker, PageSize: 400 });
    all.push(...(res.TargetGroups ?? []));
    marker = res.NextMarker;
  } while (marker);
  const tags = await elbTags(ctx, all.map((t) => t.TargetGroupArn ?? '').filter(Boolean));
  const name = groupNames(ctx.config).targetGroup;
  const ours: TargetGroupObserved[] = [];
  const kept: string[] = [];
  for (const tg of all) {
    const t = tags.get(tg.TargetGroupArn ?? '') ?? {};
    if (ownedBy(t, ctx.stack)) ours.push(await observe(ctx, tg, t));
    else if (tg.TargetGroupName === name) kept.push(`target group ${name} (not tagged as stack ${ctx.stack})`);
  }
  return { ours, kept };
}

const settingsOf = (x: TargetGroupSettings): Omit<TargetGroupSettings, 'protocol' | 'port' | 'vpcId' | 'targetType'> => ({
  healthCheckPath: x.healthCheckPath,
  healthCheckIntervalSeconds: x.healthCheckIntervalSeconds,
  healthCheckTimeoutSeconds: x.healthCheckTimeoutSeconds,
  healthyThresholdCount: x.healthyThresholdCount,
  unhealthyThresholdCount: x.unhealthyThresholdCount,
  matcher: x.matcher,
  deregistrationDelaySeconds: x.deregistrationDelaySeconds,
});

export const targetGroupStep: DeclaredStep<Ctx, TargetGroupObserved, TargetGroupDesired, GroupNetwork, 'target-group'> = {
  id: 'target-group',
  title: 'Target group',
  dependsOn: [],
  command: {
    summary: 'Create the ALB\'s target group: instance targets on the tasks\' dynamic host ports, health check on / (with --load-balancer)',
    settings: ['clusterName', 'vpcId', 'instances', 'loadBalancer'],
    examples: [
      'ecs-cwlogs target-group --load-balancer',
      'ecs-cwlogs target-group --dry-run',
      'ecs-cwlogs target-group --delete --yes',
    ],
  },
  shapes: ['group-with-alb'],
  tagged: [{ type: 'elasticloadbalancing:targetgroup' }],

  prepare: (ctx) => groupNetwork(ctx),

  read: (ctx) => readTargetGroup(ctx, groupNames(ctx.config).targetGroup),

  desired(ctx, _deps, network) {
    return { name: groupNames(ctx.config).targetGroup, protocol: 'HTTP', port: 80, vpcId: vpcOf(network), targetType: 'instance', ...HEALTH, tags: { ...ctx.tags }, adopt: ctx.flags.adopt };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.name}, HTTP health check on / (dynamic host ports)` };
    if (!observed.owned && !desired.adopt) return ownershipConflict('Target group', desired.name, observed.tags['ecs-cwlogs:stack'], 'target-group');
    const fixed = diff({ protocol: observed.protocol, port: observed.port, vpcId: observed.vpcId, targetType: observed.targetType }, { protocol: desired.protocol, port: desired.port, vpcId: desired.vpcId, targetType: desired.targetType });
    if (fixed.length) {
      return {
        action: 'conflict',
        what: `Target group ${desired.name} has another ${fixed.map((d) => d.field).join(' and ')} (${fixed.map((d) => `${String(d.from)}, not ${String(d.to)}`).join('; ')})`,
        why: "a target group's protocol, port, VPC and target type can't change",
        fix: 'Run `ecs-cwlogs down` (logs are kept), then `ecs-cwlogs up` again.',
      };
    }
    const diffs = [...diff(settingsOf(observed), settingsOf(desired)), ...ownedTagsDiff(observed.tags, desired.tags)];
    return diffs.length ? { action: 'update', summary: diffs.map((d) => d.field).join(', '), diffs } : { action: 'noop' };
  },

  async apply(ctx, { plan, observed, desired }) {
    let arn: string;
    if (isAbsent(observed)) {
      const res = await ctx.elbv2.createTargetGroup({
        Name: desired.name,
        Protocol: desired.protocol,
        Port: desired.port,
        VpcId: desired.vpcId,
        TargetType: desired.targetType,
        HealthCheckProtocol: 'HTTP',
        ...healthCheck(desired),
        Tags: Object.entries(desired.tags).map(([Key, Value]) => ({ Key, Value })),
      });
      arn = res.TargetGroups?.[0]?.TargetGroupArn ?? '';
      await setDelay(ctx, arn, desired.deregistrationDelaySeconds);
    } else {
      arn = observed.arn;
      if (plan.action === 'update') {
        const fields = new Set(plan.diffs.map((d) => d.field.split('.')[0]));
        if ([...fields].some((f) => f !== 'tags' && f !== 'deregistrationDelaySeconds')) {
          await ctx.elbv2.modifyTargetGroup({ TargetGroupArn: arn, ...healthCheck(desired) });
        }
        if (fields.has('deregistrationDelaySeconds')) await setDelay(ctx, arn, desired.deregistrationDelaySeconds);
        if (fields.has('tags')) await ctx.elbv2.addTags({ ResourceArns: [arn], Tags: Object.entries(desired.tags).map(([Key, Value]) => ({ Key, Value })) });
      }
    }
    return { targetGroupArn: arn, targetGroupName: desired.name };
  },

  preview: (observed, desired) => ({ targetGroupArn: isAbsent(observed) ? unknown('create') : observed.arn, targetGroupName: desired.name }),

  describe: (o) => ({ arn: o.arn, port: `${o.protocol} ${o.port}`, health: `${o.healthCheckPath} ${o.matcher}` }),

  ownership: {
    find: stackTargetGroups,
    preview: (t: TargetGroupObserved) => `target group ${t.name}`,
    deleted: (t: TargetGroupObserved) => `target group ${t.name}`,
    // The listener that forwards to it goes with the load balancer (deleted first): until ELB lets
    // go of it, DeleteTargetGroup answers ResourceInUse.
    delete: async (ctx, tg: TargetGroupObserved) => {
      await deleteOwned(ctx, () => ctx.elbv2.deleteTargetGroup({ TargetGroupArn: tg.arn }), { gone: ['TargetGroupNotFound'], busy: ['ResourceInUse'], minutes: 5 });
    },
  },
};

function healthCheck(d: TargetGroupSettings) {
  return {
    HealthCheckPath: d.healthCheckPath,
    HealthCheckIntervalSeconds: d.healthCheckIntervalSeconds,
    HealthCheckTimeoutSeconds: d.healthCheckTimeoutSeconds,
    HealthyThresholdCount: d.healthyThresholdCount,
    UnhealthyThresholdCount: d.unhealthyThresholdCount,
    Matcher: { HttpCode: d.matcher },
  };
}

async function setDelay(ctx: Ctx, arn: string, seconds: number): Promise<void> {
  await ctx.elbv2.modifyTargetGroupAttributes({ TargetGroupArn: arn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(seconds) }] });
}
