/**
 * `query`'s logic against a small fake Logs client (the sandbox's StartQuery is another branch's):
 * polling to Complete, StopQuery on timeout and on Ctrl-C, MalformedQueryException as a user's
 * mistake with the place, the rows' fields without @ptr; CSV quoting; which query a word names;
 * the traffic points of the chart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogsApi } from '../../src/aws/clients.js';
import { ExitCode, InterruptedError, UserInputError, AwsError } from '../../src/core/errors.js';
import { pointAt, runQuery } from '../../src/logs/insights.js';
import { chooseQuery, csvField, toCsv, toTable } from '../../src/logs/results.js';
import { binTime, trafficPoints } from '../../src/logs/traffic.js';
import { trafficChart } from '../../src/io/chart.js';

interface Calls {
  start: number;
  get: number;
  stop: string[];
}

function fake(statuses: string[], opts: { malformed?: { start: number; end: number } } = {}): { logs: LogsApi; calls: Calls } {
  const calls: Calls = { start: 0, get: 0, stop: [] };
  const logs = {
    async startQuery() {
      calls.start++;
      if (opts.malformed) {
        const e = Object.assign(new Error('unexpected symbol'), { name: 'MalformedQueryException', queryCompileError: { location: { startCharOffset: opts.malformed.start, endCharOffset: opts.malformed.end }, message: 'unexpected symbol found' } });
        throw e;
      }
      return { queryId: 'q-1' };
    },
    async getQueryResults() {
      const status = statuses[Math.min(calls.get, statuses.length - 1)];
      calls.get++;
      return {
        status,
        results: status === 'Complete' ? [[{ field: 'status', value: '200' }, { field: 'requests', value: '7' }, { field: '@ptr', value: 'x' }], [{ field: 'status', value: '501' }, { field: 'requests', value: '2' }]] : [],
        statistics: { recordsMatched: 9, recordsScanned: 12, bytesScanned: 900 },
      };
    },
    async stopQuery(i: { queryId: string }) {
      calls.stop.push(i.queryId);
      return { success: true };
    },
  } as unknown as LogsApi;
  return { logs, calls };
}

const base = { logGroup: 'ecs', query: 'stats count(*) as requests by status', startTime: 0, endTime: 3_600_000, pollMs: 1, timeoutMs: 10_000, sleep: async () => undefined };

test('runQuery polls until Complete and returns the rows without @ptr, fields in order', async () => {
  const { logs, calls } = fake(['Scheduled', 'Running', 'Running', 'Complete']);
  const r = await runQuery(logs, base);
  assert.equal(calls.get, 4);
  assert.deepEqual(r.fields, ['status', 'requests']);
  assert.deepEqual(r.rows, [{ status: '200', requests: '7' }, { status: '501', requests: '2' }]);
  assert.equal(r.statistics.recordsScanned, 12);
  assert.deepEqual(calls.stop, []);
});

test('a query still running at the timeout is stopped and fails (exit 1)', async () => {
  const { logs, calls } = fake(['Running']);
  let t = 0;
  await assert.rejects(runQuery(logs, { ...base, timeoutMs: 5000, now: () => (t += 1000) }), (e: unknown) => e instanceof AwsError && /did not complete within 5s/.test(e.message) && /StopQuery/.test(e.message));
  assert.deepEqual(calls.stop, ['q-1']);
});

test('Ctrl-C stops the query and is an interruption (exit 130)', async () => {
  const { logs, calls } = fake(['Running']);
  const ac = new AbortController();
  let n = 0;
  const p = runQuery(logs, { ...base, signal: ac.signal, sleep: async () => { if (++n === 2) ac.abort(); } });
  await assert.rejects(p, (e: unknown) => e instanceof InterruptedError && e.exitCode === ExitCode.Interrupted);
  assert.deepEqual(calls.stop, ['q-1']);
});

test('MalformedQueryException is a user mistake (exit 2) that points at the place', async () => {
  const query = 'fields @message\n| stats count(*) byy status';
  const at = query.indexOf('byy');
  const { logs } = fake([], { malformed: { start: at, end: at + 2 } });
  await assert.rejects(runQuery(logs, { ...base, query }), (e: unknown) => {
    assert.ok(e instanceof UserInputError);
    assert.equal(e.exitCode, ExitCode.Usage);
    assert.match(e.message, /unexpected symbol found at line 2, column 18:\n {2}\| stats count\(\*\) byy status\n {19}\^\^\^/);
    return true;
  });
  assert.equal(pointAt('abc', { location: { startCharOffset: 99 } }), undefined);
});

test('CSV quotes commas, quotes and newlines (RFC 4180) and ends lines with CRLF', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(toCsv(['a', 'b'], [{ a: '1', b: 'x,"y"' }, { a: '2' }]), 'a,b\r\n1,"x,""y"""\r\n2,\r\n');
});

test('the table right-aligns numbers and shows control characters', () => {
  const t = toTable(['path', 'requests'], [{ path: '/a', requests: '12' }, { path: '/b\x1b[31m', requests: '3' }]);
  assert.equal(t, 'path        requests\n/a                12\n/b\\x1b[31m         3');
});

test('traffic across UTC midnight: every minute carries the date (plain lines and the axis); within one day none does', () => {
  const start = Date.parse('2026-12-31T23:58:00Z');
  const pts = trafficPoints({ rows: [{ interval: '2027-01-01 00:00:00.000', requests: '7', p99_ms: '3' }] }, start, start + 3 * 60_000);
  assert.deepEqual(pts.map((p) => [new Date(p.t).toISOString(), p.requests]), [
    ['2026-12-31T23:58:00.000Z', 0],
    ['2026-12-31T23:59:00.000Z', 0],
    ['2027-01-01T00:00:00.000Z', 7],
    ['2027-01-01T00:01:00.000Z', 0],
  ]);
  assert.equal(
    trafficChart(pts, { draw: false }),
    [
      'minute            requests  p99_ms',
      '2026-12-31 23:58         0       -',
      '2026-12-31 23:59         0       -',
      '2027-01-01 00:00         7       3',
      '2027-01-01 00:01         0       -',
    ].join('\n'),
  );
  const axes = trafficChart(pts, { draw: true, color: false }).split('\n').filter((l) => / UTC$/.test(l));
  assert.equal(axes.length, 2);
  for (const a of axes) assert.match(a, /^ {8}2026-12-31 23:58 +2027-01-01 00:01 UTC$/);
  // Within one day (the same minutes an hour earlier): HH:MM only.
  const earlier = trafficPoints({ rows: [] }, start - 3_600_000, start - 3_600_000 + 3 * 60_000);
  assert.match(trafficChart(earlier, { draw: false }), /^minute {2}requests {2}p99_ms\n22:58 {9}0 {7}-\n/);
  assert.match(trafficChart(earlier, { draw: true, color: false }), /\n {8}22:58 +23:01 UTC\n/);
});

test('a word is a named query, a query string, or unknown with the nearest name', () => {
  assert.deepEqual(chooseQuery('latency'), { kind: 'named', name: 'latency' });
  assert.equal(chooseQuery('stats count(*) by status').kind, 'raw');
  assert.equal(chooseQuery('fields @message').kind, 'raw');
  assert.deepEqual(chooseQuery('latncy'), { kind: 'unknown', word: 'latncy', suggestion: 'latency' });
  assert.deepEqual(chooseQuery('xyzzyq'), { kind: 'unknown', word: 'xyzzyq' });
});

test('traffic points: one per minute, empty minutes 0, bins read as UTC', () => {
  const start = Date.parse('2026-12-07T18:00:00Z');
  assert.equal(binTime('2026-12-07 18:02:00.000'), start + 120_000);
  const pts = trafficPoints({ rows: [{ interval: '2026-12-07 18:02:00.000', requests: '5', p99_ms: '12.5' }] }, start, start + 4 * 60_000);
  assert.deepEqual(pts.map((p) => [p.requests, p.p99]), [[0, undefined], [0, undefined], [5, 12.5], [0, undefined], [0, undefined]]);
  const plain = trafficChart(pts, { draw: false });
  assert.match(plain, /^minute {2}requests {2}p99_ms\n18:00 {9}0 {7}-\n/);
  assert.match(plain, /18:02 {9}5 {6}13\n/);
  const drawn = trafficChart(pts, { draw: true, color: false });
  assert.match(drawn, /Requests per minute \(5 in 5 min\)/);
  assert.match(drawn, /[╭╮╰╯┤┼─]/);
  assert.doesNotMatch(drawn, /\x1b\[/);
});
