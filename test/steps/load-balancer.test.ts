/**
 * The load balancer and its target group against the sandbox, through the engine and real SDK
 * clients: the calls a second run makes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySteps } from '../../src/engine/engine.js';
import { STACK_TAG } from '../../src/core/context.js';
import { STEPS } from '../../src/steps/index.js';
import { elbTags } from '../../src/steps/target-group.js';
import { stackInventory, taggedResources } from '../../src/steps/inventory.js';
import { mutatingCalls, sandboxContext, withSandbox } from '../helpers/sandbox-context.js';

const GROUP = { instances: 2, loadBalancer: true };

test("load-balancer, target-group: a second run takes the ALB's and the target group's tags from the run's Tagging API listing (no DescribeTags); one the listing lacks is read from ELB itself", { timeout: 120_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb, { config: GROUP });
    const first = await applySteps(STEPS, ctx, { targets: ['target-group', 'load-balancer'] });
    assert.ok(first.ok);

    const since = sb.requestLog().length;
    const run = Object.create(await sandboxContext(sb, { config: GROUP }), { inventory: { value: stackInventory() } }) as typeof ctx;
    const again = await applySteps(STEPS, run, { targets: ['target-group', 'load-balancer'] });
    assert.deepEqual(again.steps.filter((s) => s.id === 'target-group' || s.id === 'load-balancer').map((s) => s.action), ['noop', 'noop']);
    assert.deepEqual(mutatingCalls(sb, since), []);
    const calls = sb.requestLog().slice(since).map((c) => `${c.service}:${c.operation}`);
    assert.equal(calls.filter((c) => c === 'tagging:GetResources').length, 1);
    assert.deepEqual(calls.filter((c) => c === 'elasticloadbalancing:DescribeTags'), [], 'the tags come from the listing');
    // The ALB's security group is among the stack's tagged groups the run reads once: no read by name.
    assert.equal(calls.filter((c) => c === 'ec2:DescribeSecurityGroups').length, 1, calls.join(', '));

    // A target group the listing lacks (created after it: the Tagging API is eventually consistent)
    // is read with DescribeTags, and found ours.
    const late = Object.create(await sandboxContext(sb, { config: GROUP }), { inventory: { value: stackInventory() } }) as typeof ctx;
    await taggedResources(late);
    const vpc = (await ctx.ec2.describeVpcs({ Filters: [{ Name: 'is-default', Values: ['true'] }] })).Vpcs![0]!.VpcId!;
    const tg = (await ctx.elbv2.createTargetGroup({ Name: 'late-tg', Protocol: 'HTTP', Port: 80, VpcId: vpc, Tags: [{ Key: STACK_TAG, Value: 'test' }] })).TargetGroups![0]!.TargetGroupArn!;
    const mark = sb.requestLog().length;
    const tags = await elbTags(late, [tg]);
    assert.equal(tags.get(tg)?.[STACK_TAG], 'test');
    assert.deepEqual(sb.requestLog().slice(mark).map((c) => `${c.service}:${c.operation}`), ['elasticloadbalancing:DescribeTags']);
  });
});
