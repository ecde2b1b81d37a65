import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogsApi } from '../../src/aws/clients.js';
import { AwsError, UserInputError } from '../../src/core/errors.js';
import { MAX_STREAM_NAMES, parseSince, StreamNames, streamMatches, tailLogs, type LogLine, type TailOptions } from '../../src/logs/tail.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { withSandbox } from '../sandbox/support.js';
import { createStream, logsApi, PREFIX_A, PREFIX_B, putEvent, seedLab, sdkClient } from './seed.js';
import { CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';


async function readOnce(logs: LogsApi, o: Partial<TailOptions> = {}): Promise<{ lines: LogLine[]; streams?: string[] }> {
  const lines: LogLine[] = [];
  const res = await tailLogs(logs, { logGroup: 'ecs', startTime: Date.now() - 3_600_000, follow: false, pollMs: 10, ...o }, { events: (b) => lines.push(...b) });
  assert.equal(res.interrupted, false);
  assert.equal(res.count, lines.length);
  return { lines, streams: res.streams };
}

const calls = (sb: RunningSandbox, op: string) => sb.requestLog().filter((r) => r.operation === op).length;

test('parseSince: durations, ISO-8601 times, and a clear error otherwise', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  assert.equal(parseSince('10m', now), now - 600_000);
  assert.equal(parseSince('1h', now), now - 3_600_000);
  assert.equal(parseSince('2d', now), now - 2 * 86_400_000);
  assert.equal(parseSince('30s', now), now - 30_000);
  assert.equal(parseSince('1w', now), now - 7 * 86_400_000);
  assert.equal(parseSince('2024-05-01T10:00:00Z', now), Date.parse('2024-05-01T10:00:00Z'));
  assert.equal(parseSince('2024-05-01T10:00:00.500+02:00', now), Date.parse('2024-05-01T08:00:00.500Z'));
  assert.equal(parseSince('2024-04-30', now), Date.parse('2024-04-30'));
  for (const bad of ['', '10', '5x', 'yesterday', '-1h', '2024-13-45T99:00:00Z']) {
    assert.throws(() => parseSince(bad, now), (e: unknown) => e instanceof UserInputError && /Invalid --since/.test(e.message) && /10m/.test(e.message), bad);
  }
});

test('parseSince: a time without an offset is UTC in every local time zone, and a day the calendar lacks is refused', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const saved = process.env.TZ;
  try {
    // Node reads TZ again when it is set: these are the zones the user's shell may be in.
    for (const tz of ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Pacific/Chatham']) {
      process.env.TZ = tz;
      if (tz !== 'UTC') assert.notEqual(new Date(now).getTimezoneOffset(), 0, `${tz} is not UTC here (Node has its time zone data)`);
      for (const [text, utc] of [
        ['2024-05-01T10:00:00', '2024-05-01T10:00:00Z'],
        ['2024-05-01 10:00', '2024-05-01T10:00:00Z'],
        ['2024-04-30T23:59:59.250', '2024-04-30T23:59:59.250Z'],
        ['2024-05-01', '2024-05-01T00:00:00Z'],
        ['2024-02-29', '2024-02-29T00:00:00Z'],
        ['2024-05-01T10:00:00+05:30', '2024-05-01T04:30:00Z'],
      ] as const) {
        assert.equal(new Date(parseSince(text, now)).toISOString(), new Date(utc).toISOString(), `${text} in TZ=${tz}`);
      }
      for (const bad of ['2023-02-29', '2024-04-31', '2024-02-30T10:00:00Z', '2024-00-10']) {
        assert.throws(() => parseSince(bad, now), (e: unknown) => e instanceof UserInputError && /Invalid --since/.test(e.message), `${bad} in TZ=${tz}`);
      }
    }
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test('stream matching by name part, and short names', () => {
  const access = `${PREFIX_A}-httpd-access.log`;
  assert.ok(streamMatches(access, ['httpd-access']));
  assert.ok(streamMatches(access, ['nope', 'i-0abc']));
  assert.ok(!streamMatches(`${PREFIX_A}-httpd-error.log`, ['httpd-access']));
  assert.ok(streamMatches('anything', []));

  const names = new StreamNames();
  assert.equal(names.short(access), 'httpd-access.log');
  assert.equal(names.short('custom-stream'), 'custom-stream');
  names.observe([`${PREFIX_B}-ecs-agent.log`]);
  assert.equal(names.short(access), 'i-0abc/httpd-access.log', 'two instances: the instance id is shown');
  assert.equal(names.short(`${PREFIX_B}-ecs-agent.log`), 'i-0def/ecs-agent.log', 'a hostname with dots is skipped too');
});

test('one read: only the matching streams, in timestamp order across streams and instances', async () => {
  await withSandbox({}, async (sb) => {
    const seeded = await seedLab(sb);
    const { lines, streams } = await readOnce(logsApi(sb), { streams: ['httpd-access'] });
    const want = seeded.events.filter((e) => e.stream.endsWith('-httpd-access.log'));
    assert.equal(want.length, 6);
    assert.deepEqual(
      lines.map((l) => [l.timestamp, l.stream, l.message]),
      want.map((e) => [e.timestamp, e.stream, e.message]),
    );
    assert.deepEqual(streams, [`${PREFIX_A}-httpd-access.log`, `${PREFIX_B}-httpd-access.log`]);
    assert.ok(new Set(lines.map((l) => l.stream)).size === 2, 'both instances interleave');

    const all = await readOnce(logsApi(sb));
    assert.equal(all.lines.length, seeded.events.length, 'no --stream: every stream');
    assert.equal(all.streams, undefined);
    assert.deepEqual(all.lines.map((l) => l.timestamp), seeded.events.map((e) => e.timestamp));

    const recent = await readOnce(logsApi(sb), { startTime: seeded.events[seeded.events.length - 1].timestamp });
    assert.equal(recent.lines.length, 1, 'startTime is inclusive and respected');

    const filtered = await readOnce(logsApi(sb), { filterPattern: '"#1"', streams: ['ecs-agent'] });
    assert.deepEqual(filtered.lines.map((l) => l.message), ['ecs-agent.log i-0abc #1', 'ecs-agent.log i-0def #1']);
  });
});

test('pagination: one-item pages of streams and events lose nothing', async () => {
  await withSandbox({ pageSize: 1 }, async (sb) => {
    const seeded = await seedLab(sb, { perStream: 4 });
    sb.clearRequestLog();
    const { lines } = await readOnce(logsApi(sb), { streams: ['httpd-access', 'ecs-agent'] });
    const want = seeded.events.filter((e) => /-(httpd-access|ecs-agent)\.log$/.test(e.stream));
    assert.equal(lines.length, 16);
    assert.deepEqual(lines.map((l) => l.message), want.map((e) => e.message));
    assert.equal(calls(sb, 'DescribeLogStreams'), 6, 'one page per stream');
    assert.equal(calls(sb, 'FilterLogEvents'), 16, 'one page per event');
  });
});

test(`more than ${MAX_STREAM_NAMES} matching streams: read in chunks, merged in order`, async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb, { perStream: 1 });
    const client = sdkClient(sb);
    const base = Date.now() - 300_000;
    const n = 230;
    try {
      const one = async (i: number) => {
        const stream = `i-${(0x1000 + i).toString(16)}-ip-10-0-1-${i % 250}-10.0.1.${i % 250}-httpd-access.log`;
        await client.send(new CreateLogStreamCommand({ logGroupName: 'ecs', logStreamName: stream }));
        // Timestamps descend with the name, so every chunk holds events that belong in the others' gaps.
        await client.send(new PutLogEventsCommand({ logGroupName: 'ecs', logStreamName: stream, logEvents: [{ timestamp: base + (n - i) * 10, message: `m${i}` }] }));
      };
      for (let i = 0; i < n; i += 25) await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, k) => one(i + k)));
    } finally {
      client.destroy();
    }
    sb.clearRequestLog();
    const { lines, streams } = await readOnce(logsApi(sb), { streams: ['httpd-access'] });
    assert.equal(streams?.length, n + 2);
    assert.equal(lines.length, n + 2);
    const ts = lines.map((l) => l.timestamp);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b), 'in timestamp order across chunks');
    assert.equal(calls(sb, 'FilterLogEvents'), Math.ceil((n + 2) / MAX_STREAM_NAMES));
  });
});

test('a missing log group is an AwsError saying what to run; a bad filter pattern is bad input', async () => {
  await withSandbox({}, async (sb) => {
    for (const streams of [[], ['httpd-access']]) {
      await assert.rejects(
        readOnce(logsApi(sb), { logGroup: 'absent', region: 'us-east-1', streams }),
        (e: unknown) => {
          assert.ok(e instanceof AwsError, String(e));
          assert.equal(e.exitCode, 1);
          assert.match(e.message, /Log group "absent" does not exist in us-east-1: .*Run `ecs-cwlogs up`/);
          return true;
        },
      );
    }
    await seedLab(sb);
    await assert.rejects(readOnce(logsApi(sb), { filterPattern: '{ $.level = ' }), (e: unknown) => e instanceof UserInputError && /Invalid --filter/.test(e.message));
  });
});

test('follow: new events once each (dedupe by eventId), late events within the lookback, new streams, abort ends it', async () => {
  await withSandbox({}, async (sb) => {
    const seeded = await seedLab(sb);
    const ac = new AbortController();
    const batches: LogLine[][] = [];
    const notices: string[] = [];
    let polls = 0;
    const accessA = `${PREFIX_A}-httpd-access.log`;
    const newStream = 'i-0fff-ip-10-0-0-9-10.0.0.9-httpd-access.log';
    const now = Date.now();
    // Each poll's sleep is where the world changes.
    const script: (() => Promise<void>)[] = [
      async () => putEvent(sb, accessA, 'new 1', now),
      async () => {}, // nothing new: nothing printed
      async () => putEvent(sb, accessA, 'late but within the lookback', now - 5_000),
      async () => {
        await createStream(sb, newStream);
        await putEvent(sb, newStream, 'from a new instance', now + 1);
      },
      async () => {}, async () => {}, async () => {},
      async () => ac.abort(),
    ];
    const res = await tailLogs(
      logsApi(sb),
      {
        logGroup: 'ecs',
        startTime: now - 3_600_000,
        streams: ['httpd-access'],
        follow: true,
        pollMs: 1,
        relistEvery: 2,
        signal: ac.signal,
        sleep: async () => {
          const step = script[polls++];
          if (step) await step();
          else ac.abort();
        },
      },
      { events: (b) => batches.push(b), notice: (t) => notices.push(t) },
    );
    assert.equal(res.interrupted, true);
    const messages = batches.flat().map((l) => l.message);
    const initial = seeded.events.filter((e) => e.stream.endsWith('httpd-access.log')).map((e) => e.message);
    assert.deepEqual(messages, [...initial, 'new 1', 'late but within the lookback', 'from a new instance']);
    assert.equal(new Set(batches.flat().map((l) => l.eventId)).size, messages.length, 'each event once');
    assert.equal(res.count, messages.length);
    assert.deepEqual(notices, []);
  });
});

test('follow: waits for a matching stream to appear, and survives throttling', async () => {
  await withSandbox({}, async (sb) => {
    const client = sdkClient(sb);
    await client.send(new CreateLogGroupCommand({ logGroupName: 'ecs' }));
    client.destroy();
    const ac = new AbortController();
    const lines: LogLine[] = [];
    const notices: { text: string; level: string }[] = [];
    const waits: number[] = [];
    let n = 0;
    const res = await tailLogs(
      logsApi(sb),
      {
        logGroup: 'ecs',
        startTime: Date.now() - 60_000,
        streams: ['httpd-error'],
        follow: true,
        pollMs: 1,
        maxBackoffMs: 8,
        signal: ac.signal,
        sleep: async (ms) => {
          waits.push(ms);
          n++;
          if (n === 2) {
            await createStream(sb, `${PREFIX_A}-httpd-error.log`);
            await putEvent(sb, `${PREFIX_A}-httpd-error.log`, 'AH00558: could not determine the server name');
            // From now on most calls are throttled (the client makes one attempt).
            sb.world.settings.throttleRate = 0.6;
          }
          if (lines.length > 0 && notices.some((x) => x.level === 'warn')) ac.abort();
          if (n > 200) ac.abort();
        },
      },
      { events: (b) => lines.push(...b), notice: (text, level) => notices.push({ text, level }) },
    );
    assert.equal(res.interrupted, true);
    assert.deepEqual(lines.map((l) => l.message), ['AH00558: could not determine the server name']);
    assert.match(notices[0].text, /No stream in log group ecs matches "httpd-error" yet; waiting/);
    assert.equal(notices.filter((x) => /No stream/.test(x.text)).length, 1, 'said once');
    const throttled = notices.filter((x) => x.level === 'warn');
    assert.ok(throttled.length > 0, 'throttling happened and was reported');
    assert.match(throttled[0].text, /ThrottlingException.*trying again/);
    assert.ok(Math.max(...waits) <= 8, 'backoff capped');
  });
});

test('follow: an event stamped in the future does not hide the ones stamped now', async () => {
  await withSandbox({}, async (sb) => {
    await seedLab(sb, { perStream: 1 });
    const stream = `${PREFIX_A}-httpd-access.log`;
    await putEvent(sb, stream, 'from a clock an hour ahead', Date.now() + 3_600_000);
    const ac = new AbortController();
    const got: string[] = [];
    let n = 0;
    await tailLogs(
      logsApi(sb),
      {
        logGroup: 'ecs',
        startTime: Date.now() - 600_000,
        streams: ['httpd-access'],
        follow: true,
        pollMs: 1,
        signal: ac.signal,
        sleep: async () => {
          n++;
          if (n === 1) await putEvent(sb, stream, 'stamped now');
          if (n === 3) ac.abort();
        },
      },
      { events: (b) => got.push(...b.map((l) => l.message)) },
    );
    assert.deepEqual(got.slice(-2), ['from a clock an hour ahead', 'stamped now']);
  });
});

test('a stream deleted between listing and reading: listed again, not an error', async () => {
  let listed = 0;
  let filtered = 0;
  const gone = Object.assign(new Error('The specified log stream does not exist.'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });
  const fake = {
    describeLogStreams: async () => {
      listed++;
      return { logStreams: listed === 1 ? [{ logStreamName: 'a-httpd-access.log' }, { logStreamName: 'b-httpd-access.log' }] : [{ logStreamName: 'b-httpd-access.log' }] };
    },
    filterLogEvents: async (input: { logStreamNames?: string[] }) => {
      filtered++;
      if (input.logStreamNames?.includes('a-httpd-access.log')) throw gone;
      return { events: [{ logStreamName: 'b-httpd-access.log', timestamp: 1, message: 'still here', eventId: '1' }] };
    },
  } as unknown as LogsApi;
  const { lines } = await readOnce(fake, { streams: ['httpd-access'], startTime: 0 });
  assert.deepEqual(lines.map((l) => l.message), ['still here']);
  assert.equal(listed, 2);
  assert.equal(filtered, 2);
});
