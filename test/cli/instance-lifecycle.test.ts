/**
 * Through the real binary against the sandbox: the recommended AMI moves after `up` (a new SSM
 * parameter value), `status` says "newer AMI available" with the instance in sync, a plain `up`
 * writes nothing, and `up --replace-instance` converges on exactly one instance on the new AMI with
 * the service's task on it. And a zone without capacity makes `up` say it moved to the next zone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import { publishEcsAmi } from '../../src/sandbox/services/ec2/ec2-data.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const STACK = 'amitest';
const TAG = 'ecs-cwlogs:stack';
const base = (url: string, ...rest: string[]) => ['--endpoint-url', url, '--region', 'us-east-1', '--stack', STACK, '--yes', ...rest];
const upArgs = (url: string, ...rest: string[]) => ['up', ...base(url, '--image', 'registry.example/cloudwatchlogs:1', '--allow-cidr', '203.0.113.7/32', ...rest)];

function clients(sb: RunningSandbox): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

async function liveInstances(aws: AwsClients) {
  const res = await aws.ec2.describeInstances({ Filters: [{ Name: `tag:${TAG}`, Values: [STACK] }] });
  return (res.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => !['terminated', 'shutting-down'].includes(i.State?.Name ?? ''));
}

/** The EC2 instance ids the service's running tasks are placed on. */
async function taskHosts(aws: AwsClients): Promise<string[]> {
  const arns = (await aws.ecs.listTasks({ cluster: 'ECSCloudWatchLogs', serviceName: 'cloudwatchlogs', desiredStatus: 'RUNNING' })).taskArns ?? [];
  if (!arns.length) return [];
  const tasks = (await aws.ecs.describeTasks({ cluster: 'ECSCloudWatchLogs', tasks: arns })).tasks ?? [];
  const cis = tasks.filter((t) => t.lastStatus === 'RUNNING').map((t) => t.containerInstanceArn!);
  if (!cis.length) return [];
  const described = (await aws.ecs.describeContainerInstances({ cluster: 'ECSCloudWatchLogs', containerInstances: cis })).containerInstances ?? [];
  return described.map((c) => c.ec2InstanceId!);
}

test('AMI moved: status notes the newer AMI, up writes nothing, up --replace-instance leaves one instance on the new AMI running the task', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const first = await runCli(upArgs(sb.url), env);
    assert.equal(first.code, 0, first.stderr);
    const aws = clients(sb);
    const [old] = await liveInstances(aws);
    assert.ok(old?.InstanceId);
    const credits = await (aws.ec2 as any).describeInstanceCreditSpecifications?.({ InstanceIds: [old.InstanceId] });
    if (credits) assert.equal(credits.InstanceCreditSpecifications[0].CpuCredits, 'standard');
    else assert.equal(sb.world.state.ec2.instances[old.InstanceId].cpuCredits, 'standard');

    // The recommended AMI moves (a new SSM parameter value).
    const released = publishEcsAmi(sb.world, 'us-east-1', 'x86_64');
    const status = await runCli(['status', ...base(sb.url)], env);
    assert.equal(status.code, 0, status.stderr);
    const line = status.stdout.split('\n').find((l) => l.startsWith('EC2 container instance')) ?? '';
    assert.match(line, /in sync/);
    assert.ok(line.includes(`note: newer AMI available: ${released.imageId} (running ${old.ImageId})`), status.stdout);
    const json = JSON.parse((await runCli(['status', ...base(sb.url), '--json'], env)).stdout);
    assert.deepEqual(
      json.steps.map((s: { id: string; action: string }) => `${s.id}:${s.action}`).sort(),
      // Monitoring (issue 21) is on by default: its steps are in sync too.
      ['alarm-topic', 'alarms', 'cluster', 'dashboard', 'iam', 'image', 'instance', 'log-group', 'metric-filters', 'query-definitions', 'security-group', 'service', 'task'].map((id) => `${id}:noop`),
      'a moved AMI is no drift',
    );

    const before = sb.requestLog().length;
    const noop = await runCli(upArgs(sb.url), env);
    assert.equal(noop.code, 0, noop.stderr);
    assert.deepEqual(mutatingCalls(sb, before), [], 'up with a moved AMI writes nothing');
    assert.match(noop.stdout + noop.stderr, /newer AMI available/);

    // The explicit choice: replace.
    const dry = await runCli([...upArgs(sb.url, '--replace-instance'), '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout + dry.stderr, /would replace/);
    const dryStep = await runCli(['instance', ...base(sb.url, '--replace-instance', '--dry-run')], env);
    assert.equal(dryStep.code, 0, dryStep.stderr);
    assert.match(dryStep.stdout + dryStep.stderr, /would replace/, 'the instance command takes the flag too');
    assert.deepEqual(mutatingCalls(sb, before), [], 'dry runs write nothing');
    const since = sb.requestLog().length;
    const replaced = await runCli(upArgs(sb.url, '--replace-instance'), env);
    assert.equal(replaced.code, 0, replaced.stderr);
    const live = await liveInstances(aws);
    assert.deepEqual(live.map((i) => i.ImageId), [released.imageId], 'exactly one live instance, on the new AMI');
    assert.notEqual(live[0]!.InstanceId, old.InstanceId);
    const ops = mutatingCalls(sb, since).filter((c) => /RunInstances|TerminateInstances/.test(c));
    assert.deepEqual(ops, ['ec2:RunInstances', 'ec2:TerminateInstances'], 'launched first, then terminated the old one');
    // The service's task ends up on the new instance.
    let hosts: string[] = [];
    for (let k = 0; k < 100 && hosts.join() !== live[0]!.InstanceId; k++) {
      hosts = await taskHosts(aws);
      if (hosts.join() !== live[0]!.InstanceId) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(hosts, [live[0]!.InstanceId]);
    assert.match(replaced.stdout, new RegExp(`App:\\s+http://${live[0]!.PublicIpAddress!.replace(/\./g, '\\.')}/`), 'the URL is the new instance\'s');

    const after1 = await runCli(['status', ...base(sb.url)], env);
    assert.doesNotMatch(after1.stdout, /newer AMI/, 'nothing newer once replaced');
    // The flag is not saved: the next up is a no-op.
    const after = sb.requestLog().length;
    const again = await runCli(upArgs(sb.url), env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(mutatingCalls(sb, after), []);
  });
});

test('no capacity in the first zone: up says it moves to the next zone and succeeds; --subnet in a zone without the type is exit 2 with 0 writes', async () => {
  await withSandbox({}, async (sb) => {
    sb.world.settings.capacity = { 'us-east-1a': 0 };
    const env = cliEnv(tempConfigDir());
    const res = await runCli(upArgs(sb.url), env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout + res.stderr, /no t3\.small capacity in us-east-1a: trying us-east-1b/);
    const live = await liveInstances(clients(sb));
    assert.equal(live.length, 1);
    assert.equal(live[0]!.Placement?.AvailabilityZone, 'us-east-1b');

    const subnets = (await clients(sb).ec2.describeSubnets({ Filters: [{ Name: 'availability-zone', Values: ['us-east-1c'] }, { Name: 'default-for-az', Values: ['true'] }] })).Subnets ?? [];
    sb.world.settings.notOffered = { 'us-east-1c': ['t3.*'] };
    const before = sb.requestLog().length;
    const bad = await runCli(['instance', ...base(sb.url, '--subnet', subnets[0]!.SubnetId!, '--stack', 'other')], cliEnv(tempConfigDir()));
    assert.equal(bad.code, 2, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /t3\.small is not offered in us-east-1c/);
    assert.deepEqual(mutatingCalls(sb, before), []);
  });
});
