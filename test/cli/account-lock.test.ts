/**
 * Two machines, one stack (issue 17, item 6): the lock in the account, an SSM parameter, through the
 * real binary against the sandbox, from two config directories (two "machines" as far as the local
 * lock goes); awscli as the second client. And item 4: errors about the endpoint name it and where
 * it came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { BIN, cliEnv, runCli, tempConfigDir, type CliResult } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const IMAGE = 'registry.example/cloudwatchlogs:1';
const LOCK = (stack: string) => `/ecs-cwlogs/${stack}/lock`;
const upArgs = (url: string, stack: string) => ['up', '--endpoint-url', url, '--region', 'us-east-1', '--stack', stack, '--yes', '--image', IMAGE, '--allow-cidr', '203.0.113.7/32'];

const AWSCLI = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
function awscli(sb: RunningSandbox, env: NodeJS.ProcessEnv, ...args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(AWSCLI, ['--endpoint-url', sb.url, '--region', 'us-east-1', '--output', 'json', ...args], { env: { ...env, AWS_PAGER: '' } }, (error, out, err) =>
      error ? reject(Object.assign(new Error(`aws ${args.join(' ')}: ${err}`), { stderr: err })) : resolve(out.trim() ? JSON.parse(out) : {}),
    );
  });
}

function start(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Keep a run inside its apply until released: the service's task stays PENDING (the run waits for a
 * steady state) while the phase lasts ten minutes; lifecycles are worked out from the settings at each
 * request, so putting the phase back lets the task run at the next poll.
 */
function holdTasks(sb: RunningSandbox): () => void {
  const before = sb.world.settings.latency.taskPhaseMs;
  sb.world.settings.latency.taskPhaseMs = 600_000;
  return () => {
    sb.world.settings.latency.taskPhaseMs = before;
  };
}

const revisions = async (sb: RunningSandbox) =>
  (await createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS }).ecs.listTaskDefinitions({ familyPrefix: 'cloudwatchlogs' })).taskDefinitionArns ?? [];

test('two up runs of one stack from two config directories: the second stops naming the holder, with nothing written; one task definition revision', async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    // Hold the first run inside its apply while the second one plans.
    const release = holdTasks(sb);
    const envA = cliEnv(tempConfigDir());
    const envB = cliEnv(tempConfigDir());
    const a = start(upArgs(sb.url, 'twomach'), envA);
    await until('the first run to take the lock', () => sb.requestLog().some((r) => r.operation === 'PutParameter' && r.status === 200));
    const mark = sb.requestLog().length;
    const b = await runCli(upArgs(sb.url, 'twomach'), envB);
    // (The first run goes on writing meanwhile: the second one's writes would be a second lock.)
    const locks = () => mutatingCalls(sb, mark).filter((c) => c === 'ssm:PutParameter');
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /Stack twomach is busy: another ecs-cwlogs run is changing it: \S+@\S+ \(pid \d+, `up`, config \/\S+\), started \d+ s ago/);
    assert.match(b.stderr, /Wait for it to finish, then run this again/);
    assert.ok(b.stderr.includes(envA.ECS_CWLOGS_CONFIG_DIR!), 'the holder is named by its config directory');
    assert.deepEqual(locks(), [], 'the second run took no lock');
    release();
    const first = await a;
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await revisions(sb)).length, 1, 'one task definition revision');
    for (const op of ['RegisterTaskDefinition', 'CreateService', 'CreateCluster', 'RunInstances', 'CreateInstanceProfile', 'CreatePolicy']) {
      assert.equal(sb.requestLog().filter((r) => r.operation === op && r.status === 200).length, 1, `one ${op}`);
    }
    // The lock went with the run that held it.
    await assert.rejects(awscli(sb, envA, 'ssm', 'get-parameter', '--name', LOCK('twomach')), /ParameterNotFound/);
    // And the second run, now, converges with nothing to do.
    const again = await runCli(upArgs(sb.url, 'twomach'), envB);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await revisions(sb)).length, 1);
  });
});

test('two up runs started at once from two config directories: one service, one revision, and no "not idempotent"', async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const [a, b] = await Promise.all([start(upArgs(sb.url, 'sametime'), cliEnv(tempConfigDir())), start(upArgs(sb.url, 'sametime'), cliEnv(tempConfigDir()))]);
    const codes = [a.code, b.code].sort();
    // Either one stopped at the lock (exit 1, naming the holder) or the later one found all done.
    for (const r of [a, b]) {
      assert.doesNotMatch(r.stderr, /not idempotent/);
      if (r.code !== 0) assert.match(r.stderr, /Stack sametime is busy: another ecs-cwlogs run is changing it: .*pid \d+/);
    }
    assert.equal(codes[0], 0, `${a.stderr}\n---\n${b.stderr}`);
    assert.equal((await revisions(sb)).length, 1, 'one task definition revision');
    const creates = sb.requestLog().filter((r) => r.operation === 'CreateService' && r.status === 200);
    assert.equal(creates.length, 1, 'one CreateService');
  });
});

test('a stale lock is taken over and the run says whose it was; a live one from another machine stops the run with 0 writes', async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const holder = (over: Record<string, unknown>) =>
      JSON.stringify({ v: 1, runId: 'feedfacecafebeef', user: 'ann', host: 'build-7', machine: 'another-machine', pid: 4242, command: 'up', configDir: '/home/ann/.config/ecs-cwlogs', startedAt: new Date(Date.now() - 120_000).toISOString(), heartbeatAt: new Date().toISOString(), ...over });
    // Live, on another machine: refused at plan time, nothing written.
    await awscli(sb, env, 'ssm', 'put-parameter', '--name', LOCK('stale'), '--type', 'String', '--value', holder({}), '--tags', 'Key=ecs-cwlogs:stack,Value=stale');
    const mark = sb.requestLog().length;
    const refused = await runCli(upArgs(sb.url, 'stale'), env);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /Stack stale is busy: another ecs-cwlogs run is changing it: ann@build-7 \(pid 4242, `up`, config \/home\/ann\/\.config\/ecs-cwlogs\), started 2 min ago/);
    assert.match(refused.stderr, /taken over 600 s after its last heartbeat/);
    assert.deepEqual(mutatingCalls(sb, mark), [], 'nothing written');

    // Its heartbeat stops: past the stated time it is taken over.
    await awscli(sb, env, 'ssm', 'put-parameter', '--overwrite', '--name', LOCK('stale'), '--type', 'String', '--value', holder({ heartbeatAt: new Date(Date.now() - 30_000).toISOString() }));
    // Stale only when both its heartbeat and its last write are older than the stated time.
    await new Promise((r) => setTimeout(r, 2500));
    const taken = await runCli(upArgs(sb.url, 'stale'), { ...env, ECS_CWLOGS_LOCK_STALE_SECONDS: '2' });
    assert.equal(taken.code, 0, taken.stderr);
    assert.match(taken.stderr, /Took over the lock of stack stale from ann@build-7 \(pid 4242, `up`/);

    // A lock left by a killed run on this machine (its pid gone) is taken over at once.
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('close', r));
    const machine = existsSync('/etc/machine-id') ? (await import('node:fs')).readFileSync('/etc/machine-id', 'utf8').trim() : (await import('node:os')).hostname();
    await awscli(sb, env, 'ssm', 'put-parameter', '--name', LOCK('stale'), '--type', 'String', '--value', holder({ machine, pid: dead.pid }), '--tags', 'Key=ecs-cwlogs:stack,Value=stale');
    const down = await runCli(['down', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'stale', '--yes'], env);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, new RegExp(`Took over the lock of stack stale .*its process ${dead.pid} on this machine is gone`));
    // The lock went with the run: no parameter of the stack is left.
    const tagged = await awscli(sb, env, 'resourcegroupstaggingapi', 'get-resources', '--resource-type-filters', 'ssm:parameter', '--tag-filters', 'Key=ecs-cwlogs:stack,Values=stale');
    assert.deepEqual(tagged.ResourceTagMappingList, []);
    await assert.rejects(awscli(sb, env, 'ssm', 'get-parameter', '--name', LOCK('stale')), /ParameterNotFound/);
  });
});

test('a run that changes nothing takes no lock; the lock is tagged with the stack while it is held', async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const release = holdTasks(sb);
    const run = start(upArgs(sb.url, 'tagged'), env);
    await until('the lock', () => sb.requestLog().some((r) => r.operation === 'PutParameter' && r.status === 200));
    const tagged = await awscli(sb, env, 'resourcegroupstaggingapi', 'get-resources', '--resource-type-filters', 'ssm:parameter', '--tag-filters', 'Key=ecs-cwlogs:stack,Values=tagged');
    assert.deepEqual(tagged.ResourceTagMappingList.map((r: { ResourceARN: string }) => r.ResourceARN), [`arn:aws:ssm:us-east-1:123456789012:parameter${LOCK('tagged')}`]);
    const value = JSON.parse((await awscli(sb, env, 'ssm', 'get-parameter', '--name', LOCK('tagged'))).Parameter.Value);
    assert.equal(value.command, 'up');
    assert.equal(value.configDir, env.ECS_CWLOGS_CONFIG_DIR);
    release();
    assert.equal((await run).code, 0);
    const mark = sb.requestLog().length;
    const second = await runCli(upArgs(sb.url, 'tagged'), env);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(mutatingCalls(sb, mark), [], 'no lock for a run with nothing to change');
    // Nor a read of it: the run's Tagging API listing shows no lock parameter. The one GetParameter
    // left is the AMI's id (the newer-AMI note).
    const gets = sb.requestLog().slice(mark).filter((r) => r.service === 'ssm' && r.operation === 'GetParameter');
    assert.equal(gets.length, 1, 'no read of the lock by a run with nothing to change');

    // Another run holding the stack's lock (live, another machine, listed by its stack tag): a run
    // with nothing to change still stops, with nothing written.
    const holder = { v: 1, runId: 'feedfacecafebeef', user: 'ann', host: 'build-7', machine: 'another-machine', pid: 4242, command: 'up', configDir: '/home/ann/.config/ecs-cwlogs', startedAt: new Date().toISOString(), heartbeatAt: new Date().toISOString() };
    await awscli(sb, env, 'ssm', 'put-parameter', '--name', LOCK('tagged'), '--type', 'String', '--value', JSON.stringify(holder), '--tags', 'Key=ecs-cwlogs:stack,Value=tagged');
    const busy = sb.requestLog().length;
    const third = await runCli(upArgs(sb.url, 'tagged'), env);
    assert.equal(third.code, 1, third.stderr);
    assert.match(third.stderr, /Stack tagged is busy: another ecs-cwlogs run is changing it: ann@build-7/);
    assert.deepEqual(mutatingCalls(sb, busy), [], 'nothing written');
  });
});

test('errors about the endpoint name its URL and where it came from: the flag, the environment, the profile', async () => {
  const env = cliEnv(tempConfigDir());
  const dead = 'http://127.0.0.1:9';
  const flag = await runCli(['status', '--endpoint-url', dead, '--region', 'us-east-1'], env);
  assert.equal(flag.code, 1, flag.stderr);
  assert.match(flag.stderr, /Cannot reach http:\/\/127\.0\.0\.1:9 \(from --endpoint-url\) while working on checking your AWS identity: nothing accepts connections there \(ECONNREFUSED\)/);
  assert.match(flag.stderr, /fix --endpoint-url/);

  const fromEnv = await runCli(['status', '--region', 'us-east-1'], { ...env, AWS_ENDPOINT_URL: dead });
  assert.equal(fromEnv.code, 1, fromEnv.stderr);
  assert.match(fromEnv.stderr, /Cannot reach http:\/\/127\.0\.0\.1:9 \(from AWS_ENDPOINT_URL\)/);
  assert.match(fromEnv.stderr, /unset AWS_ENDPOINT_URL/);

  const fromSts = await runCli(['status', '--region', 'us-east-1'], { ...env, AWS_ENDPOINT_URL_STS: dead });
  assert.match(fromSts.stderr, /\(from AWS_ENDPOINT_URL_STS\)/);

  const dir = tempConfigDir();
  const config = join(dir, 'aws-config');
  writeFileSync(config, `[profile emu]\nregion = us-east-1\nendpoint_url = ${dead}\naws_access_key_id = AKIDPROFILE000000000\naws_secret_access_key = profile-secret\n`);
  // --profile, and AWS_PROFILE: both send the calls where the profile says, as the AWS CLI does.
  for (const how of [['--profile', 'emu'], []]) {
    const extra = how.length ? {} : { AWS_PROFILE: 'emu' };
    const fromProfile = await runCli(['status', ...how], { ...env, AWS_CONFIG_FILE: config, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, ...extra });
    assert.equal(fromProfile.code, 1, fromProfile.stderr);
    assert.match(fromProfile.stderr, /Cannot reach http:\/\/127\.0\.0\.1:9 \(from endpoint_url of profile "emu" \(.*aws-config\)\)/, how.join(' ') || 'AWS_PROFILE');
    assert.match(fromProfile.stderr, /fix the endpoint_url of profile "emu"/);
  }
});

test('per-service endpoints: an error about the SNS or CloudWatch endpoint names that service variable, not AWS_ENDPOINT_URL_STS', { timeout: 120_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const dead = 'http://127.0.0.1:9';
    const services = ['ECS', 'EC2', 'IAM', 'SSM', 'STS', 'ECR', 'CLOUDWATCH_LOGS', 'RESOURCE_GROUPS_TAGGING_API', 'AUTO_SCALING', 'ELASTIC_LOAD_BALANCING_V2', 'CLOUDWATCH', 'SNS'];
    const endpoints = Object.fromEntries(services.map((s) => [`AWS_ENDPOINT_URL_${s}`, sb.url]));
    for (const missing of ['SNS', 'CLOUDWATCH']) {
      const env = cliEnv(tempConfigDir(), { ...endpoints, [`AWS_ENDPOINT_URL_${missing}`]: dead, AWS_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: '1' });
      const r = await runCli(['up', '--stack', `ep${missing.toLowerCase().replace(/_/g, '')}`, '--yes', '--image', IMAGE, '--allow-cidr', '203.0.113.7/32', '--alarm-email', 'ops@example.com'], env);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`Cannot reach http://127\\.0\\.0\\.1:9 \\(from AWS_ENDPOINT_URL_${missing}\\)`), missing);
      assert.match(r.stderr, new RegExp(`unset AWS_ENDPOINT_URL_${missing}\\b`), missing);
      assert.doesNotMatch(r.stderr, /AWS_ENDPOINT_URL_STS/, missing);
    }
  });
});

test('a down with nothing else to delete still removes the stack lock a killed run left (listed, stale), says whose it was, and lists it in --dry-run; a live one stops it', async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const downArgs = (...rest: string[]) => ['down', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'leftlock', '--yes', ...rest];
    const holder = (over: Record<string, unknown>) =>
      JSON.stringify({ v: 1, runId: 'feedfacecafebeef', user: 'ann', host: 'build-7', machine: 'another-machine', pid: 4242, command: 'down', configDir: '/home/ann/.config/ecs-cwlogs', startedAt: new Date(Date.now() - 120_000).toISOString(), heartbeatAt: new Date().toISOString(), ...over });
    // A down killed after its last delete, on this machine: only its lock is left, tagged with the stack.
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('close', r));
    const machine = existsSync('/etc/machine-id') ? (await import('node:fs')).readFileSync('/etc/machine-id', 'utf8').trim() : (await import('node:os')).hostname();
    await awscli(sb, env, 'ssm', 'put-parameter', '--name', LOCK('leftlock'), '--type', 'String', '--value', holder({ machine, pid: dead.pid }), '--tags', 'Key=ecs-cwlogs:stack,Value=leftlock');

    let mark = sb.requestLog().length;
    const dry = await runCli(downArgs('--dry-run'), env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would delete the lock ${LOCK('leftlock')} that a stopped run left \\(ann@build-7 \\(pid ${dead.pid}`));
    assert.deepEqual(mutatingCalls(sb, mark), [], 'a dry run writes nothing');

    const down = await runCli(downArgs(), env);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`Deleted the lock ${LOCK('leftlock')} that a stopped run left \\(ann@build-7 \\(pid ${dead.pid}.*its process ${dead.pid} on this machine is gone`));
    await assert.rejects(awscli(sb, env, 'ssm', 'get-parameter', '--name', LOCK('leftlock')), /ParameterNotFound/);
    const again = await runCli(downArgs(), env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Nothing to delete: stack leftlock has no resources/);

    // A live run's lock (another machine, a fresh heartbeat): down is refused, nothing written.
    await awscli(sb, env, 'ssm', 'put-parameter', '--name', LOCK('leftlock'), '--type', 'String', '--value', holder({}), '--tags', 'Key=ecs-cwlogs:stack,Value=leftlock');
    mark = sb.requestLog().length;
    const busy = await runCli(downArgs(), env);
    assert.equal(busy.code, 1, busy.stderr);
    assert.match(busy.stderr, /Stack leftlock is busy: another ecs-cwlogs run is changing it: ann@build-7/);
    assert.deepEqual(mutatingCalls(sb, mark), [], 'nothing written');
  });
});
