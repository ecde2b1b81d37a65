/**
 * The steps under a lagging Tagging API (services/tagging-index.ts), through the real binary: a run
 * must not depend on the listing being current (docs/aws-behaviour.md, "The Tagging API's listing
 * answers tags, never ownership by absence").
 *
 *   - a lag longer than the test: nothing the runs create is ever listed. A killed `up` followed at
 *     once by another converges on what the killed run made (no conflict, no second of anything); a
 *     further `up` writes nothing; `down` at once deletes everything.
 *     Moving one instance to a group, then taking its ALB away, each at once, retires what the
 *     other shape made.
 *   - a 2 s lag: `down` and at once `up` again, while the listing still shows the deleted resources
 *     with their tags: the up makes one of each again, and a `down` at once leaves nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { cliEnv, killedAtStep, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const TAG = 'ecs-cwlogs:stack';
const IMAGE = 'registry.example/cloudwatchlogs:1';

const base = (url: string, stack: string, ...rest: string[]) => ['--endpoint-url', url, '--region', 'us-east-1', '--stack', stack, '--yes', ...rest];
const upArgs = (url: string, stack: string) => ['up', ...base(url, stack, '--image', IMAGE, '--allow-cidr', '203.0.113.7/32')];
const downArgs = (url: string, stack: string) => ['down', ...base(url, stack, '--delete-logs')];

function clients(sb: RunningSandbox): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

/** What exists of the stack, counted from the services themselves (never the listing). */
async function census(aws: AwsClients, stack: string) {
  const reservations = (await aws.ec2.describeInstances({ Filters: [{ Name: `tag:${TAG}`, Values: [stack] }] })).Reservations ?? [];
  const instances = reservations.flatMap((r) => r.Instances ?? []).filter((i) => !['terminated', 'shutting-down'].includes(i.State?.Name ?? '')).length;
  const groups = ((await aws.ec2.describeSecurityGroups({ Filters: [{ Name: `tag:${TAG}`, Values: [stack] }] })).SecurityGroups ?? []).length;
  const clusters = ((await aws.ecs.describeClusters({ clusters: (await aws.ecs.listClusters({})).clusterArns ?? [], include: ['TAGS'] })).clusters ?? []).filter(
    (c) => c.status === 'ACTIVE' && c.tags?.some((t) => t.key === TAG && t.value === stack),
  );
  let services = 0;
  for (const c of clusters) {
    const arns = (await aws.ecs.listServices({ cluster: c.clusterArn })).serviceArns ?? [];
    if (arns.length) services += ((await aws.ecs.describeServices({ cluster: c.clusterArn, services: arns })).services ?? []).filter((s) => s.status === 'ACTIVE').length;
  }
  let taskDefs = 0;
  for (const arn of (await aws.ecs.listTaskDefinitions({ status: 'ACTIVE' })).taskDefinitionArns ?? []) {
    const d = await aws.ecs.describeTaskDefinition({ taskDefinition: arn, include: ['TAGS'] });
    if (d.tags?.some((t) => t.key === TAG && t.value === stack)) taskDefs++;
  }
  let logGroups = 0;
  for (const g of (await aws.logs.describeLogGroups({})).logGroups ?? []) {
    const tags = (await aws.logs.listTagsForResource({ resourceArn: g.logGroupArn ?? '' })).tags ?? {};
    if (tags[TAG] === stack) logGroups++;
  }
  const roles = ((await aws.iam.listRoles({ PathPrefix: `/ecs-cwlogs/${stack}/` })).Roles ?? []).length;
  return { instances, groups, clusters: clusters.length, services, taskDefs, logGroups, roles };
}

const ONE_OF_EACH = { instances: 1, groups: 1, clusters: 1, services: 1, taskDefs: 1, logGroups: 1, roles: 2 };
const NOTHING = { instances: 0, groups: 0, clusters: 0, services: 0, taskDefs: 0, logGroups: 0, roles: 0 };

/** The stack's resources the listing shows now (with the sandbox's lag as it is set). */
async function listed(aws: AwsClients, stack: string): Promise<string[]> {
  return ((await aws.tagging.getResources({ TagFilters: [{ Key: TAG, Values: [stack] }] })).ResourceTagMappingList ?? []).map((r) => r.ResourceARN ?? '');
}

/**
 * With the lag set to 0 the listing is the services' tags now: whatever still carries the stack tag,
 * but tasks (ECS keeps stopped ones, tagged, until it purges them; with no cluster, service or
 * instance left, none runs).
 */
async function leftTagged(sb: RunningSandbox, aws: AwsClients, stack: string): Promise<string[]> {
  sb.world.settings.taggingLagMs = 0;
  return (await listed(aws, stack)).filter((arn) => !arn.includes(':task/'));
}

/** Start `up`, SIGKILL it as soon as the given step reports it is working. */
function upKilledAt(url: string, env: NodeJS.ProcessEnv, stack: string, title: string): Promise<NodeJS.Signals | null> {
  return killedAtStep(upArgs(url, stack), env, title);
}

test('a listing that shows nothing yet: a killed up, then at once up converges on what it made; a further up writes nothing; down at once leaves nothing', { timeout: 10 * 60_000 }, async () => {
  // Longer than the test: nothing the runs create is ever listed while they run.
  await withSandbox({ taggingLagMs: 600_000 }, async (sb) => {
    const stack = 'lagkill';
    sb.world.settings.latency.requestDelayMs = 40; // so the kill lands inside the step
    const env = cliEnv(tempConfigDir());
    const aws = clients(sb);
    assert.equal(await upKilledAt(sb.url, env, stack, 'EC2 container instance'), 'SIGKILL', 'killed while the instance step works');
    sb.world.settings.latency.requestDelayMs = 0;
    const killedMade = await census(aws, stack);
    assert.ok(killedMade.clusters + killedMade.groups + killedMade.logGroups > 0, `the killed run made something: ${JSON.stringify(killedMade)}`);

    const resumed = await runCli(upArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(resumed.code, 0, `resume: ${resumed.stderr}`);
    assert.deepEqual(await listed(aws, stack), [], 'the listing showed none of it');
    assert.deepEqual(await census(aws, stack), ONE_OF_EACH, 'one of each: the killed run\'s resources were taken for the stack\'s');

    const mark = sb.requestLog().length;
    const again = await runCli(upArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(mutatingCalls(sb, mark), [], 'a further up writes nothing');

    const down = await runCli(downArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await census(aws, stack), NOTHING);
    assert.deepEqual(await leftTagged(sb, aws, stack), [], 'nothing carries the stack tag');
  });
});

test('a listing that still shows what down deleted: up at once makes one of each again, and down at once leaves nothing', { timeout: 10 * 60_000 }, async () => {
  const lag = 2000;
  await withSandbox({ taggingLagMs: lag }, async (sb) => {
    const stack = 'lagagain';
    const env = cliEnv(tempConfigDir());
    const aws = clients(sb);
    const first = await runCli(upArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(first.code, 0, first.stderr);
    await new Promise((r) => setTimeout(r, lag + 500));
    const before = await listed(aws, stack);
    assert.ok(before.some((arn) => arn.includes(':cluster/')), `settled: the listing shows the stack (${before.join(' ')})`);

    const down = await runCli(downArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await census(aws, stack), NOTHING);
    const ghosts = await listed(aws, stack);
    assert.ok(ghosts.some((arn) => arn.includes(':cluster/')), `the listing still shows deleted resources with their tags (${ghosts.join(' ')})`);

    const up = await runCli(upArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(await census(aws, stack), ONE_OF_EACH);
    const downAgain = await runCli(downArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(downAgain.code, 0, downAgain.stderr);
    assert.deepEqual(await census(aws, stack), NOTHING);
    assert.deepEqual(await leftTagged(sb, aws, stack), [], 'nothing carries the stack tag');
  });
});

test('a listing that shows nothing yet: moving one instance to a group at once retires the lone instance, and taking the ALB away at once retires it; down at once leaves nothing', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({ taggingLagMs: 600_000 }, async (sb) => {
    const stack = 'lagshape';
    const env = cliEnv(tempConfigDir());
    const aws = clients(sb);
    const single = await runCli(upArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(single.code, 0, single.stderr);
    const group = await runCli([...upArgs(sb.url, stack), '--instances', '2', '--load-balancer'], env, { timeoutMs: 300_000 });
    assert.equal(group.code, 0, group.stderr);
    const reservations = (await aws.ec2.describeInstances({ Filters: [{ Name: `tag:${TAG}`, Values: [stack] }] })).Reservations ?? [];
    const live = reservations.flatMap((r) => r.Instances ?? []).filter((i) => !['terminated', 'shutting-down'].includes(i.State?.Name ?? ''));
    const lone = live.filter((i) => !i.Tags?.some((t) => t.Key === 'aws:autoscaling:groupName'));
    assert.deepEqual(lone.map((i) => i.InstanceId), [], 'the lone instance was retired, though the listing did not show it');

    // And the load balancer taken away at once: its ALB and target group, not listed yet, are retired.
    const noAlb = await runCli([...upArgs(sb.url, stack), '--instances', '2', '--no-load-balancer'], env, { timeoutMs: 300_000 });
    assert.equal(noAlb.code, 0, noAlb.stderr);
    const albs = (await aws.elbv2.describeLoadBalancers({})).LoadBalancers ?? [];
    const tgs = (await aws.elbv2.describeTargetGroups({})).TargetGroups ?? [];
    assert.deepEqual({ albs: albs.length, tgs: tgs.length }, { albs: 0, tgs: 0 });

    const down = await runCli(downArgs(sb.url, stack), env, { timeoutMs: 300_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftTagged(sb, aws, stack), [], 'nothing carries the stack tag');
  });
});

test('a listing that still shows our tags on a log group deleted and made again by someone else: an up that would change it and a down both read its tags from CloudWatch Logs, and leave it alone', { timeout: 5 * 60_000 }, async () => {
  const lag = 20_000;
  await withSandbox({ taggingLagMs: lag }, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const aws = clients(sb);
    const stack = 'reused';
    const group = 'reused-logs';
    const up = await runCli([...upArgs(sb.url, stack), '--log-group', group, '--no-monitoring'], env);
    assert.equal(up.code, 0, up.stderr);
    // Settled: the listing shows the group with the stack's tags.
    await new Promise((r) => setTimeout(r, lag + 500));
    assert.ok((await listed(aws, stack)).some((arn) => arn.endsWith(`:log-group:${group}`)));
    // Someone deletes it and makes one of the same name, untagged: the listing still shows our tags.
    await aws.logs.deleteLogGroup({ logGroupName: group });
    await aws.logs.createLogGroup({ logGroupName: group });
    assert.ok((await listed(aws, stack)).some((arn) => arn.endsWith(`:log-group:${group}`)), 'the listing is stale (the premise of this test)');

    // An up that would change it (its retention): refused, the group untouched.
    let mark = sb.requestLog().length;
    const change = await runCli([...upArgs(sb.url, stack), '--log-group', group, '--no-monitoring', '--retention-days', '7'], env);
    assert.notEqual(change.code, 0, change.stderr);
    assert.match(change.stderr, new RegExp(`${group}[^\\n]*(not tagged|not this stack|someone else|--adopt)`, 'i'));
    assert.deepEqual(mutatingCalls(sb, mark).filter((c) => c.startsWith('logs:')), [], 'nothing written to the group');

    // down --delete-logs: the group is not the stack's, so it stays.
    mark = sb.requestLog().length;
    const down = await runCli(downArgs(sb.url, stack), env);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(sb.requestLog().slice(mark).filter((c) => c.operation === 'DeleteLogGroup'), [], "the other owner's group is not deleted");
    assert.equal((await aws.logs.describeLogGroups({ logGroupNamePrefix: group })).logGroups?.length, 1);
  });
});
