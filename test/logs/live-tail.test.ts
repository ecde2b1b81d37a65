/**
 * followLiveTail's decisions, against a fake Logs API: when Live Tail counts as unavailable (and
 * nothing is printed), the --since read merged with the session without a line twice, --stream parts
 * and --until applied on this side, the sampling notice, and a reconnection after a session error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FilteredLogEvent, StartLiveTailResponseStream } from '@aws-sdk/client-cloudwatch-logs';
import type { LogsApi } from '../../src/aws/clients.js';
import { followLiveTail, liveTailUnavailable, logGroupArn, type LiveTailOptions } from '../../src/logs/live-tail.js';
import type { LogLine } from '../../src/logs/tail.js';

const ARN = 'arn:aws:logs:us-east-1:123456789012:log-group:ecs';
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);

function awsError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } });
}

interface Fake {
  logs: LogsApi;
  started: number;
}

/** Each session is a list of events to yield, then an error to throw (or the end). */
function fake(history: FilteredLogEvent[], sessions: (() => AsyncIterable<StartLiveTailResponseStream>)[], startError?: Error): Fake {
  const f: Fake = { started: 0, logs: undefined as unknown as LogsApi };
  f.logs = {
    startLiveTail: async () => {
      if (startError) throw startError;
      const next = sessions[f.started++];
      if (!next) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      return { responseStream: next(), $metadata: {} };
    },
    filterLogEvents: async () => ({ events: history, $metadata: {} }),
    describeLogStreams: async () => ({ logStreams: [...new Set(history.map((e) => e.logStreamName))].map((logStreamName) => ({ logStreamName })), $metadata: {} }),
  } as unknown as LogsApi;
  return f;
}

const update = (events: { stream: string; ts: number; message: string }[], sampled = false): StartLiveTailResponseStream => ({
  sessionUpdate: {
    sessionMetadata: { sampled },
    sessionResults: events.map((e) => ({ logStreamName: e.stream, logGroupIdentifier: ARN, timestamp: e.ts, ingestionTime: e.ts, message: e.message })),
  },
});

async function run(f: Fake, extra: Partial<LiveTailOptions> = {}, abortAfter?: (lines: LogLine[]) => boolean) {
  const lines: LogLine[] = [];
  const notices: string[] = [];
  const ac = new AbortController();
  const outcome = await followLiveTail(
    f.logs,
    { logGroup: 'ecs', logGroupArn: ARN, startTime: T0 - 60_000, follow: true, pollMs: 1, now: () => T0 + 10_000, sleep: async () => undefined, signal: ac.signal, ...extra },
    {
      events: (batch) => {
        lines.push(...batch);
        if (abortAfter?.(lines)) ac.abort();
      },
      notice: (text) => notices.push(text),
    },
  );
  return { outcome, lines, notices };
}

test('liveTailUnavailable: denied, not offered, a class without it, an unresolvable stream- name; not for throttling or a missing group', () => {
  assert.match(liveTailUnavailable(awsError('AccessDeniedException'))!, /may not call logs:StartLiveTail/);
  assert.match(liveTailUnavailable(awsError('UnknownOperationException'))!, /does not offer/);
  assert.match(liveTailUnavailable(awsError('InvalidOperationException'))!, /does not support Live Tail/);
  assert.match(liveTailUnavailable(awsError('SomethingElse', 404))!, /HTTP 404/);
  assert.match(liveTailUnavailable(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND', hostname: 'stream-logs.example' }))!, /stream-logs\.example/);
  assert.equal(liveTailUnavailable(awsError('ThrottlingException')), undefined);
  assert.equal(liveTailUnavailable(awsError('ResourceNotFoundException')), undefined);
  assert.equal(logGroupArn('arn:aws-cn:iam::1:user/x', 'cn-north-1', '111122223333', '/ecs/demo'), 'arn:aws-cn:logs:cn-north-1:111122223333:log-group:/ecs/demo');
});

test('followLiveTail: unavailable before anything is printed', async () => {
  const r = await run(fake([{ logStreamName: 's', timestamp: T0, message: 'old', eventId: '1' }], [], awsError('AccessDeniedException')));
  assert.deepEqual(r.outcome, { kind: 'unavailable', reason: 'your credentials may not call logs:StartLiveTail (AccessDeniedException)' });
  assert.equal(r.lines.length, 0);
});

test('followLiveTail: the --since read, then the session without the lines both carry; --stream parts and --until applied here', async () => {
  const a = 'i-0abc-h-10.0.0.1-httpd-access.log';
  const e = 'i-0abc-h-10.0.0.1-httpd-error.log';
  const history = [
    { logStreamName: a, timestamp: T0 - 2000, message: 'old', eventId: '1' },
    { logStreamName: a, timestamp: T0 - 1000, message: 'both', eventId: '2' },
  ];
  const session = async function* (): AsyncGenerator<StartLiveTailResponseStream> {
    yield { sessionStart: { sessionId: 'x' } };
    yield update([
      { stream: a, ts: T0 - 1000, message: 'both' },
      { stream: e, ts: T0, message: 'other stream' },
      { stream: a, ts: T0 + 1, message: 'new' },
      { stream: a, ts: T0 + 50_000, message: 'after until' },
    ]);
    yield update([{ stream: a, ts: T0 + 2, message: 'last' }], true);
  };
  const r = await run(fake(history, [session]), { streams: ['httpd-access'], until: T0 + 20_000 }, (lines) => lines.some((l) => l.message === 'last'));
  assert.deepEqual(r.lines.map((l) => l.message), ['old', 'both', 'new', 'last']);
  assert.equal(r.outcome.kind, 'done');
  assert.equal(r.notices.filter((n) => /sample/.test(n)).length, 1);
});

test('followLiveTail: a SessionStreamingException opens a new session after a backoff, saying so', async () => {
  const a = 'i-0abc-h-10.0.0.1-httpd-access.log';
  const first = async function* (): AsyncGenerator<StartLiveTailResponseStream> {
    yield update([{ stream: a, ts: T0 + 1, message: 'one' }]);
    throw awsError('SessionStreamingException');
  };
  const second = async function* (): AsyncGenerator<StartLiveTailResponseStream> {
    yield update([{ stream: a, ts: T0 + 1, message: 'one' }, { stream: a, ts: T0 + 2, message: 'two' }]);
  };
  const f = fake([], [first, second]);
  const r = await run(f, {}, (lines) => lines.some((l) => l.message === 'two'));
  assert.equal(f.started, 2);
  assert.deepEqual(r.lines.map((l) => l.message), ['one', 'two']);
  assert.match(r.notices.join('\n'), /ended \(SessionStreamingException\); starting a new one/);
  assert.deepEqual(r.outcome, { kind: 'done', result: { count: 2, interrupted: true } });
});
