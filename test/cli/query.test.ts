/**
 * `ecs-cwlogs query` through the real binary against the sandbox's Logs Insights: access lines (with
 * %D last) put with the SDK, then the named queries count and measure them exactly, a raw query,
 * --json one document, --csv quoting, the chart's plain numbers when piped, and the user's mistakes
 * (a malformed query with its place, an unknown name, conflicting flags) exit 2 with nothing run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudWatchLogs } from '@aws-sdk/client-cloudwatch-logs';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const STREAM = 'i-0123456789abcdef0-ip-10-0-0-5.ec2.internal-10.0.0.5-httpd-access.log';
const ERRORS = 'i-0123456789abcdef0-ip-10-0-0-5.ec2.internal-10.0.0.5-httpd-error.log';

function accessLine(t: number, path: string, status: number, micros: number, agent = 'curl/8.5.0'): string {
  const d = new Date(t);
  return `${d.toISOString()} ip-10-0-0-5 httpd: ip-10-0-0-5 10.0.0.9 - - [07/Dec/2026:18:15:14 +0000] "GET ${path} HTTP/1.1" ${status} 45 "-" "${agent}" ${micros}`;
}

/** The log group `ecs` with the access and error streams, and a Logs client on the sandbox. */
async function accessAndErrorStreams(url: string): Promise<CloudWatchLogs> {
  const logs = new CloudWatchLogs({ region: 'us-east-1', endpoint: url, credentials: TEST_CREDENTIALS });
  await logs.createLogGroup({ logGroupName: 'ecs' });
  await logs.createLogStream({ logGroupName: 'ecs', logStreamName: STREAM });
  await logs.createLogStream({ logGroupName: 'ecs', logStreamName: ERRORS });
  return logs;
}

test('query through the binary: named queries exact, a raw query, --json, --csv, --chart, mistakes exit 2', { timeout: 120_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const logs = await accessAndErrorStreams(sb.url);
    const now = Date.now() - 60_000;
    const events = [
      ...Array.from({ length: 7 }, (_, i) => ({ timestamp: now + i, message: accessLine(now, `/index.html?i=${i}`, 200, 1000 * (i + 1)) })),
      ...Array.from({ length: 3 }, (_, i) => ({ timestamp: now + 10 + i, message: accessLine(now, '/nope', 501, 400) })),
      { timestamp: now + 20, message: accessLine(now, '/quoted', 200, 2500, 'say \\"hi\\", twice') },
    ];
    await logs.putLogEvents({ logGroupName: 'ecs', logStreamName: STREAM, logEvents: events });
    await logs.putLogEvents({ logGroupName: 'ecs', logStreamName: ERRORS, logEvents: [{ timestamp: now, message: 'AH00128: File does not exist: /usr/local/apache2/htdocs/nope' }] });
    logs.destroy();
    const env = cliEnv(tempConfigDir());
    const q = (...args: string[]) => runCli(['query', ...args, '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'qry'], env);

    const status = await q('status', '--json');
    assert.equal(status.code, 0, status.stderr);
    const doc = JSON.parse(status.stdout); // one document
    assert.equal(doc.name, 'status');
    assert.deepEqual(doc.rows.map((r: Record<string, string>) => [r.status, r.requests]), [['200', '8'], ['501', '3']]);
    assert.ok(doc.statistics.recordsScanned >= 11);

    const table = await q('status');
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout, 'status  requests\n   200         8\n   501         3\n');
    assert.match(table.stderr, /2 rows; \d+ of \d+ records matched/);

    const slow = await q('slow', '--slow-ms', '5', '--json');
    assert.equal(slow.code, 0, slow.stderr);
    assert.deepEqual(JSON.parse(slow.stdout).rows.map((r: Record<string, string>) => Number(r.duration_ms)), [7, 6, 5]);

    const raw = await q('filter @logStream like /error/ | stats count(*) as errors', '--json');
    assert.equal(raw.code, 0, raw.stderr);
    assert.deepEqual(JSON.parse(raw.stdout).rows, [{ errors: '1' }]);

    const csv = await q('fields @message | filter @message like /quoted/', '--csv');
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csv.stdout, `@message\r\n"${accessLine(now, '/quoted', 200, 2500, 'say \\"hi\\", twice').replace(/"/g, '""')}"\r\n`);

    const before = Date.now();
    const chart = await q('--chart', '--since', '5m');
    const after = Date.now();
    assert.equal(chart.code, 0, chart.stderr);
    const lines = chart.stdout.trimEnd().split('\n');
    // The minutes carry the date when the window [now - 5m, now] spans two UTC days (a run near
    // midnight): required, forbidden, or either, across the instants the run may have taken as now.
    const spans = (t: number) => new Date(Math.floor((t - 300_000) / 60_000) * 60_000).toISOString().slice(0, 10) !== new Date(t).toISOString().slice(0, 10);
    const dated = spans(before) && spans(after) ? true : !spans(before) && !spans(after) ? false : /^\d{4}-/.test(lines[1] ?? '');
    assert.equal(lines[0], dated ? 'minute            requests  p99_ms' : 'minute  requests  p99_ms', chart.stdout);
    const row = dated ? /^\d{4}-\d\d-\d\d \d\d:\d\d +(\d+) +(\d\S*|-)$/ : /^\d\d:\d\d +(\d+) +(\d\S*|-)$/;
    assert.equal(lines.slice(1).reduce((n, l) => n + Number(row.exec(l)?.[1] ?? NaN), 0), 11, chart.stdout);

    const bad = await q('stats count(*) byy status');
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /Logs Insights cannot run the query: .* at line 1, column \d+:/);
    for (const [args, message] of [
      [['latncy'], /Unknown query "latncy".*Did you mean `query latency`\?/],
      [['status', '--csv', '--json'], /--csv and --json together/],
      [['status', '--since', 'yesterday'], /Invalid --since "yesterday"/],
      [['fields @message', '--top', '3'], /--top with a query string/],
    ] as const) {
      const r = await q(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

test('no rows: --csv prints the header of the fields the query names (a named query: the same line as with rows), --json its fields and [], the table "No rows" on stderr and nothing on stdout', { timeout: 120_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const logs = await accessAndErrorStreams(sb.url);
    const now = Date.now() - 60_000;
    await logs.putLogEvents({ logGroupName: 'ecs', logStreamName: STREAM, logEvents: [1, 2, 3].map((i) => ({ timestamp: now + i, message: accessLine(now, `/p${i}`, 200, 9000) })) });
    await logs.putLogEvents({ logGroupName: 'ecs', logStreamName: ERRORS, logEvents: [{ timestamp: now, message: 'AH00128: File does not exist: /usr/local/apache2/htdocs/nope' }] });
    logs.destroy();
    const env = cliEnv(tempConfigDir());
    const q = (...args: string[]) => runCli(['query', ...args, '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'qryempty'], env);
    const before = ['--since', '3h', '--until', '2h'];

    for (const name of ['latency', 'status', 'errors', 'top-paths', 'slow']) {
      const withRows = await q(name, '--csv', ...(name === 'slow' ? ['--slow-ms', '1'] : []));
      assert.equal(withRows.code, 0, withRows.stderr);
      const header = withRows.stdout.split('\r\n')[0]!;
      assert.ok(withRows.stdout.split('\r\n').length > 2, `${name} has rows: ${withRows.stdout}`);
      const empty = await q(name, '--csv', ...before);
      assert.equal(empty.code, 0, empty.stderr);
      assert.equal(empty.stdout, `${header}\r\n`, name);
      assert.match(empty.stderr, /No rows/, name);
      const json = await q(name, '--json', ...before);
      assert.equal(json.code, 0, json.stderr);
      const doc = JSON.parse(json.stdout);
      assert.deepEqual(doc.rows, [], name);
      assert.deepEqual(doc.fields, header.split(','), name);
      const table = await q(name, ...before);
      assert.equal(table.code, 0, table.stderr);
      assert.equal(table.stdout, '', name);
      assert.match(table.stderr, /No rows/, name);
    }

    // A query string naming its fields (display, fields, stats ... as): the header is known.
    const raw = await q('filter @message like /nomatch/ | stats count(*) as hits, max(@timestamp) as last by bin(5m) as minute', '--csv');
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(raw.stdout, 'minute,hits,last\r\n');
    const shown = await q('filter @message like /nomatch/ | display @timestamp, @message', '--csv');
    assert.equal(shown.stdout, '@timestamp,@message\r\n');
    // One that names none (the fields come from its rows): no header, and stderr says why.
    const unnamed = await q('filter @message like /nomatch/', '--csv');
    assert.equal(unnamed.code, 0, unnamed.stderr);
    assert.equal(unnamed.stdout, '');
    assert.match(unnamed.stderr, /No rows.*no CSV header/);
  });
});
