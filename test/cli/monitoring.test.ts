/**
 * Monitoring through the real binary against the sandbox (issue 21, item 2; acceptance 2, 3, 4):
 * - `up` creates the metric filters, the alarms, the dashboard (its URL printed), the saved queries
 *   and, with --alarm-email, the topic whose subscription is reported pending; a second `up` makes
 *   0 mutating calls; `--dry-run` makes none either;
 * - `up --no-monitoring` on a monitored stack removes all of it; an `up --no-monitoring` stack has
 *   none of it, and its second `up` writes nothing;
 * - `down` leaves no metric filter, alarm, dashboard, topic or query definition of the stack;
 * - what the user gave (email, thresholds, --no-monitoring) is saved; the defaults are not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAwsClients, type AwsClients } from '../../src/aws/clients.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const IMAGE = 'registry.example/cloudwatchlogs:1';
const EMAIL = 'ops@example.com';

function clients(sb: RunningSandbox): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
}

const up = (url: string, stack: string, ...rest: string[]) => ['up', '--endpoint-url', url, '--region', 'us-east-1', '--stack', stack, '--yes', '--image', IMAGE, '--allow-cidr', '203.0.113.7/32', ...rest];

/** What monitoring the stack has, by kind. */
async function monitoring(aws: AwsClients, stack: string) {
  const filters = ((await aws.logs.describeMetricFilters({ logGroupName: 'ecs' }).catch(() => ({ metricFilters: [] }))).metricFilters ?? []).filter((f) => f.filterName?.startsWith(`ecs-cwlogs-${stack}-`));
  const alarms = (await aws.cloudwatch.describeAlarms({ AlarmNamePrefix: `ecs-cwlogs-${stack}-` })).MetricAlarms ?? [];
  const dashboards = (await aws.cloudwatch.listDashboards({ DashboardNamePrefix: `ecs-cwlogs-${stack}` })).DashboardEntries ?? [];
  const topics = ((await aws.sns.listTopics({})).Topics ?? []).filter((t) => t.TopicArn?.endsWith(`:ecs-cwlogs-${stack}-alarms`));
  const queries = ((await aws.logs.describeQueryDefinitions({ queryDefinitionNamePrefix: `ecs-cwlogs/${stack}/` })).queryDefinitions ?? []).length;
  return { filters: filters.length, alarms: alarms.length, dashboards: dashboards.length, topics: topics.length, queries };
}

const NONE = { filters: 0, alarms: 0, dashboards: 0, topics: 0, queries: 0 };

test('up creates the monitoring (dashboard URL and pending subscription printed); a second up and a dry run write nothing; up --no-monitoring removes it; down leaves none', { timeout: 300_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const dir = tempConfigDir();
    const env = cliEnv(dir);
    const aws = clients(sb);
    const stack = 'monlab';

    const dry = await runCli([...up(sb.url, stack, '--alarm-email', EMAIL), '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(mutatingCalls(sb), [], 'a dry run writes nothing');
    for (const title of ['Metric filters', 'Alarm topic (SNS)', 'CloudWatch alarms', 'CloudWatch dashboard', 'Saved Logs Insights queries']) assert.match(dry.stdout, new RegExp(`would create\\s+${title.replace(/[()]/g, '\\$&')}`));

    const first = await runCli(up(sb.url, stack, '--alarm-email', EMAIL, '--alarm-error-lines', '25'), env);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await monitoring(aws, stack), { filters: 5, alarms: 2, dashboards: 1, topics: 1, queries: 5 });
    // Against an endpoint (not a rehearsal) the console's URL is printed.
    assert.match(first.stdout, /Dashboard:\s+https:\/\/us-east-1\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=us-east-1#dashboards\/dashboard\/ecs-cwlogs-monlab-us-east-1\n/);
    assert.match(first.stdout, /Alarms to:\s+ops@example\.com \(pending confirmation: follow the link SNS emailed/);
    const errorAlarm = (await aws.cloudwatch.describeAlarms({ AlarmNames: ['ecs-cwlogs-monlab-error-lines'] })).MetricAlarms?.[0];
    assert.equal(errorAlarm?.Threshold, 25);

    // Saved: what was given; not the defaults.
    const saved = JSON.stringify(JSON.parse(readFileSync(join(dir, 'stacks', `${stack}.json`), 'utf8')));
    assert.match(saved, /"alarmEmail":"ops@example\.com"/);
    assert.match(saved, /"alarmErrorLines":25/);
    assert.doesNotMatch(saved, /alarm5xxPercent|"monitoring"/);

    // A second up: the saved email and threshold, nothing to write.
    const before = sb.requestLog().length;
    const again = await runCli([...up(sb.url, stack), '--json'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(mutatingCalls(sb, before), [], 'the second up made no mutating call');
    const monitoringReads = sb
      .requestLog()
      .slice(before)
      .map((c) => `${c.service}:${c.operation}`)
      .filter((c) => /^(monitoring|sns):|MetricFilters|QueryDefinitions/.test(c));
    // One read per kind; the alarms', dashboard's and topic's tags come from the run's tag inventory.
    assert.deepEqual(monitoringReads.sort(), ['logs:DescribeMetricFilters', 'logs:DescribeQueryDefinitions', 'monitoring:DescribeAlarms', 'monitoring:GetDashboard', 'sns:GetTopicAttributes', 'sns:ListSubscriptionsByTopic']);
    const doc = JSON.parse(again.stdout) as { summary: { dashboard?: { url?: string }; alarmEmail?: { subscription: string } } };
    assert.equal(doc.summary.alarmEmail?.subscription, 'pending confirmation');
    assert.match(doc.summary.dashboard?.url ?? '', /#dashboards\/dashboard\/ecs-cwlogs-monlab-us-east-1$/);

    // --no-monitoring on a monitored stack: removed (the log group and the lab stay), in words that
    // say monitoring is removed, not that the stack changes shape.
    const offDry = await runCli([...up(sb.url, stack, '--no-monitoring'), '--dry-run'], env);
    assert.equal(offDry.code, 0, offDry.stderr);
    assert.match(offDry.stderr, /the stack's monitoring would be removed \(monitoring is off: --no-monitoring\):\n {2}- /);
    assert.doesNotMatch(offDry.stderr + offDry.stdout, /shape/);
    const off = await runCli(up(sb.url, stack, '--no-monitoring'), env);
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stderr, /Monitoring is off for this stack \(--no-monitoring\): its alarms, dashboard and the rest go:\n {2}- /);
    assert.doesNotMatch(off.stderr + off.stdout, /shape/);
    assert.deepEqual(await monitoring(aws, stack), NONE);
    assert.doesNotMatch(off.stdout, /Dashboard:/);
    const before2 = sb.requestLog().length;
    const quiet = await runCli(up(sb.url, stack), env);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.deepEqual(mutatingCalls(sb, before2), [], 'the saved --no-monitoring: nothing to create, nothing to remove');
    assert.deepEqual(await monitoring(aws, stack), NONE);
    const refused = await runCli(['dashboard', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', stack, '--yes'], env);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /not part of this stack: monitoring is off[\s\S]*--monitoring/);

    // --monitoring again, then down: none of it is left.
    const on = await runCli(up(sb.url, stack, '--monitoring'), env);
    assert.equal(on.code, 0, on.stderr);
    assert.deepEqual(await monitoring(aws, stack), { filters: 5, alarms: 2, dashboards: 1, topics: 1, queries: 5 });
    const down = await runCli(['down', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', stack, '--yes'], env);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await monitoring(aws, stack), NONE);
  });
});

test('up --no-monitoring creates none of it', { timeout: 300_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const r = await runCli(up(sb.url, 'monoff', '--no-monitoring', '--alarm-email', EMAIL), env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await monitoring(clients(sb), 'monoff'), NONE);
    const calls = sb.requestLog().map((c) => `${c.service}:${c.operation}`);
    assert.deepEqual(
      calls.filter((c) => /^(monitoring|sns):|MetricFilter|QueryDefinition/.test(c) && !/^(monitoring|sns):(Describe|Get|List)|logs:Describe/.test(c)),
      [],
      'no monitoring write',
    );
  });
});

test('bad thresholds and addresses exit 2 before any AWS call', async () => {
  const env = cliEnv(tempConfigDir());
  for (const [flag, value, what] of [
    ['--alarm-email', 'not-an-address', /is not an email address/],
    ['--alarm-5xx-percent', '0', /is not a percentage/],
    ['--alarm-5xx-percent', '101', /is not a percentage/],
    ['--alarm-error-lines', '2.5', /is not a number of error lines/],
  ] as const) {
    const r = await runCli(['up', '--endpoint-url', 'http://127.0.0.1:9', '--region', 'us-east-1', '--stack', 'monbad', '--yes', flag, value], env);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, what);
  }
});
