/**
 * The CloudWatch agent's stand-in of `sandbox --local` (src/sandbox/local/log-shipper.ts), against a
 * real sandbox over HTTP: PutLogEvents batches stay within 10,000 events and 1,048,576 bytes, long
 * lines are cut to what an event holds, partial lines wait for their newline, offsets survive a new
 * shipper (nothing shipped twice), and a rotated file is drained before the new one is read.
 * Issue 19, item 1b: a link planted in place of a log file (or of a directory on the way), or a FIFO,
 * is not read, and the shipper says so once, naming it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient, CreateLogGroupCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { batches, LogShipper, MAX_EVENT_BYTES, type LogSource } from '../../src/sandbox/local/log-shipper.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

// The SDK's Node 20 notice would repeat in every test's output (the README explains it once).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const CREDS = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' };
let sb: RunningSandbox;
let client: CloudWatchLogsClient;
const dir = mkdtempSync(join(tmpdir(), 'cwl-shipper-'));

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS });
  client = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: sb.url, credentials: CREDS, maxAttempts: 1 });
  await client.send(new CreateLogGroupCommand({ logGroupName: 'ecs' }));
});

after(async () => {
  client.destroy();
  await sb.close();
});

function shipper(name: string, onError?: (m: string) => void): LogShipper {
  return new LogShipper({ endpoint: sb.url, credentials: CREDS, offsetsFile: join(dir, `${name}.offsets.json`), flushMs: 0, onError });
}

function source(name: string): LogSource {
  return { root: dir, path: join(dir, name), region: 'us-east-1', logGroup: 'ecs', logStream: `i-0test-${name}` };
}

function puts(from: number): number {
  return sb.requestLog().filter((r) => r.seq > from && r.operation === 'PutLogEvents' && r.status === 200).length;
}

async function drain(s: LogShipper, expect: number): Promise<void> {
  for (let i = 0; i < 50 && s.shipped < expect; i++) await s.poll(true);
}

async function messages(stream: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  for (;;) {
    const r = await client.send(new GetLogEventsCommand({ logGroupName: 'ecs', logStreamName: stream, startFromHead: true, nextToken: token }));
    out.push(...(r.events ?? []).map((e) => e.message ?? ''));
    if (!r.nextForwardToken || r.nextForwardToken === token || (r.events ?? []).length === 0) return out;
    token = r.nextForwardToken;
  }
}

test('batches: at most 10,000 events and 1,048,576 bytes (message + 26) each', () => {
  const many = Array.from({ length: 25_000 }, (_, i) => ({ message: `l${i}` }));
  assert.deepEqual(batches(many).map((b) => b.length), [10_000, 10_000, 5_000]);
  const big = Array.from({ length: 30 }, () => ({ message: 'x'.repeat(100_000) }));
  const sizes = batches(big).map((b) => b.reduce((n, e) => n + e.message.length + 26, 0));
  assert.ok(sizes.every((n) => n <= 1_048_576), String(sizes));
  assert.deepEqual(batches(big).map((b) => b.length), [10, 10, 10]);
});

test('25,000 lines go in 3 calls of at most 10,000 events; a new shipper ships none of them again', { timeout: 60_000 }, async () => {
  const src = source('many.log');
  writeFileSync(src.path, Array.from({ length: 25_000 }, (_, i) => `line ${i}\n`).join(''));
  const s = shipper('many');
  s.setSources([src]);
  const from = sb.requestLog().at(-1)?.seq ?? 0;
  await drain(s, 25_000);
  assert.equal(s.shipped, 25_000);
  assert.equal(puts(from), 3);
  const again = shipper('many');
  again.setSources([src]);
  const before = sb.requestLog().at(-1)?.seq ?? 0;
  await again.poll(true);
  assert.equal(again.shipped, 0);
  assert.equal(puts(before), 0);
  s.close();
  again.close();
});

test('3 MB of 100 kB lines go in calls of at most 1 MB; a 300 kB line is cut to what an event holds', { timeout: 60_000 }, async () => {
  const src = source('big.log');
  writeFileSync(src.path, Array.from({ length: 30 }, (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(99_997)}\n`).join('') + `${'y'.repeat(300_000)}\n`);
  const s = shipper('big');
  s.setSources([src]);
  const from = sb.requestLog().at(-1)?.seq ?? 0;
  await drain(s, 31);
  assert.equal(s.shipped, 31);
  assert.equal(puts(from), 4, '10 + 10 + 10 lines, then the long one');
  const got = await messages(src.logStream);
  assert.equal(got.length, 31);
  assert.equal(Buffer.byteLength(got[30]!), MAX_EVENT_BYTES);
  s.close();
});

test('a partial line waits for its newline; a rotated file is drained, then the new one read from 0', { timeout: 60_000 }, async () => {
  const src = source('rot.log');
  writeFileSync(src.path, 'a1\na2\npart');
  const s = shipper('rot');
  s.setSources([src]);
  await s.poll(true);
  assert.equal(s.shipped, 2);
  appendFileSync(src.path, 'ial\na3\n');
  renameSync(src.path, `${src.path}.1`); // ecs-cwlogs-rotate renames; rsyslog reopens the name
  writeFileSync(src.path, 'b1\nb2\n');
  await drain(s, 6);
  await s.poll(true);
  assert.deepEqual(await messages(src.logStream), ['a1', 'a2', 'partial', 'a3', 'b1', 'b2']);
  s.close();
});

test('a link planted in place of a log file, to a 0600 file outside, is not shipped; the warning names it once', { timeout: 60_000 }, async () => {
  const outside = mkdtempSync(join(tmpdir(), 'cwl-outside-'));
  const secret = join(outside, 'secret');
  writeFileSync(secret, 'SECRET-0600-CONTENT\n', { mode: 0o600 });
  chmodSync(secret, 0o600);
  const task = mkdtempSync(join(tmpdir(), 'cwl-task-'));
  symlinkSync(secret, join(task, 'syslog'));
  const src = { root: task, path: join(task, 'syslog'), region: 'us-east-1', logGroup: 'ecs', logStream: 'i-0test-link-syslog' };
  const warnings: string[] = [];
  const s = shipper('link', (m) => warnings.push(m));
  s.setSources([src]);
  const from = sb.requestLog().at(-1)?.seq ?? 0;
  for (let i = 0; i < 3; i++) await s.poll(true);
  assert.equal(s.shipped, 0);
  assert.equal(puts(from), 0);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, new RegExp(`not shipping ${src.path.replace(/[.]/g, '\\.')}: .*a symbolic link \\(to ${secret.replace(/[.]/g, '\\.')}\\)`));
  // A regular file in its place is shipped (from its start), the secret never.
  rmSync(src.path);
  writeFileSync(src.path, 'real line\n');
  await drain(s, 1);
  assert.deepEqual(await messages(src.logStream), ['real line']);
  s.close();
});

test("a link on the way (the instance's var/log/ecs replaced by a link) and a FIFO are refused, without blocking", { timeout: 60_000 }, async () => {
  const outside = mkdtempSync(join(tmpdir(), 'cwl-outside-'));
  mkdirSync(join(outside, 'ecs'));
  writeFileSync(join(outside, 'ecs', 'ecs-agent.log'), 'SECRET-VIA-DIR\n');
  const root = mkdtempSync(join(tmpdir(), 'cwl-root-'));
  mkdirSync(join(root, 'var'));
  symlinkSync(outside, join(root, 'var', 'log'));
  const task = mkdtempSync(join(tmpdir(), 'cwl-task-'));
  execFileSync('mkfifo', [join(task, 'httpd-access.log')]);
  const agent = { root, path: join(root, 'var', 'log', 'ecs', 'ecs-agent.log'), region: 'us-east-1', logGroup: 'ecs', logStream: 'i-0test-dir-ecs-agent.log' };
  const fifo = { root: task, path: join(task, 'httpd-access.log'), region: 'us-east-1', logGroup: 'ecs', logStream: 'i-0test-fifo-httpd-access.log' };
  const warnings: string[] = [];
  const s = shipper('dir', (m) => warnings.push(m));
  s.setSources([agent, fifo]);
  for (let i = 0; i < 3; i++) await s.poll(true);
  assert.equal(s.shipped, 0);
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes(join(root, 'var', 'log')) && w.includes('a symbolic link')), warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes(fifo.path) && w.includes('a FIFO')), warnings.join('\n'));
  s.close();
});
