/**
 * Fixtures for the ECS capacity provider tests: an Auto Scaling group seeded in world.state.autoscaling
 * exactly as views.ts's AutoScalingView describes it (the Auto Scaling module owns that state).
 */
import type { AsgGroupView } from '../../src/sandbox/views.js';

export function seedGroup(world: { state: Record<string, any> }, name: string, instanceIds: string[], extra: Partial<AsgGroupView> = {}): AsgGroupView {
  world.state.autoscaling ??= {};
  world.state.autoscaling.groups ??= {};
  const group: AsgGroupView = {
    autoScalingGroupName: name,
    autoScalingGroupArn: `arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:00000000-0000-4000-8000-${String(Object.keys(world.state.autoscaling.groups).length).padStart(12, '0')}:autoScalingGroupName/${name}`,
    region: 'us-east-1',
    minSize: instanceIds.length,
    maxSize: instanceIds.length,
    desiredCapacity: instanceIds.length,
    newInstancesProtectedFromScaleIn: false,
    instances: instanceIds.map((instanceId) => ({ instanceId, availabilityZone: 'us-east-1a', lifecycleState: 'InService', healthStatus: 'Healthy', protectedFromScaleIn: false })),
    tags: {},
    ...extra,
  };
  world.state.autoscaling.groups[`us-east-1/${name}`] = group;
  return group;
}
