/**
 * The monitoring steps (metric-filters, alarm-topic, alarms, dashboard, query-definitions) against
 * the sandbox, through the engine and real SDK clients: what they create, that a second run makes
 * no mutating call, that a dry run writes nothing, that destroy leaves none of them, that one of
 * our names not ours is a conflict with 0 writes, and that the filters' patterns count the lab's
 * own lines (access lines with %D last, error lines) as CloudWatch metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySteps, destroySteps } from '../../src/engine/engine.js';
import { ConflictError } from '../../src/core/errors.js';
import { STACK_TAG } from '../../src/core/context.js';
import { retiredStepsPresent, STEPS, stepsFor } from '../../src/steps/index.js';
import { readMetricFilters } from '../../src/steps/metric-filters.js';
import { readQueryDefinitions } from '../../src/steps/query-definitions.js';
import { alarmsStep } from '../../src/steps/alarms.js';
import { alarmNames, dashboardName, metricNamespace, tagRecord, topicName } from '../../src/steps/monitoring.js';
import type { StepId } from '../../src/core/step.js';
import { mutatingCalls, sandboxContext, withSandbox } from '../helpers/sandbox-context.js';

const MONITORING: StepId[] = ['log-group', 'metric-filters', 'alarm-topic', 'alarms', 'dashboard', 'query-definitions'];
const EMAIL = 'ops@example.com';

test('monitoring: creates filters, topic + pending email, tagged alarms, dashboard, saved queries; a second run and a dry run write nothing; destroy leaves none', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb, { stack: 'mon', config: { alarmEmail: EMAIL } });
    const dry = await applySteps(STEPS, ctx, { targets: MONITORING, dryRun: true });
    assert.deepEqual(mutatingCalls(sb), [], 'a dry run writes nothing');
    assert.deepEqual(
      dry.steps.map((s) => [s.id, s.action]),
      MONITORING.map((id) => [id, 'create']),
    );

    const report = await applySteps(STEPS, ctx, { targets: MONITORING });
    assert.ok(report.ok);
    const filters = await readMetricFilters(ctx, 'ecs');
    assert.deepEqual(filters.map((f) => f.filterName).sort(), ['ecs-cwlogs-mon-4xx', 'ecs-cwlogs-mon-5xx', 'ecs-cwlogs-mon-duration', 'ecs-cwlogs-mon-error-lines', 'ecs-cwlogs-mon-requests']);
    const duration = filters.find((f) => f.filterName === 'ecs-cwlogs-mon-duration')!.metricTransformations![0]!;
    assert.deepEqual([duration.metricNamespace, duration.metricName, duration.metricValue, duration.unit], [metricNamespace('mon'), 'RequestDuration', '$duration', 'Microseconds']);

    const topic = report.outputs['alarm-topic']!;
    assert.equal(topic.subscription, 'pending confirmation');
    assert.equal(topic.email, EMAIL);
    assert.ok(topic.topicArn?.endsWith(`:${topicName('mon')}`));
    assert.equal(tagRecord((await ctx.sns.listTagsForResource({ ResourceArn: topic.topicArn })).Tags)[STACK_TAG], 'mon');

    const names = alarmNames('mon');
    const alarms = (await ctx.cloudwatch.describeAlarms({ AlarmNames: [names.rate5xx, names.errorLines] })).MetricAlarms ?? [];
    assert.equal(alarms.length, 2);
    for (const a of alarms) {
      assert.deepEqual(a.AlarmActions, [topic.topicArn], `${a.AlarmName} notifies the topic`);
      assert.equal(tagRecord((await ctx.cloudwatch.listTagsForResource({ ResourceARN: a.AlarmArn })).Tags)[STACK_TAG], 'mon');
    }
    const rate = alarms.find((a) => a.AlarmName === names.rate5xx)!;
    assert.equal(rate.Threshold, 5);
    assert.ok(rate.Metrics?.some((m) => m.Expression === '100 * errors5xx / requests'));
    assert.equal(alarms.find((a) => a.AlarmName === names.errorLines)!.Threshold, 10);

    const dash = await ctx.cloudwatch.getDashboard({ DashboardName: dashboardName('mon', 'us-east-1') });
    const widgets = (JSON.parse(dash.DashboardBody!) as { widgets: { type: string; properties: { title?: string; query?: string } }[] }).widgets;
    assert.deepEqual(
      widgets.map((w) => w.properties.title),
      ['Requests per minute', '4xx and 5xx per minute', 'Request duration (microseconds): p50, p90, p99', 'httpd error lines per minute', 'Top paths', "The ECS agent's errors", 'Alarms'],
    );
    assert.match(widgets.find((w) => w.properties.title === 'Top paths')!.properties.query!, /^SOURCE 'ecs' \| filter @logStream like/);
    assert.equal(tagRecord((await ctx.cloudwatch.listTagsForResource({ ResourceARN: dash.DashboardArn })).Tags)[STACK_TAG], 'mon');
    assert.match(report.outputs.dashboard!.consoleUrl, /^https:\/\/us-east-1\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=us-east-1#dashboards\/dashboard\/ecs-cwlogs-mon-us-east-1$/);

    const queries = await readQueryDefinitions(ctx);
    assert.deepEqual(queries.map((q) => q.name).sort(), ['errors', 'latency', 'slow', 'status', 'top-paths'].map((q) => `ecs-cwlogs/mon/${q}`));
    assert.ok(queries.every((q) => q.logGroupNames?.join() === 'ecs'));

    // A second run: nothing to change, no mutating call; the pending subscription is said.
    const since = sb.requestLog().length;
    const again = await applySteps(STEPS, await sandboxContext(sb, { stack: 'mon', config: { alarmEmail: EMAIL } }), { targets: MONITORING });
    assert.deepEqual(mutatingCalls(sb, since), []);
    assert.ok(again.steps.every((s) => s.action === 'noop'), JSON.stringify(again.steps.map((s) => [s.id, s.action])));
    const topicPlan = again.steps.find((s) => s.id === 'alarm-topic')!.plan!;
    assert.ok(topicPlan.action === 'noop' && /pending confirmation/.test(topicPlan.note ?? ''));
    assert.equal(again.outputs['alarm-topic']!.subscription, 'pending confirmation');

    // A changed threshold: one PutMetricAlarm.
    const since2 = sb.requestLog().length;
    await applySteps(STEPS, await sandboxContext(sb, { stack: 'mon', config: { alarmEmail: EMAIL, alarm5xxPercent: 2 } }), { targets: ['alarms'] });
    assert.deepEqual(mutatingCalls(sb, since2), ['monitoring:PutMetricAlarm'], 'the 5xx alarm only; the error-lines alarm keeps its topic');

    // Destroy (the log group kept without --delete-logs): none of the monitoring is left.
    const since3 = sb.requestLog().length;
    const gone = await destroySteps(STEPS, ctx, { targets: MONITORING });
    assert.ok(gone.ok);
    assert.deepEqual(mutatingCalls(sb, since3).filter((c) => c === 'monitoring:DeleteAlarms'), ['monitoring:DeleteAlarms'], 'both alarms in one DeleteAlarms');
    assert.deepEqual([...(gone.steps.find((s) => s.id === 'alarms')!.deleted ?? [])].sort(), [`alarm ${names.rate5xx}`, `alarm ${names.errorLines}`].sort());
    assert.deepEqual(await readMetricFilters(ctx, 'ecs'), []);
    assert.deepEqual(await readQueryDefinitions(ctx), []);
    assert.deepEqual((await ctx.cloudwatch.describeAlarms({ AlarmNamePrefix: 'ecs-cwlogs-mon-' })).MetricAlarms, []);
    assert.deepEqual((await ctx.cloudwatch.listDashboards({ DashboardNamePrefix: 'ecs-cwlogs-mon' })).DashboardEntries ?? [], []);
    assert.ok(!((await ctx.sns.listTopics({})).Topics ?? []).some((t) => t.TopicArn === topic.topicArn));
  });
});

test('monitoring: one alarm gone between the confirmation and the delete: DeleteAlarms refuses the pair, the names are read again and the other is deleted', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb, { stack: 'half' });
    await applySteps(STEPS, ctx, { targets: MONITORING });
    const names = alarmNames('half');
    const own = alarmsStep.ownership!;
    const found = await own.find(ctx);
    assert.equal(found.ours.length, 2);
    await ctx.cloudwatch.deleteAlarms({ AlarmNames: [names.rate5xx] });
    const since = sb.requestLog().length;
    const deleted = await own.deleteAll!(ctx, [...found.ours]);
    assert.deepEqual(deleted.map((a) => a.alarm.AlarmName), [names.errorLines], 'only what this delete removed is listed');
    assert.deepEqual(
      sb.requestLog().slice(since).map((r) => `${r.service}:${r.operation}`),
      ['monitoring:DeleteAlarms', 'monitoring:DescribeAlarms', 'monitoring:DeleteAlarms'],
    );
    assert.deepEqual((await ctx.cloudwatch.describeAlarms({ AlarmNamePrefix: 'ecs-cwlogs-half-' })).MetricAlarms, []);
  });
});

test('monitoring: without --alarm-email no topic, and the alarms notify no one', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb, { stack: 'quiet' });
    const report = await applySteps(STEPS, ctx, { targets: MONITORING });
    assert.deepEqual(report.outputs['alarm-topic'], {});
    assert.equal(report.steps.find((s) => s.id === 'alarm-topic')!.action, 'noop');
    assert.deepEqual(mutatingCalls(sb).filter((c) => c.startsWith('sns:')), []);
    const alarms = (await ctx.cloudwatch.describeAlarms({ AlarmNamePrefix: 'ecs-cwlogs-quiet-' })).MetricAlarms ?? [];
    assert.equal(alarms.length, 2);
    assert.ok(alarms.every((a) => (a.AlarmActions ?? []).length === 0));
  });
});

test('monitoring: an alarm of our name that is not ours is a conflict, with 0 writes', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb, { stack: 'foreign' });
    await applySteps(STEPS, ctx, { targets: ['log-group', 'metric-filters'] });
    await ctx.cloudwatch.putMetricAlarm({ AlarmName: alarmNames('foreign').errorLines, Namespace: 'x', MetricName: 'y', Statistic: 'Sum', Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' });
    const since = sb.requestLog().length;
    await assert.rejects(applySteps(STEPS, ctx, { targets: ['alarms'] }), (e: unknown) => e instanceof ConflictError && /--adopt/.test(e.message));
    assert.deepEqual(mutatingCalls(sb, since), []);
    // destroy keeps it, and says so
    const gone = await destroySteps(STEPS, ctx, { targets: ['alarms'] });
    assert.ok(gone.steps.some((s) => (s.kept ?? []).some((k) => /not tagged as stack foreign/.test(k))));
    assert.equal(((await ctx.cloudwatch.describeAlarms({ AlarmNames: [alarmNames('foreign').errorLines] })).MetricAlarms ?? []).length, 1);
  });
});

test("monitoring: the filters count the lab's access and error lines, and measure %D in microseconds", async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb, { stack: 'count' });
    await applySteps(STEPS, ctx, { targets: ['log-group', 'metric-filters'] });
    const stream = 'i-0abc-ip-10-0-0-5-10.0.0.5-httpd-access.log';
    const errors = 'i-0abc-ip-10-0-0-5-10.0.0.5-httpd-error.log';
    const agent = 'i-0abc-ip-10-0-0-5-10.0.0.5-ecs-agent.log';
    for (const s of [stream, errors, agent]) await ctx.logs.createLogStream({ logGroupName: 'ecs', logStreamName: s });
    const now = Date.now();
    const access = (status: number, us: number, i: number) =>
      `2026-12-07T18:15:14.123456+00:00 ip-10-0-0-5 httpd: ip-10-0-0-5 10.0.0.9 - - [07/Dec/2026:18:15:14 +0000] "GET /p${i}?q=\\"x y\\" HTTP/1.1" ${status} ${status === 501 ? '-' : 2048} "-" "curl/8.5.0 (x; y)" ${us}`;
    const lines = [access(200, 1000, 0), access(200, 3000, 1), access(404, 500, 2), access(501, 200, 3), access(503, 300, 4)];
    await ctx.logs.putLogEvents({ logGroupName: 'ecs', logStreamName: stream, logEvents: lines.map((message, i) => ({ timestamp: now + i, message })) });
    await ctx.logs.putLogEvents({
      logGroupName: 'ecs',
      logStreamName: errors,
      logEvents: [
        { timestamp: now, message: '2026-12-07T18:15:15.000001+00:00 ip-10-0-0-5 httpd: ip-10-0-0-5 [Mon Dec 07 18:15:15.000123 2026] [authz_core:error] [pid 12] [client 10.0.0.9:51234] AH01630: client denied by server configuration: /usr/local/apache2/htdocs/.ht' },
        { timestamp: now + 1, message: '2026-12-07T18:15:16.000001+00:00 ip-10-0-0-5 httpd: ip-10-0-0-5 [Mon Dec 07 18:15:16.000123 2026] [core:info] [pid 13] [client 10.0.0.9:51235] AH00128: File does not exist: /usr/local/apache2/htdocs/x' },
      ],
    });
    await ctx.logs.putLogEvents({ logGroupName: 'ecs', logStreamName: agent, logEvents: [{ timestamp: now, message: 'level=error time=2026-12-07T18:15:14Z msg="Unable to poll" module=x a b c d e f' }] });
    const stat = async (metric: string, statistic: 'Sum' | 'Maximum' | 'Minimum') => {
      const r = await ctx.cloudwatch.getMetricStatistics({ Namespace: metricNamespace('count'), MetricName: metric, StartTime: new Date(now - 3_600_000), EndTime: new Date(now + 3_600_000), Period: 3600 * 2, Statistics: [statistic] });
      return (r.Datapoints ?? []).reduce((t, d) => t + (d[statistic] ?? 0), 0);
    };
    assert.equal(await stat('Requests', 'Sum'), 5);
    assert.equal(await stat('Status4xx', 'Sum'), 1);
    assert.equal(await stat('Status5xx', 'Sum'), 2);
    assert.equal(await stat('ErrorLines', 'Sum'), 2);
    assert.equal(await stat('RequestDuration', 'Maximum'), 3000);
    assert.equal(await stat('RequestDuration', 'Minimum'), 200);
  });
});

test('--no-monitoring retires the monitoring steps; which have something to remove is judged from the tagged alarms, dashboard and topic, and the untaggable ones are asked', async () => {
  const found = async (monitoring: boolean, ...arns: string[]) => {
    const tagging = { getResources: async () => ({ ResourceTagMappingList: arns.map((ResourceARN) => ({ ResourceARN, Tags: [] })) }) } as unknown as Parameters<typeof retiredStepsPresent>[0]['tagging'];
    return retiredStepsPresent({ tagging, stack: 'mon' }, { instances: 1, loadBalancer: false, monitoring });
  };
  assert.deepEqual(await found(true), []);
  assert.ok(!stepsFor({ instances: 1, loadBalancer: false, monitoring: false }).some((id) => MONITORING.slice(1).includes(id)));
  assert.deepEqual(await found(false), ['metric-filters', 'query-definitions'], 'filters and query definitions cannot be tagged: always asked (one read each)');
  assert.deepEqual((await found(false, 'arn:aws:cloudwatch:us-east-1:1:alarm:ecs-cwlogs-mon-error-lines')).sort(), ['alarm-topic', 'alarms', 'dashboard', 'metric-filters', 'query-definitions'], 'one shown, the facet is asked');
  assert.deepEqual((await found(false, 'arn:aws:sns:us-east-1:1:ecs-cwlogs-mon-alarms')).sort(), ['alarm-topic', 'alarms', 'dashboard', 'metric-filters', 'query-definitions'], 'a topic is shown by its service ("sns")');
});

test('monitoring: 200 requests with 20 answered 501 put the 5xx-rate alarm in ALARM within its scaled period (10 % > 5 %); the error-lines alarm stays OK', async () => {
  await withSandbox({}, async (sb) => {
    const ctx = await sandboxContext(sb, { stack: 'alarm' });
    await applySteps(STEPS, ctx, { targets: MONITORING });
    const stream = 'i-0abc-ip-10-0-0-5-10.0.0.5-httpd-access.log';
    await ctx.logs.createLogStream({ logGroupName: 'ecs', logStreamName: stream });
    const line = (i: number) => `2026-12-07T18:15:14.123456+00:00 ip-10-0-0-5 httpd: ip-10-0-0-5 10.0.0.9 - - [07/Dec/2026:18:15:14 +0000] "${i % 10 === 0 ? 'BREW' : 'GET'} /p${i} HTTP/1.1" ${i % 10 === 0 ? 501 : 200} 45 "-" "curl/8.5.0" ${900 + i}`;
    const now = Date.now();
    await ctx.logs.putLogEvents({ logGroupName: 'ecs', logStreamName: stream, logEvents: Array.from({ length: 200 }, (_, i) => ({ timestamp: now + i, message: line(i) })) });
    const names = alarmNames('alarm');
    const t0 = Date.now();
    let state: string | undefined;
    let errors: string | undefined;
    // 'fast' scales a 5-minute period to 2.25 s: wait a few periods at most.
    while (Date.now() - t0 < 20_000) {
      const alarms = (await ctx.cloudwatch.describeAlarms({ AlarmNames: [names.rate5xx, names.errorLines] })).MetricAlarms ?? [];
      state = alarms.find((a) => a.AlarmName === names.rate5xx)?.StateValue;
      errors = alarms.find((a) => a.AlarmName === names.errorLines)?.StateValue;
      if (state === 'ALARM') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`# the 5xx-rate alarm: ${state} after ${Date.now() - t0} ms of wall time`);
    assert.equal(state, 'ALARM');
    assert.notEqual(errors, 'ALARM');
  });
});
