/**
 * Following a log group through CloudWatch Logs Live Tail (StartLiveTail): one streaming session
 * instead of a FilterLogEvents poll every 2 s (an account-wide 5 TPS quota that many followers, or
 * many streams, run into), and events as they are ingested, late ones included.
 *
 * - The session is opened first; then the events since --since are read once (FilterLogEvents, as
 *   tail.ts reads them) and printed; then the session's events, minus those that read already
 *   printed (same stream, timestamp and message): no gap between the two, and no line twice.
 * - --stream parts ("contains", e.g. httpd-access) cannot be Live Tail's stream names or prefixes
 *   (the lab's names start with the instance id), so the session takes the whole group and the
 *   parts are applied here; new instances' streams show up without listing streams again.
 * - --filter is the session's logEventFilterPattern (the same syntax as FilterLogEvents).
 * - The session ends by itself after 3 hours (SessionTimeoutException), on a server error
 *   (SessionStreamingException) or when the connection drops: a new one is opened (after a backoff
 *   for errors) and the events since the newest one printed, minus a lookback, are read again, so
 *   nothing in between is lost.
 * - Live Tail not usable (the caller's policy denies logs:StartLiveTail, the endpoint has no such
 *   operation, a log group class without it): `unavailable` is returned before anything is printed,
 *   and the caller polls instead (tail.ts), saying so once.
 * - `until` (epoch ms): the session is closed at that time and later events are not printed.
 * - The signal (Ctrl-C, a closed stdout) closes the session: aborting the SDK call ends the HTTP
 *   response, which is what ends a session on AWS's side ("closing the session stream").
 */
import type { LiveTailSessionLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import type { LogsApi } from '../aws/clients.js';
import { toCliError } from '../aws/errors.js';
import { awsErrorCode, hasAwsCode, isCliError } from '../core/errors.js';
import { abortableSleep, isTransient, streamMatches, tailLogs, type LogLine, type TailOptions, type TailResult, type TailSink } from './tail.js';

export interface LiveTailOptions extends TailOptions {
  /** The log group's ARN (`arn:<partition>:logs:<region>:<account>:log-group:<name>`). */
  logGroupArn: string;
  /** Epoch ms: stop following then. */
  until?: number;
}

export type LiveTailOutcome = { kind: 'done'; result: TailResult } | { kind: 'unavailable'; reason: string };

/** The group's ARN, as StartLiveTail takes it: from the caller's ARN (its partition) and account. */
export function logGroupArn(callerArn: string, region: string, account: string, logGroup: string): string {
  const partition = /^arn:([^:]+):/.exec(callerArn)?.[1] ?? (region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws');
  return `arn:${partition}:logs:${region}:${account}:log-group:${logGroup}`;
}

/** Why Live Tail cannot be used here (so polling is), or undefined when the error is something else. */
export function liveTailUnavailable(e: unknown): string | undefined {
  const code = awsErrorCode(e);
  if (hasAwsCode(e, 'AccessDeniedException', 'AccessDenied')) return `your credentials may not call logs:StartLiveTail (${code})`;
  if (hasAwsCode(e, 'UnknownOperationException', 'InvalidAction', 'NotImplemented', 'UnsupportedOperation')) return `the endpoint does not offer StartLiveTail (${code})`;
  if (hasAwsCode(e, 'InvalidOperationException')) return `the log group does not support Live Tail (${code})`;
  const status = (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  if (status === 404 || status === 405 || status === 501) return `the endpoint does not offer StartLiveTail (HTTP ${status})`;
  // The SDK's `stream-` host prefix on an endpoint of the user's (AWS_ENDPOINT_URL) that has no such name.
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const c = (cur as { code?: unknown; hostname?: unknown }).code;
    if (c === 'ENOTFOUND') return `the Live Tail endpoint's name does not resolve (${String((cur as { hostname?: unknown }).hostname ?? 'ENOTFOUND')})`;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const keyOf = (e: Pick<LogLine, 'stream' | 'timestamp' | 'message'>) => `${e.stream}\n${e.timestamp}\n${e.message}`;

function toLine(e: LiveTailSessionLogEvent): LogLine {
  const timestamp = e.timestamp ?? 0;
  const stream = e.logStreamName ?? '';
  const message = (e.message ?? '').replace(/\r?\n$/, '');
  return { timestamp, stream, message, eventId: keyOf({ stream, timestamp, message }) };
}

/**
 * Follow through Live Tail until the signal aborts or `until` passes. Errors before the first session
 * that mean "no Live Tail here" come back as `unavailable`; other errors are thrown as CliErrors.
 */
export async function followLiveTail(logs: LogsApi, o: LiveTailOptions, sink: TailSink): Promise<LiveTailOutcome> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? abortableSleep;
  const lookback = o.lookbackMs ?? 30_000;
  const maxBackoff = o.maxBackoffMs ?? 30_000;
  const aborted = () => Boolean(o.signal?.aborted);
  const over = () => o.until !== undefined && now() >= o.until;
  let count = 0;
  let newest: number | undefined;
  /** What was printed within the lookback window, by stream, timestamp and message. */
  const printed = new Map<string, number>();
  let sessions = 0;
  let failures = 0;
  let warnedSampled = false;

  const done = (interrupted: boolean): LiveTailOutcome => ({ kind: 'done', result: { count, interrupted } });
  const deliver = (lines: LogLine[]) => {
    const fresh = lines
      .filter((e) => streamMatches(e.stream, o.streams) && (o.until === undefined || e.timestamp <= o.until) && !printed.has(keyOf(e)))
      .sort((a, b) => a.timestamp - b.timestamp);
    if (fresh.length === 0) return;
    for (const e of fresh) {
      printed.set(keyOf(e), e.timestamp);
      newest = Math.max(newest ?? e.timestamp, e.timestamp);
    }
    const floor = Math.min(newest!, now()) - lookback;
    for (const [k, ts] of printed) if (ts < floor) printed.delete(k);
    count += fresh.length;
    sink.events(fresh);
  };

  for (;;) {
    if (aborted()) return done(true);
    if (over()) return done(false);
    // This session's own end: the signal, `until`, or its stream ending.
    const session = new AbortController();
    const stopAt = o.until !== undefined ? setTimeout(() => session.abort(), Math.max(0, o.until - now())) : undefined;
    const signal = o.signal ? AbortSignal.any([o.signal, session.signal]) : session.signal;
    try {
      let res;
      try {
        res = await logs.startLiveTail({ logGroupIdentifiers: [o.logGroupArn], logEventFilterPattern: o.filterPattern || undefined }, { abortSignal: signal });
      } catch (e) {
        if (aborted()) return done(true);
        if (over()) return done(false);
        const why = sessions === 0 ? liveTailUnavailable(e) : undefined;
        if (why) return { kind: 'unavailable', reason: why };
        // A missing group or a bad --filter: the read below words it as the polling path does.
        if (sessions === 0 && hasAwsCode(e, 'ResourceNotFoundException', 'InvalidParameterException')) {
          await tailLogs(logs, { ...o, follow: false, endTime: o.until }, { events: () => undefined });
        }
        if (!isTransient(e)) throw toCliError(e, `Following log group ${o.logGroup} (Live Tail)`);
        throw e;
      }
      sessions++;
      // What was ingested before this session (all of it since --since the first time; since the
      // newest line printed, minus the lookback, after a reconnection).
      const from = newest === undefined ? o.startTime : Math.max(o.startTime, Math.min(newest, now()) - lookback);
      const history: LogLine[] = [];
      const read = await tailLogs(logs, { ...o, follow: false, startTime: from, endTime: o.until, signal }, { events: (lines) => history.push(...lines) });
      if (read.interrupted) return aborted() ? done(true) : done(false);
      deliver(history);
      for await (const event of res.responseStream ?? []) {
        const update = event.sessionUpdate;
        if (!update) continue;
        failures = 0;
        if (update.sessionMetadata?.sampled && !warnedSampled) {
          warnedSampled = true;
          sink.notice?.('More than 500 events a second matched: Live Tail sends a sample of them, so some lines are not shown (--filter narrows what is sent).', 'warn');
        }
        deliver((update.sessionResults ?? []).map(toLine));
      }
      // The stream ended without an exception: the server closed it. Open another.
    } catch (e) {
      if (aborted()) return done(true);
      if (over()) return done(false);
      if (hasAwsCode(e, 'SessionTimeoutException')) {
        sink.notice?.('The Live Tail session reached its 3-hour limit; starting a new one.', 'info');
        continue;
      }
      // A read worded as a CliError by tail.ts keeps the SDK's error as its cause.
      const cause = isCliError(e) ? (e.cause ?? e) : e;
      if (!hasAwsCode(cause, 'SessionStreamingException') && !isTransient(cause)) throw isCliError(e) ? e : toCliError(e, `Following log group ${o.logGroup} (Live Tail)`);
      failures++;
      const wait = Math.min(maxBackoff, o.pollMs * 2 ** failures);
      sink.notice?.(`The Live Tail session of ${o.logGroup} ended (${awsErrorCode(cause) ?? 'network error'}); starting a new one in ${Math.round(wait / 100) / 10}s.`, 'warn');
      await sleep(wait, o.signal);
    } finally {
      if (stopAt) clearTimeout(stopAt);
      session.abort();
    }
  }
}
