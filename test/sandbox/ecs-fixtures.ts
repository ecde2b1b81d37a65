/**
 * Fixtures for the ECS capacity provider tests: an Auto Scaling group seeded in world.state.autoscaling
 * as views.ts's AutoScalingView describes it, plus the fields the Auto Scaling module keeps for itself
 * (it owns that state, and its tick reads them), so both modules can run on the seeded group.
 */
import type { AsgGroupView } from '../../src/sandbox/views.js';
import type { AsgGroupRecord } from '../../src/sandbox/services/autoscaling/groups.js';

const NO_TEMPLATE = { launchTemplateId: 'lt-0000000000000000f', launchTemplateName: 'seeded', version: '1' };

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
    instances: instanceIds.map((instanceId) => ({ instanceId, availabilityZone: 'us-east-1a', lifecycleState: 'InService', healthStatus: 'Healthy', protectedFromScaleIn: false, instanceType: 't3.small', subnetId: '', launchedAt: 0, launchTemplate: NO_TEMPLATE })),
    tags: {},
    createdTime: 0,
    launchTemplate: NO_TEMPLATE,
    vpcZoneIdentifier: '',
    subnetIds: [],
    availabilityZones: ['us-east-1a'],
    healthCheckType: 'EC2',
    healthCheckGracePeriod: 0,
    defaultCooldown: 300,
    terminationPolicies: ['Default'],
    targetGroupArns: [],
    capacityRebalance: false,
    propagateAtLaunch: {},
    capacityCause: 'seeded by the test',
    ...extra,
  } as unknown as AsgGroupRecord;
  world.state.autoscaling.activities ??= [];
  world.state.autoscaling.groups[`us-east-1/${name}`] = group;
  return group;
}

/**
 * A real Auto Scaling group of `count` instances, made through the Auto Scaling API from a launch
 * template on the ECS AMI (new instances protected from scale-in), and waited for until InService.
 */
export async function createGroup(sb: { url: string }, name: string, count: number): Promise<{ arn: string; instanceIds: string[] }> {
  const { AutoScaling } = await import('@aws-sdk/client-auto-scaling');
  const { EC2 } = await import('@aws-sdk/client-ec2');
  const { SSM } = await import('@aws-sdk/client-ssm');
  const cfg = { endpoint: sb.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDSANDBOXTEST00000', secretAccessKey: 'test-secret' }, maxAttempts: 1 };
  const [asg, ec2, ssm] = [new AutoScaling(cfg), new EC2(cfg), new SSM(cfg)];
  try {
    const ami = (await ssm.getParameter({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id' })).Parameter!.Value!;
    const lt = (await ec2.createLaunchTemplate({ LaunchTemplateName: `${name}-lt`, LaunchTemplateData: { ImageId: ami, InstanceType: 'm5.large' } })).LaunchTemplate!.LaunchTemplateId!;
    const subnets = (await ec2.describeSubnets({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] })).Subnets!.map((s) => s.SubnetId!);
    await asg.createAutoScalingGroup({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateId: lt, Version: '$Default' },
      MinSize: count,
      MaxSize: count,
      DesiredCapacity: count,
      VPCZoneIdentifier: subnets.join(','),
      NewInstancesProtectedFromScaleIn: true,
    });
    for (let i = 0; i < 200; i++) {
      const g = (await asg.describeAutoScalingGroups({ AutoScalingGroupNames: [name] })).AutoScalingGroups![0]!;
      const up = (g.Instances ?? []).filter((x) => x.LifecycleState === 'InService');
      if (up.length === count) return { arn: g.AutoScalingGroupARN!, instanceIds: up.map((x) => x.InstanceId!) };
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`group ${name} did not reach ${count} InService instances`);
  } finally {
    for (const c of [asg, ec2, ssm]) c.destroy();
  }
}
