/**
 * Auto Scaling group members and the capacity loop (tick()):
 *
 *   - a member is Pending until its EC2 instance is running, then InService;
 *   - EC2 health check: a member whose instance was stopped or terminated out of band is marked
 *     Unhealthy and terminated ("...in response to an EC2 health check indicating it has been
 *     terminated or stopped"), and leaves the group once its instance is terminated;
 *   - fewer members than DesiredCapacity: launch from the group's launch template version into the
 *     subnet of the Availability Zone with the fewest members (other zones are tried if a launch
 *     fails there; a failed launch is recorded and retried ten seconds later);
 *   - more members than DesiredCapacity: scale in by the default termination policy among members
 *     NOT protected from scale-in: the zone with the most members, then the oldest launch template
 *     (another template, or a lower version of the group's), then the instance closest to its next
 *     billing hour, then the lowest instance id. When every member is protected the group waits (the
 *     ECS module clears protection on idle instances, ../../views.ts).
 *
 * Operations: SetInstanceProtection, DescribeAutoScalingInstances, TerminateInstanceInAutoScalingGroup.
 */
import {
  DescribeAutoScalingInstancesType$,
  SetInstanceProtectionQuery$,
  TerminateInstanceInAutoScalingGroupType$,
  type ActivityType,
  type AutoScalingInstancesType,
  type DescribeAutoScalingInstancesType,
  type SetInstanceProtectionAnswer,
  type SetInstanceProtectionQuery,
  type TerminateInstanceInAutoScalingGroupType,
} from '@aws-sdk/client-auto-scaling';
import { paginate } from '../../paginate.js';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { queryDecoder } from '../ec2/codec.js';
import { launchFromTemplate } from '../ec2/launch.js';
import { state as ec2State } from '../ec2/state.js';
import { activityShape, finishActivity, openActivity, recordActivity } from './activity-log.js';
import { instanceShape, terminateMember } from './members.js';
import { asgState, causeTime, findGroup, isDeleting, notDeleting, validation, type AsgGroupRecord, type AsgInstanceRecord } from './model.js';

const RETRY_LAUNCH_MS = 10_000;
const HOUR_MS = 3_600_000;

const active = (g: AsgGroupRecord) => g.instances.filter((m) => m.lifecycleState !== 'Terminating' && m.lifecycleState !== 'Terminated');

function zoneCounts(g: AsgGroupRecord, members: AsgInstanceRecord[]): Map<string, number> {
  const counts = new Map(g.availabilityZones.map((z) => [z, 0]));
  for (const m of members) counts.set(m.availabilityZone, (counts.get(m.availabilityZone) ?? 0) + 1);
  return counts;
}

function launchOne(world: World, g: AsgGroupRecord, now: number, from: number, to: number): boolean {
  const counts = zoneCounts(g, active(g));
  // Subnets of the least-used zones first.
  const subnets = g.subnetIds
    .map((id) => ec2State(world).subnets[id])
    .filter((s) => s !== undefined)
    .sort((a, b) => (counts.get(a.availabilityZone) ?? 0) - (counts.get(b.availabilityZone) ?? 0) || a.availabilityZone.localeCompare(b.availabilityZone));
  let lastError: ServiceError | undefined;
  for (const subnet of subnets) {
    try {
      const propagated = Object.fromEntries(Object.entries(g.tags).filter(([k]) => g.propagateAtLaunch[k]));
      const inst = launchFromTemplate(world, {
        region: g.region,
        now,
        launchTemplateId: g.launchTemplate.launchTemplateId,
        version: g.launchTemplate.version,
        subnetId: subnet.subnetId,
        tags: { ...propagated, 'aws:autoscaling:groupName': g.autoScalingGroupName },
      });
      g.instances.push({
        instanceId: inst.instanceId,
        availabilityZone: inst.availabilityZone,
        lifecycleState: 'Pending',
        healthStatus: 'Healthy',
        protectedFromScaleIn: g.newInstancesProtectedFromScaleIn,
        instanceType: inst.instanceType,
        subnetId: subnet.subnetId,
        launchedAt: now,
        launchTemplate: {
          launchTemplateId: g.launchTemplate.launchTemplateId,
          launchTemplateName: g.launchTemplate.launchTemplateName,
          version: inst.tags['aws:ec2launchtemplate:version'] ?? g.launchTemplate.version,
        },
      });
      recordActivity(world, g, {
        description: `Launching a new EC2 instance: ${inst.instanceId}`,
        cause: `${g.capacityCause}  At ${causeTime(now)} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${from} to ${to}.`,
        statusCode: 'InProgress',
        startTime: now,
        progress: 30,
        instanceId: inst.instanceId,
        details: JSON.stringify({ 'Subnet ID': subnet.subnetId, 'Availability Zone': subnet.availabilityZone }),
      });
      return true;
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      lastError = err;
    }
  }
  const reason = lastError?.message ?? 'No subnet of the group exists any more.';
  recordActivity(world, g, {
    description: `Launching a new EC2 instance.  Status Reason: ${reason} Launching EC2 instance failed.`,
    cause: `${g.capacityCause}  At ${causeTime(now)} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${from} to ${to}.`,
    statusCode: 'Failed',
    statusMessage: reason,
    startTime: now,
    endTime: now,
  });
  g.lastLaunchFailureAt = now;
  return false;
}

/** The default termination policy's pick among unprotected members, or undefined if all are protected. */
function scaleInVictim(g: AsgGroupRecord, now: number): AsgInstanceRecord | undefined {
  const candidates = active(g).filter((m) => !m.protectedFromScaleIn);
  if (!candidates.length) return undefined;
  const counts = zoneCounts(g, candidates);
  const busiest = Math.max(...candidates.map((m) => counts.get(m.availabilityZone) ?? 0));
  const templateAge = (m: AsgInstanceRecord) => (m.launchTemplate.launchTemplateId === g.launchTemplate.launchTemplateId ? 1 : 0) * 1e9 + Number(m.launchTemplate.version || 0);
  return candidates
    .filter((m) => counts.get(m.availabilityZone) === busiest)
    .sort(
      (a, b) =>
        templateAge(a) - templateAge(b) ||
        ((now - b.launchedAt) % HOUR_MS) - ((now - a.launchedAt) % HOUR_MS) ||
        a.instanceId.localeCompare(b.instanceId),
    )[0];
}

function reconcile(world: World, g: AsgGroupRecord, now: number): void {
  const instances = ec2State(world).instances;
  for (const m of [...g.instances]) {
    const inst = instances[m.instanceId];
    if (m.lifecycleState !== 'Terminating') {
      if (!inst || ['shutting-down', 'terminated', 'stopping', 'stopped'].includes(inst.state)) {
        m.healthStatus = 'Unhealthy';
        terminateMember(
          world,
          g,
          m,
          now,
          `At ${causeTime(now)} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.`,
        );
      } else if (m.lifecycleState === 'Pending' && inst.state === 'running') {
        m.lifecycleState = 'InService';
        const a = openActivity(world, g, m.instanceId);
        if (a) finishActivity(a, inst.stateChangedAt);
      }
    }
    if (m.lifecycleState === 'Terminating' && (!inst || inst.state === 'terminated')) {
      g.instances = g.instances.filter((x) => x !== m);
      const a = openActivity(world, g, m.instanceId);
      if (a) finishActivity(a, inst?.stateChangedAt ?? now);
    }
  }
  const s = asgState(world);
  if (isDeleting(g)) {
    if (!g.instances.length) delete s.groups[`${g.region}/${g.autoScalingGroupName}`];
    return;
  }
  const count = active(g).length;
  if (count < g.desiredCapacity) {
    if (g.lastLaunchFailureAt !== undefined && now - g.lastLaunchFailureAt < RETRY_LAUNCH_MS) return;
    for (let i = count; i < g.desiredCapacity; i++) if (!launchOne(world, g, now, count, g.desiredCapacity)) break;
  } else if (count > g.desiredCapacity) {
    for (let i = count; i > g.desiredCapacity; i--) {
      const victim = scaleInVictim(g, now);
      if (!victim) break;
      terminateMember(
        world,
        g,
        victim,
        now,
        `${g.capacityCause}  At ${causeTime(now)} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from ${count} to ${g.desiredCapacity}.`,
      );
    }
  }
}

export function tick(world: World, now: number): void {
  if (!world.state.ec2) return;
  for (const g of Object.values(asgState(world).groups)) reconcile(world, g, now);
}

// ---- Handlers --------------------------------------------------------------------------------------

function setInstanceProtection(input: SetInstanceProtectionQuery, { world, region }: Call): SetInstanceProtectionAnswer {
  const g = notDeleting(findGroup(world, region, input.AutoScalingGroupName));
  if (!input.InstanceIds?.length) throw validation("1 validation error detected: Value null at 'instanceIds' failed to satisfy constraint: Member must not be null");
  if (input.ProtectedFromScaleIn === undefined) {
    throw validation("1 validation error detected: Value null at 'protectedFromScaleIn' failed to satisfy constraint: Member must not be null");
  }
  const members = input.InstanceIds.map((id) => {
    const m = g.instances.find((x) => x.instanceId === id);
    if (!m) throw validation(`The instance ${id} is not part of Auto Scaling group ${g.autoScalingGroupName}.`);
    return m;
  });
  for (const m of members) m.protectedFromScaleIn = input.ProtectedFromScaleIn;
  return {};
}

function describeAutoScalingInstances(input: DescribeAutoScalingInstancesType, { world, region }: Call): AutoScalingInstancesType {
  const max = input.MaxRecords;
  if (max !== undefined && (max < 1 || max > 50)) {
    throw validation(`1 validation error detected: Value '${max}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 50`);
  }
  const ids = input.InstanceIds ?? [];
  const rows = Object.values(asgState(world).groups)
    .filter((g) => g.region === region)
    .flatMap((g) => g.instances.map((m) => ({ g, m })))
    .filter(({ m }) => !ids.length || ids.includes(m.instanceId))
    .sort((a, b) => a.m.instanceId.localeCompare(b.m.instanceId));
  const page = paginate(rows, {
    maxResults: max,
    nextToken: input.NextToken,
    defaultPageSize: 50,
    settings: world.settings,
    invalidToken: () => new ServiceError('InvalidNextToken', 'The token provided is invalid.', 400),
  });
  return {
    AutoScalingInstances: page.items.map(({ g, m }) => ({
      InstanceId: m.instanceId,
      InstanceType: m.instanceType,
      AutoScalingGroupName: g.autoScalingGroupName,
      AvailabilityZone: m.availabilityZone,
      LifecycleState: m.lifecycleState,
      // This operation spells health in capitals.
      HealthStatus: m.healthStatus.toUpperCase(),
      LaunchTemplate: instanceShape(m).LaunchTemplate,
      ProtectedFromScaleIn: m.protectedFromScaleIn,
    })),
    NextToken: page.nextToken,
  };
}

function terminateInstanceInAutoScalingGroup(input: TerminateInstanceInAutoScalingGroupType, { world, region, now }: Call): ActivityType {
  const id = input.InstanceId;
  if (!id) throw validation("1 validation error detected: Value null at 'instanceId' failed to satisfy constraint: Member must not be null");
  if (input.ShouldDecrementDesiredCapacity === undefined) {
    throw validation("1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null");
  }
  const g = Object.values(asgState(world).groups).find((x) => x.region === region && x.instances.some((m) => m.instanceId === id));
  const m = g?.instances.find((x) => x.instanceId === id);
  if (!g || !m) throw validation(`Instance Id not found - No managed instance found for instance ID: ${id}`);
  const at = causeTime(now);
  let cause = `At ${at} instance ${id} was taken out of service in response to a user request.`;
  if (input.ShouldDecrementDesiredCapacity && m.lifecycleState !== 'Terminating') {
    if (g.desiredCapacity - 1 < g.minSize) {
      throw validation(
        `Currently, desiredSize equals minSize (${g.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
      );
    }
    cause = `At ${at} instance ${id} was taken out of service in response to a user request, shrinking the capacity from ${g.desiredCapacity} to ${g.desiredCapacity - 1}.`;
    g.capacityCause = cause;
    g.desiredCapacity -= 1;
  }
  const activity = terminateMember(world, g, m, now, cause) ?? openActivity(world, g, id);
  return { Activity: activity ? activityShape(activity) : undefined };
}

export const operations: Record<string, Operation> = {
  SetInstanceProtection: typedOperation<SetInstanceProtectionQuery, SetInstanceProtectionAnswer>({
    mutating: true,
    decode: queryDecoder(SetInstanceProtectionQuery$),
    handler: setInstanceProtection,
  }),
  DescribeAutoScalingInstances: typedOperation<DescribeAutoScalingInstancesType, AutoScalingInstancesType>({
    mutating: false,
    decode: queryDecoder(DescribeAutoScalingInstancesType$),
    handler: describeAutoScalingInstances,
  }),
  TerminateInstanceInAutoScalingGroup: typedOperation<TerminateInstanceInAutoScalingGroupType, ActivityType>({
    mutating: true,
    decode: queryDecoder(TerminateInstanceInAutoScalingGroupType$),
    handler: terminateInstanceInAutoScalingGroup,
  }),
};
