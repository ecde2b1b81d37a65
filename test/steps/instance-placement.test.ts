/**
 * The `instance` step's placement and lifecycle choices against the sandbox: the subnet is chosen
 * among zones that offer the type, a launch falls back to the next zone on capacity errors (and
 * stays idempotent when killed between zones), burstable types get standard credits, a moved AMI
 * is a note (not drift), and --replace-instance replaces with no second instance left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySteps, inspectSteps, type RunReport } from '../../src/engine/engine.js';
import { AwsError, UserInputError } from '../../src/core/errors.js';
import type { StepId } from '../../src/core/step.js';
import { STEPS } from '../../src/steps/index.js';
import { instanceStep, isRegistered, stackInstances } from '../../src/steps/instance.js';
import { builtinNetwork } from '../../src/sandbox/services/ec2/index.js';
import { publishEcsAmi } from '../../src/sandbox/services/ec2/ec2-data.js';
import { crashingAt, mutatingCalls, sandboxContext, withSandbox, type TestContextOptions } from '../helpers/sandbox-context.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';

const UP: StepId[] = ['iam', 'cluster', 'security-group', 'instance'];
const LIVE = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
const net = builtinNetwork('us-east-1');
const ZONE_OF = Object.fromEntries(net.defaultSubnetIds.map((id, i) => [id, `us-east-1${'abc'[i]}`]));

async function up(sb: RunningSandbox, o: TestContextOptions = {}) {
  const ctx = await sandboxContext(sb, o);
  const report = await applySteps(STEPS, ctx, { targets: UP });
  return { ctx, report };
}
const inst = (r: RunReport) => r.outputs.instance as unknown as Record<string, string>;
const calls = (sb: RunningSandbox, op: string, since = 0) =>
  sb
    .requestLog()
    .slice(since)
    .filter((r) => `${r.service}:${r.operation}` === op)
    .map((r) => r.errorCode ?? String(r.status));

test('placement: the subnet is one whose zone offers the type; burstable types launch with standard credits', async () => {
  await withSandbox({}, async (sb) => {
    sb.world.settings.notOffered = { 'us-east-1a': ['t3.*'] };
    const { ctx, report } = await up(sb);
    const out = inst(report);
    assert.equal(ZONE_OF[out.subnetId!], 'us-east-1b', 'us-east-1a does not offer t3.small');
    assert.deepEqual(calls(sb, 'ec2:RunInstances'), ['200'], 'no launch was tried where the type is not offered');
    const plan = report.steps.find((s) => s.id === 'instance')!.plan!;
    assert.match(plan.action === 'create' ? plan.summary : '', /us-east-1b, which offers t3\.small/);
    const credits = await (ctx.ec2 as any).describeInstanceCreditSpecifications({ InstanceIds: [out.instanceId] });
    assert.equal(credits.InstanceCreditSpecifications[0].CpuCredits, 'standard');

    // m5 is not burstable: no CreditSpecification in its launch.
    const m5 = await up(sb, { stack: 'm5', config: { instanceType: 'm5.large', securityGroupName: 'm5-sg', clusterName: 'm5c', iamName: 'm5iam' } });
    const record = sb.world.state.ec2.instances[inst(m5.report).instanceId!];
    assert.equal(record.cpuCredits, undefined);
    assert.equal(ZONE_OF[record.subnetId], 'us-east-1a', 'm5.large is offered in us-east-1a');
  });
});

test('placement: a --subnet whose zone does not offer the type is an input error at plan time, with 0 mutating calls', async () => {
  await withSandbox({}, async (sb) => {
    sb.world.settings.notOffered = { 'us-east-1c': ['t3.small'] };
    const ctx = await sandboxContext(sb, { config: { subnetId: net.defaultSubnetIds[2] } });
    await assert.rejects(applySteps(STEPS, ctx, { targets: UP }), (e: unknown) => {
      assert.ok(e instanceof UserInputError, String(e));
      assert.match(e.message, /Instance type t3\.small is not offered in us-east-1c/);
      assert.match(e.message, /us-east-1a, us-east-1b/);
      assert.match(e.message, /--instance-type/);
      return true;
    });
    assert.deepEqual(mutatingCalls(sb), []);
  });
});

test('placement: InsufficientInstanceCapacity moves the launch to the next zone and says so; the next up is a no-op', async () => {
  await withSandbox({}, async (sb) => {
    sb.world.settings.capacity = { 'us-east-1a': 0 };
    const { ctx, report } = await up(sb);
    const out = inst(report);
    assert.equal(ZONE_OF[out.subnetId!], 'us-east-1b');
    // One try in us-east-1a (the SDK does not retry InsufficientInstanceCapacity), one launch in us-east-1b.
    assert.deepEqual(calls(sb, 'ec2:RunInstances'), ['InsufficientInstanceCapacity', '200']);
    assert.match(ctx.io.progressOf('instance').join('\n'), /no t3\.small capacity in us-east-1a: trying us-east-1b/);
    assert.equal((await stackInstances(ctx, LIVE)).length, 1);
    assert.ok(await isRegistered(ctx, 'ECSCloudWatchLogs', out.instanceId!));

    // The instance is in another subnet than the first choice: that is no drift.
    const since = sb.requestLog().length;
    const again = await up(sb);
    assert.equal(again.report.steps.find((s) => s.id === 'instance')!.action, 'noop');
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('placement: no zone has capacity: a clear error naming the type and the zones tried, and no instance', async () => {
  await withSandbox({}, async (sb) => {
    sb.world.settings.capacity = { 'us-east-1a': 0, 'us-east-1b': 0, 'us-east-1c': 0 };
    const ctx = await sandboxContext(sb);
    await assert.rejects(applySteps(STEPS, ctx, { targets: UP }), (e: any) => {
      const err = e.error ?? e;
      assert.ok(err instanceof AwsError || err.kind === 'aws', String(err));
      assert.match(err.message, /Cannot launch a t3\.small instance/);
      assert.match(err.message, /us-east-1a, us-east-1b, us-east-1c/);
      assert.match(err.message, /another --instance-type/);
      return true;
    });
    assert.equal((await stackInstances(ctx, LIVE)).length, 0);
    assert.deepEqual(calls(sb, 'ec2:RunInstances'), ['InsufficientInstanceCapacity', 'InsufficientInstanceCapacity', 'InsufficientInstanceCapacity'], 'one try per zone');
  });
});

test('placement: killed right after the launch in the second zone, then run again with capacity back in the first: still one instance', async () => {
  await withSandbox({}, async (sb) => {
    sb.world.settings.capacity = { 'us-east-1a': 0 };
    const base = await sandboxContext(sb);
    // The process "dies" when RunInstances succeeds (in us-east-1b): the response is lost.
    const crashing = crashingAt(base, 'runInstances', 'after');
    await assert.rejects(applySteps(STEPS, crashing, { targets: UP }), /SIGKILL/);
    const launched = await stackInstances(base, LIVE);
    assert.equal(launched.length, 1);
    assert.equal(ZONE_OF[launched[0]!.subnetId], 'us-east-1b');

    // us-east-1a has capacity again, and the new run does not see the instance (as if DescribeInstances
    // lagged): the launch tries us-east-1a first with the same token, and gets the instance back.
    delete sb.world.settings.capacity;
    const ctx = await sandboxContext(sb);
    // Its prepare does not see the instance either (a run that sees its instance takes its subnet and checks nothing).
    const ec2 = new Proxy(ctx.ec2, { get: (t, p) => (p === 'describeInstances' ? async () => ({ Reservations: [] }) : Reflect.get(t, p)) });
    const lagging = new Proxy(ctx, { get: (t, p) => (p === 'ec2' ? ec2 : Reflect.get(t, p)) });
    const prepared = await instanceStep.prepare!(lagging);
    const first = await applySteps(STEPS, ctx, { targets: ['iam', 'cluster', 'security-group'] });
    const deps = { iam: first.outputs.iam!, cluster: { clusterName: 'ECSCloudWatchLogs', clusterArn: '' }, 'security-group': first.outputs['security-group']! };
    const desired = instanceStep.desired(ctx, deps, prepared);
    assert.equal(ZONE_OF[desired.subnetId!], 'us-east-1a', 'the first choice is us-east-1a again');
    const since = sb.requestLog().length;
    const out = await instanceStep.apply(ctx, { plan: { action: 'create', summary: '' }, observed: {}, desired });
    assert.equal(out.instanceId, launched[0]!.instanceId, 'the instance of the first run');
    assert.deepEqual(calls(sb, 'ec2:RunInstances', since), ['IdempotentParameterMismatch'], 'the token is the launch\'s, whatever the zone');
    assert.equal((await stackInstances(ctx, LIVE)).length, 1);
  });
});

test('AMI: a newer recommended AMI is a note in status, not drift; up makes 0 writes', async () => {
  await withSandbox({}, async (sb) => {
    const { report } = await up(sb);
    const old = inst(report).amiId!;
    const released = publishEcsAmi(sb.world, 'us-east-1', 'x86_64');
    const ctx = await sandboxContext(sb, { intent: 'inspect' });
    const status = await inspectSteps(STEPS.filter((s) => UP.includes(s.id)), ctx);
    const step = status.steps.find((s) => s.id === 'instance')!;
    assert.equal(step.action, 'noop');
    assert.equal(step.plan?.action === 'noop' ? step.plan.note : undefined, `newer AMI available: ${released.imageId} (running ${old})`);
    const since = sb.requestLog().length;
    const again = await up(sb);
    assert.equal(again.report.steps.find((s) => s.id === 'instance')!.action, 'noop');
    assert.deepEqual(mutatingCalls(sb, since), []);
    assert.match(again.ctx.io.progressOf('instance').join('\n'), /newer AMI available/);
  });
});

test('AMI: --replace-instance launches the new instance, waits until it is registered, then terminates the old one', async () => {
  await withSandbox({}, async (sb) => {
    const { report } = await up(sb);
    const old = inst(report).instanceId!;
    const released = publishEcsAmi(sb.world, 'us-east-1', 'x86_64');
    const since = sb.requestLog().length;
    const { ctx, report: r2 } = await up(sb, { replaceInstance: true });
    const step = r2.steps.find((s) => s.id === 'instance')!;
    assert.equal(step.action, 'replace');
    const out = inst(r2);
    assert.notEqual(out.instanceId, old);
    assert.equal(out.amiId, released.imageId);
    const live = await stackInstances(ctx, LIVE);
    assert.deepEqual(live.map((i) => `${i.instanceId}:${i.imageId}`), [`${out.instanceId}:${released.imageId}`], 'exactly one live instance, on the new AMI');
    assert.ok(await isRegistered(ctx, 'ECSCloudWatchLogs', out.instanceId!));
    // Order: the new instance launched before the old one was terminated.
    const ops = mutatingCalls(sb, since).filter((c) => /RunInstances|TerminateInstances/.test(c));
    assert.deepEqual(ops, ['ec2:RunInstances', 'ec2:TerminateInstances']);
    const progress = ctx.io.progressOf('instance').join('\n');
    assert.ok(progress.indexOf('registered') < progress.indexOf(`terminating ${old}`), progress);

    // Nothing more to replace: --replace-instance again is a no-op with 0 writes.
    const since2 = sb.requestLog().length;
    const r3 = await up(sb, { replaceInstance: true });
    assert.equal(r3.report.steps.find((s) => s.id === 'instance')!.action, 'noop');
    assert.deepEqual(mutatingCalls(sb, since2), []);
  });
});

test('replace: killed after the new instance registered, before the old one is terminated: the next up (no flag) terminates the old one', async () => {
  await withSandbox({}, async (sb) => {
    const { report } = await up(sb, { config: { instanceType: 't3.small' } });
    const old = inst(report).instanceId!;
    const base = await sandboxContext(sb, { replaceInstance: true, config: { instanceType: 't3.medium' } });
    const crashing = crashingAt(base, 'terminateInstances', 'before');
    await assert.rejects(applySteps(STEPS, crashing, { targets: UP }), /SIGKILL/);
    assert.equal((await stackInstances(base, LIVE)).length, 2, 'old and new both running');

    const { ctx, report: r2 } = await up(sb, { config: { instanceType: 't3.medium' } });
    const plan = r2.steps.find((s) => s.id === 'instance')!.plan!;
    assert.equal(plan.action, 'update');
    assert.ok(plan.action === 'update' && plan.diffs.some((d) => d.field === 'instance.extra'));
    const live = await stackInstances(ctx, LIVE);
    assert.equal(live.length, 1);
    assert.notEqual(live[0]!.instanceId, old);
    assert.equal(live[0]!.instanceType, 't3.medium');
  });
});

test('credits: an instance running unlimited credits (launched before) is changed in place to standard, with one call', async () => {
  await withSandbox({}, async (sb) => {
    const { report } = await up(sb);
    const id = inst(report).instanceId!;
    sb.world.state.ec2.instances[id].cpuCredits = 'unlimited'; // as t3 launches without CreditSpecification
    const since = sb.requestLog().length;
    const { ctx, report: r2 } = await up(sb);
    const plan = r2.steps.find((s) => s.id === 'instance')!.plan!;
    assert.equal(plan.action, 'update');
    assert.ok(plan.action === 'update' && plan.diffs.some((d) => d.field === 'instance.cpuCredits' && d.from === 'unlimited' && d.to === 'standard'));
    assert.deepEqual(mutatingCalls(sb, since), ['ec2:ModifyInstanceCreditSpecification']);
    const res = await (ctx.ec2 as any).describeInstanceCreditSpecifications({ InstanceIds: [id] });
    assert.equal(res.InstanceCreditSpecifications[0].CpuCredits, 'standard');
    assert.equal((await stackInstances(ctx, LIVE))[0]!.instanceId, id, 'the same instance');
    const since2 = sb.requestLog().length;
    await up(sb);
    assert.deepEqual(mutatingCalls(sb, since2), []);
  });
});
