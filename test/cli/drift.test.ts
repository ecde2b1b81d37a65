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
