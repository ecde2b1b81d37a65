/**
 * The wizard's logic in-process, with the IO host's test double: defaults, validation messages, and
 * "never ask for what a flag gave". (The real terminal is tested in test/tty/.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSettings, type FlagValues, type SavedStack } from '../../src/core/config.js';
import { UserInputError } from '../../src/core/errors.js';
import { RecordingIoHost } from '../../src/io/recording.js';
import type { Runtime } from '../../src/cli/run.js';
import type { GlobalOptions } from '../../src/cli/runtime.js';
import { runWizard } from '../../src/cli/wizard.js';
import { sandboxContext, withSandbox } from '../helpers/sandbox-context.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';

function runtime(sb: RunningSandbox, io: RecordingIoHost, flags: FlagValues = {}, saved?: SavedStack): Runtime {
  const resolved = resolveSettings({ flags, env: {}, saved });
  const rt: Runtime = {
    opts: { stack: 'wiz' } as GlobalOptions,
    io,
    stack: 'wiz',
    resolved,
    saved,
    signal: new AbortController().signal,
    context: () => sandboxContext(sb, { stack: 'wiz', io, configRef: resolved.config }),
  };
  return rt;
}

test('first run: every question has a default, in order, and the defaults make a complete config', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true });
    const rt = runtime(sb, io);
    const ctx = await runWizard(rt, () => rt.context());
    assert.deepEqual(io.asked, [
      '--region',
      '--cluster-name',
      '--repo',
      '--app-image',
      '--instance-type',
      '--key-name',
      '--vpc',
      '--subnet',
      '--allow-cidr',
      '--log-group',
      '--retention-days',
      '--yes',
    ]);
    for (const q of io.questions) assert.notEqual(q.default, undefined, `${q.flag} has a default`);
    const c = ctx.config;
    assert.equal(c.region, 'us-east-1');
    assert.equal(c.clusterName, 'ECSCloudWatchLogs');
    assert.equal(c.imageRepo, 'ecr', 'ECR is offered first when there is no Docker Hub login');
    assert.equal(c.instanceType, 't3.small');
    assert.equal(c.keyName, undefined, 'no key pair by default: no SSH');
    assert.match(c.vpcId ?? '', /^vpc-/);
    const vpcQ = io.questions.find((q) => q.flag === '--vpc');
    assert.match(vpcQ?.choices?.find((ch) => ch.value === vpcQ.default)?.name ?? '', /\(default\)/, 'the default VPC is preselected');
    const subnetQ = io.questions.find((q) => q.flag === '--subnet');
    assert.match(subnetQ?.choices?.find((ch) => ch.value === subnetQ.default)?.name ?? '', /public/, 'a public subnet is preselected');
    assert.equal(c.allowCidr, '127.0.0.1/32', "the detected IP (the sandbox's checkip) is preselected");
    assert.equal(c.retentionDays, 30);
    const summary = io.events.find((e) => e.type === 'message' && /Estimated cost/.test(e.text));
    assert.ok(summary, 'the summary with a cost estimate was shown before confirming');
  });
});

test('a value given as a flag is never asked for', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true });
    const flags: FlagValues = { region: 'us-east-1', clusterName: 'Given', instanceType: 't3.medium', allowCidr: '198.51.100.0/24', image: 'a/b:1', keyName: 'k' };
    const rt = runtime(sb, io, flags);
    await assert.rejects(runWizard(rt, () => rt.context()), /Key pair k not found|key pair/i, 'a given key pair is checked against the account');
    for (const f of ['--region', '--cluster-name', '--instance-type', '--allow-cidr', '--repo', '--key-name']) assert.ok(!io.asked.includes(f), `${f} was not asked`);
  });
});

test('answers are validated with the flags\' own validators', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true, answers: { '--allow-cidr': '10.0.0.1' } });
    const rt = runtime(sb, io, { region: 'us-east-1', image: 'a/b:1' });
    await assert.rejects(runWizard(rt, () => rt.context()), /validation failed for --allow-cidr: "10\.0\.0\.1" is not an IPv4 CIDR block: use a form such as 203\.0\.113\.7\/32/);
    const q = io.questions.find((x) => x.flag === '--allow-cidr');
    assert.equal(q?.validate?.('10.0.0.0/8'), true);
    assert.match(String(q?.validate?.('10.0.0.1/8')), /host bits set/);
    assert.match(String(io.questions.find((x) => x.flag === '--cluster-name')?.validate?.('no spaces')), /letters, digits, hyphens and underscores/);
  });
});

test('with saved answers nothing is asked, not even to confirm', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true });
    const saved: SavedStack = { version: 1, stack: 'wiz', settings: { region: 'us-east-1', image: 'a/b:1', allowCidr: '198.51.100.0/24' } };
    const rt = runtime(sb, io, {}, saved);
    await runWizard(rt, () => rt.context());
    assert.deepEqual(io.asked, []);
  });
});

test('no terminal: missing settings fail at once, naming the flags', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: false });
    const rt = runtime(sb, io, { region: 'us-east-1' });
    await assert.rejects(runWizard(rt, () => rt.context()), (e: unknown) => e instanceof UserInputError && e.exitCode === 2 && /--repo, --image/.test(e.message));
    assert.deepEqual(io.asked, []);
  });
});
