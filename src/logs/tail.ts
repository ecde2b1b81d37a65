/**
 * Reading a log group's events, once or following (the logic behind `ecs-cwlogs logs`), with no
 * terminal in sight: events go to a callback, notices to another.
 *
 * Streams: the lab names them `{instance_id}-{hostname}-{ip_address}-httpd-access.log`, so a
 * FilterLogEvents logStreamNamePrefix cannot select "httpd-access". With stream parts given, the
 * group's streams are listed (DescribeLogStreams, every page) and those whose names contain a part
 * are read by name (FilterLogEvents logStreamNames, 100 names per call). Without parts the whole
 * group is read in one FilterLogEvents sequence.
 *
 * Order: every read collects all pages (and all chunks of 100 streams) and sorts them by timestamp,
 * so output is in timestamp order across streams whatever order the pages came in.
 *
 * Follow: poll every pollMs. Each poll reads from (newest timestamp seen - lookback), so events the
 * agent ships late (a stream's batch goes force_flush_interval, 1 s, after its first event: see
 * docker/rootfs/usr/local/bin/ecs-cwlogs-agent-config and docs/verify.md; more under throttling or
 * retries) and events of streams that ship at different moments are still found; events already printed are skipped by
 * eventId. A late event may therefore print after a newer one. Throttling, 5xx and network
 * failures (after the SDK's own retries) back off and carry on; the abort signal ends the loop, and
 * so does endTime (--until) once it has passed. Following through Live Tail: live-tail.ts.
 */
import type { FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import type { LogsApi } from '../aws/clients.js';
import { toCliError } from '../aws/errors.js';
import { AwsError, UserInputError, awsErrorCode, hasAwsCode, type CliError } from '../core/errors.js';

/** FilterLogEvents accepts at most this many logStreamNames. */
export const MAX_STREAM_NAMES = 100;

export interface LogLine {
  timestamp: number;
  /** The full stream name. */
  stream: string;
  message: string;
  eventId: string;
}

export interface ReadOptions {
  logGroup: string;
  /** Epoch ms, inclusive. */
  startTime: number;
  /** Epoch ms, inclusive; none: up to now. */
  endTime?: number;
  /** Read only streams whose names contain one of these; empty or absent: every stream. */
  streams?: readonly string[];
  /** A CloudWatch Logs filter pattern, passed through. */
  filterPattern?: string;
  signal?: AbortSignal;
  /** For messages: the region the group was looked for in. */
  region?: string;
  /** For the missing-group error: what to run to create it (default `ecs-cwlogs up`). */
  createCommand?: string;
}

export interface TailOptions extends ReadOptions {
  follow: boolean;
  /** Between two polls when following. */
  pollMs: number;
  /** How far back before the newest event seen each poll reads again (late events). Default 30 s. */
  lookbackMs?: number;
  /** With stream parts: list the streams again every this many polls (new instances). Default 10. */
  relistEvery?: number;
  /** Longest backoff after throttling or a failure while following. Default 30 s. */
  maxBackoffMs?: number;
  /** Abortable sleep; resolves early on abort. Tests may pass a fake. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The clock (epoch ms); an event stamped in the future does not move the read window past now. */
  now?: () => number;
}

export interface TailSink {
  /** A batch of new events, in timestamp order. */
  events(lines: LogLine[]): void;
  /** Something for people (stderr): no matching stream yet, throttled, backing off. */
  notice?(text: string, level: 'info' | 'warn'): void;
}

export interface TailResult {
  /** Events delivered. */
  count: number;
  /** Streams read (when stream parts were given; undefined otherwise). */
  streams?: string[];
  /** The signal aborted (Ctrl-C) before the read or the follow finished by itself. */
  interrupted: boolean;
}

// ---------------------------------------------------------------------------------------------
// --since

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `10m`, `1h`, `2d`, `90s`, `1w` (ago), or an ISO-8601 date or date-time (UTC unless it carries an
 * offset, in every local time zone). Returns epoch ms.
 */
export function parseSince(text: string, now: number): number {
  return parseTime(text, now, '--since');
}

/**
 * --until: as --since (`10m` ago, an ISO-8601 time), plus `now` and `+10m` (that long from now, for
 * a --follow that stops by itself). Returns epoch ms.
 */
export function parseUntil(text: string, now: number): number {
  const raw = text.trim();
  if (/^now$/i.test(raw)) return now;
  const ahead = /^\+\s*(\d+)\s*([smhdw])$/i.exec(raw);
  if (ahead) return now + Number(ahead[1]) * UNIT_MS[ahead[2].toLowerCase()];
  return parseTime(text, now, '--until', ', now, or +10m (from now)');
}

function parseTime(text: string, now: number, flag: string, more = ''): number {
  const raw = text.trim();
  const rel = /^(\d+)\s*([smhdw])$/i.exec(raw);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2].toLowerCase()];
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]([\d:.]+)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(raw);
  if (iso) {
    const [, y, mo, d, time, zone] = iso;
    // A time without an offset is UTC, as every time this tool prints and as a date alone is
    // (JavaScript reads "2024-05-01T10:00:00" in the local time zone but "2024-05-01" in UTC).
    const t = Date.parse(`${y}-${mo}-${d}${time ? `T${time}${zone ?? 'Z'}` : ''}`);
    // Date.parse rolls a day the month lacks over (2023-02-29 is March 1st): refuse it instead.
    const day = new Date(0);
    day.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
    if (!Number.isNaN(t) && day.getUTCMonth() === Number(mo) - 1 && day.getUTCDate() === Number(d)) return t;
  }
  throw new UserInputError({
    what: `Invalid ${flag} "${text}"`,
    why: 'it is neither a duration nor an ISO-8601 time',
    fix: `Use a duration such as 30s, 10m, 1h, 2d or 1w (ago), or a time such as 2024-05-01T10:00:00Z${more}.`,
  });
}

// ---------------------------------------------------------------------------------------------
// Streams

export function streamMatches(name: string, parts: readonly string[] | undefined): boolean {
  if (!parts || parts.length === 0) return true;
  return parts.some((p) => name.includes(p));
}

/** Every stream of the group whose name contains one of the parts, sorted by name. */
export async function matchingStreams(logs: LogsApi, o: Pick<ReadOptions, 'logGroup' | 'streams' | 'signal' | 'region' | 'createCommand'>): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const res = await logs.describeLogStreams({ logGroupName: o.logGroup, nextToken }, { abortSignal: o.signal });
      for (const s of res.logStreams ?? []) if (s.logStreamName && streamMatches(s.logStreamName, o.streams)) names.push(s.logStreamName);
      nextToken = res.nextToken;
    } while (nextToken);
  } catch (e) {
    throw readError(e, o);
  }
  return [...new Set(names)].sort();
}

/**
 * A short name for people: the part after `{instance_id}-{hostname}-{ip_address}-`
 * (`httpd-access.log`), prefixed with the instance id once more than one instance has been seen.
 */
export class StreamNames {
  private readonly instances = new Set<string>();

  /** Note the instances of a batch first, so its names are consistent within it. */
  observe(streams: Iterable<string>): void {
    for (const s of streams) {
      const m = STREAM_RE.exec(s);
      if (m) this.instances.add(m[1]);
    }
  }

  short(stream: string): string {
    const m = STREAM_RE.exec(stream);
    if (!m) return stream;
    this.instances.add(m[1]);
    return this.instances.size > 1 ? `${m[1]}/${m[4]}` : m[4];
  }
}

/** `{instance_id}-{hostname}-{ip_address}-{file}`; the hostname may contain dashes and dots. */
const STREAM_RE = /^(i-[0-9a-f]+)-(.+)-(\d{1,3}(?:\.\d{1,3}){3})-(.+)$/;

// ---------------------------------------------------------------------------------------------
// Reading

/** One read of [startTime, endTime]: every page of every chunk of streams, sorted by timestamp. */
export async function fetchEvents(
  logs: LogsApi,
  o: ReadOptions & { streamNames?: readonly string[] },
): Promise<LogLine[]> {
  const chunks: (readonly string[] | undefined)[] = [];
  if (o.streamNames === undefined) chunks.push(undefined);
  else for (let i = 0; i < o.streamNames.length; i += MAX_STREAM_NAMES) chunks.push(o.streamNames.slice(i, i + MAX_STREAM_NAMES));
  const out: LogLine[] = [];
  try {
    for (const names of chunks) {
      let nextToken: string | undefined;
      do {
        const res = await logs.filterLogEvents(
          {
            logGroupName: o.logGroup,
            logStreamNames: names ? [...names] : undefined,
            startTime: o.startTime,
            endTime: o.endTime,
            filterPattern: o.filterPattern || undefined,
            nextToken,
          },
          { abortSignal: o.signal },
        );
        for (const e of res.events ?? []) out.push(toLine(e));
        nextToken = res.nextToken;
      } while (nextToken);
    }
  } catch (e) {
    throw readError(e, o);
  }
  return out.sort(byTime);
}

function toLine(e: FilteredLogEvent): LogLine {
  const timestamp = e.timestamp ?? 0;
  const stream = e.logStreamName ?? '';
  const message = (e.message ?? '').replace(/\r?\n$/, '');
  return { timestamp, stream, message, eventId: e.eventId ?? `${timestamp}:${stream}:${message}` };
}

function byTime(a: LogLine, b: LogLine): number {
  return a.timestamp - b.timestamp || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}

/** Is this the log group (not a stream) being absent? */
export function isMissingGroup(e: unknown): boolean {
  if (!hasAwsCode(e, 'ResourceNotFoundException')) return false;
  const message = e instanceof Error ? e.message : '';
  return !/log stream/i.test(message);
}

function readError(e: unknown, o: Pick<ReadOptions, 'logGroup' | 'region' | 'createCommand' | 'filterPattern' | 'signal'>): unknown {
  if (o.signal?.aborted) return e;
  if (isMissingGroup(e)) {
    const where = o.region ? ` in ${o.region}` : '';
    return new AwsError({
      what: `Log group "${o.logGroup}" does not exist${where}`,
      why: 'there are no logs to show until the stack is set up (or --log-group, --region or --stack points somewhere else)',
      fix: `Run \`${o.createCommand ?? 'ecs-cwlogs up'}\` to create it, or pass --log-group with the group's name.`,
      code: 'ResourceNotFoundException',
      cause: e,
    });
  }
  if (o.filterPattern && hasAwsCode(e, 'InvalidParameterException') && /pattern|term|filter/i.test(e instanceof Error ? e.message : '')) {
    return new UserInputError({
      what: `Invalid --filter "${o.filterPattern}"`,
      why: e instanceof Error ? e.message : String(e),
      fix: 'Use CloudWatch Logs filter pattern syntax, e.g. --filter ERROR, --filter "?WARN ?ERROR" or --filter \'"GET /health" -200\'.',
      cause: e,
    });
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// Once or following

/** Worth waiting out while following: throttling, a 5xx, the network. */
export function isTransient(e: unknown): boolean {
  if (hasAwsCode(e, 'ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'LimitExceededException', 'ServiceUnavailableException', 'InternalFailure', 'ServiceUnavailable')) {
    return true;
  }
  const status = (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 500) return true;
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EPIPE|EHOSTUNREACH|ENETUNREACH)$/.test(code)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

export const abortableSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Read the events since startTime and hand them to the sink in timestamp order; with follow, keep
 * polling for new ones until the signal aborts. Errors other than transient ones (while following)
 * are thrown as CliErrors; an abort is not an error (`interrupted` says it happened).
 */
export async function tailLogs(logs: LogsApi, o: TailOptions, sink: TailSink): Promise<TailResult> {
  const sleep = o.sleep ?? abortableSleep;
  const lookback = o.lookbackMs ?? 30_000;
  const relistEvery = Math.max(1, o.relistEvery ?? 10);
  const maxBackoff = o.maxBackoffMs ?? 30_000;
  const now = o.now ?? Date.now;
  const useStreams = Boolean(o.streams && o.streams.length > 0);
  const aborted = () => Boolean(o.signal?.aborted);
  let count = 0;
  let streamNames: string[] | undefined;
  let newest: number | undefined;
  /** eventId -> timestamp of what was delivered within the lookback window. */
  const seen = new Map<string, number>();
  let polls = 0;
  let failures = 0;
  let warnedNoStream = false;
  let relisted = false;

  const result = (interrupted: boolean): TailResult => ({ count, streams: useStreams ? (streamNames ?? []) : undefined, interrupted });

  for (;;) {
    if (aborted()) return result(true);
    // Following up to endTime (--until): one last read once it has passed, then stop.
    const last = o.follow && o.endTime !== undefined && now() > o.endTime;
    try {
      if (useStreams && (streamNames === undefined || streamNames.length === 0 || polls % relistEvery === 0)) {
        streamNames = await matchingStreams(logs, o);
      }
      if (useStreams && streamNames!.length === 0) {
        if (!o.follow) return result(false);
        if (!warnedNoStream) {
          sink.notice?.(`No stream in log group ${o.logGroup} matches ${o.streams!.map((s) => `"${s}"`).join(' or ')} yet; waiting for one.`, 'info');
          warnedNoStream = true;
        }
      } else {
        const from = newest === undefined ? o.startTime : Math.max(o.startTime, Math.min(newest, now()) - lookback);
        const batch = await fetchEvents(logs, { ...o, startTime: from, streamNames: useStreams ? streamNames : undefined });
        const fresh = batch.filter((e) => !seen.has(e.eventId));
        if (o.follow) {
          for (const e of fresh) seen.set(e.eventId, e.timestamp);
          for (const e of batch) newest = Math.max(newest ?? e.timestamp, e.timestamp);
          if (newest !== undefined) {
            const floor = Math.min(newest, now()) - lookback;
            for (const [id, ts] of seen) if (ts < floor) seen.delete(id);
          }
        }
        if (fresh.length) {
          count += fresh.length;
          sink.events(fresh);
        }
      }
      failures = 0;
      relisted = false;
    } catch (e) {
      if (aborted()) return result(true);
      // A stream listed a moment ago was deleted: list again (once in a row, then it is an error).
      if (useStreams && hasAwsCode(e, 'ResourceNotFoundException') && !isMissingGroup(e) && !relisted) {
        relisted = true;
        streamNames = undefined;
        continue;
      }
      if (!o.follow || !isTransient(e)) throw toCliErrorFor(e, o);
      failures++;
      const wait = Math.min(maxBackoff, o.pollMs * 2 ** failures);
      const code = awsErrorCode(e) ?? 'network error';
      sink.notice?.(`Reading ${o.logGroup} failed (${code}); trying again in ${Math.round(wait / 100) / 10}s.`, 'warn');
      await sleep(wait, o.signal);
      continue;
    }
    if (!o.follow || last) return result(false);
    polls++;
    await sleep(o.endTime === undefined ? o.pollMs : Math.max(0, Math.min(o.pollMs, o.endTime + 1 - now())), o.signal);
  }
}

function toCliErrorFor(e: unknown, o: ReadOptions): CliError {
  return toCliError(e, `Reading log group ${o.logGroup}`);
}
