/**
 * Running one Logs Insights query to the end (the logic behind `ecs-cwlogs query`, the chart of
 * `status` and `query --chart`), with no terminal in sight.
 *
 * StartQuery, then GetQueryResults every pollMs until the status is Complete (or Failed, Cancelled,
 * Timeout, Unknown). AWS: "StartQuery ... returns a query ID, which you can use with GetQueryResults
 * to retrieve the results" and the query "times out after 60 minutes of runtime"
 * (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html,
 * API_GetQueryResults.html). Our own timeout is shorter (the caller's): once it passes, or when the
 * signal aborts (Ctrl-C), the query is stopped with StopQuery so it does not keep scanning (and
 * billing, "$0.005 per GB of data scanned") in the account, and the error says which.
 *
 * StartQuery's startTime and endTime are epoch seconds (not ms). Each row of the results is a list
 * of {field, value}; `@ptr` (a pointer for GetLogRecord) is kept out of the rows.
 *
 * A query the service cannot compile fails with MalformedQueryException, carrying
 * queryCompileError {location {startCharOffset, endCharOffset}, message}: a user's mistake (exit 2),
 * reported with the query and a caret under the place.
 */
import type { GetQueryResultsCommandOutput, QueryCompileError } from '@aws-sdk/client-cloudwatch-logs';
import type { LogsApi } from '../aws/clients.js';
import { toCliError } from '../aws/errors.js';
import { AwsError, InterruptedError, UserInputError, hasAwsCode } from '../core/errors.js';
import { abortableSleep, isMissingGroup } from './tail.js';

export interface QueryRun {
  logGroup: string;
  query: string;
  /** Epoch ms, inclusive. */
  startTime: number;
  /** Epoch ms, inclusive. */
  endTime: number;
  /** Give up (and StopQuery) after this long. */
  timeoutMs: number;
  pollMs: number;
  limit?: number;
  signal?: AbortSignal;
  region?: string;
  /** For the missing-group error: what to run to create it. */
  createCommand?: string;
  /** What the query is called in messages: `latency`, or "the query". */
  label?: string;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export type Row = Record<string, string>;

export interface QueryResult {
  queryId: string;
  /** The fields in the order they first appear (the query's display order), `@ptr` left out. */
  fields: string[];
  rows: Row[];
  statistics: { recordsMatched: number; recordsScanned: number; bytesScanned: number };
  /** How long from StartQuery to Complete, ms. */
  elapsedMs: number;
}

const DONE = new Set(['Complete', 'Failed', 'Cancelled', 'Timeout', 'Unknown']);

/** Run the query to completion; StopQuery on timeout or abort. Errors are CliErrors. */
export async function runQuery(logs: LogsApi, o: QueryRun): Promise<QueryResult> {
  const sleep = o.sleep ?? abortableSleep;
  const now = o.now ?? Date.now;
  const label = o.label ?? 'the query';
  const t0 = now();
  let queryId: string;
  try {
    const started = await logs.startQuery(
      {
        logGroupName: o.logGroup,
        queryString: o.query,
        startTime: Math.floor(o.startTime / 1000),
        endTime: Math.ceil(o.endTime / 1000),
        ...(o.limit ? { limit: o.limit } : {}),
      },
      { abortSignal: o.signal },
    );
    if (!started.queryId) throw new AwsError({ what: `Starting ${label} failed`, why: 'StartQuery answered without a query id', fix: 'Try again; if it persists, report it with --verbose.' });
    queryId = started.queryId;
  } catch (e) {
    if (o.signal?.aborted) throw interrupted(label, false);
    throw startError(e, o, label);
  }
  const stop = async () => {
    await logs.stopQuery({ queryId }).catch(() => undefined); // already finished, or gone: nothing to stop
  };
  for (;;) {
    if (o.signal?.aborted) {
      await stop();
      throw interrupted(label, true);
    }
    let res: GetQueryResultsCommandOutput;
    try {
      res = await logs.getQueryResults({ queryId }, { abortSignal: o.signal });
    } catch (e) {
      if (o.signal?.aborted) continue;
      await stop();
      throw toCliError(e, `Reading the results of ${label}`);
    }
    const status = res.status ?? 'Unknown';
    if (status === 'Complete') return toResult(queryId, res, now() - t0);
    if (DONE.has(status)) {
      throw new AwsError({
        what: `${capital(label)} ended ${status}`,
        why: status === 'Timeout' ? 'Logs Insights gives a query at most 60 minutes' : status === 'Cancelled' ? 'it was stopped (StopQuery) before it completed' : 'Logs Insights could not run it',
        fix: 'Narrow the time range (--since/--until) and try again.',
      });
    }
    if (now() - t0 >= o.timeoutMs) {
      await stop();
      throw new AwsError({
        what: `${capital(label)} did not complete within ${Math.round(o.timeoutMs / 1000)}s`,
        why: `it was still ${status} after scanning ${res.statistics?.recordsScanned ?? 0} records; it has been stopped (StopQuery)`,
        fix: 'Narrow the time range with --since/--until, or wait longer with --timeout.',
      });
    }
    await sleep(o.pollMs, o.signal);
  }
}

function toResult(queryId: string, res: GetQueryResultsCommandOutput, elapsedMs: number): QueryResult {
  const fields: string[] = [];
  const rows: Row[] = [];
  for (const r of res.results ?? []) {
    const row: Row = {};
    for (const f of r) {
      if (!f.field || f.field === '@ptr') continue;
      if (!fields.includes(f.field)) fields.push(f.field);
      row[f.field] = f.value ?? '';
    }
    rows.push(row);
  }
  const s = res.statistics ?? {};
  return { queryId, fields, rows, statistics: { recordsMatched: s.recordsMatched ?? 0, recordsScanned: s.recordsScanned ?? 0, bytesScanned: s.bytesScanned ?? 0 }, elapsedMs };
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function interrupted(label: string, stopped: boolean): InterruptedError {
  return new InterruptedError({ what: 'Interrupted', why: `Ctrl-C before ${label} completed${stopped ? '; it has been stopped (StopQuery)' : ''}` });
}

/** The query with a caret line under [start, end] of the place the compiler names. */
export function pointAt(query: string, err: QueryCompileError | undefined): string | undefined {
  const start = err?.location?.startCharOffset;
  if (start === undefined || start < 0 || start > query.length) return undefined;
  const end = Math.max(start, Math.min(query.length - 1, err?.location?.endCharOffset ?? start));
  const lineStart = query.lastIndexOf('\n', start - 1) + 1;
  const lineEnd = query.indexOf('\n', start);
  const line = query.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  const lineNo = query.slice(0, lineStart).split('\n').length;
  const width = Math.max(1, Math.min(end, lineEnd < 0 ? query.length - 1 : lineEnd - 1) - start + 1);
  return `line ${lineNo}, column ${start - lineStart + 1}:\n  ${line}\n  ${' '.repeat(start - lineStart)}${'^'.repeat(width)}`;
}

function startError(e: unknown, o: QueryRun, label: string): unknown {
  if (hasAwsCode(e, 'MalformedQueryException')) {
    const compile = (e as { queryCompileError?: QueryCompileError }).queryCompileError;
    const where = pointAt(o.query, compile);
    const message = compile?.message ?? (e instanceof Error ? e.message : String(e));
    return new UserInputError({
      what: `Logs Insights cannot run ${label}`,
      why: `${message}${where ? ` at ${where}\n` : ''}`,
      fix: 'Fix the query (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html), or run a named one: latency, status, errors, top-paths, slow.',
      cause: e,
    });
  }
  if (isMissingGroup(e)) {
    return new AwsError({
      what: `Log group "${o.logGroup}" does not exist${o.region ? ` in ${o.region}` : ''}`,
      why: 'there is nothing to query until the stack is set up (or --log-group, --region or --stack points somewhere else)',
      fix: `Run \`${o.createCommand ?? 'ecs-cwlogs up'}\` to create it, or pass --log-group with the group's name.`,
      code: 'ResourceNotFoundException',
      cause: e,
    });
  }
  if (hasAwsCode(e, 'InvalidParameterException') && /time/i.test(e instanceof Error ? e.message : '')) {
    return new UserInputError({ what: `Logs Insights refused the time range of ${label}`, why: e instanceof Error ? e.message : String(e), fix: 'Check --since and --until (the start before the end, neither before the log group existed).', cause: e });
  }
  return toCliError(e, `Starting ${label}`);
}
