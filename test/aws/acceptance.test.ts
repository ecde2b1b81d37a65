/**
 * `npm run test:aws`: the lab on a real AWS account, end to end. Skipped (saying why) unless
 * ECS_CWLOGS_AWS_ACCEPTANCE=1: it creates billable resources.
 *
 *   1. `up --yes` in a fresh stack (its own stack name and log group; --ecr unless
 *      ECS_CWLOGS_AWS_ACCEPTANCE_IMAGE names a logging image the instance can pull)
 *   2. GET the URL N times (ECS_CWLOGS_AWS_ACCEPTANCE_REQUESTS, default 5), each with a marker
 *   3. wait until `ecs-cwlogs logs` shows the N access lines and the ECS agent's stream
 *   4. `down --yes --delete-logs` (and the ECR repository --ecr created, which down keeps on purpose)
 *   5. a second client (awscli when installed, else the SDK) finds nothing tagged for the stack
 *   6. prints the instance-minutes used and what they cost on demand
 *
 * ECS_CWLOGS_AWS_ACCEPTANCE_TOPOLOGY picks the shape: `single` (default: one instance, the lab as
 * written) or `group` (`--instances 2 --load-balancer`: an Auto Scaling group across zones behind
 * its capacity provider and an ALB; the requests go to the ALB's DNS name, and each instance's ECS
 * agent stream must show). docs/real-account.md says what each run does and costs.
 *
 * Credentials and region: the usual AWS environment (AWS_PROFILE, AWS_REGION, ...). Whatever
 * happens, step 4 runs, so a failed run leaves nothing behind (a killed one: `ecs-cwlogs down --yes
 * --delete-logs --stack <printed stack>`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAwsClients } from '../../src/aws/clients.js';
import { hourlyPrice } from '../../src/core/pricing.js';
import { BIN } from '../helpers/cli.js';

const ENABLED = process.env.ECS_CWLOGS_AWS_ACCEPTANCE === '1';
const SKIP = ENABLED ? false : 'set ECS_CWLOGS_AWS_ACCEPTANCE=1 to run it against a real AWS account (it launches a t3.small for about 10 minutes, or with ECS_CWLOGS_AWS_ACCEPTANCE_TOPOLOGY=group two and an ALB: see docs/real-account.md)';
if (SKIP) console.log(`# test:aws skipped: ${SKIP}`);

const REGION = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
const N = Number(process.env.ECS_CWLOGS_AWS_ACCEPTANCE_REQUESTS ?? 5);
const STACK = `acc-${Date.now().toString(36)}`;
const LOG_GROUP = `/ecs-cwlogs/acceptance/${STACK}`;
const TAG = 'ecs-cwlogs:stack';
const TOPOLOGY = process.env.ECS_CWLOGS_AWS_ACCEPTANCE_TOPOLOGY ?? 'single';
if (TOPOLOGY !== 'single' && TOPOLOGY !== 'group') throw new Error(`ECS_CWLOGS_AWS_ACCEPTANCE_TOPOLOGY must be single or group, not ${TOPOLOGY}`);
const GROUP = TOPOLOGY === 'group';
/** The group topology's size: two instances, the fewest that show spreading over zones. */
const GROUP_SIZE = 2;

function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30 * 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      process.stderr.write(d);
    });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(10_000);
  }
}

function awscli(...args: string[]): Promise<any> {
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/aws', ['--region', REGION, '--output', 'json', ...args], { env: { ...process.env, AWS_PAGER: '' } }, (e, out, err) =>
      e ? reject(new Error(`aws ${args.join(' ')}: ${err}`)) : resolve(out.trim() ? JSON.parse(out) : {}),
    ),
  );
}

/** What the second client still finds for the stack: tagged resources that are not gone, and IAM under its path. */
async function leftovers(): Promise<string[]> {
  const out: string[] = [];
  if (existsSync('/usr/bin/aws')) {
    const tagged = await awscli('resourcegroupstaggingapi', 'get-resources', '--tag-filters', `Key=${TAG},Values=${STACK}`);
    for (const r of tagged.ResourceTagMappingList ?? []) out.push(r.ResourceARN);
    const instances = await awscli('ec2', 'describe-instances', '--filters', `Name=tag:${TAG},Values=${STACK}`, 'Name=instance-state-name,Values=pending,running,stopping,stopped,shutting-down');
    for (const r of instances.Reservations ?? []) for (const i of r.Instances ?? []) out.push(`instance ${i.InstanceId} (${i.State.Name})`);
    for (const kind of [['list-roles', 'Roles', 'RoleName'], ['list-instance-profiles', 'InstanceProfiles', 'InstanceProfileName'], ['list-policies', 'Policies', 'PolicyName']] as const) {
      const res = await awscli('iam', kind[0], '--path-prefix', `/ecs-cwlogs/${STACK}/`, ...(kind[0] === 'list-policies' ? ['--scope', 'Local'] : []));
      for (const x of res[kind[1]] ?? []) out.push(`iam ${x[kind[2]]}`);
    }
    const groups = await awscli('logs', 'describe-log-groups', '--log-group-name-prefix', LOG_GROUP);
    for (const g of groups.logGroups ?? []) out.push(`log group ${g.logGroupName}`);
  } else {
    const aws = createAwsClients({ region: REGION });
    const tagged = await aws.tagging.getResources({ TagFilters: [{ Key: TAG, Values: [STACK] }] });
    for (const r of tagged.ResourceTagMappingList ?? []) out.push(r.ResourceARN ?? '');
    for (const r of (await aws.iam.listRoles({ PathPrefix: `/ecs-cwlogs/${STACK}/` })).Roles ?? []) out.push(`iam ${r.RoleName}`);
    for (const p of (await aws.iam.listPolicies({ PathPrefix: `/ecs-cwlogs/${STACK}/`, Scope: 'Local' })).Policies ?? []) out.push(`iam ${p.PolicyName}`);
    for (const g of (await aws.logs.describeLogGroups({ logGroupNamePrefix: LOG_GROUP })).logGroups ?? []) out.push(`log group ${g.logGroupName}`);
  }
  // The Tagging API lists terminated instances for a while; they cost nothing.
  return out.filter((x) => !/:instance\//.test(x) || out.some((y) => y.startsWith('instance ')));
}

test(`acceptance on a real account (${TOPOLOGY}): up, N requests, N access lines and the ECS agent stream in CloudWatch Logs, down, nothing tagged left`, { skip: SKIP, timeout: 60 * 60_000 }, async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, ECS_CWLOGS_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'cwl-acc-')), NO_COLOR: '1' };
  const common = ['--stack', STACK, '--region', REGION, '--log-group', LOG_GROUP];
  const image = process.env.ECS_CWLOGS_AWS_ACCEPTANCE_IMAGE;
  console.log(`# stack ${STACK} in ${REGION}, log group ${LOG_GROUP}`);
  const started = Date.now();
  let launchedAt: number | undefined;
  let instanceType = 't3.small';
  let ecrRepository: string | undefined;
  let instances = 1;
  let albCreatedAt: number | undefined;
  try {
    const shape = GROUP ? ['--instances', String(GROUP_SIZE), '--load-balancer'] : [];
    const up = await run(['up', '--yes', '--json', ...common, ...shape, ...(image ? ['--image', image] : ['--ecr'])], env);
    assert.equal(up.code, 0, `up failed:\n${up.stderr}`);
    const doc = JSON.parse(up.stdout);
    if (!image) ecrRepository = doc.outputs?.image?.repository?.split('/').pop();
    const url: string = doc.outputs.service.url;
    const aws = createAwsClients({ region: REGION });
    if (GROUP) {
      instanceType = doc.outputs['launch-template']?.instanceType ?? instanceType;
      const g = (await aws.autoscaling.describeAutoScalingGroups({ AutoScalingGroupNames: [doc.outputs['auto-scaling-group'].groupName] })).AutoScalingGroups?.[0];
      const ids = (g?.Instances ?? []).map((i) => i.InstanceId!);
      instances = ids.length;
      assert.equal(instances, GROUP_SIZE, 'the group has its instances');
      // The capacity provider came first: every instance carries the tag ECS propagates once it exists.
      const described = (await aws.ec2.describeInstances({ InstanceIds: ids })).Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
      assert.ok(described.every((i) => i.Tags?.some((t) => t.Key === 'AmazonECSManaged')), 'every instance carries AmazonECSManaged');
      launchedAt = Math.min(...described.map((i) => i.LaunchTime?.getTime() ?? started));
      const alb = (await aws.elbv2.describeLoadBalancers({ Names: [doc.outputs['load-balancer'].loadBalancerName] })).LoadBalancers?.[0];
      albCreatedAt = alb?.CreatedTime?.getTime();
      assert.match(url, /^http:\/\/[\w.-]+\.elb\.amazonaws\.com\/$/);
    } else {
      instanceType = doc.outputs.instance.instanceType ?? instanceType;
      const inst = (await aws.ec2.describeInstances({ InstanceIds: [doc.outputs.instance.instanceId] })).Reservations?.[0]?.Instances?.[0];
      launchedAt = inst?.LaunchTime?.getTime();
      assert.match(url, /^http:\/\/\d+\.\d+\.\d+\.\d+\/$/);
    }

    // N requests, each marked, once port 80 answers.
    await until('the app to answer', 5 * 60_000, async () => ((await fetch(url, { signal: AbortSignal.timeout(5000) })).ok ? true : undefined));
    for (let i = 0; i < N; i++) {
      const res = await fetch(`${url}?acceptance=${STACK}-${i}`, { signal: AbortSignal.timeout(10_000) });
      assert.ok(res.status < 500, `GET ${i}: HTTP ${res.status}`);
      await res.arrayBuffer();
    }

    // The agent ships within seconds (force_flush_interval 1): wait for all N lines and the ECS agent's stream.
    const lines = await until(`${N} access lines in ${LOG_GROUP}`, 5 * 60_000, async () => {
      const logs = await run(['logs', ...common, '--since', '1h', '--json', '--stream', 'httpd-access'], env, 120_000);
      const found = logs.stdout.split('\n').filter((l) => l.includes(`acceptance=${STACK}-`));
      return found.length >= N ? found : undefined;
    });
    assert.equal(new Set(lines.map((l) => /acceptance=([\w-]+)/.exec(l)?.[1])).size, N, 'each request exactly once');
    await until(`the ECS agent stream of ${instances} instance(s)`, 5 * 60_000, async () => {
      const logs = await run(['logs', ...common, '--since', '1h', '--json', '--stream', 'ecs-agent'], env, 120_000);
      const agent = logs.stdout.split('\n').filter((l) => l.includes('ecs-agent.log'));
      // One stream per instance: the stream name carries the instance id.
      const hosts = new Set(agent.map((l) => /i-[0-9a-f]{8,17}/.exec(l)?.[0]).filter(Boolean));
      return agent.length && (!GROUP || hosts.size >= instances) ? true : undefined;
    });
  } finally {
    const down = await run(['down', '--yes', '--delete-logs', ...common], env);
    const endedAt = Date.now();
    if (ecrRepository) {
      await createAwsClients({ region: REGION })
        .ecr.deleteRepository({ repositoryName: ecrRepository, force: true })
        .catch((e: unknown) => console.log(`# could not delete ECR repository ${ecrRepository}: ${(e as Error).message}`));
    }
    const minutes = (((endedAt - (launchedAt ?? started)) / 60_000) * instances).toFixed(1);
    const hourly = hourlyPrice(instanceType);
    console.log(`# instance-minutes: ${minutes} (${instances} × ${instanceType}${hourly ? `, about $${((Number(minutes) / 60) * hourly).toFixed(4)} on demand` : ''}); whole run ${((endedAt - started) / 60_000).toFixed(1)} min`);
    if (GROUP) {
      // An ALB bills per started hour: $0.0225 plus LCUs (us-east-1); this run uses a fraction of one LCU.
      const albMinutes = (endedAt - (albCreatedAt ?? started)) / 60_000;
      console.log(`# ALB-minutes: ${albMinutes.toFixed(1)} (billed as ${Math.max(1, Math.ceil(albMinutes / 60))} ALB-hour(s), about $${(Math.max(1, Math.ceil(albMinutes / 60)) * 0.0305).toFixed(4)} with one LCU)`);
    }
    assert.equal(down.code, 0, `down failed:\n${down.stderr}`);
  }
  const left = await until('teardown to settle', 10 * 60_000, async () => {
    const l = await leftovers();
    return l.length === 0 ? l : undefined;
  }).catch(async () => leftovers());
  assert.deepEqual(left, [], `still there for stack ${STACK}`);
});
