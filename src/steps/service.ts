/**
 * Step: the ECS service (lab step 14). Creates it, or updates it to the newest revision, then waits
 * for a steady state while printing the service's new events. Outputs the app's URL.
 *
 * The deployment circuit breaker is on, with rollback: a task that keeps failing to start (an image
 * that cannot be pulled, a container that exits) fails the deployment, and `up` stops waiting at
 * once with the stopped task's reason instead of waiting out its 15 minutes.
 *
 * CreateService's clientToken names one generation of the service: the stack, cluster, name, the
 * task definition revision and the service it replaces (an INACTIVE one of the same name, from an
 * earlier `down`). A retried call of one run sends the same token; `down` then `up` sends another,
 * so ECS does not answer "Creation of service was not idempotent".
 */
import { plural } from '../core/plural.js';
import type { CapacityProviderStrategyItem, LoadBalancer, PlacementStrategy } from '@aws-sdk/client-ecs';
import { deleteOnce, previewedOf, recordPreviewed } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { clientToken, ECS_TOKEN_LENGTH } from './tokens.js';
import { STACK_TAG, ecsTags } from '../core/context.js';
import { diff } from '../core/diff.js';
import { AwsError, hasAwsCode } from '../core/errors.js';
import { isAbsent, isUnknown, known, showValue, unknown, type DepOutputs, type Later, type Plan, type DeclaredStep } from '../core/step.js';
import { pollUntil, retryOn, settlingPace, WaitTimeoutError, within } from '../core/wait.js';
import { ownershipConflict } from './ownership.js';
import { namesOf, taggedResources } from './inventory.js';
import { groupNames, topologyOf } from '../core/topology.js';
import { type Ctx, type ServiceObserved, type ServiceDesired, readService, missingTargets, generationOf, placementStrings } from './service-observe.js';

export interface ServiceOutputs {
  serviceName: string;
  serviceArn: Later<string>;
  /** The app's address: the instance's IP, or the ALB's DNS name; with a group and no ALB, the first of `urls`. */
  url: Later<string | undefined>;
  /** A group without an ALB: every instance running a task answers on port 80. */
  urls?: string[];
}

declare module '../core/step.js' {
  interface StepOutputs {
    service: ServiceOutputs;
  }
}

export { type Capacity, type ServiceObserved, type Target, type ServiceDesired, readService, missingTargets } from './service-observe.js';

const CIRCUIT_BREAKER = { enable: true, rollback: true };

const SPREAD: PlacementStrategy[] = [
  { type: 'spread', field: 'attribute:ecs.availability-zone' },
  { type: 'spread', field: 'instanceId' },
];
const APP_CONTAINER = 'httpd';

function capacitySpec(d: ServiceDesired): { launchType: 'EC2' } | { capacityProviderStrategy: CapacityProviderStrategyItem[] } {
  return d.capacity === 'EC2' ? { launchType: 'EC2' } : { capacityProviderStrategy: [{ capacityProvider: d.capacity, weight: 1, base: 0 }] };
}
function loadBalancerSpec(d: ServiceDesired): LoadBalancer[] {
  return d.loadBalancers.map((l) => {
    const [targetGroupArn, container] = l.split('|');
    const [containerName, port] = container!.split(':');
    return { targetGroupArn, containerName, containerPort: Number(port) };
  });
}

export const serviceStep: DeclaredStep<Ctx, ServiceObserved, ServiceDesired, undefined, 'service'> = {
  id: 'service',
  title: 'ECS service',
  dependsOn: ['cluster', 'task'],
  // The log group too: the logging agent may put events in the stack's group only (templates/iam-policy.json),
  // never create it, so tasks that start before it exists lose their first lines.
  after: ['instance', 'capacity-provider', 'target-group', 'load-balancer', 'auto-scaling-group', 'log-group'],
  command: {
    summary: 'Create or update the ECS service (lab step 14) and wait for a steady state; prints the app URL',
    settings: ['serviceName', 'clusterName', 'taskFamily'],
    examples: ['ecs-cwlogs service', 'ecs-cwlogs service --dry-run', 'ecs-cwlogs service --delete --yes'],
  },
  shapes: ['single', 'group'],
  tagged: [{ type: 'ecs:service' }],

  async read(ctx) {
    const o = await readService(ctx, ctx.config.clusterName, ctx.config.serviceName);
    if (isAbsent(o) || !o.loadBalancers.length) return o;
    const missing = await missingTargets(ctx, ctx.config.clusterName, o);
    return missing.length ? { ...o, missingTargets: missing } : o;
  },

  desired(ctx, deps: DepOutputs) {
    const td = deps.task?.taskDefinitionArn;
    const group = topologyOf(ctx.config) === 'group';
    const lb = group && ctx.config.loadBalancer;
    const cp = deps['capacity-provider']?.capacityProviderName;
    const tg = deps['target-group']?.targetGroupArn;
    const pending = [isUnknown(td) ? showValue(td) : undefined, lb && isUnknown(tg) ? `the target group ${showValue(tg)}` : undefined].filter(Boolean).join(', ');
    let url: Later<string | undefined>;
    if (!group) {
      const ip = deps.instance?.publicIp;
      url = isUnknown(ip) ? unknown('launch') : ip ? `http://${ip}/` : undefined;
    } else if (lb) {
      const dns = deps['load-balancer']?.dnsName;
      url = isUnknown(dns) ? unknown('create') : dns ? `http://${dns}/` : undefined;
    } else {
      url = unknown('the tasks run');
    }
    return {
      cluster: ctx.config.clusterName,
      name: ctx.config.serviceName,
      taskDefinition: known(td) ?? showValue(td),
      ...(pending ? { pending } : {}),
      desiredCount: group ? ctx.config.instances : 1,
      minimumHealthyPercent: !group ? 0 : lb ? 100 : 50,
      maximumPercent: lb ? 200 : 100,
      circuitBreaker: CIRCUIT_BREAKER,
      capacity: group ? (cp ?? groupNames(ctx.config).capacityProvider) : 'EC2',
      placement: group ? placementStrings(SPREAD) : [],
      loadBalancers: lb ? [`${known(tg) ?? showValue(tg)}|${APP_CONTAINER}:80`] : [],
      tags: ctx.tags,
      adopt: ctx.flags.adopt,
      url,
      ...(group && !lb ? { urlsFromTasks: true } : {}),
    };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.name}, ${plural(desired.desiredCount, 'task')}` };
    if (!observed.owned && !desired.adopt) return ownershipConflict('ECS service', desired.name, observed.tags[STACK_TAG], 'service');
    const diffs = diff(
      {
        taskDefinition: observed.taskDefinition,
        desiredCount: observed.desiredCount,
        minimumHealthyPercent: observed.minimumHealthyPercent,
        maximumPercent: observed.maximumPercent,
        circuitBreaker: observed.circuitBreaker ?? { enable: false, rollback: false },
        capacity: observed.capacity,
        placement: observed.placement,
        loadBalancers: observed.loadBalancers,
        tags: Object.fromEntries(Object.keys(desired.tags).map((k) => [k, observed.tags[k]])),
      },
      {
        taskDefinition: desired.taskDefinition,
        desiredCount: desired.desiredCount,
        minimumHealthyPercent: desired.minimumHealthyPercent,
        maximumPercent: desired.maximumPercent,
        circuitBreaker: desired.circuitBreaker,
        capacity: desired.capacity,
        placement: desired.placement,
        loadBalancers: desired.pending ? observed.loadBalancers : desired.loadBalancers,
        tags: desired.tags,
      },
    );
    // UpdateService can move a service from the EC2 launch type to a capacity provider, not back.
    if (observed.capacity !== 'EC2' && desired.capacity === 'EC2') {
      return {
        action: 'conflict',
        what: `Service ${desired.name} runs on capacity provider ${observed.capacity}`,
        why: "ECS can't move a service from a capacity provider back to the EC2 launch type",
        fix: 'Delete the service first (`ecs-cwlogs service --delete --yes`), then run `ecs-cwlogs up` again.',
      };
    }
    // A deployment the circuit breaker failed stays failed: a run (once the cause is fixed) starts a new one.
    if (observed.primaryFailed && !diffs.some((d) => d.field === 'taskDefinition')) diffs.push({ field: 'deployment', from: 'FAILED', to: 'a new deployment' });
    // Tasks deregistered from the target group by hand: registered again (missingTargets).
    if (observed.missingTargets?.length) {
      diffs.push({ field: 'targets', from: `${observed.missingTargets.length} running task(s) not registered`, to: 'every running task registered' });
    }
    return diffs.length ? { action: 'update', summary: diffs.map((d) => d.field).join(', '), diffs } : { action: 'noop', summary: `${observed.runningCount}/${observed.desiredCount} running` };
  },

  async apply(ctx, { plan, observed, desired }) {
    let arn: string;
    if (plan.action === 'create') {
      if (!isAbsent(observed)) throw new Error('unreachable');
      if (observed.detail?.startsWith('draining')) await waitInactive(ctx, desired.cluster, desired.name);
      const generation = await generationOf(ctx, desired);
      const res = await ctx.ecs.createService({
        cluster: desired.cluster,
        serviceName: desired.name,
        taskDefinition: desired.taskDefinition,
        desiredCount: desired.desiredCount,
        ...capacitySpec(desired),
        ...(desired.placement.length ? { placementStrategy: SPREAD } : {}),
        ...(desired.loadBalancers.length ? { loadBalancers: loadBalancerSpec(desired), healthCheckGracePeriodSeconds: 60 } : {}),
        deploymentConfiguration: deploymentConfiguration(desired),
        schedulingStrategy: 'REPLICA',
        // One generation of the service: the same for retries of one creation, another once it was deleted and is created again.
        clientToken: clientToken({ account: ctx.account, region: ctx.config.region, stack: ctx.stack }, ['service', desired.cluster, desired.name, generation], 0, ECS_TOKEN_LENGTH),
        tags: ecsTags(desired.tags),
        propagateTags: 'SERVICE',
        enableECSManagedTags: true,
      });
      arn = res.service?.serviceArn ?? '';
    } else {
      const o = observed as ServiceObserved;
      arn = o.arn;
      if (plan.action === 'update') {
        const changed = new Set(plan.diffs.map((d) => d.field.split('.')[0]));
        if (['taskDefinition', 'desiredCount', 'minimumHealthyPercent', 'maximumPercent', 'circuitBreaker', 'deployment', 'capacity', 'placement', 'loadBalancers'].some((f) => changed.has(f))) {
          // Moving between the launch type and a capacity provider takes a new deployment (ECS insists).
          const cap = changed.has('capacity') ? capacitySpec(desired) : undefined;
          await ctx.ecs.updateService({
            cluster: desired.cluster,
            service: desired.name,
            taskDefinition: desired.taskDefinition,
            desiredCount: desired.desiredCount,
            deploymentConfiguration: deploymentConfiguration(desired),
            ...(cap && 'capacityProviderStrategy' in cap ? { capacityProviderStrategy: cap.capacityProviderStrategy } : {}),
            ...(changed.has('placement') ? { placementStrategy: desired.placement.length ? SPREAD : [] } : {}),
            ...(changed.has('loadBalancers') ? { loadBalancers: loadBalancerSpec(desired), ...(desired.loadBalancers.length ? { healthCheckGracePeriodSeconds: 60 } : {}) } : {}),
            ...(changed.has('deployment') || changed.has('capacity') ? { forceNewDeployment: true } : {}),
          });
        }
        if (changed.has('tags')) await ctx.ecs.tagResource({ resourceArn: o.arn, tags: ecsTags(desired.tags) });
        if (changed.has('targets') && o.missingTargets?.length) {
          for (const tg of new Set(o.missingTargets.map((t) => t.targetGroupArn))) {
            const targets = o.missingTargets.filter((t) => t.targetGroupArn === tg).map((t) => ({ Id: t.id, Port: t.port }));
            await ctx.elbv2.registerTargets({ TargetGroupArn: tg, Targets: targets });
            ctx.report(`registered ${targets.length} running task(s) in the target group again (deregistered outside ecs-cwlogs)`);
          }
        }
      }
    }
    // A service that changes nothing and was steady when read a moment ago is not polled again.
    const steadyAsRead = plan.action === 'noop' && !isAbsent(observed) && observed.deployments === 1 && !observed.primaryFailed && observed.runningCount === desired.desiredCount && observed.taskDefinition === desired.taskDefinition;
    if (!steadyAsRead) await waitSteady(ctx, { ...desired, ignoreDeployments: isAbsent(observed) ? [] : observed.failedDeployments });
    if (desired.urlsFromTasks) {
      const urls = (await taskAddresses(ctx, desired.cluster, desired.name)).map((ip) => `http://${ip}/`);
      return { serviceName: desired.name, serviceArn: arn, url: urls[0], urls };
    }
    return { serviceName: desired.name, serviceArn: arn, url: desired.url };
  },

  preview: (observed, desired) => ({ serviceName: desired.name, serviceArn: isAbsent(observed) ? unknown('create') : observed.arn, url: desired.url }),

  describe: (o) => ({
    arn: o.arn,
    status: o.status,
    running: `${o.runningCount}/${o.desiredCount}`,
    taskDefinition: o.taskDefinition.split('/').pop() ?? '',
    ...(o.capacity !== 'EC2' ? { capacity: o.capacity } : {}),
    ...(o.loadBalancers.length ? { targetGroup: o.loadBalancers.map((l) => l.split('|')[0]!.split('/').slice(-2, -1)[0] ?? '').join(', ') } : {}),
  }),

  async destroy(ctx) {
    // As the confirmation list found them (down), else read now.
    const { ours, kept } = previewedOf<StackService>(ctx) ?? (await stackServices(ctx));
    const deleted: string[] = [];
    for (const o of ours) {
      const cluster = o.cluster;
      if (o.draining) {
        await waitInactive(ctx, cluster, o.name);
        continue;
      }
      await deleteOnce(async () => {
        if (o.desiredCount > 0) {
          ctx.report(`scaling ${o.name} to 0`);
          await ctx.ecs.updateService({ cluster, service: o.name, desiredCount: 0 });
        }
        await ctx.ecs.deleteService({ cluster, service: o.name, force: true });
      }, ['ServiceNotFoundException', 'ServiceNotActiveException', 'ClusterNotFoundException']);
      await waitInactive(ctx, cluster, o.name);
      deleted.push(`service ${o.name}`);
    }
    return { deleted, kept: [...kept] };
  },

  async destroyPreview(ctx) {
    const { ours, kept } = await stackServices(ctx);
    recordPreviewed(ctx, { ours, kept });
    return { deleted: ours.filter((o) => !o.draining).map((o) => `ECS service ${o.name} (${o.runningCount} running, in cluster ${o.cluster})`), kept };
  },
};

/** The stack's services: the configured one and any other with the stack tag (in the stack's clusters). */
type StackService = ServiceObserved & { cluster: string; draining: boolean };

async function stackServices(ctx: Ctx): Promise<{ ours: StackService[]; kept: string[] }> {
  const tagged = await taggedResources(ctx);
  const wanted = [{ cluster: ctx.config.clusterName, name: ctx.config.serviceName }, ...(tagged ? namesOf(tagged).services : [])];
  const unique = wanted.filter((w, i) => wanted.findIndex((x) => x.cluster === w.cluster && x.name === w.name) === i);
  const ours: StackService[] = [];
  const kept: string[] = [];
  for (const w of unique) {
    const o = await readService(ctx, w.cluster, w.name);
    if (isAbsent(o)) {
      if (o.detail?.startsWith('draining')) ours.push({ name: w.name, arn: '', status: 'DRAINING', taskDefinition: '', desiredCount: 0, runningCount: 0, deployments: 0, capacity: '', placement: [], loadBalancers: [], failedDeployments: [], primaryFailed: false, tags: {}, owned: true, cluster: w.cluster, draining: true });
      continue;
    }
    if (!o.owned) kept.push(`service ${w.name} (not tagged as stack ${ctx.stack})`);
    else ours.push({ ...o, cluster: w.cluster, draining: false });
  }
  return { ours, kept };
}

async function waitInactive(ctx: Ctx, cluster: string, name: string): Promise<void> {
  ctx.report('draining');
  // Its tasks stop first (ECS's stop timeout, 30 s by default): the settling pace, as the termination wait.
  await pollUntil(async () => {
    const res = await ctx.ecs.describeServices({ cluster, services: [name] });
    return (res.services ?? []).some((s) => s.status === 'DRAINING' || s.status === 'ACTIVE') ? undefined : true;
  }, settlingPace(ctx, 10, `service ${name} to drain`)).catch((e) => {
    if (hasAwsCode(e, 'ClusterNotFoundException')) return;
    throw e;
  });
}

/** The public IPs of the instances running the service's tasks (a group without an ALB). */
async function taskAddresses(ctx: Ctx, cluster: string, service: string): Promise<string[]> {
  const arns = (await ctx.ecs.listTasks({ cluster, serviceName: service, desiredStatus: 'RUNNING' })).taskArns ?? [];
  if (!arns.length) return [];
  const tasks = (await ctx.ecs.describeTasks({ cluster, tasks: arns.slice(0, 100) })).tasks ?? [];
  const cis = [...new Set(tasks.map((t) => t.containerInstanceArn).filter((x): x is string => Boolean(x)))];
  if (!cis.length) return [];
  const ids = ((await ctx.ecs.describeContainerInstances({ cluster, containerInstances: cis })).containerInstances ?? []).map((c) => c.ec2InstanceId).filter((x): x is string => Boolean(x));
  if (!ids.length) return [];
  const res = await ctx.ec2.describeInstances({ InstanceIds: ids });
  return (res.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.PublicIpAddress).filter((x): x is string => Boolean(x)).sort();
}

function deploymentConfiguration(d: ServiceDesired) {
  return { minimumHealthyPercent: d.minimumHealthyPercent, maximumPercent: d.maximumPercent, deploymentCircuitBreaker: d.circuitBreaker };
}

/** Thrown when the circuit breaker failed the deployment: not worth waiting on. */
export class DeploymentFailedError extends AwsError {}

/** Why the service's tasks stopped: the newest STOPPED tasks' reasons (and their containers'). */
export async function stoppedReasons(ctx: Pick<Context, 'ecs'>, cluster: string, service: string, taskDefinition?: string): Promise<string[]> {
  const list = await ctx.ecs.listTasks({ cluster, serviceName: service, desiredStatus: 'STOPPED' });
  const arns = (list.taskArns ?? []).slice(0, 100);
  if (arns.length === 0) return [];
  const res = await ctx.ecs.describeTasks({ cluster, tasks: arns });
  const tasks = (res.tasks ?? [])
    .filter((t) => !taskDefinition || t.taskDefinitionArn === taskDefinition)
    .sort((a, b) => (b.stoppedAt?.getTime() ?? b.createdAt?.getTime() ?? 0) - (a.stoppedAt?.getTime() ?? a.createdAt?.getTime() ?? 0));
  const out: string[] = [];
  for (const t of tasks) {
    const containers = (t.containers ?? []).filter((c) => c.reason).map((c) => `${c.name}: ${c.reason}`);
    const line = [`task ${t.taskArn?.split('/').pop() ?? ''}${t.stopCode ? ` (${t.stopCode})` : ''}: ${t.stoppedReason ?? 'no reason given'}`, ...containers].join('; ');
    if (!out.includes(line)) out.push(line);
    if (out.length >= 3) break;
  }
  return out;
}

/** Wait until one deployment runs the desired count, printing service events as they come. */
async function waitSteady(ctx: Ctx, d: ServiceDesired): Promise<void> {
  const seen = new Set<string>();
  let first = true;
  try {
    await pollUntil(
      async () => {
        const res = await ctx.ecs.describeServices({ cluster: d.cluster, services: [d.name] });
        const s = res.services?.[0];
        if (!s) return undefined;
        const events = [...(s.events ?? [])].reverse();
        for (const ev of events) {
          if (!ev.id || seen.has(ev.id)) continue;
          seen.add(ev.id);
          // On the first read, only show recent history (the last event), not the service's whole past.
          if (!first || ev === events[events.length - 1]) ctx.report(stripServicePrefix(ev.message ?? ''));
        }
        first = false;
        // The circuit breaker failed our deployment (rolled back or not): stop waiting, say why.
        const failed = s.deployments?.find((x) => x.taskDefinition === d.taskDefinition && x.rolloutState === 'FAILED' && !d.ignoreDeployments?.includes(x.id ?? ''));
        // Or already rolled back, the failed deployment gone from the list between two polls.
        const rolledBack = !failed && s.taskDefinition !== d.taskDefinition && !s.deployments?.some((x) => x.taskDefinition === d.taskDefinition);
        if (failed || rolledBack) {
          const reasons = await stoppedReasons(ctx, d.cluster, d.name, d.taskDefinition);
          throw new DeploymentFailedError({
            what: `The deployment of service ${d.name} failed: its tasks keep stopping`,
            why: [failed?.rolloutStateReason ?? `the service went back to ${s.taskDefinition?.split('/').pop()} (the deployment circuit breaker rolled it back)`, ...reasons].join('\n  '),
            fix: `Fix what the stopped task says (an image the instance cannot pull, a container that exits: \`ecs-cwlogs logs\`), then run \`ecs-cwlogs up\` again.${
              s.deployments?.some((x) => x.status === 'PRIMARY' && x.taskDefinition !== d.taskDefinition) ? ' ECS rolled the service back to its last working revision.' : ''
            }`,
          });
        }
        const primary = s.deployments?.find((x) => x.status === 'PRIMARY');
        const steady = (s.deployments?.length ?? 0) === 1 && s.runningCount === d.desiredCount && primary?.runningCount === d.desiredCount;
        return steady ? true : undefined;
      },
      { ...within(ctx, 15), intervalMs: ctx.timing.pollMs, what: `service ${d.name} to reach a steady state` },
    );
  } catch (e) {
    if (e instanceof WaitTimeoutError) {
      throw new AwsError({
        what: `Service ${d.name} did not reach a steady state`,
        why: e.message,
        fix: `Look at its events (\`aws ecs describe-services --cluster ${d.cluster} --services ${d.name}\`) and \`ecs-cwlogs logs\`; run \`ecs-cwlogs up\` again once fixed.`,
      });
    }
    throw e;
  }
}

function stripServicePrefix(m: string): string {
  return m.replace(/^\(service [^)]+\)\s*/, '');
}
