/**
 * The whole lab through the real binary against the sandbox: fresh run, no-op, crash and resume,
 * drift, teardown (checked with Debian's awscli), faults and bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const STACK = 'labtest';
const TAG = 'ecs-cwlogs:stack';
const IMAGE = 'registry.example/cloudwatchlogs:1';

function base(url: string, ...rest: string[]): string[] {
  return ['--endpoint-url', url, '--region', 'us-east-1', '--stack', STACK, '--yes', ...rest];
}
const upArgs = (url: string, ...rest: string[]) => ['up', ...base(url, '--image', IMAGE, '--allow-cidr', '203.0.113.7/32', ...rest)];

function clients(sb: RunningSandbox): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

/** What exists for the stack, counted, to assert "exactly one, no orphans". */
async function census(aws: AwsClients) {
  const reservations = (await aws.ec2.describeInstances({ Filters: [{ Name: `tag:${TAG}`, Values: [STACK] }] })).Reservations ?? [];
  const instances = reservations.flatMap((r) => r.Instances ?? []).filter((i) => !['terminated', 'shutting-down'].includes(i.State?.Name ?? ''));
  const groups = ((await aws.ec2.describeSecurityGroups({ Filters: [{ Name: 'group-name', Values: ['ECSCloudWatchLogs'] }] })).SecurityGroups ?? []).length;
  const services = ((await aws.ecs.describeServices({ cluster: 'ECSCloudWatchLogs', services: ['cloudwatchlogs'] }).catch(() => ({ services: [] }))).services ?? []).filter(
    (s) => s.status === 'ACTIVE',
  );
  const taskDefs = ((await aws.ecs.listTaskDefinitions({ familyPrefix: 'cloudwatchlogs', status: 'ACTIVE' })).taskDefinitionArns ?? []).length;
  const policies = ((await aws.iam.listPolicies({ Scope: 'Local' })).Policies ?? []).filter((p) => p.PolicyName === 'ECSCloudWatchLogs-us-east-1');
  const versions = policies[0] ? ((await aws.iam.listPolicyVersions({ PolicyArn: policies[0].Arn })).Versions ?? []).length : 0;
  const logGroups = ((await aws.logs.describeLogGroups({ logGroupNamePrefix: 'ecs' })).logGroups ?? []).filter((g) => g.logGroupName === 'ecs').length;
  return { instances: instances.length, groups, services: services.length, running: services[0]?.runningCount ?? 0, taskDefs, policies: policies.length, versions, logGroups };
}

const ONE_OF_EACH = { instances: 1, groups: 1, services: 1, running: 1, taskDefs: 1, policies: 1, versions: 1, logGroups: 1 };

test('up: fresh run creates everything, prints the URL; a second up makes zero mutating calls', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const first = await runCli(upArgs(sb.url), env);
    assert.equal(first.code, 0, first.stderr);
    const aws = clients(sb);
    assert.deepEqual(await census(aws), ONE_OF_EACH);
    const inst = (await aws.ec2.describeInstances({ Filters: [{ Name: `tag:${TAG}`, Values: [STACK] }] })).Reservations?.[0]?.Instances?.[0];
    assert.ok(inst?.PublicIpAddress);
    assert.match(first.stdout, new RegExp(`App:\\s+http://${inst.PublicIpAddress!.replace(/\./g, '\\.')}/`));
    assert.match(first.stdout, /Log group:\s+ecs/);
    assert.match(first.stdout, /console\.aws\.amazon\.com\/cloudwatch\/home\?region=us-east-1/);
    // The follow-up commands run as written from here (a clone: npx), for this stack and config dir.
    assert.match(first.stdout, /Tail logs:\s+ECS_CWLOGS_CONFIG_DIR=\S+ npx ecs-cwlogs logs --follow --stack labtest --region us-east-1 --endpoint-url http:\/\/127\.0\.0\.1:\d+\n/);
    const tasks = await aws.ecs.listTasks({ cluster: 'ECSCloudWatchLogs', serviceName: 'cloudwatchlogs' });
    const described = await aws.ecs.describeTasks({ cluster: 'ECSCloudWatchLogs', tasks: tasks.taskArns ?? [] });
    assert.equal(described.tasks?.[0]?.lastStatus, 'RUNNING');

    const before = sb.requestLog().length;
    const second = await runCli([...upArgs(sb.url), '--json'], env);
    assert.equal(second.code, 0, second.stderr);
    const doc = JSON.parse(second.stdout);
    assert.deepEqual(
      doc.steps.map((s: { action: string }) => s.action),
      doc.steps.map(() => 'noop'),
      'every step in sync',
    );
    assert.deepEqual(mutatingCalls(sb, before), [], 'the second up made no mutating call');

    // status: every step in sync, and --json carries the same data.
    const status = await runCli(['status', ...base(sb.url), '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const sdoc = JSON.parse(status.stdout);
    assert.deepEqual(
      sdoc.steps.map((s: { id: string; action: string }) => `${s.id}:${s.action}`).sort(),
      [
        // Monitoring (issue 21) is on by default (without --alarm-email no topic is wanted: in sync).
        ...['alarm-topic', 'alarms', 'cluster', 'dashboard', 'iam', 'image', 'instance', 'log-group', 'metric-filters', 'query-definitions', 'security-group', 'service', 'task'].map((id) => `${id}:noop`),
      ],
    );
    // A read, not a dry run: it says what it is, where it read, and each step's state.
    assert.equal(sdoc.command, 'status');
    assert.equal('dryRun' in sdoc, false);
    assert.equal(sdoc.region, 'us-east-1');
    assert.equal(sdoc.account, '123456789012');
    assert.deepEqual([...new Set(sdoc.steps.map((s: { state: string }) => s.state))], ['in-sync']);
    const text = await runCli(['status', ...base(sb.url)], env);
    assert.match(text.stdout, /^Stack labtest · Account 123456789012, region us-east-1 \(endpoint http:\/\/127\.0\.0\.1:\d+\)$/m);
  });
});

test('drift: a detached policy and a deleted service show in status, and up repairs only them', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    const aws = clients(sb);
    const attached = await aws.iam.listAttachedRolePolicies({ RoleName: 'ECSCloudWatchLogs-us-east-1' });
    const managed = attached.AttachedPolicies?.find((p) => p.PolicyName === 'AmazonEC2ContainerServiceforEC2Role');
    assert.ok(managed, 'the ECS managed policy is attached');
    await aws.iam.detachRolePolicy({ RoleName: 'ECSCloudWatchLogs-us-east-1', PolicyArn: managed.PolicyArn });
    await aws.ecs.deleteService({ cluster: 'ECSCloudWatchLogs', service: 'cloudwatchlogs', force: true });

    const status = await runCli(['status', ...base(sb.url)], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /IAM[^\n]*drifted/);
    assert.match(status.stdout, /ECS service\s+absent/);

    const before = sb.requestLog().length;
    const fix = await runCli(upArgs(sb.url), env);
    assert.equal(fix.code, 0, fix.stderr);
    assert.deepEqual(mutatingCalls(sb, before).sort(), ['ecs:CreateService', 'iam:AttachRolePolicy', 'ssm:DeleteParameter', 'ssm:PutParameter']);
    assert.deepEqual(await census(aws), ONE_OF_EACH);
  });
});

test('crash and resume: SIGKILL while each step is in flight, then up converges with no duplicates', async () => {
  await withSandbox({}, async (sb) => {
    // Slow every call a little so the kill lands inside the step.
    sb.world.settings.latency.requestDelayMs = 60;
    const titles = [
      'IAM policy, role and instance profile',
      'ECS cluster',
      'CloudWatch Logs log group',
      'Security group',
      'EC2 container instance',
      'Task definition',
      'ECS service',
    ];
    const aws = clients(sb);
    for (const title of titles) {
      const env = cliEnv(tempConfigDir());
      const killed = await upKilledAt(sb.url, env, title);
      assert.equal(killed, 'SIGKILL', `${title}: the process was killed mid-step`);
      const resumed = await runCli(upArgs(sb.url), env);
      assert.equal(resumed.code, 0, `${title}: resume failed: ${resumed.stderr}`);
      assert.deepEqual(await census(aws), ONE_OF_EACH, `after a kill during ${title}`);
      // Tear down so the next kill starts from nothing.
      const down = await runCli(['down', ...base(sb.url), '--delete-logs'], env);
      assert.equal(down.code, 0, down.stderr);
    }
  });
});

/** Start `up`, SIGKILL it as soon as the given step reports it is working. */
function upKilledAt(url: string, env: NodeJS.ProcessEnv, title: string): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...upArgs(url)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (err.includes(`${title}: working`) || err.includes(`${title}: `)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve(signal));
  });
}

test('faults: 20% throttling and IAM propagation delay, up still succeeds with no duplicates', async () => {
  // 15 s: long enough that the first RunInstances comes inside it on a loaded machine (with 5 s, the
  // steps before the instance, throttled and run beside the monitoring steps, sometimes outlasted it).
  await withSandbox({ throttleRate: 0.2, iamPropagationMs: 15_000 }, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const r = await runCli(upArgs(sb.url), env, { timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stderr);
    const log = sb.requestLog();
    assert.ok(log.some((e) => e.errorCode && /Throttl|RequestLimitExceeded/.test(e.errorCode)), 'throttling happened');
    assert.ok(log.some((e) => e.operation === 'RunInstances' && e.errorCode === 'InvalidParameterValue'), 'the propagation error happened and was retried');
    sb.world.settings.throttleRate = 0;
    assert.deepEqual(await census(clients(sb)), ONE_OF_EACH);
  });
});

test('teardown: down leaves nothing tagged (checked with awscli), keeps the log group, spares untagged namesakes', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    // Someone else's log group and cluster with other names, plus a namesake policy in another stack.
    const aws = clients(sb);
    await aws.ecs.createCluster({ clusterName: 'SomeoneElses' });
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);

    const since = sb.requestLog().length;
    const down = await runCli(['down', ...base(sb.url)], env);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr + down.stdout, /log group ecs and its logs \(kept; pass --delete-logs/i);
    // The task definitions are listed (ACTIVE, then INACTIVE) and described once: the delete uses what the confirmation list showed.
    const ops = sb.requestLog().slice(since).map((r) => `${r.service}:${r.operation}`);
    const count = (op: string) => ops.filter((o) => o === op).length;
    assert.deepEqual([count('ecs:ListTaskDefinitions'), count('ecs:DescribeTaskDefinition')], [2, 1]);
    // The service and the instance are read once before their deletes (the confirmation list's read);
    // after it, only the waits poll (the drain, the termination).
    const before = (op: string, write: string) => ops.slice(0, ops.indexOf(write)).filter((o) => o === op).length;
    assert.equal(before('ecs:DescribeServices', 'ecs:UpdateService'), 1, ops.join(' '));
    assert.equal(before('ec2:DescribeInstances', 'ec2:TerminateInstances'), 1, ops.join(' '));
    // The instance is gone (ECS deregistered it as it terminated): DeleteCluster is asked, not preceded by a listing.
    assert.equal(count('ecs:ListContainerInstances'), 0, ops.join(' '));
    assert.equal(sb.requestLog().slice(since).filter((r) => r.operation === 'DeleteCluster' && !r.errorCode).length, 1);

    const awscli = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
    // Asynchronous: the sandbox runs in this process, so a blocking spawn would starve it.
    const cli = (...args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        execFile(awscli, ['--endpoint-url', sb.url, '--region', 'us-east-1', '--output', 'json', ...args], { env: { ...env, AWS_PAGER: '' } }, (error, out, err) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out, err }),
        );
      });
    const inst = JSON.parse((await cli('ec2', 'describe-instances', '--filters', `Name=tag:${TAG},Values=${STACK}`, 'Name=instance-state-name,Values=pending,running,stopping,stopped')).out);
    assert.equal(inst.Reservations.flatMap((r: { Instances: unknown[] }) => r.Instances).length, 0);
    const sgs = JSON.parse((await cli('ec2', 'describe-security-groups', '--filters', `Name=tag:${TAG},Values=${STACK}`)).out);
    assert.equal(sgs.SecurityGroups.length, 0);
    assert.match((await cli('iam', 'get-role', '--role-name', 'ECSCloudWatchLogs-us-east-1')).err, /NoSuchEntity/);
    assert.match((await cli('iam', 'get-instance-profile', '--instance-profile-name', 'ECSCloudWatchLogs-us-east-1')).err, /NoSuchEntity/);
    const policies = JSON.parse((await cli('iam', 'list-policies', '--scope', 'Local')).out);
    assert.equal(policies.Policies.length, 0);
    const clusters = JSON.parse((await cli('ecs', 'describe-clusters', '--clusters', 'ECSCloudWatchLogs', 'SomeoneElses')).out);
    assert.deepEqual(
      clusters.clusters.map((c: { clusterName: string; status: string }) => `${c.clusterName}:${c.status}`).sort(),
      ['ECSCloudWatchLogs:INACTIVE', 'SomeoneElses:ACTIVE'],
    );
    const tds = JSON.parse((await cli('ecs', 'list-task-definitions', '--family-prefix', 'cloudwatchlogs', '--status', 'ACTIVE')).out);
    assert.equal(tds.taskDefinitionArns.length, 0);
    const groups = JSON.parse((await cli('logs', 'describe-log-groups', '--log-group-name-prefix', 'ecs')).out);
    assert.equal(groups.logGroups.length, 1, 'the log group is kept');

    const again = await runCli(['down', ...base(sb.url)], env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /Nothing to delete/);

    const logsToo = await runCli(['down', ...base(sb.url), '--delete-logs'], env);
    assert.equal(logsToo.code, 0, logsToo.stderr);
    const after = JSON.parse((await cli('logs', 'describe-log-groups', '--log-group-name-prefix', 'ecs')).out);
    assert.equal(after.logGroups.length, 0);
  });
});

test('bad input fails with exit 2 before any mutating call', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const vpcs = await clients(sb).ec2.describeVpcs({});
    const other = vpcs.Vpcs?.find((v) => !v.IsDefault)?.VpcId;
    const def = vpcs.Vpcs?.find((v) => v.IsDefault)?.VpcId;
    const otherSubnet = (await clients(sb).ec2.describeSubnets({ Filters: [{ Name: 'vpc-id', Values: [other!] }] })).Subnets?.[0]?.SubnetId;
    const cases: [string, string[], RegExp][] = [
      ['invalid cluster name', ['--cluster-name', 'has space'], /not a valid cluster name/],
      ['invalid IAM name', ['--iam-name', 'bad/name'], /not a valid IAM name/],
      ['malformed instance type', ['--instance-type', 't3.humongous'], /not an EC2 instance type/],
      ['unknown instance type', ['--instance-type', 'q9.large'], /Unknown instance type q9.large/],
      ['unknown key pair', ['--key-name', 'no-such-key'], /no-such-key/],
      ['malformed CIDR', ['--allow-cidr', '10.0.0.300/8'], /not an IPv4 CIDR block/],
      ['subnet not in the VPC', ['--vpc', def!, '--subnet', otherSubnet!], /not in/],
    ];
    for (const [name, extra, message] of cases) {
      const r = await runCli([...upArgs(sb.url), ...extra], env);
      assert.equal(r.code, 2, `${name}: exit code, stderr: ${r.stderr}`);
      assert.match(r.stderr, message, name);
    }
    const region = await runCli(['up', '--endpoint-url', sb.url, '--region', 'mars-1', '--yes', '--image', IMAGE], env);
    assert.equal(region.code, 2);
    assert.match(region.stderr, /not an AWS region name/);
    // The error document: its fix is a fix; whether anything changed is a field of its own.
    const bad = await runCli([...upArgs(sb.url), '--retention-days', '31', '--json'], env);
    assert.equal(bad.code, 2);
    const err = JSON.parse(bad.stdout);
    assert.equal(err.command, 'up');
    assert.equal(err.changed, false);
    assert.doesNotMatch(err.error.fix, /Nothing was changed/);
    assert.match(err.error.fix, /allowed value/);
    assert.deepEqual(mutatingCalls(sb), [], 'nothing was created');
  });
});

test('up with no terminal and nothing saved names every missing flag in one message', async () => {
  await withSandbox({}, async (sb) => {
    const r = await runCli(['up', '--endpoint-url', sb.url, '--region', 'us-east-1'], cliEnv(tempConfigDir()));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Missing settings --repo, --image/);
    assert.deepEqual(mutatingCalls(sb), []);
  });
});

test('down with no terminal and no --yes deletes nothing and says to pass --yes', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(['cluster', ...base(sb.url)], env)).code, 0);
    const before = sb.requestLog().length;
    const r = await runCli(['down', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', STACK], env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Not deleting without confirmation.*Pass --yes/);
    assert.deepEqual(mutatingCalls(sb, before), []);
  });
});

test('up with no credentials and no endpoint: exit 2, and the error offers the rehearsal as a command that runs from here', async () => {
  const dir = tempConfigDir();
  const env = cliEnv(dir, { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, HOME: dir, AWS_CONFIG_FILE: `${dir}/none`, AWS_SHARED_CREDENTIALS_FILE: `${dir}/none` });
  const r = await runCli(['up', '--yes', '--region', 'us-east-1', '--stack', 'nocreds'], env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /No AWS credentials found: .*; nothing was changed\./);
  assert.match(r.stderr, /rehearse the whole lab on the built-in sandbox, no account needed: `ECS_CWLOGS_CONFIG_DIR=\S+ npx ecs-cwlogs up --sandbox --stack nocreds`/);
});
