/**
 * Issue 21, items 3 and 5, through the real binary on `--sandbox --local` (Docker): `up` ends with
 * verify; `verify` reports the canary's end-to-end latency and every stream's age, the ECS agent's
 * included; `query` runs a raw query (one --json document, --csv quoting) and `query --chart` prints
 * plain numbers when piped; a paused logging container is a broken pipeline ("did not arrive",
 * exit 1); --dry-run sends no canary. One stack, in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rename, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { dockerEnv, type DockerEnv } from './docker-helpers.js';
import { alive, localStack, readLogs, type LocalStack } from './local-helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

let s: LocalStack;
const at = (args: string[]) => [...args, '--sandbox', '--stack', s.stack];

before(async () => {
  if (skip) return;
  s = await localStack(env, 'vfy');
});

after(async () => {
  if (skip || !s) return;
  await s.cli(['down', '--sandbox', '--yes', '--stack', s.stack], 120_000).catch(() => undefined);
  const rec = s.record();
  if (rec && alive(rec.pid)) process.kill(rec.pid, 'SIGKILL');
  const { removeLabelled } = await import('../../src/sandbox/local/labels.js');
  await removeLabelled(env.docker, s.stack).catch(() => undefined);
});

test('up --sandbox --local ends with verify: the canary line arrived, its latency in the document', { skip, timeout: 300_000 }, async () => {
  const r = await s.cli(s.upArgs, 300_000);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.verify.ok, true, JSON.stringify(doc.verify));
  assert.equal(doc.verify.canary.status, 200);
  assert.ok(doc.verify.canary.latencyMs > 0 && doc.verify.canary.latencyMs < 60_000, String(doc.verify.canary.latencyMs));
  assert.match(doc.verify.canary.stream, /-httpd-access\.log$/);
  console.log(`# up's verify: ${doc.verify.canary.latencyMs} ms`);
});

test('verify: exit 0, one JSON document, the latency and each stream of the instance with its age, the ECS agent included', { skip, timeout: 120_000 }, async () => {
  const r = await s.cli(at(['verify', '--json']), 120_000);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout); // exactly one document, or this throws
  assert.equal(doc.command, 'verify');
  assert.equal(doc.ok, true);
  assert.equal(doc.tasks.running, 1);
  assert.match(doc.canary.url, /^http:\/\/127\.0\.0\.1:\d+\/\?ecs-cwlogs-canary=[0-9a-f]{16}$/);
  assert.ok(doc.canary.latencyMs > 0);
  console.log(`# verify: ${doc.canary.latencyMs} ms`);
  const files = doc.streams.map((x: { file: string }) => x.file);
  for (const f of ['httpd-access.log', 'ecs-agent.log']) assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
  const agent = doc.streams.find((x: { file: string }) => x.file === 'ecs-agent.log');
  assert.ok(agent.ageMs >= 0 && agent.ageMs < 3_600_000, String(agent.ageMs));
  const events = await readLogs(s);
  assert.equal(events.filter((e) => e.message.includes(`ecs-cwlogs-canary=${doc.canary.id}`)).length, 1, 'the canary line, once');
  const human = await s.cli(at(['verify']), 120_000);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^Pipeline OK\n {2}Tasks: {4}1 running on i-[0-9a-f]+\n {2}Canary: {3}GET http:\S+ -> 200, its access line in CloudWatch Logs after \d+\.\d\ds\n {2}Streams \(last event\):\n/);
  assert.match(human.stdout, /ecs-agent\.log\s+\d/);
});

test('query: a raw query string (one --json document), --csv quoting, --chart plain when piped, exit 2 on a malformed query', { skip, timeout: 120_000 }, async () => {
  const raw = await s.cli(at(['query', 'filter @message like /ecs-cwlogs-canary/ | stats count(*) as canaries', '--json']));
  assert.equal(raw.code, 0, raw.stderr);
  const doc = JSON.parse(raw.stdout);
  assert.deepEqual(doc.fields, ['canaries']);
  assert.ok(Number(doc.rows[0].canaries) >= 2, raw.stdout);
  const csv = await s.cli(at(['query', 'fields @message | filter @message like /ecs-cwlogs-canary/ | limit 1', '--csv']));
  assert.equal(csv.code, 0, csv.stderr);
  const [head, row] = csv.stdout.split('\r\n');
  assert.equal(head, '@message');
  assert.match(row!, /^".*""GET \/\?ecs-cwlogs-canary=[0-9a-f]{16} HTTP\/1\.1"" 200 .*"$/, 'quoted, its quotes doubled');
  const chart = await s.cli(at(['query', '--chart', '--since', '10m']));
  assert.equal(chart.code, 0, chart.stderr);
  const lines = chart.stdout.trimEnd().split('\n');
  assert.equal(lines[0], 'minute  requests  p99_ms');
  assert.ok(lines.length >= 11 && lines.slice(1).every((l) => /^\d\d:\d\d +\d+ +(\d\S*|-)$/.test(l)), chart.stdout);
  const bad = await s.cli(at(['query', 'stats count(*) byy status']));
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /Logs Insights cannot run the query/);
});

test('--dry-run sends no canary; the access file no longer shipped: exit 1, the access line did not arrive', { skip, timeout: 120_000 }, async () => {
  const dry = await s.cli(at(['verify', '--dry-run', '--json']));
  assert.equal(dry.code, 0, dry.stderr);
  const d = JSON.parse(dry.stdout);
  assert.equal(d.canary, undefined);
  assert.match(d.canarySkipped, /dry run/);

  // The agent stops passing the access lines on while the task keeps running (stopping or pausing
  // the logging container stops the task, which verify reports as "no running task"): rsyslog keeps
  // writing to its open file, moved aside, and a link stands at the file's path, which the stand-in
  // agent never follows (issue 19).
  const tasks = join(s.configDir, 'sandbox', `${s.stack}.local`, 'tasks');
  const files = (await readdir(tasks, { recursive: true })).filter((f) => f.endsWith('httpd-access.log')).map((f) => join(tasks, f));
  assert.equal(files.length, 1, files.join(' '));
  const file = files[0]!;
  await rename(file, `${file}.moved`);
  await symlink('/dev/null', file);
  try {
    const r = await s.cli(at(['verify', '--timeout', '8s', '--json']), 120_000);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, false);
    assert.equal(doc.broken.where, 'no-access-line', JSON.stringify(doc.broken));
    assert.equal(doc.canary.status, 200, 'httpd answered');
    assert.equal(doc.tasks.running, 1);
    assert.match(r.stderr, /Pipeline broken: The canary's access line did not arrive in ecs within 8\.0s/);
    const human = await s.cli(at(['verify', '--timeout', '3s']), 120_000);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /^Pipeline BROKEN \(no-access-line\): The canary's access line did not arrive/);
  } finally {
    await unlink(file);
    await rename(`${file}.moved`, file);
  }
});
