/**
 * CloudWatch Logs (JSON 1.1, regional): log groups with retention and tags, log streams, events.
 * The operations live in logs/ (groups.ts: groups, streams, tags; events.ts: events), each typed
 * with the SDK's request and response types; the records' types come from their persisted shapes
 * (logs/records.ts).
 *
 * Events are kept per stream (the newest MAX_EVENTS_PER_STREAM) so GetLogEvents and
 * FilterLogEvents can read back what was put. FilterLogEvents understands term patterns
 * ("ERROR", "ERROR -health", "?WARN ?ERROR", "\"exact phrase\""), not JSON or space-delimited ones.
 */
import type { ServiceModule } from '../types.js';
import { eventOperations } from './logs/events.js';
import { groupOperations } from './logs/groups.js';
import { liveTailOperations } from './logs/live-tail.js';
import type { LogsState } from './logs/records.js';

export { RETENTION_DAYS } from './logs/common.js';
export type { LogsState } from './logs/records.js';

export const logs: ServiceModule = {
  name: 'logs',
  protocol: 'json',
  targetPrefix: 'Logs_20140328',
  initState: (): LogsState => ({ groups: {}, seq: 0 }),
  operations: { ...groupOperations, ...eventOperations, ...liveTailOperations },
};
