/**
 * The kill and drift sweep (issue 17, item 5), through the real binary against the sandbox, with
 * awscli as the second client where the change is made out of band: a `down` killed between its two
 * DeleteRole calls, targets deregistered by hand, a launch template's default version changed by
 * hand, a trust policy changed by hand, and a read-only config directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const IMAGE = 'registry.example/cloudwatchlogs:1';
const CIDR = '203.0.113.7/32';

const base = (stack: string, url: string, ...rest: string[]) => ['--endpoint-url', url, '--region', 'us-east-1', '--stack', stack, ...rest];
const upArgs = (stack: string, url: string, ...rest: string[]) => ['up', ...base(stack, url, '--yes', '--image', IMAGE, '--allow-cidr', CIDR, ...rest)];

function clients(sb: RunningSandbox): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

/** Debian's awscli against the sandbox: the parsed JSON answer (or '' for none). */
export function awscli(sb: RunningSandbox, env: NodeJS.ProcessEnv, ...args: string[]): Promise<any> {
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/aws', ['--endpoint-url', sb.url, '--region', 'us-east-1', '--output', 'json', ...args], { env: { ...env, AWS_PAGER: '' } }, (e, out, err) =>
      e ? reject(new Error(`aws ${args.join(' ')}: ${err}`)) : resolve(out.trim() ? JSON.parse(out) : ''),
    ),
  );
}

/** Run the binary and SIGKILL it as soon as the sandbox has answered `operation` successfully. */
async function killedAfter(sb: RunningSandbox, env: NodeJS.ProcessEnv, args: string[], operation: string): Promise<NodeJS.Signals | null> {
  const since = sb.requestLog().length;
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  const t = setInterval(() => {
    if (sb.requestLog().slice(since).some((r) => r.operation === operation && r.status < 400)) {
      child.kill('SIGKILL');
      clearInterval(t);
    }
  }, 1);
  const signal = await closed;
  clearInterval(t);
  return signal;
}

async function iamAt(aws: AwsClients, stack: string) {
  const path = `/ecs-cwlogs/${stack}/`;
  const roles = (await aws.iam.listRoles({ PathPrefix: path })).Roles ?? [];
  const policies = (await aws.iam.listPolicies({ Scope: 'Local', PathPrefix: path })).Policies ?? [];
  const profiles = (await aws.iam.listInstanceProfiles({ PathPrefix: path })).InstanceProfiles ?? [];
  return {
    roles: roles.map((r) => r.RoleName).sort(),
    policies: policies.map((p) => p.PolicyName).sort(),
    profiles: profiles.map((p) => p.InstanceProfileName).sort(),
    trust: Object.fromEntries(roles.map((r) => [r.RoleName, JSON.parse(decodeURIComponent(r.AssumeRolePolicyDocument ?? '{}')).Statement?.[0]?.Principal?.Service])),
  };
}

/** What still carries the stack tag, as awscli sees it, less what is gone in its own service. */
async function taggedLeft(sb: RunningSandbox, env: NodeJS.ProcessEnv, stack: string): Promise<string[]> {
  const out = await awscli(sb, env, 'resourcegroupstaggingapi', 'get-resources', '--tag-filters', `Key=ecs-cwlogs:stack,Values=${stack}`);
  const aws = clients(sb);
  const left: string[] = [];
  for (const { ResourceARN: arn } of out.ResourceTagMappingList as { ResourceARN: string }[]) {
    if (/:instance\//.test(arn)) {
      const i = (await aws.ec2.describeInstances({ InstanceIds: [arn.split('/').pop()!] })).Reservations?.[0]?.Instances?.[0];
      if (!['terminated', 'shutting-down'].includes(i?.State?.Name ?? 'terminated')) left.push(arn);
    } else if (/:cluster\//.test(arn)) {
      if (((await aws.ecs.describeClusters({ clusters: [arn] })).clusters?.[0]?.status ?? 'INACTIVE') !== 'INACTIVE') left.push(arn);
    } else if (!/:task\//.test(arn)) left.push(arn);
  }
  return left;
}

test('a down killed right after its first DeleteRole: the next down leaves nothing tagged; an up after such a kill plans exactly the stack\'s own names', async () => {
  await withSandbox({}, async (sb) => {
    const stack = 'killrole';
    const env = cliEnv(tempConfigDir());
    const aws = clients(sb);
    const own = { roles: ['ECSCloudWatchLogs-task-us-east-1', 'ECSCloudWatchLogs-us-east-1'], policies: ['ECSCloudWatchLogs-us-east-1'], profiles: ['ECSCloudWatchLogs-us-east-1'] };
    const killDown = async () => {
      sb.world.settings.latency.requestDelayMs = 40; // so the kill lands between the two DeleteRole calls
      try {
        assert.equal(await killedAfter(sb, env, ['down', ...base(stack, sb.url, '--yes')], 'DeleteRole'), 'SIGKILL');
      } finally {
        sb.world.settings.latency.requestDelayMs = 0;
      }
      const left = await iamAt(aws, stack);
      assert.deepEqual(left.roles, ['ECSCloudWatchLogs-task-us-east-1'], 'the kill left the task role alone');
      assert.deepEqual(left.policies, ['ECSCloudWatchLogs-us-east-1'], 'and the policy');
    };

    // 1. up, down killed, down again: nothing of the stack remains.
    let r = await runCli(upArgs(stack, sb.url), env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual({ ...(await iamAt(aws, stack)), trust: undefined }, { ...own, trust: undefined });
    await killDown();
    r = await runCli(['down', ...base(stack, sb.url, '--yes', '--delete-logs')], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await iamAt(aws, stack), { roles: [], policies: [], profiles: [], trust: {} }, `down after the kill left IAM behind:\n${r.stdout}`);
    assert.deepEqual(await taggedLeft(sb, env, stack), []);

    // 2. up, down killed, up: the plan and the calls name the stack's own resources only.
    r = await runCli(upArgs(stack, sb.url), env);
    assert.equal(r.code, 0, r.stderr);
    await killDown();
    const plan = await runCli([...upArgs(stack, sb.url), '--dry-run'], env);
    assert.equal(plan.code, 0, plan.stderr);
    assert.doesNotMatch(plan.stdout + plan.stderr, /task-task|ECSCloudWatchLogs-task-us-east-1-us-east-1/, 'no name is built on the leftover task role');
    const since = sb.requestLog().length;
    r = await runCli(upArgs(stack, sb.url), env);
    assert.equal(r.code, 0, r.stderr);
    const calls = mutatingCalls(sb, since);
    assert.ok(!calls.includes('iam:UpdateAssumeRolePolicy'), `the task role's trust policy is left as it is: ${calls.join(', ')}`);
    assert.ok(!calls.includes('iam:CreatePolicy'), `no second policy: ${calls.join(', ')}`);
    assert.equal(calls.filter((c) => c === 'iam:CreateRole').length, 1, `one role created, the instance role: ${calls.join(', ')}`);
    const after = await iamAt(aws, stack);
    assert.deepEqual({ ...after, trust: undefined }, { ...own, trust: undefined });
    assert.deepEqual(after.trust, { 'ECSCloudWatchLogs-task-us-east-1': 'ecs-tasks.amazonaws.com', 'ECSCloudWatchLogs-us-east-1': 'ec2.amazonaws.com' });
    r = await runCli(['down', ...base(stack, sb.url, '--yes', '--delete-logs')], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await taggedLeft(sb, env, stack), []);
    assert.deepEqual((await iamAt(aws, stack)).roles, []);
  });
});

test('a launch template whose default version was changed by hand (awscli): status shows it, up sets the default back with one ModifyLaunchTemplate, no new version', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const stack = 'ltdefault';
    const env = cliEnv(tempConfigDir());
    let r = await runCli(upArgs(stack, sb.url, '--instances', '2'), env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const aws = clients(sb);
    const lt = (await aws.ec2.describeLaunchTemplates({ Filters: [{ Name: 'tag:ecs-cwlogs:stack', Values: [stack] }] })).LaunchTemplates![0]!;
    assert.equal(lt.DefaultVersionNumber, 1);
    // Out of band: a version 2 with another instance type, made the default.
    await awscli(sb, env, 'ec2', 'create-launch-template-version', '--launch-template-id', lt.LaunchTemplateId!, '--source-version', '1', '--launch-template-data', '{"InstanceType":"t3.large"}');
    await awscli(sb, env, 'ec2', 'modify-launch-template', '--launch-template-id', lt.LaunchTemplateId!, '--default-version', '2');
    const status = await runCli(['status', ...base(stack, sb.url, '--json')], env);
    const step = (JSON.parse(status.stdout) as { steps: { id: string; action: string; plan?: { summary?: string } }[] }).steps.find((s) => s.id === 'launch-template');
    assert.equal(step?.action, 'update', `status shows the drift: ${JSON.stringify(step)}`);
    assert.match(step?.plan?.summary ?? '', /version 1 .*default again/);
    const since = sb.requestLog().length;
    r = await runCli(upArgs(stack, sb.url, '--instances', '2'), env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    // The one call needed, inside the stack's lock in the account (taken, then released).
    assert.deepEqual(mutatingCalls(sb, since), ['ssm:PutParameter', 'ec2:ModifyLaunchTemplate', 'ssm:DeleteParameter'], 'the one call needed');
    const after = (await awscli(sb, env, 'ec2', 'describe-launch-templates', '--launch-template-ids', lt.LaunchTemplateId!)).LaunchTemplates[0];
    assert.equal(after.DefaultVersionNumber, 1);
    assert.equal(after.LatestVersionNumber, 2, 'no new version');
    r = await runCli(['down', ...base(stack, sb.url, '--yes', '--delete-logs')], env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
  });
});

test('awscli reads back the user data the instance step sent (describe-instance-attribute --attribute userData)', async () => {
  await withSandbox({}, async (sb) => {
    const stack = 'userdata';
    const env = cliEnv(tempConfigDir());
    const r = await runCli(upArgs(stack, sb.url), env);
    assert.equal(r.code, 0, r.stderr);
    const aws = clients(sb);
    const inst = (await aws.ec2.describeInstances({ Filters: [{ Name: 'tag:ecs-cwlogs:stack', Values: [stack] }, { Name: 'instance-state-name', Values: ['running'] }] })).Reservations![0]!.Instances![0]!;
    const sent = (sb.world.state.ec2 as { instances: Record<string, { userData?: string }> }).instances[inst.InstanceId!]!.userData;
    assert.match(sent ?? '', /ECS_CLUSTER=/, 'the step sent user data that joins the cluster');
    const attr = await awscli(sb, env, 'ec2', 'describe-instance-attribute', '--instance-id', inst.InstanceId!, '--attribute', 'userData');
    assert.equal(Buffer.from(attr.UserData.Value, 'base64').toString('utf8'), sent);
    const type = await awscli(sb, env, 'ec2', 'describe-instance-attribute', '--instance-id', inst.InstanceId!, '--attribute', 'instanceType');
    assert.equal(type.InstanceType.Value, inst.InstanceType);
    // Changing the instance type of a running instance is refused, as EC2 refuses it.
    await assert.rejects(awscli(sb, env, 'ec2', 'modify-instance-attribute', '--instance-id', inst.InstanceId!, '--instance-type', 'Value=t3.large'), /IncorrectInstanceState/);
  });
});

test('a task role trust policy changed by hand (awscli update-assume-role-policy): up puts it back with UpdateAssumeRolePolicy', async () => {
  await withSandbox({}, async (sb) => {
    const stack = 'trust';
    const env = cliEnv(tempConfigDir());
    let r = await runCli(upArgs(stack, sb.url), env);
    assert.equal(r.code, 0, r.stderr);
    const aws = clients(sb);
    const role = 'ECSCloudWatchLogs-task-us-east-1';
    const original = (await iamAt(aws, stack)).trust[role];
    await awscli(sb, env, 'iam', 'update-assume-role-policy', '--role-name', role, '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }));
    assert.equal((await iamAt(aws, stack)).trust[role], 'ec2.amazonaws.com');
    const since = sb.requestLog().length;
    r = await runCli(upArgs(stack, sb.url), env);
    assert.equal(r.code, 0, r.stderr);
    // The one call needed, inside the stack's lock in the account (taken, then released).
    assert.deepEqual(mutatingCalls(sb, since), ['ssm:PutParameter', 'iam:UpdateAssumeRolePolicy', 'ssm:DeleteParameter']);
    assert.equal((await iamAt(aws, stack)).trust[role], original);
    assert.equal(original, 'ecs-tasks.amazonaws.com');
  });
});

/** chattr +i: an immutable directory refuses writes with EPERM, even to root (the tests run as root). */
async function immutable(dir: string, on: boolean): Promise<void> {
  await new Promise<void>((resolve, reject) => execFile('chattr', [on ? '+i' : '-i', dir], (e) => (e ? reject(e) : resolve())));
}

test('a config directory that cannot be written: up stops with exit 2 before any AWS write, naming the directory (EPERM, EACCES); saving a stack file says the same', async () => {
  const { mkdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { saveStack } = await import('../../src/core/config.js');
  await withSandbox({}, async (sb) => {
    // 1. The whole config directory immutable (EPERM), and 2. only its stacks/ directory.
    for (const sub of ['', 'stacks']) {
      const dir = tempConfigDir();
      if (sub) await mkdir(join(dir, sub), { recursive: true }); // (an immutable directory protects only itself, not its subdirectories)
      const ro = join(dir, sub);
      await immutable(ro, true);
      try {
        const since = sb.requestLog().length;
        const r = await runCli(upArgs('rocfg', sb.url), cliEnv(dir));
        assert.equal(r.code, 2, `exit 2 (${sub || 'config dir'}): ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /Unexpected error/);
        assert.match(r.stderr, new RegExp(`Cannot write to ${ro.replace(/[/.]/g, '\\$&')}`));
        assert.match(r.stderr, /EPERM/);
        assert.match(r.stderr, /ECS_CWLOGS_CONFIG_DIR/);
        assert.deepEqual(mutatingCalls(sb, since), [], 'stopped before the first write');
        // The stack file's own write (after a run) says the same, as exit 2.
        await assert.rejects(
          saveStack({ stack: 'rocfg', version: 1, targets: {} } as unknown as Parameters<typeof saveStack>[0], cliEnv(dir)),
          (e: { exitCode?: number; message: string }) => e.exitCode === 2 && /Cannot write to/.test(e.message) && /EPERM/.test(e.message),
        );
      } finally {
        await immutable(ro, false);
      }
    }
    // 3. Not root: a directory owned by root, mode 0755 (EACCES), run as nobody.
    const dir = tempConfigDir();
    const { chmod } = await import('node:fs/promises');
    await chmod(dir, 0o755);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...upArgs('rocfg', sb.url)], { env: { ...cliEnv(dir), HOME: '/tmp' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Cannot write to .*EACCES/s);
  });
});

test('targets deregistered by hand (awscli elbv2 deregister-targets): status shows the drift, up registers the running tasks again', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const stack = 'targets';
    const env = cliEnv(tempConfigDir());
    const args = upArgs(stack, sb.url, '--instances', '2', '--load-balancer');
    let r = await runCli(args, env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const tg = (await awscli(sb, env, 'elbv2', 'describe-target-groups')).TargetGroups[0].TargetGroupArn as string;
    const health = async () => (await awscli(sb, env, 'elbv2', 'describe-target-health', '--target-group-arn', tg)).TargetHealthDescriptions as { Target: { Id: string; Port: number }; TargetHealth: { State: string } }[];
    const before = await health();
    assert.equal(before.length, 2);
    await awscli(sb, env, 'elbv2', 'deregister-targets', '--target-group-arn', tg, '--targets', ...before.map((h) => `Id=${h.Target.Id},Port=${h.Target.Port}`));
    assert.ok((await health()).every((h) => h.TargetHealth.State === 'draining'), 'deregistered: draining');
    // ECS does not put them back by itself (the stricter reading; see docs/aws-behaviour.md).
    await new Promise((res) => setTimeout(res, 1000));
    assert.ok((await health()).every((h) => h.TargetHealth.State === 'draining'), 'still draining a second later');
    const status = await runCli(['status', ...base(stack, sb.url, '--json')], env);
    const step = (JSON.parse(status.stdout) as { steps: { id: string; action: string; plan?: { summary?: string } }[] }).steps.find((s) => s.id === 'service');
    assert.equal(step?.action, 'update', `status shows the drift: ${JSON.stringify(step)}`);
    assert.match(step?.plan?.summary ?? '', /targets/);
    const since = sb.requestLog().length;
    r = await runCli(args, env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    // The one call needed, inside the stack's lock in the account (taken, then released).
    assert.deepEqual(mutatingCalls(sb, since), ['ssm:PutParameter', 'elasticloadbalancing:RegisterTargets', 'ssm:DeleteParameter']);
    const after = await health();
    assert.deepEqual(after.map((h) => `${h.Target.Id}:${h.Target.Port}`).sort(), before.map((h) => `${h.Target.Id}:${h.Target.Port}`).sort());
    assert.ok(after.every((h) => h.TargetHealth.State !== 'draining'), JSON.stringify(after));
    const again = await runCli(['status', ...base(stack, sb.url, '--json')], env);
    assert.equal((JSON.parse(again.stdout) as { steps: { id: string; action: string }[] }).steps.find((s) => s.id === 'service')?.action, 'noop');
    r = await runCli(['down', ...base(stack, sb.url, '--yes', '--delete-logs')], env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
  });
});
