/**
 * Logs Insights queries (src/sandbox/insights/query*.ts): every case asserts exact rows, with
 * AWS's documented examples (CWL_QuerySyntax*.html) where the pages give them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LIMIT, QuerySyntaxError, runQuery, type LogEvent, type QueryOptions } from '../../src/sandbox/insights/query.js';
import { compareNatural } from '../../src/sandbox/insights/query-values.js';

const T0 = Date.UTC(2026, 11, 7, 18, 0, 0);

function ev(i: number, message: string, o: Partial<LogEvent> = {}): LogEvent {
  return { timestamp: T0 + i * 1000, message, logStream: 's1', logGroup: 'g', ingestionTime: T0 + i * 1000 + 7, ...o };
}

/** Rows as objects, fields in the order returned. */
function rows(query: string, events: LogEvent[], o?: QueryOptions): Record<string, string>[] {
  return runQuery(query, events, o).results.map((r) => Object.fromEntries(r.map((f) => [f.field, f.value])));
}

const WORDS: LogEvent[] = [
  ev(0, 'GET /a 200 120'),
  ev(1, 'GET /b 404 5'),
  ev(2, 'POST /a 500 900'),
  ev(3, 'GET /a 200 80'),
  ev(4, 'DELETE /c 501 10'),
  ev(5, 'GET /b 200 40'),
];
const PARSE = 'parse @message "* * * *" as method, path, status, ms';

test('stats count(*) by a parsed field counts exactly, groups in scan order (newest first)', () => {
  assert.deepEqual(rows(`${PARSE} | stats count(*) by status`, WORDS), [
    { status: '200', 'count(*)': '3' },
    { status: '501', 'count(*)': '1' },
    { status: '500', 'count(*)': '1' },
    { status: '404', 'count(*)': '1' },
  ]);
  assert.deepEqual(rows(`${PARSE} | stats count(*) as n by status | sort status asc`, WORDS).map((r) => r.status), ['200', '404', '500', '501']);
});

test('aggregations: count(field) counts present values; sum, avg, min, max; pct is nearest-rank', () => {
  const q = `${PARSE} | filter method = "GET" | stats count(*) as n, count(ms) as c, sum(ms) as s, avg(ms) as a, min(ms) as lo, max(ms) as hi, pct(ms, 50) as p50 by path | sort path asc`;
  assert.deepEqual(rows(q, WORDS), [
    { path: '/a', n: '2', c: '2', s: '200', a: '100', lo: '80', hi: '120', p50: '80' },
    { path: '/b', n: '2', c: '2', s: '45', a: '22.5', lo: '5', hi: '40', p50: '5' },
  ]);
  const hundred = Array.from({ length: 100 }, (_, i) => ev(i, `v ${100 - i}`));
  const pcts: [number, string][] = [[0, '1'], [1, '1'], [50, '50'], [90, '90'], [99, '99'], [99.5, '100'], [100, '100']];
  for (const [p, want] of pcts) {
    assert.deepEqual(rows(`parse @message "v *" as v | stats pct(v, ${p}) as x`, hundred), [{ x: want }], `pct ${p}`);
  }
  const four = [10, 40, 20, 30].map((v, i) => ev(i, `v ${v}`));
  assert.deepEqual(rows('parse @message "v *" as v | stats pct(v, 50) as a, pct(v, 99) as b, pct(v, 25) as c', four), [{ a: '20', b: '40', c: '10' }]);
  // no numeric value: the column is left out of the row; count(field) is 0
  assert.deepEqual(rows('parse @message "v *" as v | stats count(nothing) as c, avg(nothing) as a', four), [{ c: '0' }]);
});

test('stats by bin(): periods and names as the Stats page shows them (stats count(*) by queryType, bin(1h))', () => {
  const dns = [0, 20, 59, 61, 3599, 3600, 3700].map((s, i) =>
    ev(0, JSON.stringify({ queryType: i % 2 ? 'AAAA' : 'A' }), { timestamp: T0 + s * 1000 }),
  );
  assert.deepEqual(rows('stats count(*) by queryType, bin(1h)', dns), [
    { queryType: 'A', 'bin(1h)': '2026-12-07 19:00:00.000', 'count(*)': '1' },
    { queryType: 'AAAA', 'bin(1h)': '2026-12-07 19:00:00.000', 'count(*)': '1' },
    { queryType: 'A', 'bin(1h)': '2026-12-07 18:00:00.000', 'count(*)': '3' },
    { queryType: 'AAAA', 'bin(1h)': '2026-12-07 18:00:00.000', 'count(*)': '2' },
  ]);
  assert.deepEqual(rows('stats count(*) as n by bin(1min) as t | sort t asc', dns), [
    { t: '2026-12-07 18:00:00.000', n: '3' },
    { t: '2026-12-07 18:01:00.000', n: '1' },
    { t: '2026-12-07 18:59:00.000', n: '1' },
    { t: '2026-12-07 19:00:00.000', n: '1' },
    { t: '2026-12-07 19:01:00.000', n: '1' },
  ]);
  assert.deepEqual(rows('stats count(*) as n by bin(30s) | limit 1', dns), [{ 'bin(30s)': '2026-12-07 19:01:30.000', n: '1' }]);
  assert.deepEqual(rows('stats count(*) as n by bin(2hrs)', dns), [{ 'bin(2hrs)': '2026-12-07 18:00:00.000', n: '7' }]);
});

test('filter: comparisons, and/or/not, like "text", like /re/, =~, (?i), in, not in, ispresent', () => {
  const cases: [string, string[]][] = [
    ['status = 200', ['/b', '/a', '/a']],
    ['status = "200"', ['/b', '/a', '/a']],
    ['status != 200', ['/c', '/a', '/b']],
    ['status >= 500', ['/c', '/a']],
    ['ms < 50 and method = "GET"', ['/b', '/b']],
    ['ms < 50 or status = 500', ['/b', '/c', '/a', '/b']],
    ['not (status = 200)', ['/c', '/a', '/b']],
    ['status in [404, 501]', ['/c', '/b']],
    ['status not in [200, 404, 501]', ['/a']],
    ['method in ["POST", "DELETE"]', ['/c', '/a']],
    ['@message like "POST"', ['/a']],
    ['@message like "post"', []],
    ['@message like /^GET \\/b/', ['/b', '/b']],
    ['@message =~ /50\\d/', ['/c', '/a']],
    ['@message like /(?i)delete/', ['/c']],
    ['@message not like /GET/', ['/c', '/a']],
    ['ms * 2 > 1000', ['/a']],
    ['ms / 4 = 30', ['/a']],
    ['ms - 100 = -95', ['/b']],
    ['ms % 2 = 1', ['/b']],
    ['2 ^ 3 = 8 and status = 404', ['/b']],
    ['ispresent(nothing)', []],
    ['not ispresent(nothing) and ispresent(ms) and path = "/c"', ['/c']],
    ['strlen(path) = 2 and toupper(method) = "DELETE"', ['/c']],
    ['concat(method, ":", path) = "POST:/a"', ['/a']],
  ];
  for (const [f, want] of cases) {
    assert.deepEqual(rows(`${PARSE} | filter ${f} | display path`, WORDS).map((r) => r.path), want, f);
  }
});

test('parse: AWS examples, glob and named groups; a line that does not match leaves the fields empty', () => {
  const lines = [
    ev(0, '2019-05-25 10:24:39 user=mary, method:GET, latency := 100 ms'),
    ev(1, '2019-05-25 10:24:40 user=bob, method:PUT, latency := 300 ms'),
    ev(2, '2019-05-25 10:24:41 user=mary, method:GET, latency := 50 ms'),
    ev(3, 'no fields here'),
  ];
  assert.deepEqual(rows('parse @message "user=*, method:*, latency := * ms" as @user, @method, @latency | stats avg(@latency) by @method, @user | sort @user asc', lines), [
    { '@method': 'PUT', '@user': 'bob', 'avg(@latency)': '300' },
    { '@method': 'GET', '@user': 'mary', 'avg(@latency)': '75' },
    {}, // the line without fields: its group has no value at all, so its row has no field
  ]);
  assert.deepEqual(rows('parse @message /user=(?<user2>.*?), method:(?<method2>.*?), latency := (?<latency2>\\d+)/ | filter ispresent(user2) | stats avg(latency2) by method2, user2', lines), [
    { method2: 'GET', user2: 'mary', 'avg(latency2)': '75' },
    { method2: 'PUT', user2: 'bob', 'avg(latency2)': '300' },
  ]);
  // named groups among unnamed ones, parentheses in a class, and a \k<name> back-reference
  const mixed = [ev(0, 'a1 b2 [x(y] c3 a')];
  assert.deepEqual(rows('parse @message /(a)(?<one>\\d) (?:b)(?<two>\\d) \\[[^(]*\\(y\\] (c)(?<three>\\d)/ | display one, two, three', mixed), [{ one: '1', two: '2', three: '3' }]);
  assert.deepEqual(rows('parse @message /(?<l>[a-z])(?<d>\\d).* \\k<l>$/ | display l, d', mixed), [{ l: 'a', d: '1' }]);
  // the last * takes the rest of the line; without fields, rows have the system fields and the parsed ones
  assert.deepEqual(rows('parse @message "user=*, *" as u, rest | limit 1', [lines[0]]), [
    { '@timestamp': '2026-12-07 18:00:00.000', '@message': lines[0].message, '@logStream': 's1', '@log': '000000000000:g', u: 'mary', rest: 'method:GET, latency := 100 ms' },
  ]);
});

test('sort: the natural order of CWL_QuerySyntax-Sort.html, asc and desc; limit; fields with functions', () => {
  const sorted = ['!:', '#', '*%04', '0#', '5A', '111A', '2345_', '@', '@_', 'A', 'A9876fghj', 'a12345hfh', '0'];
  const shuffled = [...sorted].reverse().sort((a, b) => (a.length % 3) - (b.length % 3));
  assert.deepEqual([...shuffled].sort(compareNatural), sorted);
  const events = shuffled.map((m, i) => ev(i, m));
  assert.deepEqual(rows('sort @message asc | display @message', events).map((r) => r['@message']), sorted);
  assert.deepEqual(rows('sort @message desc | display @message', events).map((r) => r['@message']), [...sorted].reverse());
  assert.deepEqual(rows('fields @timestamp, @message | sort @timestamp desc | limit 2', WORDS), [
    { '@timestamp': '2026-12-07 18:00:05.000', '@message': 'GET /b 200 40' },
    { '@timestamp': '2026-12-07 18:00:04.000', '@message': 'DELETE /c 501 10' },
  ]);
  assert.deepEqual(rows(`${PARSE} | fields strlen(path) as n, concat(method, path) as mp, ms / 10 as d | sort ms asc, path asc | limit 2`, WORDS), [
    { n: '2', mp: 'GET/b', d: '0.5' },
    { n: '2', mp: 'DELETE/c', d: '1' },
  ]);
  assert.deepEqual(rows(`${PARSE} | stats count(*) as n by path | sort n desc, path asc`, WORDS).map((r) => `${r.path}=${r.n}`), ['/a=3', '/b=2', '/c=1']);
  assert.deepEqual(rows(`${PARSE} | stats count(*) by path | sort count(*) asc | limit 1`, WORDS), [{ path: '/c', 'count(*)': '1' }]);
});

test('limits: 10,000 rows by default, StartQuery limit without a limit command, statistics', () => {
  const many = Array.from({ length: DEFAULT_LIMIT + 5 }, (_, i) => ev(i, `m${i}`));
  const all = runQuery('fields @message', many);
  assert.equal(DEFAULT_LIMIT, 10_000);
  assert.equal(all.results.length, 10_000);
  assert.deepEqual(all.results[0], [{ field: '@message', value: `m${DEFAULT_LIMIT + 4}` }]);
  assert.equal(runQuery('fields @message', many, { limit: 7 }).results.length, 7);
  assert.equal(runQuery('fields @message | limit 3', many, { limit: 7 }).results.length, 3);
  const r = runQuery('filter @message like "é" | stats count(*)', [ev(0, 'é'), ev(1, 'abc'), ev(2, 'éé'), ev(3, 'late')], { startTime: T0, endTime: T0 + 2000 });
  assert.deepEqual(r.results, [[{ field: 'count(*)', value: '2' }]]);
  assert.deepEqual(r.statistics, { recordsMatched: 2, recordsScanned: 3, bytesScanned: 2 + 3 + 4 });
  const unsorted = [ev(5, 'b'), ev(1, 'a'), ev(9, 'c'), ev(5, 'b2')];
  assert.deepEqual(rows('display @message', unsorted).map((x) => x['@message']), ['c', 'b', 'b2', 'a']);
});

test('system and discovered fields: @log, @logStream, @ingestionTime, JSON fields with dots', () => {
  const e = ev(0, JSON.stringify({ level: 'ERROR', http: { status: 503, path: '/x' }, ok: false }), { logStream: 'i-1-app', logGroup: 'lab' });
  assert.deepEqual(rows('fields @log, @logStream, @ingestionTime, level, http.status, ok, missing', [e], { accountId: '123456789012' }), [
    { '@log': '123456789012:lab', '@logStream': 'i-1-app', '@ingestionTime': '2026-12-07 18:00:00.007', level: 'ERROR', 'http.status': '503', ok: 'false' },
  ]);
  assert.deepEqual(rows('filter http.status >= 500 | stats count(*) as n by `http.path`', [e]), [{ 'http.path': '/x', n: '1' }]);
});

test('malformed queries name the line and position, as MalformedQueryException does', () => {
  const cases: [string, RegExp, number, number][] = [
    ['fields @message |', /unexpected symbol found <EOF>, expected a command/, 1, 17],
    ['filter x = ', /unexpected symbol found <EOF>/, 1, 11],
    ['stats count(*) by status\n| limt 3', /unexpected symbol found limt/, 2, 2],
    ['fields a\n| sort a', /expected asc or desc/, 2, 8],
    ['fields strlenx(a)', /unknown function strlenx/, 1, 7],
    ['fields count(*)', /aggregation function: use it in stats/, 1, 7],
    ['stats strlen(a)', /stats needs aggregation functions/, 1, 0],
    ['stats pct(a, 101)', /percentile from 0 to 100/, 1, 6],
    ['stats count(*) by bin(5)', /bin needs a period/, 1, 18],
    ['stats count(*) by bin(5fortnights)', /unknown time unit fortnights/, 1, 22],
    ['limit 10001', /limit needs a whole number from 1 to 10000/, 1, 6],
    ['parse @message "a * b" as x, y', /1 \* but 2 name/, 1, 15],
    ['parse @message /no groups/', /named group/, 1, 15],
    ['filter @message like 3', /like needs a "string" or a \/regular expression\//, 1, 21],
    ['filter a = "open', /unterminated string/, 1, 11],
    ['filter a ~ 1', /unexpected symbol found ~/, 1, 9],
    ['# a comment\nfilter @message like /(/', /invalid regular expression/, 2, 21],
  ];
  for (const [q, re, line, column] of cases) {
    assert.throws(
      () => runQuery(q, []),
      (e: unknown) => e instanceof QuerySyntaxError && re.test(e.message) && e.line === line && e.column === column && e.message.endsWith(`at line ${line} and position ${column}`),
      q,
    );
  }
  assert.equal(new QuerySyntaxError('x', 0, 0, 1, 0).name, 'MalformedQueryException');
});
