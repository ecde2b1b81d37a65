/**
 * The sandbox's files and flags: a saved world loads again; a damaged or ill-shaped state file is
 * refused at start (the library with StateFileError, the binary with exit 2 and one line); a busy port
 * is one line; --latency realistic keeps its IAM propagation delay.
 */
import assert from 'node:assert/strict';
import { createGroup } from './ecs-fixtures.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { CreateLogGroupCommand, CloudWatchLogsClient, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateRepositoryCommand, ECRClient } from '@aws-sdk/client-ecr';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, ListClustersCommand, RegisterTaskDefinitionCommand, RegisterContainerInstanceCommand } from '@aws-sdk/client-ecs';
import { CreateSecurityGroupCommand, DescribeImagesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateInstanceProfileCommand, CreatePolicyCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { ManualClock, StateFileError, defaultServices, startSandbox } from '../../src/sandbox/index.js';
import { checkStateFile } from '../../src/sandbox/world.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { clientConfig, taskDefinitionInput } from './support.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';
import { controlCall } from '../../src/cli/sandbox-mode.js';

const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });

test('a world saved by a busy sandbox passes the state check and loads again', async () => {
  const dir = tempConfigDir();
  const statePath = join(dir, 'state.json');
  const clock = new ManualClock();
  const sb = await startSandbox({ credentials: TEST_KEYS, statePath, latency: 'fast', clock, iamPropagationMs: 0 });
  const cfg = clientConfig(sb, { maxAttempts: 1 });
  const ecs = new ECSClient(cfg);
  const ec2 = new EC2Client(cfg);
  const iam = new IAMClient(cfg);
  const logs = new CloudWatchLogsClient(cfg);
  const ecr = new ECRClient(cfg);
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'logs', tags: [{ key: 'k', value: 'v' }] }));
    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web', { containerDefinitions: [{ name: 'app', image: 'nginx', memory: 128, portMappings: [{ containerPort: 80 }] }] })));
    await ecs.send(new CreateServiceCommand({ cluster: 'logs', serviceName: 'web', taskDefinition: 'web', desiredCount: 1 }));
    await iam.send(new CreateRoleCommand({ RoleName: 'r', Path: '/lab/', AssumeRolePolicyDocument: TRUST }));
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'p' }));
    await iam.send(new CreatePolicyCommand({ PolicyName: 'pol', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: '*' }] }) }));
    await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'sg', Description: 'd' }));
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-ecs-hvm-*'] }, { Name: 'architecture', Values: ['x86_64'] }] }));
    const run = await ec2.send(new RunInstancesCommand({ ImageId: images.Images![0].ImageId!, InstanceType: 't3.small', MinCount: 1, MaxCount: 1 }));
    const instanceId = run.Instances![0].InstanceId!;
    await ecs.send(new RegisterContainerInstanceCommand({ cluster: 'logs', instanceIdentityDocument: JSON.stringify({ instanceId }) }));
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/web' }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/ecs/web', logStreamName: 's' }));
    await logs.send(new PutLogEventsCommand({ logGroupName: '/ecs/web', logStreamName: 's', logEvents: [{ timestamp: clock.now(), message: 'hello' }] }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'web' }));
    clock.advance(1000); // instance running, task placed
    await ecs.send(new ListClustersCommand({}));
    clock.advance(1000); // task started
    await ecs.send(new ListClustersCommand({}));
  } finally {
    for (const c of [ecs, ec2, iam, logs, ecr]) c.destroy();
    await sb.close();
  }
  const saved = JSON.parse(readFileSync(statePath, 'utf8'));
  assert.ok(Object.keys(saved.state.ecs.tasks).length === 1, 'the scenario ran a task');
  assert.equal(checkStateFile(saved, defaultServices), undefined);
  const again = await startSandbox({ credentials: TEST_KEYS, statePath, latency: 'none' });
  try {
    const ecs2 = new ECSClient(clientConfig(again, { maxAttempts: 1 }));
    assert.equal((await ecs2.send(new ListClustersCommand({}))).clusterArns?.length, 1);
    ecs2.destroy();
  } finally {
    await again.close();
  }
});

test('ELBv2 resources and ECS capacity providers survive a save and a load', async () => {
  const dir = tempConfigDir();
  const statePath = join(dir, 'state.json');
  const sb = await startSandbox({ credentials: TEST_KEYS, statePath, latency: 'none' });
  const cfg = clientConfig(sb, { maxAttempts: 1 });
  const { ElasticLoadBalancingV2 } = await import('@aws-sdk/client-elastic-load-balancing-v2');
  const { ECS } = await import('@aws-sdk/client-ecs');
  const { DescribeSubnetsCommand } = await import('@aws-sdk/client-ec2');
  const ec2 = new EC2Client(cfg);
  const elb = new ElasticLoadBalancingV2(cfg);
  const ecs = new ECS(cfg);
  try {
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets!;
    const lb = (await elb.createLoadBalancer({ Name: 'web', Subnets: subnets.slice(0, 2).map((x) => x.SubnetId!) })).LoadBalancers![0];
    const tg = (await elb.createTargetGroup({ Name: 'web', Protocol: 'HTTP', Port: 80, VpcId: subnets[0].VpcId! })).TargetGroups![0];
    await elb.createListener({ LoadBalancerArn: lb.LoadBalancerArn!, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn! }] });
    await createGroup(sb, 'asg', 0);
    await ecs.createCluster({ clusterName: 'c' });
    await ecs.createCapacityProvider({ name: 'cp', autoScalingGroupProvider: { autoScalingGroupArn: 'asg', managedScaling: { status: 'ENABLED' } } });
    await ecs.putClusterCapacityProviders({ cluster: 'c', capacityProviders: ['cp'], defaultCapacityProviderStrategy: [{ capacityProvider: 'cp', weight: 1 }] });
  } finally {
    for (const c of [ec2, elb, ecs]) c.destroy();
    await sb.close();
  }
  const saved = JSON.parse(readFileSync(statePath, 'utf8'));
  assert.equal(Object.keys(saved.state.elasticloadbalancing.listeners).length, 1);
  assert.equal(checkStateFile(saved, defaultServices), undefined);
  const broken = JSON.parse(JSON.stringify(saved));
  Object.values<any>(broken.state.elasticloadbalancing.targetGroups)[0].port = 'eighty';
  assert.match(checkStateFile(broken, defaultServices) ?? '', /^elasticloadbalancing\.targetGroups\[.*\]\.port must be an integer/);
  const again = await startSandbox({ credentials: TEST_KEYS, statePath, latency: 'none' });
  try {
    const elb2 = new ElasticLoadBalancingV2(clientConfig(again, { maxAttempts: 1 }));
    const ecs2 = new ECS(clientConfig(again, { maxAttempts: 1 }));
    assert.equal((await elb2.describeListeners({ LoadBalancerArn: Object.keys(saved.state.elasticloadbalancing.loadBalancers)[0] })).Listeners!.length, 1);
    assert.deepEqual((await ecs2.describeClusters({ clusters: ['c'] })).clusters![0].capacityProviders, ['cp']);
    elb2.destroy();
    ecs2.destroy();
  } finally {
    await again.close();
  }
});

test('checkStateFile names the first wrong member', () => {
  const base = () => ({ format: 'ecs-cwlogs-sandbox/1', savedAt: '2026-01-01T00:00:00.000Z', idSeq: 1, state: {} as Record<string, any> });
  const check = (f: unknown) => checkStateFile(f, defaultServices);
  assert.match(check([])!, /must hold a JSON object .*found an array/);
  assert.match(check(null)!, /found null/);
  assert.match(check({ ...base(), format: 'other/2' })!, /not a sandbox state file \(format "other\/2"/);
  assert.match(check({ ...base(), idSeq: 'x' })!, /^idSeq must be an integer/);
  assert.match(check({ ...base(), state: [] })!, /^state must be an object/);

  const ill = base();
  ill.state.ecs = { clusters: {}, taskDefinitions: {}, containerInstances: {}, services: { a: { serviceArn: 'a', serviceName: 's', clusterArn: 7 } }, tasks: {}, agentRegistrations: {} };
  assert.equal(check(ill), 'ecs.services["a"].clusterArn must be a string (found number 7)');
  ill.state.ecs.services = [];
  assert.match(check(ill)!, /^ecs\.services must be an object \(found an array\)/);
  ill.state.ecs = { clusters: { c: { clusterArn: 'c', clusterName: 'c', status: 'GONE' } } };
  assert.match(check(ill)!, /^ecs\.clusters\["c"\]\.status must be one of "ACTIVE", "INACTIVE"/);
  ill.state.ecs = null;
  assert.match(check(ill)!, /^ecs must be an object \(found null\)/);
  delete ill.state.ecs;
  ill.state.logs = { groups: { g: { logGroupName: 'g', region: 'us-east-1', creationTime: 1, tags: {}, streams: { s: { logStreamName: 's', creationTime: 1, storedBytes: 0, events: [{ timestamp: 1, message: 2 }] } } } }, seq: 0 };
  assert.match(check(ill)!, /^logs\.groups\["g"\]\.streams\["s"\]\.events\[0\]\.message must be a string/);
  ill.state.logs = { groups: {} };
  assert.equal(check(ill), 'logs.seq is missing');
  assert.equal(check(base()), undefined, 'a file without module state is fine: each module starts empty');
});

test('startSandbox refuses a damaged or ill-shaped state file with StateFileError', async () => {
  const dir = tempConfigDir();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"format": "ecs-cwlogs-sandbox/1", "state": {');
  await assert.rejects(startSandbox({ credentials: TEST_KEYS, statePath: bad }), (err: unknown) => {
    assert.ok(err instanceof StateFileError);
    assert.equal(err.path, bad);
    assert.match(err.problem, /^it is not JSON/);
    return true;
  });
  writeFileSync(bad, '');
  await assert.rejects(startSandbox({ credentials: TEST_KEYS, statePath: bad }), /it is empty, not JSON/);
  // Nothing was overwritten: the user's file is as it was.
  assert.equal(readFileSync(bad, 'utf8'), '');
});

/** Occupy a port on 127.0.0.1. */
function occupy(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

test('the binary: a damaged or ill-shaped --state file and a busy --port are one line and exit 2', async () => {
  const dir = tempConfigDir();
  const env = cliEnv(dir);
  const damaged = join(dir, 'damaged.json');
  writeFileSync(damaged, 'not json at all');
  let r = await runCli(['sandbox', '--port', '0', '--state', damaged], env, { timeoutMs: 20_000 });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`Cannot use the sandbox state file ${damaged.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: it is not JSON`));
  assert.match(r.stderr, /pass another --state/);
  assert.doesNotMatch(r.stderr, /Unexpected error|Please report/);

  const illShaped = join(dir, 'ill.json');
  writeFileSync(illShaped, JSON.stringify({ format: 'ecs-cwlogs-sandbox/1', idSeq: 0, state: { ecs: { clusters: {}, taskDefinitions: {}, containerInstances: {}, services: { x: { serviceArn: 'x', serviceName: 'x', clusterArn: null } }, tasks: {}, agentRegistrations: {} } } }));
  r = await runCli(['sandbox', '--port', '0', '--state', illShaped], env, { timeoutMs: 20_000 });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ecs\.services\["x"\]\.clusterArn must be a string \(found null\)/);

  const { server, port } = await occupy();
  try {
    r = await runCli(['sandbox', '--port', String(port)], env, { timeoutMs: 20_000 });
  } finally {
    server.close();
  }
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is in use: .*Pass another --port, or --port 0 for a free one\\.`));
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

/** Start the binary's sandbox, read its settings, stop it. */
async function settingsOf(args: string[]): Promise<Record<string, unknown>> {
  const dir = tempConfigDir();
  const ready = join(dir, 'ready.json');
  const child = spawn(process.execPath, [BIN, 'sandbox', '--port', '0', '--ready-file', ready, ...args], { env: cliEnv(dir), stdio: 'ignore' });
  try {
    for (let i = 0; i < 200 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
    // The ready file holds the sandbox's port and its random key (and is 0600).
    assert.equal(statSync(ready).mode & 0o777, 0o600);
    const r = JSON.parse(readFileSync(ready, 'utf8'));
    const res = await controlCall(r.port, r, '/_sandbox/settings', { timeoutMs: 10_000 });
    return (await res.json()) as Record<string, unknown>;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
}

test('the binary: --latency realistic applies its 5 s IAM propagation unless --iam-propagation-ms is given', async () => {
  assert.equal((await settingsOf(['--latency', 'realistic'])).iamPropagationMs, 5000);
  assert.equal((await settingsOf(['--latency', 'realistic', '--iam-propagation-ms', '0'])).iamPropagationMs, 0);
  assert.equal((await settingsOf(['--latency', 'fast'])).iamPropagationMs, 0);
  assert.equal((await settingsOf(['--latency', 'fast', '--iam-propagation-ms', '1500'])).iamPropagationMs, 1500);
});

test('the binary: --latency realistic lags the Tagging API\'s listing 10 s unless --tagging-lag-ms is given', async () => {
  assert.equal((await settingsOf(['--latency', 'realistic'])).taggingLagMs, 10_000);
  assert.equal((await settingsOf(['--latency', 'realistic', '--tagging-lag-ms', '0'])).taggingLagMs, 0);
  assert.equal((await settingsOf(['--latency', 'fast'])).taggingLagMs, 0);
  assert.equal((await settingsOf(['--latency', 'fast', '--tagging-lag-ms', '1500'])).taggingLagMs, 1500);
});

test('the binary: --sandbox reports a sandbox that cannot start with its own words, not a timeout', async () => {
  const dir = tempConfigDir();
  const state = join(dir, 'sandbox', 'ecs-cwlogs.state.json');
  mkdirSync(join(dir, 'sandbox'), { recursive: true });
  writeFileSync(state, '{broken');
  const started = Date.now();
  const r = await runCli(['status', '--sandbox'], cliEnv(dir), { timeoutMs: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.ok(Date.now() - started < 9000, 'reported without waiting for the 10 s readiness timeout');
  assert.match(r.stderr, /Cannot start the sandbox: Cannot use the sandbox state file .*ecs-cwlogs\.state\.json: it is not JSON/);
  assert.match(r.stderr, /Its log is .*ecs-cwlogs\.log/);
});
