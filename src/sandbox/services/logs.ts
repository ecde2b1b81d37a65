/**
 * CloudWatch Logs (JSON 1.1, regional): log groups with retention and tags, log streams, events.
 *
 * Events are kept per stream (the newest MAX_EVENTS_PER_STREAM) so GetLogEvents and
 * FilterLogEvents can read back what was put. FilterLogEvents understands term patterns
 * ("ERROR", "ERROR -health", "?WARN ?ERROR", "\"exact phrase\""), not JSON or space-delimited ones.
 */

import { paginate } from '../paginate.js';
import { ServiceError, type SandboxRequest, type ServiceModule, type World } from '../types.js';
import { bool, int, list, type TagMap } from './util.js';

interface LogEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
  /** Position in the whole log group's ingestion order, for stable eventIds and sorting. */
  seq: number;
}

interface LogStreamRecord {
  logStreamName: string;
  creationTime: number;
  firstEventTimestamp?: number;
  lastEventTimestamp?: number;
  lastIngestionTime?: number;
  storedBytes: number;
  events: LogEvent[];
}

interface LogGroupRecord {
  logGroupName: string;
  region: string;
  creationTime: number;
  retentionInDays?: number;
  kmsKeyId?: string;
  tags: TagMap;
  streams: Record<string, LogStreamRecord>;
}

export interface LogsState {
  /** By `${region}|${logGroupName}` (names may contain '/'). */
  groups: Record<string, LogGroupRecord>;
  /** Source of sequence tokens and event ids. */
  seq: number;
}

export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const MAX_EVENTS_PER_STREAM = 10_000;
const MAX_BATCH_EVENTS = 10_000;
const MAX_BATCH_BYTES = 1_048_576;
const DAY_MS = 24 * 60 * 60 * 1000;
const TOO_NEW_MS = 2 * 60 * 60 * 1000;
const TOO_OLD_MS = 14 * DAY_MS;

function state(world: World): LogsState {
  return world.state.logs as LogsState;
}

function key(region: string, name: string): string {
  return `${region}|${name}`;
}

function groupArn(world: World, g: LogGroupRecord): string {
  return `arn:aws:logs:${g.region}:${world.settings.accountId}:log-group:${g.logGroupName}`;
}

// ---------------------------------------------------------------------------------------------
// Validation

function invalidParameter(message: string): ServiceError {
  return new ServiceError('InvalidParameterException', message, 400);
}

function required(value: unknown, member: string): string {
  if (value === undefined || value === null || value === '') {
    throw invalidParameter(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  return String(value);
}

function checkGroupName(value: unknown, member = 'logGroupName'): string {
  const name = required(value, member);
  if (name.length > 512 || !/^[.\-_/#A-Za-z0-9]+$/.test(name)) {
    throw invalidParameter(
      `1 validation error detected: Value '${name}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+`,
    );
  }
  return name;
}

function checkStreamName(value: unknown, member = 'logStreamName'): string {
  const name = required(value, member);
  if (name.length > 512 || /[:*]/.test(name)) {
    throw invalidParameter(
      `1 validation error detected: Value '${name}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*`,
    );
  }
  return name;
}

function checkLimit(value: unknown, max: number): number | undefined {
  const limit = int(value);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > max)) {
    throw invalidParameter(
      `1 validation error detected: Value '${value}' at 'limit' failed to satisfy constraint: Member must have value ${limit! < 1 ? 'greater than or equal to 1' : `less than or equal to ${max}`}`,
    );
  }
  return limit;
}

function checkTags(value: unknown): TagMap {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidParameter('Tags must be a map.');
  const tags = value as TagMap;
  if (Object.keys(tags).length > 50) throw invalidParameter('A resource can have no more than 50 tags.');
  for (const k of Object.keys(tags)) {
    if (k.toLowerCase().startsWith('aws:')) throw invalidParameter('Tag keys must not start with "aws:".');
  }
  return { ...tags };
}

function invalidToken(): ServiceError {
  return invalidParameter('The specified nextToken is invalid.');
}

// ---------------------------------------------------------------------------------------------
// Lookups

/** By logGroupName or logGroupIdentifier (a name or an ARN). */
function findGroup(world: World, region: string, p: Record<string, any>): LogGroupRecord {
  if (p.logGroupName && p.logGroupIdentifier) {
    throw invalidParameter('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
  }
  let name = p.logGroupName ?? p.logGroupIdentifier;
  required(name, 'logGroupName');
  name = String(name);
  const arn = /^arn:aws[a-z-]*:logs:([^:]+):\d+:log-group:(.+?)(:\*)?$/.exec(name);
  if (arn) return groupByName(world, arn[1], arn[2]);
  return groupByName(world, region, name);
}

function groupByName(world: World, region: string, name: string): LogGroupRecord {
  const group = state(world).groups[key(region, name)];
  if (!group) throw new ServiceError('ResourceNotFoundException', 'The specified log group does not exist.', 400);
  return group;
}

function findStream(group: LogGroupRecord, name: unknown): LogStreamRecord {
  const stream = group.streams[checkStreamName(name)];
  if (!stream) throw new ServiceError('ResourceNotFoundException', 'The specified log stream does not exist.', 400);
  return stream;
}

function groupByArn(world: World, arn: unknown): LogGroupRecord {
  const text = required(arn, 'resourceArn');
  const match = /^arn:aws[a-z-]*:logs:([^:]+):(\d+):log-group:(.+?)(:\*)?$/.exec(text);
  if (!match) throw invalidParameter(`Invalid resource ARN: ${text}`);
  const group = state(world).groups[key(match[1], match[3])];
  if (!group || match[2] !== world.settings.accountId) {
    throw new ServiceError('ResourceNotFoundException', `The specified resource does not exist.`, 400);
  }
  return group;
}

function nextSequenceToken(world: World): string {
  const s = state(world);
  s.seq += 1;
  return String(49_650_000_000_000 + s.seq).padStart(56, '0');
}

// ---------------------------------------------------------------------------------------------
// Log groups

function createLogGroup(req: SandboxRequest, world: World) {
  const name = checkGroupName(req.params.logGroupName);
  const tags = checkTags(req.params.tags);
  const groups = state(world).groups;
  if (groups[key(req.region, name)]) {
    throw new ServiceError('ResourceAlreadyExistsException', 'The specified log group already exists', 400);
  }
  groups[key(req.region, name)] = {
    logGroupName: name,
    region: req.region,
    creationTime: req.now,
    kmsKeyId: req.params.kmsKeyId,
    tags,
    streams: {},
  };
  return undefined;
}

function describeLogGroups(req: SandboxRequest, world: World) {
  const p = req.params;
  if (p.logGroupNamePrefix && p.logGroupNamePattern) {
    throw invalidParameter('LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.');
  }
  const prefix: string = p.logGroupNamePrefix ?? '';
  const pattern = p.logGroupNamePattern ? String(p.logGroupNamePattern).toLowerCase() : undefined;
  const groups = Object.values(state(world).groups)
    .filter((g) => g.region === req.region && g.logGroupName.startsWith(prefix))
    .filter((g) => !pattern || g.logGroupName.toLowerCase().includes(pattern))
    .sort((a, b) => (a.logGroupName < b.logGroupName ? -1 : a.logGroupName > b.logGroupName ? 1 : 0));
  const page = paginate(groups, {
    maxResults: checkLimit(p.limit, 50),
    nextToken: p.nextToken,
    defaultPageSize: 50,
    settings: world.settings,
    invalidToken,
  });
  return {
    logGroups: page.items.map((g) => ({
      logGroupName: g.logGroupName,
      creationTime: g.creationTime,
      retentionInDays: g.retentionInDays,
      metricFilterCount: 0,
      arn: `${groupArn(world, g)}:*`,
      storedBytes: Object.values(g.streams).reduce((n, s) => n + s.storedBytes, 0),
      kmsKeyId: g.kmsKeyId,
      logGroupClass: 'STANDARD',
      logGroupArn: groupArn(world, g),
    })),
    nextToken: page.nextToken,
  };
}

function deleteLogGroup(req: SandboxRequest, world: World) {
  const group = groupByName(world, req.region, checkGroupName(req.params.logGroupName));
  delete state(world).groups[key(group.region, group.logGroupName)];
  return undefined;
}

function putRetentionPolicy(req: SandboxRequest, world: World) {
  const group = groupByName(world, req.region, checkGroupName(req.params.logGroupName));
  const days = req.params.retentionInDays;
  if (days === undefined || days === null) {
    throw invalidParameter(`1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null`);
  }
  if (typeof days !== 'number' || !RETENTION_DAYS.includes(days)) {
    throw invalidParameter(
      `1 validation error detected: Value '${days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`,
    );
  }
  group.retentionInDays = days;
  return undefined;
}

function deleteRetentionPolicy(req: SandboxRequest, world: World) {
  const group = groupByName(world, req.region, checkGroupName(req.params.logGroupName));
  delete group.retentionInDays;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Log streams

function createLogStream(req: SandboxRequest, world: World) {
  const group = groupByName(world, req.region, checkGroupName(req.params.logGroupName));
  const name = checkStreamName(req.params.logStreamName);
  if (group.streams[name]) {
    throw new ServiceError('ResourceAlreadyExistsException', 'The specified log stream already exists', 400);
  }
  group.streams[name] = { logStreamName: name, creationTime: req.now, storedBytes: 0, events: [] };
  return undefined;
}

function deleteLogStream(req: SandboxRequest, world: World) {
  const group = groupByName(world, req.region, checkGroupName(req.params.logGroupName));
  const stream = findStream(group, req.params.logStreamName);
  delete group.streams[stream.logStreamName];
  return undefined;
}

function describeLogStreams(req: SandboxRequest, world: World) {
  const p = req.params;
  const group = findGroup(world, req.region, p);
  const orderBy = p.orderBy ?? 'LogStreamName';
  if (orderBy !== 'LogStreamName' && orderBy !== 'LastEventTime') {
    throw invalidParameter(
      `1 validation error detected: Value '${orderBy}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]`,
    );
  }
  if (orderBy === 'LastEventTime' && p.logStreamNamePrefix) {
    throw invalidParameter('Cannot order by LastEventTime with a logStreamNamePrefix.');
  }
  const prefix: string = p.logStreamNamePrefix ?? '';
  const streams = Object.values(group.streams)
    .filter((s) => s.logStreamName.startsWith(prefix))
    .sort((a, b) =>
      orderBy === 'LastEventTime'
        ? (a.lastEventTimestamp ?? 0) - (b.lastEventTimestamp ?? 0) || a.creationTime - b.creationTime
        : a.logStreamName < b.logStreamName
          ? -1
          : a.logStreamName > b.logStreamName
            ? 1
            : 0,
    );
  if (bool(p.descending)) streams.reverse();
  const page = paginate(streams, {
    maxResults: checkLimit(p.limit, 50),
    nextToken: p.nextToken,
    defaultPageSize: 50,
    settings: world.settings,
    invalidToken,
  });
  return {
    logStreams: page.items.map((s) => ({
      logStreamName: s.logStreamName,
      creationTime: s.creationTime,
      firstEventTimestamp: s.firstEventTimestamp,
      lastEventTimestamp: s.lastEventTimestamp,
      lastIngestionTime: s.lastIngestionTime,
      arn: `${groupArn(world, group)}:log-stream:${s.logStreamName}`,
      storedBytes: 0, // AWS reports 0 here since 2019; the log group's storedBytes has the total
    })),
    nextToken: page.nextToken,
  };
}

// ---------------------------------------------------------------------------------------------
// Events

function putLogEvents(req: SandboxRequest, world: World) {
  const p = req.params;
  const group = groupByName(world, req.region, checkGroupName(p.logGroupName));
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
  events.forEach((e, index) => {
    const timestamp = e.timestamp as number;
    if (timestamp > req.now + TOO_NEW_MS) {
      rejected.tooNewLogEventStartIndex ??= index;
      return;
    }
    if (retentionMs !== undefined && timestamp < req.now - retentionMs) {
      rejected.expiredLogEventEndIndex = index;
      return;
    }
    if (timestamp < req.now - TOO_OLD_MS) {
      rejected.tooOldLogEventEndIndex = index;
      return;
    }
    s.seq += 1;
    const message = e.message as string;
    stream.events.push({ timestamp, message, ingestionTime: req.now, seq: s.seq });
    stream.storedBytes += Buffer.byteLength(message);
    stream.firstEventTimestamp = Math.min(stream.firstEventTimestamp ?? timestamp, timestamp);
    stream.lastEventTimestamp = Math.max(stream.lastEventTimestamp ?? timestamp, timestamp);
    stream.lastIngestionTime = req.now;
  });
  // Keep the stream in timestamp order (batches may arrive out of order with each other).
  stream.events.sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
  if (stream.events.length > MAX_EVENTS_PER_STREAM) stream.events.splice(0, stream.events.length - MAX_EVENTS_PER_STREAM);

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

function getLogEvents(req: SandboxRequest, world: World) {
  const p = req.params;
  const group = findGroup(world, req.region, p);
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

/**
 * A term filter pattern: every term must occur (case-sensitive), "-term" must not, and if any
 * "?term" is given at least one of those must occur. "quoted phrases" are single terms.
 */
function compileFilterPattern(pattern: string | undefined): (message: string) => boolean {
  const text = (pattern ?? '').trim();
  if (text === '') return () => true;
  if (text.startsWith('{') || text.startsWith('[')) {
    throw invalidParameter('The sandbox supports only term filter patterns (JSON and space-delimited patterns are not emulated).');
  }
  const terms = [...text.matchAll(/([-?]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))/g)].map((m) => ({
    op: m[1],
    term: m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3],
  }));
  const all = terms.filter((t) => t.op === '').map((t) => t.term);
  const none = terms.filter((t) => t.op === '-').map((t) => t.term);
  const any = terms.filter((t) => t.op === '?').map((t) => t.term);
  return (message) =>
    all.every((t) => message.includes(t)) &&
    none.every((t) => !message.includes(t)) &&
    (any.length === 0 || any.some((t) => message.includes(t)));
}

function filterLogEvents(req: SandboxRequest, world: World) {
  const p = req.params;
  const group = findGroup(world, req.region, p);
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
  const matches = compileFilterPattern(p.filterPattern);
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

// ---------------------------------------------------------------------------------------------
// Tags

function tagResource(req: SandboxRequest, world: World) {
  const group = groupByArn(world, req.params.resourceArn);
  group.tags = checkTags({ ...group.tags, ...checkTags(req.params.tags) });
  return undefined;
}

function untagResource(req: SandboxRequest, world: World) {
  const group = groupByArn(world, req.params.resourceArn);
  for (const k of list<string>(req.params.tagKeys)) delete group.tags[k];
  return undefined;
}

function listTagsForResource(req: SandboxRequest, world: World) {
  return { tags: { ...groupByArn(world, req.params.resourceArn).tags } };
}

function tagLogGroup(req: SandboxRequest, world: World) {
  const group = groupByName(world, req.region, checkGroupName(req.params.logGroupName));
  group.tags = checkTags({ ...group.tags, ...checkTags(req.params.tags) });
  return undefined;
}

function untagLogGroup(req: SandboxRequest, world: World) {
  const group = groupByName(world, req.region, checkGroupName(req.params.logGroupName));
  for (const k of list<string>(req.params.tags)) delete group.tags[k];
  return undefined;
}

function listTagsLogGroup(req: SandboxRequest, world: World) {
  return { tags: { ...groupByName(world, req.region, checkGroupName(req.params.logGroupName)).tags } };
}

export const logs: ServiceModule = {
  name: 'logs',
  protocol: 'json',
  targetPrefix: 'Logs_20140328',
  initState: (): LogsState => ({ groups: {}, seq: 0 }),
  operations: {
    CreateLogGroup: { mutating: true, handler: createLogGroup },
    DescribeLogGroups: { mutating: false, handler: describeLogGroups },
    DeleteLogGroup: { mutating: true, handler: deleteLogGroup },
    PutRetentionPolicy: { mutating: true, handler: putRetentionPolicy },
    DeleteRetentionPolicy: { mutating: true, handler: deleteRetentionPolicy },
    CreateLogStream: { mutating: true, handler: createLogStream },
    DescribeLogStreams: { mutating: false, handler: describeLogStreams },
    DeleteLogStream: { mutating: true, handler: deleteLogStream },
    PutLogEvents: { mutating: true, handler: putLogEvents },
    GetLogEvents: { mutating: false, handler: getLogEvents },
    FilterLogEvents: { mutating: false, handler: filterLogEvents },
    TagResource: { mutating: true, handler: tagResource },
    UntagResource: { mutating: true, handler: untagResource },
    ListTagsForResource: { mutating: false, handler: listTagsForResource },
    TagLogGroup: { mutating: true, handler: tagLogGroup },
    UntagLogGroup: { mutating: true, handler: untagLogGroup },
    ListTagsLogGroup: { mutating: false, handler: listTagsLogGroup },
  },
};
