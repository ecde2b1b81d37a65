import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListContainerInstancesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { parseAgentConfig } from '../../src/sandbox/services/ecs/agent.js';
import { ManualClock, type Ec2InstanceRecord, type RunningSandbox } from '../../src/sandbox/index.js';
import { clientConfig, rejection, withSandbox } from './support.js';

const USER_DATA = `#!/bin/bash
set -euo pipefail
# ECS_CLUSTER=commented-out
cat <<'CONFIG' >> /etc/ecs/ecs.config
ECS_CLUSTER=logs
ECS_AVAILABLE_LOGGING_DRIVERS=["json-file","syslog","awslogs"]
CONFIG
systemctl restart ecs
`;

test('parseAgentConfig reads ECS_CLUSTER from shell, bare lines and base64, ignoring comments', () => {
  assert.equal(parseAgentConfig(USER_DATA).cluster, 'logs');
  assert.deepEqual(parseAgentConfig(USER_DATA).loggingDrivers, ['json-file', 'syslog', 'awslogs']);
  assert.equal(parseAgentConfig('ECS_CLUSTER=bare').cluster, 'bare');
  assert.equal(parseAgentConfig('echo "ECS_CLUSTER=quoted" >> /etc/ecs/ecs.config').cluster, 'quoted');
  assert.equal(parseAgentConfig(Buffer.from('echo ECS_CLUSTER=b64 >> /etc/ecs/ecs.config').toString('base64')).cluster, 'b64');
  assert.equal(parseAgentConfig('#!/bin/bash\necho hello').cluster, 'default');
  assert.equal(parseAgentConfig(undefined).cluster, 'default');
});

/** Put an instance into the EC2 state directly, as services/ec2/ would after RunInstances. */
function addInstance(sb: RunningSandbox, now: number, overrides: Partial<Ec2InstanceRecord> = {}): Ec2InstanceRecord {
  const instanceId = sb.world.nextId('i-');
  const instance: Ec2InstanceRecord = {
    instanceId,
    imageId: 'ami-0123456789abcdef0',
    instanceType: 't3.small',
    state: 'running',
    launchTime: now,
    stateChangedAt: now,
    userData: USER_DATA,
    iamInstanceProfile: { arn: 'arn:aws:iam::123456789012:instance-profile/ecs', name: 'ecs' },
    privateIpAddress: '10.0.0.10',
    publicIpAddress: '198.51.100.10',
    subnetId: 'subnet-0aaa',
    vpcId: 'vpc-0aaa',
    securityGroupIds: ['sg-0aaa'],
    tags: {},
    ...overrides,
  };
  sb.world.state.ec2 ??= {};
  sb.world.state.ec2.instances ??= {};
  sb.world.state.ec2.instances[instanceId] = instance;
  return instance;
}

const LOGS_TASK = {
  family: 'cwlogs',
  containerDefinitions: [
    {
      name: 'rsyslog',
      image: 'registry.example/cloudwatchlogs:1',
      memory: 256,
      cpu: 128,
      portMappings: [
        { containerPort: 514, hostPort: 514, protocol: 'tcp' as const },
        { containerPort: 514, hostPort: 514, protocol: 'udp' as const },
      ],
      logConfiguration: { logDriver: 'awslogs' as const, options: { 'awslogs-group': 'g', 'awslogs-region': 'us-east-1' } },
    },
  ],
};

test('agent registers a running instance, the scheduler places and starts service tasks', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    await ecs.send(new CreateClusterCommand({ clusterName: 'logs' }));
    const instance = addInstance(sb, clock.now());
    const noProfile = addInstance(sb, clock.now(), { iamInstanceProfile: undefined });

    // Not before agentRegisterMs (300 ms in the fast profile).
    clock.advance(299);
    assert.deepEqual((await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }))).containerInstanceArns, []);
    clock.advance(1);
    const listed = await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }));
    assert.equal(listed.containerInstanceArns?.length, 1, 'only the instance with an instance profile registers');
    const [ci] = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'logs', containerInstances: listed.containerInstanceArns }))).containerInstances!;
    assert.equal(ci.ec2InstanceId, instance.instanceId);
    assert.notEqual(ci.ec2InstanceId, noProfile.instanceId);
    assert.equal(ci.status, 'ACTIVE');
    assert.equal(ci.agentConnected, true);
    assert.equal(ci.registeredResources?.find((r) => r.name === 'CPU')?.integerValue, 2048);
    assert.equal(ci.registeredResources?.find((r) => r.name === 'MEMORY')?.integerValue, 1993);

    // The cluster now has a container instance and cannot be deleted.
    const busy = await rejection(ecs.send(new DeleteClusterCommand({ cluster: 'logs' })));
    assert.equal(busy.name, 'ClusterContainsContainerInstancesException');

    await ecs.send(new RegisterTaskDefinitionCommand(LOGS_TASK));
    await ecs.send(new CreateServiceCommand({ cluster: 'logs', serviceName: 'cwlogs', taskDefinition: 'cwlogs', desiredCount: 1 }));
    const taskArns = (await ecs.send(new ListTasksCommand({ cluster: 'logs', serviceName: 'cwlogs' }))).taskArns!;
    assert.equal(taskArns.length, 1);
    let [task] = (await ecs.send(new DescribeTasksCommand({ cluster: 'logs', tasks: taskArns }))).tasks!;
    assert.equal(task.lastStatus, 'PROVISIONING');
    assert.equal(task.desiredStatus, 'RUNNING');
    assert.equal(task.containerInstanceArn, ci.containerInstanceArn);

    clock.advance(150);
    [task] = (await ecs.send(new DescribeTasksCommand({ cluster: 'logs', tasks: taskArns }))).tasks!;
    assert.equal(task.lastStatus, 'PENDING');
    clock.advance(150);
    [task] = (await ecs.send(new DescribeTasksCommand({ cluster: 'logs', tasks: taskArns }))).tasks!;
    assert.equal(task.lastStatus, 'RUNNING');
    assert.deepEqual(task.containers?.[0].networkBindings, [
      { bindIP: '0.0.0.0', containerPort: 514, hostPort: 514, protocol: 'tcp' },
      { bindIP: '0.0.0.0', containerPort: 514, hostPort: 514, protocol: 'udp' },
    ]);
    assert.ok(task.startedAt instanceof Date);

    const [svc] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['cwlogs'] }))).services!;
    assert.equal(svc.runningCount, 1);
    assert.equal(svc.pendingCount, 0);
    assert.equal(svc.deployments?.length, 1);
    assert.equal(svc.deployments?.[0].rolloutState, 'COMPLETED');
    const messages = svc.events!.map((e) => e.message);
    assert.equal(messages[0], '(service cwlogs) has reached a steady state.');
    assert.ok(messages.includes(`(service cwlogs) has started 1 tasks: (task ${taskArns[0].split('/').pop()}).`));

    // Remaining resources account for the task: CPU, memory and the host ports.
    const [after] = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'logs', containerInstances: [ci.containerInstanceArn!] }))).containerInstances!;
    assert.equal(after.runningTasksCount, 1);
    assert.equal(after.remainingResources?.find((r) => r.name === 'CPU')?.integerValue, 2048 - 128);
    assert.equal(after.remainingResources?.find((r) => r.name === 'MEMORY')?.integerValue, 1993 - 256);
    assert.ok(after.remainingResources?.find((r) => r.name === 'PORTS_UDP')?.stringSetValue?.includes('514'));
  });
});

test('placement: a second task needing the same host port cannot be placed, and the event says why', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'none', clock }, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    await ecs.send(new CreateClusterCommand({ clusterName: 'logs' }));
    await ecs.send(new RegisterTaskDefinitionCommand(LOGS_TASK));
    // No container instances yet.
    await ecs.send(new CreateServiceCommand({ cluster: 'logs', serviceName: 'cwlogs', taskDefinition: 'cwlogs', desiredCount: 2 }));
    let [svc] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['cwlogs'] }))).services!;
    assert.match(
      svc.events![0].message!,
      /^\(service cwlogs\) was unable to place a task because no container instance met all of its requirements\. Reason: No Container Instances were found in your cluster\./,
    );

    addInstance(sb, clock.now());
    [svc] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['cwlogs'] }))).services!;
    assert.equal(svc.runningCount, 1, 'one task fits; the second needs port 514 again');
    assert.match(svc.events![0].message!, /The closest matching \(container-instance [0-9a-f]{32}\) is already using a port required by your task\./);
    assert.equal(svc.deployments?.[0].rolloutState, 'IN_PROGRESS');

    // A second instance makes room.
    addInstance(sb, clock.now());
    [svc] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['cwlogs'] }))).services!;
    assert.equal(svc.runningCount, 2);
    assert.equal(svc.events![0].message, '(service cwlogs) has reached a steady state.');
    const arns = (await ecs.send(new ListTasksCommand({ cluster: 'logs' }))).taskArns!;
    const tasks = (await ecs.send(new DescribeTasksCommand({ cluster: 'logs', tasks: arns }))).tasks!;
    assert.equal(new Set(tasks.map((t) => t.containerInstanceArn)).size, 2, 'spread over both instances');

    // A task needing a logging driver the agent does not advertise cannot be placed anywhere.
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'splunky',
        containerDefinitions: [{ name: 'a', image: 'i', memory: 64, logConfiguration: { logDriver: 'splunk' } }],
      }),
    );
    await ecs.send(new CreateServiceCommand({ cluster: 'logs', serviceName: 'splunky', taskDefinition: 'splunky', desiredCount: 1 }));
    const [splunky] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['splunky'] }))).services!;
    assert.equal(splunky.runningCount, 0);
    assert.match(splunky.events![0].message!, /is missing an attribute required by your task/);
  });
});

test('deployments: a new task definition replaces the tasks; draining stops them; termination deregisters', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    await ecs.send(new CreateClusterCommand({ clusterName: 'logs' }));
    const instance = addInstance(sb, clock.now());
    clock.advance(300);
    const [ciArn] = (await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }))).containerInstanceArns!;
    const td1 = (await ecs.send(new RegisterTaskDefinitionCommand(LOGS_TASK))).taskDefinition!.taskDefinitionArn!;
    await ecs.send(
      new CreateServiceCommand({
        cluster: 'logs',
        serviceName: 'cwlogs',
        taskDefinition: td1,
        desiredCount: 1,
        // One instance and a fixed host port: the old task must stop before the new one can start.
        deploymentConfiguration: { minimumHealthyPercent: 0, maximumPercent: 100 },
      }),
    );
    clock.advance(300);
    const [oldTask] = (await ecs.send(new ListTasksCommand({ cluster: 'logs' }))).taskArns!;

    const v2 = { ...LOGS_TASK, containerDefinitions: [{ ...LOGS_TASK.containerDefinitions[0], image: 'registry.example/cloudwatchlogs:2' }] };
    const td2 = (await ecs.send(new RegisterTaskDefinitionCommand(v2))).taskDefinition!.taskDefinitionArn!;
    const updated = await ecs.send(new UpdateServiceCommand({ cluster: 'logs', service: 'cwlogs', taskDefinition: td2 }));
    assert.deepEqual(updated.service?.deployments?.map((d) => d.status), ['PRIMARY', 'ACTIVE']);

    clock.advance(150); // the old task stops
    clock.advance(300); // the new one starts
    const [svc] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['cwlogs'] }))).services!;
    assert.deepEqual(svc.deployments?.map((d) => [d.status, d.taskDefinition, d.rolloutState]), [['PRIMARY', td2, 'COMPLETED']]);
    const running = (await ecs.send(new ListTasksCommand({ cluster: 'logs' }))).taskArns!;
    assert.equal(running.length, 1);
    assert.notEqual(running[0], oldTask);
    const [stopped] = (await ecs.send(new DescribeTasksCommand({ cluster: 'logs', tasks: [oldTask] }))).tasks!;
    assert.equal(stopped.lastStatus, 'STOPPED');
    assert.deepEqual((await ecs.send(new ListTasksCommand({ cluster: 'logs', desiredStatus: 'STOPPED' }))).taskArns, [oldTask]);

    // Deleting with force drains the service: tasks stop, then the service is INACTIVE.
    await ecs.send(new DeleteServiceCommand({ cluster: 'logs', service: 'cwlogs', force: true }));
    let [draining] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['cwlogs'] }))).services!;
    assert.equal(draining.status, 'DRAINING');
    clock.advance(150);
    [draining] = (await ecs.send(new DescribeServicesCommand({ cluster: 'logs', services: ['cwlogs'] }))).services!;
    assert.equal(draining.status, 'INACTIVE');

    // Terminating the instance deregisters its container instance and stops its tasks.
    await ecs.send(new CreateServiceCommand({ cluster: 'logs', serviceName: 'again', taskDefinition: td2, desiredCount: 1 }));
    clock.advance(300);
    instance.state = 'terminated';
    instance.stateChangedAt = clock.now();
    assert.deepEqual((await ecs.send(new ListContainerInstancesCommand({ cluster: 'logs' }))).containerInstanceArns, []);
    const [deregistered] = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'logs', containerInstances: [ciArn] }))).containerInstances!;
    assert.equal(deregistered.status, 'INACTIVE');
    assert.equal(deregistered.agentConnected, false);
    const stoppedTasks = (await ecs.send(new ListTasksCommand({ cluster: 'logs', serviceName: 'again', desiredStatus: 'STOPPED' }))).taskArns!;
    const [hostGone] = (await ecs.send(new DescribeTasksCommand({ cluster: 'logs', tasks: stoppedTasks }))).tasks!;
    assert.equal(hostGone.stoppedReason, `Host EC2 (instance ${instance.instanceId}) terminated.`);
  });
});
