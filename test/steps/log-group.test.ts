/**
 * The `log-group` step against the sandbox, through the engine and real SDK clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySteps, destroySteps } from '../../src/engine/engine.js';
import { ConflictError } from '../../src/core/errors.js';
import { STACK_TAG } from '../../src/core/context.js';
import { STEPS } from '../../src/steps/index.js';
import { readLogGroup } from '../../src/steps/log-group.js';
import { stackInventory, taggedResources } from '../../src/steps/inventory.js';
import { isAbsent } from '../../src/core/step.js';
import { mutatingCalls, sandboxContext, withSandbox } from '../helpers/sandbox-context.js';

test('log-group: creates the group with retention and the stack tag; a second run makes zero mutating calls', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    const report = await applySteps(STEPS, ctx, { targets: ['log-group'] });
    assert.equal(report.steps[0]!.action, 'create');
    assert.deepEqual(report.outputs['log-group'], {
      logGroup: 'ecs',
      logGroupArn: `arn:aws:logs:us-east-1:${ctx.account}:log-group:ecs`,
      retentionDays: 30,
    });
    const g = await readLogGroup(ctx, 'ecs');
    assert.ok(!isAbsent(g));
    assert.equal(g.retentionDays, 30);
    assert.equal(g.tags[STACK_TAG], 'test');

    const since = sb.requestLog().length;
    const again = await applySteps(STEPS, await sandboxContext(sb), { targets: ['log-group'] });
    assert.equal(again.steps[0]!.action, 'noop');
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('log-group: retention drift is repaired with one call', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    await applySteps(STEPS, ctx, { targets: ['log-group'] });
    await ctx.logs.putRetentionPolicy({ logGroupName: 'ecs', retentionInDays: 7 });
    const ninety = await sandboxContext(sb, { config: { retentionDays: 90 } });
    const dry = await applySteps(STEPS, ninety, { targets: ['log-group'], dryRun: true });
    const plan = dry.steps[0]!.plan!;
    assert.ok(plan.action === 'update' && plan.diffs.some((d) => d.field === 'retentionDays' && d.to === 90));
    const since = sb.requestLog().length;
    await applySteps(STEPS, ninety, { targets: ['log-group'] });
    assert.deepEqual(mutatingCalls(sb, since), ['logs:PutRetentionPolicy']);
    const g = await readLogGroup(ctx, 'ecs');
    assert.equal(!isAbsent(g) && g.retentionDays, 90);
  });
});

test('log-group: an existing group is adopted only with --adopt, and kept by destroy unless --delete-logs', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    await ctx.logs.createLogGroup({ logGroupName: 'ecs' });

    const since = sb.requestLog().length;
    await assert.rejects(applySteps(STEPS, ctx, { targets: ['log-group'] }), (e: unknown) => e instanceof ConflictError && /--adopt/.test(e.message));
    assert.deepEqual(mutatingCalls(sb, since), []);
    // Not ours: destroy leaves it, even with --delete-logs.
    const d0 = await destroySteps(STEPS, await sandboxContext(sb, { deleteLogs: true }), { targets: ['log-group'] });
    assert.deepEqual(d0.steps[0]!.deleted, []);
    assert.match(d0.steps[0]!.kept!.join(), /not tagged/);

    const adopting = await sandboxContext(sb, { adopt: true });
    const r = await applySteps(STEPS, adopting, { targets: ['log-group'] });
    assert.equal(r.steps[0]!.action, 'update');
    const g = await readLogGroup(ctx, 'ecs');
    assert.ok(!isAbsent(g) && g.owned && g.retentionDays === 30);

    // Ours now, but logs are kept unless asked.
    const kept = await destroySteps(STEPS, ctx, { targets: ['log-group'] });
    assert.deepEqual(kept.steps[0]!.deleted, []);
    assert.match(kept.steps[0]!.kept!.join(), /kept; pass --delete-logs/);
    assert.ok(!isAbsent(await readLogGroup(ctx, 'ecs')));

    const gone = await destroySteps(STEPS, await sandboxContext(sb, { deleteLogs: true }), { targets: ['log-group'] });
    assert.deepEqual(gone.steps[0]!.deleted, ['log group ecs']);
    assert.ok(isAbsent(await readLogGroup(ctx, 'ecs')));
  });
});

test('log-group: a group whose name is a prefix of another is still found exactly', async () => {
  await withSandbox({ pageSize: 1 }, async (sb) => {
    const ctx = await sandboxContext(sb);
    await ctx.logs.createLogGroup({ logGroupName: 'ecs-other' });
    await ctx.logs.createLogGroup({ logGroupName: 'ecs-zzz' });
    await applySteps(STEPS, ctx, { targets: ['log-group'] });
    const g = await readLogGroup(ctx, 'ecs');
    assert.ok(!isAbsent(g) && g.owned);
  });
});

test("log-group: a second run takes the group's tags from the run's Tagging API listing (no ListTagsForResource); a group the listing lacks is read from Logs itself", async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    await applySteps(STEPS, ctx, { targets: ['log-group'] });

    // A run with an inventory, as the CLI makes: one GetResources, one DescribeLogGroups, no per-group tag read.
    const since = sb.requestLog().length;
    const run = Object.create(await sandboxContext(sb), { inventory: { value: stackInventory() } }) as typeof ctx;
    const again = await applySteps(STEPS, run, { targets: ['log-group'] });
    assert.equal(again.steps[0]!.action, 'noop');
    const calls = sb.requestLog().slice(since).map((c) => `${c.service}:${c.operation}`).filter((c) => c !== 'sts:GetCallerIdentity');
    assert.deepEqual(calls.sort(), ['logs:DescribeLogGroups', 'tagging:GetResources']);

    // The listing is eventually consistent: a group created after it (or not listed yet) is not
    // taken for someone else's; its tags are read with ListTagsForResource, and it is ours.
    const late = Object.create(await sandboxContext(sb), { inventory: { value: stackInventory() } }) as typeof ctx;
    await taggedResources(late);
    await ctx.logs.createLogGroup({ logGroupName: 'ecs-late', tags: { [STACK_TAG]: 'test' } });
    const mark = sb.requestLog().length;
    const g = await readLogGroup(late, 'ecs-late');
    assert.ok(!isAbsent(g) && g.owned, 'a group missing from the listing is read, and found ours');
    assert.deepEqual(sb.requestLog().slice(mark).map((c) => `${c.service}:${c.operation}`), ['logs:DescribeLogGroups', 'logs:ListTagsForResource']);
  });
});
