/**
 * The `iam` step against the sandbox, through the engine and real SDK clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySteps, destroySteps } from '../../src/engine/engine.js';
import { ConflictError } from '../../src/core/errors.js';
import { STACK_TAG } from '../../src/core/context.js';
import { renderJson } from '../../src/core/templates.js';
import { STEPS } from '../../src/steps/index.js';
import { decodePolicyDocument, iamStep, readPolicy, readProfile, readRole } from '../../src/steps/iam.js';
import { mutatingCalls, sandboxContext, withSandbox } from '../helpers/sandbox-context.js';

const ECS_MANAGED = 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role';

const TASK_ROLE = 'ECSCloudWatchLogs-task-us-east-1';

test('iam: the instance role has only the ECS agent policy; the task role (ecs-tasks, this account and region) holds the logs policy on the stack group only', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    const report = await applySteps(STEPS, ctx, { targets: ['iam'] });
    const step = report.steps.find((s) => s.id === 'iam')!;
    assert.equal(step.action, 'create');
    const out = report.outputs.iam!;
    const account = ctx.account;
    assert.equal(out.policyArn, `arn:aws:iam::${account}:policy/ecs-cwlogs/test/ECSCloudWatchLogs-us-east-1`);
    assert.equal(out.roleName, 'ECSCloudWatchLogs-us-east-1');
    assert.equal(out.instanceProfileName, 'ECSCloudWatchLogs-us-east-1');
    assert.match(String(out.roleArn), /:role\/ecs-cwlogs\/test\/ECSCloudWatchLogs-us-east-1$/);
    assert.match(String(out.instanceProfileArn), /:instance-profile\/ecs-cwlogs\/test\/ECSCloudWatchLogs-us-east-1$/);

    assert.equal(out.taskRoleName, TASK_ROLE);
    assert.equal(out.taskRoleArn, `arn:aws:iam::${account}:role/ecs-cwlogs/test/${TASK_ROLE}`);

    const policy = await readPolicy(ctx, out.policyArn!);
    assert.ok(policy?.owned);
    const doc = policy.document as { Statement: { Action: string[]; Resource: string[] }[] };
    const actions = doc.Statement.flatMap((x) => x.Action).sort();
    assert.deepEqual(actions, ['logs:CreateLogStream', 'logs:PutLogEvents']);
    const groupArn = `arn:aws:logs:us-east-1:${account}:log-group:ecs`;
    const resources = doc.Statement.flatMap((x) => x.Resource);
    assert.ok(resources.every((r) => r === groupArn || r.startsWith(`${groupArn}:`)), `only the stack's group: ${resources.join(' ')}`);
    assert.ok(!JSON.stringify(doc).includes('*:*'));

    const role = await readRole(ctx, 'ECSCloudWatchLogs-us-east-1');
    assert.ok(role?.owned);
    assert.deepEqual(role.trustPolicy, renderJson('ec2-trust-policy.json', {}));
    assert.deepEqual(role.attachedPolicyArns, [ECS_MANAGED], 'the instance role has no logs policy');

    const task = await readRole(ctx, TASK_ROLE);
    assert.ok(task?.owned);
    assert.equal(task.tags['ecs-cwlogs:region'], 'us-east-1');
    assert.deepEqual(task.attachedPolicyArns, [out.policyArn]);
    const trust = task.trustPolicy as { Statement: { Principal: { Service: string }; Condition: Record<string, Record<string, string>> }[] };
    assert.equal(trust.Statement[0]!.Principal.Service, 'ecs-tasks.amazonaws.com');
    assert.equal(trust.Statement[0]!.Condition.StringEquals!['aws:SourceAccount'], account);
    assert.equal(trust.Statement[0]!.Condition.ArnLike!['aws:SourceArn'], `arn:aws:ecs:us-east-1:${account}:*`);
    const profile = await readProfile(ctx, 'ECSCloudWatchLogs-us-east-1');
    assert.ok(profile?.owned);
    assert.deepEqual(profile.roles, ['ECSCloudWatchLogs-us-east-1']);
  });
});

test('iam: a second run makes zero mutating calls and plans noop', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    const since = sb.requestLog().length;
    const again = await applySteps(STEPS, await sandboxContext(sb), { targets: ['iam'] });
    assert.equal(again.steps.find((s) => s.id === 'iam')!.action, 'noop');
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('iam: a detached policy is shown in the plan and only that is repaired', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    const first = await applySteps(STEPS, ctx, { targets: ['iam'] });
    const policyArn = first.outputs.iam!.policyArn!;
    await ctx.iam.detachRolePolicy({ RoleName: TASK_ROLE, PolicyArn: policyArn });

    const dry = await applySteps(STEPS, ctx, { targets: ['iam'], dryRun: true });
    const plan = dry.steps.find((s) => s.id === 'iam')!.plan!;
    assert.equal(plan.action, 'update');
    assert.ok(plan.action === 'update' && plan.diffs.some((d) => d.field === 'taskRole.attachedPolicies.ECSCloudWatchLogs-us-east-1'));

    const since = sb.requestLog().length;
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    assert.deepEqual(mutatingCalls(sb, since), ['iam:AttachRolePolicy']);
    const role = await readRole(ctx, TASK_ROLE);
    assert.ok(role?.attachedPolicyArns.includes(policyArn));
  });
});

test('iam: a missing profile link is repaired', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    await ctx.iam.removeRoleFromInstanceProfile({ InstanceProfileName: 'ECSCloudWatchLogs-us-east-1', RoleName: 'ECSCloudWatchLogs-us-east-1' });
    const since = sb.requestLog().length;
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    assert.deepEqual(mutatingCalls(sb, since), ['iam:AddRoleToInstanceProfile']);
    assert.deepEqual((await readProfile(ctx, 'ECSCloudWatchLogs-us-east-1'))?.roles, ['ECSCloudWatchLogs-us-east-1']);
  });
});

test('iam: a drifted policy document gets a new default version; at 5 versions the oldest non-default goes first', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    const first = await applySteps(STEPS, ctx, { targets: ['iam'] });
    const arn = first.outputs.iam!.policyArn!;
    const wide = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: 'arn:aws:logs:*:*:*' }] };
    // Four out-of-band versions (v2..v5), the last one default: IAM's limit of 5 is reached.
    for (let n = 0; n < 4; n++) {
      await ctx.iam.createPolicyVersion({ PolicyArn: arn, PolicyDocument: JSON.stringify({ ...wide, Id: `drift${n}` }), SetAsDefault: true });
    }
    const before = (await ctx.iam.listPolicyVersions({ PolicyArn: arn })).Versions ?? [];
    assert.equal(before.length, 5);

    const since = sb.requestLog().length;
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    assert.deepEqual(mutatingCalls(sb, since), ['iam:DeletePolicyVersion', 'iam:CreatePolicyVersion']);
    const after = (await ctx.iam.listPolicyVersions({ PolicyArn: arn })).Versions ?? [];
    assert.equal(after.length, 5);
    assert.ok(!after.some((v) => v.VersionId === 'v1'), 'the oldest non-default version (v1) was deleted');
    const def = after.find((v) => v.IsDefaultVersion)!;
    const doc = await ctx.iam.getPolicyVersion({ PolicyArn: arn, VersionId: def.VersionId! });
    assert.deepEqual(decodePolicyDocument(doc.PolicyVersion?.Document), iamStep.desired(ctx, {}, undefined).policyDocument);

    const since2 = sb.requestLog().length;
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    assert.deepEqual(mutatingCalls(sb, since2), []);
  });
});

test('iam: destroy deletes what carries the tag (policy with all versions); same-named resources of no stack survive', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    const first = await applySteps(STEPS, ctx, { targets: ['iam'] });
    const arn = first.outputs.iam!.policyArn!;
    await ctx.iam.createPolicyVersion({ PolicyArn: arn, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'logs:DeleteLogGroup', Resource: '*' }] }), SetAsDefault: false });

    // Someone else's resources named "Foreign", without the stack tag.
    const doc = JSON.stringify(renderJson('ec2-trust-policy.json', {}));
    await ctx.iam.createRole({ RoleName: 'Foreign-us-east-1', AssumeRolePolicyDocument: doc });
    await ctx.iam.createInstanceProfile({ InstanceProfileName: 'Foreign-us-east-1' });
    await ctx.iam.createPolicy({ PolicyName: 'Foreign-us-east-1', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: '*' }] }) });

    const report = await destroySteps(STEPS, ctx, { targets: ['iam'] });
    const step = report.steps.find((s) => s.id === 'iam')!;
    assert.equal(step.deleted?.length, 4);
    assert.equal(await readPolicy(ctx, arn), undefined);
    assert.equal(await readRole(ctx, 'ECSCloudWatchLogs-us-east-1'), undefined);
    assert.equal(await readRole(ctx, TASK_ROLE), undefined);
    assert.equal(await readProfile(ctx, 'ECSCloudWatchLogs-us-east-1'), undefined);

    // Applying or destroying with the foreign name: a conflict, nothing changed, nothing deleted.
    const foreign = await sandboxContext(sb, { config: { iamName: 'Foreign' } });
    const since = sb.requestLog().length;
    await assert.rejects(applySteps(STEPS, foreign, { targets: ['iam'] }), (e: unknown) => e instanceof ConflictError);
    const d = await destroySteps(STEPS, foreign, { targets: ['iam'] });
    assert.deepEqual(d.steps[0]!.deleted, []);
    assert.equal(d.steps[0]!.kept?.length, 3);
    assert.deepEqual(mutatingCalls(sb, since), []);
    assert.ok(await readRole(foreign, 'Foreign-us-east-1'));
    assert.ok(await readProfile(foreign, 'Foreign-us-east-1'));

    // A second destroy is a no-op.
    const again = await destroySteps(STEPS, ctx, { targets: ['iam'] });
    assert.deepEqual(again.steps[0]!.deleted, []);
  });
});

test('iam: --adopt takes over a same-named untagged role and tags it', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb, { adopt: true });
    await ctx.iam.createRole({ RoleName: 'ECSCloudWatchLogs-us-east-1', AssumeRolePolicyDocument: JSON.stringify(renderJson('ec2-trust-policy.json', {})) });
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    const role = await readRole(ctx, 'ECSCloudWatchLogs-us-east-1');
    assert.equal(role?.tags[STACK_TAG], 'test');
    assert.deepEqual(role?.attachedPolicyArns, [ECS_MANAGED]);
  });
});

test('iam: converges under 20% throttling', async () => {
  await withSandbox({ throttleRate: 0.2 }, async (sb) => {
    const ctx = await sandboxContext(sb);
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    const throttled = sb.requestLog().filter((r) => r.status >= 400 && /Throttl/.test(r.errorCode ?? '')).length;
    assert.ok(throttled > 0, 'some calls were throttled');
    const ok = sb.requestLog().filter((r) => r.status < 400 && r.mutating).map((r) => `${r.service}:${r.operation}`);
    assert.equal(ok.filter((o) => o === 'iam:CreatePolicy').length, 1);
    assert.equal(ok.filter((o) => o === 'iam:CreateRole').length, 2, 'the instance role and the task role, once each');
    assert.equal(ok.filter((o) => o === 'iam:CreateInstanceProfile').length, 1);
    const since = sb.requestLog().length;
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('iam: an older stack (logs policy on the instance role) gets the task role; the policy moves off the instance role, in one update', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    const first = await applySteps(STEPS, ctx, { targets: ['iam'] });
    const policyArn = first.outputs.iam!.policyArn!;
    // What an older version left: the policy on the instance role, no task role.
    await ctx.iam.detachRolePolicy({ RoleName: TASK_ROLE, PolicyArn: policyArn });
    await ctx.iam.deleteRole({ RoleName: TASK_ROLE });
    await ctx.iam.attachRolePolicy({ RoleName: 'ECSCloudWatchLogs-us-east-1', PolicyArn: policyArn });

    const dry = await applySteps(STEPS, ctx, { targets: ['iam'], dryRun: true });
    const plan = dry.steps.find((s) => s.id === 'iam')!.plan!;
    assert.ok(plan.action === 'update', plan.action);
    const fields = plan.action === 'update' ? plan.diffs.map((d) => `${d.field}:${String(d.to)}`) : [];
    assert.ok(fields.includes(`taskRole:${TASK_ROLE}`), fields.join(' '));
    assert.ok(fields.includes('role.attachedPolicies.ECSCloudWatchLogs-us-east-1:detached'), fields.join(' '));

    const since = sb.requestLog().length;
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    assert.deepEqual(mutatingCalls(sb, since), ['iam:CreateRole', 'iam:AttachRolePolicy', 'iam:DetachRolePolicy']);
    assert.deepEqual((await readRole(ctx, 'ECSCloudWatchLogs-us-east-1'))?.attachedPolicyArns, [ECS_MANAGED]);
    assert.deepEqual((await readRole(ctx, TASK_ROLE))?.attachedPolicyArns, [policyArn]);
  });
});

test('iam: destroy asks IAM to refuse instead of listing first: no ListAttachedRolePolicies or ListPolicyVersions when nothing else holds them; a role with a policy attached by hand still goes', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb);
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    const since = sb.requestLog().length;
    const report = await destroySteps(STEPS, ctx, { targets: ['iam'] });
    assert.equal(report.steps[0]!.deleted?.length, 4);
    assert.ok(report.steps[0]!.deleted?.includes('policy ECSCloudWatchLogs-us-east-1 (1 version)'), report.steps[0]!.deleted?.join('; '));
    // The step detaches what it attached (the ECS agent's policy, ours), then DeleteRole; DeletePolicy
    // is refused while other versions exist, so it is asked first.
    const calls = sb.requestLog().slice(since).map((r) => `${r.operation}${r.errorCode ? `!${r.errorCode}` : ''}`);
    assert.deepEqual(calls.filter((c) => /^List(AttachedRolePolicies|PolicyVersions|InstanceProfilesForRole)/.test(c)), [], calls.join(' '));
    assert.equal(calls.filter((c) => c === 'DetachRolePolicy').length, 2, calls.join(' '));
    assert.equal(await readRole(ctx, TASK_ROLE), undefined);

    // Someone attached another policy to the task role: DeleteRole is refused, then the step lists and
    // detaches the rest (the ECS managed policy here), and deletes it.
    await applySteps(STEPS, ctx, { targets: ['iam'] });
    await ctx.iam.attachRolePolicy({ RoleName: TASK_ROLE, PolicyArn: ECS_MANAGED });
    const since2 = sb.requestLog().length;
    const again = await destroySteps(STEPS, ctx, { targets: ['iam'] });
    assert.equal(again.steps[0]!.deleted?.length, 4);
    assert.equal(await readRole(ctx, TASK_ROLE), undefined);
    assert.equal(await readRole(ctx, 'ECSCloudWatchLogs-us-east-1'), undefined);
    const calls2 = sb.requestLog().slice(since2).map((r) => `${r.operation}${r.errorCode ? `!${r.errorCode}` : ''}`);
    assert.ok(calls2.includes('DeleteRole!DeleteConflict') && calls2.includes('ListAttachedRolePolicies'), calls2.join(' '));
  });
});
