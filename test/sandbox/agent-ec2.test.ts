/**
 * The ECS agent with the real EC2 and IAM emulation: RunInstances with an instance profile and user data,
 * the instance boots, registers in the cluster, runs a service task, and goes away when terminated.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  ECSClient,
  ListContainerInstancesCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { DescribeImagesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { ManualClock } from '../../src/sandbox/index.js';
import { clientConfig, taskDefinitionInput, withSandbox } from './support.js';

const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
const USER_DATA = '#!/bin/bash\necho ECS_CLUSTER=logs >> /etc/ecs/ecs.config\n';

async function instanceProfile(iam: IAMClient, name: string, policyArn?: string): Promise<string> {
  await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST }));
  if (policyArn) await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn }));
  const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: name }));
  await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name }));
  return profile.InstanceProfile!.Arn!;
}

test('RunInstances -> boot -> agent registration -> task RUNNING -> TerminateInstances -> deregistered', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock, iamPropagationMs: 0 }, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    const ec2 = new EC2Client(clientConfig(sb));
    const iam = new IAMClient(clientConfig(sb));

    await ecs.send(new CreateClusterCommand({ clusterName: 'logs' }));
    const good = await instanceProfile(iam, 'ecs-instance', 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role');
    const bare = await instanceProfile(iam, 'no-ecs-policy');
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-ecs-hvm-*'] }, { Name: 'architecture', Values: ['x86_64'] }] }));
    const imageId = images.Images![0].ImageId!;

    const launch = (profileArn: string) =>
      ec2.send(
        new RunInstancesCommand({
          ImageId: imageId,
          InstanceType: 't3.small',
          MinCount: 1,
          MaxCount: 1,
          IamInstanceProfile: { Arn: profileArn },
          UserData: Buffer.from(USER_DATA).toString('base64'),
        }),
      );
    const instanceId = (await launch(good)).Instances![0].InstanceId!;
    await launch(bare); // its role lacks AmazonEC2ContainerServiceforEC2Role: the agent cannot register

    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web', { containerDefinitions: [{ name: 'app', image: 'nginx', memory: 128, portMappings: [{ containerPort: 80, hostPort: 8080 }] }] })));
    await ecs.send(new CreateServiceCommand({ cluster: 'logs', serviceName: 'web', taskDefinition: 'web', desiredCount: 1 }));

    // Boot (300 ms) + agent registration (300 ms) + two task phases (150 ms each).
    clock.advance(599);
    assert.deepEqual((await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }))).containerInstanceArns, []);
    clock.advance(1);
    const arns = (await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }))).containerInstanceArns!;
    assert.equal(arns.length, 1);
    const [ci] = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'logs', containerInstances: arns }))).containerInstances!;
    assert.equal(ci.ec2InstanceId, instanceId);
    assert.equal(ci.attributes?.find((a) => a.name === 'ecs.instance-type')?.value, 't3.small');
    assert.equal(ci.attributes?.find((a) => a.name === 'ecs.ami-id')?.value, imageId);

    clock.advance(300);
    let [svc] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['web'] }))).services!;
    assert.equal(svc.runningCount, 1);
    assert.equal(svc.events?.[0].message, '(service web) has reached a steady state.');

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    clock.advance(150); // shutting-down -> terminated
    const [gone] = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'logs', containerInstances: arns }))).containerInstances!;
    assert.equal(gone.status, 'INACTIVE');
    [svc] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['web'] }))).services!;
    assert.equal(svc.runningCount, 0);
    assert.match(svc.events?.[0].message ?? '', /was unable to place a task.*No Container Instances were found in your cluster/);
  });
});

test('registration is computed from the boot time even when no request came in between', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock, iamPropagationMs: 0 }, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    const ec2 = new EC2Client(clientConfig(sb));
    const iam = new IAMClient(clientConfig(sb));
    await ecs.send(new CreateClusterCommand({ clusterName: 'logs' }));
    const profile = await instanceProfile(iam, 'ecs-instance', 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role');
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-ecs-hvm-*'] }] }));
    const launchedAt = clock.now();
    await ec2.send(
      new RunInstancesCommand({
        ImageId: images.Images![0].ImageId!,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        IamInstanceProfile: { Arn: profile },
        UserData: Buffer.from(USER_DATA).toString('base64'),
      }),
    );
    clock.advance(10_000); // boot and registration both happened long ago
    const arns = (await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }))).containerInstanceArns!;
    assert.equal(arns.length, 1);
    const [ci] = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'logs', containerInstances: arns }))).containerInstances!;
    assert.equal(ci.registeredAt?.getTime(), launchedAt + 300 + 300);
    assert.equal(ci.registeredResources?.find((r) => r.name === 'MEMORY')?.integerValue, 944);
  });
});
