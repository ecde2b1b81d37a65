/**
 * ECS capacity providers through the real SDK client: validation with ECS's errors, Describe with the
 * built-in FARGATE providers, tags, PutClusterCapacityProviders (attachments, in-use refusal), the
 * delete lifecycle, and managed termination protection clearing scale-in protection. The Auto Scaling
 * group is seeded in world.state.autoscaling as views.ts describes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ECS } from '@aws-sdk/client-ecs';
import { ManualClock } from '../../src/sandbox/index.js';
import { createGroup, seedGroup } from './ecs-fixtures.js';
import { clientConfig, rejects, taskDefinitionInput, withSandbox } from './support.js';

test('CreateCapacityProvider: names, the group must exist and be unused, managed termination protection needs managed scaling and protected instances', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECS(clientConfig(sb));
    const group = seedGroup(sb.world, 'asg-a', []);
    const protectedGroup = seedGroup(sb.world, 'asg-b', [], { newInstancesProtectedFromScaleIn: true });

    for (const name of ['aws-cp', 'ecsCp', 'fargate-x', 'bad name']) {
      await rejects(ecs.createCapacityProvider({ name, autoScalingGroupProvider: { autoScalingGroupArn: group.autoScalingGroupArn } }), 'ClientException', /The name cannot be prefixed with "aws", "ecs", or "fargate"/);
    }
    await rejects(ecs.createCapacityProvider({ name: 'cp', autoScalingGroupProvider: { autoScalingGroupArn: group.autoScalingGroupArn.replace('asg-a', 'nope') } }), 'ClientException', /Auto Scaling group/);
    await rejects(
      ecs.createCapacityProvider({ name: 'cp', autoScalingGroupProvider: { autoScalingGroupArn: group.autoScalingGroupArn, managedScaling: { status: 'ENABLED' }, managedTerminationProtection: 'ENABLED' } }),
      'ClientException',
      /the Auto Scaling group must have instance protection from scale in enabled/,
    );
    await rejects(
      ecs.createCapacityProvider({ name: 'cp', autoScalingGroupProvider: { autoScalingGroupArn: protectedGroup.autoScalingGroupArn, managedScaling: { status: 'DISABLED' }, managedTerminationProtection: 'ENABLED' } }),
      'ClientException',
      /managed scaling must also be enabled/,
    );

    const created = await ecs.createCapacityProvider({
      name: 'cp',
      autoScalingGroupProvider: { autoScalingGroupArn: group.autoScalingGroupArn, managedScaling: { status: 'ENABLED', targetCapacity: 100, maximumScalingStepSize: 1 } },
      tags: [{ key: 'k', value: 'v' }],
    });
    const cp = created.capacityProvider!;
    assert.equal(cp.capacityProviderArn, 'arn:aws:ecs:us-east-1:123456789012:capacity-provider/cp');
    assert.equal(cp.status, 'ACTIVE');
    assert.equal(cp.autoScalingGroupProvider!.managedScaling!.instanceWarmupPeriod, 300);
    assert.equal(cp.autoScalingGroupProvider!.managedTerminationProtection, 'DISABLED');
    await rejects(ecs.createCapacityProvider({ name: 'cp', autoScalingGroupProvider: { autoScalingGroupArn: protectedGroup.autoScalingGroupArn } }), 'ClientException', /already exists/);
    await rejects(ecs.createCapacityProvider({ name: 'cp2', autoScalingGroupProvider: { autoScalingGroupArn: group.autoScalingGroupArn } }), 'ClientException', /already being used by another capacity provider/);

    // Describe: FARGATE and FARGATE_SPOT always exist; tags only when asked; pages of maxResults.
    const all = await ecs.describeCapacityProviders({});
    assert.deepEqual(all.capacityProviders!.map((c) => c.name), ['FARGATE', 'FARGATE_SPOT', 'cp']);
    assert.equal(all.capacityProviders![2].tags, undefined);
    const first = await ecs.describeCapacityProviders({ maxResults: 2 });
    assert.equal(first.capacityProviders!.length, 2);
    const rest = await ecs.describeCapacityProviders({ maxResults: 2, nextToken: first.nextToken });
    assert.deepEqual(rest.capacityProviders!.map((c) => c.name), ['cp']);
    const named = await ecs.describeCapacityProviders({ capacityProviders: ['cp', 'missing'], include: ['TAGS'] });
    assert.deepEqual(named.capacityProviders![0].tags, [{ key: 'k', value: 'v' }]);
    assert.equal(named.failures![0].reason, 'MISSING');

    await ecs.tagResource({ resourceArn: cp.capacityProviderArn!, tags: [{ key: 'x', value: 'y' }] });
    await ecs.untagResource({ resourceArn: cp.capacityProviderArn!, tagKeys: ['k'] });
    assert.deepEqual((await ecs.listTagsForResource({ resourceArn: cp.capacityProviderArn! })).tags, [{ key: 'x', value: 'y' }]);

    const updated = await ecs.updateCapacityProvider({ name: 'cp', autoScalingGroupProvider: { managedScaling: { status: 'ENABLED', targetCapacity: 80 }, managedDraining: 'DISABLED' } });
    assert.equal(updated.capacityProvider!.autoScalingGroupProvider!.managedScaling!.targetCapacity, 80);
    assert.equal(updated.capacityProvider!.autoScalingGroupProvider!.managedDraining, 'DISABLED');
  });
});

test('PutClusterCapacityProviders, service strategies, ResourceInUse, and DeleteCapacityProvider ACTIVE -> DELETE_IN_PROGRESS -> INACTIVE', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const ecs = new ECS(clientConfig(sb));
    const group = seedGroup(sb.world, 'asg', []);
    await ecs.createCluster({ clusterName: 'c' });
    await ecs.createCapacityProvider({ name: 'cp', autoScalingGroupProvider: { autoScalingGroupArn: group.autoScalingGroupArn, managedScaling: { status: 'ENABLED' } } });
    await rejects(ecs.putClusterCapacityProviders({ cluster: 'c', capacityProviders: ['nope'], defaultCapacityProviderStrategy: [] }), 'InvalidParameterException', /capacity provider was not found/);
    await rejects(
      ecs.putClusterCapacityProviders({ cluster: 'c', capacityProviders: [], defaultCapacityProviderStrategy: [{ capacityProvider: 'cp', weight: 1 }] }),
      'InvalidParameterException',
      /not associated with the cluster/,
    );
    const put = await ecs.putClusterCapacityProviders({ cluster: 'c', capacityProviders: ['cp'], defaultCapacityProviderStrategy: [{ capacityProvider: 'cp', weight: 1, base: 1 }] });
    assert.deepEqual(put.cluster!.capacityProviders, ['cp']);
    const described = (await ecs.describeClusters({ clusters: ['c'], include: ['ATTACHMENTS'] })).clusters![0];
    assert.deepEqual(described.defaultCapacityProviderStrategy, [{ capacityProvider: 'cp', weight: 1, base: 1 }]);
    assert.equal(described.attachments![0].type, 'as_policy');
    assert.equal(described.attachments![0].details!.find((d) => d.name === 'capacityProviderName')!.value, 'cp');
    assert.equal(described.attachmentsStatus, 'UPDATE_COMPLETE');

    // Deleting while associated: ECS answers DELETE_FAILED with the reason.
    const refused = await ecs.deleteCapacityProvider({ capacityProvider: 'cp' });
    assert.equal(refused.capacityProvider!.status, 'ACTIVE');
    assert.equal(refused.capacityProvider!.updateStatus, 'DELETE_FAILED');
    assert.match(refused.capacityProvider!.updateStatusReason!, /associated with cluster: c/);

    await ecs.registerTaskDefinition(taskDefinitionInput('web'));
    await rejects(
      ecs.createService({ cluster: 'c', serviceName: 'both', taskDefinition: 'web', launchType: 'EC2', capacityProviderStrategy: [{ capacityProvider: 'cp', weight: 1 }] }),
      'InvalidParameterException',
      /Specifying both a launch type and capacity provider strategy is not supported/,
    );
    // No launch type: the cluster's default strategy.
    const svc = (await ecs.createService({ cluster: 'c', serviceName: 'web', taskDefinition: 'web', desiredCount: 0 })).service!;
    assert.deepEqual(svc.capacityProviderStrategy, [{ capacityProvider: 'cp', weight: 1, base: 1 }]);
    assert.equal(svc.launchType, undefined);
    await rejects(ecs.putClusterCapacityProviders({ cluster: 'c', capacityProviders: [], defaultCapacityProviderStrategy: [] }), 'ResourceInUseException', /in use and cannot be removed/);

    // A launch-type service switching to a strategy needs forceNewDeployment.
    await ecs.createService({ cluster: 'c', serviceName: 'ec2', taskDefinition: 'web', launchType: 'EC2', desiredCount: 0 });
    await rejects(ecs.updateService({ cluster: 'c', service: 'ec2', capacityProviderStrategy: [{ capacityProvider: 'cp', weight: 1 }] }), 'InvalidParameterException', /you must force a new deployment/);
    const switched = await ecs.updateService({ cluster: 'c', service: 'ec2', capacityProviderStrategy: [{ capacityProvider: 'cp', weight: 1 }], forceNewDeployment: true });
    assert.equal(switched.service!.launchType, undefined);
    assert.equal(switched.service!.capacityProviderStrategy![0].capacityProvider, 'cp');

    await ecs.deleteService({ cluster: 'c', service: 'web', force: true });
    await ecs.deleteService({ cluster: 'c', service: 'ec2', force: true });
    clock.advance(1000);
    await ecs.putClusterCapacityProviders({ cluster: 'c', capacityProviders: [], defaultCapacityProviderStrategy: [] });
    const described2 = (await ecs.describeClusters({ clusters: ['c'], include: ['ATTACHMENTS'] })).clusters![0];
    assert.deepEqual(described2.attachments, []);

    const deleting = await ecs.deleteCapacityProvider({ capacityProvider: 'cp' });
    assert.equal(deleting.capacityProvider!.updateStatus, 'DELETE_IN_PROGRESS');
    clock.advance(150);
    const gone = (await ecs.describeCapacityProviders({ capacityProviders: ['cp'] })).capacityProviders![0];
    assert.equal(gone.status, 'INACTIVE');
    assert.equal(gone.updateStatus, 'DELETE_COMPLETE');
    await rejects(ecs.deleteCapacityProvider({ capacityProvider: 'cp' }), 'ClientException');
  });
});

test('managed termination protection clears scale-in protection on idle instances when the group has more than it wants', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECS(clientConfig(sb));
    const { AutoScaling } = await import('@aws-sdk/client-auto-scaling');
    const asg = new AutoScaling(clientConfig(sb));
    const group = await createGroup(sb, 'asg', 3);
    await ecs.createCapacityProvider({
      name: 'cp',
      autoScalingGroupProvider: { autoScalingGroupArn: group.arn, managedScaling: { status: 'ENABLED' }, managedTerminationProtection: 'ENABLED' },
    });
    const members = async () => (await asg.describeAutoScalingGroups({ AutoScalingGroupNames: ['asg'] })).AutoScalingGroups![0]!.Instances ?? [];
    assert.deepEqual((await members()).map((i) => i.ProtectedFromScaleIn), [true, true, true], 'nothing to scale in yet');
    // The group wants one: ECS lifts the protection of two idle instances, and the group terminates them.
    await asg.updateAutoScalingGroup({ AutoScalingGroupName: 'asg', MinSize: 1, MaxSize: 1, DesiredCapacity: 1 });
    let left = await members();
    for (let i = 0; i < 200 && left.filter((m) => m.LifecycleState !== 'Terminated').length > 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      left = await members();
    }
    const live = left.filter((m) => m.LifecycleState !== 'Terminated');
    assert.equal(live.length, 1, 'the group scaled in to one');
    assert.equal(live[0]!.ProtectedFromScaleIn, true, 'the one it kept is still protected');
    asg.destroy();
  });
});
