/**
 * ELBv2 targets: RegisterTargets, DeregisterTargets, DescribeTargetHealth, and the same registration
 * for the ECS service scheduler (registerTarget / deregisterTarget / targetHealth).
 *
 * Health is computed lazily from timestamps. A registered instance target is `initial` until the
 * health checker has seen HealthyThresholdCount good answers (× HealthCheckIntervalSeconds, scaled by
 * the latency profile: timeScale in state.ts), then `healthy`; it answers while the EC2 instance runs
 * and a RUNNING ECS task binds that host port on it (with a local runtime, while the real container
 * runs and does not fail its Docker health check). Without an answer it turns `unhealthy` (Target.FailedHealthChecks) after
 * UnhealthyThresholdCount intervals. A target group no listener forwards to has `unused` targets
 * (Target.NotInUse); a deregistered target is `draining` for deregistration_delay.timeout_seconds
 * (scaled the same way) and then gone.
 */
import type {
  DeregisterTargetsInput,
  DeregisterTargetsOutput,
  DescribeTargetHealthInput,
  DescribeTargetHealthOutput,
  RegisterTargetsInput,
  RegisterTargetsOutput,
  TargetHealth,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { RegisterTargetsInput$, DeregisterTargetsInput$, DescribeTargetHealthInput$ } from '@aws-sdk/client-elastic-load-balancing-v2';
import { queryDecoder } from '../../protocols/schema.js';
import { typedOperation } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import type { EcsView } from '../../views.js';
import { ec2View, elbv2State, timeScale, validation, type TargetGroupRecord, type TargetRecord } from './state.js';
import { loadBalancersOf, requireTargetGroup } from './target-groups.js';

/** Since when a process answers on (instance, port): the earliest start of a RUNNING task binding it. */
function answeringSince(world: World, instanceId: string, port: number): number | undefined {
  const ecs = (world.state.ecs ?? {}) as EcsView;
  let since: number | undefined;
  for (const t of Object.values(ecs.tasks ?? {})) {
    if (t.lastStatus !== 'RUNNING') continue;
    if (ecs.containerInstances?.[t.containerInstanceArn]?.ec2InstanceId !== instanceId) continue;
    // With a local runtime the container itself must be up (and not failing its Docker health check).
    const answers = (c: (typeof t.containers)[number]) =>
      c.networkBindings.some((b) => b.hostPort === port) && (c.lastStatus === undefined || c.lastStatus === 'RUNNING') && c.healthStatus !== 'UNHEALTHY';
    if (!t.containers.some(answers)) continue;
    const at = t.startedAt ?? 0;
    since = since === undefined ? at : Math.min(since, at);
  }
  return since;
}

function drainMs(world: World, tg: TargetGroupRecord): number {
  return Number(tg.attributes['deregistration_delay.timeout_seconds'] ?? '300') * 1000 * timeScale(world);
}

export function health(world: World, tg: TargetGroupRecord, t: TargetRecord, now: number): TargetHealth {
  if (t.deregisteredAt !== undefined) {
    return { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' };
  }
  const lbs = loadBalancersOf(world, tg.targetGroupArn);
  if (lbs.length === 0) {
    return { State: 'unused', Reason: 'Target.NotInUse', Description: 'Target group is not configured to receive traffic from the load balancer' };
  }
  const instance = ec2View(world).instances?.[t.id];
  if (world.state.ec2 && tg.targetType === 'instance' && (!instance || instance.state !== 'running')) {
    const state = instance?.state === 'stopped' || instance?.state === 'stopping' ? 'stopped' : 'terminated';
    return { State: 'unused', Reason: 'Target.InvalidState', Description: `Target is in the ${state} state` };
  }
  if (!tg.healthCheck.enabled) return { State: 'unavailable', Reason: 'Target.HealthCheckDisabled', Description: 'Health checks are disabled' };
  const s = elbv2State(world);
  const lbActive = Math.min(...lbs.map((arn) => s.loadBalancers[arn]?.activeAt ?? 0));
  const start = Math.max(t.registeredAt, lbActive, instance?.stateChangedAt ?? 0);
  const interval = tg.healthCheck.intervalSeconds * 1000 * timeScale(world);
  const since = answeringSince(world, t.id, t.port);
  if (since !== undefined) {
    if (now >= Math.max(start, since) + tg.healthCheck.healthyThresholdCount * interval) return { State: 'healthy' };
    return { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' };
  }
  if (now >= start + tg.healthCheck.unhealthyThresholdCount * interval) {
    return { State: 'unhealthy', Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' };
  }
  return { State: 'initial', Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' };
}

/** Drop targets whose draining has ended. */
export function purgeTargets(world: World, now: number): void {
  for (const tg of Object.values(elbv2State(world).targetGroups)) {
    const delay = drainMs(world, tg);
    tg.targets = tg.targets.filter((t) => t.deregisteredAt === undefined || now < t.deregisteredAt + delay);
  }
}

// ---- For the ECS scheduler --------------------------------------------------------------------------

/** Register (instance, port) in the target group; false when the group does not exist. */
export function registerTarget(world: World, targetGroupArn: string, id: string, port: number, now: number): boolean {
  const tg = elbv2State(world).targetGroups[targetGroupArn];
  if (!tg) return false;
  const existing = tg.targets.find((t) => t.id === id && t.port === port);
  if (existing) {
    if (existing.deregisteredAt !== undefined) {
      existing.deregisteredAt = undefined;
      existing.registeredAt = now;
    }
    return true;
  }
  tg.targets.push({ id, port, registeredAt: now });
  return true;
}

/** Start draining (instance, port); false when it was not registered. */
export function deregisterTarget(world: World, targetGroupArn: string, id: string, port: number, now: number): boolean {
  const tg = elbv2State(world).targetGroups[targetGroupArn];
  const t = tg?.targets.find((x) => x.id === id && x.port === port && x.deregisteredAt === undefined);
  if (!t) return false;
  t.deregisteredAt = now;
  return true;
}

/** The health state of (instance, port) in the target group, as DescribeTargetHealth would say it. */
export function targetHealth(world: World, targetGroupArn: string, id: string, port: number, now: number): string | undefined {
  const tg = elbv2State(world).targetGroups[targetGroupArn];
  const t = tg?.targets.find((x) => x.id === id && x.port === port);
  return tg && t ? health(world, tg, t, now).State : undefined;
}

// ---- Operations -------------------------------------------------------------------------------------

function checkTargets(world: World, tg: TargetGroupRecord, targets: RegisterTargetsInput['Targets']): { id: string; port: number }[] {
  if (!targets || targets.length === 0) throw validation('Targets cannot be empty');
  const out = targets.map((t) => ({ id: t.Id ?? '', port: t.Port ?? tg.port }));
  for (const t of out) {
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
      throw validation(`1 validation error detected: Value '${t.port}' at 'targets.1.member.port' failed to satisfy constraint: Member must have value between 1 and 65535`);
    }
  }
  if (tg.targetType !== 'instance') return out;
  const instances = ec2View(world).instances ?? {};
  const invalid = out.filter((t) => !/^i-[0-9a-f]{8,17}$/.test(t.id) || (world.state.ec2 && !instances[t.id]));
  if (invalid.length > 0) throw new ServiceError('InvalidTarget', `The following instances do not exist: ${invalid.map((t) => `'${t.id}'`).join(', ')}`);
  const notRunning = out.filter((t) => instances[t.id] && instances[t.id].state !== 'running');
  if (notRunning.length > 0) {
    throw new ServiceError('InvalidTarget', `The following targets are not in a running state and cannot be registered: ${notRunning.map((t) => `'${t.id}'`).join(', ')}`);
  }
  const otherVpc = out.filter((t) => instances[t.id] && instances[t.id].vpcId !== tg.vpcId);
  if (otherVpc.length > 0) {
    throw new ServiceError('InvalidTarget', `The following targets are not in the target group VPC '${tg.vpcId}': ${otherVpc.map((t) => `'${t.id}'`).join(', ')}`);
  }
  return out;
}

const registerTargets = typedOperation<RegisterTargetsInput, RegisterTargetsOutput>({
  mutating: true,
  decode: queryDecoder(RegisterTargetsInput$),
  handler: (input, { world, now }) => {
    const tg = requireTargetGroup(world, input.TargetGroupArn);
    for (const t of checkTargets(world, tg, input.Targets)) registerTarget(world, tg.targetGroupArn, t.id, t.port, now);
    return {};
  },
});

const deregisterTargets = typedOperation<DeregisterTargetsInput, DeregisterTargetsOutput>({
  mutating: true,
  decode: queryDecoder(DeregisterTargetsInput$),
  handler: (input, { world, now }) => {
    const tg = requireTargetGroup(world, input.TargetGroupArn);
    if (!input.Targets || input.Targets.length === 0) throw validation('Targets cannot be empty');
    // As on AWS: a target without Port means the target group's port, and a target that is not
    // registered (on that port) is ignored; the call succeeds either way.
    for (const t of input.Targets) deregisterTarget(world, tg.targetGroupArn, t.Id ?? '', t.Port ?? tg.port, now);
    return {};
  },
});

const describeTargetHealth = typedOperation<DescribeTargetHealthInput, DescribeTargetHealthOutput>({
  mutating: false,
  decode: queryDecoder(DescribeTargetHealthInput$),
  handler: (input, { world, now }) => {
    const tg = requireTargetGroup(world, input.TargetGroupArn);
    const port = (p: number) => (tg.healthCheck.port === 'traffic-port' ? String(p) : tg.healthCheck.port);
    const describe = (t: TargetRecord): TargetHealthDescription => ({
      Target: { Id: t.id, Port: t.port, AvailabilityZone: t.availabilityZone ?? ec2View(world).instances?.[t.id]?.availabilityZone },
      HealthCheckPort: port(t.port),
      TargetHealth: health(world, tg, t, now),
    });
    if (input.Targets && input.Targets.length > 0) {
      return {
        TargetHealthDescriptions: input.Targets.flatMap((q): TargetHealthDescription[] => {
          const matches = tg.targets.filter((t) => t.id === q.Id && (q.Port === undefined || t.port === q.Port));
          if (matches.length > 0) return matches.map(describe);
          const p = q.Port ?? tg.port;
          return [
            {
              Target: { Id: q.Id, Port: p },
              HealthCheckPort: port(p),
              TargetHealth: { State: 'unused', Reason: 'Target.NotRegistered', Description: 'Target is not registered to the target group' },
            },
          ];
        }),
      };
    }
    return { TargetHealthDescriptions: tg.targets.map(describe) };
  },
});

export const operations: Record<string, Operation> = {
  RegisterTargets: registerTargets,
  DeregisterTargets: deregisterTargets,
  DescribeTargetHealth: describeTargetHealth,
};
