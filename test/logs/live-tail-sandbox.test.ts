/**
 * The sandbox's StartLiveTail through the unchanged SDK (the tool's own client factory, which turns
 * the `stream-` host prefix off on an explicit endpoint): the event stream, its validation, the
 * 500-event sampling, the three-hour timeout, the concurrent-session quota and a denied caller.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudWatchLogsClient, PutLogEventsCommand, StartLiveTailCommand, type StartLiveTailResponseStream } from '@aws-sdk/client-cloudwatch-logs';
import { ManualClock, type RunningSandbox } from '../../src/sandbox/index.js';
import { openLiveTailSessions } from '../../src/sandbox/services/logs/live-tail.js';
import { control } from '../helpers/sandbox-context.js';
import { rejects, withSandbox } from '../sandbox/support.js';
import { CREDENTIALS, logsApi, PREFIX_A, PREFIX_B, putEvent, seedLab } from './seed.js';

const ARN = 'arn:aws:logs:us-east-1:123456789012:log-group:ecs';

/** Read the stream's events until `stop` says so (or it ends); aborts the session afterwards. */
async function collect(
  stream: AsyncIterable<StartLiveTailResponseStream> | undefined,
  stop: (seen: StartLiveTailResponseStream[]) => boolean,
): Promise<StartLiveTailResponseStream[]> {
  const seen: StartLiveTailResponseStream[] = [];
  for await (const e of stream ?? []) {
    seen.push(e);
    if (stop(seen)) break;
  }
  return seen;
}

const results = (seen: StartLiveTailResponseStream[]) => seen.flatMap((e) => e.sessionUpdate?.sessionResults ?? []);

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('StartLiveTail: sessionStart first, then sessionUpdates with the events put after it started, filtered, from the given group only', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb);
    await seedLab(sb, { group: 'other' });
    const logs = logsApi(sb);
    const ac = new AbortController();
    const res = await logs.startLiveTail({ logGroupIdentifiers: [ARN], logEventFilterPattern: '"GET /live"' }, { abortSignal: ac.signal });
    const reading = collect(res.responseStream, (seen) => results(seen).length >= 2);
    await putEvent(sb, `${PREFIX_A}-httpd-access.log`, '10.0.0.9 - - "GET /live HTTP/1.1" 200 45');
    await putEvent(sb, `${PREFIX_A}-httpd-access.log`, '10.0.0.9 - - "GET /other HTTP/1.1" 200 45');
    await putEvent(sb, `${PREFIX_A}-httpd-access.log`, '10.0.0.9 - - "GET /live HTTP/1.1" 200 1 (other group)', Date.now(), 'other');
    await putEvent(sb, `${PREFIX_B}-httpd-access.log`, '10.0.0.8 - - "GET /live/2 HTTP/1.1" 404 9');
    const seen = await reading;
    ac.abort();
    assert.ok(seen[0].sessionStart, 'the first event is sessionStart');
    assert.deepEqual(seen[0].sessionStart!.logGroupIdentifiers, [ARN]);
    assert.equal(seen[0].sessionStart!.logEventFilterPattern, '"GET /live"');
    assert.match(seen[0].sessionStart!.sessionId ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(seen.slice(1).every((e) => e.sessionUpdate), 'then only sessionUpdates');
    const got = results(seen);
    assert.deepEqual(
      got.map((e) => [e.logGroupIdentifier, e.logStreamName, e.message]),
      [
        [ARN, `${PREFIX_A}-httpd-access.log`, '10.0.0.9 - - "GET /live HTTP/1.1" 200 45'],
        [ARN, `${PREFIX_B}-httpd-access.log`, '10.0.0.8 - - "GET /live/2 HTTP/1.1" 404 9'],
      ],
    );
    assert.ok(got.every((e) => typeof e.timestamp === 'number' && typeof e.ingestionTime === 'number'));
    assert.ok(!seen.some((e) => (e.sessionUpdate?.sessionResults ?? []).some((r) => /#\d/.test(r.message ?? ''))), 'nothing ingested before the session');
    await until('the session to close', () => openLiveTailSessions(sb.world) === 0);
  });
});

test('StartLiveTail: logStreamNamePrefixes select streams; more than 500 events in a second are sampled to 500', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb);
    const logs = logsApi(sb);
    const ac = new AbortController();
    const res = await logs.startLiveTail({ logGroupIdentifiers: [ARN], logStreamNamePrefixes: [PREFIX_B] }, { abortSignal: ac.signal });
    const reading = collect(res.responseStream, (seen) => results(seen).length >= 500);
    const client = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: sb.url, credentials: CREDENTIALS, maxAttempts: 1 });
    const now = Date.now();
    const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ timestamp: now, message: `line ${i}` }));
    await client.send(new PutLogEventsCommand({ logGroupName: 'ecs', logStreamName: `${PREFIX_A}-httpd-access.log`, logEvents: batch(5) }));
    await client.send(new PutLogEventsCommand({ logGroupName: 'ecs', logStreamName: `${PREFIX_B}-httpd-access.log`, logEvents: batch(1200) }));
    client.destroy();
    const seen = await reading;
    ac.abort();
    const update = seen.find((e) => (e.sessionUpdate?.sessionResults ?? []).length > 0)!.sessionUpdate!;
    assert.equal(update.sessionResults!.length, 500, 'at most 500 per update');
    assert.equal(update.sessionMetadata?.sampled, true);
    assert.ok(update.sessionResults!.every((e) => e.logStreamName === `${PREFIX_B}-httpd-access.log`));
    assert.equal(update.sessionResults![0].message, 'line 0');
    assert.ok(update.sessionResults!.at(-1)!.message !== 'line 499', 'spread over the 1200, not the first 500');
  });
});

test('StartLiveTail refuses what AWS refuses, before any stream: names for ARNs, 11 groups, stream filters with 2 groups, both filters, a missing group, a bad pattern', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb);
    await seedLab(sb, { group: 'other' });
    const logs = logsApi(sb);
    await rejects(logs.startLiveTail({ logGroupIdentifiers: ['ecs'] }), 'InvalidParameterException', /ARN/);
    await rejects(logs.startLiveTail({ logGroupIdentifiers: [`${ARN}:*`] }), 'InvalidParameterException', /\*/);
    await rejects(logs.startLiveTail({ logGroupIdentifiers: Array.from({ length: 11 }, () => ARN) }), 'InvalidParameterException', /between 1 and 10/);
    await rejects(logs.startLiveTail({ logGroupIdentifiers: [ARN, ARN.replace(/ecs$/, 'other')], logStreamNames: ['x'] }), 'InvalidParameterException', /exactly one log group/);
    await rejects(logs.startLiveTail({ logGroupIdentifiers: [ARN], logStreamNames: ['x'], logStreamNamePrefixes: ['y'] }), 'InvalidParameterException', /mutually exclusive/);
    await rejects(logs.startLiveTail({ logGroupIdentifiers: [ARN.replace(/ecs$/, 'missing')] }), 'ResourceNotFoundException');
    await rejects(logs.startLiveTail({ logGroupIdentifiers: [ARN], logEventFilterPattern: '{ $.a = ' }), 'InvalidParameterException', /filter pattern/i);
    assert.equal(openLiveTailSessions(sb.world), 0);
  });
});

test('StartLiveTail: after three hours on the sandbox clock the stream ends with SessionTimeoutException', async () => {
  const clock = new ManualClock(Date.now());
  await withSandbox({ clock }, async (sb) => {
    await seedLab(sb);
    const res = await logsApi(sb).startLiveTail({ logGroupIdentifiers: [ARN] });
    const seen: StartLiveTailResponseStream[] = [];
    const reading = (async () => {
      for await (const e of res.responseStream ?? []) seen.push(e);
    })();
    await until('an update', () => seen.some((e) => e.sessionUpdate));
    clock.advance(3 * 60 * 60 * 1000);
    await assert.rejects(reading, (e: Error) => e.name === 'SessionTimeoutException' && /3 hours/.test(e.message));
    await until('the session to close', () => openLiveTailSessions(sb.world) === 0);
  });
});

test('StartLiveTail: the 16th concurrent session is refused (LimitExceededException); one closed makes room', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb);
    const logs = logsApi(sb);
    const sessions = await Promise.all(
      Array.from({ length: 15 }, async () => {
        const ac = new AbortController();
        await logs.startLiveTail({ logGroupIdentifiers: [ARN] }, { abortSignal: ac.signal });
        return ac;
      }),
    );
    assert.equal(openLiveTailSessions(sb.world), 15);
    await rejects(logs.startLiveTail({ logGroupIdentifiers: [ARN] }), 'LimitExceededException');
    sessions[0].abort();
    await until('one session to close', () => openLiveTailSessions(sb.world) === 14);
    const ac = new AbortController();
    await logs.startLiveTail({ logGroupIdentifiers: [ARN] }, { abortSignal: ac.signal });
    ac.abort();
    for (const s of sessions) s.abort();
    await until('every session to close', () => openLiveTailSessions(sb.world) === 0);
  });
});

test('StartLiveTail: a caller whose policy denies logs:StartLiveTail gets AccessDeniedException (control API "deny")', async () => {
  await withSandbox({}, async (sb: RunningSandbox) => {
    await seedLab(sb);
    const set = await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ deny: ['logs:StartLiveTail'] }) });
    assert.equal(set.status, 200);
    const logs = logsApi(sb);
    await rejects(logs.startLiveTail({ logGroupIdentifiers: [ARN] }), 'AccessDeniedException', /not authorized to perform: logs:StartLiveTail/);
    // Other calls are not affected.
    assert.ok((await logs.filterLogEvents({ logGroupName: 'ecs' })).events?.length);
    assert.equal((await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ deny: 'x' }) })).status, 400);
  });
});

test('StartLiveTail with the SDK defaults goes to the stream- host prefix (why the tool turns it off on an explicit endpoint)', async () => {
  await withSandbox({}, async (sb) => {
    const seen: string[] = [];
    const client = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: sb.url, credentials: CREDENTIALS, maxAttempts: 1 });
    client.middlewareStack.add(
      () => async (args) => {
        seen.push((args.request as { hostname: string }).hostname);
        throw new Error('stop');
      },
      { step: 'finalizeRequest' },
    );
    await assert.rejects(client.send(new StartLiveTailCommand({ logGroupIdentifiers: [ARN] })), /stop/);
    client.destroy();
    assert.deepEqual(seen, ['stream-127.0.0.1'], 'the SDK prefixes the host: a name outside loopback');
    // The tool's own clients reach the sandbox at 127.0.0.1 (every other test here goes through them;
    // live-tail-cli.test.ts records that no name outside loopback is looked up).
  });
});
