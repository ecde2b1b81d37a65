/**
 * `ecs-cwlogs logs --follow` through Live Tail, as a user runs it: the real binary against a sandbox
 * (an explicit endpoint, as --sandbox gives the clients), with every host name the process looks up
 * recorded (test/helpers/net-recorder.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { defaultServices, ManualClock, type RunningSandbox } from '../../src/sandbox/index.js';
import { openLiveTailSessions } from '../../src/sandbox/services/logs/live-tail.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { outsideHosts } from '../helpers/net-log.js';
import { control } from '../helpers/sandbox-context.js';
import { withSandbox } from '../sandbox/support.js';
import { PREFIX_A, PREFIX_B, putEvent, seedLab } from './seed.js';

const RECORDER = join(PACKAGE_ROOT, 'dist', 'test', 'helpers', 'net-recorder.js');
const args = (url: string, ...rest: string[]) => ['logs', '--endpoint-url', url, '--region', 'us-east-1', ...rest];
const ACCESS = `${PREFIX_A}-httpd-access.log`;

interface Running {
  child: ChildProcessWithoutNullStreams;
  out(): string;
  err(): string;
  until(re: RegExp, what: string, where?: 'stdout' | 'stderr'): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function follow(sb: RunningSandbox, netLog: string, ...rest: string[]): Running {
  const env = cliEnv(tempConfigDir(), { NODE_OPTIONS: `--import=${RECORDER}`, ECS_CWLOGS_TEST_NET_LOG: netLog });
  const child = spawn(process.execPath, [BIN, ...args(sb.url, '--follow', ...rest)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const until = async (re: RegExp, what: string, where: 'stdout' | 'stderr' = 'stdout') => {
    const end = Date.now() + 60_000;
    while (!re.test(where === 'stdout' ? stdout : stderr)) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`no ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { child, out: () => stdout, err: () => stderr, until, exited };
}

const netLogFile = () => join(mkdtempSync(join(tmpdir(), 'cwl-net-')), 'net.log');
const calls = (sb: RunningSandbox, op: string) => sb.requestLog().filter((x) => x.operation === op).length;

test('logs --follow: one Live Tail session, lines put while following appear once, --filter applies, no polling, nothing outside loopback looked up; Ctrl-C exits 130', async () => {
  await withSandbox({}, async (sb) => {
    const seeded = await seedLab(sb);
    const netLog = netLogFile();
    const run = follow(sb, netLog, '--since', '1h', '--stream', 'httpd-access', '--filter', 'GET');
    try {
      await run.until(/Following log group ecs/, 'the follow notice', 'stderr');
      // Seeded access lines have no "GET": nothing from before, the filter holds for the history too.
      await putEvent(sb, ACCESS, '10.0.0.9 - - "GET /live HTTP/1.1" 200 45');
      await putEvent(sb, ACCESS, '10.0.0.9 - - "POST /skipped HTTP/1.1" 200 45');
      await putEvent(sb, `${PREFIX_A}-httpd-error.log`, 'GET in the error log: another stream');
      await putEvent(sb, `${PREFIX_B}-httpd-access.log`, '10.0.0.8 - - "GET /second HTTP/1.1" 404 9');
      await run.until(/GET \/second/, 'the second live line');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(openLiveTailSessions(sb.world), 1, 'one session while following');
      run.child.kill('SIGINT');
      const { code } = await run.exited;
      assert.equal(code, 130, run.err());
      const lines = run.out().trimEnd().split('\n');
      // The stream's label names the instance once a second instance's line was printed (the first
      // line shows it only when both came in one session update): compare without it.
      assert.deepEqual(
        lines.map((l) => l.replace(/^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d /, '').replace(/^i-0(abc|def)\//, '')),
        ['httpd-access.log 10.0.0.9 - - "GET /live HTTP/1.1" 200 45', 'httpd-access.log 10.0.0.8 - - "GET /second HTTP/1.1" 404 9'],
      );
      assert.match(lines[1]!, / i-0def\/httpd-access\.log /, 'the second instance\'s line names its instance');
      assert.equal(seeded.events.length > 0, true);
      assert.equal(calls(sb, 'StartLiveTail'), 1);
      assert.ok(calls(sb, 'FilterLogEvents') <= 2, `the --since read only, no polling (${calls(sb, 'FilterLogEvents')} FilterLogEvents)`);
      assert.doesNotMatch(run.err(), /not available|polling/);
      assert.deepEqual(outsideHosts(netLog), [], `hosts outside loopback were looked up (recording ${netLog})`);
      await waitFor(() => openLiveTailSessions(sb.world) === 0, 'the session to close');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});

test('logs --follow --until +3s stops by itself (exit 0); a read with --until ends there', async () => {
  await withSandbox({}, async (sb) => {
    const seeded = await seedLab(sb);
    const run = follow(sb, netLogFile(), '--since', '1h', '--until', '+3s', '--stream', 'httpd-access', '--json');
    await run.until(/Following log group ecs .*until \d{4}-/, 'the follow notice', 'stderr');
    await putEvent(sb, ACCESS, 'during the follow');
    const { code } = await run.exited;
    assert.equal(code, 0, run.err());
    const docs = run.out().trimEnd().split('\n').map((l) => JSON.parse(l) as { message: string; stream: string });
    assert.equal(docs.at(-1)!.message, 'during the follow');
    assert.equal(docs.length, seeded.events.filter((e) => e.stream.endsWith('-httpd-access.log')).length + 1);
    assert.equal(openLiveTailSessions(sb.world), 0);

    // A one-shot read between --since and --until.
    const access = seeded.events.filter((e) => e.stream.endsWith('-httpd-access.log'));
    const cut = new Date(access[2].timestamp).toISOString();
    const r = await runCli(args(sb.url, '--since', '1h', '--until', cut, '--stream', 'httpd-access', '--json'), cliEnv(tempConfigDir()));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { message: string }).message),
      access.slice(0, 3).map((e) => e.message),
    );
    const bad = await runCli(args(sb.url, '--since', '1h', '--until', '2h'), cliEnv(tempConfigDir()));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--until 2h is not after --since 1h/);
  });
});

test('logs --follow when the caller may not use Live Tail (the sandbox denies logs:StartLiveTail): says so once, polls FilterLogEvents, still shows new lines', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb);
    assert.equal((await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ deny: ['logs:StartLiveTail'] }) })).status, 200);
    const run = follow(sb, netLogFile(), '--stream', 'httpd-access');
    try {
      await run.until(/Live Tail is not available/, 'the fallback notice', 'stderr');
      await putEvent(sb, ACCESS, 'found by polling');
      await run.until(/found by polling/, 'the line put while polling');
      const polls = calls(sb, 'FilterLogEvents');
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(calls(sb, 'FilterLogEvents') > polls, 'it keeps polling');
      run.child.kill('SIGINT');
      assert.equal((await run.exited).code, 130);
      assert.equal(run.err().match(/Live Tail is not available/g)?.length, 1, run.err());
      assert.match(run.err(), /Live Tail is not available: your credentials may not call logs:StartLiveTail \(AccessDeniedException\)\. Following by polling FilterLogEvents/);
      assert.equal(calls(sb, 'StartLiveTail'), 1);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});

test('logs --follow on an endpoint without StartLiveTail (UnknownOperationException): polls instead, saying so once', async () => {
  const services = defaultServices.map((m) => (m.name === 'logs' ? { ...m, operations: Object.fromEntries(Object.entries(m.operations).filter(([op]) => op !== 'StartLiveTail')) } : m));
  await withSandbox({ services }, async (sb) => {
    await seedLab(sb);
    const run = follow(sb, netLogFile(), '--stream', 'httpd-access', '--json');
    try {
      await run.until(/Live Tail is not available: the endpoint does not offer StartLiveTail \(UnknownOperationException\)/, 'the fallback notice', 'stderr');
      await putEvent(sb, ACCESS, 'polled line');
      await run.until(/polled line/, 'the line put while polling');
      run.child.kill('SIGINT');
      assert.equal((await run.exited).code, 130);
      assert.deepEqual(JSON.parse(run.out().trimEnd().split('\n').at(-1)!).message, 'polled line', 'stdout holds only JSON lines');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});

test('logs --follow | head -1: a closed stdout ends it quietly with exit 0 and closes the Live Tail session', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb);
    const run = follow(sb, netLogFile(), '--since', '1h', '--stream', 'httpd-access');
    try {
      await run.until(/\n/, 'a first line');
      await waitFor(() => openLiveTailSessions(sb.world) === 1, 'the session');
      run.child.stdout.destroy();
      await putEvent(sb, ACCESS, 'written to a closed pipe');
      const { code } = await run.exited;
      assert.equal(code, 0, run.err());
      assert.doesNotMatch(run.err(), /EPIPE|Error|Unexpected/);
      await waitFor(() => openLiveTailSessions(sb.world) === 0, 'the session to close');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});

test('logs --follow: a session ended by the 3-hour limit is replaced, and lines put after it still appear once', async () => {
  const clock = new ManualClock(Date.now());
  await withSandbox({ clock }, async (sb) => {
    await seedLab(sb);
    const run = follow(sb, netLogFile(), '--stream', 'httpd-access');
    try {
      await waitFor(() => openLiveTailSessions(sb.world) === 1, 'the session');
      await putEvent(sb, ACCESS, 'before the limit');
      await run.until(/before the limit/, 'the first line');
      clock.advance(3 * 60 * 60 * 1000);
      await run.until(/3-hour limit; starting a new one/, 'the reconnection notice', 'stderr');
      await waitFor(() => calls(sb, 'StartLiveTail') === 2 && openLiveTailSessions(sb.world) === 1, 'the second session');
      await putEvent(sb, ACCESS, 'after the limit');
      await run.until(/after the limit/, 'the line put in the second session');
      run.child.kill('SIGINT');
      assert.equal((await run.exited).code, 130);
      assert.equal(run.out().match(/before the limit/g)?.length, 1, 'the catch-up read does not print a line twice');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});

test('logs --sandbox --follow: Live Tail on the sandbox the CLI starts itself, with no name outside loopback looked up', async () => {
  const netLog = netLogFile();
  const env = cliEnv(tempConfigDir(), { NODE_OPTIONS: `--import=${RECORDER}`, ECS_CWLOGS_TEST_NET_LOG: netLog });
  const group = await runCli(['log-group', '--sandbox', '--stack', 'livetail-sbx', '--yes'], env, { timeoutMs: 120_000 });
  assert.equal(group.code, 0, group.stderr);
  const r = await runCli(['logs', '--sandbox', '--stack', 'livetail-sbx', '--follow', '--until', '+10s'], env, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Following log group ecs; until/);
  assert.doesNotMatch(r.stderr, /not available|polling/, 'Live Tail was used, not the fallback');
  assert.deepEqual(outsideHosts(netLog), [], `hosts outside loopback were looked up (recording ${netLog})`);
});

async function waitFor(ok: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
