/**
 * The real binary in a real terminal (tmux), against the sandbox: the wizard is answered with
 * keystrokes, Ctrl-C interrupts a run, and the screen is what a person would see.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAwsClients } from '../../src/aws/clients.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';
import { Terminal } from './terminal.js';

test('the wizard in a real terminal: answers, summary, confirm, URL; then status and up ask nothing', { timeout: 240_000 }, async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const dir = tempConfigDir();
    const env = cliEnv(dir, { NO_COLOR: undefined, ECS_CWLOGS_POLL_MS: '100' });
    const term = await Terminal.start('cwl-wizard', env, `node ${BIN} up --endpoint-url ${sb.url}`);
    try {
      await term.answer(/AWS region/, 'Enter');
      await term.waitFor(/AWS account 123456789012/);
      await term.answer(/ECS cluster name/, 'Enter');
      await term.waitFor(/\? Where should the logging image be pushed\?/);
      await term.keys('Down', 'Down', 'Enter');
      await term.waitFor(/\? Logging image reference/);
      await term.type('registry.example/cloudwatchlogs:1');
      await term.keys('Enter');
      await term.answer(/App image/, 'Enter');
      await term.answer(/Instance type/, 'Down', 'Enter'); // t3.micro
      await term.answer(/How many instances/, 'Enter'); // 1: one EC2 instance
      await term.answer(/Key pair for SSH/, 'Enter'); // none
      await term.answer(/VPC/, 'Enter');
      await term.answer(/Subnet/, 'Enter');
      // Validation inline: a malformed CIDR is refused with the flag's own message, then corrected.
      await term.waitFor(/\? Allow HTTP \(and SSH\) from/);
      await term.keys('C-u');
      await term.type('10.0.0.300/8');
      await term.keys('Enter');
      await term.waitFor(/not an IPv4 CIDR block/);
      await term.keys('C-u');
      await term.type('203.0.113.0/24');
      await term.keys('Enter');
      await term.answer(/CloudWatch Logs log group/, 'Enter');
      await term.answer(/Keep logs for/, 'Enter');
      const summary = await term.waitFor(/\? Create these resources\?/);
      assert.match(summary, /instance type\s+t3\.micro/);
      assert.match(summary, /allowed from\s+203\.0\.113\.0\/24/);
      assert.match(summary, /Estimated cost: ~\$0\.0\d+\/hour/);
      assert.match(summary, /ECS cluster\s+absent/);
      await term.keys('Enter');
      const done = await term.waitFor(/EXIT=\d+/, 120_000);
      assert.match(done, /EXIT=0/, done);
      assert.match(done, /✔ ECS service created/);
      const ip = (await createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS }).ec2.describeInstances({})).Reservations?.[0]
        ?.Instances?.[0]?.PublicIpAddress;
      assert.ok(ip);
      assert.match(done, new RegExp(`App:\\s+http://${ip.replace(/\./g, '\\.')}/`));
      if (process.env.ECS_CWLOGS_SCREENSHOT) await writeFile(process.env.ECS_CWLOGS_SCREENSHOT, await term.screen(true));
    } finally {
      await term.kill();
    }

    // The saved answers: status in a terminal asks nothing and finds every step in sync.
    const status = await Terminal.start('cwl-status', env, `node ${BIN} status --endpoint-url ${sb.url}`);
    try {
      const out = await status.waitFor(/EXIT=\d+/, 60_000);
      assert.match(out, /EXIT=0/, out);
      assert.doesNotMatch(out, /^\? /m, 'no question was asked');
      assert.match(out, /EC2 container instance\s+in sync/);
    } finally {
      await status.kill();
    }
    // And `up` again in a terminal: no question, nothing to change.
    const again = await Terminal.start('cwl-again', env, `node ${BIN} up --endpoint-url ${sb.url}`);
    try {
      const out = await again.waitFor(/EXIT=\d+/, 60_000);
      assert.match(out, /EXIT=0/, out);
      assert.doesNotMatch(out, /^\? /m, 'no question was asked');
    } finally {
      await again.kill();
    }
  });
});

test('Ctrl-C during the instance wait: exit 130, says what finished and that up resumes; up --yes then converges', { timeout: 240_000 }, async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    // Slow boots so there is an instance wait to interrupt.
    sb.world.settings.latency.instanceBootMs = 60_000;
    const dir = tempConfigDir();
    const env = cliEnv(dir, { NO_COLOR: undefined, ECS_CWLOGS_POLL_MS: '200' });
    const args = `--endpoint-url ${sb.url} --region us-east-1 --yes --image registry.example/cloudwatchlogs:1 --allow-cidr 203.0.113.7/32`;
    const term = await Terminal.start('cwl-ctrlc', env, `node ${BIN} up ${args}`);
    try {
      await term.waitFor(/pending/, 60_000);
      await term.keys('C-c');
      // Lines wrap at the terminal's width: read the screen as one line.
      const out = (await term.waitFor(/EXIT=\d+/, 30_000)).replace(/\n/g, '');
      assert.match(out, /EXIT=130/, out);
      assert.match(out, /EC2 container instance interrupted/);
      assert.match(out, /Interrupted\./);
      assert.match(out, /Finished: [^\n]*ECS cluster/);
      assert.match(out, /Interrupted during: EC2 container instance/);
      assert.match(out, /Run the same command ?again to resume/);
      // What now runs and what it costs by the hour, as after a failure.
      assert.match(out, /What exists now:/);
      assert.match(out, /interrupted\s+EC2 container instance \(may be running, launched before it stopped: ~\$0\.0208\/hour\)/);
      assert.match(out, /Running now: about ~\$0\.0208\/hour/);
      assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
    } finally {
      await term.kill();
    }
    sb.world.settings.latency.instanceBootMs = 300;
    const resumed = await runCli(['up', ...args.split(' ')], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const reservations = (await createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS }).ec2.describeInstances({})).Reservations ?? [];
    assert.equal(reservations.flatMap((r) => r.Instances ?? []).length, 1, 'one instance, no duplicate after the interruption');
  });
});

test('Ctrl-C at a wizard question: exit 130, the terminal is left usable, nothing saved', { timeout: 120_000 }, async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const dir = tempConfigDir();
    const env = cliEnv(dir, { NO_COLOR: undefined });
    const term = await Terminal.start('cwl-prompt-ctrlc', env, `node ${BIN} up --endpoint-url ${sb.url}; stty -a | grep -o -- '-\\?icanon' | head -1`);
    try {
      await term.answer(/AWS region/, 'Enter');
      await term.waitFor(/\? ECS cluster name/);
      await term.keys('C-c');
      const out = (await term.waitFor(/EXIT=\d+/, 30_000)).replace(/\n/g, ' ');
      assert.match(out, /Interrupted: the prompt was cancelled/);
      assert.match(out, /(^|\s)icanon\s+EXIT=0/, 'the terminal is back in canonical (cooked) mode');
      assert.deepEqual(mutatingCalls(sb), [], 'nothing was created');
      assert.equal(existsSync(join(dir, 'stacks', 'ecs-cwlogs.json')), false, 'no saved config, half-written or otherwise');
    } finally {
      await term.kill();
    }
  });
});

test('answering "No" changes nothing and exits 1, in up and in down alike', { timeout: 180_000 }, async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const dir = tempConfigDir();
    const env = cliEnv(dir, { NO_COLOR: undefined, ECS_CWLOGS_POLL_MS: '100' });
    const since = sb.requestLog().length;
    const common = `--endpoint-url ${sb.url} --region us-east-1 --image registry.example/cloudwatchlogs:1 --allow-cidr 203.0.113.0/24`;
    const up = await Terminal.start('cwl-no-up', env, `node ${BIN} up ${common} --key-name '' --app-image httpd:2.4`);
    try {
      // --key-name '' is an answer (no key pair): not asked.
      for (const q of [/ECS cluster name/, /Instance type/, /How many instances/, /VPC/, /Subnet/, /CloudWatch Logs log group/, /Keep logs for/]) await up.answer(q, 'Enter');
      await up.waitFor(/\? Create these resources\?/);
      await up.keys('n', 'Enter');
      const out = await up.waitFor(/EXIT=\d+/, 60_000);
      assert.match(out, /EXIT=1/, out);
      assert.match(out, /Cancelled: nothing was created/);
    } finally {
      await up.kill();
    }
    assert.deepEqual(mutatingCalls(sb, since), [], 'no is no: not even the key pair or the answers');
    assert.equal(existsSync(join(dir, 'stacks', 'ecs-cwlogs.json')), false, 'nothing saved');
    // A stack to refuse to delete.
    assert.equal((await runCli(['up', '--yes', ...common.split(' ')], env)).code, 0);
    const before = sb.requestLog().length;
    const down = await Terminal.start('cwl-no-down', env, `node ${BIN} down --endpoint-url ${sb.url} --region us-east-1`);
    try {
      await down.waitFor(/\? Delete what stack ecs-cwlogs owns/);
      await down.keys('Enter'); // the default is No
      const out = await down.waitFor(/EXIT=\d+/, 60_000);
      assert.match(out, /EXIT=1/, out);
      assert.match(out, /Cancelled: nothing was deleted/);
    } finally {
      await down.kill();
    }
    assert.deepEqual(mutatingCalls(sb, before), []);
  });
});
