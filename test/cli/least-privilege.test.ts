/**
 * Issue 11 against the sandbox, through the real binary, checked with Debian's awscli: who can write
 * where (the task role, the instance role), the user data's IMDS block and host facts, the circuit
 * breaker (and `up` failing fast when it trips), and `down` then `up` creating the service again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createAwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { UNPULLABLE_REGISTRY } from '../../src/sandbox/services/ecs/scheduler.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const STACK = 'leastpriv';
const IMAGE = 'registry.example/cloudwatchlogs:1';
const base = (url: string, ...rest: string[]) => ['--endpoint-url', url, '--region', 'us-east-1', '--stack', STACK, '--yes', ...rest];
const upArgs = (url: string, ...rest: string[]) => ['up', ...base(url, '--image', IMAGE, '--allow-cidr', '203.0.113.7/32', ...rest)];

const AWSCLI = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
/** awscli against the sandbox; asynchronous, since the sandbox runs in this process. */
function awscli(sb: RunningSandbox, env: NodeJS.ProcessEnv, ...args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(AWSCLI, ['--endpoint-url', sb.url, '--region', 'us-east-1', '--output', 'json', ...args], { env: { ...env, AWS_PAGER: '' } }, (error, out, err) =>
      error ? reject(new Error(`aws ${args.join(' ')}: ${err}`)) : resolve(out.trim() ? JSON.parse(out) : {}),
    );
  });
}

test('least privilege: the task runs with a task role whose policy names only the stack group (only the agent\'s CreateLogStream and PutLogEvents); the instance role has only the ECS agent policy; the service has the circuit breaker', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const up = await runCli(upArgs(sb.url), env);
    assert.equal(up.code, 0, up.stderr);
    // registry.example does not resolve: the pull check cannot tell, says so, and goes on.
    assert.match(up.stderr + up.stdout, /Cannot tell whether the instance can pull the logging image registry\.example\/cloudwatchlogs:1/);

    const account = (await awscli(sb, env, 'sts', 'get-caller-identity')).Account as string;
    const td = (await awscli(sb, env, 'ecs', 'describe-task-definition', '--task-definition', 'cloudwatchlogs')).taskDefinition;
    const taskRoleArn: string = td.taskRoleArn;
    assert.equal(taskRoleArn, `arn:aws:iam::${account}:role/ecs-cwlogs/${STACK}/ECSCloudWatchLogs-task-us-east-1`);
    const taskRole = taskRoleArn.split('/').pop()!;

    const role = (await awscli(sb, env, 'iam', 'get-role', '--role-name', taskRole)).Role;
    const trust = typeof role.AssumeRolePolicyDocument === 'string' ? JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument)) : role.AssumeRolePolicyDocument;
    assert.deepEqual(trust.Statement.map((x: any) => x.Principal.Service), ['ecs-tasks.amazonaws.com']);
    assert.equal(trust.Statement[0].Condition.StringEquals['aws:SourceAccount'], account);

    const attached = (await awscli(sb, env, 'iam', 'list-attached-role-policies', '--role-name', taskRole)).AttachedPolicies;
    assert.equal(attached.length, 1);
    const policy = (await awscli(sb, env, 'iam', 'get-policy', '--policy-arn', attached[0].PolicyArn)).Policy;
    const version = (await awscli(sb, env, 'iam', 'get-policy-version', '--policy-arn', policy.Arn, '--version-id', policy.DefaultVersionId)).PolicyVersion;
    const doc = typeof version.Document === 'string' ? JSON.parse(decodeURIComponent(version.Document)) : version.Document;
    const actions: string[] = doc.Statement.flatMap((x: any) => [x.Action].flat());
    const resources: string[] = doc.Statement.flatMap((x: any) => [x.Resource].flat());
    // The agent's calls with the generated configuration (test/cli/agent-permissions.test.ts checks them
    // against the agent's source); retention is the log-group step's, so no DescribeLogGroups.
    assert.deepEqual([...new Set(actions)].sort(), ['logs:CreateLogStream', 'logs:PutLogEvents']);
    const group = `arn:aws:logs:us-east-1:${account}:log-group:ecs`;
    for (const r of resources) assert.ok(r === group || r.startsWith(`${group}:`), `${r} is not the stack's log group`);
    assert.ok(doc.Statement.every((x: any) => x.Effect === 'Allow' && !x.NotResource && !x.NotAction));

    // The instance role: what the ECS agent needs, nothing with logs on it.
    const instanceRole = (await awscli(sb, env, 'iam', 'list-attached-role-policies', '--role-name', 'ECSCloudWatchLogs-us-east-1')).AttachedPolicies;
    assert.deepEqual(instanceRole.map((p: any) => p.PolicyName), ['AmazonEC2ContainerServiceforEC2Role']);

    // The logging container reads the host facts read-only; httpd has no mount of them and no role of its own.
    const facts = td.volumes.find((v: any) => v.name === 'host_facts');
    assert.equal(facts.host.sourcePath, '/var/lib/ecs-cwlogs/host');
    const logging = td.containerDefinitions.find((c: any) => c.name === 'cloudwatchlogs');
    assert.deepEqual(logging.mountPoints.find((m: any) => m.sourceVolume === 'host_facts'), { sourceVolume: 'host_facts', containerPath: '/mnt/ecs-cwlogs-host', readOnly: true });

    const svc = (await awscli(sb, env, 'ecs', 'describe-services', '--cluster', 'ECSCloudWatchLogs', '--services', 'cloudwatchlogs')).services[0];
    assert.deepEqual(svc.deploymentConfiguration.deploymentCircuitBreaker, { enable: true, rollback: true });

    // The instance: hop limit 1, and user data that blocks the docker bridge from IMDS, persisted.
    const reservations = (await awscli(sb, env, 'ec2', 'describe-instances', '--filters', `Name=tag:ecs-cwlogs:stack,Values=${STACK}`)).Reservations;
    const inst = reservations.flatMap((r: any) => r.Instances)[0];
    assert.equal(inst.MetadataOptions.HttpPutResponseHopLimit, 1);
    assert.equal(inst.MetadataOptions.HttpTokens, 'required');
    // (The sandbox has no DescribeInstanceAttribute: the user data as EC2 received it on the wire.)
    const userData: string = (sb.world.state.ec2 as any).instances[inst.InstanceId].userData;
    assert.match(userData, /^\s*(\|\| )?iptables --insert DOCKER-USER 1 --in-interface docker\+ --destination 169\.254\.169\.254\/32 --jump DROP$/m);
    assert.match(userData, /iptables-save \| tee \/etc\/sysconfig\/iptables >\/dev\/null && systemctl enable --now iptables/);
    assert.ok(userData.indexOf('DOCKER-USER') < userData.indexOf('ECS_CLUSTER='), 'the block comes before the agent is pointed at the cluster');
    assert.match(userData, /^ECS_CLUSTER=|echo 'ECS_CLUSTER=ECSCloudWatchLogs'/m);
    assert.match(userData, /echo "instance_id=\$\(md instance-id\)"/);
    assert.match(userData, /mv "\$facts_dir\/facts\.tmp" "\$facts_dir\/facts"/);
    assert.match(userData, /^facts_dir=\/var\/lib\/ecs-cwlogs\/host$/m);
  });
});

test('down then up creates the service again, with no idempotency error (the sandbox refuses a reused CreateService token)', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    const first = (await awscli(sb, env, 'ecs', 'describe-services', '--cluster', 'ECSCloudWatchLogs', '--services', 'cloudwatchlogs')).services[0];

    const down = await runCli(['down', ...base(sb.url)], env);
    assert.equal(down.code, 0, down.stderr);
    const before = sb.requestLog().length;
    const again = await runCli(upArgs(sb.url), env);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr + again.stdout, /not idempotent/);
    assert.equal(mutatingCalls(sb, before).filter((c) => c === 'ecs:CreateService').length, 1);
    const second = (await awscli(sb, env, 'ecs', 'describe-services', '--cluster', 'ECSCloudWatchLogs', '--services', 'cloudwatchlogs')).services[0];
    assert.equal(second.status, 'ACTIVE');
    assert.equal(second.runningCount, 1);
    assert.notEqual(second.taskDefinition, first.taskDefinition, 'a new revision: the old one was deleted by down');

    // The sandbox models what made the old fixed token fail: the same token with another request.
    const aws = createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
    await aws.ecs.createService({ cluster: 'ECSCloudWatchLogs', serviceName: 'probe', taskDefinition: second.taskDefinition, desiredCount: 0, clientToken: 'same-token' });
    await aws.ecs.deleteService({ cluster: 'ECSCloudWatchLogs', service: 'probe', force: true });
    await assert.rejects(
      aws.ecs.createService({ cluster: 'ECSCloudWatchLogs', serviceName: 'probe', taskDefinition: second.taskDefinition, desiredCount: 1, clientToken: 'same-token' }),
      /Creation of service was not idempotent/,
    );
  });
});

test('circuit breaker: a logging image that cannot be pulled fails up fast with the stopped task reason; nothing waits 15 minutes', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const started = Date.now();
    const up = await runCli(upArgs(sb.url, '--image', `${UNPULLABLE_REGISTRY}/cloudwatchlogs:1`), env, { timeoutMs: 240_000 });
    const seconds = (Date.now() - started) / 1000;
    assert.notEqual(up.code, 0);
    const out = up.stderr + up.stdout;
    assert.match(out, /deployment of service cloudwatchlogs failed/i);
    assert.match(out, /circuit breaker/i);
    assert.match(out, /CannotPullContainerError: [^\n]*unpullable\.sandbox\.invalid\/cloudwatchlogs:1/);
    assert.match(out, /TaskFailedToStart/);
    assert.ok(seconds < 120, `failed after ${seconds}s`);

    const svc = (await awscli(sb, env, 'ecs', 'describe-services', '--cluster', 'ECSCloudWatchLogs', '--services', 'cloudwatchlogs')).services[0];
    assert.equal(svc.deployments[0].rolloutState, 'FAILED');
    assert.ok(svc.deployments[0].failedTasks >= 3);
  });
});

test('circuit breaker with rollback: a broken new revision fails up fast, ECS goes back to the revision that worked, and up says so', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    const good = (await awscli(sb, env, 'ecs', 'describe-services', '--cluster', 'ECSCloudWatchLogs', '--services', 'cloudwatchlogs')).services[0].taskDefinition;

    const broken = await runCli(upArgs(sb.url, '--image', `${UNPULLABLE_REGISTRY}/cloudwatchlogs:2`), env, { timeoutMs: 240_000 });
    assert.notEqual(broken.code, 0);
    assert.match(broken.stderr + broken.stdout, /CannotPullContainerError/);
    assert.match(broken.stderr + broken.stdout, /rolled the service back to its last working revision/);

    const svc = await until(async () => {
      const s = (await awscli(sb, env, 'ecs', 'describe-services', '--cluster', 'ECSCloudWatchLogs', '--services', 'cloudwatchlogs')).services[0];
      return s.runningCount === 1 && s.deployments.length === 1 ? s : undefined;
    });
    assert.equal(svc.taskDefinition, good, 'back on the revision that worked');
    assert.equal(svc.deployments[0].rolloutState, 'COMPLETED');
  });
});

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}
