/**
 * CloudWatch Logs' state (world.state.logs): each record declared once, as the shape a saved state
 * file is checked against (../../shape.ts), with its TypeScript type inferred from that shape.
 */
import { arrayOf, int, num, object, optional, recordOf, str, type Infer } from '../../shape.js';
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

export const logGroupShape = object({
  logGroupName: str,
  region: str,
  creationTime: num,
  retentionInDays: optional(int),
  kmsKeyId: optional(str),
  tags: recordOf(str),
  streams: recordOf(logStreamShape),
});
export type LogGroupRecord = Infer<typeof logGroupShape>;

export const logsStateShape = object({
  /** By `${region}|${logGroupName}` (names may contain '/'). */
  groups: recordOf(logGroupShape),
  /** Source of sequence tokens and event ids. */
  seq: int,
});
export type LogsState = Infer<typeof logsStateShape>;

export function state(world: World): LogsState {
  return world.state.logs as LogsState;
}
