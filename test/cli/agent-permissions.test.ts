/**
 * Issue 17, 1.4: the task role holds exactly what the pinned CloudWatch agent calls with the
 * configuration the logging container generates, checked with IAM's policy simulator (the sandbox's
 * SimulatePrincipalPolicy, through Debian's awscli), against the calls read from the agent's source:
 *
 *   logs:PutLogEvents     plugins/outputs/cloudwatchlogs/internal/pusher/sender.go   (sender.Send)
 *   logs:CreateLogStream  plugins/outputs/cloudwatchlogs/internal/pusher/target.go   (createLogStream,
 *                         after PutLogEvents says ResourceNotFoundException)
 *   logs:DescribeLogGroups, logs:PutRetentionPolicy   target.go (updateTargetsBatch / getRetention,
 *                         updateRetentionPolicy), only for an entry with retention_in_days > 0
 *   logs:CreateLogGroup   target.go (createLogGroup), only when CreateLogStream finds no group: the
 *                         stack's log-group step creates (and tags) it before the service runs, so the
 *                         role does not allow it (an agent-made group would be untagged, not the stack's)
 *
 * The configuration is the real generator's output (docker/.../ecs-cwlogs-agent-config) for the
 * environment of the registered task definition, as ECS passes it to the container.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { withSandbox } from '../helpers/sandbox-context.js';

const STACK = 'agentperm';
const AWSCLI = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
const GENERATOR = join(PACKAGE_ROOT, 'docker', 'rootfs', 'usr', 'local', 'bin', 'ecs-cwlogs-agent-config');

function awscli(sb: RunningSandbox, env: NodeJS.ProcessEnv, ...args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(AWSCLI, ['--endpoint-url', sb.url, '--region', 'us-east-1', '--output', 'json', ...args], { env: { ...env, AWS_PAGER: '' } }, (error, out, err) =>
      error ? reject(new Error(`aws ${args.join(' ')}: ${err}`)) : resolve(out.trim() ? JSON.parse(out) : {}),
    );
  });
}

interface Entry {
  file_path: string;
  log_group_name: string;
  log_stream_name: string;
  retention_in_days?: number;
  log_group_class?: string;
}
interface Call {
  action: string;
  resource: string;
  source: string;
}

const PUSHER = 'plugins/outputs/cloudwatchlogs/internal/pusher';

/** What the agent calls for this configuration, with a log group that exists (see the header). */
function agentCalls(entries: Entry[], region: string, account: string): Call[] {
  const calls: Call[] = [];
  for (const e of entries) {
    const group = `arn:aws:logs:${region}:${account}:log-group:${e.log_group_name}`;
    const stream = e.log_stream_name.replace(/\{[a-z_]+\}/g, 'x');
    calls.push({ action: 'logs:PutLogEvents', resource: `${group}:log-stream:${stream}`, source: `${PUSHER}/sender.go` });
    calls.push({ action: 'logs:CreateLogStream', resource: `${group}:*`, source: `${PUSHER}/target.go` });
    if ((e.retention_in_days ?? -1) > 0) {
      calls.push({ action: 'logs:DescribeLogGroups', resource: `${group}:*`, source: `${PUSHER}/target.go` });
      calls.push({ action: 'logs:PutRetentionPolicy', resource: `${group}:*`, source: `${PUSHER}/target.go` });
    }
  }
  return calls;
}

test('the task role allows every call the pinned agent makes with the generated configuration, and nothing else (IAM policy simulator)', { timeout: 240_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const up = await runCli(['up', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', STACK, '--yes', '--image', 'registry.example/cloudwatchlogs:1', '--allow-cidr', '203.0.113.7/32'], env);
    assert.equal(up.code, 0, up.stderr);
    const account = (await awscli(sb, env, 'sts', 'get-caller-identity')).Account as string;
    const td = (await awscli(sb, env, 'ecs', 'describe-task-definition', '--task-definition', 'cloudwatchlogs')).taskDefinition;
    const logging = td.containerDefinitions.find((c: { name: string }) => c.name === 'cloudwatchlogs');
    const containerEnv = Object.fromEntries((logging.environment as { name: string; value: string }[]).map((e) => [e.name, e.value]));

    // The configuration the container generates from that environment.
    const gen = spawnSync('bash', [GENERATOR], { env: { PATH: process.env.PATH, ECS_CWLOGS_IMDS: 'off', ECS_CWLOGS_HOST_FACTS: '/nonexistent', ...containerEnv }, encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const cfg = JSON.parse(gen.stdout) as { agent: Record<string, unknown>; logs: { logs_collected: { files: { collect_list: Entry[] } } } };
    // Nothing in it makes the agent call anything else: no role to assume, no credentials file, no metrics.
    assert.equal(cfg.agent.credentials, undefined);
    assert.equal((cfg as Record<string, unknown>).metrics, undefined);
    const entries = cfg.logs.logs_collected.files.collect_list;
    assert.ok(entries.length > 0);

    const calls = agentCalls(entries, 'us-east-1', account);
    const simulate = async (action: string, resource: string) =>
      (await awscli(sb, env, 'iam', 'simulate-principal-policy', '--policy-source-arn', td.taskRoleArn, '--action-names', action, '--resource-arns', resource)).EvaluationResults[0].EvalDecision as string;
    const denied: string[] = [];
    for (const c of new Map(calls.map((c) => [`${c.action} ${c.resource}`, c])).values()) {
      const decision = await simulate(c.action, c.resource);
      if (decision !== 'allowed') denied.push(`${c.action} on ${c.resource} (${c.source}): ${decision}`);
    }
    assert.deepEqual(denied, [], 'the agent would get AccessDenied');

    // Nothing wider: the policy names exactly the actions the agent calls, and denies the rest.
    const role = td.taskRoleArn.split('/').pop();
    const attached = (await awscli(sb, env, 'iam', 'list-attached-role-policies', '--role-name', role)).AttachedPolicies;
    assert.equal(attached.length, 1);
    const policy = (await awscli(sb, env, 'iam', 'get-policy', '--policy-arn', attached[0].PolicyArn)).Policy;
    const version = (await awscli(sb, env, 'iam', 'get-policy-version', '--policy-arn', policy.Arn, '--version-id', policy.DefaultVersionId)).PolicyVersion;
    const doc = typeof version.Document === 'string' ? JSON.parse(decodeURIComponent(version.Document)) : version.Document;
    const actions = [...new Set(doc.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()))].sort();
    assert.deepEqual(actions, [...new Set(calls.map((c) => c.action))].sort());
    const group = `arn:aws:logs:us-east-1:${account}:log-group:${containerEnv.LOG_GROUP}`;
    for (const [action, resource] of [
      ['logs:CreateLogGroup', `${group}:*`],
      ['logs:DeleteLogGroup', `${group}:*`],
      ['logs:DeleteLogStream', `${group}:log-stream:x`],
      ['logs:PutRetentionPolicy', `${group}:*`],
      ['logs:DescribeLogGroups', '*'],
      ['logs:PutLogEvents', `arn:aws:logs:us-east-1:${account}:log-group:other:log-stream:x`],
      ['logs:CreateLogStream', `arn:aws:logs:us-east-1:${account}:log-group:other:*`],
      ['logs:PutLogEvents', `arn:aws:logs:eu-west-1:${account}:log-group:${containerEnv.LOG_GROUP}:log-stream:x`],
    ]) {
      if (calls.some((c) => c.action === action && c.resource === resource)) continue;
      assert.equal(await simulate(action!, resource!), 'implicitDeny', `${action} on ${resource}`);
    }
  });
});

test('the sandbox simulator: an action without resource-level permissions is authorised on "*", so a policy scoping it to an ARN denies it', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const doc = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['logs:DescribeLogGroups', 'logs:PutLogEvents'], Resource: 'arn:aws:logs:us-east-1:*:log-group:g:*' }] });
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const role = (await awscli(sb, env, 'iam', 'create-role', '--role-name', 'simrole', '--assume-role-policy-document', trust)).Role;
    const policy = (await awscli(sb, env, 'iam', 'create-policy', '--policy-name', 'simpolicy', '--policy-document', doc)).Policy;
    await awscli(sb, env, 'iam', 'attach-role-policy', '--role-name', 'simrole', '--policy-arn', policy.Arn);
    const res = await awscli(sb, env, 'iam', 'simulate-principal-policy', '--policy-source-arn', role.Arn, '--action-names', 'logs:DescribeLogGroups', 'logs:PutLogEvents', '--resource-arns', 'arn:aws:logs:us-east-1:000000000000:log-group:g:log-stream:s');
    const by = Object.fromEntries(res.EvaluationResults.map((r: { EvalActionName: string; EvalDecision: string; EvalResourceName: string }) => [r.EvalActionName, r]));
    assert.equal(by['logs:DescribeLogGroups'].EvalDecision, 'implicitDeny');
    assert.equal(by['logs:DescribeLogGroups'].EvalResourceName, '*');
    assert.equal(by['logs:PutLogEvents'].EvalDecision, 'allowed');
  });
});
