/**
 * Issue 12's acceptance: the group topology (an Auto Scaling group behind a capacity provider, N
 * tasks spread over zones, an ALB in front) through the real binary against the sandbox, with the
 * SDK and Debian's awscli as second clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { cliEnv, killedAtStep, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const STACK = 'grouptest';
const TAG = 'ecs-cwlogs:stack';
const IMAGE = 'registry.example/cloudwatchlogs:1';
const CLUSTER = 'ECSCloudWatchLogs';
const ASG = `${CLUSTER}-instances`;

const base = (url: string, ...rest: string[]) => ['--endpoint-url', url, '--region', 'us-east-1', '--stack', STACK, '--yes', ...rest];
const upArgs = (url: string, ...rest: string[]) => ['up', ...base(url, '--image', IMAGE, '--allow-cidr', '203.0.113.7/32', ...rest)];

function clients(sb: RunningSandbox): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

async function group(aws: AwsClients) {
  return (await aws.autoscaling.describeAutoScalingGroups({ AutoScalingGroupNames: [ASG] })).AutoScalingGroups?.[0];
}

async function runningTasks(aws: AwsClients) {
  const arns = (await aws.ecs.listTasks({ cluster: CLUSTER, serviceName: 'cloudwatchlogs', desiredStatus: 'RUNNING' })).taskArns ?? [];
  if (!arns.length) return [];
  return ((await aws.ecs.describeTasks({ cluster: CLUSTER, tasks: arns })).tasks ?? []).filter((t) => t.lastStatus === 'RUNNING');
}

/** Exactly-one counts of what the group topology makes (kills must not leave a second). */
async function census(aws: AwsClients) {
  const groups = ((await aws.autoscaling.describeAutoScalingGroups({ Filters: [{ Name: `tag:${TAG}`, Values: [STACK] }] })).AutoScalingGroups ?? []).length;
  const templates = ((await aws.ec2.describeLaunchTemplates({ Filters: [{ Name: `tag:${TAG}`, Values: [STACK] }] })).LaunchTemplates ?? []).length;
  const providers = ((await aws.ecs.describeCapacityProviders({ include: ['TAGS'] })).capacityProviders ?? []).filter(
    (c) => c.status === 'ACTIVE' && c.tags?.some((t) => t.key === TAG && t.value === STACK),
  ).length;
  const albs = ((await aws.elbv2.describeLoadBalancers({})).LoadBalancers ?? []).length;
  const tgs = ((await aws.elbv2.describeTargetGroups({})).TargetGroups ?? []).length;
  const services = ((await aws.ecs.describeServices({ cluster: CLUSTER, services: ['cloudwatchlogs'] }).catch(() => ({ services: [] }))).services ?? []).filter((s) => s.status === 'ACTIVE').length;
  return { groups, templates, providers, albs, tgs, services };
}
const ONE_OF_EACH = { groups: 1, templates: 1, providers: 1, albs: 1, tgs: 1, services: 1 };

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function awscli(sb: RunningSandbox, env: NodeJS.ProcessEnv) {
  const bin = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
  // Asynchronous: the sandbox runs in this process, so a blocking spawn would starve it.
  return (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(bin, ['--endpoint-url', sb.url, '--region', 'us-east-1', '--output', 'json', ...args], { env: { ...env, AWS_PAGER: '' } }, (error, out, err) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });
}

test('group: up --instances 3 --load-balancer runs 3 tasks on 3 instances in 2+ zones behind the ALB; a second up writes nothing; --instances 2 changes only the counts; a lost instance is replaced; down leaves nothing tagged', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const aws = clients(sb);

    // A dry run of the whole thing writes nothing.
    let mark = sb.requestLog().length;
    const dry = await runCli([...upArgs(sb.url, '--instances', '3', '--load-balancer'), '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(mutatingCalls(sb, mark), [], 'the dry run made no mutating call');
    for (const step of ['Target group', 'Load balancer', 'Launch template', 'Auto Scaling group', 'Capacity provider']) assert.match(dry.stdout + dry.stderr, new RegExp(step));

    // 1. Three instances in at least two zones, three RUNNING tasks on three container instances,
    //    three healthy targets, the ALB's DNS name as the URL.
    const first = await runCli(upArgs(sb.url, '--instances', '3', '--load-balancer'), env, { timeoutMs: 300_000 });
    assert.equal(first.code, 0, first.stderr);
    const g = await group(aws);
    assert.equal(g?.Instances?.filter((i) => i.LifecycleState === 'InService').length, 3);
    assert.ok(new Set(g!.Instances!.map((i) => i.AvailabilityZone)).size >= 2, 'the instances are in at least two zones');
    const tasks = await runningTasks(aws);
    assert.equal(tasks.length, 3);
    assert.equal(new Set(tasks.map((t) => t.containerInstanceArn)).size, 3, 'one task per container instance');
    assert.equal(tasks[0]!.capacityProviderName, `cp-${CLUSTER}`);
    const tg = (await aws.elbv2.describeTargetGroups({})).TargetGroups![0]!;
    const health = await until('3 healthy targets', async () => {
      const h = (await aws.elbv2.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn })).TargetHealthDescriptions ?? [];
      return h.filter((x) => x.TargetHealth?.State === 'healthy').length === 3 ? h : undefined;
    });
    assert.ok(health.every((h) => (h.Target?.Port ?? 0) >= 32768), 'targets are on dynamic host ports');
    const alb = (await aws.elbv2.describeLoadBalancers({})).LoadBalancers![0]!;
    assert.match(first.stdout, new RegExp(`App:\\s+http://${alb.DNSName!.replace(/\./g, '\\.')}/`));
    assert.deepEqual(await census(aws), ONE_OF_EACH);

    // The instances' security group lets only the ALB's group in; the ALB's only the allowed CIDR.
    const sgs = (await aws.ec2.describeSecurityGroups({ Filters: [{ Name: `tag:${TAG}`, Values: [STACK] }] })).SecurityGroups ?? [];
    const albSg = sgs.find((s) => alb.SecurityGroups?.includes(s.GroupId!));
    const hostSg = sgs.find((s) => s !== albSg);
    assert.deepEqual(albSg?.IpPermissions?.flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.FromPort}:${r.CidrIp}`)), ['80:203.0.113.7/32']);
    assert.ok(hostSg?.IpPermissions?.every((p) => (p.IpRanges ?? []).length === 0 || p.FromPort === 22), 'no CIDR reaches the instances except SSH');
    assert.ok(hostSg?.IpPermissions?.some((p) => p.UserIdGroupPairs?.some((u) => u.GroupId === albSg?.GroupId)), 'the ALB group reaches the instances');

    // 2. The second up makes no mutating call.
    mark = sb.requestLog().length;
    const second = await runCli([...upArgs(sb.url, '--instances', '3', '--load-balancer'), '--json'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(mutatingCalls(sb, mark), [], 'the second up made no mutating call');
    // Each thing read once: the group by the step's plan, which the capacity provider's check takes
    // as its wait's first look (the group step, at its size and in service, wrote nothing); the tags of the ALB, the target group and
    // the log group from the run's Tagging API listing; the ALB's security group from the stack's
    // tagged groups; the lock not at all (nothing to write); no launch checks (the group and its
    // template already are what the settings ask for: its network is the group's, the AMI's id
    // from SSM only, for the "newer AMI" note).
    const reads = sb.requestLog().slice(mark).map((c) => `${c.service}:${c.operation}`);
    const count = (op: string) => reads.filter((c) => c === op).length;
    assert.deepEqual(
      ['autoscaling:DescribeAutoScalingGroups', 'elasticloadbalancing:DescribeTags', 'logs:ListTagsForResource', 'ec2:DescribeSecurityGroups', 'ssm:GetParameter'].map((op) => [op, count(op)]),
      [['autoscaling:DescribeAutoScalingGroups', 1], ['elasticloadbalancing:DescribeTags', 0], ['logs:ListTagsForResource', 0], ['ec2:DescribeSecurityGroups', 1], ['ssm:GetParameter', 1]],
      reads.join(', '),
    );
    const launchChecks = ['ec2:DescribeSubnets', 'ec2:DescribeInstanceTypeOfferings', 'ec2:DescribeInstanceTypes', 'ec2:DescribeImages'];
    assert.deepEqual(launchChecks.filter((op) => count(op) > 0), [], reads.join(', '));
    // The cluster once: the capacity provider's attachment check shares the cluster step's read of the plan.
    assert.equal(count('ecs:DescribeClusters'), 1, reads.join(', '));
    // The container instances once: those the service's tasks run on (its targets' check), which show
    // the group's instances registered, so the capacity provider's check lists none again.
    assert.deepEqual([count('ecs:DescribeContainerInstances'), count('ecs:ListContainerInstances')], [1, 0], reads.join(', '));
    // The launch template in one call: its versions by the id the run's Tagging API listing shows
    // (which proves nothing: the versions' answer does), its tags from that listing.
    assert.deepEqual([count('ec2:DescribeLaunchTemplates'), count('ec2:DescribeLaunchTemplateVersions')], [0, 1], reads.join(', '));
    const doc = JSON.parse(second.stdout);
    assert.deepEqual(doc.steps.map((s: { action: string }) => s.action), doc.steps.map(() => 'noop'));

    // 3. A smaller N changes the group's and the service's counts, nothing else. (The saved
    //    --load-balancer stays: only what is given changes.)
    mark = sb.requestLog().length;
    const smaller = await runCli(upArgs(sb.url, '--instances', '2'), env, { timeoutMs: 300_000 });
    assert.equal(smaller.code, 0, smaller.stderr);
    // The two changes, inside the stack's lock in the account (taken and released).
    assert.deepEqual(mutatingCalls(sb, mark).sort(), ['autoscaling:UpdateAutoScalingGroup', 'ecs:UpdateService', 'ssm:DeleteParameter', 'ssm:PutParameter']);
    // Managed termination protection lets the group drop the instance that ran no task.
    await until('the group to scale in to 2', async () => ((await group(aws))?.Instances ?? []).filter((i) => i.LifecycleState !== 'Terminated').length === 2 || undefined);
    assert.equal((await runningTasks(aws)).length, 2);

    // 4. An instance terminated out of band is replaced; the service returns to N, and status says so.
    const victim = (await group(aws))!.Instances![0]!.InstanceId!;
    await aws.ec2.terminateInstances({ InstanceIds: [victim] });
    await until('the group to replace the instance', async () => {
      const now = (await group(aws))?.Instances ?? [];
      return now.filter((i) => i.LifecycleState === 'InService' && i.InstanceId !== victim).length === 2 || undefined;
    }, 120_000);
    await until('2 tasks running again', async () => ((await runningTasks(aws)).length === 2 ? true : undefined), 120_000);
    const status = await runCli(['status', ...base(sb.url), '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const steps = JSON.parse(status.stdout).steps as { id: string; action: string; details?: Record<string, string> }[];
    assert.match(steps.find((s) => s.id === 'auto-scaling-group')!.details!.instances!, /^2 instances in service/);
    assert.equal(steps.find((s) => s.id === 'service')!.details!.running, '2/2');

    // 6. down leaves nothing tagged, as awscli sees it.
    const down = await runCli(['down', ...base(sb.url), '--delete-logs'], env, { timeoutMs: 300_000 });
    assert.equal(down.code, 0, down.stderr);
    const cli = awscli(sb, env);
    const tagged = JSON.parse((await cli('resourcegroupstaggingapi', 'get-resources', '--tag-filters', `Key=${TAG},Values=${STACK}`)).out);
    // The Tagging API may list a terminated instance or an INACTIVE cluster for a while, as on AWS;
    // nothing that can still cost or route may be left.
    const left = (tagged.ResourceTagMappingList as { ResourceARN: string }[]).map((r) => r.ResourceARN);
    assert.deepEqual(left.filter((a) => /launch-template|loadbalancer\/|targetgroup\/|capacity-provider|security-group|autoScalingGroup|:service\//.test(a)), [], `nothing live carries the stack tag: ${left.join(', ')}`);
    assert.equal(JSON.parse((await cli('autoscaling', 'describe-auto-scaling-groups')).out).AutoScalingGroups.length, 0);
    assert.equal(JSON.parse((await cli('ec2', 'describe-launch-templates')).out).LaunchTemplates.length, 0);
    assert.equal(JSON.parse((await cli('elbv2', 'describe-load-balancers')).out).LoadBalancers.length, 0);
    assert.equal(JSON.parse((await cli('elbv2', 'describe-target-groups')).out).TargetGroups.length, 0);
    const cps = JSON.parse((await cli('ecs', 'describe-capacity-providers')).out).capacityProviders;
    assert.deepEqual(cps.filter((c: { status: string; name: string }) => c.status === 'ACTIVE' && c.name.startsWith('cp-')), []);
    const inst = JSON.parse((await cli('ec2', 'describe-instances', '--filters', `Name=tag:${TAG},Values=${STACK}`, 'Name=instance-state-name,Values=pending,running,stopping,stopped')).out);
    assert.equal(inst.Reservations.flatMap((r: { Instances: unknown[] }) => r.Instances).length, 0);
  });
});

/** Start `up`, SIGKILL it as soon as the given step reports it is working. */
function upKilledAt(url: string, env: NodeJS.ProcessEnv, args: string[], title: string): Promise<NodeJS.Signals | null> {
  return killedAtStep(upArgs(url, ...args), env, title);
}

test('group: SIGKILL during each new step, then up: exactly one group, launch template, capacity provider and ALB', { timeout: 15 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    sb.world.settings.latency.requestDelayMs = 40; // so the kill lands inside the step
    const aws = clients(sb);
    const args = ['--instances', '2', '--load-balancer'];
    for (const title of ['Target group', 'Load balancer', 'Launch template', 'Auto Scaling group', 'Capacity provider']) {
      const env = cliEnv(tempConfigDir());
      assert.equal(await upKilledAt(sb.url, env, args, title), 'SIGKILL', `${title}: killed mid-step`);
      const resumed = await runCli(upArgs(sb.url, ...args), env, { timeoutMs: 300_000 });
      assert.equal(resumed.code, 0, `${title}: resume failed: ${resumed.stderr}`);
      assert.deepEqual(await census(aws), ONE_OF_EACH, `after a kill during ${title}`);
      const down = await runCli(['down', ...base(sb.url), '--delete-logs'], env, { timeoutMs: 300_000 });
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await census(aws), { groups: 0, templates: 0, providers: 0, albs: 0, tgs: 0, services: 0 });
    }
  });
});

test('group: bad input is exit 2 with nothing written; moving from one instance to a group retires the instance', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    for (const bad of [['--instances', '0'], ['--instances', 'three'], ['--instances', '3', '--subnet', 'subnet-0123456789abcdef0']]) {
      const mark = sb.requestLog().length;
      const r = await runCli(upArgs(sb.url, ...bad), env);
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /Unexpected error/);
      assert.deepEqual(mutatingCalls(sb, mark), [], `${bad.join(' ')}: nothing written`);
    }
    const aws = clients(sb);
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    const lone = (await aws.ec2.describeInstances({ Filters: [{ Name: `tag:${TAG}`, Values: [STACK] }] })).Reservations![0]!.Instances![0]!.InstanceId!;
    const move = await runCli(upArgs(sb.url, '--instances', '2'), env, { timeoutMs: 300_000 });
    assert.equal(move.code, 0, move.stderr);
    assert.match(move.stderr, new RegExp(`${lone}`), 'the plan names the instance it retires');
    const state = (await aws.ec2.describeInstances({ InstanceIds: [lone] })).Reservations![0]!.Instances![0]!.State?.Name;
    assert.ok(state === 'terminated' || state === 'shutting-down', `the lone instance is retired (${state})`);
    assert.equal((await runningTasks(aws)).length, 2);
    assert.deepEqual((await runningTasks(aws)).map((t) => t.capacityProviderName), [`cp-${CLUSTER}`, `cp-${CLUSTER}`]);

    // The stack file lost: the tagged group says what the shape is, so `up` changes nothing (it
    // does not take the group for a stray and go back to one instance).
    rmSync(join(env.ECS_CWLOGS_CONFIG_DIR!, 'stacks', `${STACK}.json`));
    const mark = sb.requestLog().length;
    const again = await runCli(upArgs(sb.url), env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(mutatingCalls(sb, mark), [], 'up without the stack file writes nothing');
    const down = await runCli(['down', ...base(sb.url), '--delete-logs'], env, { timeoutMs: 300_000 });
    assert.equal(down.code, 0, down.stderr);
  });
});
