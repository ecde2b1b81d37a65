/** CloudWatch Logs events: PutLogEvents, GetLogEvents, FilterLogEvents. */
import type {
  FilterLogEventsRequest,
  FilterLogEventsResponse,
  GetLogEventsRequest,
  GetLogEventsResponse,
  PutLogEventsRequest,
  PutLogEventsResponse,
} from '@aws-sdk/client-cloudwatch-logs';
import { jsonBody, typedOperation, type Call } from '../../typed.js';
import type { Operation } from '../../types.js';
import { paginate } from '../../paginate.js';
import { bool, int, list } from '../util.js';
import { MAX_EVENTS_PER_STREAM, MAX_BATCH_EVENTS, MAX_BATCH_BYTES, DAY_MS, TOO_NEW_MS, TOO_OLD_MS, invalidParameter, checkGroupName, checkLimit, invalidToken, findGroup, groupByName, findStream, nextSequenceToken } from './common.js';
import { applyMetricFilters, patternOrError } from './metric-filters.js';
import { state, type LogEvent } from './records.js';
// ---------------------------------------------------------------------------------------------
// Events

function putLogEvents(p: PutLogEventsRequest, { world, region, now }: Call): PutLogEventsResponse {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  const stream = findStream(group, p.logStreamName);
  const events = list<{ timestamp?: unknown; message?: unknown }>(p.logEvents);
  if (events.length === 0) {
    throw invalidParameter(
      `1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1`,
    );
  }
  if (events.length > MAX_BATCH_EVENTS) {
    throw invalidParameter(
      `1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to ${MAX_BATCH_EVENTS}`,
    );
  }
  let bytes = 0;
  for (const e of events) {
    if (typeof e?.timestamp !== 'number' || typeof e?.message !== 'string') {
      throw invalidParameter('Each log event must have a timestamp (number) and a message (string).');
    }
    if (e.message.length === 0) throw invalidParameter('Log event message cannot be empty.');
    bytes += Buffer.byteLength(e.message) + 26;
  }
  if (bytes > MAX_BATCH_BYTES) throw invalidParameter('Upload too large: ' + bytes + ' bytes exceeds limit of 1048576');
  for (let i = 1; i < events.length; i++) {
    if ((events[i].timestamp as number) < (events[i - 1].timestamp as number)) {
      throw invalidParameter('Log events in a single PutLogEvents request must be in chronological order.');
    }
  }
  if ((events[events.length - 1].timestamp as number) - (events[0].timestamp as number) > DAY_MS) {
    throw invalidParameter('The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');
  }

  // Events too far in the future, too old (14 days) or older than the retention are rejected
  // individually; the rest are stored.
  const rejected: { tooNewLogEventStartIndex?: number; tooOldLogEventEndIndex?: number; expiredLogEventEndIndex?: number } = {};
  const retentionMs = group.retentionInDays ? group.retentionInDays * DAY_MS : undefined;
  const s = state(world);
  const accepted: LogEvent[] = [];
  events.forEach((e, index) => {
    const timestamp = e.timestamp as number;
    if (timestamp > now + TOO_NEW_MS) {
      rejected.tooNewLogEventStartIndex ??= index;
      return;
    }
    if (retentionMs !== undefined && timestamp < now - retentionMs) {
      rejected.expiredLogEventEndIndex = index;
      return;
    }
    if (timestamp < now - TOO_OLD_MS) {
      rejected.tooOldLogEventEndIndex = index;
      return;
    }
    s.seq += 1;
    const message = e.message as string;
    const event = { timestamp, message, ingestionTime: now, seq: s.seq };
    stream.events.push(event);
    accepted.push(event);
    stream.storedBytes += Buffer.byteLength(message);
    stream.firstEventTimestamp = Math.min(stream.firstEventTimestamp ?? timestamp, timestamp);
    stream.lastEventTimestamp = Math.max(stream.lastEventTimestamp ?? timestamp, timestamp);
    stream.lastIngestionTime = now;
  });
  // Keep the stream in timestamp order (batches may arrive out of order with each other).
  stream.events.sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
  if (stream.events.length > MAX_EVENTS_PER_STREAM) stream.events.splice(0, stream.events.length - MAX_EVENTS_PER_STREAM);
  // The log group's metric filters see every accepted event as it is ingested (metric-filters.ts).
  applyMetricFilters(world, group, accepted);

  return {
    nextSequenceToken: nextSequenceToken(world),
    rejectedLogEventsInfo: Object.keys(rejected).length ? rejected : undefined,
  };
}

/** GetLogEvents excludes events at endTime; FilterLogEvents includes them. */
function inTimeRange(e: LogEvent, startTime: number | undefined, endTime: number | undefined, endInclusive: boolean): boolean {
  if (startTime !== undefined && e.timestamp < startTime) return false;
  if (endTime === undefined) return true;
  return endInclusive ? e.timestamp <= endTime : e.timestamp < endTime;
}

function eventToken(direction: 'f' | 'b', position: number): string {
  return `${direction}/${String(position).padStart(56, '0')}`;
}

function getLogEvents(p: GetLogEventsRequest, { world, region, now }: Call): GetLogEventsResponse {
  const group = findGroup(world, region, p);
  const stream = findStream(group, p.logStreamName);
  const limit = checkLimit(p.limit, 10_000) ?? 10_000;
  const startTime = int(p.startTime);
  const endTime = int(p.endTime);
  const events = stream.events.filter((e) => inTimeRange(e, startTime, endTime, false));

  let start: number;
  let end: number;
  if (p.nextToken) {
    const match = /^([fb])\/(\d+)$/.exec(String(p.nextToken));
    if (!match) throw invalidToken();
    const position = Math.min(Number(match[2]), events.length);
    if (match[1] === 'f') {
      start = position;
      end = Math.min(position + limit, events.length);
    } else {
      end = position;
      start = Math.max(0, position - limit);
    }
  } else if (bool(p.startFromHead)) {
    start = 0;
    end = Math.min(limit, events.length);
  } else {
    end = events.length;
    start = Math.max(0, end - limit);
  }
  return {
    events: events.slice(start, end).map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
    nextForwardToken: eventToken('f', end),
    nextBackwardToken: eventToken('b', start),
  };
}

function filterLogEvents(p: FilterLogEventsRequest, { world, region, now }: Call): FilterLogEventsResponse {
  const group = findGroup(world, region, p);
  const names = list<string>(p.logStreamNames);
  if (names.length && p.logStreamNamePrefix) {
    throw invalidParameter('logStreamNames and logStreamNamePrefix are mutually exclusive parameters.');
  }
  const prefix: string = p.logStreamNamePrefix ?? '';
  const streams = Object.values(group.streams).filter((s) =>
    names.length ? names.includes(s.logStreamName) : s.logStreamName.startsWith(prefix),
  );
  const startTime = int(p.startTime);
  const endTime = int(p.endTime);
  const pattern = patternOrError(p.filterPattern ?? '');
  const matches = (message: string): boolean => pattern.matches(message);
  const events = streams
    .flatMap((s) => s.events.filter((e) => inTimeRange(e, startTime, endTime, true) && matches(e.message)).map((e) => ({ stream: s, e })))
    .sort((a, b) => a.e.timestamp - b.e.timestamp || a.e.seq - b.e.seq);
  const page = paginate(events, {
    maxResults: checkLimit(p.limit, 10_000),
    nextToken: p.nextToken,
    defaultPageSize: 10_000,
    settings: world.settings,
    invalidToken,
  });
  return {
    events: page.items.map(({ stream, e }) => ({
      logStreamName: stream.logStreamName,
      timestamp: e.timestamp,
      message: e.message,
      ingestionTime: e.ingestionTime,
      eventId: `${String(e.timestamp).padStart(20, '0')}${String(e.seq).padStart(36, '0')}`,
    })),
    searchedLogStreams: [],
    nextToken: page.nextToken,
  };
}

export const eventOperations: Record<string, Operation> = {
  PutLogEvents: typedOperation({ mutating: true, decode: jsonBody<PutLogEventsRequest>, handler: putLogEvents }),
  GetLogEvents: typedOperation({ mutating: false, decode: jsonBody<GetLogEventsRequest>, handler: getLogEvents }),
  FilterLogEvents: typedOperation({ mutating: false, decode: jsonBody<FilterLogEventsRequest>, handler: filterLogEvents }),
};
