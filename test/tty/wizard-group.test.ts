/**
 * Issue 18, item 2: the wizard builds every shape. The real binary in a real terminal (tmux) against
 * the sandbox: the group with its shape given as flags, the group chosen in the wizard, and a
 * wizard-made one-instance stack (its subnet saved) moving to a group with `up --yes --instances 3`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';
import { Terminal } from './terminal.js';

const IMAGE = 'registry.example/cloudwatchlogs:1';

function clients(sb: RunningSandbox): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

async function shape(aws: AwsClients) {
  const groups = (await aws.autoscaling.describeAutoScalingGroups({})).AutoScalingGroups ?? [];
  const albs = (await aws.elbv2.describeLoadBalancers({})).LoadBalancers ?? [];
  const running = ((await aws.ec2.describeInstances({})).Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name === 'running');
  return { groups, albs, running };
}

/** The questions up to the shape: region, cluster, the image (one already pushed), app, type. */
async function answerUpToShape(term: Terminal): Promise<void> {
  await term.answer(/AWS region/, 'Enter');
  await term.answer(/ECS cluster name/, 'Enter');
  await term.waitFor(/\? Where should the logging image be pushed\?/);
  await term.keys('Down', 'Down', 'Enter');
  await term.waitFor(/\? Logging image reference/);
  await term.type(IMAGE);
  await term.keys('Enter');
  await term.answer(/App image/, 'Enter');
  await term.answer(/Instance type/, 'Enter');
}

/** After the shape: key pair, VPC, who may connect, logs: every default. Then confirm and wait. */
async function answerTheRest(term: Terminal, expectSubnet: boolean): Promise<string> {
  await term.answer(/Key pair for SSH/, 'Enter');
  await term.answer(/VPC/, 'Enter');
  if (expectSubnet) await term.answer(/Subnet/, 'Enter');
  await term.answer(/Allow HTTP \(and SSH\) from/, 'Enter');
  await term.answer(/CloudWatch Logs log group/, 'Enter');
  await term.answer(/Keep logs for/, 'Enter');
  const summary = await term.waitFor(/\? Create these resources\?/);
  if (!expectSubnet) assert.doesNotMatch(summary, /\? Subnet/, 'no subnet question for a group');
  await term.keys('Enter');
  const done = await term.waitFor(/EXIT=\d+/, 180_000);
  assert.match(done, /EXIT=0/, done);
  assert.doesNotMatch(done, /can't be used with/);
  return done;
}

test('tmux: a fresh stack, up --instances 3 --load-balancer with every default accepted, builds the group', { timeout: 300_000 }, async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const env = cliEnv(tempConfigDir(), { NO_COLOR: undefined, ECS_CWLOGS_POLL_MS: '100' });
    const term = await Terminal.start('cwl-wiz-group-flags', env, `node ${BIN} up --endpoint-url ${sb.url} --instances 3 --load-balancer`);
    try {
      await answerUpToShape(term);
      const done = await answerTheRest(term, false);
      assert.match(done, /Auto Scaling group created/);
      const { groups, albs } = await shape(clients(sb));
      assert.equal(groups.length, 1);
      assert.equal(groups[0]!.DesiredCapacity, 3);
      assert.equal(albs.length, 1);
      assert.match(done.replace(/\n/g, ''), new RegExp(`App:\\s+http://${albs[0]!.DNSName!.replace(/\./g, '\\.')}`));
    } finally {
      await term.kill();
    }
  });
});

test('tmux: nothing given, choosing 3 instances and an ALB in the wizard builds the group', { timeout: 300_000 }, async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const env = cliEnv(tempConfigDir(), { NO_COLOR: undefined, ECS_CWLOGS_POLL_MS: '100' });
    const term = await Terminal.start('cwl-wiz-group-asked', env, `node ${BIN} up --endpoint-url ${sb.url}`);
    try {
      await answerUpToShape(term);
      await term.answer(/How many instances/, 'Down', 'Down', 'Enter'); // 3
      await term.answer(/Put an Application Load Balancer in front/, 'Enter'); // the default: yes
      const done = await answerTheRest(term, false);
      assert.match(done, /Auto Scaling group created/);
      const { groups, albs, running } = await shape(clients(sb));
      assert.equal(groups[0]?.DesiredCapacity, 3);
      assert.equal(albs.length, 1);
      assert.equal(running.length, 3);
    } finally {
      await term.kill();
    }
  });
});

test('tmux: a wizard-made one-instance stack moves with up --yes --instances 3; its saved subnet is said not to apply, kept, and --subnet "" forgets it', { timeout: 400_000 }, async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const dir = tempConfigDir();
    const env = cliEnv(dir, { NO_COLOR: undefined, ECS_CWLOGS_POLL_MS: '100' });
    const term = await Terminal.start('cwl-wiz-one-then-group', env, `node ${BIN} up --endpoint-url ${sb.url}`);
    try {
      await answerUpToShape(term);
      await term.answer(/How many instances/, 'Enter'); // 1
      await answerTheRest(term, true);
    } finally {
      await term.kill();
    }
    const file = join(dir, 'stacks', 'ecs-cwlogs.json');
    const savedSubnet = () => Object.values(JSON.parse(readFileSync(file, 'utf8')).targets as Record<string, { settings: { subnetId?: string } }>)[0]?.settings.subnetId;
    const subnet = savedSubnet();
    assert.match(subnet ?? '', /^subnet-/, 'the wizard saved the subnet it asked');

    const moved = await runCli(['up', '--yes', '--instances', '3', '--endpoint-url', sb.url], env, { timeoutMs: 240_000 });
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stderr, new RegExp(`Saved --subnet ${subnet} no longer applies`));
    const { groups, running } = await shape(clients(sb));
    assert.equal(groups[0]?.DesiredCapacity, 3);
    assert.equal(running.length, 3, 'the lone instance is gone, the group runs 3');
    assert.equal(savedSubnet(), subnet, 'kept for a move back to one instance');

    const cleared = await runCli(['up', '--yes', '--subnet', '', '--endpoint-url', sb.url], env, { timeoutMs: 240_000 });
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.doesNotMatch(cleared.stderr, /no longer applies/);
    assert.equal(savedSubnet(), undefined, '--subnet "" forgot it');
  });
});
