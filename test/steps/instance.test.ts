/**
 * The `instance` step (the EC2 container instance) against the sandbox, through the engine and real
 * SDK clients, with the `security-group` step it launches in. It depends on `iam`, `cluster` and
 * `security-group`, which the runs create first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySteps, destroySteps, type RunReport } from '../../src/engine/engine.js';
import { ConflictError, UserInputError } from '../../src/core/errors.js';
import { STACK_TAG } from '../../src/core/context.js';
import type { Context } from '../../src/engine/context.js';
import type { StepId } from '../../src/core/step.js';
import { STEPS } from '../../src/steps/index.js';
import { instanceStep, isRegistered, stackInstances } from '../../src/steps/instance.js';
import { clientToken } from '../../src/steps/tokens.js';
import { detectPublicIp, readSecurityGroup, securityGroupStep } from '../../src/steps/security-group.js';
import { builtinNetwork } from '../../src/sandbox/services/ec2/index.js';
import { crashingAt, mutatingCalls, sandboxContext, withSandbox, type TestContextOptions } from '../helpers/sandbox-context.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';

const UP: StepId[] = ['iam', 'cluster', 'security-group', 'instance'];
const LIVE = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];

async function up(sb: RunningSandbox, o: TestContextOptions = {}) {
  const ctx = await sandboxContext(sb, o);
  const report = await applySteps(STEPS, ctx, { targets: UP });
  return { ctx, report };
}

/** The instance step's outputs, known after apply. */
function inst(report: RunReport): Record<string, string> {
  return report.outputs.instance as unknown as Record<string, string>;
}

function okCalls(sb: RunningSandbox, op: string): number {
  return sb.requestLog().filter((r) => `${r.service}:${r.operation}` === op && r.status < 400).length;
}

test('instance: creates the security group and a secure instance that registers in the cluster', async () => {
  await withSandbox({}, async (sb) => {
    const { ctx, report } = await up(sb);
    const step = report.steps.find((s) => s.id === 'instance')!;
    assert.equal(step.action, 'create');
    const out = inst(report);
    const net = builtinNetwork('us-east-1');
    assert.match(out.instanceId!, /^i-/);
    assert.match(out.securityGroupId!, /^sg-/);
    assert.equal(out.vpcId, net.defaultVpcId);
    assert.ok(net.defaultSubnetIds.includes(out.subnetId!));
    assert.ok(out.publicIp, 'a public IP');
    assert.ok(out.privateIp);
    const ssm = await ctx.ssm.getParameter({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id' });
    assert.equal(out.amiId, ssm.Parameter?.Value);

    // Progress: pending -> running -> registered.
    const progress = ctx.io.progressOf('instance').join('\n');
    assert.match(progress, /pending/);
    assert.match(progress, /running/);
    assert.match(progress, /registered in cluster ECSCloudWatchLogs/);
    assert.ok(await isRegistered(ctx, 'ECSCloudWatchLogs', out.instanceId!));

    const res = await ctx.ec2.describeInstances({ InstanceIds: [out.instanceId!] });
    const i = res.Reservations![0]!.Instances![0]!;
    assert.equal(i.State?.Name, 'running');
    assert.equal(i.InstanceType, 't3.small');
    assert.equal(i.MetadataOptions?.HttpTokens, 'required');
    assert.equal(i.MetadataOptions?.HttpPutResponseHopLimit, 1);
    assert.match(i.IamInstanceProfile?.Arn ?? '', /instance-profile\/ecs-cwlogs\/test\/ECSCloudWatchLogs-us-east-1$/);
    const tags = Object.fromEntries((i.Tags ?? []).map((t) => [t.Key, t.Value]));
    assert.equal(tags[STACK_TAG], 'test');
    assert.equal(tags.Name, 'ecs-cwlogs-test');
    assert.equal(i.KeyName, undefined);
    const volId = i.BlockDeviceMappings?.[0]?.Ebs?.VolumeId;
    const vol = (await (ctx.ec2 as unknown as { describeVolumes(x: object): Promise<{ Volumes?: { Encrypted?: boolean; VolumeType?: string }[] }> }).describeVolumes({ VolumeIds: [volId] })).Volumes?.[0];
    assert.equal(vol?.Encrypted, true);
    assert.equal(vol?.VolumeType, 'gp3');

    // User data: a real script writing ECS_CLUSTER to /etc/ecs/ecs.config (not a commented-out line).
    const record = sb.world.state.ec2.instances[out.instanceId!] as { userData?: string };
    assert.match(record.userData ?? '', /^#!\/bin\/bash/);
    assert.match(record.userData ?? '', /^echo 'ECS_CLUSTER=ECSCloudWatchLogs' >> \/etc\/ecs\/ecs.config$/m);

    // Security group: HTTP only (no key pair, no SSH), from the allowed CIDR only.
    const sg = await readSecurityGroup(ctx, 'ECSCloudWatchLogs', out.vpcId);
    assert.ok(sg?.owned);
    assert.deepEqual(sg.ingress.map((r) => `${r.protocol}:${r.fromPort}:${r.cidr}`), ['tcp:80:203.0.113.7/32']);
  });
});

test('instance: a second run makes zero mutating calls', async () => {
  await withSandbox({}, async (sb) => {
    await up(sb);
    const since = sb.requestLog().length;
    const { report } = await up(sb);
    assert.deepEqual(report.steps.map((s) => [s.id, s.action]), [['iam', 'noop'], ['cluster', 'noop'], ['security-group', 'noop'], ['instance', 'noop']]);
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('instance: SSH is opened only with a key pair, and the key pair must exist', async () => {
  await withSandbox({}, async (sb) => {
    const probe = await sandboxContext(sb);
    await probe.ec2.createKeyPair({ KeyName: 'lab-key' });
    const { ctx, report } = await up(sb, { config: { keyName: 'lab-key' } });
    const sg = await readSecurityGroup(ctx, 'ECSCloudWatchLogs', inst(report).vpcId);
    assert.deepEqual(sg!.ingress.map((r) => `${r.fromPort}:${r.cidr}`).sort(), ['22:203.0.113.7/32', '80:203.0.113.7/32']);
    const i = (await stackInstances(ctx, LIVE))[0]!;
    assert.equal(i.keyName, 'lab-key');
  });
});

test('instance: security group rule drift is repaired by authorising the new and revoking the old', async () => {
  await withSandbox({}, async (sb) => {
    const { ctx, report } = await up(sb);
    const sgId = inst(report).securityGroupId!;
    // Out of band: someone opens HTTP to the world.
    await ctx.ec2.authorizeSecurityGroupIngress({ GroupId: sgId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] });
    // And the user's address changed.
    const moved = await sandboxContext(sb, { config: { allowCidr: '198.51.100.9/32' } });
    const dry = await applySteps(STEPS, moved, { targets: UP, dryRun: true });
    const plan = dry.steps.find((s) => s.id === 'security-group')!.plan!;
    assert.equal(plan.action, 'update');
    assert.ok(plan.action === 'update' && plan.diffs.some((d) => d.field === 'ingress'));
    assert.equal(dry.steps.find((s) => s.id === 'instance')!.action, 'noop', 'the instance stays');

    const since = sb.requestLog().length;
    await applySteps(STEPS, moved, { targets: UP });
    assert.deepEqual(mutatingCalls(sb, since), ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress']);
    const sg = await readSecurityGroup(ctx, 'ECSCloudWatchLogs', inst(report).vpcId);
    assert.deepEqual(sg!.ingress.map((r) => `${r.fromPort}:${r.cidr}`), ['80:198.51.100.9/32']);
    assert.equal((await stackInstances(ctx, LIVE)).length, 1);
  });
});

test('instance: a changed instance type is planned as a replacement, never done silently, and changes nothing', async () => {
  await withSandbox({}, async (sb) => {
    await up(sb);
    const since = sb.requestLog().length;
    const { report } = await up(sb, { config: { instanceType: 't3.medium' } });
    const plan = report.steps.find((s) => s.id === 'instance')!.plan!;
    assert.equal(plan.action, 'replace');
    assert.ok(plan.action === 'replace' && plan.diffs.some((d) => d.field === 'instance.instanceType' && d.from === 't3.small' && d.to === 't3.medium'));
    assert.match(plan.action === 'replace' ? plan.fix : '', /instance --delete/);
    assert.match(plan.action === 'replace' ? plan.fix : '', /--replace-instance/, 'the fix points at the flag');
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('instance: crash after RunInstances, then run again: still one instance (stack tag found before launching)', async () => {
  await withSandbox({}, async (sb) => {
    const base = await sandboxContext(sb);
    // A context whose process "dies" right after RunInstances returned.
    const crashing = crashingAt(base, 'runInstances', 'after');
    await assert.rejects(applySteps(STEPS, crashing, { targets: UP }));
    assert.equal(okCalls(sb, 'ec2:RunInstances'), 1);

    const { report } = await up(sb);
    assert.equal(okCalls(sb, 'ec2:RunInstances'), 1, 'no second RunInstances');
    const live = await stackInstances(base, LIVE);
    assert.equal(live.length, 1);
    assert.equal(inst(report).instanceId, live[0]!.instanceId);
  });
});

test('instance: ClientToken: launching again with a forgotten state returns the same instance; after delete a new one launches', async () => {
  await withSandbox({}, async (sb) => {
    const { ctx, report } = await up(sb);
    const first = inst(report).instanceId!;
    const deps = { iam: report.outputs.iam!, cluster: report.outputs.cluster!, 'security-group': report.outputs['security-group']! };
    const desired = instanceStep.desired(ctx, deps, await instanceStep.prepare!(ctx));
    // "Forget" the instance: apply a create plan as if the read had found nothing.
    const out = await instanceStep.apply(ctx, { plan: { action: 'create', summary: '' }, observed: {}, desired });
    assert.equal(out.instanceId, first);
    assert.equal(okCalls(sb, 'ec2:RunInstances'), 2, 'RunInstances was called again');
    assert.equal((await stackInstances(ctx, LIVE)).length, 1, 'but EC2 returned the same instance');

    // Tokens are bounded to EC2's 64 characters, stable, and differ per stack.
    const t = clientToken({ account: '123456789012', region: 'us-east-1', stack: 'a-very-long-stack-name-of-sixty-three-characters-exactly-ok-123' }, { x: 1 }, 12);
    assert.ok(t.length <= 64);
    assert.notEqual(clientToken({ account: '1', region: 'r', stack: 'a' }, {}, 0), clientToken({ account: '1', region: 'r', stack: 'b' }, {}, 0));

    // Terminated out of band (the security group stays, so the launch request is the same): the
    // token's answer is the terminated instance, so the next token of the chain launches a new one.
    await ctx.ec2.terminateInstances({ InstanceIds: [first] });
    while ((await stackInstances(ctx, LIVE)).length) await new Promise((r) => setTimeout(r, 50));
    const again = await up(sb);
    const second = inst(again.report).instanceId!;
    assert.notEqual(second, first);
    assert.equal(okCalls(sb, 'ec2:RunInstances'), 4, 'token 0 answered with the terminated instance, token 1 launched');
    assert.deepEqual((await stackInstances(ctx, LIVE)).map((i) => i.instanceId), [second]);
    const since = sb.requestLog().length;
    await up(sb);
    assert.deepEqual(mutatingCalls(sb, since), []);

    // Delete, then create again with the same settings: a new instance again.
    await destroySteps(STEPS, ctx, { targets: ['instance'] });
    const third = inst((await up(sb)).report).instanceId!;
    assert.ok(third !== first && third !== second);
    assert.deepEqual((await stackInstances(ctx, LIVE)).map((i) => i.instanceId), [third]);
  });
});

test('instance: the instance profile propagation error is retried with backoff', async () => {
  await withSandbox({ iamPropagationMs: 1500 }, async (sb) => {
    const { ctx, report } = await up(sb);
    const rejected = sb.requestLog().filter((r) => r.operation === 'RunInstances' && r.errorCode === 'InvalidParameterValue').length;
    assert.ok(rejected >= 1, 'EC2 rejected the new profile at first');
    assert.equal(okCalls(sb, 'ec2:RunInstances'), 1);
    assert.match(ctx.io.progressOf('instance').join('\n'), /IAM propagation/);
    assert.equal((await stackInstances(ctx, LIVE)).length, 1);
    assert.ok(inst(report).instanceId);
  });
});

test('instance: 20% throttling and IAM propagation delay: succeeds, no duplicates; teardown leaves nothing', async () => {
  await withSandbox({ throttleRate: 0.2, iamPropagationMs: 800 }, async (sb) => {
    const { ctx } = await up(sb);
    assert.ok(sb.requestLog().some((r) => /Throttl/.test(r.errorCode ?? '')));
    assert.equal((await stackInstances(ctx, LIVE)).length, 1);
    for (const op of ['ec2:RunInstances', 'ec2:CreateSecurityGroup', 'iam:CreateRole', 'iam:CreatePolicy', 'iam:CreateInstanceProfile', 'ecs:CreateCluster']) {
      // Two roles: the instance role and the logging task's role.
      assert.equal(okCalls(sb, op), op === 'iam:CreateRole' ? 2 : 1, op);
    }
    await destroySteps(STEPS, ctx, { targets: UP });
    assert.equal((await stackInstances(ctx, LIVE)).length, 0);
  });
});

test('instance: teardown terminates and deletes only what carries the stack tag', async () => {
  await withSandbox({}, async (sb) => {
    const probe = await sandboxContext(sb);
    const net = builtinNetwork('us-east-1');
    // Someone else's security group of the same name in another VPC, and an untagged instance named like ours.
    const foreignSg = await probe.ec2.createSecurityGroup({ GroupName: 'ECSCloudWatchLogs', Description: 'not ours', VpcId: net.otherVpcId });
    const ami = (await probe.ssm.getParameter({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id' })).Parameter!.Value!;
    const foreignI = await probe.ec2.runInstances({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'ecs-cwlogs-test' }] }] });
    const foreignId = foreignI.Instances![0]!.InstanceId!;

    const { ctx, report } = await up(sb);
    const ours = inst(report);
    const d = await destroySteps(STEPS, ctx, { targets: UP });
    const instReport = d.steps.find((s) => s.id === 'instance')!;
    assert.ok(instReport.deleted?.some((x) => x.includes(ours.instanceId!)));
    const sgReport = d.steps.find((s) => s.id === 'security-group')!;
    assert.ok(sgReport.deleted?.some((x) => x.includes(ours.securityGroupId!)));
    assert.ok(sgReport.kept?.some((x) => x.includes(foreignSg.GroupId!)), 'the same-named group of another VPC is said to be kept');

    // Nothing tagged is left.
    const tagged = await ctx.ec2.describeInstances({ Filters: [{ Name: `tag:${STACK_TAG}`, Values: ['test'] }, { Name: 'instance-state-name', Values: LIVE }] });
    assert.equal((tagged.Reservations ?? []).flatMap((r) => r.Instances ?? []).length, 0);
    const sgs = await ctx.ec2.describeSecurityGroups({ Filters: [{ Name: `tag:${STACK_TAG}`, Values: ['test'] }] });
    assert.equal(sgs.SecurityGroups?.length ?? 0, 0);
    const ourInstance = (await ctx.ec2.describeInstances({ InstanceIds: [ours.instanceId!] })).Reservations![0]!.Instances![0]!;
    assert.equal(ourInstance.State?.Name, 'terminated');

    // The others survive.
    const f = (await ctx.ec2.describeInstances({ InstanceIds: [foreignId] })).Reservations![0]!.Instances![0]!;
    assert.equal(f.State?.Name, 'running');
    const fsg = await ctx.ec2.describeSecurityGroups({ GroupIds: [foreignSg.GroupId!] });
    assert.equal(fsg.SecurityGroups?.length, 1);

    // A second teardown has nothing to do.
    const since = sb.requestLog().length;
    await destroySteps(STEPS, ctx, { targets: ['instance', 'security-group'] });
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('instance: a same-named security group without the tag is a conflict, not adopted silently', async () => {
  await withSandbox({}, async (sb) => {
    const probe = await sandboxContext(sb);
    const net = builtinNetwork('us-east-1');
    await probe.ec2.createSecurityGroup({ GroupName: 'ECSCloudWatchLogs', Description: 'not ours', VpcId: net.defaultVpcId });
    const ctx = await sandboxContext(sb);
    await applySteps(STEPS, ctx, { targets: ['iam', 'cluster'] });
    const since = sb.requestLog().length;
    await assert.rejects(applySteps(STEPS, ctx, { targets: ['instance'] }), (e: unknown) => e instanceof ConflictError);
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

async function badInput(sb: RunningSandbox, o: TestContextOptions, pattern: RegExp, ctxOverride?: (c: Context) => Context) {
  let ctx: Context = await sandboxContext(sb, o);
  if (ctxOverride) ctx = ctxOverride(ctx);
  const since = sb.requestLog().length;
  await assert.rejects(applySteps(STEPS, ctx, { targets: UP }), (e: unknown) => {
    assert.ok(e instanceof UserInputError, `expected a UserInputError, got ${String(e)}`);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, pattern);
    return true;
  });
  assert.deepEqual(mutatingCalls(sb, since), [], 'no mutating call before the input is checked');
}

test('instance: bad input fails before any mutating call, exit code 2', async () => {
  await withSandbox({}, async (sb) => {
    const net = builtinNetwork('us-east-1');
    await badInput(sb, { config: { instanceType: 'm5.nano' } }, /Unknown instance type m5\.nano.*--instance-type/);
    await badInput(sb, { config: { keyName: 'no-such-key' } }, /Key pair no-such-key not found.*--key-name/);
    await badInput(sb, { config: { vpcId: net.defaultVpcId, subnetId: net.otherSubnetId } }, /is not in VPC.*--subnet/);
    await badInput(sb, { config: { subnetId: 'subnet-0123456789abcdef0' } }, /Subnet subnet-0123456789abcdef0 not found/);
    await badInput(sb, { config: { vpcId: 'vpc-0123456789abcdef0' } }, /VPC vpc-0123456789abcdef0 not found.*--vpc/);
    // No --allow-cidr, the public IP can't be detected and nobody to ask: say to pass --allow-cidr.
    await badInput(sb, { config: { allowCidr: undefined } }, /Cannot detect your public IP address.*--allow-cidr/, (c) =>
      Object.create(c, { endpoint: { value: 'http://127.0.0.1:9' } }),
    );
  });
});

test('instance: the caller IP comes from the sandbox checkip when the endpoint is a sandbox; it is a discovered value, never written to the config', async () => {
  await withSandbox({}, async (sb) => {
    assert.deepEqual(await detectPublicIp(sb.url), { ip: '127.0.0.1' });
    const ctx = await sandboxContext(sb, { config: { allowCidr: undefined } });
    const report = await applySteps(STEPS, ctx, { targets: UP, dryRun: true });
    const plan = report.steps.find((s) => s.id === 'security-group')!.plan!;
    assert.equal(plan.action, 'create');
    assert.match('summary' in plan ? plan.summary : '', /from 127\.0\.0\.1\/32/);
    assert.equal(ctx.config.allowCidr, undefined, 'the config is not written');
    const prepared = await securityGroupStep.prepare!(ctx);
    assert.deepEqual(prepared.allowCidr, { value: '127.0.0.1/32', source: 'discovered', how: 'your public IP' });
    assert.equal((prepared.vpcId as { source?: string }).source, 'discovered');
    // Status needs no caller IP at all.
    const inspect = await sandboxContext(sb, { config: { allowCidr: undefined }, intent: 'inspect' });
    const unreachable = Object.create(inspect, { endpoint: { value: 'http://127.0.0.1:9' } }) as Context;
    assert.equal((await securityGroupStep.prepare!(unreachable)).allowCidr, undefined);
  });
});

test('instance: Graviton instance types get the arm64 AMI', async () => {
  await withSandbox({}, async (sb) => {
    const { ctx, report } = await up(sb, { config: { instanceType: 't4g.small' } });
    const arm = await ctx.ssm.getParameter({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id' });
    assert.equal(inst(report).amiId, arm.Parameter?.Value);
  });
});

test("instance: an Auto Scaling group's instances (stack-tagged by the launch template) are not this step's: not read, not terminated", async () => {
  await withSandbox({}, async (sb) => {
    const { ctx, report } = await up(sb);
    const ours = inst(report).instanceId!;
    // An instance launched as the group topology's are: the stack's tags, plus the tag EC2 Auto Scaling adds.
    const ami = (await ctx.ssm.getParameter({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id' })).Parameter!.Value!;
    const res = await ctx.ec2.runInstances({ ImageId: ami, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: STACK_TAG, Value: 'test' }] }] });
    const grouped = res.Instances![0]!.InstanceId!;
    (sb.world.state.ec2.instances[grouped] as { tags: Record<string, string> }).tags['aws:autoscaling:groupName'] = 'ECSCloudWatchLogs-instances';
    assert.deepEqual((await stackInstances(ctx, LIVE)).map((i) => i.instanceId), [ours]);
    const since = sb.requestLog().length;
    assert.equal((await up(sb)).report.steps.find((s) => s.id === 'instance')!.action, 'noop', 'no extra instance to terminate');
    assert.deepEqual(mutatingCalls(sb, since), []);
    const d = await destroySteps(STEPS, ctx, { targets: ['instance'] });
    assert.deepEqual(d.steps.find((s) => s.id === 'instance')!.deleted, [`instance ${ours}`]);
    const left = (await ctx.ec2.describeInstances({ InstanceIds: [grouped] })).Reservations![0]!.Instances![0]!;
    assert.ok(['pending', 'running'].includes(left.State?.Name ?? ''), `the group's instance is left alone (${left.State?.Name})`);
  });
});
