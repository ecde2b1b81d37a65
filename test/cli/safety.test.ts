/**
 * The safety contract, through the real binary against the sandbox's request log: nothing is
 * written before the whole run is validated and planned; --dry-run writes nothing, on every
 * command; saved answers are per account and region; one run per stack at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const STACK = 'safe';
const IMAGE = 'registry.example/cloudwatchlogs:1';
const CIDR = '203.0.113.7/32';

const base = (url: string, ...rest: string[]) => ['--endpoint-url', url, '--region', 'us-east-1', '--stack', STACK, ...rest];
const upArgs = (url: string, ...rest: string[]) => ['up', ...base(url, '--yes', '--image', IMAGE, '--allow-cidr', CIDR, ...rest)];

function clients(sb: RunningSandbox, region = 'us-east-1'): AwsClients {
  return createAwsClients({ region, endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('--dry-run deletes nothing: down --yes --dry-run, --dry-run down and <step> --delete --dry-run list what would go', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    for (const args of [
      ['down', ...base(sb.url, '--yes', '--dry-run')],
      ['--dry-run', 'down', ...base(sb.url, '--yes', '--delete-logs')],
      ['cluster', ...base(sb.url, '--delete', '--yes', '--dry-run')],
      ['instance', ...base(sb.url, '--delete', '--dry-run')],
      ['service', ...base(sb.url, '--delete', '--dry-run', '--json')],
      ['log-group', ...base(sb.url, '--delete', '--delete-logs', '--dry-run')],
      ['task', ...base(sb.url, '--delete', '--dry-run')],
      ['iam', ...base(sb.url, '--delete', '--yes', '--dry-run')],
    ]) {
      const since = sb.requestLog().length;
      const r = await runCli(args, env);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.deepEqual(mutatingCalls(sb, since), [], `${args.join(' ')} made no mutating call`);
      if (args.includes('--json')) {
        const doc = JSON.parse(r.stdout) as { dryRun: boolean; steps: { deleted: string[] }[] };
        assert.equal(doc.dryRun, true);
        assert.match(doc.steps.flatMap((s) => s.deleted).join('\n'), /ECS service cloudwatchlogs/);
      } else assert.match(r.stdout, /Would delete/, `${args.join(' ')} says what it would delete:\n${r.stdout}`);
    }
    const all = await runCli(['down', ...base(sb.url, '--yes', '--dry-run', '--delete-logs')], env);
    for (const what of [/ECS service cloudwatchlogs/, /task definition cloudwatchlogs:1/, /EC2 instance i-/, /security group ECSCloudWatchLogs/, /ECS cluster ECSCloudWatchLogs/, /IAM role ECSCloudWatchLogs-us-east-1/, /log group ecs and all its logs/]) {
      assert.match(all.stdout, what);
    }
    // The step's plan in a dry run says what it would do, never "in sync" for a change.
    const dry = await runCli(['up', ...base(sb.url, '--yes', '--image', IMAGE, '--allow-cidr', '198.51.100.0/24', '--dry-run')], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, /would update/);
    assert.doesNotMatch(dry.stderr, /in sync/);
    // And --delete without --yes and no terminal deletes nothing.
    const since = sb.requestLog().length;
    const noTty = await runCli(['cluster', ...base(sb.url, '--delete')], env);
    assert.equal(noTty.code, 2);
    assert.match(noTty.stderr, /Not deleting without confirmation.*--yes/);
    assert.deepEqual(mutatingCalls(sb, since), []);
  });
});

test('bad input and conflicts fail with 0 mutating calls, naming the problem', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const port = await closedPort();
    const cases: [string[], RegExp, number][] = [
      [['up', ...base(sb.url, '--yes', '--repo', 'User/CW', '--allow-cidr', CIDR)], /"User\/CW" is not a repository to push to/, 2],
      [['up', ...base(sb.url, '--yes', '--repo', `127.0.0.1:${port}/cw`, '--allow-cidr', CIDR)], /127\.0\.0\.1:\d+/, 1],
      [['up', ...base(sb.url, '--yes', '--ecr', '--image', 'x/y:1', '--allow-cidr', CIDR)], /Both --ecr and --image/, 2],
      [['up', ...base(sb.url, '--yes', '--ecr', '--repo', 'a/b', '--allow-cidr', CIDR)], /Both --ecr and --repo/, 2],
      [['up', ...base(sb.url, '--yes', '--image', 'x/y:1', '--repo', 'a/b', '--allow-cidr', CIDR)], /Both --image and --repo/, 2],
    ];
    for (const [args, pattern, code] of cases) {
      const since = sb.requestLog().length;
      const r = await runCli(args, env);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /Unexpected error|    at /);
      assert.deepEqual(mutatingCalls(sb, since), [], `${args.join(' ')} made no mutating call`);
    }
    // An untagged log group named ecs, made beforehand: found while planning, nothing created.
    await clients(sb).logs.createLogGroup({ logGroupName: 'ecs' });
    const since = sb.requestLog().length;
    const r = await runCli(upArgs(sb.url), env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Log group ecs already exists and is not part of this stack.*--adopt/);
    assert.deepEqual(mutatingCalls(sb, since), [], 'not even the cluster or the instance');
    // A failed validation saves nothing.
    const file = join(env.ECS_CWLOGS_CONFIG_DIR!, 'stacks', `${STACK}.json`);
    await assert.rejects(readFile(file, 'utf8'), /ENOENT/);
  });
});

/**
 * A loopback forwarder to the sandbox that answers one ECS operation with an error, as ECS would:
 * a fault in the middle of a run, without a hook in the code under test.
 */
async function failingProxy(target: string, operation: string): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer: createHttp, request } = await import('node:http');
  const t = new URL(target);
  const server = createHttp((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (String(req.headers['x-amz-target'] ?? '').endsWith(`.${operation}`)) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fault' });
        res.end(JSON.stringify({ __type: 'ClientException', message: 'You have reached the limit on the number of services in this cluster.' }));
        return;
      }
      // A forward proxy (HTTP_PROXY): the request keeps the sandbox's own Host, which it serves.
      const u = new URL(req.url ?? '/', t);
      const fwd = request({ host: t.hostname, port: t.port, path: `${u.pathname}${u.search}`, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 500, up.headers);
        up.pipe(res);
      });
      fwd.on('error', () => res.destroy());
      fwd.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('a failure mid-run says what exists, what it costs and how to resume or remove it', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const proxy = await failingProxy(sb.url, 'CreateService');
    try {
      const r = await runCli(upArgs(sb.url), { ...env, HTTP_PROXY: proxy.url });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /limit on the number of services/);
      assert.match(r.stderr, /What exists now:/);
      assert.match(r.stderr, /created\s+EC2 container instance i-[0-9a-f]+ \(running: ~\$0\.0208\/hour\)/);
      assert.match(r.stderr, /created\s+ECS cluster ECSCloudWatchLogs/);
      assert.match(r.stderr, /Running now: about ~\$0\.0208\/hour/);
      // As the user can type it from here (the tests run from the clone: npx), with the config dir it used.
      assert.match(r.stderr, /Run `ECS_CWLOGS_CONFIG_DIR=\S+ npx ecs-cwlogs up --stack safe --region us-east-1 --endpoint-url http:\/\/127\.0\.0\.1:\d+` again to resume, or `ECS_CWLOGS_CONFIG_DIR=\S+ npx ecs-cwlogs down --stack safe/);
    } finally {
      await proxy.close();
    }
    // Resumed against the real endpoint: only the service is left to create.
    const since = sb.requestLog().length;
    const again = await runCli(upArgs(sb.url), env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(mutatingCalls(sb, since), ['ssm:PutParameter', 'ecs:CreateService', 'ssm:DeleteParameter'], 'the service, inside the lock');
  });
});

test('local files: a stack file that is a directory, null or garbage is exit 2 with what, where and how; no stack trace', async () => {
  await withSandbox({}, async (sb) => {
    const dir = tempConfigDir();
    const env = cliEnv(dir);
    const file = join(dir, 'stacks', `${STACK}.json`);
    await mkdir(join(dir, 'stacks'), { recursive: true });
    for (const [what, make, why] of [
      ['directory', () => mkdir(file), /is a directory/],
      ['settings null', () => writeFile(file, JSON.stringify({ version: 1, stack: STACK, settings: null })), /settings must be an object, not null/],
      ['null', () => writeFile(file, 'null'), /holds null/],
      ['garbage', () => writeFile(file, '\u0000{garbage'), /is not JSON/],
    ] as const) {
      await rm(file, { recursive: true, force: true });
      await make();
      for (const cmd of [['status'], ['up', '--yes', '--image', IMAGE], ['down', '--yes']]) {
        const since = sb.requestLog().length;
        const r = await runCli([...cmd, ...base(sb.url)], env);
        assert.equal(r.code, 2, `${what}, ${cmd[0]}: ${r.stderr}`);
        assert.match(r.stderr, why);
        assert.ok(r.stderr.includes(file), 'names the file');
        assert.doesNotMatch(r.stderr, /Unexpected error|Please report|    at /);
        assert.equal(sb.requestLog().length, since, 'not even the identity check: the file is read first');
      }
    }
  });
});

test('two regions of one stack: both up without --vpc/--subnet; down in one leaves the other in sync', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const region = (r: string, ...rest: string[]) => ['--endpoint-url', sb.url, '--region', r, '--stack', STACK, ...rest];
    const up1 = await runCli(['up', ...region('us-east-1', '--yes', '--image', IMAGE, '--allow-cidr', CIDR)], env);
    assert.equal(up1.code, 0, up1.stderr);
    const up2 = await runCli(['up', ...region('eu-west-1', '--yes', '--image', IMAGE, '--allow-cidr', CIDR)], env);
    assert.equal(up2.code, 0, up2.stderr);
    const statusOf = async (r: string) => {
      const s = await runCli(['status', ...region(r, '--json')], env);
      assert.equal(s.code, 0, s.stderr);
      return (JSON.parse(s.stdout) as { steps: { id: string; action: string }[] }).steps.map((x) => `${x.id}:${x.action}`);
    };
    // Monitoring (issue 21, on by default) too: its dashboard is per region (dashboards are global).
    const inSync = ['image:noop', 'iam:noop', 'cluster:noop', 'log-group:noop', 'security-group:noop', 'instance:noop', 'task:noop', 'service:noop', 'metric-filters:noop', 'alarm-topic:noop', 'alarms:noop', 'dashboard:noop', 'query-definitions:noop'];
    assert.deepEqual((await statusOf('us-east-1')).sort(), [...inSync].sort(), 'eu-west-1 did not rewrite us-east-1');
    assert.deepEqual((await statusOf('eu-west-1')).sort(), [...inSync].sort());
    const down = await runCli(['down', ...region('eu-west-1', '--yes')], env);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /role ECSCloudWatchLogs-eu-west-1/);
    assert.doesNotMatch(down.stdout, /us-east-1/);
    assert.deepEqual((await statusOf('us-east-1')).sort(), [...inSync].sort(), 'down in eu-west-1 left us-east-1 in sync');
    const since = sb.requestLog().length;
    const again = await runCli(['up', ...region('us-east-1', '--yes')], env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(mutatingCalls(sb, since), [], 'the saved answers of us-east-1 still make a zero-write up');
  });
});

test('an untagged revision registered by hand in the family: up converges and leaves it alone', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    const aws = clients(sb);
    const mine = (await aws.ecs.describeTaskDefinition({ taskDefinition: 'cloudwatchlogs' })).taskDefinition!;
    await aws.ecs.registerTaskDefinition({ family: 'cloudwatchlogs', containerDefinitions: [{ name: 'other', image: 'busybox', memory: 64, essential: true }] });
    const since = sb.requestLog().length;
    const r = await runCli(upArgs(sb.url), env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(mutatingCalls(sb, since), [], "the stack's own revision is still the one it compares with");
    const down = await runCli(['down', ...base(sb.url, '--yes')], env);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /kept task definition cloudwatchlogs:2 \(not tagged as stack safe\)/);
    const left = (await aws.ecs.listTaskDefinitions({ familyPrefix: 'cloudwatchlogs', status: 'ACTIVE' })).taskDefinitionArns ?? [];
    assert.deepEqual(left.map((a) => a.split('/').pop()), ['cloudwatchlogs:2']);
    assert.equal(mine.revision, 1);
  });
});

test('one run per stack: a second up waits for nobody, it refuses clearly; a kill -9 leaves a lock the next run takes over', async () => {
  await withSandbox({ latency: 'realistic' }, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const [a, b] = await Promise.all([runCli(upArgs(sb.url), env, { timeoutMs: 240_000 }), runCli(upArgs(sb.url), env, { timeoutMs: 240_000 })]);
    const codes = [a.code, b.code].sort();
    assert.deepEqual(codes, [0, 1], `${a.stderr}\n---\n${b.stderr}`);
    const refused = a.code === 1 ? a : b;
    assert.match(refused.stderr, /Stack safe is busy: another ecs-cwlogs is changing it: `up`, pid \d+/);
    const aws = clients(sb);
    const active = (await aws.ecs.listTaskDefinitions({ familyPrefix: 'cloudwatchlogs', status: 'ACTIVE' })).taskDefinitionArns ?? [];
    assert.equal(active.length, 1, 'exactly one ACTIVE revision');
    const services = (await aws.ecs.describeServices({ cluster: 'ECSCloudWatchLogs', services: ['cloudwatchlogs'] })).services ?? [];
    assert.equal(services.filter((s) => s.status === 'ACTIVE').length, 1, 'exactly one service');

    // kill -9 while holding the lock: the next run finds it stale and goes ahead.
    const child = spawn(process.execPath, [BIN, ...upArgs(sb.url, '--allow-cidr', '198.51.100.0/24')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve) => {
      let err = '';
      child.stderr.on('data', (d) => {
        err += d;
        if (/EC2 container instance/.test(err)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('close', () => resolve());
    });
    await new Promise((r) => child.on('close', r));
    const lock = join(env.ECS_CWLOGS_CONFIG_DIR!, 'locks', `${STACK}.lock`);
    assert.match(await readFile(lock, 'utf8'), /"pid"/, 'the killed run left its lock');
    const after = await runCli(upArgs(sb.url), env, { timeoutMs: 240_000 });
    assert.equal(after.code, 0, after.stderr);
    await assert.rejects(readFile(lock, 'utf8'), /ENOENT/, 'released at the end');
  });
});

test('a down killed right after DeregisterTaskDefinition, then down again: no revision of the stack remains, ACTIVE or INACTIVE', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    // A second revision, so there is history to clean up too.
    assert.equal((await runCli(upArgs(sb.url, '--app-image', 'httpd:2.4.62'), env)).code, 0);
    const since = sb.requestLog().length;
    const child = spawn(process.execPath, [BIN, 'down', ...base(sb.url, '--yes')], { env, stdio: ['ignore', 'ignore', 'ignore'] });
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (sb.requestLog().slice(since).some((r) => r.operation === 'DeregisterTaskDefinition' && r.status < 400)) {
          child.kill('SIGKILL');
          clearInterval(t);
          resolve();
        }
      }, 1);
      child.on('close', () => {
        clearInterval(t);
        resolve();
      });
    });
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.on('close', r)));
    const aws = clients(sb);
    const list = async (status: 'ACTIVE' | 'INACTIVE') => (await aws.ecs.listTaskDefinitions({ familyPrefix: 'cloudwatchlogs', status })).taskDefinitionArns ?? [];
    assert.ok((await list('INACTIVE')).length >= 1, 'the kill left an INACTIVE revision');
    const again = await runCli(['down', ...base(sb.url, '--yes')], env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await list('ACTIVE'), []);
    assert.deepEqual(await list('INACTIVE'), [], 'INACTIVE revisions were deleted too');
    const third = await runCli(['down', ...base(sb.url, '--yes')], env);
    assert.match(third.stdout, /Nothing to delete/);
  });
});

test('lose the stack file, lose nothing: after up with custom names, status finds the stack by its tag and down leaves nothing tagged', async () => {
  await withSandbox({}, async (sb) => {
    const dir = tempConfigDir();
    const env = cliEnv(dir);
    const names = ['--cluster-name', 'c-custom', '--service-name', 's-custom', '--task-family', 'f-custom', '--log-group', '/custom/logs', '--iam-name', 'IamCustom', '--security-group-name', 'custom-sg-name'];
    assert.equal((await runCli([...upArgs(sb.url), ...names], env)).code, 0);
    await rm(join(dir, 'stacks'), { recursive: true, force: true });
    const status = await runCli(['status', ...base(sb.url, '--json')], env);
    assert.equal(status.code, 0, status.stderr);
    const steps = (JSON.parse(status.stdout) as { steps: { id: string; action: string; details?: Record<string, string> }[] }).steps;
    for (const id of ['cluster', 'iam', 'log-group', 'security-group', 'instance', 'task', 'service']) {
      assert.equal(steps.find((s) => s.id === id)?.action, id === 'instance' ? 'noop' : 'noop', `${id} found by its tag: ${JSON.stringify(steps.find((s) => s.id === id))}`);
    }
    assert.match(JSON.stringify(steps), /c-custom/);
    const since = sb.requestLog().length;
    const up = await runCli(upArgs(sb.url), env);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(mutatingCalls(sb, since), [], 'up converges on the tagged resources instead of building a second set');
    const down = await runCli(['down', ...base(sb.url, '--yes', '--delete-logs')], env);
    assert.equal(down.code, 0, down.stderr);
    // Checked from the outside, with Debian's awscli: nothing carries the tag any more.
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((resolve, reject) =>
      execFile('/usr/bin/aws', ['--endpoint-url', sb.url, '--region', 'us-east-1', '--output', 'json', 'resourcegroupstaggingapi', 'get-resources', '--tag-filters', `Key=ecs-cwlogs:stack,Values=${STACK}`], { env: { ...env, AWS_PAGER: '' } }, (e, o, err) =>
        e ? reject(new Error(err)) : resolve(o),
      ),
    );
    const left = (JSON.parse(out) as { ResourceTagMappingList: { ResourceARN: string }[] }).ResourceTagMappingList.map((r) => r.ResourceARN);
    // What the Tagging API still lists must be gone in its own service (a terminated instance, a
    // stopped task or an INACTIVE cluster can be listed for a while, as on AWS).
    const aws = clients(sb);
    for (const arn of left) {
      if (/:instance\//.test(arn)) {
        const i = (await aws.ec2.describeInstances({ InstanceIds: [arn.split('/').pop()!] })).Reservations?.[0]?.Instances?.[0];
        assert.ok(['terminated', 'shutting-down'].includes(i?.State?.Name ?? 'terminated'), `${arn} is ${i?.State?.Name}`);
      } else if (/:cluster\//.test(arn)) {
        const c = (await aws.ecs.describeClusters({ clusters: [arn] })).clusters?.[0];
        assert.equal(c?.status ?? 'INACTIVE', 'INACTIVE', arn);
      } else if (/:task\//.test(arn)) {
        const cluster = arn.split('/')[1]!;
        const t = (await aws.ecs.describeTasks({ cluster, tasks: [arn] }).catch(() => ({ tasks: [] }))).tasks?.[0]; // its cluster is gone
        assert.equal(t?.lastStatus ?? 'STOPPED', 'STOPPED', arn);
      } else assert.fail(`still tagged: ${arn}`);
    }
    const roles = (await clients(sb).iam.listRoles({ PathPrefix: `/ecs-cwlogs/${STACK}/` })).Roles ?? [];
    assert.deepEqual(roles.map((r) => r.RoleName), []);
  });
});

test('cluster --delete with a running instance says what to delete first, at once, and deletes nothing', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    const since = sb.requestLog().length;
    const t0 = Date.now();
    const r = await runCli(['cluster', ...base(sb.url, '--delete', '--yes')], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Cluster ECSCloudWatchLogs still has container instances: i-[0-9a-f]+ \(running\).*`ecs-cwlogs instance --delete`/);
    assert.ok(Date.now() - t0 < 30_000, 'no ten-minute retry');
    assert.deepEqual(mutatingCalls(sb, since), []);
    // In order, it works: the instance first, then the cluster.
    assert.equal((await runCli(['service', ...base(sb.url, '--delete', '--yes')], env)).code, 0);
    assert.equal((await runCli(['instance', ...base(sb.url, '--delete', '--yes')], env)).code, 0);
    const ok = await runCli(['cluster', ...base(sb.url, '--delete', '--yes')], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /deleted cluster ECSCloudWatchLogs/);
  });
});

test('a sandbox rehearsal never poisons another endpoint: up --sandbox, then up --dry-run elsewhere neither mentions nor fails on its ids', async () => {
  const dir = tempConfigDir();
  const env = cliEnv(dir);
  const rehearsal = await runCli(['up', '--sandbox', '--stack', STACK, '--yes', '--image', IMAGE], env, { timeoutMs: 120_000 });
  try {
    assert.equal(rehearsal.code, 0, rehearsal.stderr);
    const { builtinNetwork } = await import('../../src/sandbox/services/ec2/index.js');
    const rehearsed = builtinNetwork('us-east-1');
    const saved = await readFile(join(dir, 'stacks', `${STACK}.json`), 'utf8');
    assert.doesNotMatch(saved, /vpc-|subnet-|127\.0\.0\.1|allowCidr|vpcId|subnetId/, `nothing discovered is saved:\n${saved}`);
    await withSandbox({ accountId: '210987654321' }, async (other) => {
      const elsewhere = builtinNetwork('us-east-1', '210987654321');
      assert.notEqual(elsewhere.defaultVpcId, rehearsed.defaultVpcId, 'the other endpoint has other ids');
      const r = await runCli(['up', '--endpoint-url', other.url, '--region', 'us-east-1', '--stack', STACK, '--yes', '--dry-run', '--image', IMAGE, '--allow-cidr', '198.51.100.7/32'], env);
      assert.equal(r.code, 0, r.stderr);
      const all = r.stdout + r.stderr;
      for (const id of [rehearsed.defaultVpcId, ...rehearsed.defaultSubnetIds, '127.0.0.1/32']) assert.ok(!all.includes(id), `does not mention ${id}`);
      assert.match(all, /198\.51\.100\.7\/32/);
      assert.ok(all.includes(elsewhere.defaultVpcId) || /default VPC/.test(all), 'plans with the other endpoint’s own default VPC');
      assert.deepEqual(mutatingCalls(other), []);
    });
  } finally {
    await runCli(['sandbox', '--stop', '--stack', STACK], env);
  }
});

test('a stopped instance does not stall down: its container instance, still registered, is deregistered and the cluster deleted', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await runCli(upArgs(sb.url), env)).code, 0);
    const aws = clients(sb);
    const id = (await aws.ec2.describeInstances({ Filters: [{ Name: 'tag:ecs-cwlogs:stack', Values: [STACK] }] })).Reservations![0]!.Instances![0]!.InstanceId!;
    await (aws.ec2 as unknown as { stopInstances(x: object): Promise<unknown> }).stopInstances({ InstanceIds: [id] });
    for (;;) {
      const st = (await aws.ec2.describeInstances({ InstanceIds: [id] })).Reservations![0]!.Instances![0]!.State?.Name;
      if (st === 'stopped') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ci = await aws.ecs.describeContainerInstances({ cluster: 'ECSCloudWatchLogs', containerInstances: (await aws.ecs.listContainerInstances({ cluster: 'ECSCloudWatchLogs' })).containerInstanceArns ?? [] });
    assert.equal(ci.containerInstances?.[0]?.agentConnected, false, 'ECS keeps a stopped instance registered, disconnected');
    const since = sb.requestLog().length;
    const down = await runCli(['down', ...base(sb.url, '--yes')], env, { timeoutMs: 120_000 });
    assert.equal(down.code, 0, down.stderr);
    const calls = mutatingCalls(sb, since);
    assert.ok(calls.includes('ecs:DeregisterContainerInstance'), calls.join(', '));
    assert.ok(calls.includes('ecs:DeleteCluster'));
    const c = (await aws.ecs.describeClusters({ clusters: ['ECSCloudWatchLogs'] })).clusters?.[0];
    assert.equal(c?.status, 'INACTIVE');
    // DeleteCluster is asked once after the instance's termination and refused (a stopped instance's
    // container instance stays registered when it terminates); then listed, deregistered, deleted: not retried.
    const ecsOps = sb.requestLog().slice(since).filter((r) => ['DeleteCluster', 'ListContainerInstances', 'DeregisterContainerInstance'].includes(r.operation));
    assert.deepEqual(
      ecsOps.map((r) => `${r.operation}${r.errorCode ? `!${r.errorCode}` : ''}`),
      ['DeleteCluster!ClusterContainsContainerInstancesException', 'ListContainerInstances', 'DeregisterContainerInstance', 'DeleteCluster'],
      'no retried DeleteCluster',
    );
  });
});
