import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySteps, destroySteps, EngineError, inspectSteps, topoSort } from '../../src/engine/engine.js';
import { realClock, SANDBOX_TIMING } from '../../src/core/context.js';
import type { Context } from '../../src/engine/context.js';
import { InterruptedError, UserInputError } from '../../src/core/errors.js';
import { ABSENT, isAbsent, type AnyStep, type StepId } from '../../src/core/step.js';
import { RecordingIoHost } from '../../src/io/recording.js';

/** A fake "resource" step over an in-memory store, recording when it ran. */
function fakeStep(id: StepId, dependsOn: StepId[], world: Map<string, string>, log: string[], opts: { delayMs?: number; fail?: boolean; conflict?: boolean; badInput?: string } = {}): AnyStep {
  const sleep = () => new Promise((r) => setTimeout(r, opts.delayMs ?? 0));
  return {
    id,
    title: `step ${id}`,
    dependsOn,
    async read() {
      return world.has(id) ? { value: world.get(id) } : ABSENT;
    },
    ...(opts.badInput
      ? {
          async prepare() {
            throw new UserInputError({ what: opts.badInput! });
          },
        }
      : {}),
    desired: (_ctx: unknown, deps: Record<string, { value?: string } | undefined>) => ({ value: `v(${dependsOn.map((d) => deps[d]?.value).join(',')})` }),
    plan: (o: { value: string } | typeof ABSENT, d: { value: string }) =>
      opts.conflict
        ? { action: 'conflict', what: `${id} is not ours`, why: 'tagged otherwise', fix: 'pass --adopt' }
        : isAbsent(o)
          ? { action: 'create', summary: id }
          : o.value === d.value
            ? { action: 'noop' }
            : { action: 'update', summary: 'value', diffs: [{ field: 'value', from: o.value, to: d.value }] },
    async apply(_ctx, { plan, desired }) {
      log.push(`start ${id}`);
      await sleep();
      if (opts.fail) throw new Error(`boom in ${id}`);
      if (plan.action !== 'noop') world.set(id, desired.value);
      log.push(`end ${id}`);
      return { value: desired.value };
    },
    preview: (_o, d) => ({ value: d.value }),
    describe: (o: { value: string }) => ({ value: o.value }),
    async destroy() {
      log.push(`destroy ${id}`);
      await sleep();
      const had = world.delete(id);
      return { deleted: had ? [id] : [], kept: [] };
    },
    async destroyPreview() {
      return { deleted: world.has(id) ? [id] : [], kept: [] };
    },
  };
}

function ctx(signal = new AbortController().signal): Context {
  return { io: new RecordingIoHost(), clock: realClock, signal, timing: SANDBOX_TIMING, report() {} } as unknown as Context;
}

test('topoSort orders by dependency and rejects cycles and unknown deps', () => {
  const w = new Map<string, string>();
  const steps = [fakeStep('service', ['task', 'cluster'], w, []), fakeStep('task', ['image'], w, []), fakeStep('image', [], w, []), fakeStep('cluster', [], w, [])];
  const order = topoSort(steps).map((s) => s.id);
  assert.ok(order.indexOf('image') < order.indexOf('task'));
  assert.ok(order.indexOf('task') < order.indexOf('service'));
  assert.ok(order.indexOf('cluster') < order.indexOf('service'));
  assert.throws(() => topoSort([fakeStep('task', ['image'], w, [])]), /unknown step image/);
  assert.throws(() => topoSort([fakeStep('task', ['image'], w, []), fakeStep('image', ['task'], w, [])]), /cycle/);
});

test('independent steps overlap; dependents wait; outputs flow to desired', async () => {
  const world = new Map<string, string>();
  const log: string[] = [];
  const steps = [fakeStep('image', [], world, log, { delayMs: 40 }), fakeStep('cluster', [], world, log, { delayMs: 40 }), fakeStep('task', ['image', 'cluster'], world, log)];
  const report = await applySteps(steps, ctx());
  assert.deepEqual(log.slice(0, 2).sort(), ['start cluster', 'start image'], 'both independent steps started before either ended');
  assert.ok(log.indexOf('start task') > log.indexOf('end image') && log.indexOf('start task') > log.indexOf('end cluster'));
  assert.equal(world.get('task'), 'v(v(),v())');
  assert.deepEqual(report.steps.map((s) => s.action), ['create', 'create', 'create']);
  // Second run: everything in sync, nothing applied that changes the world.
  const again = await applySteps(steps, ctx());
  assert.deepEqual(again.steps.map((s) => s.action), ['noop', 'noop', 'noop']);
});

test('dry run plans but never applies', async () => {
  const world = new Map<string, string>();
  const log: string[] = [];
  const report = await applySteps([fakeStep('cluster', [], world, log)], ctx(), { dryRun: true });
  assert.equal(report.steps[0]?.action, 'create');
  assert.equal(world.size, 0);
  assert.deepEqual(log, []);
});

test('a failed step skips its dependents but not independent steps, and the error is kept', async () => {
  const world = new Map<string, string>();
  const log: string[] = [];
  const steps = [fakeStep('image', [], world, log, { fail: true }), fakeStep('cluster', [], world, log), fakeStep('task', ['image'], world, log)];
  const err = await applySteps(steps, ctx()).then(
    () => assert.fail('should fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof EngineError);
  assert.match(err.message, /boom in image/);
  const byId = Object.fromEntries(err.report.steps.map((s) => [s.id, s.action]));
  assert.deepEqual(byId, { image: 'failed', cluster: 'create', task: 'skipped' });
});

test('a targeted step only reads its dependencies and names the command for a missing one', async () => {
  const world = new Map<string, string>();
  const log: string[] = [];
  const steps = [fakeStep('image', [], world, log), fakeStep('task', ['image'], world, log)];
  const err = await applySteps(steps, ctx(), { targets: ['task'] }).catch((e: unknown) => e);
  assert.ok(err instanceof UserInputError, 'found while planning, before anything runs');
  assert.match(err.message, /`ecs-cwlogs image`/);
  assert.deepEqual(log, [], 'nothing was applied');
  world.set('image', 'existing');
  await applySteps(steps, ctx(), { targets: ['task'] });
  assert.deepEqual(log, ['start task', 'end task'], 'the dependency was read, not applied');
});

test('destroy runs in reverse dependency order', async () => {
  const world = new Map<string, string>([['image', 'x'], ['cluster', 'y'], ['task', 'z']]);
  const log: string[] = [];
  const steps = [fakeStep('image', [], world, log), fakeStep('cluster', [], world, log), fakeStep('task', ['image', 'cluster'], world, log)];
  const report = await destroySteps(steps, ctx());
  assert.equal(log[0], 'destroy task');
  assert.equal(world.size, 0);
  assert.equal(report.steps.find((s) => s.id === 'image')?.deleted?.[0], 'image');
});

test('an abort stops the run with InterruptedError and says what finished', async () => {
  const world = new Map<string, string>();
  const log: string[] = [];
  const ac = new AbortController();
  const steps = [fakeStep('image', [], world, log, { delayMs: 30 }), fakeStep('task', ['image'], world, log)];
  setTimeout(() => ac.abort(new Error('interrupted')), 10);
  const err = await applySteps(steps, ctx(ac.signal)).catch((e: unknown) => e);
  assert.ok(err instanceof EngineError);
  assert.ok(err.error instanceof InterruptedError);
  assert.equal(err.error.exitCode, 130);
  assert.equal(err.report.steps.find((s) => s.id === 'task')?.action, 'skipped');
});

test('inspect reports absent, drifted and in-sync steps without applying', async () => {
  const world = new Map<string, string>([['cluster', 'stale']]);
  const log: string[] = [];
  const report = await inspectSteps([fakeStep('cluster', [], world, log), fakeStep('image', [], world, log)], ctx());
  const byId = Object.fromEntries(report.steps.map((s) => [s.id, s.action]));
  assert.deepEqual(byId, { cluster: 'update', image: 'absent' });
  assert.deepEqual(log, []);
});

test('a conflict anywhere in the run fails it before any step applies', async () => {
  const world = new Map<string, string>();
  const log: string[] = [];
  const steps = [fakeStep('image', [], world, log), fakeStep('cluster', [], world, log), fakeStep('task', ['image', 'cluster'], world, log, { conflict: true })];
  const err = await applySteps(steps, ctx()).catch((e: unknown) => e);
  assert.ok(err instanceof Error && /task is not ours/.test(err.message));
  assert.deepEqual(log, [], 'not even the independent steps applied');
  assert.equal(world.size, 0);
});

test('every failed precondition of the run is reported together, before anything applies', async () => {
  const world = new Map<string, string>();
  const log: string[] = [];
  const steps = [fakeStep('image', [], world, log, { badInput: 'bad image repo' }), fakeStep('cluster', [], world, log, { badInput: 'bad cluster' }), fakeStep('log-group', [], world, log)];
  const err = await applySteps(steps, ctx()).catch((e: unknown) => e);
  assert.ok(err instanceof UserInputError);
  assert.equal(err.exitCode, 2);
  assert.match(err.message, /2 problems, nothing was changed/);
  assert.match(err.message, /bad image repo/);
  assert.match(err.message, /bad cluster/);
  assert.deepEqual(log, []);
});

test('a dry-run destroy reads what would be deleted and deletes nothing', async () => {
  const world = new Map<string, string>([['image', 'x'], ['cluster', 'y']]);
  const log: string[] = [];
  const steps = [fakeStep('image', [], world, log), fakeStep('cluster', [], world, log)];
  const report = await destroySteps(steps, ctx(), { dryRun: true });
  assert.deepEqual(log, []);
  assert.equal(world.size, 2);
  assert.deepEqual(report.steps.flatMap((s) => s.deleted ?? []).sort(), ['cluster', 'image']);
  assert.equal(report.dryRun, true);
});

test('a step whose dependency became known by applying gets its desired state completed with it', async () => {
  const world = new Map<string, string>();
  const log: string[] = [];
  const steps = [fakeStep('image', [], world, log), fakeStep('task', ['image'], world, log)];
  await applySteps(steps, ctx());
  world.delete('image');
  world.set('task', 'v(v())');
  // The plan sees task in sync with image's preview; applying image changes nothing task sees.
  const report = await applySteps(steps, ctx());
  assert.deepEqual(report.steps.map((s) => s.action), ['create', 'noop']);
});
