/**
 * Issue 17, items 1.1-1.3 and 2 (the Auto Scaling group and its capacity provider), through the real
 * binary against the sandbox, with a recording of every call it makes and awscli as the second client:
 *
 *   1.1  the capacity provider exists (AmazonECSManaged on the group) before the group has an instance
 *   1.2  a group created right after its instance profile waits for IAM propagation (realistic profile)
 *   1.3  DeleteCapacityProvider on an attached provider answers DELETE_FAILED; `down` detaches and retries
 *   2    DescribeCapacityProviders without names lists FARGATE and FARGATE_SPOT too
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const TAG = 'ecs-cwlogs:stack';
const IMAGE = 'registry.example/cloudwatchlogs:1';
const CLUSTER = 'ECSCloudWatchLogs';
const ASG = `${CLUSTER}-instances`;
const CP = `cp-${CLUSTER}`;

const base = (url: string, stack: string, ...rest: string[]) => ['--endpoint-url', url, '--region', 'us-east-1', '--stack', stack, '--yes', ...rest];
const upArgs = (url: string, stack: string, ...rest: string[]) => ['up', ...base(url, stack, '--image', IMAGE, '--allow-cidr', '203.0.113.7/32', ...rest)];

function clients(sb: RunningSandbox): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

/** One call as the recording proxy saw it: the operation, its parameters, and the answer's status. */
interface Recorded {
  operation: string;
  params: Record<string, string | number | undefined>;
  status: number;
  body: string;
}

/**
 * A recording forward proxy on loopback (the CLI reaches it through HTTP_PROXY, as it would a
 * corporate proxy): every request to the sandbox is forwarded unchanged (its Host header is the
 * sandbox's own, so signatures and the sandbox's Host check hold) and recorded with its parameters,
 * in order of answer.
 */
async function recordingProxy(target: string): Promise<{ url: string; calls: Recorded[]; close: () => Promise<void> }> {
  const calls: Recorded[] = [];
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = body.toString('utf8');
      const url = new URL(req.url ?? '/', to); // absolute-form from a proxy client
      const fwd = request({ host: to.hostname, port: to.port, method: req.method, path: `${url.pathname}${url.search}`, headers: req.headers }, (up) => {
        const out: Buffer[] = [];
        up.on('data', (c: Buffer) => out.push(c));
        up.on('end', () => {
          const answer = Buffer.concat(out);
          calls.push({ ...parseCall(String(req.headers['x-amz-target'] ?? ''), text), status: up.statusCode ?? 0, body: answer.toString('utf8') });
          res.writeHead(up.statusCode ?? 500, up.headers);
          res.end(answer);
        });
      });
      fwd.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      fwd.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function parseCall(target: string, body: string): Pick<Recorded, 'operation' | 'params'> {
  if (target) {
    let params: Record<string, string | number | undefined> = {};
    try {
      params = JSON.parse(body || '{}');
    } catch {
      /* not JSON */
    }
    return { operation: target.split('.').pop() ?? target, params };
  }
  const form = new URLSearchParams(body);
  const params: Record<string, string | number | undefined> = {};
  for (const [k, v] of form) params[k] = v;
  return { operation: form.get('Action') ?? '?', params };
}

/** The index of the first successful call to `op`, or -1. */
const firstOk = (calls: Recorded[], op: string) => calls.findIndex((c) => c.operation === op && c.status === 200);

/** Group calls that set a size above 0 (min, max or desired), by index. */
function raises(calls: Recorded[]): number[] {
  return calls
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => ['CreateAutoScalingGroup', 'UpdateAutoScalingGroup', 'SetDesiredCapacity'].includes(c.operation))
    .filter(({ c }) => ['MinSize', 'MaxSize', 'DesiredCapacity'].some((k) => Number(c.params[k] ?? 0) > 0))
    .map(({ i }) => i);
}

function awscli(sb: RunningSandbox, env: NodeJS.ProcessEnv) {
  const bin = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
  return (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(bin, ['--endpoint-url', sb.url, '--region', 'us-east-1', '--output', 'json', ...args], { env: { ...env, AWS_PAGER: '' } }, (error, out, err) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });
}

async function runningTasks(aws: AwsClients) {
  const arns = (await aws.ecs.listTasks({ cluster: CLUSTER, serviceName: 'cloudwatchlogs', desiredStatus: 'RUNNING' })).taskArns ?? [];
  if (!arns.length) return [];
  return ((await aws.ecs.describeTasks({ cluster: CLUSTER, tasks: arns })).tasks ?? []).filter((t) => t.lastStatus === 'RUNNING');
}

test('1.1 up --instances 3 --load-balancer: no call raises the group above 0 before CreateCapacityProvider succeeded; every instance carries AmazonECSManaged and is the provider\'s; a second up writes nothing', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const proxy = await recordingProxy(sb.url);
    try {
      const env = cliEnv(tempConfigDir());
      const aws = clients(sb);
      const stack = 'cporder';
      const up = await runCli(upArgs(sb.url, stack, '--instances', '3', '--load-balancer'), { ...env, HTTP_PROXY: proxy.url }, { timeoutMs: 240_000 });
      const created = firstOk(proxy.calls, 'CreateCapacityProvider');
      assert.ok(created >= 0, `CreateCapacityProvider succeeded: ${up.stderr.slice(-2000)}`);
      const early = raises(proxy.calls).filter((i) => i < created);
      assert.deepEqual(
        early.map((i) => `${proxy.calls[i]!.operation} ${JSON.stringify(proxy.calls[i]!.params)}`),
        [],
        'no group call sets a size above 0 before the capacity provider exists',
      );
      const attached = proxy.calls.findIndex((c, i) => i > created && c.operation === 'PutClusterCapacityProviders' && c.status === 200);
      assert.ok(attached > created, 'the provider is attached to the cluster');
      assert.ok(raises(proxy.calls).every((i) => i > attached), 'the group is scaled out only once the provider is attached');
      assert.equal(up.code, 0, up.stderr);

      // The group carries AWS's tag (propagated at launch), every instance has it, and is registered with the provider.
      const g = (await aws.autoscaling.describeAutoScalingGroups({ AutoScalingGroupNames: [ASG] })).AutoScalingGroups![0]!;
      const managed = g.Tags?.find((t) => t.Key === 'AmazonECSManaged');
      assert.equal(managed?.PropagateAtLaunch, true, 'the group carries AmazonECSManaged, propagated at launch');
      const ids = g.Instances!.map((i) => i.InstanceId!);
      assert.equal(ids.length, 3);
      const reservations = (await aws.ec2.describeInstances({ InstanceIds: ids })).Reservations ?? [];
      for (const i of reservations.flatMap((r) => r.Instances ?? [])) {
        assert.ok(i.Tags?.some((t) => t.Key === 'AmazonECSManaged'), `${i.InstanceId} carries AmazonECSManaged`);
      }
      const cis = (await aws.ecs.listContainerInstances({ cluster: CLUSTER })).containerInstanceArns ?? [];
      const described = (await aws.ecs.describeContainerInstances({ cluster: CLUSTER, containerInstances: cis })).containerInstances ?? [];
      assert.deepEqual(described.map((c) => c.capacityProviderName), [CP, CP, CP], 'every container instance is the provider\'s');
      assert.equal((await runningTasks(aws)).length, 3);

      // A second up: AWS's tag is not drift, and nothing is written.
      const mark = sb.requestLog().length;
      const again = await runCli([...upArgs(sb.url, stack, '--instances', '3', '--load-balancer'), '--json'], env);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(mutatingCalls(sb, mark), [], 'the second up made no mutating call');
      const doc = JSON.parse(again.stdout);
      assert.deepEqual(doc.steps.map((s: { action: string }) => s.action), doc.steps.map(() => 'noop'));

      const down = await runCli(['down', ...base(sb.url, stack), '--delete-logs'], env, { timeoutMs: 240_000 });
      assert.equal(down.code, 0, down.stderr);
    } finally {
      await proxy.close();
    }
  });
});

test('1.1 the sandbox: instances launched before the capacity provider existed are not the provider\'s, and the service is not placed on them', { timeout: 5 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const aws = clients(sb);
    const stack = 'cpbefore';
    // A stack whose group has its instances: then the provider is created over it, out of order.
    const up = await runCli(upArgs(sb.url, stack, '--instances', '2'), env, { timeoutMs: 240_000 });
    assert.equal(up.code, 0, up.stderr);
    const g = (await aws.autoscaling.describeAutoScalingGroups({ AutoScalingGroupNames: [ASG] })).AutoScalingGroups![0]!;
    const lt = g.LaunchTemplate!;
    await aws.autoscaling.createAutoScalingGroup({
      AutoScalingGroupName: 'early',
      LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplateId, Version: '$Default' },
      MinSize: 1,
      MaxSize: 1,
      DesiredCapacity: 1,
      VPCZoneIdentifier: g.VPCZoneIdentifier,
      NewInstancesProtectedFromScaleIn: true,
    });
    const start = Date.now();
    let early: string | undefined;
    while (Date.now() - start < 60_000) {
      const e = (await aws.autoscaling.describeAutoScalingGroups({ AutoScalingGroupNames: ['early'] })).AutoScalingGroups![0]!;
      early = e.Instances?.find((i) => i.LifecycleState === 'InService')?.InstanceId;
      const cis = (await aws.ecs.listContainerInstances({ cluster: CLUSTER })).containerInstanceArns ?? [];
      const d = cis.length ? (await aws.ecs.describeContainerInstances({ cluster: CLUSTER, containerInstances: cis })).containerInstances ?? [] : [];
      if (early && d.some((c) => c.ec2InstanceId === early)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(early, 'the early group has an instance registered in the cluster');
    const earlyArn = (await aws.autoscaling.describeAutoScalingGroups({ AutoScalingGroupNames: ['early'] })).AutoScalingGroups![0]!.AutoScalingGroupARN!;
    await aws.ecs.createCapacityProvider({ name: 'cp-early', autoScalingGroupProvider: { autoScalingGroupArn: earlyArn, managedTerminationProtection: 'DISABLED' } });
    const tagged = (await aws.autoscaling.describeAutoScalingGroups({ AutoScalingGroupNames: ['early'] })).AutoScalingGroups![0]!.Tags ?? [];
    assert.deepEqual(tagged.filter((t) => t.Key === 'AmazonECSManaged').map((t) => [t.Value, t.PropagateAtLaunch]), [['', true]], 'CreateCapacityProvider tags the group');
    const inst = (await aws.ec2.describeInstances({ InstanceIds: [early!] })).Reservations![0]!.Instances![0]!;
    assert.ok(!inst.Tags?.some((t) => t.Key === 'AmazonECSManaged'), 'the instance launched before keeps no tag');
    const cis = (await aws.ecs.listContainerInstances({ cluster: CLUSTER })).containerInstanceArns ?? [];
    const d = (await aws.ecs.describeContainerInstances({ cluster: CLUSTER, containerInstances: cis })).containerInstances ?? [];
    assert.equal(d.find((c) => c.ec2InstanceId === early)?.capacityProviderName, undefined, 'the early instance is not the provider\'s');
    // A service through that provider finds no container instance of it.
    const cluster = (await aws.ecs.describeClusters({ clusters: [CLUSTER] })).clusters![0]!;
    await aws.ecs.putClusterCapacityProviders({ cluster: CLUSTER, capacityProviders: [...(cluster.capacityProviders ?? []), 'cp-early'], defaultCapacityProviderStrategy: cluster.defaultCapacityProviderStrategy ?? [] });
    const td = (await aws.ecs.listTaskDefinitions({})).taskDefinitionArns![0]!;
    await aws.ecs.createService({ cluster: CLUSTER, serviceName: 'early-svc', taskDefinition: td, desiredCount: 1, capacityProviderStrategy: [{ capacityProvider: 'cp-early', weight: 1 }] });
    await new Promise((r) => setTimeout(r, 2000));
    const svc = (await aws.ecs.describeServices({ cluster: CLUSTER, services: ['early-svc'] })).services![0]!;
    assert.equal(svc.runningCount, 0, 'no task is placed on an instance that is not the provider\'s');
    assert.ok(svc.events?.some((e) => /capacity provider/.test(e.message ?? '')), 'the service says why');
  });
});

test('1.2 realistic profile: awscli creating a profile and at once a group from a template naming it gets the ValidationError', { timeout: 5 * 60_000 }, async () => {
  // Each awscli call starts a Python interpreter (seconds on a busy machine): IAM propagation is given
  // 20 s here (AWS is seen to take ~10 s and more), so the group is created inside the window.
  await withSandbox({ latency: 'realistic', iamPropagationMs: 20_000 }, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const cli = awscli(sb, env);
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const images = JSON.parse((await cli('ec2', 'describe-images', '--owners', 'amazon')).out).Images as { ImageId: string }[];
    const subnets = JSON.parse((await cli('ec2', 'describe-subnets')).out).Subnets as { SubnetId: string }[];
    assert.equal((await cli('iam', 'create-role', '--role-name', 'prop-role', '--assume-role-policy-document', trust)).code, 0);
    assert.equal((await cli('iam', 'create-instance-profile', '--instance-profile-name', 'prop-profile')).code, 0);
    const lt = await cli('ec2', 'create-launch-template', '--launch-template-name', 'prop-lt', '--launch-template-data', JSON.stringify({ ImageId: images[0]!.ImageId, InstanceType: 't3.micro', IamInstanceProfile: { Name: 'prop-profile' } }));
    assert.equal(lt.code, 0, lt.err);
    // The role joins the profile, and at once the group is created (one awscli call later).
    assert.equal((await cli('iam', 'add-role-to-instance-profile', '--instance-profile-name', 'prop-profile', '--role-name', 'prop-role')).code, 0);
    const asg = await cli('autoscaling', 'create-auto-scaling-group', '--auto-scaling-group-name', 'prop-asg', '--launch-template', 'LaunchTemplateName=prop-lt,Version=$Default', '--min-size', '0', '--max-size', '1', '--vpc-zone-identifier', subnets[0]!.SubnetId);
    assert.notEqual(asg.code, 0, 'CreateAutoScalingGroup is refused while the profile propagates');
    assert.match(asg.err, /ValidationError/);
    assert.match(asg.err, /Invalid IAM Instance Profile name/);
  });
});

test('1.2 realistic profile: a fresh up --instances 2 (no ALB: the shortest path from a new profile to the group) succeeds on its first run', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({ latency: 'realistic' }, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const stack = 'cpfresh';
    const up = await runCli(upArgs(sb.url, stack, '--instances', '2'), env, { timeoutMs: 480_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await runningTasks(clients(sb))).length, 2);
  });
});

test('1.3 and 2: awscli deleting an attached provider gets DELETE_FAILED; down of a stack whose provider sits on another cluster detaches it there (keeping that cluster\'s others) and leaves nothing tagged; describe-capacity-providers lists FARGATE', { timeout: 10 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const cli = awscli(sb, env);
    const aws = clients(sb);
    const stack = 'cpdelete';
    const up = await runCli(upArgs(sb.url, stack, '--instances', '2'), env, { timeoutMs: 240_000 });
    assert.equal(up.code, 0, up.stderr);

    // 2: every provider, FARGATE and FARGATE_SPOT included.
    const all = JSON.parse((await cli('ecs', 'describe-capacity-providers')).out).capacityProviders as { name: string }[];
    for (const name of ['FARGATE', 'FARGATE_SPOT', CP]) assert.ok(all.some((c) => c.name === name), `${name} is listed`);
    const status = await runCli(['status', ...base(sb.url, stack), '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const cpStep = (JSON.parse(status.stdout).steps as { id: string; details?: Record<string, string> }[]).find((s) => s.id === 'capacity-provider');
    assert.match(cpStep?.details?.arn ?? '', new RegExp(`capacity-provider/${CP}$`), 'status shows our provider, not FARGATE');

    // 1.3: AWS answers 200 with DELETE_FAILED and a reason; the provider stays ACTIVE.
    const del = await cli('ecs', 'delete-capacity-provider', '--capacity-provider', CP);
    assert.equal(del.code, 0, del.err);
    const answer = JSON.parse(del.out).capacityProvider;
    assert.equal(answer.updateStatus, 'DELETE_FAILED');
    assert.match(answer.updateStatusReason, new RegExp(CLUSTER));
    assert.equal(answer.status, 'ACTIVE');

    // The provider moved out of band to another cluster (an ASG provider sits on one cluster at a time),
    // which holds FARGATE too: the service goes first, so that ours can be detached.
    assert.equal((await runCli(['service', ...base(sb.url, stack), '--delete'], env, { timeoutMs: 120_000 })).code, 0);
    await aws.ecs.putClusterCapacityProviders({ cluster: CLUSTER, capacityProviders: [], defaultCapacityProviderStrategy: [] });
    await aws.ecs.createCluster({ clusterName: 'other-team' });
    await aws.ecs.putClusterCapacityProviders({ cluster: 'other-team', capacityProviders: ['FARGATE', CP], defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] });

    const down = await runCli(['down', ...base(sb.url, stack), '--delete-logs'], env, { timeoutMs: 150_000 });
    assert.equal(down.code, 0, down.stderr);
    const other = (await aws.ecs.describeClusters({ clusters: ['other-team'] })).clusters![0]!;
    assert.deepEqual(other.capacityProviders, ['FARGATE'], 'only our provider left the other cluster');
    assert.deepEqual(other.defaultCapacityProviderStrategy?.map((s) => s.capacityProvider), ['FARGATE']);
    const tagged = JSON.parse((await cli('resourcegroupstaggingapi', 'get-resources', '--tag-filters', `Key=${TAG},Values=${stack}`)).out);
    const left = (tagged.ResourceTagMappingList as { ResourceARN: string }[]).map((r) => r.ResourceARN);
    assert.deepEqual(left.filter((a) => /launch-template|capacity-provider|security-group|autoScalingGroup|:service\//.test(a)), [], `nothing live carries the stack tag: ${left.join(', ')}`);
    const cps = JSON.parse((await cli('ecs', 'describe-capacity-providers')).out).capacityProviders as { name: string; status: string }[];
    assert.equal(cps.find((c) => c.name === CP)?.status ?? 'INACTIVE', 'INACTIVE');
  });
});

/** Start `up`, SIGKILL it as soon as its progress matches `at`. */
function upKilledAt(url: string, env: NodeJS.ProcessEnv, args: string[], at: RegExp): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (at.test(err)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ signal, stderr: err }));
  });
}

test('1.1 SIGKILL at each point of the new order (group created empty, provider created, provider attached, group scaled), then up: it converges, every instance is the provider\'s, a further up writes nothing', { timeout: 15 * 60_000 }, async () => {
  await withSandbox({}, async (sb) => {
    sb.world.settings.latency.requestDelayMs = 40; // so the kill lands inside the step
    const aws = clients(sb);
    const stack = 'cpkill';
    const args = ['--instances', '2'];
    const points: [string, RegExp][] = [
      ['the group created with 0 instances', /Auto Scaling group: 0 instances until the capacity provider is attached/],
      ['the provider created, not attached', /Capacity provider: attaching to cluster/],
      ['the provider attached, the group not scaled', /Capacity provider: ECSCloudWatchLogs-instances: 0 -> 2 instances/],
      ['the group scaled, not in service', /Capacity provider: \d of 2 instances in service/],
    ];
    for (const [what, at] of points) {
      const env = cliEnv(tempConfigDir());
      const killed = await upKilledAt(sb.url, env, upArgs(sb.url, stack, ...args), at);
      assert.equal(killed.signal, 'SIGKILL', `${what}: killed (${killed.stderr.slice(-800)})`);
      const resumed = await runCli(upArgs(sb.url, stack, ...args), env, { timeoutMs: 240_000 });
      assert.equal(resumed.code, 0, `${what}: resume failed: ${resumed.stderr}`);
      const groups = (await aws.autoscaling.describeAutoScalingGroups({ Filters: [{ Name: `tag:${TAG}`, Values: [stack] }] })).AutoScalingGroups ?? [];
      assert.equal(groups.length, 1, `${what}: one group`);
      const ids = groups[0]!.Instances!.map((i) => i.InstanceId!);
      const cis = (await aws.ecs.listContainerInstances({ cluster: CLUSTER, status: 'ACTIVE' })).containerInstanceArns ?? [];
      const described = (await aws.ecs.describeContainerInstances({ cluster: CLUSTER, containerInstances: cis })).containerInstances ?? [];
      assert.deepEqual(
        described.filter((c) => ids.includes(c.ec2InstanceId!)).map((c) => c.capacityProviderName),
        [CP, CP],
        `${what}: both instances are the provider's`,
      );
      assert.equal((await runningTasks(aws)).length, 2, `${what}: two tasks`);
      const mark = sb.requestLog().length;
      assert.equal((await runCli(upArgs(sb.url, stack, ...args), env)).code, 0);
      assert.deepEqual(mutatingCalls(sb, mark), [], `${what}: a further up writes nothing`);
      const down = await runCli(['down', ...base(sb.url, stack), '--delete-logs'], env, { timeoutMs: 240_000 });
      assert.equal(down.code, 0, down.stderr);
    }
  });
});
