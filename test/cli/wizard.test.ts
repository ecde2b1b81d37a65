/**
 * The wizard's logic in-process, with the IO host's test double: defaults, validation messages, and
 * "never ask for what a flag gave". (The real terminal is tested in test/tty/.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withUserSettings, resolveSettings, type FlagValues, type SavedStack } from '../../src/core/config.js';
import { UserInputError } from '../../src/core/errors.js';
import { RecordingIoHost } from '../../src/io/recording.js';
import { settle, type Runtime, type Session } from '../../src/cli/run.js';
import { buildContext, resolveFor, settingsInput, type Connection, type GlobalOptions, type Validated } from '../../src/cli/runtime.js';
import { askMissing, confirmPlan } from '../../src/cli/wizard.js';
import { planRun } from '../../src/engine/engine.js';
import type { Context } from '../../src/engine/context.js';
import { labSteps } from '../../src/steps/index.js';
import { createAwsClients } from '../../src/aws/clients.js';
import { TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';

async function connection(sb: RunningSandbox): Promise<Connection> {
  const aws = createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
  const id = await aws.sts.getCallerIdentity({});
  const account = id.Account ?? '';
  return { region: 'us-east-1', endpoint: sb.url, sandbox: false, aws, account, callerArn: id.Arn ?? '', target: { kind: 'endpoint', endpoint: sb.url, account, region: 'us-east-1' } };
}

async function runtime(sb: RunningSandbox, io: RecordingIoHost, flags: FlagValues = {}, saved?: (conn: Connection) => SavedStack): Promise<{ rt: Runtime; s: Session }> {
  const conn = await connection(sb);
  const validated: Validated = { stack: 'wiz', flags, saved: saved?.(conn), file: '/nonexistent/wiz.json' };
  const s: Session = { conn, inputs: settingsInput(validated, conn), resolved: resolveFor(validated, conn) };
  const signal = new AbortController().signal;
  const opts = { stack: 'wiz' } as GlobalOptions;
  const rt: Runtime = {
    opts,
    io,
    stack: 'wiz',
    validated,
    signal,
    session: async () => s,
    settle,
    context: (x, intent = 'apply') => buildContext({ opts, io, stack: 'wiz', resolved: x.resolved, conn: x.conn, signal, intent, newKeyPair: x.newKeyPair }),
    lock: async () => undefined,
    checkAccountLock: async () => undefined,
    lockAccount: async () => undefined,
    lockOnFirstWrite: (ctx) => ctx,
    unlockAccount: async () => undefined,
    save: async () => undefined,
  };
  return { rt, s };
}

/** Ask, then plan with the very steps `up` runs, then confirm: the wizard as `up` drives it (its answers resolved with the rest). */
async function wizard(rt: Runtime, asking: Session) {
  const asked = await askMissing(rt, asking);
  const s = asked.any ? rt.settle(asking, { answers: asked.answers }, asked.keyPair) : asking;
  // A Docker host that has every image and no registry: planning the build needs nothing more.
  const docker = { endpoint: 'fake://', inspectImage: async (ref: string) => ({ id: 'sha256:x', repoTags: [ref], repoDigests: [] }), remoteDigest: async () => undefined, ping: async () => undefined };
  const ctx = Object.create(rt.context(s), { docker: { value: docker } }) as Context;
  const plan = await planRun(labSteps({ topology: ctx.config }), ctx);
  if (asked.any) await confirmPlan(rt, ctx, plan, asked);
  return { ctx, plan, asked };
}

test('first run: every question has a default, in order, and the defaults make a complete config', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true });
    const { rt, s } = await runtime(sb, io);
    const { ctx, plan } = await wizard(rt, s);
    assert.deepEqual(io.asked, [
      '--cluster-name',
      '--repo',
      '--app-image',
      '--instance-type',
      '--instances',
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
    assert.equal(c.instances, 1, 'one instance by default: the lab as written');
    assert.equal(c.loadBalancer, false, 'no ALB question for one instance');
    assert.equal(c.keyName, undefined, 'no key pair by default: no SSH');
    assert.match(c.vpcId ?? '', /^vpc-/);
    const vpcQ = io.questions.find((q) => q.flag === '--vpc');
    assert.match(vpcQ?.choices?.find((ch) => ch.value === vpcQ.default)?.name ?? '', /\(default\)/, 'the default VPC is preselected');
    const subnetQ = io.questions.find((q) => q.flag === '--subnet');
    assert.match(subnetQ?.choices?.find((ch) => ch.value === subnetQ.default)?.name ?? '', /public/, 'a public subnet is preselected');
    assert.equal(c.allowCidr, '127.0.0.1/32', "the detected IP (the sandbox's checkip) is preselected");
    assert.equal(c.retentionDays, 30);
    assert.ok(Object.isFrozen(c), 'the steps get a frozen config');
    // Monitoring is on by default (issue 21): its steps are in the plan (no topic to create without --alarm-email).
    assert.deepEqual(plan.changes.map((p) => p.step.id).sort(), ['alarms', 'cluster', 'dashboard', 'iam', 'image', 'instance', 'log-group', 'metric-filters', 'query-definitions', 'security-group', 'service', 'task']);
    const summary = io.events.find((e) => e.type === 'message' && /Estimated cost/.test(e.text));
    assert.ok(summary, 'the summary with a cost estimate was shown before confirming');
  });
});

test('the wizard returns answers and writes nothing: the session it asked from is unchanged, the answers reach the config only through resolveSettings', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true, answers: { '--instances': '3', '--cluster-name': 'Asked' } });
    const { rt, s } = await runtime(sb, io);
    const before = structuredClone({ config: s.resolved.config, sources: s.resolved.sources });
    const asked = await askMissing(rt, s);
    assert.deepEqual({ config: s.resolved.config, sources: s.resolved.sources }, before, 'the session resolved before asking is as it was');
    assert.ok(Object.isFrozen(s.resolved.config));
    assert.equal(asked.answers.clusterName, 'Asked');
    assert.equal(asked.answers.instances, 3);
    assert.equal(asked.answers.loadBalancer, true);
    const after = rt.settle(s, { answers: asked.answers }, asked.keyPair);
    assert.deepEqual([after.resolved.config.clusterName, after.resolved.sources.clusterName, after.resolved.config.instances], ['Asked', 'prompt', 3]);
    assert.deepEqual(after.inputs.answers, asked.answers, 'the answers are one more input of the one resolution');
  });
});

test('--instances 3 --load-balancer: the shape is not asked, the subnet never is, and the defaults plan the group', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true });
    const { rt, s } = await runtime(sb, io, { instances: 3, loadBalancer: 'true' });
    const { ctx, plan } = await wizard(rt, s);
    assert.deepEqual(io.asked, ['--cluster-name', '--repo', '--app-image', '--instance-type', '--key-name', '--vpc', '--allow-cidr', '--log-group', '--retention-days', '--yes']);
    assert.equal(ctx.config.subnetId, undefined);
    assert.deepEqual(plan.changes.map((p) => p.step.id).sort(), ['alarms', 'auto-scaling-group', 'capacity-provider', 'cluster', 'dashboard', 'iam', 'image', 'launch-template', 'load-balancer', 'log-group', 'metric-filters', 'query-definitions', 'security-group', 'service', 'target-group', 'task']);
  });
});

test('nothing given: choosing 3 instances asks for the ALB (default yes) and plans the group, with no subnet question', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true, answers: { '--instances': '3' } });
    const { rt, s } = await runtime(sb, io);
    const { ctx, plan } = await wizard(rt, s);
    assert.deepEqual(io.asked.slice(3, 6), ['--instance-type', '--instances', '--load-balancer']);
    assert.ok(!io.asked.includes('--subnet'), 'a group has no subnet to ask');
    const lb = io.questions.find((q) => q.flag === '--load-balancer');
    assert.equal(lb?.default, true);
    assert.equal(ctx.config.instances, 3);
    assert.equal(ctx.config.loadBalancer, true);
    assert.ok(plan.changes.some((p) => p.step.id === 'load-balancer'));
    assert.ok(!plan.changes.some((p) => p.step.id === 'instance'));
  });
});

test('a saved subnet does not block a move to a group: set aside, said, and kept in the file; --subnet "" forgets it', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: false });
    const saved = (conn: Connection) =>
      withUserSettings('wiz', conn.target, resolveSettings({ flags: { image: 'a/b:1', allowCidr: '198.51.100.0/24', subnetId: 'subnet-0123456789abcdef0' }, env: {} }), undefined);
    const { rt, s } = await runtime(sb, io, { instances: 3 }, saved);
    const { ctx } = await wizard(rt, s);
    assert.equal(ctx.config.subnetId, undefined);
    assert.deepEqual(s.resolved.notApplied?.map((n) => [n.key, n.value]), [['subnetId', 'subnet-0123456789abcdef0']]);
    const after = withUserSettings('wiz', s.conn.target, s.resolved, rt.validated.saved);
    assert.equal(Object.values(after.targets)[0]?.settings.subnetId, 'subnet-0123456789abcdef0', 'kept for a move back');
    // --subnet "": forgotten, whatever was saved.
    const { s: s2, rt: rt2 } = await runtime(sb, io, { subnetId: '' }, saved);
    assert.equal(s2.resolved.config.subnetId, undefined);
    const cleared = withUserSettings('wiz', s2.conn.target, s2.resolved, rt2.validated.saved);
    assert.equal(Object.values(cleared.targets)[0]?.settings.subnetId, undefined);
    assert.equal(Object.values(cleared.targets)[0]?.settings.allowCidr, '198.51.100.0/24', 'the rest stays');
  });
});

test('a value given as a flag is never asked for', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true });
    const flags: FlagValues = { region: 'us-east-1', clusterName: 'Given', instanceType: 't3.medium', allowCidr: '198.51.100.0/24', image: 'a/b:1', keyName: 'k' };
    const { rt, s } = await runtime(sb, io, flags);
    await assert.rejects(wizard(rt, s), /Key pair k not found|key pair/i, 'a given key pair is checked against the account');
    for (const f of ['--region', '--cluster-name', '--instance-type', '--allow-cidr', '--repo', '--key-name']) assert.ok(!io.asked.includes(f), `${f} was not asked`);
  });
});

test('answers are validated with the flags\' own validators', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true, answers: { '--allow-cidr': '10.0.0.1' } });
    const { rt, s } = await runtime(sb, io, { region: 'us-east-1', image: 'a/b:1' });
    await assert.rejects(askMissing(rt, s), /validation failed for --allow-cidr: "10\.0\.0\.1" is not an IPv4 CIDR block: use a form such as 203\.0\.113\.7\/32/);
    const q = io.questions.find((x) => x.flag === '--allow-cidr');
    assert.equal(q?.validate?.('10.0.0.0/8'), true);
    assert.match(String(q?.validate?.('10.0.0.1/8')), /host bits set/);
    assert.match(String(io.questions.find((x) => x.flag === '--cluster-name')?.validate?.('no spaces')), /letters, digits, hyphens and underscores/);
  });
});

test('with saved answers nothing is asked, not even to confirm', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: true });
    const saved = (conn: Connection) => withUserSettings('wiz', conn.target, resolveSettings({ flags: { image: 'a/b:1', allowCidr: '198.51.100.0/24' }, env: {} }), undefined);
    const { rt, s } = await runtime(sb, io, {}, saved);
    await wizard(rt, s);
    assert.deepEqual(io.asked, []);
  });
});

test('no terminal: missing settings fail at once, naming the flags', async () => {
  await withSandbox({}, async (sb) => {
    const io = new RecordingIoHost({ interactive: false });
    const { rt, s } = await runtime(sb, io, { region: 'us-east-1' });
    await assert.rejects(askMissing(rt, s), (e: unknown) => e instanceof UserInputError && e.exitCode === 2 && /--repo, --image/.test(e.message));
    assert.deepEqual(io.asked, []);
  });
});
