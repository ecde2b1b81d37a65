/**
 * `ecs-cwlogs logs` as a user runs it: the real binary against a sandbox seeded through the SDK.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { withSandbox } from '../sandbox/support.js';
import { PREFIX_A, putEvent, seedLab } from './seed.js';

const args = (url: string, ...rest: string[]) => ['logs', '--endpoint-url', url, '--region', 'us-east-1', ...rest];
const hms = (t: number) => new Date(t).toISOString().slice(11, 19);
const day = (t: number) => new Date(t).toISOString().slice(0, 10);
/**
 * The label a line of a `--since 1h` run starts with. The date shows when [now - 1h, now] spans two
 * UTC days, so a run near midnight carries it; across the instants the run may have taken as its
 * `now` (between before and after), the test requires the date, forbids it, or accepts either.
 */
function expectLabel(line: string, t: number, before: number, after: number): string {
  const spans = (now: number) => day(now - 3_600_000) !== day(now);
  const dated = `${day(t)} ${hms(t)}`;
  if (spans(before) && spans(after)) return dated;
  if (!spans(before) && !spans(after)) return hms(t);
  return line.startsWith(dated) ? dated : hms(t);
}


test('logs --since 1h --stream httpd-access: only those streams, in order across streams, "HH:MM:SS stream message"', async () => {
  await withSandbox({}, async (sb) => {
    const seeded = await seedLab(sb);
    const before = Date.now();
    const r = await runCli(args(sb.url, '--since', '1h', '--stream', 'httpd-access'), cliEnv(tempConfigDir()));
    const after = Date.now();
    assert.equal(r.code, 0, r.stderr);
    const want = seeded.events.filter((e) => e.stream.endsWith('-httpd-access.log'));
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, want.length, r.stdout);
    lines.forEach((line, i) => {
      const e = want[i];
      const short = `${e.stream.slice(0, 6)}/httpd-access.log`;
      assert.equal(line, `${expectLabel(line, e.timestamp, before, after)} ${short} ${e.message}`);
    });
    assert.doesNotMatch(r.stdout, /\u001b\[/, 'no colour when stdout is not a TTY');
  });
});

test('logs --json: one valid JSON object per event per line; pagination (one-item pages) loses nothing', async () => {
  await withSandbox({ pageSize: 1 }, async (sb) => {
    const seeded = await seedLab(sb, { perStream: 2 });
    sb.clearRequestLog();
    const r = await runCli(args(sb.url, '--since', '1h', '--json', '--stream', 'httpd', '--stream', 'ecs-agent'), cliEnv(tempConfigDir()));
    assert.equal(r.code, 0, r.stderr);
    const docs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      docs,
      seeded.events.map((e) => ({ timestamp: new Date(e.timestamp).toISOString(), stream: e.stream, message: e.message })),
    );
    const filterCalls = sb.requestLog().filter((x) => x.operation === 'FilterLogEvents').length;
    // One page per event (a retried call under load may add one).
    assert.ok(filterCalls >= seeded.events.length, `it followed one nextToken per event (${filterCalls} calls)`);
  });
});

test('logs with no log group: exit 1, what happened and what to run; --json adds one error line', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const r = await runCli(args(sb.url, '--log-group', 'missing-group'), env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Log group "missing-group" does not exist in us-east-1: .*Run `ecs-cwlogs up` to create it/);
    assert.equal(r.stdout, '');

    const j = await runCli(args(sb.url, '--json', '--stack', 'demo'), env);
    assert.equal(j.code, 1, j.stderr);
    const lines = j.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1);
    const doc = JSON.parse(lines[0]);
    assert.equal(doc.ok, false);
    assert.equal(doc.error.kind, 'aws');
    assert.match(doc.error.fix, /ecs-cwlogs up --stack demo/);

    const bad = await runCli(args(sb.url, '--since', 'yesterday'), env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Invalid --since "yesterday"/);
  });
});

test('logs --follow prints events added later, and Ctrl-C (SIGINT) ends it with exit 130', async () => {
  await withSandbox({}, async (sb) => {
    const seeded = await seedLab(sb);
    const child = spawn(process.execPath, [BIN, ...args(sb.url, '--follow', '--since', '1h', '--stream', 'httpd-access')], {
      env: cliEnv(tempConfigDir()),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const waiters: { re: RegExp; resolve: () => void }[] = [];
    child.stdout.on('data', (d) => {
      stdout += d;
      for (const w of waiters.filter((x) => x.re.test(stdout))) w.resolve();
    });
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const until = (re: RegExp, what: string) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(stdout)) return resolve();
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`)), 60_000);
        waiters.push({ re, resolve: () => (clearTimeout(t), resolve()) });
      });
    try {
      const last = seeded.events.filter((e) => e.stream.endsWith('-httpd-access.log')).at(-1)!;
      await until(new RegExp(last.message), 'the seeded events');
      await putEvent(sb, `${PREFIX_A}-httpd-access.log`, '10.0.0.9 - - "GET /later HTTP/1.1" 200 45');
      await putEvent(sb, `${PREFIX_A}-httpd-error.log`, 'an error line that must not show');
      await until(/GET \/later/, 'the event put while following');
      // One more poll or two, to see nothing is printed twice.
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      const { code } = await exited;
      assert.equal(code, 130, stderr);
      const lines = stdout.trimEnd().split('\n');
      assert.equal(lines.length, 7, stdout);
      // Near midnight UTC the window spans two days and the line carries the date too.
      assert.match(lines[6], /^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d i-0abc\/httpd-access\.log 10\.0\.0\.9 - - "GET \/later HTTP\/1\.1" 200 45$/);
      assert.doesNotMatch(stdout, /must not show/);
      assert.match(stderr, /Following log group ecs \(streams containing "httpd-access"\); Ctrl-C to stop/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

test('logs --since/--until without an offset read UTC whatever the local time zone (TZ=Pacific/Chatham, +13:45); a day the month lacks exits 2', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb);
    const env = cliEnv(tempConfigDir(), { TZ: 'Pacific/Chatham' });
    const r = await runCli(args(sb.url, '--since', '2026-01-02T03:04:05', '--until', '2026-01-02 04:00'), env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /No events in log group \S+ since 2026-01-02T03:04:05\.000Z until 2026-01-02T04:00:00\.000Z\./);
    const leap = await runCli(args(sb.url, '--since', '2025-02-29'), env);
    assert.equal(leap.code, 2, leap.stderr);
    assert.match(leap.stderr, /Invalid --since "2025-02-29"/);
  });
});

test('logs --since/--until inside one earlier UTC day: the lines carry no date, although today is another day', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb);
    const noon = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) - 12 * 3_600_000;
    await putEvent(sb, `${PREFIX_A}-httpd-access.log`, 'yesterday at noon', noon);
    const iso = (t: number) => new Date(t).toISOString();
    const r = await runCli(args(sb.url, '--since', iso(noon - 300_000), '--until', iso(noon + 300_000), '--stream', 'httpd-access'), cliEnv(tempConfigDir()));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^12:00:00 \S*httpd-access\.log yesterday at noon\n$/);
  });
});
