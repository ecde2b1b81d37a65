/** A group's members: how DescribeAutoScalingGroups lists one, and how one starts terminating. */
import type { Instance } from '@aws-sdk/client-auto-scaling';
import type { World } from '../../types.js';
import { terminateInstance } from '../ec2/launch.js';
import { recordActivity } from './activity-log.js';
import type { AsgGroupRecord, AsgInstanceRecord } from './model.js';

export function instanceShape(m: AsgInstanceRecord): Instance {
  return {
    InstanceId: m.instanceId,
    InstanceType: m.instanceType,
    AvailabilityZone: m.availabilityZone,
    LifecycleState: m.lifecycleState,
    HealthStatus: m.healthStatus,
    LaunchTemplate: { LaunchTemplateId: m.launchTemplate.launchTemplateId, LaunchTemplateName: m.launchTemplate.launchTemplateName, Version: m.launchTemplate.version },
    ProtectedFromScaleIn: m.protectedFromScaleIn,
  };
}

/** Start terminating a member: Terminating, its EC2 instance shutting down, an activity recorded. */
export function terminateMember(world: World, g: AsgGroupRecord, m: AsgInstanceRecord, now: number, cause: string) {
  if (m.lifecycleState === 'Terminating' || m.lifecycleState === 'Terminated') return undefined;
  m.lifecycleState = 'Terminating';
  terminateInstance(world, g.region, m.instanceId, now, `User initiated (${new Date(now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' GMT')})`);
  return recordActivity(world, g, {
    description: `Terminating EC2 instance: ${m.instanceId}`,
    cause,
    statusCode: 'InProgress',
    startTime: now,
    progress: 50,
    instanceId: m.instanceId,
    details: JSON.stringify({ 'Subnet ID': m.subnetId, 'Availability Zone': m.availabilityZone }),
  });
}
