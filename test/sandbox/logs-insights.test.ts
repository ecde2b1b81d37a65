/**
 * Logs Insights through the SDK against the sandbox: StartQuery's validation (log group members,
 * time range, limit, MalformedQueryException with its location, the concurrency limit),
 * GetQueryResults (phases under the realistic profile, results, @ptr, statistics), StopQuery,
 * DescribeQueries, and query definitions (PutQueryDefinition create/update, DescribeQueryDefinitions
 * prefix and paging, DeleteQueryDefinition).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteQueryDefinitionCommand,
  DescribeQueriesCommand,
  DescribeQueryDefinitionsCommand,
  GetQueryResultsCommand,
  PutLogEventsCommand,
  PutQueryDefinitionCommand,
  StartQueryCommand,
  StopQueryCommand,
  type ResultField,
} from '@aws-sdk/client-cloudwatch-logs';
import { namedQuery } from '../../src/logs/queries.js';
import { ManualClock, startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { logs as logsModule } from '../../src/sandbox/services/logs.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';
import { accessLine, ACCESS_STREAM } from '../insights/access-lines.js';
import { clientConfig, rejection, rejects } from './support.js';

const clock = new ManualClock(Date.UTC(2026, 11, 7, 18, 0, 0));
let sb: RunningSandbox;
let logs: CloudWatchLogsClient;
const T0 = clock.now() - 10 * 60_000;
const sec = (ms: number): number => Math.floor(ms / 1000);
const row = (r: ResultField[]): Record<string, string> => Object.fromEntries(r.map((f) => [f.field!, f.value!]));

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, services: [logsModule], clock });
  logs = new CloudWatchLogsClient(clientConfig(sb, { maxAttempts: 1 }));
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/q/app' }));
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/q/other' }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/q/app', logStreamName: ACCESS_STREAM }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/q/other', logStreamName: 's' }));
  // 30 requests over 3 minutes: every 5th a 501, durations 1..30 ms
  await logs.send(new PutLogEventsCommand({
    logGroupName: '/q/app',
    logStreamName: ACCESS_STREAM,
    logEvents: Array.from({ length: 30 }, (_, i) => ({
      timestamp: T0 + i * 6000,
      message: accessLine({ at: T0 + i * 6000, status: i % 5 === 4 ? 501 : 200, path: `/p${i % 3}`, durationUs: (i + 1) * 1000 }),
    })),
  }));
  await logs.send(new PutLogEventsCommand({ logGroupName: '/q/other', logStreamName: 's', logEvents: [{ timestamp: T0, message: 'other ERROR' }] }));
});

after(async () => {
  logs.destroy();
  await sb.close();
});

async function query(queryString: string, extra: Record<string, unknown> = {}) {
  const { queryId } = await logs.send(new StartQueryCommand({ logGroupName: '/q/app', startTime: sec(T0), endTime: sec(clock.now()), queryString, ...extra }));
  assert.ok(queryId);
  return { queryId, out: await logs.send(new GetQueryResultsCommand({ queryId })) };
}

test('StartQuery + GetQueryResults: stats count(*) by status answers what was put; records carry @ptr; statistics', async () => {
  const { out } = await query(namedQuery('status').query);
  assert.equal(out.status, 'Complete');
  assert.deepEqual(out.results!.map(row), [{ status: '200', requests: '24' }, { status: '501', requests: '6' }]);
  assert.deepEqual(out.statistics, { recordsMatched: 30, recordsScanned: 30, bytesScanned: out.statistics!.bytesScanned });
  assert.ok(out.statistics!.bytesScanned! > 30 * 100);
  assert.ok(out.results!.every((r) => !r.some((f) => f.field === '@ptr')), 'stats rows have no @ptr');

  const plain = await query('parse @message /" (?<status>\\d{3}) / | stats count(*) by status | sort status asc');
  assert.deepEqual(plain.out.results!.map(row), [{ status: '200', 'count(*)': '24' }, { status: '501', 'count(*)': '6' }]);

  const records = await query('fields @timestamp, @message | filter @message like /" 501 / | limit 2');
  assert.equal(records.out.results!.length, 2);
  const first = row(records.out.results![0]);
  assert.match(first['@message'], /" 501 /);
  assert.equal(first['@timestamp'], '2026-12-07 17:52:54.000', 'newest first, as AWS formats @timestamp');
  assert.ok(first['@ptr'] && first['@ptr'] !== row(records.out.results![1])['@ptr'], 'each record has its own @ptr');
  assert.equal(records.out.statistics!.recordsMatched, 6);

  // startTime/endTime are seconds, inclusive; events outside are not scanned
  const windowed = await query('stats count(*) as n', { startTime: sec(T0 + 60_000), endTime: sec(T0 + 120_000) });
  assert.deepEqual(windowed.out.results!.map(row), [{ n: '11' }]);
  assert.equal(windowed.out.statistics!.recordsScanned, 11);

  // StartQuery's limit applies when the query has none
  const limited = await query('fields @message', { limit: 3 });
  assert.equal(limited.out.results!.length, 3);
});

test('StartQuery: log groups by name, names or identifiers (exactly one member); validation', async () => {
  const both = await logs.send(new StartQueryCommand({ logGroupNames: ['/q/app', '/q/other'], startTime: sec(T0), endTime: sec(clock.now()), queryString: 'stats count(*) as n' }));
  assert.deepEqual((await logs.send(new GetQueryResultsCommand({ queryId: both.queryId }))).results!.map(row), [{ n: '31' }]);
  const arn = 'arn:aws:logs:us-east-1:123456789012:log-group:/q/other';
  const byArn = await logs.send(new StartQueryCommand({ logGroupIdentifiers: [arn], startTime: sec(T0), endTime: sec(clock.now()), queryString: 'fields @log, @logStream' }));
  assert.deepEqual((await logs.send(new GetQueryResultsCommand({ queryId: byArn.queryId }))).results!.map(row).map((r) => [r['@log'], r['@logStream']]), [['123456789012:/q/other', 's']]);

  const range = { startTime: sec(T0), endTime: sec(clock.now()), queryString: 'fields @message' };
  await rejects(logs.send(new StartQueryCommand({ ...range })), 'InvalidParameterException', /exactly one/);
  await rejects(logs.send(new StartQueryCommand({ ...range, logGroupName: '/q/app', logGroupNames: ['/q/app'] })), 'InvalidParameterException', /exactly one/);
  await rejects(logs.send(new StartQueryCommand({ ...range, logGroupName: '/q/none' })), 'ResourceNotFoundException');
  await rejects(logs.send(new StartQueryCommand({ ...range, logGroupName: '/q/app', endTime: sec(T0) - 1 })), 'InvalidParameterException', /endTime/);
  await rejects(logs.send(new StartQueryCommand({ ...range, logGroupName: '/q/app', limit: 10_001 })), 'InvalidParameterException', /limit/);
  await rejects(logs.send(new StartQueryCommand({ ...range, logGroupNames: Array(51).fill('/q/app') })), 'InvalidParameterException', /less than or equal to 50/);
});

test('a query that does not parse is MalformedQueryException with the location of the error', async () => {
  const err = await rejection(logs.send(new StartQueryCommand({ logGroupName: '/q/app', startTime: sec(T0), endTime: sec(clock.now()), queryString: 'fields @message | frobnicate x' })));
  assert.equal(err.name, 'MalformedQueryException');
  assert.equal(err.$metadata.httpStatusCode, 400);
  assert.match(err.message, /line 1/);
  const loc = err.queryCompileError?.location;
  assert.equal(typeof loc?.startCharOffset, 'number');
  assert.equal('fields @message | frobnicate x'.slice(loc.startCharOffset, loc.endCharOffset + 1).trim().startsWith('frobnicate'), true, JSON.stringify(loc));
  assert.match(err.queryCompileError.message, /line 1/);
});

test('realistic profile: Scheduled, then Running, then Complete on the sandbox clock; StopQuery; DescribeQueries; 30 concurrent at most', async () => {
  sb.world.settings.latency = { ...sb.world.settings.latency, name: 'realistic' };
  try {
    const { queryId } = await logs.send(new StartQueryCommand({ logGroupName: '/q/app', startTime: sec(T0), endTime: sec(clock.now()), queryString: 'stats count(*) as n' }));
    let out = await logs.send(new GetQueryResultsCommand({ queryId }));
    assert.equal(out.status, 'Scheduled');
    assert.deepEqual(out.results, []);
    clock.advance(300);
    out = await logs.send(new GetQueryResultsCommand({ queryId }));
    assert.equal(out.status, 'Running');
    assert.deepEqual(out.results, []);
    clock.advance(1000);
    out = await logs.send(new GetQueryResultsCommand({ queryId }));
    assert.equal(out.status, 'Complete');
    assert.deepEqual(out.results!.map(row), [{ n: '30' }]);
    assert.equal((await logs.send(new StopQueryCommand({ queryId }))).success, false, 'a query already ended is not stopped');

    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push((await logs.send(new StartQueryCommand({ logGroupName: '/q/app', startTime: sec(T0), endTime: sec(clock.now()), queryString: `stats count(*) as n${i}` }))).queryId!);
    }
    await rejects(logs.send(new StartQueryCommand({ logGroupName: '/q/app', startTime: sec(T0), endTime: sec(clock.now()), queryString: 'fields @message' })), 'LimitExceededException', /30/);
    assert.equal((await logs.send(new StopQueryCommand({ queryId: ids[0] }))).success, true);
    assert.equal((await logs.send(new GetQueryResultsCommand({ queryId: ids[0] }))).status, 'Cancelled');
    // one slot is free again
    const extra = await logs.send(new StartQueryCommand({ logGroupName: '/q/app', startTime: sec(T0), endTime: sec(clock.now()), queryString: 'fields @message' }));

    const running = await logs.send(new DescribeQueriesCommand({ logGroupName: '/q/app', status: 'Scheduled' }));
    assert.equal(running.queries?.length, 30);
    assert.equal(running.queries?.[0].queryId, extra.queryId, 'newest first');
    assert.equal(running.queries?.[0].logGroupName, '/q/app');
    const cancelled = await logs.send(new DescribeQueriesCommand({ status: 'Cancelled' }));
    assert.deepEqual(cancelled.queries?.map((q) => q.queryId), [ids[0]]);
    const page = await logs.send(new DescribeQueriesCommand({ maxResults: 5 }));
    assert.equal(page.queries?.length, 5);
    assert.ok(page.nextToken);
    clock.advance(2000);
    assert.equal((await logs.send(new DescribeQueriesCommand({ status: 'Running' }))).queries?.length, 0);
    await rejects(logs.send(new GetQueryResultsCommand({ queryId: 'no-such-query' })), 'ResourceNotFoundException');
    await rejects(logs.send(new StopQueryCommand({ queryId: 'no-such-query' })), 'ResourceNotFoundException');
  } finally {
    sb.world.settings.latency = { ...sb.world.settings.latency, name: 'none' };
  }
});

test('query definitions: create, update by id, describe by prefix with paging, delete', async () => {
  const ids: string[] = [];
  for (const name of ['ecs-cwlogs/lab/latency', 'ecs-cwlogs/lab/status', 'ecs-cwlogs/other/status', 'mine']) {
    const { queryDefinitionId } = await logs.send(new PutQueryDefinitionCommand({ name, queryString: namedQuery('status').query, logGroupNames: ['/q/app'] }));
    assert.match(queryDefinitionId!, /^[0-9a-f-]{36}$/);
    ids.push(queryDefinitionId!);
  }
  const lab = await logs.send(new DescribeQueryDefinitionsCommand({ queryDefinitionNamePrefix: 'ecs-cwlogs/lab/' }));
  assert.deepEqual(lab.queryDefinitions?.map((d) => d.name), ['ecs-cwlogs/lab/latency', 'ecs-cwlogs/lab/status']);
  assert.deepEqual(lab.queryDefinitions?.[0].logGroupNames, ['/q/app']);
  assert.equal(lab.queryDefinitions?.[0].lastModified, clock.now());

  clock.advance(1000);
  const updated = await logs.send(new PutQueryDefinitionCommand({ queryDefinitionId: ids[0], name: 'ecs-cwlogs/lab/latency', queryString: 'stats count(*)' }));
  assert.equal(updated.queryDefinitionId, ids[0], 'an update keeps the id');
  const after1 = await logs.send(new DescribeQueryDefinitionsCommand({ queryDefinitionNamePrefix: 'ecs-cwlogs/lab/latency' }));
  assert.deepEqual(after1.queryDefinitions?.map((d) => [d.queryString, d.lastModified, d.logGroupNames]), [['stats count(*)', clock.now(), []]]);
  await rejects(logs.send(new PutQueryDefinitionCommand({ queryDefinitionId: '00000000-0000-0000-0000-000000000000', name: 'x', queryString: 'fields @message' })), 'ResourceNotFoundException');
  await rejects(logs.send(new PutQueryDefinitionCommand({ name: 'x'.repeat(256), queryString: 'fields @message' })), 'InvalidParameterException');
  await rejects(logs.send(new PutQueryDefinitionCommand({ name: 'x', queryString: '' })), 'InvalidParameterException');

  const p1 = await logs.send(new DescribeQueryDefinitionsCommand({ maxResults: 3 }));
  assert.equal(p1.queryDefinitions?.length, 3);
  const p2 = await logs.send(new DescribeQueryDefinitionsCommand({ maxResults: 3, nextToken: p1.nextToken }));
  assert.deepEqual(p2.queryDefinitions?.map((d) => d.name), ['mine']);
  assert.equal(p2.nextToken, undefined);

  assert.equal((await logs.send(new DeleteQueryDefinitionCommand({ queryDefinitionId: ids[3] }))).success, true);
  await rejects(logs.send(new DeleteQueryDefinitionCommand({ queryDefinitionId: ids[3] })), 'ResourceNotFoundException');
  const left = await logs.send(new DescribeQueryDefinitionsCommand({}));
  assert.equal(left.queryDefinitions?.length, 3);
});
