/**
 * Task placement through the real SDK clients: capacity provider strategies (tasks only on the
 * provider's Auto Scaling group), placementStrategy spread / binpack, distinctInstance, dynamic host
 * ports, the agent's real availability zone, and service load balancers (validation, target
 * registration and deregistration, health before steady state).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DescribeImagesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { ECS } from '@aws-sdk/client-ecs';
import { AddRoleToInstanceProfileCommand, AttachRolePolicyCommand, CreateInstanceProfileCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { seedGroup } from './ecs-fixtures.js';
import { clientConfig, elbv2Client, rejects, withSandbox } from './support.js';

const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });

/** A cluster "c" and one registered container instance per zone given (latency none: they register at once). */
async function fleet(sb: RunningSandbox, zones: string[]) {
  const ecs = new ECS(clientConfig(sb));
  const ec2 = new EC2Client(clientConfig(sb));
  const iam = new IAMClient(clientConfig(sb));
  await ecs.createCluster({ clusterName: 'c' });
  await iam.send(new CreateRoleCommand({ RoleName: 'ecs-instance', AssumeRolePolicyDocument: TRUST }));
  await iam.send(new AttachRolePolicyCommand({ RoleName: 'ecs-instance', PolicyArn: 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role' }));
  const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'ecs-instance' }));
  await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'ecs-instance', RoleName: 'ecs-instance' }));
  const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-ecs-hvm-*'] }, { Name: 'architecture', Values: ['x86_64'] }] }));
  const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets!;
  const ids: string[] = [];
  for (const zone of zones) {
    const subnet = subnets.find((s) => s.AvailabilityZone === zone)!;
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: images.Images![0].ImageId!,
        InstanceType: 't3.medium',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnet.SubnetId,
        IamInstanceProfile: { Arn: profile.InstanceProfile!.Arn },
        UserData: Buffer.from('#!/bin/bash\necho ECS_CLUSTER=c >> /etc/ecs/ecs.config\n').toString('base64'),
      }),
    );
    ids.push(run.Instances![0].InstanceId!);
  }
  const arns = (await ecs.listContainerInstances({ cluster: 'c' })).containerInstanceArns!;
  assert.equal(arns.length, zones.length);
  const cis = (await ecs.describeContainerInstances({ cluster: 'c', containerInstances: arns })).containerInstances!;
  return { ecs, ec2, ids, cis, subnets, vpcId: subnets[0].VpcId! };
}

async function tasksOf(ecs: ECS, serviceName: string) {
  const arns = (await ecs.listTasks({ cluster: 'c', serviceName })).taskArns!;
  return arns.length ? (await ecs.describeTasks({ cluster: 'c', tasks: arns })).tasks! : [];
}

const webTask = (extra: Record<string, unknown> = {}) => ({
  family: 'web',
  containerDefinitions: [{ name: 'httpd', image: 'httpd:2.4', memory: 256, portMappings: [{ containerPort: 80, hostPort: 0 }], ...extra }],
});

test('the agent reports the instance zone; spread over zones; dynamic host ports; binpack', async () => {
  await withSandbox({}, async (sb) => {
    const { ecs, cis } = await fleet(sb, ['us-east-1a', 'us-east-1a', 'us-east-1b']);
    const zoneOf = new Map(cis.map((ci) => [ci.containerInstanceArn!, ci.attributes!.find((a) => a.name === 'ecs.availability-zone')!.value]));
    assert.deepEqual([...zoneOf.values()].sort(), ['us-east-1a', 'us-east-1a', 'us-east-1b']);

    await ecs.registerTaskDefinition(webTask());
    await ecs.createService({ cluster: 'c', serviceName: 'spread', taskDefinition: 'web', desiredCount: 2, placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }] });
    const spread = await tasksOf(ecs, 'spread');
    assert.deepEqual(spread.map((t) => t.availabilityZone).sort(), ['us-east-1a', 'us-east-1b']);
    assert.deepEqual(spread.map((t) => zoneOf.get(t.containerInstanceArn!)).sort(), ['us-east-1a', 'us-east-1b']);

    // binpack on memory: all tasks on one instance, each with its own ephemeral host port.
    await ecs.createService({ cluster: 'c', serviceName: 'packed', taskDefinition: 'web', desiredCount: 3, placementStrategy: [{ type: 'binpack', field: 'memory' }] });
    const packed = await tasksOf(ecs, 'packed');
    assert.equal(new Set(packed.map((t) => t.containerInstanceArn)).size, 1);
    const ports = packed.map((t) => t.containers![0].networkBindings![0].hostPort!);
    assert.equal(new Set(ports).size, 3);
    for (const p of ports) assert.ok(p >= 32768 && p <= 60999, `ephemeral port ${p}`);

    await rejects(ecs.createService({ cluster: 'c', serviceName: 'bad', taskDefinition: 'web', placementStrategy: [{ type: 'binpack', field: 'disk' }] }), 'InvalidParameterException');
  });
});

test('distinctInstance: one task per instance, and the scheduler says why it cannot place more', async () => {
  await withSandbox({}, async (sb) => {
    const { ecs } = await fleet(sb, ['us-east-1a', 'us-east-1b']);
    await ecs.registerTaskDefinition(webTask());
    await ecs.createService({ cluster: 'c', serviceName: 'one-each', taskDefinition: 'web', desiredCount: 3, placementConstraints: [{ type: 'distinctInstance' }] });
    const tasks = await tasksOf(ecs, 'one-each');
    assert.equal(tasks.length, 2);
    assert.equal(new Set(tasks.map((t) => t.containerInstanceArn)).size, 2);
    const svc = (await ecs.describeServices({ cluster: 'c', services: ['one-each'] })).services![0];
    assert.ok(svc.events!.some((e) => /unable to place a task.*DistinctInstance placement constraint unsatisfied/.test(e.message!)), JSON.stringify(svc.events));
  });
});

test('a capacity provider strategy places tasks only on container instances registered as the provider\'s (in its group, tagged AmazonECSManaged when they registered)', async () => {
  await withSandbox({}, async (sb) => {
    const { ecs, ids, cis } = await fleet(sb, ['us-east-1a', 'us-east-1b', 'us-east-1c']);
    const group = seedGroup(sb.world, 'asg', [ids[1], ids[2]]);
    await ecs.createCapacityProvider({ name: 'cp', autoScalingGroupProvider: { autoScalingGroupArn: group.autoScalingGroupArn } });
    assert.equal((group as unknown as { tags: Record<string, string> }).tags.AmazonECSManaged, '', 'CreateCapacityProvider tags the group');
    await ecs.putClusterCapacityProviders({ cluster: 'c', capacityProviders: ['cp'], defaultCapacityProviderStrategy: [{ capacityProvider: 'cp', weight: 1 }] });
    await ecs.registerTaskDefinition(webTask());
    // The fleet registered before the provider existed: none of it is the provider's (as on AWS).
    await ecs.createService({ cluster: 'c', serviceName: 'web', taskDefinition: 'web', desiredCount: 4 });
    assert.equal((await tasksOf(ecs, 'web')).length, 0);
    const svc = (await ecs.describeServices({ cluster: 'c', services: ['web'] })).services![0]!;
    assert.ok(svc.events!.some((e) => /No Container Instances were found in your capacity provider/.test(e.message!)), JSON.stringify(svc.events));
    // Fixture: the group's two instances as if launched after the provider (they registered as its own).
    const state = sb.world.state.ecs as { containerInstances: Record<string, { ec2InstanceId: string; capacityProviderName?: string }> };
    for (const ci of Object.values(state.containerInstances)) if (ids.slice(1).includes(ci.ec2InstanceId)) ci.capacityProviderName = 'cp';
    await ecs.updateService({ cluster: 'c', service: 'web', forceNewDeployment: true });
    let tasks = await tasksOf(ecs, 'web');
    for (let k = 0; k < 50 && tasks.length < 4; k++) tasks = await tasksOf(ecs, 'web');
    assert.equal(tasks.length, 4);
    const allowed = new Set(cis.filter((ci) => ci.ec2InstanceId !== ids[0]).map((ci) => ci.containerInstanceArn));
    for (const t of tasks) {
      assert.ok(allowed.has(t.containerInstanceArn), 'placed outside the capacity provider group');
      assert.equal(t.capacityProviderName, 'cp');
    }
  });
});

test('service load balancers: validation, targets registered when RUNNING and deregistered when stopped, steady once healthy', async () => {
  await withSandbox({}, async (sb) => {
    const { ecs, ec2, ids, subnets, vpcId } = await fleet(sb, ['us-east-1a']);
    const elb = await elbv2Client(sb);
    const zones = [...new Map(subnets.map((s) => [s.AvailabilityZone, s.SubnetId!])).values()].slice(0, 2);
    const sg = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }, { Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups![0];
    const lb = (await elb.createLoadBalancer({ Name: 'web', Subnets: zones, SecurityGroups: [sg.GroupId!] })).LoadBalancers![0];
    const tg = (await elb.createTargetGroup({ Name: 'web', Protocol: 'HTTP', Port: 80, VpcId: vpcId })).TargetGroups![0];
    await ecs.registerTaskDefinition(webTask());

    const lbs = (containerName: string, containerPort: number, targetGroupArn = tg.TargetGroupArn!) => [{ targetGroupArn, containerName, containerPort }];
    await rejects(ecs.createService({ cluster: 'c', serviceName: 'web', taskDefinition: 'web', loadBalancers: lbs('httpd', 80) }), 'InvalidParameterException', /does not have an associated load balancer/);
    await elb.createListener({ LoadBalancerArn: lb.LoadBalancerArn!, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn! }] });
    await rejects(ecs.createService({ cluster: 'c', serviceName: 'web', taskDefinition: 'web', loadBalancers: lbs('nginx', 80) }), 'InvalidParameterException', /The container nginx does not exist in the task definition/);
    await rejects(ecs.createService({ cluster: 'c', serviceName: 'web', taskDefinition: 'web', loadBalancers: lbs('httpd', 8080) }), 'InvalidParameterException', /did not have a container port 8080 defined/);
    await rejects(
      ecs.createService({ cluster: 'c', serviceName: 'web', taskDefinition: 'web', loadBalancers: lbs('httpd', 80, tg.TargetGroupArn!.replace(/[0-9a-f]{16}$/, '0000000000000000')) }),
      'InvalidParameterException',
      /does not exist/,
    );

    await ecs.createService({ cluster: 'c', serviceName: 'web', taskDefinition: 'web', desiredCount: 2, loadBalancers: lbs('httpd', 80), healthCheckGracePeriodSeconds: 30 });
    const tasks = await tasksOf(ecs, 'web');
    const hostPorts = tasks.map((t) => t.containers![0].networkBindings![0].hostPort!).sort();
    const health = await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn! });
    assert.deepEqual(health.TargetHealthDescriptions!.map((d) => d.Target!.Port).sort(), hostPorts);
    for (const d of health.TargetHealthDescriptions!) {
      assert.equal(d.Target!.Id, ids[0]);
      assert.equal(d.TargetHealth!.State, 'healthy');
    }
    let svc = (await ecs.describeServices({ cluster: 'c', services: ['web'] })).services![0];
    assert.deepEqual(svc.loadBalancers, lbs('httpd', 80));
    assert.equal(svc.healthCheckGracePeriodSeconds, 30);
    assert.ok(svc.events!.some((e) => e.message === `(service web) registered 1 targets in (target-group ${tg.TargetGroupArn})`));
    assert.ok(svc.events!.some((e) => e.message === '(service web) has reached a steady state.'));

    await ecs.updateService({ cluster: 'c', service: 'web', desiredCount: 0 });
    svc = (await ecs.describeServices({ cluster: 'c', services: ['web'] })).services![0];
    assert.ok(svc.events!.some((e) => e.message === `(service web) deregistered 1 targets in (target-group ${tg.TargetGroupArn})`));
    const after = await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn! });
    assert.equal(after.TargetHealthDescriptions!.length, 0);
  });
});
