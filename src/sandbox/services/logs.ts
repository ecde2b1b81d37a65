/**
 * CloudWatch Logs (JSON 1.1, regional): log groups with retention and tags, log streams, events,
 * metric filters, Logs Insights queries and query definitions. The operations live in logs/
 * (groups.ts: groups, streams, tags; events.ts: events; metric-filters.ts; insights.ts: queries;
 * query-definitions.ts), each typed with the SDK's request and response types; the records' types
 * come from their persisted shapes (logs/records.ts).
 *
 * Events are kept per stream (the newest MAX_EVENTS_PER_STREAM) so GetLogEvents, FilterLogEvents
 * and queries can read back what was put. Filter patterns (FilterLogEvents, metric filters,
 * TestMetricFilter) are AWS's: terms, space-delimited fields with conditions, and JSON
 * (../insights/filter-pattern.ts).
 */
import type { ServiceModule } from '../types.js';
import { eventOperations } from './logs/events.js';
import { groupOperations } from './logs/groups.js';
import { insightsOperations } from './logs/insights.js';
import { metricFilterOperations } from './logs/metric-filters.js';
import { queryDefinitionOperations } from './logs/query-definitions.js';
import type { LogsState } from './logs/records.js';

export { RETENTION_DAYS } from './logs/common.js';
export type { LogsState } from './logs/records.js';

export const logs: ServiceModule = {
  name: 'logs',
  protocol: 'json',
  targetPrefix: 'Logs_20140328',
  initState: (): LogsState => ({ groups: {}, seq: 0 }),
  operations: { ...groupOperations, ...eventOperations, ...metricFilterOperations, ...insightsOperations, ...queryDefinitionOperations },
};
