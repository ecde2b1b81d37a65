/**
 * The `security-group` step against the sandbox, through the engine: the ingress each topology wants
 * (HTTP from the allowed CIDR for one instance or a group without ALB; the tasks' dynamic host ports
 * from the ALB's group behind a load balancer, SSH from the CIDR with a key pair in both), a same-named
 * group not ours (a conflict, or taken over with --adopt), a second run with zero writes, and teardown
 * leaving the ALB's group to its own step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySteps, destroySteps } from '../../src/engine/engine.js';
import { ConflictError } from '../../src/core/errors.js';
import { STACK_TAG, awsTags } from '../../src/core/context.js';
import type { Context } from '../../src/engine/context.js';
import { isAbsent, unknown, type AnyStep, type StepOutputs } from '../../src/core/step.js';
import { groupNames } from '../../src/core/topology.js';
import { STEPS } from '../../src/steps/index.js';
import { DYNAMIC_PORTS, desiredIngress, readSecurityGroup, ruleKey, securityGroupStep } from '../../src/steps/security-group.js';
import { builtinNetwork } from '../../src/sandbox/services/ec2/index.js';
import { mutatingCalls, sandboxContext, withSandbox, type TestContextOptions } from '../helpers/sandbox-context.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';

const net = builtinNetwork('us-east-1');
const rules = async (ctx: Context, name = 'ECSCloudWatchLogs') => (await readSecurityGroup(ctx, name, net.defaultVpcId))!.ingress.map(ruleKey).sort();

/**
 * A stand-in for the load-balancer step (written elsewhere): its "ALB security group" is a group it
 * creates, named and tagged as the real step's is. Absent until applied, so the plan sees its id unknown.
 */
function fakeLoadBalancer(): AnyStep {
  type O = { groupId: string };
  const find = async (ctx: Context): Promise<O | undefined> => {
    const g = await readSecurityGroup(ctx, groupNames(ctx.config).loadBalancerSecurityGroup, net.defaultVpcId);
    return g ? { groupId: g.groupId } : undefined;
  };
  const out = (id: StepOutputs['load-balancer']['securityGroupId']): StepOutputs['load-balancer'] => ({
    loadBalancerArn: unknown('create'),
    loadBalancerName: 'fake',
    dnsName: unknown('create'),
    securityGroupId: id,
    listenerArn: unknown('create'),
  });
  return {
    id: 'load-balancer',
    title: 'Load balancer (test stand-in)',
    dependsOn: [],
    read: async (ctx: Context) => (await find(ctx)) ?? { status: 'absent' },
    desired: () => ({}),
    plan: (o: unknown) => (isAbsent(o) ? { action: 'create', summary: 'fake ALB group' } : { action: 'noop' }),
    apply: async (ctx: Context) => {
      const found = await find(ctx);
      if (found) return out(found.groupId);
      const name = groupNames(ctx.config).loadBalancerSecurityGroup;
      const res = await ctx.ec2.createSecurityGroup({
        GroupName: name,
        Description: 'fake ALB',
        VpcId: net.defaultVpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: awsTags({ ...ctx.tags, Name: name }) }],
      });
      return out(res.GroupId!);
    },
    preview: (o: unknown) => out(isAbsent(o) ? unknown('create') : (o as O).groupId),
    describe: () => ({}),
    destroy: async () => ({ deleted: [], kept: [] }),
    destroyPreview: async () => ({ deleted: [], kept: [] }),
  };
}

async function run(sb: RunningSandbox, o: TestContextOptions = {}, withLb = false) {
  const ctx = await sandboxContext(sb, o);
  const steps = withLb ? [...STEPS, fakeLoadBalancer()] : STEPS;
  const report = await applySteps(steps, ctx, { targets: withLb ? ['load-balancer', 'security-group'] : ['security-group'] });
  return { ctx, report };
}

test('security-group: the desired ingress of each topology', () => {
  const cidr = '203.0.113.7/32';
  const keys = (r: ReturnType<typeof desiredIngress>) => r?.map(ruleKey).sort();
  // One instance, and a group without a load balancer: HTTP from the CIDR, SSH with a key pair.
  assert.deepEqual(keys(desiredIngress('single', false, cidr, undefined, undefined)), ['tcp:80-80:203.0.113.7/32']);
  assert.deepEqual(keys(desiredIngress('group', false, cidr, 'k', undefined)), ['tcp:22-22:203.0.113.7/32', 'tcp:80-80:203.0.113.7/32']);
  // Behind the ALB: the dynamic host ports from its group only, no HTTP from anywhere else.
  assert.deepEqual(keys(desiredIngress('group', true, cidr, undefined, 'sg-0alb')), [`tcp:${DYNAMIC_PORTS.from}-${DYNAMIC_PORTS.to}:sg-0alb`]);
  assert.deepEqual(keys(desiredIngress('group', true, cidr, 'k', 'sg-0alb')), ['tcp:22-22:203.0.113.7/32', 'tcp:32768-65535:sg-0alb']);
  assert.deepEqual([DYNAMIC_PORTS.from, DYNAMIC_PORTS.to], [32768, 65535]);
  // The ALB's group not created yet: the rule is planned, marked pending.
  const pending = desiredIngress('group', true, cidr, undefined, unknown('create'));
  assert.equal(pending?.[0]?.pending, true);
  // Unknown sources: not compared (status without the caller's IP, or without the load-balancer step).
  assert.equal(desiredIngress('single', false, undefined, undefined, undefined), undefined);
  assert.equal(desiredIngress('group', true, cidr, undefined, undefined), undefined);
});

test('security-group: one instance: HTTP from the CIDR (SSH with a key pair); a second run makes zero mutating calls', async () => {
  await withSandbox({}, async (sb) => {
    const probe = await sandboxContext(sb);
    await probe.ec2.createKeyPair({ KeyName: 'lab-key' });
    const { ctx, report } = await run(sb, { config: { keyName: 'lab-key' } });
    assert.equal(report.steps.find((s) => s.id === 'security-group')?.action, 'create');
    const out = report.outputs['security-group']!;
    assert.match(String(out.securityGroupId), /^sg-/);
    assert.equal(out.vpcId, net.defaultVpcId);
    assert.deepEqual(await rules(ctx), ['tcp:22-22:203.0.113.7/32', 'tcp:80-80:203.0.113.7/32']);
    const g = (await ctx.ec2.describeSecurityGroups({ GroupIds: [String(out.securityGroupId)] })).SecurityGroups![0]!;
    assert.equal(g.Tags?.find((t) => t.Key === STACK_TAG)?.Value, 'test');

    const since = sb.requestLog().length;
    const again = await run(sb, { config: { keyName: 'lab-key' } });
    assert.equal(again.report.steps.find((s) => s.id === 'security-group')?.action, 'noop');
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('security-group: a group without a load balancer keeps HTTP from the CIDR', async () => {
  await withSandbox({}, async (sb) => {
    const { ctx } = await run(sb, { config: { instances: 3 } });
    assert.deepEqual(await rules(ctx), ['tcp:80-80:203.0.113.7/32']);
  });
});

test("security-group: behind a load balancer: the tasks' host ports from the ALB's group only, planned before that group exists; a second run writes nothing", async () => {
  await withSandbox({}, async (sb) => {
    const config = { instances: 2, loadBalancer: true };
    const ctx0 = await sandboxContext(sb, { config });
    // Planned while the ALB's group does not exist yet: the rule names it as pending.
    const dry = await applySteps([...STEPS, fakeLoadBalancer()], ctx0, { targets: ['load-balancer', 'security-group'], dryRun: true });
    const plan = dry.steps.find((s) => s.id === 'security-group')!.plan!;
    assert.equal(plan.action, 'create');
    assert.match('summary' in plan ? plan.summary : '', /ports 32768-65535 from the load balancer's security group/);

    const { ctx, report } = await run(sb, { config }, true);
    const alb = String(report.outputs['load-balancer']!.securityGroupId);
    assert.match(alb, /^sg-/);
    assert.deepEqual(await rules(ctx), [`tcp:32768-65535:${alb}`], 'no port 80 from anywhere: requests come through the ALB');

    const since = sb.requestLog().length;
    const again = await run(sb, { config }, true);
    assert.equal(again.report.steps.find((s) => s.id === 'security-group')?.action, 'noop');
    assert.deepEqual(mutatingCalls(sb, since), []);

    // Teardown deletes the instances' group, not the ALB's (its own step deletes that one).
    const d = await destroySteps(STEPS, ctx, { targets: ['security-group'] });
    const deleted = d.steps.find((s) => s.id === 'security-group')!.deleted ?? [];
    assert.equal(deleted.length, 1, deleted.join(', '));
    assert.ok(!deleted.some((x) => x.includes(alb)));
    assert.equal((await ctx.ec2.describeSecurityGroups({ GroupIds: [alb] })).SecurityGroups?.length, 1);
  });
});

test('security-group: moving from one instance to a group behind the ALB: HTTP from the CIDR revoked, the host ports authorised', async () => {
  await withSandbox({}, async (sb) => {
    const { ctx } = await run(sb);
    assert.deepEqual(await rules(ctx), ['tcp:80-80:203.0.113.7/32']);
    const since = sb.requestLog().length;
    const { report } = await run(sb, { config: { instances: 2, loadBalancer: true } }, true);
    const step = report.steps.find((s) => s.id === 'security-group')!;
    assert.equal(step.action, 'update');
    const alb = String(report.outputs['load-balancer']!.securityGroupId);
    assert.deepEqual(await rules(ctx), [`tcp:32768-65535:${alb}`]);
    assert.deepEqual(mutatingCalls(sb, since), ['ec2:CreateSecurityGroup', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress']);
  });
});

test('security-group: a same-named group not tagged for the stack is a conflict (0 writes); --adopt tags it and sets its rules', async () => {
  await withSandbox({}, async (sb) => {
    const probe = await sandboxContext(sb);
    const foreign = await probe.ec2.createSecurityGroup({ GroupName: 'ECSCloudWatchLogs', Description: 'not ours', VpcId: net.defaultVpcId });
    await probe.ec2.authorizeSecurityGroupIngress({ GroupId: foreign.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] });
    const since = sb.requestLog().length;
    await assert.rejects(run(sb), (e: unknown) => e instanceof ConflictError && /--adopt/.test(e.message) && /security-group/.test(e.message));
    assert.deepEqual(mutatingCalls(sb, since), []);

    const { ctx, report } = await run(sb, { adopt: true });
    assert.equal(report.steps.find((s) => s.id === 'security-group')?.action, 'update');
    assert.equal(report.outputs['security-group']!.securityGroupId, foreign.GroupId);
    const g = await readSecurityGroup(ctx, 'ECSCloudWatchLogs', net.defaultVpcId);
    assert.ok(g?.owned, 'tagged for the stack');
    assert.deepEqual(g.ingress.map(ruleKey), ['tcp:80-80:203.0.113.7/32'], 'HTTPS to the world revoked, HTTP from the CIDR authorised');

    // Adopted, it is ours: the next run, without --adopt, is a no-op.
    const before = sb.requestLog().length;
    const again = await run(sb);
    assert.equal(again.report.steps.find((s) => s.id === 'security-group')?.action, 'noop');
    assert.deepEqual(mutatingCalls(sb, before), []);
  });
});

test('security-group: status (inspect) needs no caller IP, and compares no rules it cannot know', async () => {
  await withSandbox({}, async (sb) => {
    await run(sb);
    const ctx = await sandboxContext(sb, { config: { allowCidr: undefined }, intent: 'inspect' });
    const unreachable = Object.create(ctx, { endpoint: { value: 'http://127.0.0.1:9' } }) as Context;
    const prepared = await securityGroupStep.prepare!(unreachable);
    assert.equal(prepared.allowCidr, undefined);
    const observed = await securityGroupStep.read(unreachable, prepared);
    const desired = securityGroupStep.desired(unreachable, {}, prepared);
    assert.equal(desired.ingress, undefined);
    assert.equal(securityGroupStep.plan(observed, desired).action, 'noop');
  });
});
