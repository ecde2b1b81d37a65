/**
 * Issue 20, item 6: a group whose Auto Scaling group and launch template already are what the
 * settings ask for (instance type, VPC, key pair, no --subnet) is not checked for a launch again: no
 * instance type, zone offering, subnet or image lookups, its network taken from the group. Any
 * difference still runs every check, before anything is written. Through the real binary against the
 * sandbox, counting the operations in its request log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const STACK = 'groupfit';
const IMAGE = 'registry.example/cloudwatchlogs:1';
const TEMPLATE = 'ECSCloudWatchLogs-instances';
/** What checks that a launch can happen: the type, the zones offering it, the VPC's subnets, the image. */
const CHECKS = ['ec2:DescribeSubnets', 'ec2:DescribeInstanceTypeOfferings', 'ec2:DescribeInstanceTypes', 'ec2:DescribeImages'];

const base = (url: string, ...rest: string[]) => ['--endpoint-url', url, '--region', 'us-east-1', '--stack', STACK, '--yes', ...rest];
const upArgs = (url: string, ...rest: string[]) => ['up', ...base(url, '--image', IMAGE, '--allow-cidr', '203.0.113.7/32', ...rest)];

async function run(sb: RunningSandbox, env: NodeJS.ProcessEnv, args: string[]) {
  const mark = sb.requestLog().length;
  const r = await runCli(args, env, { timeoutMs: 300_000 });
  const ops = sb.requestLog().slice(mark).map((c) => `${c.service}:${c.operation}`);
  return { ...r, ops, checks: CHECKS.filter((op) => ops.includes(op)), writes: mutatingCalls(sb, mark) };
}

const actions = (stdout: string) => Object.fromEntries((JSON.parse(stdout).steps as { id: string; action: string }[]).map((s) => [s.id, s.action]));

test('group: a second up and status read no launch checks; a new size reads none either; a new type, another VPC or --subnet runs them, with nothing written before', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const aws = createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
    const first = await run(sb, env, upArgs(sb.url, '--instances', '2', '--load-balancer', '--instance-type', 't3.micro'));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.checks, CHECKS, 'a fresh up checks the launch');

    // The same settings (the type saved by the first up): nothing checked, nothing written.
    const second = await run(sb, env, [...upArgs(sb.url), '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(second.writes, []);
    assert.deepEqual(second.checks, [], second.ops.join(', '));
    assert.ok(Object.values(actions(second.stdout)).every((a) => a === 'noop'), second.stdout);
    const status = await run(sb, env, ['status', ...base(sb.url), '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(status.checks, [], status.ops.join(', '));

    // A new size is no launch check: the group's network stands, only its counts change.
    const bigger = await run(sb, env, [...upArgs(sb.url, '--instances', '3'), '--dry-run', '--json']);
    assert.equal(bigger.code, 0, bigger.stderr);
    assert.deepEqual(bigger.writes, []);
    assert.deepEqual(bigger.checks, [], bigger.ops.join(', '));
    const planned = actions(bigger.stdout);
    assert.equal(planned['auto-scaling-group'], 'update');
    assert.equal(planned['launch-template'], 'noop');

    // A new type checks everything again, and plans a new version of the template.
    const retyped = await run(sb, env, [...upArgs(sb.url, '--instance-type', 't3.small'), '--dry-run', '--json']);
    assert.equal(retyped.code, 0, retyped.stderr);
    assert.deepEqual(retyped.writes, []);
    assert.deepEqual(retyped.checks, CHECKS, retyped.ops.join(', '));
    assert.equal(actions(retyped.stdout)['launch-template'], 'update');

    // A VPC that is not the group's, or --subnet: checked, refused (exit 2), nothing written.
    for (const extra of [['--vpc', 'vpc-0123456789abcdef0'], ['--subnet', 'subnet-0123456789abcdef0']]) {
      const r = await run(sb, env, [...upArgs(sb.url, ...extra), '--dry-run']);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /Unexpected error/);
      assert.deepEqual(r.writes, [], `${extra.join(' ')}: nothing written`);
    }

    // Applying the new type: the checks ran, the template's new default version is t3.small; the next up checks nothing again.
    const applied = await run(sb, env, upArgs(sb.url, '--instance-type', 't3.small'));
    assert.equal(applied.code, 0, applied.stderr);
    assert.deepEqual(applied.checks, CHECKS, applied.ops.join(', '));
    assert.ok(applied.writes.includes('ec2:CreateLaunchTemplateVersion'), applied.writes.join(', '));
    const v = (await aws.ec2.describeLaunchTemplateVersions({ LaunchTemplateName: TEMPLATE, Versions: ['$Default'] })).LaunchTemplateVersions?.[0];
    assert.equal(v?.LaunchTemplateData?.InstanceType, 't3.small');
    const again = await run(sb, env, upArgs(sb.url));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.writes, []);
    assert.deepEqual(again.checks, [], again.ops.join(', '));

    const down = await runCli(['down', ...base(sb.url), '--delete-logs'], env, { timeoutMs: 300_000 });
    assert.equal(down.code, 0, down.stderr);
  });
});
