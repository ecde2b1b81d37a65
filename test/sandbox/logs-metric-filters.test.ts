/**
 * CloudWatch Logs metric filters through the SDK against the sandbox: PutMetricFilter's validation,
 * DescribeMetricFilters' selection and paging, DeleteMetricFilter, TestMetricFilter, the emission on
 * ingest (captured at the metrics door), and FilterLogEvents with the same filter patterns.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DeleteMetricFilterCommand,
  DescribeLogGroupsCommand,
  DescribeMetricFiltersCommand,
  FilterLogEventsCommand,
  PutLogEventsCommand,
  PutMetricFilterCommand,
  TestMetricFilterCommand,
  type PutMetricFilterCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import { ManualClock, startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { setMetricSink, type MetricDatum } from '../../src/sandbox/metrics.js';
import { logs as logsModule } from '../../src/sandbox/services/logs.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';
import { clientConfig, rejects } from './support.js';

const clock = new ManualClock();
let sb: RunningSandbox;
let logs: CloudWatchLogsClient;
let emitted: MetricDatum[] = [];

// The lab's access line: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D
const ACCESS = '[ip, id, user, timestamp, request, status, bytes, referer, agent, duration]';
function line(status: number, durationUs: number, path = '/'): string {
  return `10.0.0.1 - - [07/Dec/2026:18:00:00 +0000] "GET ${path} HTTP/1.1" ${status} 123 "-" "curl/8.5.0" ${durationUs}`;
}

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, services: [logsModule], clock });
  logs = new CloudWatchLogsClient(clientConfig(sb, { maxAttempts: 1 }));
  setMetricSink((_world, datum) => emitted.push(datum));
});

after(async () => {
  logs.destroy();
  await sb.close();
});

beforeEach(() => {
  emitted = [];
});

function filter(name: string, pattern: string, t: Partial<PutMetricFilterCommandInput['metricTransformations'] extends (infer T)[] | undefined ? T : never> = {}): PutMetricFilterCommandInput {
  return {
    logGroupName: '/mf/app',
    filterName: name,
    filterPattern: pattern,
    metricTransformations: [{ metricName: name, metricNamespace: 'Lab/mf', metricValue: '1', ...t }],
  };
}

test('PutMetricFilter validates as AWS: pattern syntax, one transformation, dimensions, names, units', async () => {
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/mf/app' }));
  await rejects(logs.send(new PutMetricFilterCommand(filter('bad', '[status = ]'))), 'InvalidParameterException', /Invalid filter pattern/);
  await rejects(logs.send(new PutMetricFilterCommand(filter('bad', '{ $.a = '))), 'InvalidParameterException', /Invalid filter pattern/);
  await rejects(logs.send(new PutMetricFilterCommand({ ...filter('two', 'ERROR'), metricTransformations: [
    { metricName: 'a', metricNamespace: 'n', metricValue: '1' }, { metricName: 'b', metricNamespace: 'n', metricValue: '1' },
  ] })), 'InvalidParameterException', /metricTransformations.*less than or equal to 1/);
  await rejects(logs.send(new PutMetricFilterCommand({ ...filter('none', 'ERROR'), metricTransformations: [] })), 'InvalidParameterException', /greater than or equal to 1/);
  // $field values and dimensions must be fields the pattern names; no defaultValue with dimensions; at most 3
  await rejects(logs.send(new PutMetricFilterCommand(filter('v', ACCESS, { metricValue: '$latency' }))), 'InvalidParameterException', /not a field named/);
  await rejects(logs.send(new PutMetricFilterCommand(filter('v', 'ERROR', { metricValue: '$.latency' }))), 'InvalidParameterException', /needs a JSON filter pattern/);
  await rejects(logs.send(new PutMetricFilterCommand(filter('d', ACCESS, { dimensions: { Status: '$status' }, defaultValue: 0 }))), 'InvalidParameterException', /cannot have a default value/);
  await rejects(logs.send(new PutMetricFilterCommand(filter('d', ACCESS, { dimensions: { a: '$ip', b: '$user', c: '$status', d: '$bytes' } }))), 'InvalidParameterException', /at most 3 dimensions/);
  await rejects(logs.send(new PutMetricFilterCommand(filter('u', 'ERROR', { unit: 'Furlongs' as never }))), 'InvalidParameterException', /enum value set/);
  await rejects(logs.send(new PutMetricFilterCommand(filter('bad:name', 'ERROR'))), 'InvalidParameterException', /\[\^:\*\]\*/);
  await rejects(logs.send(new PutMetricFilterCommand(filter('n', 'ERROR', { metricName: 'a$b' }))), 'InvalidParameterException', /metricName/);
  await rejects(logs.send(new PutMetricFilterCommand({ ...filter('g', 'ERROR'), logGroupName: '/mf/none' })), 'ResourceNotFoundException');
  const { metricFilters } = await logs.send(new DescribeMetricFiltersCommand({ logGroupName: '/mf/app' }));
  assert.deepEqual(metricFilters, [], 'a refused filter is not stored');

  // 100 per log group; replacing an existing one is not a new one
  for (let i = 0; i < 100; i++) await logs.send(new PutMetricFilterCommand(filter(`f${String(i).padStart(3, '0')}`, 'ERROR')));
  await rejects(logs.send(new PutMetricFilterCommand(filter('f100', 'ERROR'))), 'LimitExceededException');
  await logs.send(new PutMetricFilterCommand(filter('f000', 'WARN')));
  const groups = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/mf/app' }));
  assert.equal(groups.logGroups?.[0].metricFilterCount, 100);
  await logs.send(new DeleteLogGroupCommand({ logGroupName: '/mf/app' }));
});

test('DescribeMetricFilters: by log group, prefix, metric; paging; DeleteMetricFilter', async () => {
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/mf/app' }));
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/mf/other' }));
  await logs.send(new PutMetricFilterCommand(filter('requests', ACCESS)));
  await logs.send(new PutMetricFilterCommand(filter('errors', 'ERROR', { metricName: 'ErrorLines', unit: 'Count' })));
  await logs.send(new PutMetricFilterCommand({ ...filter('requests', ACCESS), logGroupName: '/mf/other', metricTransformations: [{ metricName: 'requests', metricNamespace: 'Other', metricValue: '1' }] }));

  const byGroup = await logs.send(new DescribeMetricFiltersCommand({ logGroupName: '/mf/app' }));
  assert.deepEqual(byGroup.metricFilters?.map((f) => f.filterName), ['errors', 'requests']);
  const errors = byGroup.metricFilters![0];
  assert.equal(errors.logGroupName, '/mf/app');
  assert.equal(errors.filterPattern, 'ERROR');
  assert.deepEqual(errors.metricTransformations, [{ metricName: 'ErrorLines', metricNamespace: 'Lab/mf', metricValue: '1', unit: 'Count' }]);
  assert.equal(errors.creationTime, clock.now());

  const prefixed = await logs.send(new DescribeMetricFiltersCommand({ logGroupName: '/mf/app', filterNamePrefix: 'req' }));
  assert.deepEqual(prefixed.metricFilters?.map((f) => f.filterName), ['requests']);
  await rejects(logs.send(new DescribeMetricFiltersCommand({ filterNamePrefix: 'req' })), 'InvalidParameterException');
  await rejects(logs.send(new DescribeMetricFiltersCommand({ metricName: 'requests' })), 'InvalidParameterException');
  const byMetric = await logs.send(new DescribeMetricFiltersCommand({ metricName: 'requests', metricNamespace: 'Other' }));
  assert.deepEqual(byMetric.metricFilters?.map((f) => `${f.logGroupName} ${f.filterName}`), ['/mf/other requests']);

  const first = await logs.send(new DescribeMetricFiltersCommand({ limit: 2 }));
  assert.equal(first.metricFilters?.length, 2);
  assert.ok(first.nextToken);
  const second = await logs.send(new DescribeMetricFiltersCommand({ limit: 2, nextToken: first.nextToken }));
  assert.deepEqual(second.metricFilters?.map((f) => `${f.logGroupName} ${f.filterName}`), ['/mf/other requests']);
  assert.equal(second.nextToken, undefined);

  await logs.send(new DeleteMetricFilterCommand({ logGroupName: '/mf/app', filterName: 'errors' }));
  await rejects(logs.send(new DeleteMetricFilterCommand({ logGroupName: '/mf/app', filterName: 'errors' })), 'ResourceNotFoundException', /metric filter/);
  const left = await logs.send(new DescribeMetricFiltersCommand({ logGroupName: '/mf/app' }));
  assert.deepEqual(left.metricFilters?.map((f) => f.filterName), ['requests']);
  await logs.send(new DeleteLogGroupCommand({ logGroupName: '/mf/app' }));
  await logs.send(new DeleteLogGroupCommand({ logGroupName: '/mf/other' }));
  const gone = await logs.send(new DescribeMetricFiltersCommand({}));
  assert.deepEqual(gone.metricFilters, [], 'a log group takes its metric filters with it');
});

test('TestMetricFilter: matches with 1-based event numbers and extracted values', async () => {
  const out = await logs.send(new TestMetricFilterCommand({
    filterPattern: '[ip, id, user, timestamp, request, status = 5*, bytes, referer, agent, duration]',
    logEventMessages: [line(200, 10), line(501, 2500, '/x'), line(503, 7)],
  }));
  assert.deepEqual(out.matches?.map((m) => m.eventNumber), [2, 3]);
  assert.equal(out.matches?.[0].eventMessage, line(501, 2500, '/x'));
  assert.equal(out.matches?.[0].extractedValues?.$status, '501');
  assert.equal(out.matches?.[0].extractedValues?.$duration, '2500');
  assert.equal(out.matches?.[0].extractedValues?.$request, 'GET /x HTTP/1.1');
  await rejects(logs.send(new TestMetricFilterCommand({ filterPattern: '{ $.a = ', logEventMessages: ['x'] })), 'InvalidParameterException');
  await rejects(logs.send(new TestMetricFilterCommand({ filterPattern: 'x', logEventMessages: [] })), 'InvalidParameterException');
  await rejects(logs.send(new TestMetricFilterCommand({ filterPattern: 'x', logEventMessages: Array(51).fill('x') })), 'InvalidParameterException');
});

test('metric filters emit on ingest: value, $field values, dimensions, unit, the event timestamp, defaultValue per batch', async () => {
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/mf/app' }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/mf/app', logStreamName: 'access' }));
  await logs.send(new PutMetricFilterCommand(filter('requests', ACCESS)));
  await logs.send(new PutMetricFilterCommand(filter('5xx', ACCESS.replace('status,', 'status = 5*,'), { defaultValue: 0 })));
  await logs.send(new PutMetricFilterCommand(filter('duration', ACCESS, { metricValue: '$duration', unit: 'Microseconds' })));
  await logs.send(new PutMetricFilterCommand(filter('byStatus', ACCESS, { dimensions: { Status: '$status' } })));
  await logs.send(new PutMetricFilterCommand(filter('json', '{ $.level = "error" }', { metricValue: '$.code' })));

  const t = clock.now();
  await logs.send(new PutLogEventsCommand({ logGroupName: '/mf/app', logStreamName: 'access', logEvents: [
    { timestamp: t - 2000, message: line(200, 1500) },
    { timestamp: t - 1000, message: line(501, 2500) },
    { timestamp: t - 500, message: '{"level":"error","code":7}' },
    { timestamp: t + 3 * 60 * 60 * 1000, message: line(502, 1) }, // too new: rejected, emits nothing
  ] }));
  const of = (name: string) => emitted.filter((d) => d.metricName === name).map((d) => ({ v: d.value, at: d.timestamp, dims: d.dimensions, unit: d.unit }));
  assert.deepEqual(of('requests'), [{ v: 1, at: t - 2000, dims: {}, unit: undefined }, { v: 1, at: t - 1000, dims: {}, unit: undefined }]);
  assert.deepEqual(of('5xx'), [{ v: 1, at: t - 1000, dims: {}, unit: undefined }]);
  assert.deepEqual(of('duration'), [{ v: 1500, at: t - 2000, dims: {}, unit: 'Microseconds' }, { v: 2500, at: t - 1000, dims: {}, unit: 'Microseconds' }]);
  assert.deepEqual(of('byStatus').map((d) => d.dims), [{ Status: '200' }, { Status: '501' }]);
  assert.deepEqual(of('json'), [{ v: 7, at: t - 500, dims: {}, unit: undefined }]);
  assert.ok(emitted.every((d) => d.namespace === 'Lab/mf' && d.region === 'us-east-1' && d.account === '123456789012'));

  // A batch in which a filter matches nothing emits its defaultValue once (and only filters that have one).
  emitted = [];
  await logs.send(new PutLogEventsCommand({ logGroupName: '/mf/app', logStreamName: 'access', logEvents: [
    { timestamp: t - 300, message: line(200, 10) }, { timestamp: t - 200, message: line(404, 10) },
  ] }));
  assert.deepEqual(of('5xx'), [{ v: 0, at: t - 200, dims: {}, unit: undefined }]);
  assert.equal(of('json').length, 0);
  assert.equal(of('requests').length, 2);

  // A deleted filter emits nothing.
  emitted = [];
  await logs.send(new DeleteMetricFilterCommand({ logGroupName: '/mf/app', filterName: 'requests' }));
  await logs.send(new PutLogEventsCommand({ logGroupName: '/mf/app', logStreamName: 'access', logEvents: [{ timestamp: t, message: line(200, 10) }] }));
  assert.equal(of('requests').length, 0);
  assert.equal(of('duration').length, 1);
  await logs.send(new DeleteLogGroupCommand({ logGroupName: '/mf/app' }));
});

test('FilterLogEvents uses the same filter patterns: space-delimited and JSON; a bad pattern is InvalidParameterException', async () => {
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/mf/fle' }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/mf/fle', logStreamName: 's' }));
  const t = clock.now();
  await logs.send(new PutLogEventsCommand({ logGroupName: '/mf/fle', logStreamName: 's', logEvents: [
    { timestamp: t - 3, message: line(200, 10) }, { timestamp: t - 2, message: line(501, 10) }, { timestamp: t - 1, message: '{"level":"error"}' },
  ] }));
  const read = async (filterPattern: string) =>
    (await logs.send(new FilterLogEventsCommand({ logGroupName: '/mf/fle', filterPattern }))).events?.map((e) => e.timestamp! - t);
  assert.deepEqual(await read('[..., status = 5*, bytes, referer, agent, duration]'), [-2]);
  assert.deepEqual(await read('{ $.level = "error" }'), [-1]);
  assert.deepEqual(await read('"GET /"'), [-3, -2]);
  assert.deepEqual(await read(''), [-3, -2, -1]);
  await rejects(logs.send(new FilterLogEventsCommand({ logGroupName: '/mf/fle', filterPattern: '{ $.level = ' })), 'InvalidParameterException', /Invalid filter pattern/);
  await logs.send(new DeleteLogGroupCommand({ logGroupName: '/mf/fle' }));
});

test('metric filters and query definitions are saved with the world and load again (their shapes pass the state check)', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { PutQueryDefinitionCommand, DescribeQueryDefinitionsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const statePath = join(mkdtempSync(join(tmpdir(), 'mf-state-')), 'state.json');
  const first = await startSandbox({ credentials: TEST_KEYS, services: [logsModule], clock, statePath });
  const c1 = new CloudWatchLogsClient(clientConfig(first, { maxAttempts: 1 }));
  await c1.send(new CreateLogGroupCommand({ logGroupName: '/mf/saved' }));
  await c1.send(new PutMetricFilterCommand({ ...filter('byStatus', ACCESS, { dimensions: { Status: '$status' }, unit: 'Count' }), logGroupName: '/mf/saved' }));
  await c1.send(new PutQueryDefinitionCommand({ name: 'saved/q', queryString: 'stats count(*)' }));
  c1.destroy();
  await first.close();

  const second = await startSandbox({ credentials: TEST_KEYS, services: [logsModule], clock, statePath });
  const c2 = new CloudWatchLogsClient(clientConfig(second, { maxAttempts: 1 }));
  try {
    const { metricFilters } = await c2.send(new DescribeMetricFiltersCommand({ logGroupName: '/mf/saved' }));
    assert.deepEqual(metricFilters?.[0].metricTransformations, [{ metricName: 'byStatus', metricNamespace: 'Lab/mf', metricValue: '1', dimensions: { Status: '$status' }, unit: 'Count' }]);
    const { queryDefinitions } = await c2.send(new DescribeQueryDefinitionsCommand({ queryDefinitionNamePrefix: 'saved/' }));
    assert.deepEqual(queryDefinitions?.map((d) => d.queryString), ['stats count(*)']);
    // the reloaded filter still emits
    emitted = [];
    await c2.send(new CreateLogStreamCommand({ logGroupName: '/mf/saved', logStreamName: 's' }));
    await c2.send(new PutLogEventsCommand({ logGroupName: '/mf/saved', logStreamName: 's', logEvents: [{ timestamp: clock.now(), message: line(404, 1) }] }));
    assert.deepEqual(emitted.map((d) => d.dimensions), [{ Status: '404' }]);
  } finally {
    c2.destroy();
    await second.close();
  }
});
