/**
 * Filter patterns (src/sandbox/insights/filter-pattern.ts), against AWS's documented examples
 * ("Filter pattern syntax for metric filters, subscription filters, filter log events, and Live
 * Tail", FilterAndPatternSyntax.html) and the lab's access line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilterPattern, FilterPatternError, splitDelimited } from '../../src/sandbox/insights/filter-pattern.js';
import { compileMetricTransformation, MetricTransformationError } from '../../src/sandbox/insights/metric-transformation.js';

/** [pattern, message, matches] */
type Case = [string, string, boolean];

function table(name: string, cases: Case[]): void {
  test(name, () => {
    for (const [pattern, message, want] of cases) {
      assert.equal(compileFilterPattern(pattern).matches(message), want, `${pattern} on ${JSON.stringify(message)}`);
    }
  });
}

const OR_LINES = ['ERROR WARN message', 'ERROR message', 'WARN message'];

table('terms: AWS examples (single term, phrase, AND, OR, exclusion), case-sensitive substrings', [
  ['ERROR', '[ERROR] A fatal exception has occurred', true],
  ['ERROR', 'Exiting with ERRORCODE: -1', true],
  ['ERROR', 'error: lower case', false],
  ['ERROR -Exiting', 'Exiting with ERRORCODE: -1', false],
  ['ERROR -Exiting', '[ERROR] A fatal exception has occurred', true],
  ['ERROR Exception', '[ERROR] Caught IllegalArgumentException', true],
  ['ERROR Exception', '[ERROR] Unhandled Exception', true],
  ['ERROR Exception', '[ERROR] Unhandled failure', false],
  ['"Failed to process the request"', '[WARN] Failed to process the request', true],
  ['"Failed to process the request"', 'Failed to process a request', false],
  ['"ERROR" "Exception"', '[ERROR] Unhandled Exception', true],
  ['"INTERNAL SERVER ERROR"', '[ERROR 500] INTERNAL SERVER ERROR', true],
  ['"INTERNAL SERVER ERROR"', '[ERROR 500] INTERNAL ERROR SERVER', false],
  ...OR_LINES.map((l): Case => ['ERROR', l, l.includes('ERROR')]),
  ...OR_LINES.map((l): Case => ['?ERROR ?WARN', l, true]),
  ...OR_LINES.map((l, i): Case => ['ERROR WARN', l, i === 0]),
  ...OR_LINES.map((l, i): Case => ['ERROR -WARN', l, i === 1]),
  ['-ERROR', 'all fine', true],
  ['-ERROR', 'an ERROR', false],
  ['"say \\"hi\\""', 'they say "hi" twice', true],
  ['', 'anything', true],
  ['" "', 'anything', true],
]);

table('regex: %...% as the page documents it', [
  ['%AUTHORIZED%', '[ERROR 401] UNAUTHORIZED REQUEST', true],
  ['%AUTHORIZED%', '[SUCCESS 200] AUTHORIZED REQUEST', true],
  ['%AUTHORIZED%', '[SUCCESS 200] OK', false],
  ['%gray|grey%', 'a grey cat', true],
  ['%colou?r%', 'the color', true],
  ['%^ERROR%', 'ERROR at start', true],
  ['%^ERROR%', 'an ERROR', false],
  ['%10\\.10\\.0\\.1%', 'from 10.10.0.1', true],
  ['%10\\.10\\.0\\.1%', 'from 10x10x0x1', false],
]);

const APACHE = [
  '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
  '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
  '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /index.html HTTP/1.0" 404 534',
];
const ALL7 = 'ip, user, username, timestamp, request';

table('space-delimited: AWS examples over the Apache lines', [
  ...APACHE.map((l): Case => [`[${ALL7}, status_code, bytes]`, l, true]),
  ...APACHE.map((l): Case => ['[..., status_code, bytes]', l, true]),
  ...APACHE.map((l): Case => ['[ip, user, ..., status_code, bytes]', l, true]),
  ...APACHE.map((l): Case => ['[ip, user, ...]', l, true]),
  ...APACHE.map((l, i): Case => [`[${ALL7}, status_code, bytes > 1000]`, l, i !== 2]),
  ...APACHE.map((l, i): Case => [`[${ALL7}, status_code = 200, bytes]`, l, i === 0]),
  ...APACHE.map((l, i): Case => [`[${ALL7}, status_code = 4*, bytes]`, l, i === 2]),
  ...APACHE.map((l, i): Case => [`[${ALL7}, status_code = 5*, bytes]`, l, i === 1]),
  ...APACHE.map((l, i): Case => [`[${ALL7} = *html*, status_code = 4*, bytes]`, l, i === 2]),
  ...APACHE.map((l, i): Case => [`[${ALL7}, status_code = 4* && status_code != 403, bytes]`, l, i === 2]),
  ...APACHE.map((l, i): Case => [`[${ALL7}, status_code = 200 || status_code = 404, bytes]`, l, i !== 1]),
  ...APACHE.map((l, i): Case => [`[${ALL7}, status_code != 200, bytes]`, l, i !== 0]),
  ...APACHE.map((l, i): Case => [`[${ALL7}, status_code = %5[0-9]{2}%, bytes]`, l, i === 1]),
  // too few or too many fields without an ellipsis
  [`[${ALL7}, status_code]`, APACHE[0], false],
  [`[${ALL7}, status_code, bytes, extra]`, APACHE[0], false],
  ['[w1=ERROR, w2]', 'ERROR message', true],
  ['[w1=ERROR || w1=WARN, w2]', 'WARN message', true],
  ['[w1=ERROR || w1=WARN, w2]', 'INFO message', false],
  ['[w1=ERROR, w2]', 'ERROR WARN message', false],
  // numbers compare only with numbers
  ['[a, b > 10]', 'x -', false],
  ['[a, b = 10]', 'x 10.0', true],
  ['[a = "two words", b]', '"two words" x', true],
  ['[a = Ev*ent, b]', 'Ev*ent x', true],
  ['[a = Ev*ent, b]', 'Evident x', false],
]);

test('space-delimited: extracted values as TestMetricFilter documents them', () => {
  const m = compileFilterPattern('[..., request=*.html*, status_code=4*,]').match(
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /products/index.html HTTP/1.0" 404 1534',
  );
  assert.deepEqual(m?.extracted, {
    $status_code: '404',
    $request: 'GET /products/index.html HTTP/1.0',
    $7: '1534',
    $4: '10/Oct/2000:13:25:15 -0700',
    $3: 'frank',
    $2: '-',
    $1: '127.0.0.1',
  });
});

test('splitDelimited: quotes and brackets make one field, escaped quotes stay inside', () => {
  assert.deepEqual(splitDelimited('a  "b c" [d e] "x \\"y\\" z" f'), ['a', 'b c', 'd e', 'x \\"y\\" z', 'f']);
  assert.deepEqual(splitDelimited(''), []);
});

const TRAIL = JSON.stringify({
  eventType: 'UpdateTrail',
  sourceIPAddress: '111.111.111.111',
  arrayKey: ['value', 'another value'],
  objectList: [{ name: 'a', id: 1 }, { name: 'b', id: 2 }],
  SomeObject: null,
  ThisFlag: true,
});
const USERS = JSON.stringify({
  user: { id: 1, email: 'John.Stiles@example.com' },
  users: [{ id: 2, email: 'John.Doe@example.com' }, { id: 3, email: 'Jane.Doe@example.com' }],
  actions: ['GET', 'PUT', 'DELETE'],
  coordinates: [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
});

table('JSON: AWS examples', [
  ['{ $.eventType = "UpdateTrail" }', TRAIL, true],
  ['{ $.eventType = UpdateTrail }', TRAIL, true],
  ['{ $.eventType = "Update" }', TRAIL, false],
  ['{ $.eventType = *Trail }', TRAIL, true],
  ['{ $.eventType = Update* }', TRAIL, true],
  ['{ $.sourceIPAddress != 123.123.* }', TRAIL, true],
  ['{ $.sourceIPAddress != 111.111.* }', TRAIL, false],
  ['{ $.arrayKey[0] = "value" }', TRAIL, true],
  ['{ $.arrayKey[1] = "value" }', TRAIL, false],
  ['{ $.objectList[1].id = 2 }', TRAIL, true],
  ['{ $.objectList[1].id = 1 }', TRAIL, false],
  ['{ $.SomeObject IS NULL }', TRAIL, true],
  ['{ $.eventType IS NULL }', TRAIL, false],
  ['{ $.SomeOtherObject NOT EXISTS }', TRAIL, true],
  ['{ $.SomeObject NOT EXISTS }', TRAIL, false],
  ['{ $.SomeObject EXISTS }', TRAIL, true],
  ['{ $.ThisFlag IS TRUE }', TRAIL, true],
  ['{ $.ThisFlag IS FALSE }', TRAIL, false],
  ['{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', USERS, true],
  ['{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', USERS, false],
  ['{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }', USERS, true],
  ['{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }', USERS, false],
  ['{ $.coordinates[1][2] = 6 }', USERS, true],
  // a selector on an array or object matches neither = nor !=
  ['{ $.users = 1 }', '{"users": [1, 2, 3]}', false],
  ['{ $.users != 1 }', '{"users": [1, 2, 3]}', false],
  // numeric comparisons as documented
  ['{ $.latency >= 500 }', '{"latency": 500}', true],
  ['{ $.latency > +1000 }', '{"latency": 1000}', false],
  ['{ $.numbers[0] < 10e3 }', '{"numbers": [9999]}', true],
  ['{ $.numbers[0] < 10e-3 }', '{"numbers": [0.01]}', false],
  ['{ $.processes[4].averageRuntime <= 55.5 }', '{"processes": [0,0,0,0,{"averageRuntime": 55.5}]}', true],
  ['{ $.errorCode = 400 }', '{"errorCode": 400}', true],
  ['{ $.errorCode = 400 }', '{"errorCode": "400"}', false],
  ['{ $.errorCode != 500 }', '{"errorCode": 400}', true],
  ['{ $.errorCode != 500 }', '{}', false],
  ['{ $.latency = * }', '{"latency": 12}', true],
  ['{ $.latency = * }', '{"other": 12}', false],
  ['{ $.foo = bar }', '{"foo": "bar"}', true],
  ['{ $.foo = bar || $.foo = baz }', '{"foo": "baz"}', true],
  ['{ $.msg = %time.?out% }', '{"msg": "a timeout"}', true],
  ['{ $.a-b_c = 1 }', '{"a-b_c": 1}', true],
  ['{ $.status = 500 }', 'not json', false],
  ['{ $.status = 500 }', '[500]', false],
]);

test('syntax errors name the position', () => {
  const cases: [string, RegExp][] = [
    ['ERROR:', /letters, digits or underscore must be in double quotes \(at character 1\)/],
    ['"unterminated', /unterminated double quote \(at character 1\)/],
    ['ERROR ?WARN', /cannot be combined/],
    ['%a(b)%', /character "\(" is not supported .*\(at character 3\)/],
    ['%two words%', /character " " is not supported/],
    ['[a, b', /must end with \]/],
    ['[a, ..., b, ...]', /only one \.\.\. .*\(at character 13\)/],
    ['[a, a]', /named twice/],
    ['[a = 1 && b = 2]', /can only test a/],
    ['[a > x]', /> needs a number/],
    ['[a = %x% || a = %y% || a = %z%]', /more than 2 regular expressions/],
    ['{ $.a = 1', /must end with \}/],
    ['{ a = 1 }', /starts with \$ \(at character 3\)/],
    ['{ $.a ~ 1 }', /expected an operator/],
    ['{ $.a = 1 ) }', /unexpected "\)"/],
    ['{ $[0] = 1 }', /must follow a property/],
    ['{ $.a = @x }', /must be in double quotes/],
  ];
  for (const [p, re] of cases) {
    assert.throws(() => compileFilterPattern(p), (e: unknown) => e instanceof FilterPatternError && re.test(e.message), p);
  }
  assert.throws(() => compileFilterPattern('x'.repeat(1025)), FilterPatternError);
});

const ACCESS =
  '2026-12-07T18:15:14.123456+00:00 ip-10-0-0-5 httpd: ip-10-0-0-5 10.0.0.9 - - [07/Dec/2026:18:15:14 +0000] "GET /index.html?q=1 HTTP/1.1" 503 2048 "-" "curl/8.5.0 \\"x\\"" 15234';
const LAB = '[time, host, tag, vhost, client, ident, user, date, request, status, bytes, referer, agent, duration]';

test('metric transformations: value and dimensions from the lab access line (%D last)', () => {
  const cases: [string, { metricValue: string; dimensions?: Record<string, string> }, string, unknown][] = [
    [LAB, { metricValue: '$duration' }, ACCESS, { value: 15234, dimensions: {} }],
    ['[..., status = 5*, bytes, referer, agent, duration]', { metricValue: '1' }, ACCESS, { value: 1, dimensions: {} }],
    ['[..., status = 4*, bytes, referer, agent, duration]', { metricValue: '1' }, ACCESS, undefined],
    ['[..., status, bytes, referer, agent, duration]', { metricValue: '$bytes', dimensions: { Status: '$status' } }, ACCESS, { value: 2048, dimensions: { Status: '503' } }],
    ['[..., status, bytes, referer, agent, duration]', { metricValue: '$bytes' }, ACCESS.replace(' 2048 ', ' - '), undefined],
    ['{ $.latency = * }', { metricValue: '$.latency' }, '{"latency": 42.5, "path": "/a"}', { value: 42.5, dimensions: {} }],
    ['{ $.latency = * }', { metricValue: '$.latency', dimensions: { Path: '$.path' } }, '{"latency": 3, "path": "/a"}', { value: 3, dimensions: { Path: '/a' } }],
    ['{ $.latency = * }', { metricValue: '$.latency', dimensions: { Path: '$.path' } }, '{"latency": 3}', undefined],
    ['ERROR', { metricValue: '1' }, 'an ERROR line', { value: 1, dimensions: {} }],
  ];
  for (const [p, t, msg, want] of cases) {
    assert.deepEqual(compileMetricTransformation(compileFilterPattern(p), t)(msg), want, `${p} ${t.metricValue}`);
  }
  assert.deepEqual(compileFilterPattern(LAB).match(ACCESS)?.extracted.$request, 'GET /index.html?q=1 HTTP/1.1');
  assert.deepEqual(compileFilterPattern(LAB).match(ACCESS)?.extracted.$agent, 'curl/8.5.0 \\"x\\"');
});

test('metric transformations refused as AWS refuses them', () => {
  const bad: [string, { metricValue: string; defaultValue?: number; dimensions?: Record<string, string> }, RegExp][] = [
    ['[a, b]', { metricValue: '$c' }, /not a field named/],
    ['ERROR', { metricValue: '$a' }, /not a field named/],
    ['[a, b]', { metricValue: '$.a' }, /needs a JSON filter pattern/],
    ['{ $.a = 1 }', { metricValue: 'lots' }, /must be a number/],
    ['ERROR', { metricValue: '1', dimensions: { A: '$.a' } }, /Dimensions need a JSON or space-delimited/],
    ['[a, b]', { metricValue: '1', defaultValue: 0, dimensions: { A: '$a' } }, /cannot have a default value/],
    ['[a, b]', { metricValue: '1', dimensions: { A: '$a', B: '$b', C: '$a', D: '$b' } }, /at most 3/],
    ['[a, b]', { metricValue: '1', dimensions: { A: 'x' } }, /must be a \$field/],
  ];
  for (const [p, t, re] of bad) {
    assert.throws(() => compileMetricTransformation(compileFilterPattern(p), t), (e: unknown) => e instanceof MetricTransformationError && re.test(e.message), p);
  }
});
