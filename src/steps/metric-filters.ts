/**
 * Step: the metric filters on the stack's log group that turn httpd's lines into metrics, in the
 * namespace ecs-cwlogs/<stack> (docs/log-format.md gives the patterns field by field):
 *
 *   Requests, Status4xx, Status5xx   access lines (all, 4xx, 5xx): 1 each, 0 for any other event
 *   RequestDuration                  access lines: the value of %D, unit Microseconds (no default)
 *   ErrorLines                       httpd's error lines: 1 each, 0 for any other event
 *
 * A metric filter applies to every stream of its log group, so the patterns themselves tell an
 * access line (14 fields, a numeric status and %D) from an error line (`[pid N]` in 7th place) and
 * from the ECS agent's lines. Metric filters cannot be tagged: the stack's are its exact names,
 * ecs-cwlogs-<stack>-requests, -4xx, -5xx, -error-lines and -duration, and no other filter of the
 * log group is read, changed or deleted.
 */
import type { MetricFilter, MetricTransformation } from '@aws-sdk/client-cloudwatch-logs';
import type { Context } from '../engine/context.js';
import { deleteOnce } from '../engine/ownership.js';
import { diff, normalise } from '../core/diff.js';
import { hasAwsCode } from '../core/errors.js';
import { ABSENT, isAbsent, type Absent, type DeclaredStep, type FieldDiff, type Plan } from '../core/step.js';
import { METRICS, MONITORING, metricFilterName, metricNamespace, type MetricKey } from './monitoring.js';

/** The access line's 14 fields (rsyslog's 3, then httpd's LogFormat), the status a number and %D too. */
const ACCESS_FIELDS = (status: string) => `[time, host, tag, vhost, client, ident, user, timestamp, request, ${status}, bytes, referer, agent, duration >= 0]`;
export const ACCESS_PATTERN = ACCESS_FIELDS('status >= 100');
/** An error line: rsyslog's 3 fields, %v, [%t], [%m:%l], then [pid %P] (an access line has %u there). */
export const ERROR_PATTERN = '[time, host, tag, vhost, timestamp, level, pid = "pid *", ...]';

export interface MetricFilterSpec {
  name: string;
  pattern: string;
  transformation: MetricTransformation;
}

export interface MetricFiltersOutputs {
  namespace: string;
  /** The metric names by what they count. */
  metrics: Record<MetricKey, string>;
  filters: string[];
}

declare module '../core/step.js' {
  interface StepOutputs {
    'metric-filters': MetricFiltersOutputs;
  }
}

type Ctx = Pick<Context, 'logs' | 'config' | 'stack' | 'flags' | 'report'>;

export interface MetricFiltersObserved {
  logGroup: string;
  filters: MetricFilter[];
}

export interface MetricFiltersDesired {
  logGroup: string;
  namespace: string;
  filters: MetricFilterSpec[];
}

/** The five filters of a stack. */
export function metricFilterSpecs(stack: string): MetricFilterSpec[] {
  const ns = metricNamespace(stack);
  const count = (key: MetricKey, pattern: string): MetricFilterSpec => ({
    name: metricFilterName(stack, key),
    pattern,
    transformation: { metricName: METRICS[key], metricNamespace: ns, metricValue: '1', defaultValue: 0, unit: 'Count' },
  });
  return [
    count('requests', ACCESS_PATTERN),
    count('status4xx', ACCESS_FIELDS('status = 4*')),
    count('status5xx', ACCESS_FIELDS('status = 5*')),
    count('errorLines', ERROR_PATTERN),
    { name: metricFilterName(stack, 'duration'), pattern: ACCESS_PATTERN, transformation: { metricName: METRICS.duration, metricNamespace: ns, metricValue: '$duration', unit: 'Microseconds' } },
  ];
}

const names = (stack: string): Set<string> => new Set(metricFilterSpecs(stack).map((f) => f.name));

/** The stack's filters on a log group (by exact name); none when the group does not exist. */
export async function readMetricFilters(ctx: Pick<Context, 'logs' | 'stack'>, logGroup: string): Promise<MetricFilter[]> {
  const ours = names(ctx.stack);
  const found: MetricFilter[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const res = await ctx.logs.describeMetricFilters({ logGroupName: logGroup, filterNamePrefix: `ecs-cwlogs-${ctx.stack}-`, nextToken });
      found.push(...(res.metricFilters ?? []).filter((f) => f.filterName !== undefined && ours.has(f.filterName)));
      nextToken = res.nextToken;
    } while (nextToken);
  } catch (e) {
    if (hasAwsCode(e, 'ResourceNotFoundException')) return [];
    throw e;
  }
  return found;
}

/** What a filter is, in a form both sides compare in (AWS may omit what is empty). */
function comparable(pattern: string | undefined, t: MetricTransformation | undefined): unknown {
  return normalise({ pattern: pattern ?? '', name: t?.metricName, namespace: t?.metricNamespace, value: t?.metricValue, default: t?.defaultValue, unit: t?.unit ?? 'None', dimensions: t?.dimensions });
}

function changed(observed: MetricFiltersObserved | Absent, desired: MetricFiltersDesired): { put: MetricFilterSpec[]; diffs: FieldDiff[] } {
  const have = new Map((isAbsent(observed) ? [] : observed.filters).map((f) => [f.filterName!, f]));
  const put: MetricFilterSpec[] = [];
  const diffs: FieldDiff[] = [];
  for (const f of desired.filters) {
    const o = have.get(f.name);
    const d = diff(o ? comparable(o.filterPattern, o.metricTransformations?.[0]) : undefined, comparable(f.pattern, f.transformation), f.name);
    if (d.length || (o?.metricTransformations?.length ?? 1) !== 1) {
      put.push(f);
      diffs.push(...(o ? d : [{ field: f.name, from: undefined, to: f.pattern }]));
    }
  }
  return { put, diffs };
}

export const metricFiltersStep: DeclaredStep<Ctx, MetricFiltersObserved, MetricFiltersDesired, undefined, 'metric-filters'> = {
  id: 'metric-filters',
  title: 'Metric filters',
  dependsOn: ['log-group'],
  command: {
    summary: 'Create the metric filters that count requests, 4xx, 5xx and error lines and measure request duration (%D)',
    settings: ['logGroup', 'monitoring'],
    examples: ['ecs-cwlogs metric-filters', 'ecs-cwlogs metric-filters --dry-run', 'ecs-cwlogs metric-filters --delete --yes'],
    notes: 'Metric filters cannot be tagged: the stack\'s are named ecs-cwlogs-<stack>-<metric>, and only those names are touched.',
  },
  ...MONITORING,
  tagged: [],

  async read(ctx) {
    const filters = await readMetricFilters(ctx, ctx.config.logGroup);
    return filters.length ? { logGroup: ctx.config.logGroup, filters } : ABSENT;
  },

  desired: (ctx) => ({ logGroup: ctx.config.logGroup, namespace: metricNamespace(ctx.stack), filters: metricFilterSpecs(ctx.stack) }),

  plan(observed, desired): Plan {
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.filters.length} filters on ${desired.logGroup}, namespace ${desired.namespace}` };
    const { put, diffs } = changed(observed, desired);
    if (put.length === 0) return { action: 'noop', summary: `${desired.filters.length} filters, namespace ${desired.namespace}` };
    return { action: 'update', summary: put.map((f) => f.name).join(', '), diffs };
  },

  async apply(ctx, { observed, desired }) {
    // PutMetricFilter creates or replaces a filter of that name: only the missing or different ones.
    for (const f of changed(observed, desired).put) {
      await ctx.logs.putMetricFilter({ logGroupName: desired.logGroup, filterName: f.name, filterPattern: f.pattern, metricTransformations: [f.transformation] });
    }
    return outputsOf(desired);
  },

  preview: (_o, desired) => outputsOf(desired),

  describe: (o) => ({ logGroup: o.logGroup, filters: String(o.filters.length), namespace: o.filters[0]?.metricTransformations?.[0]?.metricNamespace ?? '' }),

  ownership: {
    find: async (ctx: Ctx) => ({ ours: (await readMetricFilters(ctx, ctx.config.logGroup)).map((f) => ({ logGroup: ctx.config.logGroup, name: f.filterName! })), kept: [] }),
    preview: (f: { logGroup: string; name: string }) => `metric filter ${f.name} on log group ${f.logGroup}`,
    deleted: (f: { logGroup: string; name: string }) => `metric filter ${f.name}`,
    delete: (ctx: Ctx, f: { logGroup: string; name: string }) => deleteOnce(() => ctx.logs.deleteMetricFilter({ logGroupName: f.logGroup, filterName: f.name }), ['ResourceNotFoundException']),
  },
};

function outputsOf(d: MetricFiltersDesired): MetricFiltersOutputs {
  return { namespace: d.namespace, metrics: { ...METRICS }, filters: d.filters.map((f) => f.name) };
}
