/**
 * What the monitoring steps share (metric-filters.ts, alarm-topic.ts, alarms.ts, dashboard.ts,
 * query-definitions.ts): their names, all derived from the stack's name (never saved), the metric
 * namespace, and their declaration (every shape, the `monitoring` facet: --no-monitoring leaves
 * them out and removes what they left).
 *
 * Ownership: alarms, the dashboard and the topic carry the stack tag. Metric filters and query
 * definitions cannot be tagged (PutMetricFilter and PutQueryDefinition take no tags): they are the
 * stack's by their exact names, `ecs-cwlogs-<stack>-<metric>` on the stack's log group and
 * `ecs-cwlogs/<stack>/<query>`, and only those exact names are ever changed or deleted.
 */
import type { Facet, Shape } from '../core/step.js';

export const MONITORING: { readonly shapes: readonly Shape[]; readonly facet: Facet } = { shapes: ['single', 'group'], facet: 'monitoring' };

/** The namespace of the stack's metrics. */
export function metricNamespace(stack: string): string {
  return `ecs-cwlogs/${stack}`;
}

/** The prefix of every CloudWatch name of the stack (alarms, metric filters, topic). */
export function monitoringPrefix(stack: string): string {
  return `ecs-cwlogs-${stack}-`;
}

export const METRICS = {
  requests: 'Requests',
  status4xx: 'Status4xx',
  status5xx: 'Status5xx',
  errorLines: 'ErrorLines',
  duration: 'RequestDuration',
} as const;
export type MetricKey = keyof typeof METRICS;

/** A metric filter's name: ecs-cwlogs-<stack>-requests, -4xx, -5xx, -error-lines, -duration. */
export function metricFilterName(stack: string, key: MetricKey): string {
  const suffix: Record<MetricKey, string> = { requests: 'requests', status4xx: '4xx', status5xx: '5xx', errorLines: 'error-lines', duration: 'duration' };
  return `${monitoringPrefix(stack)}${suffix[key]}`;
}

export function alarmNames(stack: string): { rate5xx: string; errorLines: string } {
  return { rate5xx: `${monitoringPrefix(stack)}5xx-rate`, errorLines: `${monitoringPrefix(stack)}error-lines` };
}

export function topicName(stack: string): string {
  return `${monitoringPrefix(stack)}alarms`;
}

/**
 * Dashboards are global to the account (their ARN has no region): the name carries the region, so
 * one stack in two regions has two dashboards, and `down` in one leaves the other's. Names are
 * letters, digits, "-" and "_": a stack name and a region fit.
 */
export function dashboardName(stack: string, region: string): string {
  return `ecs-cwlogs-${stack}-${region}`;
}

/** The dashboard's page in the CloudWatch console. */
export function dashboardConsoleUrl(region: string, name: string): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${encodeURIComponent(name)}`;
}

/** "Tags" as CloudWatch and SNS take them. */
export function keyValueTags(tags: Readonly<Record<string, string>>): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/** { Key, Value }[] back to a record. */
export function tagRecord(tags: readonly { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key!, t.Value ?? '']));
}
