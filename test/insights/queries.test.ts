/**
 * The named queries (src/logs/queries.ts) over access lines in the lab's format with %D last, run
 * by the sandbox's Insights engine: exact counts, exact nearest-rank percentiles.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCESS_LINE, NAMED_QUERIES, namedQuery, NamedQueryError, queryDefinitionName } from '../../src/logs/queries.js';
import { runQuery, type LogEvent } from '../../src/sandbox/insights/query.js';
import { accessEvent, accessLine, ERROR_STREAM } from './access-lines.js';

const T0 = Date.UTC(2026, 11, 7, 18, 0, 0);

/** 200 requests over 4 minutes: 20 answered 501 (method FOO), durations i * 1000 µs, paths /p0../p4 with query strings. */
const EVENTS: LogEvent[] = Array.from({ length: 200 }, (_, i) =>
  accessEvent({
    at: T0 + i * 1200,
    method: i % 10 === 3 ? 'FOO' : 'GET',
    path: `/p${i % 5}?n=${i}`,
    status: i % 10 === 3 ? 501 : i % 25 === 0 ? 404 : 200,
    bytes: i % 7 === 0 ? undefined : 100 + i,
    agent: i % 2 ? 'curl/8.5.0' : 'Mozilla/5.0 "quoted" \\ agent',
    durationUs: (i + 1) * 1000,
  }),
);
const ERRORS: LogEvent[] = [0, 1, 2].map((i) => ({
  timestamp: T0 + i * 60_000,
  message: `2026-12-07T18:0${i}:00.000000+00:00 ip-10-0-0-5 httpd: ip-10-0-0-5 [Mon Dec 07 18:0${i}:00.000000 2026] [core:info] [pid 7] [client 10.0.0.9:5555] AH00128: File does not exist: /x${i}`,
  logStream: ERROR_STREAM,
  logGroup: 'ecs-cwlogs-lab',
  ingestionTime: T0 + i * 60_000,
}));
const ALL = [...EVENTS, ...ERRORS];

function rows(query: string): Record<string, string>[] {
  return runQuery(query, ALL).results.map((r) => Object.fromEntries(r.map((f) => [f.field, f.value])));
}

test('ACCESS_LINE reads the fields from the end, escaped quotes and a - for bytes included', () => {
  const cases: [string, Record<string, string>][] = [
    [accessLine({ at: T0, status: 200, bytes: 2048, durationUs: 1523 }), { request: 'GET / HTTP/1.1', status: '200', bytes: '2048', duration: '1523' }],
    [accessLine({ at: T0, method: 'FOO', path: '/" 200 1 "x', status: 501, durationUs: 9 }), { request: 'FOO /\\" 200 1 \\"x HTTP/1.1', status: '501', bytes: '-', duration: '9' }],
    [accessLine({ at: T0, status: 404, bytes: 0, agent: 'a "b" \\', durationUs: 0 }), { request: 'GET / HTTP/1.1', status: '404', bytes: '0', duration: '0' }],
  ];
  for (const [line, want] of cases) assert.deepEqual({ ...ACCESS_LINE.exec(line)?.groups }, want, line);
  // the access line before %D was added: no match, so no duration
  assert.equal(ACCESS_LINE.exec(accessLine({ at: T0, status: 200, durationUs: 1 }).replace(/ 1$/, '')), null);
});

test('status: requests by code, exactly', () => {
  assert.deepEqual(rows(namedQuery('status').query), [
    { status: '200', requests: '172' },
    { status: '404', requests: '8' },
    { status: '501', requests: '20' },
  ]);
});

test('latency: p50, p90, p99 (ms) and requests per interval', () => {
  // 200 requests 1.2 s apart from 18:00:00: 50 per minute; minute k holds durations (50k+1..50k+50) ms
  const want = [0, 1, 2, 3].map((k) => ({
    interval: `2026-12-07 18:0${k}:00.000`,
    p50_ms: String(50 * k + 25),
    p90_ms: String(50 * k + 45),
    p99_ms: String(50 * k + 50),
    requests: '50',
  }));
  assert.deepEqual(rows(namedQuery('latency').query), want);
  assert.deepEqual(rows(namedQuery('latency', { interval: '5m' }).query), [{ interval: '2026-12-07 18:00:00.000', p50_ms: '100', p90_ms: '180', p99_ms: '198', requests: '200' }]);
});

test('top-paths: paths without their query strings, most requested first', () => {
  assert.deepEqual(rows(namedQuery('top-paths', { top: 2 }).query), [
    { path: '/p4', requests: '40', p99_ms: '200' },
    { path: '/p3', requests: '40', p99_ms: '199' },
  ]);
});

test('slow: requests at or above the threshold, slowest first', () => {
  const r = rows(namedQuery('slow', { slowMs: 198, top: 5 }).query);
  assert.deepEqual(r.map((x) => [x.duration_ms, x.status]), [['200', '200'], ['199', '200'], ['198', '200']]);
  assert.deepEqual(Object.keys(r[0]), ['@timestamp', '@logStream', 'status', 'request', 'duration_ms']);
  assert.equal(r[0].request, 'GET /p4?n=199 HTTP/1.1');
});

test('errors: the error stream only, newest first', () => {
  assert.deepEqual(rows(namedQuery('errors').query).map((x) => x['@message'].slice(-19)), ['File does not exist: /x2', 'File does not exist: /x1', 'File does not exist: /x0'].map((s) => s.slice(-19)));
});

test('every named query parses; options are checked; query definition names', () => {
  for (const n of NAMED_QUERIES) assert.doesNotThrow(() => runQuery(namedQuery(n).query, []), n);
  assert.throws(() => namedQuery('latency', { interval: '5 minutes' }), NamedQueryError);
  assert.throws(() => namedQuery('latency', { interval: '0m' }), NamedQueryError);
  assert.throws(() => namedQuery('slow', { slowMs: -1 }), NamedQueryError);
  assert.throws(() => namedQuery('top-paths', { top: 0 }), NamedQueryError);
  assert.equal(queryDefinitionName('lab', 'top-paths'), 'ecs-cwlogs/lab/top-paths');
});
