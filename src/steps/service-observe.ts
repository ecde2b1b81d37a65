/**
 * The ECS service as ECS shows it: what the service step observes and wants (its types), how it is read,
 * which of its load balancer's targets are missing, and which generation a creation belongs to.
 */
import type { LoadBalancer, PlacementStrategy, Service } from '@aws-sdk/client-ecs';
import type { Context } from '../engine/context.js';
import { STACK_TAG } from '../core/context.js';
import { hasAwsCode } from '../core/errors.js';
import { ABSENT, absent, type Absent, type Later } from '../core/step.js';
import { sawContainerInstances } from './inventory.js';


export type Ctx = Pick<Context, 'ecs' | 'ec2' | 'elbv2' | 'tagging' | 'config' | 'tags' | 'stack' | 'account' | 'flags' | 'clock' | 'timing' | 'signal' | 'report'>;

/** Where the tasks run: the EC2 launch type (one instance), or the stack's capacity provider. */
export type Capacity = { launchType: 'EC2' } | { capacityProvider: string };

export interface ServiceObserved {
  name: string;
  arn: string;
  status: string;
  taskDefinition: string;
  desiredCount: number;
  runningCount: number;
  deployments: number;
  minimumHealthyPercent?: number;
  maximumPercent?: number;
  circuitBreaker?: { enable: boolean; rollback: boolean };
  capacity: string;
  placement: string[];
  loadBalancers: string[];
  /** Deployments the circuit breaker has failed (ids), and whether the PRIMARY one is among them. */
  failedDeployments: string[];
  primaryFailed: boolean;
  tags: Record<string, string>;
  owned: boolean;
  /** RUNNING tasks missing from (or draining out of) the service's target groups: deregistered by hand. */
  missingTargets?: Target[];
}

export interface Target {
  targetGroupArn: string;
  id: string;
  port: number;
}

export interface ServiceDesired {
  cluster: string;
  name: string;
  taskDefinition: string;
  desiredCount: number;
  /**
   * One instance, one fixed host port 80: the old task must stop before the new one can start (0/100).
   * A group with host port 80: one task per instance, half of them replaced at a time (50/100).
   * Behind the ALB (dynamic host ports): new tasks start beside the old ones (100/200).
   */
  minimumHealthyPercent: number;
  maximumPercent: number;
  circuitBreaker: { enable: boolean; rollback: boolean };
  /** "EC2" (the launch type) or the capacity provider's name. */
  capacity: string;
  /** Spread over zones, then instances ("spread:attribute:ecs.availability-zone"). */
  placement: string[];
  /** "targetGroupArn|httpd:80" */
  loadBalancers: string[];
  tags: Record<string, string>;
  adopt: boolean;
  url: Later<string | undefined>;
  /** A group without an ALB: the URL is each instance's, found once the tasks run. */
  urlsFromTasks?: boolean;
  /** Failed deployments from before this run: waiting ignores them. */
  ignoreDeployments?: string[];
  /** The task definition is only known once it is registered: apply needs it. */
  pending?: string;
}

export function observe(s: Service, stack: string): ServiceObserved {
  const tags = Object.fromEntries((s.tags ?? []).map((t) => [t.key ?? '', t.value ?? '']));
  return {
    name: s.serviceName ?? '',
    arn: s.serviceArn ?? '',
    status: s.status ?? 'UNKNOWN',
    taskDefinition: s.taskDefinition ?? '',
    desiredCount: s.desiredCount ?? 0,
    runningCount: s.runningCount ?? 0,
    deployments: s.deployments?.length ?? 0,
    minimumHealthyPercent: s.deploymentConfiguration?.minimumHealthyPercent,
    maximumPercent: s.deploymentConfiguration?.maximumPercent,
    circuitBreaker: s.deploymentConfiguration?.deploymentCircuitBreaker
      ? { enable: Boolean(s.deploymentConfiguration.deploymentCircuitBreaker.enable), rollback: Boolean(s.deploymentConfiguration.deploymentCircuitBreaker.rollback) }
      : undefined,
    capacity: s.capacityProviderStrategy?.length ? s.capacityProviderStrategy.map((c) => c.capacityProvider ?? '').join(',') : (s.launchType ?? 'EC2'),
    placement: placementStrings(s.placementStrategy),
    loadBalancers: loadBalancerStrings(s.loadBalancers),
    failedDeployments: (s.deployments ?? []).filter((d) => d.rolloutState === 'FAILED').map((d) => d.id ?? ''),
    primaryFailed: (s.deployments ?? []).some((d) => d.status === 'PRIMARY' && d.rolloutState === 'FAILED'),
    tags,
    owned: tags[STACK_TAG] === stack,
  };
}

export async function readService(ctx: Pick<Context, 'ecs' | 'stack'>, cluster: string, name: string): Promise<ServiceObserved | Absent> {
  try {
    const res = await ctx.ecs.describeServices({ cluster, services: [name], include: ['TAGS'] });
    const s = res.services?.find((x) => x.serviceName === name && x.status !== 'INACTIVE');
    if (!s) return ABSENT;
    if (s.status === 'DRAINING') return absent('draining (being deleted)');
    return observe(s, ctx.stack);
  } catch (e) {
    if (hasAwsCode(e, 'ClusterNotFoundException')) return absent('no cluster');
    throw e;
  }
}

/**
 * The service's RUNNING tasks that its target groups do not hold, or hold only as draining: someone
 * deregistered them (aws elbv2 deregister-targets). ECS registers a task's (instance, host port) when
 * the task starts and deregisters it when the task stops (the ECS guide, "Use load balancing to
 * distribute Amazon ECS service traffic"); nothing in the API promises that it registers one again in
 * between (aws/containers-roadmap#251 reports that it does, the sandbox models the stricter case that
 * it does not). Either way the ALB would route to fewer tasks than run, so `status` shows it and `up`
 * registers them again: RegisterTargets is idempotent, and ECS still deregisters them when the task stops.
 */
export async function missingTargets(ctx: Pick<Context, 'ecs' | 'elbv2'> & Partial<Pick<Context, 'inventory'>>, cluster: string, o: ServiceObserved): Promise<Target[]> {
  if (!o.loadBalancers.length) return [];
  const arns: string[] = [];
  let token: string | undefined;
  do {
    const page = await ctx.ecs.listTasks({ cluster, serviceName: o.name, desiredStatus: 'RUNNING', nextToken: token });
    arns.push(...(page.taskArns ?? []));
    token = page.nextToken;
  } while (token);
  const tasks = [];
  for (let i = 0; i < arns.length; i += 100) tasks.push(...((await ctx.ecs.describeTasks({ cluster, tasks: arns.slice(i, i + 100) })).tasks ?? []));
  const running = tasks.filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING' && t.containerInstanceArn);
  if (!running.length) return [];
  const cis = [...new Set(running.map((t) => t.containerInstanceArn!))];
  const ec2Of = new Map<string, string>();
  const statusOf = new Map<string, string>();
  for (let i = 0; i < cis.length; i += 100) {
    for (const ci of (await ctx.ecs.describeContainerInstances({ cluster, containerInstances: cis.slice(i, i + 100) })).containerInstances ?? []) {
      if (ci.containerInstanceArn && ci.ec2InstanceId) ec2Of.set(ci.containerInstanceArn, ci.ec2InstanceId);
      if (ci.ec2InstanceId) statusOf.set(ci.ec2InstanceId, ci.status ?? '');
    }
  }
  // The group's wait, starting from the plan's read of the group, needn't list them again (auto-scaling-group.ts).
  sawContainerInstances(ctx, cluster, statusOf);
  const missing: Target[] = [];
  for (const lb of o.loadBalancers) {
    const [targetGroupArn, container] = lb.split('|') as [string, string];
    if (!targetGroupArn.startsWith('arn:')) continue;
    const [containerName, containerPort] = container.split(':');
    const held = new Set(
      ((await ctx.elbv2.describeTargetHealth({ TargetGroupArn: targetGroupArn })).TargetHealthDescriptions ?? [])
        .filter((h) => h.TargetHealth?.State !== 'draining')
        .map((h) => `${h.Target?.Id}:${h.Target?.Port}`),
    );
    for (const t of running) {
      const id = ec2Of.get(t.containerInstanceArn!);
      const port = t.containers?.find((c) => c.name === containerName)?.networkBindings?.find((b) => b.containerPort === Number(containerPort))?.hostPort;
      if (id && port !== undefined && !held.has(`${id}:${port}`)) missing.push({ targetGroupArn, id, port });
    }
  }
  return missing;
}

/** What the generation is made of: the task definition, and the service this one follows, if any. */
export async function generationOf(ctx: Pick<Context, 'ecs'>, d: ServiceDesired): Promise<string> {
  let previous = 'first';
  try {
    const res = await ctx.ecs.describeServices({ cluster: d.cluster, services: [d.name] });
    const gone = (res.services ?? []).find((s) => s.serviceName === d.name && s.status === 'INACTIVE');
    if (gone) previous = `after ${gone.serviceArn ?? ''}@${gone.createdAt?.getTime() ?? 0}`;
  } catch (e) {
    if (!hasAwsCode(e, 'ClusterNotFoundException')) throw e;
  }
  return `${d.taskDefinition}/${previous}`;
}

export const placementStrings = (p: PlacementStrategy[] | undefined) => (p ?? []).map((x) => `${x.type}${x.field ? `:${x.field}` : ''}`);
export const loadBalancerStrings = (l: LoadBalancer[] | undefined) => (l ?? []).map((x) => `${x.targetGroupArn ?? x.loadBalancerName}|${x.containerName}:${x.containerPort}`).sort();
