/**
 * Step: the stack's CloudWatch dashboard, ecs-cwlogs-<stack>-<region> (tagged; dashboards are global), whose console URL `up`
 * prints at its end. Its widgets:
 *
 *   requests per minute; 4xx and 5xx per minute     the metric filters' Requests, Status4xx, Status5xx
 *   p50, p90 and p99 request duration               RequestDuration (microseconds), percentiles
 *   httpd error lines per minute                    ErrorLines
 *   top paths                                       Logs Insights: src/logs/queries.ts's `top-paths`
 *   the ECS agent's errors                          Logs Insights over the ecs-agent.log streams
 *   the two alarms                                  their state
 *
 * The body is JSON ("Dashboard Body Structure and Syntax"); PutDashboard replaces a dashboard of
 * that name, so the step compares the parsed body and writes only when it differs. A log widget's
 * query names its log group as `SOURCE '<group>' | ...`; it runs when someone views the dashboard
 * (Logs Insights bills the data it scans).
 */
import type { Context } from '../engine/context.js';
import { deleteOnce } from '../engine/ownership.js';
import { STACK_TAG, ownedBy } from '../core/context.js';
import { diff, normalise } from '../core/diff.js';
import { hasAwsCode } from '../core/errors.js';
import { ABSENT, isAbsent, type Absent, type DeclaredStep, type DepOutputs, type FieldDiff, type Plan } from '../core/step.js';
import { namedQuery } from '../logs/queries.js';
import { partitionOf } from './arns.js';
import { METRICS, MONITORING, alarmNames, dashboardConsoleUrl, dashboardName, keyValueTags, metricNamespace, tagRecord } from './monitoring.js';
import { tagsOf } from './inventory.js';
import { ownedTagsDiff, ownershipConflict } from './ownership.js';

export interface DashboardOutputs {
  dashboardName: string;
  /** The dashboard's page in the CloudWatch console. */
  consoleUrl: string;
}

declare module '../core/step.js' {
  interface StepOutputs {
    dashboard: DashboardOutputs;
  }
}

type Ctx = Pick<Context, 'cloudwatch' | 'tagging' | 'inventory' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'callerArn' | 'report'>;

export interface DashboardObserved {
  name: string;
  arn: string;
  body: string;
  tags: Record<string, string>;
  owned: boolean;
}

export interface DashboardDesired {
  name: string;
  body: string;
  region: string;
  tags: Record<string, string>;
  adopt: boolean;
}

/** The ECS agent's error lines: logfmt `level=error`/`level=crit`, or the older `[ERROR]`/`[CRITICAL]`. */
export const AGENT_ERRORS_QUERY = [
  String.raw`filter @logStream like /-ecs-agent\.log$/`,
  String.raw`filter @message like /level=(error|crit)|\[(ERROR|CRITICAL)\]/`,
  'fields @timestamp, @logStream, @message',
  'sort @timestamp desc',
  'limit 50',
].join('\n| ');

type Widget = Record<string, unknown>;

/** The dashboard's body, as PutDashboard takes it (deterministic: the same settings give the same text). */
export function dashboardBody(stack: string, region: string, logGroup: string): string {
  const ns = metricNamespace(stack);
  const m = (name: string, opts: Record<string, unknown> = {}) => [ns, name, opts];
  const metric = (x: number, y: number, title: string, metrics: unknown[], stat: string, more: Record<string, unknown> = {}): Widget => ({
    type: 'metric',
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, region, view: 'timeSeries', stacked: false, period: 60, stat, metrics, ...more },
  });
  const log = (x: number, y: number, title: string, query: string): Widget => ({
    type: 'log',
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, region, view: 'table', query: `SOURCE '${logGroup.replace(/'/g, "\\'")}' | ${query}` },
  });
  const alarms = alarmNames(stack);
  const widgets: Widget[] = [
    metric(0, 0, 'Requests per minute', [m(METRICS.requests, { label: 'requests' })], 'Sum'),
    metric(12, 0, '4xx and 5xx per minute', [m(METRICS.status4xx, { label: '4xx', color: '#ff7f0e' }), m(METRICS.status5xx, { label: '5xx', color: '#d62728' })], 'Sum'),
    metric(
      0,
      6,
      'Request duration (microseconds): p50, p90, p99',
      [m(METRICS.duration, { stat: 'p50', label: 'p50' }), m(METRICS.duration, { stat: 'p90', label: 'p90' }), m(METRICS.duration, { stat: 'p99', label: 'p99' })],
      'p50',
      { yAxis: { left: { label: 'µs', showUnits: false } } },
    ),
    metric(12, 6, 'httpd error lines per minute', [m(METRICS.errorLines, { label: 'error lines' })], 'Sum'),
    log(0, 12, 'Top paths', namedQuery('top-paths').query),
    log(12, 12, "The ECS agent's errors", AGENT_ERRORS_QUERY),
    {
      type: 'alarm',
      x: 0,
      y: 18,
      width: 24,
      height: 3,
      properties: { title: 'Alarms', alarms: [alarms.rate5xx, alarms.errorLines].map((a) => `arn:\${AWS::Partition}:cloudwatch:${region}:\${AWS::AccountId}:alarm:${a}`) },
    },
  ];
  return JSON.stringify({ widgets });
}

/** The alarm widget names alarms by ARN: the account is known only at run time. */
function withAccount(body: string, partition: string, account: string): string {
  return body.split('${AWS::AccountId}').join(account).split('${AWS::Partition}').join(partition);
}

function parsed(body: string): unknown {
  try {
    return normalise(JSON.parse(body));
  } catch {
    return body;
  }
}

export async function readDashboard(ctx: Pick<Context, 'cloudwatch' | 'stack' | 'tagging' | 'inventory'>, name: string): Promise<DashboardObserved | Absent> {
  try {
    const d = await ctx.cloudwatch.getDashboard({ DashboardName: name });
    const arn = d.DashboardArn ?? '';
    const tags = arn ? await tagsOf(ctx, arn, async () => tagRecord((await ctx.cloudwatch.listTagsForResource({ ResourceARN: arn })).Tags)) : {};
    return { name, arn, body: d.DashboardBody ?? '', tags, owned: ownedBy(tags, ctx.stack) };
  } catch (e) {
    if (hasAwsCode(e, 'ResourceNotFound', 'ResourceNotFoundException')) return ABSENT;
    throw e;
  }
}

function bodyDiffs(o: DashboardObserved, d: DashboardDesired): FieldDiff[] {
  return diff(parsed(o.body), parsed(d.body), 'body').length ? [{ field: 'body', from: '(differs)', to: '(the stack\'s widgets)' }] : [];
}

export const dashboardStep: DeclaredStep<Ctx, DashboardObserved, DashboardDesired, undefined, 'dashboard'> = {
  id: 'dashboard',
  title: 'CloudWatch dashboard',
  dependsOn: ['metric-filters'],
  after: ['alarms'],
  command: {
    summary: 'Create the dashboard: requests, 4xx/5xx, p50/p90/p99 latency, error lines, top paths, the ECS agent\'s errors',
    settings: ['logGroup', 'monitoring'],
    examples: ['ecs-cwlogs dashboard', 'ecs-cwlogs dashboard --delete --yes'],
  },
  ...MONITORING,
  tagged: [{ type: 'cloudwatch:dashboard' }],

  read: (ctx) => readDashboard(ctx, dashboardName(ctx.stack, ctx.config.region)),

  desired: (ctx, _deps: DepOutputs) => ({
    name: dashboardName(ctx.stack, ctx.config.region),
    body: withAccount(dashboardBody(ctx.stack, ctx.config.region, ctx.config.logGroup), partitionOf(ctx.callerArn), ctx.account),
    region: ctx.config.region,
    tags: { ...ctx.tags },
    adopt: ctx.flags.adopt,
  }),

  plan(observed, desired): Plan {
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.name}, 7 widgets` };
    if (!observed.owned && !desired.adopt) return ownershipConflict('Dashboard', desired.name, observed.tags[STACK_TAG], 'dashboard');
    const diffs = [...bodyDiffs(observed, desired), ...ownedTagsDiff(observed.tags, desired.tags)];
    if (diffs.length === 0) return { action: 'noop', summary: desired.name };
    return { action: 'update', summary: [...new Set(diffs.map((d) => d.field.split('.')[0]))].join(', '), diffs };
  },

  async apply(ctx, { observed, desired }) {
    const tags = keyValueTags(desired.tags);
    if (isAbsent(observed) || bodyDiffs(observed, desired).length) {
      const res = await ctx.cloudwatch.putDashboard({ DashboardName: desired.name, DashboardBody: desired.body, Tags: tags });
      const problems = (res.DashboardValidationMessages ?? []).map((m) => `${m.DataPath ?? ''} ${m.Message ?? ''}`.trim());
      if (problems.length) ctx.report(`dashboard ${desired.name}: ${problems.join('; ')}`);
    }
    // Tags given to PutDashboard may be ignored for a dashboard that exists: an adopted one is tagged here.
    if (!isAbsent(observed) && ownedTagsDiff(observed.tags, desired.tags).length && observed.arn) await ctx.cloudwatch.tagResource({ ResourceARN: observed.arn, Tags: tags });
    return outputsOf(desired);
  },

  preview: (_o, desired) => outputsOf(desired),

  describe: (o) => ({ name: o.name, owner: o.owned ? 'this stack' : (o.tags[STACK_TAG] ?? 'not ecs-cwlogs') }),

  ownership: {
    async find(ctx: Ctx) {
      const d = await readDashboard(ctx, dashboardName(ctx.stack, ctx.config.region));
      if (isAbsent(d)) return { ours: [], kept: [] };
      return d.owned ? { ours: [d], kept: [] } : { ours: [], kept: [`dashboard ${d.name} (not tagged as stack ${ctx.stack})`] };
    },
    preview: (d: DashboardObserved) => `dashboard ${d.name}`,
    deleted: (d: DashboardObserved) => `dashboard ${d.name}`,
    delete: (ctx: Ctx, d: DashboardObserved) => deleteOnce(() => ctx.cloudwatch.deleteDashboards({ DashboardNames: [d.name] }), ['ResourceNotFound', 'ResourceNotFoundException', 'DashboardNotFoundError']),
  },
};

function outputsOf(d: DashboardDesired): DashboardOutputs {
  return { dashboardName: d.name, consoleUrl: dashboardConsoleUrl(d.region, d.name) };
}
