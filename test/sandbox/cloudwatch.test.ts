/**
 * CloudWatch in the sandbox through the real SDK client (AWS JSON 1.0, awsQueryCompatible): metric
 * data and its statistics (percentiles, metric math), alarms evaluated on the sandbox's clock with
 * periods scaled by the latency profile ('fast': a 60 s period lasts 450 ms), and dashboards.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DeleteDashboardsCommand,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListDashboardsCommand,
  ListMetricsCommand,
  ListTagsForResourceCommand,
  PutDashboardCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { emitMetric } from '../../src/sandbox/metrics.js';
import { defaultServices, ManualClock, type RunningSandbox } from '../../src/sandbox/index.js';
import { checkStateFile } from '../../src/sandbox/world.js';
import type { SnsState } from '../../src/sandbox/services/sns.js';
import { clientConfig, rejection, withSandbox } from './support.js';

/** A 60 s period under the 'fast' profile (0.0075 of AWS's time). */
const PERIOD_MS = 450;

function clients(sb: RunningSandbox) {
  return { cw: new CloudWatchClient(clientConfig(sb, { maxAttempts: 1 })), sns: new SNSClient(clientConfig(sb, { maxAttempts: 1 })) };
}

async function state(cw: CloudWatchClient, name: string): Promise<string | undefined> {
  const out = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }));
  return out.MetricAlarms?.[0]?.StateValue;
}

test('GetMetricStatistics and GetMetricData aggregate per period: counts, sums, percentiles, metric math', async () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const { cw } = clients(sb);
    const t = new Date(clock.now() - 120_000); // 11:58:00, one minute's bucket
    // 1..100 in one minute, and the next minute 5.
    await cw.send(new PutMetricDataCommand({ Namespace: 'App', MetricData: [{ MetricName: 'Latency', Timestamp: t, Values: Array.from({ length: 100 }, (_, i) => i + 1), Unit: 'Milliseconds' }] }));
    await cw.send(new PutMetricDataCommand({ Namespace: 'App', MetricData: [{ MetricName: 'Latency', Timestamp: new Date(t.getTime() + 60_000), Value: 5, Unit: 'Milliseconds' }] }));
    const stats = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: 'App',
        MetricName: 'Latency',
        StartTime: new Date(clock.now() - 600_000),
        EndTime: new Date(clock.now()),
        Period: 60,
        Statistics: ['SampleCount', 'Sum', 'Average', 'Minimum', 'Maximum'],
        ExtendedStatistics: ['p50', 'p99'],
      }),
    );
    const points = (stats.Datapoints ?? []).sort((a, b) => a.Timestamp!.getTime() - b.Timestamp!.getTime());
    assert.equal(points.length, 2);
    assert.deepEqual(
      { n: points[0].SampleCount, sum: points[0].Sum, avg: points[0].Average, min: points[0].Minimum, max: points[0].Maximum, unit: points[0].Unit },
      { n: 100, sum: 5050, avg: 50.5, min: 1, max: 100, unit: 'Milliseconds' },
    );
    assert.deepEqual(points[0].ExtendedStatistics, { p50: 50, p99: 99 });
    assert.equal(points[1].Sum, 5);
    assert.equal(points[0].Timestamp!.getTime(), t.getTime());

    // A 5xx rate as the monitoring steps compute it: 100 * errors / requests, per period.
    const putCount = (name: string, value: number, at: number) =>
      cw.send(new PutMetricDataCommand({ Namespace: 'App', MetricData: [{ MetricName: name, Timestamp: new Date(at), Value: value, Unit: 'Count' }] }));
    await putCount('Requests', 200, t.getTime());
    await putCount('5xx', 20, t.getTime());
    await putCount('Requests', 50, t.getTime() + 60_000);
    const data = await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(clock.now() - 600_000),
        EndTime: new Date(clock.now()),
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [
          { Id: 'm1', MetricStat: { Metric: { Namespace: 'App', MetricName: 'Requests' }, Period: 60, Stat: 'Sum' }, ReturnData: false },
          { Id: 'm2', MetricStat: { Metric: { Namespace: 'App', MetricName: '5xx' }, Period: 60, Stat: 'Sum' }, ReturnData: false },
          { Id: 'rate', Expression: '100*FILL(m2,0)/m1', Label: '5xx rate' },
          { Id: 'p99', MetricStat: { Metric: { Namespace: 'App', MetricName: 'Latency' }, Period: 60, Stat: 'p99' } },
        ],
      }),
    );
    const rate = data.MetricDataResults!.find((r) => r.Id === 'rate')!;
    assert.equal(rate.Label, '5xx rate');
    assert.deepEqual(rate.Values, [10, 0]);
    assert.deepEqual(rate.Timestamps!.map((d) => d.getTime()), [t.getTime(), t.getTime() + 60_000]);
    assert.deepEqual(data.MetricDataResults!.find((r) => r.Id === 'p99')!.Values, [99, 5]);
    assert.equal(data.MetricDataResults!.length, 2, 'ReturnData: false is not returned');

    const listed = await cw.send(new ListMetricsCommand({ Namespace: 'App' }));
    assert.deepEqual(listed.Metrics!.map((m) => m.MetricName).sort(), ['5xx', 'Latency', 'Requests']);

    const bad = await rejection(cw.send(new GetMetricDataCommand({ StartTime: new Date(0), EndTime: new Date(1000), MetricDataQueries: [{ Id: 'x', Expression: 'nope + 1' }] })));
    assert.equal(bad.Code ?? bad.Error?.Code, 'InvalidParameterValue');
    const aws = await rejection(cw.send(new PutMetricDataCommand({ Namespace: 'AWS/EC2', MetricData: [{ MetricName: 'x', Value: 1 }] })));
    assert.equal(aws.$metadata.httpStatusCode, 400);
    assert.match(aws.message, /Namespace/);
  });
});

test('an alarm starts INSUFFICIENT_DATA, goes to ALARM after its scaled period, notifies its SNS topic, and returns to OK', async () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const { cw, sns } = clients(sb);
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'alarms' }));
    const base: PutMetricAlarmCommandInput = {
      AlarmName: 'errors',
      Namespace: 'App',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [TopicArn!],
      OKActions: [TopicArn!],
      Tags: [{ Key: 'ecs-cwlogs:stack', Value: 'cw-test' }],
    };
    await cw.send(new PutMetricAlarmCommand(base));
    // The same metric, missing data left as missing: INSUFFICIENT_DATA when a period has no value.
    await cw.send(new PutMetricAlarmCommand({ ...base, AlarmName: 'errors-missing', TreatMissingData: undefined, AlarmActions: [], OKActions: [] }));
    assert.equal(await state(cw, 'errors'), 'INSUFFICIENT_DATA');
    const created = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['errors'] }))).MetricAlarms![0];
    assert.equal(created.StateReason, 'Unchecked: Initial alarm creation');

    // 10 errors now: breaching, but not before the period is over.
    emitMetric(sb.world, { region: 'us-east-1', account: '123456789012', namespace: 'App', metricName: 'Errors', dimensions: {}, timestamp: clock.now(), value: 10 });
    assert.equal(await state(cw, 'errors'), 'INSUFFICIENT_DATA', 'the period is not complete yet');
    clock.advance(PERIOD_MS);
    assert.equal(await state(cw, 'errors'), 'ALARM');
    assert.equal(await state(cw, 'errors-missing'), 'ALARM');
    const alarm = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['errors'] }))).MetricAlarms![0];
    assert.match(alarm.StateReason!, /^Threshold Crossed: 1 out of the last 1 datapoints \[10 /);

    const published = (sb.world.state.sns as SnsState).published;
    assert.equal(published.length, 1);
    assert.equal(published[0].topicArn, TopicArn);
    const note = JSON.parse(published[0].message);
    assert.deepEqual([note.AlarmName, note.OldStateValue, note.NewStateValue], ['errors', 'INSUFFICIENT_DATA', 'ALARM']);

    // No data in the next period: notBreaching -> OK; missing -> INSUFFICIENT_DATA.
    clock.advance(PERIOD_MS);
    assert.equal(await state(cw, 'errors'), 'OK');
    assert.equal(await state(cw, 'errors-missing'), 'INSUFFICIENT_DATA');
    assert.equal(published.length, 2);
    assert.equal(JSON.parse(published[1].message).NewStateValue, 'OK');

    const history = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: 'errors', HistoryItemType: 'StateUpdate', ScanBy: 'TimestampAscending' }));
    assert.deepEqual(history.AlarmHistoryItems!.map((h) => h.HistorySummary), ['Alarm updated from INSUFFICIENT_DATA to ALARM', 'Alarm updated from ALARM to OK']);

    // SetAlarmState holds until the next evaluation puts the alarm back where its data says.
    await cw.send(new SetAlarmStateCommand({ AlarmName: 'errors', StateValue: 'ALARM', StateReason: 'testing the pager' }));
    assert.equal(await state(cw, 'errors'), 'ALARM');
    clock.advance(PERIOD_MS);
    assert.equal(await state(cw, 'errors'), 'OK');

    // Tags, and the Tagging API's view is in tagging.test.ts; DeleteAlarms refuses unknown names (deletes none).
    const tags = await cw.send(new ListTagsForResourceCommand({ ResourceARN: alarm.AlarmArn }));
    assert.deepEqual(tags.Tags, [{ Key: 'ecs-cwlogs:stack', Value: 'cw-test' }]);
    const missing = await rejection(cw.send(new DeleteAlarmsCommand({ AlarmNames: ['errors', 'nope'] })));
    assert.equal(missing.$metadata.httpStatusCode, 404);
    assert.equal(missing.Code ?? missing.Error?.Code, 'ResourceNotFound');
    assert.equal(await state(cw, 'errors'), 'OK', 'nothing deleted');
    await cw.send(new DeleteAlarmsCommand({ AlarmNames: ['errors', 'errors-missing'] }));
    assert.equal((await cw.send(new DescribeAlarmsCommand({}))).MetricAlarms!.length, 0);
  });
});

test('TreatMissingData: breaching, notBreaching, ignore and missing on a period without data', async () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const { cw } = clients(sb);
    const treatments = ['breaching', 'notBreaching', 'ignore', 'missing'] as const;
    for (const t of treatments) {
      await cw.send(new PutMetricAlarmCommand({ AlarmName: t, Namespace: 'App', MetricName: 'Errors', Statistic: 'Sum', Period: 60, EvaluationPeriods: 1, Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: t }));
    }
    const states = async () => Promise.all(treatments.map((t) => state(cw, t)));
    clock.advance(PERIOD_MS); // a period without data
    assert.deepEqual(await states(), ['ALARM', 'OK', 'INSUFFICIENT_DATA', 'INSUFFICIENT_DATA']);
    emitMetric(sb.world, { region: 'us-east-1', account: '123456789012', namespace: 'App', metricName: 'Errors', dimensions: {}, timestamp: clock.now(), value: 1 });
    clock.advance(PERIOD_MS); // a period with a value under the threshold
    assert.deepEqual(await states(), ['OK', 'OK', 'OK', 'OK']);
    clock.advance(PERIOD_MS); // and one without data again
    assert.deepEqual(await states(), ['ALARM', 'OK', 'OK', 'INSUFFICIENT_DATA'], 'ignore keeps the state it had');
  });
});

test('a 5xx-rate alarm on metric math with DatapointsToAlarm and a p99 alarm', async () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const { cw } = clients(sb);
    const metric = (name: string) => ({ Metric: { Namespace: 'Stack', MetricName: name }, Period: 60, Stat: 'Sum' });
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: '5xx-rate',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        Metrics: [
          { Id: 'requests', MetricStat: metric('Requests'), ReturnData: false },
          { Id: 'errors', MetricStat: metric('5xx'), ReturnData: false },
          { Id: 'rate', Expression: '100*errors/requests', Label: '5xx %', ReturnData: true },
        ],
      }),
    );
    await cw.send(new PutMetricAlarmCommand({ AlarmName: 'p99', Namespace: 'Stack', MetricName: 'Duration', ExtendedStatistic: 'p99', Period: 60, EvaluationPeriods: 1, Threshold: 500, ComparisonOperator: 'GreaterThanThreshold' }));
    const put = (name: string, value: number) => emitMetric(sb.world, { region: 'us-east-1', account: '123456789012', namespace: 'Stack', metricName: name, dimensions: {}, timestamp: clock.now(), value });
    // Period 1: 200 requests, 20 errors (10 %): one breaching datapoint of the 2 needed.
    put('Requests', 200);
    put('5xx', 20);
    for (let i = 1; i <= 100; i++) put('Duration', i * 10); // p99 = 990
    clock.advance(PERIOD_MS);
    assert.equal(await state(cw, '5xx-rate'), 'OK', '1 of 3 datapoints breaching, 2 needed');
    assert.equal(await state(cw, 'p99'), 'ALARM');
    // Period 2: 100 requests, 1 error (1 %): still one breaching.
    put('Requests', 100);
    put('5xx', 1);
    clock.advance(PERIOD_MS);
    assert.equal(await state(cw, '5xx-rate'), 'OK');
    // Period 3: 10 errors out of 100: two of the last three breach.
    put('Requests', 100);
    put('5xx', 10);
    clock.advance(PERIOD_MS);
    assert.equal(await state(cw, '5xx-rate'), 'ALARM');
    // p99 had no data for two periods (missing): INSUFFICIENT_DATA.
    assert.equal(await state(cw, 'p99'), 'INSUFFICIENT_DATA');

    const invalid = await rejection(
      cw.send(new PutMetricAlarmCommand({ AlarmName: 'x', EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', Metrics: [{ Id: 'a', Expression: 'b*2', ReturnData: true }] })),
    );
    assert.equal(invalid.Code ?? invalid.Error?.Code, 'InvalidParameterValue');
    const datapoints = await rejection(
      cw.send(new PutMetricAlarmCommand({ AlarmName: 'x', Namespace: 'n', MetricName: 'm', Statistic: 'Sum', Period: 60, EvaluationPeriods: 1, DatapointsToAlarm: 2, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' })),
    );
    assert.match(datapoints.message, /DatapointsToAlarm/);
  });
});

test('dashboards: validation messages as AWS returns them, get, list, tags, delete', async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const { cw } = clients(sb);
    const body = JSON.stringify({
      widgets: [
        { type: 'metric', x: 0, y: 0, width: 12, height: 6, properties: { region: 'us-east-1', metrics: [['Stack', 'Requests']], stat: 'Sum', period: 60 } },
        { type: 'log', x: 12, y: 0, width: 12, height: 6, properties: { region: 'us-east-1', query: "SOURCE 'g' | stats count(*) by path" } },
      ],
    });
    const put = await cw.send(new PutDashboardCommand({ DashboardName: 'stack-dash', DashboardBody: body, Tags: [{ Key: 'ecs-cwlogs:stack', Value: 'cw' }] }));
    assert.deepEqual(put.DashboardValidationMessages ?? [], []);
    const got = await cw.send(new GetDashboardCommand({ DashboardName: 'stack-dash' }));
    assert.equal(got.DashboardBody, body);
    assert.equal(got.DashboardArn, 'arn:aws:cloudwatch::123456789012:dashboard/stack-dash');

    const err = await rejection(
      cw.send(new PutDashboardCommand({ DashboardName: 'broken', DashboardBody: JSON.stringify({ widgets: [{ type: 'metric', width: 30, properties: { metrics: [] } }, { type: 'pie', properties: {} }] }) })),
    );
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.equal(err.Code ?? err.Error?.Code, 'InvalidParameterInput');
    assert.deepEqual(err.dashboardValidationMessages, [
      { DataPath: '/widgets/0/width', Message: 'Should be <= 24' },
      { DataPath: '/widgets/0/properties', Message: "Should have required property 'region'" },
      { DataPath: '/widgets/1/type', Message: 'Should be equal to one of the allowed values: metric, text, log, alarm, explorer, custom' },
    ]);
    const notJson = await rejection(cw.send(new PutDashboardCommand({ DashboardName: 'broken', DashboardBody: '{widgets' })));
    assert.deepEqual(notJson.dashboardValidationMessages, [{ DataPath: '', Message: 'The field DashboardBody must be a valid JSON object' }]);
    const listed = await cw.send(new ListDashboardsCommand({}));
    assert.deepEqual(listed.DashboardEntries!.map((d) => d.DashboardName), ['stack-dash'], 'an invalid body saves nothing');
    assert.equal(listed.DashboardEntries![0].Size, Buffer.byteLength(body));

    await cw.send(new TagResourceCommand({ ResourceARN: got.DashboardArn, Tags: [{ Key: 'extra', Value: '1' }] }));
    await cw.send(new UntagResourceCommand({ ResourceARN: got.DashboardArn, TagKeys: ['extra'] }));
    assert.deepEqual((await cw.send(new ListTagsForResourceCommand({ ResourceARN: got.DashboardArn }))).Tags, [{ Key: 'ecs-cwlogs:stack', Value: 'cw' }]);
    const unknownTag = await rejection(cw.send(new ListTagsForResourceCommand({ ResourceARN: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:none' })));
    assert.equal(unknownTag.$metadata.httpStatusCode, 404);

    const gone = await rejection(cw.send(new DeleteDashboardsCommand({ DashboardNames: ['stack-dash', 'nope'] })));
    assert.equal(gone.$metadata.httpStatusCode, 404);
    assert.equal((await cw.send(new ListDashboardsCommand({}))).DashboardEntries!.length, 1, 'nothing deleted');
    await cw.send(new DeleteDashboardsCommand({ DashboardNames: ['stack-dash'] }));
    const after = await rejection(cw.send(new GetDashboardCommand({ DashboardName: 'stack-dash' })));
    assert.equal(after.Code ?? after.Error?.Code, 'ResourceNotFound');
  });
});

test('metric data and alarms survive a restart with the world (the store is persisted)', async () => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'cw-state-'));
  const statePath = join(dir, 'state.json');
  try {
    const clock = new ManualClock();
    await withSandbox({ latency: 'fast', clock, statePath }, async (sb) => {
      const { cw } = clients(sb);
      await cw.send(new PutMetricDataCommand({ Namespace: 'P', MetricData: [{ MetricName: 'm', Value: 3, Timestamp: new Date(clock.now()) }] }));
      await cw.send(new PutMetricAlarmCommand({ AlarmName: 'a', Namespace: 'P', MetricName: 'm', Statistic: 'Maximum', Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' }));
    });
    // The saved CloudWatch part is checked at load: a damaged alarm is refused, not served.
    const saved = JSON.parse(readFileSync(statePath, 'utf8')) as { state: { monitoring: { alarms: Record<string, { state: string }> } } };
    assert.equal(checkStateFile(saved, defaultServices), undefined);
    const broken = structuredClone(saved);
    broken.state.monitoring.alarms['us-east-1/a'].state = 'PANIC';
    assert.match(checkStateFile(broken, defaultServices) ?? '', /^monitoring\.alarms\["us-east-1\/a"\]\.state must be one of/);
    clock.advance(PERIOD_MS);
    await withSandbox({ latency: 'fast', clock, statePath }, async (sb) => {
      const { cw } = clients(sb);
      assert.equal(await state(cw, 'a'), 'ALARM');
      const stats = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'P', MetricName: 'm', StartTime: new Date(clock.now() - 3600_000), EndTime: new Date(clock.now() + 60_000), Period: 60, Statistics: ['Maximum'] }));
      assert.equal(stats.Datapoints![0].Maximum, 3);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
