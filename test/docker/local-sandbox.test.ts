/**
 * Issue 13: `up --sandbox --local` runs the task on the real Docker engine, through the real binary,
 * with the logging image built with the agent skipped (so the sandbox's stand-in ships the logs) and
 * an httpd-like app image, both built from the CI base image and cached by content hash. One stack,
 * in order (each test builds on the one before):
 *   1. up prints a http://127.0.0.1:<port>/ URL that answers 200 within 10 s of up returning;
 *   2. N = 50 GETs give exactly N access lines in `logs --json` within 15 s; missing and denied pages
 *      give error lines in the httpd-error stream (the start script sets `LogLevel warn core:info`,
 *      so a 404 is an error line as in the lab); the ECS agent's stream is there; every stream is
 *      named {instance_id}-{hostname}-{ip_address}-<file> with the sandbox's instance; dockerd's lines
 *      are in their own stream (`logs --stream docker`);
 *   4. a second up makes 0 mutating AWS calls and starts no container;
 *   3. docker kill of httpd: the service's events show the task stopped and a new one started, the
 *      URL `status` shows answers, and no line from before the kill is shipped twice;
 *   5. after SIGKILL of the sandbox, `up` removes an orphan container and keeps the live task's; after
 *      another SIGKILL, `down` leaves no container or network with the stack's label, no stack
 *      directory and no sandbox process; a `down` of a stack never used starts no sandbox.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ECS } from '@aws-sdk/client-ecs';
import { CONTAINER_LABEL, SANDBOX_LABEL, STACK_LABEL, TASK_LABEL, sandboxIdentity } from '../../src/sandbox/local/labels.js';
import { dockerEnv, waitFor, type DockerEnv } from './docker-helpers.js';
import { alive, get, labelledNow, lastSeq, localStack, mutatingSince, NOTHING, readLogs, tearDownStack, type LocalStack } from './local-helpers.js';

// The SDK's Node 20 notice would repeat in every test's output (the README explains it once).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

let s: LocalStack;
let url = '';
let instanceId = '';
const run = Date.now().toString(36);
const N = 50;
const DENIED = 3;
const MISSING = 3;

before(async () => {
  if (skip) return;
  s = await localStack(env, 'loc');
});

// Cleanup whatever failed before: down, then every sandbox process of the stack (by its command
// line, not only its record) and its containers; nothing of it may remain.
after(async () => {
  if (skip || !s) return;
  const { remaining } = await tearDownStack(env.docker, s);
  assert.deepEqual(remaining, NOTHING, 'no container of the stack and no sandbox process of it remain');
});

test('1. up --sandbox --local prints a local URL that answers within 10 s', { skip, timeout: 240_000 }, async () => {
  const t0 = Date.now();
  const r = await s.cli(s.upArgs, 240_000);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  console.log(`# up --sandbox --local: ${Date.now() - t0} ms`);
  url = doc.summary.url;
  instanceId = doc.outputs.instance.instanceId;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const returned = Date.now();
  await waitFor('the app to answer', async () => (await get(url).catch(() => 0)) === 200, 10_000, 50);
  console.log(`# first 200 from ${url} ${Date.now() - returned} ms after up returned`);
  assert.equal(s.record()?.local, true);

  // As the ECS agent starts them: labels, memory limits, one network for the task, health.
  const found = await labelledNow(env.docker, s.stack);
  assert.equal(found.containers.length, 2);
  assert.equal(found.networks.length, 1);
  const inspected = await Promise.all(found.containers.map((c) => env.docker.getContainer(c.id).inspect()));
  const byName = async (n: string) => inspected.find((c) => c.Config.Labels[CONTAINER_LABEL] === n)!;
  const [logging, httpd] = [await byName('cloudwatchlogs'), await byName('httpd')];
  assert.equal(logging.Config.Labels[TASK_LABEL], httpd.Config.Labels[TASK_LABEL]);
  assert.equal(logging.State.Health?.Status, 'healthy');
  assert.ok(Object.keys(httpd.NetworkSettings.Networks).includes(found.networks[0]!.name));
  assert.equal(httpd.NetworkSettings.Ports['80/tcp']?.[0]?.HostIp, '127.0.0.1');
  const ecs = new ECS({ region: 'us-east-1', endpoint: `http://127.0.0.1:${s.record()!.port}`, credentials: { accessKeyId: s.record()!.accessKeyId, secretAccessKey: s.record()!.secretAccessKey } });
  const arns = (await ecs.listTasks({ cluster: 'ECSCloudWatchLogs' })).taskArns!;
  const task = (await ecs.describeTasks({ cluster: 'ECSCloudWatchLogs', tasks: arns })).tasks![0]!;
  assert.equal(task.lastStatus, 'RUNNING');
  assert.equal(task.healthStatus, 'HEALTHY');
  assert.equal(task.taskArn, logging.Config.Labels[TASK_LABEL]);
  const td = (await ecs.describeTaskDefinition({ taskDefinition: task.taskDefinitionArn! })).taskDefinition!;
  for (const [name, c] of [['cloudwatchlogs', logging], ['httpd', httpd]] as const) {
    const def = td.containerDefinitions!.find((x) => x.name === name)!;
    assert.equal(c.HostConfig.Memory, (def.memory ?? 0) * 2 ** 20, `${name}: memory limit`);
    assert.equal(c.HostConfig.MemoryReservation, (def.memoryReservation ?? 0) * 2 ** 20, `${name}: memory reservation`);
  }
  assert.deepEqual(task.containers!.map((c) => [c.name, c.lastStatus, c.healthStatus]).sort(), [['cloudwatchlogs', 'RUNNING', 'HEALTHY'], ['httpd', 'RUNNING', 'UNKNOWN']]);
  ecs.destroy();
});

test('2. N GETs give exactly N access lines within 15 s; errors, the agent stream, stream names', { skip, timeout: 60_000 }, async () => {
  const ok = `ok-${run}`;
  const denied = `ht-${run}`;
  const missing = `missing-${run}`;
  for (let i = 0; i < N; i++) assert.equal(await get(`${url}index.html?${ok}-${i}`), 200);
  for (let i = 0; i < DENIED; i++) assert.equal(await get(`${url}.${denied}-${i}`), 403);
  for (let i = 0; i < MISSING; i++) assert.equal(await get(`${url}${missing}-${i}.html`), 404);
  const t0 = Date.now();
  const count = (events: { stream: string; message: string }[], stream: string, marker: string) =>
    events.filter((e) => e.stream.endsWith(`-${stream}`) && e.message.includes(marker)).length;
  let events = await waitFor(
    'the lines in logs',
    async () => {
      const ev = await readLogs(s);
      return count(ev, 'httpd-access.log', ok) >= N && count(ev, 'httpd-error.log', denied) >= DENIED && count(ev, 'httpd-access.log', missing) >= MISSING && count(ev, 'httpd-error.log', missing) >= MISSING ? ev : undefined;
    },
    15_000,
    250,
  );
  console.log(`# ${N} access lines in logs ${Date.now() - t0} ms after the last request`);
  await new Promise((r) => setTimeout(r, 1500)); // a duplicate would have been shipped by now
  events = await readLogs(s);
  assert.equal(count(events, 'httpd-access.log', ok), N);
  for (let i = 0; i < N; i++) assert.equal(events.filter((e) => e.message.includes(`${ok}-${i} `)).length, 1, `line ${i} once`);
  assert.equal(count(events, 'httpd-error.log', denied), DENIED);
  assert.equal(count(events, 'httpd-access.log', missing), MISSING);
  assert.equal(count(events, 'httpd-error.log', missing), MISSING, 'each missing page is an error line too (AH00128)');
  assert.ok(events.some((e) => e.stream.endsWith('-ecs-agent.log') && /msg="Task transitioned to RUNNING"/.test(e.message)), 'the ECS agent stream');
  const streams = [...new Set(events.map((e) => e.stream))];
  const id = instanceId.replace(/[.]/g, '\\.');
  const name = new RegExp(`^${id}-ip-(\\d+)-(\\d+)-(\\d+)-(\\d+)\\.ec2\\.internal-(\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+)-(httpd-access\\.log|httpd-error\\.log|syslog|ecs-agent\\.log|ecs-init\\.log|docker)$`);
  for (const st of streams) {
    const m = name.exec(st);
    assert.ok(m, `stream ${st} is {instance_id}-{hostname}-{ip_address}-<file>`);
    assert.equal(m.slice(1, 5).join('.'), m.slice(5, 9).join('.'), `hostname and ip agree in ${st}`);
  }
  assert.ok(streams.some((x) => x.endsWith('-ecs-agent.log')));
  // dockerd's journal (forwarded by the user data on AL2023; the runner stands in for it): its own
  // stream, as `logs --stream docker` shows it.
  const docker = await waitFor('the docker stream', async () => {
    const ev = await readLogs(s, ['--stream', 'docker']);
    return ev.some((e) => /dockerd\[\d+\]: .*msg=/.test(e.message)) ? ev : undefined;
  }, 15_000, 250);
  assert.ok(docker.every((e) => e.stream.endsWith('-docker')), docker.map((e) => e.stream).join(' '));
});

test('4. a second up makes 0 mutating AWS calls and starts no container', { skip, timeout: 120_000 }, async () => {
  const rec = s.record()!;
  const before = await labelledNow(env.docker, s.stack);
  const seq = await lastSeq(rec);
  const r = await s.cli(s.upArgs);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await mutatingSince(rec, seq), []);
  const after = await labelledNow(env.docker, s.stack);
  assert.deepEqual(after.containers.map((c) => c.id).sort(), before.containers.map((c) => c.id).sort());
  assert.equal(JSON.parse(r.stdout).summary.url, url);
});

test('3. docker kill of httpd: the service replaces the task, the URL answers again, nothing is shipped twice', { skip, timeout: 120_000 }, async () => {
  const ok = `ok-${run}`;
  const found = await labelledNow(env.docker, s.stack);
  const httpd = found.containers.find((c) => /-httpd-[0-9a-f]{12}$/.test(c.name) && c.state === 'running');
  assert.ok(httpd, 'a running httpd container');
  await env.docker.getContainer(httpd.id).kill();
  const newUrl = await waitFor(
    'status to show a URL that answers',
    async () => {
      const r = await s.cli(['status', '--sandbox', '--json', '--stack', s.stack]);
      const u: string | null = JSON.parse(r.stdout).localUrl;
      return u && u !== url && (await get(u).catch(() => 0)) === 200 ? u : undefined;
    },
    90_000,
    500,
  );
  console.log(`# after docker kill: ${newUrl} answers (was ${url})`);
  const ecs = new ECS({ region: 'us-east-1', endpoint: `http://127.0.0.1:${s.record()!.port}`, credentials: { accessKeyId: s.record()!.accessKeyId, secretAccessKey: s.record()!.secretAccessKey } });
  const svc = (await ecs.describeServices({ cluster: 'ECSCloudWatchLogs', services: ['cloudwatchlogs'] })).services![0]!;
  const events = (svc.events ?? []).map((e) => e.message ?? '');
  const stopped = events.findIndex((m) => /\(task \w+\) has stopped: Essential container in task exited/.test(m));
  const started = events.findIndex((m) => /has started 1 tasks/.test(m));
  assert.ok(stopped >= 0, `a stopped event:\n${events.join('\n')}`);
  assert.ok(started >= 0 && started < stopped, `a started event after it (events are newest first):\n${events.join('\n')}`);
  const tasks = await ecs.listTasks({ cluster: 'ECSCloudWatchLogs', desiredStatus: 'STOPPED' });
  const described = await ecs.describeTasks({ cluster: 'ECSCloudWatchLogs', tasks: tasks.taskArns! });
  const dead = described.tasks!.find((t) => t.stoppedReason === 'Essential container in task exited');
  assert.ok(dead, 'the killed task is STOPPED with its reason');
  assert.equal(dead.containers!.find((c) => c.name === 'httpd')!.exitCode, 137);
  // Requests after the restart arrive once; nothing from before is shipped again.
  const post = `post-${run}`;
  for (let i = 0; i < 5; i++) assert.equal(await get(`${newUrl}?${post}-${i}`), 200);
  await waitFor('the new lines', async () => (await readLogs(s)).filter((e) => e.message.includes(post)).length >= 5, 15_000, 250);
  await new Promise((r) => setTimeout(r, 1500));
  const all = await readLogs(s);
  assert.equal(all.filter((e) => e.message.includes(post)).length, 5);
  assert.equal(all.filter((e) => e.stream.endsWith('-httpd-access.log') && e.message.includes(ok)).length, N, 'the lines before the kill, once');
  const seen = new Map<string, number>();
  for (const e of all) seen.set(`${e.stream}\n${e.message}`, (seen.get(`${e.stream}\n${e.message}`) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual(twice, [], 'no event is in the log group twice');
  url = newUrl;
});

test('5. after SIGKILL of the sandbox, up leaves no orphan and down leaves nothing labelled', { skip, timeout: 180_000 }, async () => {
  // An orphan: a container with the stack's and this sandbox's labels whose task the sandbox does not know.
  const sandbox = sandboxIdentity(join(s.configDir, 'sandbox', `${s.stack}.local`));
  const orphan = await env.docker.createContainer({ Image: env.baseImage, Cmd: ['true'], Labels: { [STACK_LABEL]: s.stack, [SANDBOX_LABEL]: sandbox, [TASK_LABEL]: 'arn:aws:ecs:us-east-1:123456789012:task/x/0000' } });
  let rec = s.record()!;
  process.kill(rec.pid, 'SIGKILL');
  await waitFor('the sandbox to die', async () => !alive(rec.pid), 5000, 50);
  const live = (await labelledNow(env.docker, s.stack)).containers.filter((c) => c.id !== orphan.id).map((c) => c.id).sort();
  const r = await s.cli(s.upArgs);
  assert.equal(r.code, 0, r.stderr);
  const after = (await labelledNow(env.docker, s.stack)).containers;
  assert.ok(!after.some((c) => c.id === orphan.id), 'the orphan is removed');
  assert.deepEqual(after.map((c) => c.id).sort(), live, 'the running task is adopted, not restarted');
  assert.equal(await get(url), 200);

  rec = s.record()!;
  process.kill(rec.pid, 'SIGKILL');
  await waitFor('the sandbox to die', async () => !alive(rec.pid), 5000, 50);
  const down = await s.cli(['down', '--sandbox', '--yes', '--stack', s.stack]);
  assert.equal(down.code, 0, down.stderr);
  const left = await labelledNow(env.docker, s.stack);
  assert.deepEqual(left.containers, []);
  assert.deepEqual(left.networks, []);
  const volumes = await env.docker.listVolumes({ filters: JSON.stringify({ label: [`${STACK_LABEL}=${s.stack}`] }) });
  assert.deepEqual(volumes.Volumes ?? [], []);
  assert.equal(existsSync(join(s.configDir, 'sandbox', `${s.stack}.local`)), false, 'the stack directory is removed');
  const last = s.record();
  assert.equal(last, undefined, 'no sandbox record');
  const pids = [rec.pid];
  assert.ok(pids.every((p) => !alive(p)));

  // A stack never used: no sandbox is started to say so.
  const never = await s.cli(['down', '--sandbox', '--yes', '--stack', `never-${run}`]);
  assert.equal(never.code, 0, never.stderr);
  assert.match(never.stdout + never.stderr, /Nothing to delete/);
  assert.equal(existsSync(join(s.configDir, 'sandbox', `never-${run}.json`)), false);
});
