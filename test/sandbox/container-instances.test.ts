/**
 * Container instances whose EC2 instance stops or is terminated, as ECS documents it: a terminated
 * instance with a connected agent is deregistered; a stopped one stays registered with the agent
 * disconnected, and stays so when it is then terminated, until DeregisterContainerInstance.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  ECSClient,
  ListContainerInstancesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { AddRoleToInstanceProfileCommand, AttachRolePolicyCommand, CreateInstanceProfileCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { ManualClock, type RunningSandbox } from '../../src/sandbox/index.js';
import { clientConfig, rejects, taskDefinitionInput, withSandbox } from './support.js';

const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
const USER_DATA = Buffer.from('#!/bin/bash\necho ECS_CLUSTER=logs >> /etc/ecs/ecs.config\n').toString('base64');

interface Ctx {
  sb: RunningSandbox;
  clock: ManualClock;
  ecs: ECSClient;
  ec2: EC2Client;
  launch(): Promise<string>;
  /** The cluster's container instance for an EC2 instance, as DescribeContainerInstances shows it. */
  containerInstance(ec2InstanceId: string): Promise<{ arn: string; status?: string; agentConnected?: boolean; runningTasksCount?: number }>;
}

/** Cluster "logs", a service "web" (1 task), an instance profile; the fast profile with a manual clock. */
async function withCluster(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock, iamPropagationMs: 0 }, async (sb) => {
    const cfg = clientConfig(sb, { maxAttempts: 1 });
    const ecs = new ECSClient(cfg);
    const ec2 = new EC2Client(cfg);
    const iam = new IAMClient(cfg);
    try {
      await ecs.send(new CreateClusterCommand({ clusterName: 'logs' }));
      await iam.send(new CreateRoleCommand({ RoleName: 'ecs-instance', AssumeRolePolicyDocument: TRUST }));
      await iam.send(new AttachRolePolicyCommand({ RoleName: 'ecs-instance', PolicyArn: 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role' }));
      const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'ecs-instance' }));
      await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'ecs-instance', RoleName: 'ecs-instance' }));
      const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-ecs-hvm-*'] }, { Name: 'architecture', Values: ['x86_64'] }] }));
      await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')));
      await ecs.send(new CreateServiceCommand({ cluster: 'logs', serviceName: 'web', taskDefinition: 'web', desiredCount: 1 }));
      const ctx: Ctx = {
        sb,
        clock,
        ecs,
        ec2,
        async launch() {
          const run = await ec2.send(
            new RunInstancesCommand({
              ImageId: images.Images![0].ImageId!,
              InstanceType: 't3.small',
              MinCount: 1,
              MaxCount: 1,
              IamInstanceProfile: { Arn: profile.InstanceProfile!.Arn! },
              UserData: USER_DATA,
            }),
          );
          clock.advance(600); // boot 300 + registration 300; the scheduler places at the next request
          await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }));
          clock.advance(300); // two task phases
          return run.Instances![0].InstanceId!;
        },
        async containerInstance(id) {
          const arns = [
            ...((await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }))).containerInstanceArns ?? []),
            ...((await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs', status: 'DRAINING' }))).containerInstanceArns ?? []),
          ];
          const all = Object.values(sb.world.state.ecs.containerInstances) as { containerInstanceArn: string; ec2InstanceId: string }[];
          const arn = all.find((ci) => ci.ec2InstanceId === id)!.containerInstanceArn;
          const [ci] = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'logs', containerInstances: [arn] }))).containerInstances!;
          assert.equal(arns.includes(arn), ci.status === 'ACTIVE' || ci.status === 'DRAINING');
          return { arn, status: ci.status, agentConnected: ci.agentConnected, runningTasksCount: ci.runningTasksCount };
        },
      };
      await fn(ctx);
    } finally {
      for (const c of [ecs, ec2, iam]) c.destroy();
    }
  });
}

test('a stopped instance stays registered, disconnected; starting it reconnects the same container instance', async () => {
  await withCluster(async ({ clock, ecs, ec2, launch, containerInstance }) => {
    const id = await launch();
    const before = await containerInstance(id);
    assert.deepEqual([before.status, before.agentConnected, before.runningTasksCount], ['ACTIVE', true, 1]);

    const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    assert.equal(stop.StoppingInstances?.[0].CurrentState?.Name, 'stopping');
    clock.advance(150);
    const state = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0].State?.Name;
    assert.equal(state, 'stopped');
    const stopped = await containerInstance(id);
    assert.deepEqual([stopped.arn, stopped.status, stopped.agentConnected, stopped.runningTasksCount], [before.arn, 'ACTIVE', false, 0]);
    assert.deepEqual((await ecs.send(new ListTasksCommand({ cluster: 'logs' }))).taskArns, [], 'its task was stopped');

    // DeleteCluster refuses while the (disconnected) container instance is registered.
    await ecs.send(new DeleteServiceCommand({ cluster: 'logs', service: 'web', force: true }));
    clock.advance(300);
    await rejects(ecs.send(new DeleteClusterCommand({ cluster: 'logs' })), 'ClusterContainsContainerInstancesException');

    await rejects(ec2.send(new StartInstancesCommand({ InstanceIds: ['i-0000000000000000f'] })), 'InvalidInstanceID.NotFound');
    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    clock.advance(300 + 300); // boot + agent reconnect
    const again = await containerInstance(id);
    assert.deepEqual([again.arn, again.status, again.agentConnected], [before.arn, 'ACTIVE', true]);
  });
});

test('terminated while running: deregistered; terminated after a stop: stays ACTIVE until deregistered', async () => {
  await withCluster(async ({ clock, ecs, ec2, launch, containerInstance }) => {
    const running = await launch();
    const stoppedFirst = await launch();

    await ec2.send(new StopInstancesCommand({ InstanceIds: [stoppedFirst] }));
    clock.advance(150);
    await rejects(ec2.send(new StopInstancesCommand({ InstanceIds: [running, 'i-0000000000000000f'] })), 'InvalidInstanceID.NotFound');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [running, stoppedFirst] }));
    clock.advance(150);
    await rejects(ec2.send(new StopInstancesCommand({ InstanceIds: [running] })), 'IncorrectInstanceState');

    assert.equal((await containerInstance(running)).status, 'INACTIVE');
    const orphan = await containerInstance(stoppedFirst);
    assert.deepEqual([orphan.status, orphan.agentConnected], ['ACTIVE', false]);
    // An hour later the terminated instance is gone from EC2; ECS still lists the container instance.
    clock.advance(2 * 60 * 60 * 1000);
    assert.deepEqual([(await containerInstance(stoppedFirst)).status], ['ACTIVE']);

    await ecs.send(new DeleteServiceCommand({ cluster: 'logs', service: 'web', force: true }));
    clock.advance(300);
    await rejects(ecs.send(new DeleteClusterCommand({ cluster: 'logs' })), 'ClusterContainsContainerInstancesException', /Container Instances are active or draining/);
    const dereg = await ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'logs', containerInstance: orphan.arn }));
    assert.equal(dereg.containerInstance?.status, 'INACTIVE');
    await rejects(ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'logs', containerInstance: orphan.arn })), 'InvalidParameterException');
    const deleted = await ecs.send(new DeleteClusterCommand({ cluster: 'logs' }));
    assert.equal(deleted.cluster?.status, 'INACTIVE');
  });
});

test('DeregisterContainerInstance refuses a container instance with tasks unless force, which stops them', async () => {
  await withCluster(async ({ clock, ecs, launch, containerInstance }) => {
    const id = await launch();
    const ci = await containerInstance(id);
    assert.equal(ci.runningTasksCount, 1);
    await rejects(ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'logs', containerInstance: ci.arn })), 'InvalidParameterException', /running tasks/);
    const forced = await ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'logs', containerInstance: ci.arn, force: true }));
    assert.deepEqual([forced.containerInstance?.status, forced.containerInstance?.agentConnected], ['INACTIVE', false]);
    clock.advance(150);
    const [svc] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['web'] }))).services!;
    assert.equal(svc.runningCount, 0);
    assert.deepEqual((await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }))).containerInstanceArns, []);
  });
});
