/**
 * CloudWatch Logs' state (world.state.logs): each record declared once, as the shape a saved state
 * file is checked against (../../shape.ts), with its TypeScript type inferred from that shape.
 */
import { arrayOf, bool, int, num, object, oneOf, optional, recordOf, str, type Infer } from '../../shape.js';
import type { World } from '../../types.js';

export const logEventShape = object({
  timestamp: num,
  message: str,
  ingestionTime: num,
  /** Position in the whole log group's ingestion order, for stable eventIds and sorting. */
  seq: int,
});
export type LogEvent = Infer<typeof logEventShape>;

export const logStreamShape = object({
  logStreamName: str,
  creationTime: num,
  firstEventTimestamp: optional(num),
  lastEventTimestamp: optional(num),
  lastIngestionTime: optional(num),
  storedBytes: num,
  events: arrayOf(logEventShape),
});
export type LogStreamRecord = Infer<typeof logStreamShape>;

/** MetricTransformation.unit (StandardUnit). */
export const STANDARD_UNITS = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second',
  'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second',
  'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
] as const;

export const metricTransformationShape = object({
  metricName: str,
  metricNamespace: str,
  metricValue: str,
  defaultValue: optional(num),
  dimensions: optional(recordOf(str)),
  unit: optional(oneOf(...STANDARD_UNITS)),
});
export type MetricTransformationRecord = Infer<typeof metricTransformationShape>;

/** PutMetricFilter: one per filterName in its log group (metric-filters.ts). */
export const metricFilterShape = object({
  filterName: str,
  filterPattern: str,
  metricTransformations: arrayOf(metricTransformationShape),
  creationTime: num,
  applyOnTransformedLogs: optional(bool),
});
export type MetricFilterRecord = Infer<typeof metricFilterShape>;

export const logGroupShape = object({
  logGroupName: str,
  region: str,
  creationTime: num,
  retentionInDays: optional(int),
  kmsKeyId: optional(str),
  tags: recordOf(str),
  streams: recordOf(logStreamShape),
  /** By filterName (absent in state files saved before metric filters existed). */
  metricFilters: optional(recordOf(metricFilterShape)),
});
export type LogGroupRecord = Infer<typeof logGroupShape>;

export const QUERY_STATUS = ['Scheduled', 'Running', 'Complete', 'Failed', 'Cancelled', 'Timeout', 'Unknown'] as const;

const resultFieldShape = object({ field: str, value: str });

/** A Logs Insights query (StartQuery): answered when started, shown as its phases pass (queries.ts). */
export const queryShape = object({
  queryId: str,
  region: str,
  queryString: str,
  logGroupNames: arrayOf(str),
  /** StartQuery's range, in seconds (inclusive). */
  startTime: num,
  endTime: num,
  createTime: num,
  /** When the query leaves Scheduled and reaches Complete (ms on the sandbox clock). */
  runningAt: num,
  completeAt: num,
  /** Set by StopQuery. */
  cancelledAt: optional(num),
  results: arrayOf(arrayOf(resultFieldShape)),
  statistics: object({ recordsMatched: num, recordsScanned: num, bytesScanned: num }),
});
export type QueryRecord = Infer<typeof queryShape>;
export type QueryStatusName = (typeof QUERY_STATUS)[number];

/** PutQueryDefinition (query-definitions.ts). Not taggable in AWS. */
export const queryDefinitionShape = object({
  queryDefinitionId: str,
  region: str,
  name: str,
  queryString: str,
  logGroupNames: arrayOf(str),
  lastModified: num,
});
export type QueryDefinitionRecord = Infer<typeof queryDefinitionShape>;

export const logsStateShape = object({
  /** By `${region}|${logGroupName}` (names may contain '/'). */
  groups: recordOf(logGroupShape),
  /** Source of sequence tokens and event ids. */
  seq: int,
  /** Logs Insights queries and saved query definitions, by id (absent in older state files). */
  queries: optional(recordOf(queryShape)),
  queryDefinitions: optional(recordOf(queryDefinitionShape)),
});
export type LogsState = Infer<typeof logsStateShape>;

export function state(world: World): LogsState {
  return world.state.logs as LogsState;
}
