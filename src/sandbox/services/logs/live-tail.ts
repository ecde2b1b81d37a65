/**
 * CloudWatch Logs StartLiveTail: a session streaming the events ingested into up to 10 log groups
 * after it started, as an event stream (protocols/event-stream.ts) on the open HTTP response.
 *
 * What AWS does (API reference, StartLiveTail and StartLiveTailResponseStream,
 * docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartLiveTail.html):
 * - One LiveTailSessionStart first (requestId, sessionId, the log groups and stream filters).
 * - Then every second a LiveTailSessionUpdate, whose sessionResults hold the events ingested in that
 *   second (an empty array when there were none); at most 500 of them: above that "the log events are
 *   sampled down to 500" and sessionMetadata.sampled is true.
 * - logGroupIdentifiers: 1 to 10 log groups, by ARN (not ending in `*`); logStreamNames or
 *   logStreamNamePrefixes (1 to 100 each, not both) need exactly one log group; logEventFilterPattern
 *   (up to 1024 characters) has the syntax of every other filter pattern (FilterAndPatternSyntax.html:
 *   "... filter log events, and Live Tail"), here insights/filter-pattern.ts.
 * - A SessionTimeoutException in the stream after three hours; SessionStreamingException for an
 *   unknown server-side error. A client ends a session by closing the stream.
 * - The quota on concurrent Live Tail sessions (CloudWatch Logs quotas: 15 per account and Region):
 *   one more is refused with LimitExceededException.
 * - The SDK sends StartLiveTail to the `stream-` host prefix of the Logs endpoint (the model's
 *   endpoint trait); against a custom endpoint the CLI disables the prefix (src/aws/clients.ts), so
 *   the call reaches this server at 127.0.0.1.
 *
 * The sandbox's model: the session remembers the log group's sequence number (records.ts seq) when it
 * started; each update sends, per matching stream, the events whose seq is newer, in ingestion order,
 * filtered by the pattern, evenly sampled to 500. Updates go out every second of real time; the
 * three-hour limit is measured on the sandbox clock (a test advances a ManualClock). Not modelled:
 * the 10-update/5000-event buffer for slow readers (the socket's own buffer holds what is unread).
 */
import { randomUUID } from 'node:crypto';
import type { LiveTailSessionLogEvent, LiveTailSessionStart, LiveTailSessionUpdate, StartLiveTailRequest } from '@aws-sdk/client-cloudwatch-logs';
import { jsonBody, typedOperation, type Call } from '../../typed.js';
import { ServiceError, StreamingResult, type Operation, type ResponseStream, type World } from '../../types.js';
import { EVENT_STREAM_CONTENT_TYPE, eventMessage, exceptionMessage } from '../../protocols/event-stream.js';
import { compileFilterPattern, FilterPatternError, type FilterPattern } from '../../insights/filter-pattern.js';
import { list } from '../util.js';
import { invalidParameter, key } from './common.js';
import { state, type LogGroupRecord } from './records.js';

export const MAX_LIVE_TAIL_GROUPS = 10;
export const MAX_LIVE_TAIL_STREAMS = 100;
export const MAX_RESULTS_PER_UPDATE = 500;
export const SESSION_LIMIT_MS = 3 * 60 * 60 * 1000;
export const MAX_CONCURRENT_SESSIONS = 15;
/** How often an update goes out (real time). */
export const UPDATE_INTERVAL_MS = 1000;

/** Open sessions per world, by `${account}|${region}`: not state (a session is a connection). */
const open = new WeakMap<World, Map<string, number>>();

/** How many Live Tail sessions are open in this world (tests: a closed client leaves none). */
export function openLiveTailSessions(world: World): number {
  let n = 0;
  for (const v of open.get(world)?.values() ?? []) n += v;
  return n;
}

interface Target {
  identifier: string;
  group: LogGroupRecord;
}

function checkList(value: unknown, member: string, max: number): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = list<unknown>(value);
  if (items.length < 1 || items.length > max) {
    throw invalidParameter(`1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length between 1 and ${max}`);
  }
  if (items.some((x) => typeof x !== 'string' || x === '')) throw invalidParameter(`Every member of '${member}' must be a non-empty string.`);
  return items as string[];
}

/** The groups by ARN (`arn:aws:logs:<region>:<account>:log-group:<name>`, no trailing `:*`). */
function targets(world: World, identifiers: string[]): Target[] {
  return identifiers.map((identifier) => {
    if (identifier.endsWith('*')) throw invalidParameter(`Log group identifier ${identifier} must not end with '*'.`);
    const arn = /^arn:aws[a-z-]*:logs:([^:]+):(\d{12}):log-group:([.\-_/#A-Za-z0-9]+)$/.exec(identifier);
    if (!arn) throw invalidParameter(`Log group identifier ${identifier} is not a log group ARN: StartLiveTail takes log groups by ARN.`);
    const group = state(world).groups[key(arn[1], arn[3])];
    if (!group || arn[2] !== world.settings.accountId) {
      throw new ServiceError('ResourceNotFoundException', `The specified log group does not exist: ${identifier}`, 400);
    }
    return { identifier, group };
  });
}

/** `max` items spread evenly over `items`, in their order. */
export function sample<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.floor((i * items.length) / max)]);
  return out;
}

function startLiveTail(p: StartLiveTailRequest, { world, req, now: startedAt }: Call): StreamingResult {
  const identifiers = checkList(p.logGroupIdentifiers, 'logGroupIdentifiers', MAX_LIVE_TAIL_GROUPS);
  if (!identifiers) {
    throw invalidParameter(`1 validation error detected: Value null at 'logGroupIdentifiers' failed to satisfy constraint: Member must not be null`);
  }
  const names = checkList(p.logStreamNames, 'logStreamNames', MAX_LIVE_TAIL_STREAMS);
  const prefixes = checkList(p.logStreamNamePrefixes, 'logStreamNamePrefixes', MAX_LIVE_TAIL_STREAMS);
  if (names && prefixes) throw invalidParameter('logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.');
  if ((names || prefixes) && identifiers.length !== 1) {
    throw invalidParameter('logStreamNames and logStreamNamePrefixes can be given only with exactly one log group in logGroupIdentifiers.');
  }
  let pattern: FilterPattern;
  try {
    pattern = compileFilterPattern(p.logEventFilterPattern);
  } catch (e) {
    if (e instanceof FilterPatternError) throw invalidParameter(e.message);
    throw e;
  }
  const groups = targets(world, identifiers);

  const scope = `${world.settings.accountId}|${req.region}`;
  const counts = open.get(world) ?? new Map<string, number>();
  open.set(world, counts);
  if ((counts.get(scope) ?? 0) >= MAX_CONCURRENT_SESSIONS) {
    throw new ServiceError('LimitExceededException', `You have reached the maximum number of concurrent Live Tail sessions (${MAX_CONCURRENT_SESSIONS}).`, 400);
  }
  counts.set(scope, (counts.get(scope) ?? 0) + 1);

  const start: LiveTailSessionStart = {
    requestId: req.requestId,
    sessionId: randomUUID(),
    logGroupIdentifiers: identifiers,
    logStreamNames: names,
    logStreamNamePrefixes: prefixes,
    logEventFilterPattern: p.logEventFilterPattern ?? '',
  };
  const streamMatches = (name: string) => (names ? names.includes(name) : prefixes ? prefixes.some((x) => name.startsWith(x)) : true);
  let seen = state(world).seq;

  /** The events ingested since the last update, in ingestion order. */
  const fresh = (): LiveTailSessionLogEvent[] => {
    const out: (LiveTailSessionLogEvent & { seq: number })[] = [];
    for (const { identifier, group } of groups) {
      // A group deleted (or recreated) during the session: its record is looked up again.
      const current = state(world).groups[key(group.region, group.logGroupName)];
      if (!current) continue;
      for (const s of Object.values(current.streams)) {
        if (!streamMatches(s.logStreamName)) continue;
        for (const e of s.events) {
          if (e.seq > seen && pattern.matches(e.message)) {
            out.push({ logStreamName: s.logStreamName, logGroupIdentifier: identifier, message: e.message, timestamp: e.timestamp, ingestionTime: e.ingestionTime, seq: e.seq });
          }
        }
      }
    }
    seen = state(world).seq;
    return out.sort((a, b) => a.seq - b.seq).map(({ seq: _seq, ...e }) => e);
  };

  return new StreamingResult(EVENT_STREAM_CONTENT_TYPE, async (out: ResponseStream) => {
    try {
      out.write(eventMessage('sessionStart', start));
      while (!out.closed.aborted) {
        await wait(UPDATE_INTERVAL_MS, out.closed);
        if (out.closed.aborted) break;
        if (out.now() - startedAt >= SESSION_LIMIT_MS) {
          out.write(exceptionMessage('SessionTimeoutException', 'Session timed out after 3 hours.'));
          break;
        }
        const events = fresh();
        const update: LiveTailSessionUpdate = {
          sessionMetadata: { sampled: events.length > MAX_RESULTS_PER_UPDATE },
          sessionResults: sample(events, MAX_RESULTS_PER_UPDATE),
        };
        out.write(eventMessage('sessionUpdate', update));
      }
    } catch (e) {
      if (!out.closed.aborted) out.write(exceptionMessage('SessionStreamingException', e instanceof Error ? e.message : String(e)));
    } finally {
      counts.set(scope, Math.max(0, (counts.get(scope) ?? 1) - 1));
    }
  });
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export const liveTailOperations: Record<string, Operation> = {
  StartLiveTail: typedOperation({ mutating: false, decode: jsonBody<StartLiveTailRequest>, handler: startLiveTail }),
};
