/**
 * CloudWatch Logs Insights: StartQuery, GetQueryResults, StopQuery, DescribeQueries. The language is
 * src/sandbox/insights/query.ts (its header lists the sources and the differences from AWS).
 *
 * Sources (API reference):
 * - StartQuery: exactly one of logGroupName, logGroupNames (up to 50) or logGroupIdentifiers;
 *   startTime/endTime in seconds since the epoch, the range inclusive; limit 1-10,000; queryString up
 *   to 10,000 characters; "You can have up to 30 concurrent CloudWatch Logs insights queries,
 *   including queries that have been added to dashboards" (LimitExceededException); a query that does
 *   not parse is a MalformedQueryException with a queryCompileError (location startCharOffset,
 *   endCharOffset, and a message).
 * - GetQueryResults: status Scheduled | Running | Complete | Failed | Cancelled | Timeout | Unknown;
 *   results are lists of {field, value}; statistics recordsMatched, recordsScanned, bytesScanned;
 *   "Only the fields requested in the query are returned, along with a @ptr field"; query results
 *   are kept for 7 days.
 * - StopQuery: `success` "is true if the query was stopped by the StopQuery operation" (so a query
 *   already ended answers false).
 *
 * StartQuery and StopQuery are not counted as mutating calls (IAM's access level for
 * logs:StartQuery and logs:StopQuery is Read: they change no resource of the account), so a run that
 * only queries makes 0 mutating calls; a persisted state file holds the queries as of the last
 * mutating call that saved it.
 *
 * The sandbox's model: a query is answered when StartQuery accepts it (over the events stored then);
 * GetQueryResults shows it Scheduled, then Running, then Complete as the sandbox clock passes the
 * profile's phases (realistic: QUERY_PHASES_MS below; none and fast: Complete at once). Results are
 * returned only once Complete (AWS may return partial results while Running).
 */
import type {
  DescribeQueriesRequest,
  DescribeQueriesResponse,
  GetQueryResultsRequest,
  GetQueryResultsResponse,
  StartQueryRequest,
  StartQueryResponse,
  StopQueryRequest,
  StopQueryResponse,
} from '@aws-sdk/client-cloudwatch-logs';
import { randomUUID } from 'node:crypto';
import { runQuery, QuerySyntaxError, type LogEvent as QueryEvent } from '../../insights/query.js';
import { paginate } from '../../paginate.js';
import { jsonBody, typedOperation, type Call } from '../../typed.js';
import { ServiceError, type LatencyProfileName, type Operation, type World } from '../../types.js';
import { int, list } from '../util.js';
import { DAY_MS, checkGroupName, findGroup, invalidParameter, invalidToken, required } from './common.js';
import { QUERY_STATUS, state, type LogGroupRecord, type QueryRecord, type QueryStatusName } from './records.js';

export const MAX_CONCURRENT_QUERIES = 30;
const MAX_QUERY_GROUPS = 50;
const MAX_QUERY_LENGTH = 10_000;
const RESULTS_KEPT_MS = 7 * DAY_MS;

/**
 * How long a query stays Scheduled, and Running (a base plus a rate over the bytes it scans), per
 * latency profile. Realistic follows what the console shows for a small log group: about a second
 * or two from start to Complete.
 */
export const QUERY_PHASES_MS: Record<LatencyProfileName, { scheduled: number; running: number; perMB: number }> = {
  none: { scheduled: 0, running: 0, perMB: 0 },
  fast: { scheduled: 0, running: 0, perMB: 0 },
  realistic: { scheduled: 300, running: 900, perMB: 20 },
};

function queries(world: World): Record<string, QueryRecord> {
  return (state(world).queries ??= {});
}

function statusOf(q: QueryRecord, now: number): QueryStatusName {
  if (q.cancelledAt !== undefined) return 'Cancelled';
  if (now < q.runningAt) return 'Scheduled';
  if (now < q.completeAt) return 'Running';
  return 'Complete';
}

function running(status: QueryStatusName): boolean {
  return status === 'Scheduled' || status === 'Running';
}

function seconds(value: unknown, member: string): number {
  if (value === undefined || value === null) {
    throw invalidParameter(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  const n = int(value);
  if (n === undefined || !Number.isInteger(n) || n < 0) {
    throw invalidParameter(`1 validation error detected: Value '${String(value)}' at '${member}' failed to satisfy constraint: Member must have value greater than or equal to 0`);
  }
  return n;
}

/** The log groups of a StartQuery: exactly one of the three members. */
function queryGroups(p: StartQueryRequest, world: World, region: string): LogGroupRecord[] {
  const given = [p.logGroupName !== undefined, p.logGroupNames !== undefined, p.logGroupIdentifiers !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw invalidParameter('A StartQuery operation must include exactly one of logGroupName, logGroupNames or logGroupIdentifiers.');
  }
  if (p.logGroupName !== undefined) return [findGroup(world, region, { logGroupName: checkGroupName(p.logGroupName) })];
  const names = list<string>(p.logGroupNames ?? p.logGroupIdentifiers);
  const member = p.logGroupNames !== undefined ? 'logGroupNames' : 'logGroupIdentifiers';
  if (names.length < 1 || names.length > MAX_QUERY_GROUPS) {
    throw invalidParameter(
      `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length ${names.length ? `less than or equal to ${MAX_QUERY_GROUPS}` : 'greater than or equal to 1'}`,
    );
  }
  const groups = names.map((n) =>
    member === 'logGroupNames' ? findGroup(world, region, { logGroupName: checkGroupName(n, 'logGroupNames.member') }) : findGroup(world, region, { logGroupIdentifier: n }),
  );
  return [...new Set(groups)];
}

/** The stored events of the groups in [lo, hi] ms, as the query engine reads them. */
function eventsOf(groups: readonly LogGroupRecord[], lo: number, hi: number): (QueryEvent & { seq: number })[] {
  const out: (QueryEvent & { seq: number })[] = [];
  for (const g of groups) {
    for (const s of Object.values(g.streams)) {
      for (const e of s.events) {
        if (e.timestamp < lo || e.timestamp > hi) continue;
        out.push({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime, logStream: s.logStreamName, logGroup: g.logGroupName, seq: e.seq });
      }
    }
  }
  // Streams are each in timestamp order; one sort keeps the scan's fast path (newest first, stable).
  out.sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
  return out;
}

function startQuery(p: StartQueryRequest, { world, region, now }: Call): StartQueryResponse {
  if (p.queryLanguage !== undefined && p.queryLanguage !== 'CWLI') {
    throw invalidParameter(`The sandbox runs only the Logs Insights query language (CWLI), not ${String(p.queryLanguage)}.`);
  }
  const queryString = required(p.queryString, 'queryString');
  if (queryString.length > MAX_QUERY_LENGTH) {
    throw invalidParameter(`1 validation error detected: Value at 'queryString' failed to satisfy constraint: Member must have length less than or equal to ${MAX_QUERY_LENGTH}`);
  }
  const startTime = seconds(p.startTime, 'startTime');
  const endTime = seconds(p.endTime, 'endTime');
  if (endTime < startTime) throw invalidParameter('endTime must be greater than or equal to startTime.');
  const limit = p.limit === undefined ? undefined : int(p.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 10_000)) {
    throw invalidParameter(`1 validation error detected: Value '${String(p.limit)}' at 'limit' failed to satisfy constraint: Member must have value ${limit < 1 ? 'greater than or equal to 1' : 'less than or equal to 10000'}`);
  }
  const groups = queryGroups(p, world, region);

  const all = queries(world);
  for (const [id, q] of Object.entries(all)) if (now - q.createTime > RESULTS_KEPT_MS) delete all[id];
  const active = Object.values(all).filter((q) => q.region === region && running(statusOf(q, now))).length;
  if (active >= MAX_CONCURRENT_QUERIES) {
    throw new ServiceError('LimitExceededException', `Account maximum query concurrency limit of [${MAX_CONCURRENT_QUERIES}] reached.`, 400);
  }

  const account = world.settings.accountId;
  let answer;
  try {
    answer = runQuery(queryString, eventsOf(groups, startTime * 1000, endTime * 1000 + 999), {
      accountId: account,
      startTime: startTime * 1000,
      endTime: endTime * 1000 + 999,
      limit,
      ptr: (ev) => Buffer.from(`${account}|${region}|${ev.logGroup}|${ev.logStream}|${ev.seq}`).toString('base64'),
    });
  } catch (e) {
    if (e instanceof QuerySyntaxError) {
      throw new ServiceError('MalformedQueryException', e.message, 400, 'Sender', {
        queryCompileError: { location: { startCharOffset: e.start, endCharOffset: e.end }, message: e.message },
      });
    }
    throw e;
  }
  const phases = QUERY_PHASES_MS[world.settings.latency.name] ?? QUERY_PHASES_MS.none;
  const runningAt = now + phases.scheduled;
  const queryId = randomUUID();
  all[queryId] = {
    queryId,
    region,
    queryString,
    logGroupNames: groups.map((g) => g.logGroupName),
    startTime,
    endTime,
    createTime: now,
    runningAt,
    completeAt: runningAt + phases.running + Math.round((answer.statistics.bytesScanned / 1e6) * phases.perMB),
    results: answer.results,
    statistics: answer.statistics,
  };
  return { queryId };
}

function findQuery(world: World, region: string, id: unknown, now: number): QueryRecord {
  const queryId = required(id, 'queryId');
  const q = queries(world)[queryId];
  if (!q || q.region !== region || now - q.createTime > RESULTS_KEPT_MS) {
    throw new ServiceError('ResourceNotFoundException', `Query ${queryId} does not exist.`, 400);
  }
  return q;
}

function getQueryResults(p: GetQueryResultsRequest, { world, region, now }: Call): GetQueryResultsResponse {
  const q = findQuery(world, region, p.queryId, now);
  const status = statusOf(q, now);
  if (status !== 'Complete') {
    return { queryLanguage: 'CWLI', status, results: [], statistics: { recordsMatched: 0, recordsScanned: 0, bytesScanned: 0 } };
  }
  return {
    queryLanguage: 'CWLI',
    status,
    results: q.results.map((row) => row.map((f) => ({ ...f }))),
    statistics: { ...q.statistics },
  };
}

function stopQuery(p: StopQueryRequest, { world, region, now }: Call): StopQueryResponse {
  const q = findQuery(world, region, p.queryId, now);
  if (!running(statusOf(q, now))) return { success: false };
  q.cancelledAt = now;
  q.results = [];
  return { success: true };
}

function describeQueries(p: DescribeQueriesRequest, { world, region, now }: Call): DescribeQueriesResponse {
  const max = p.maxResults === undefined ? undefined : int(p.maxResults);
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 1000)) {
    throw invalidParameter(`1 validation error detected: Value '${String(p.maxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000`);
  }
  if (p.status !== undefined && !QUERY_STATUS.some((s) => s === p.status)) {
    throw invalidParameter(`1 validation error detected: Value '${String(p.status)}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [${QUERY_STATUS.join(', ')}]`);
  }
  const name = p.logGroupName === undefined ? undefined : checkGroupName(p.logGroupName);
  const found = Object.values(queries(world))
    .filter((q) => q.region === region && now - q.createTime <= RESULTS_KEPT_MS)
    .filter((q) => name === undefined || q.logGroupNames.includes(name))
    .map((q, i) => ({ q, i, status: statusOf(q, now) }))
    .filter(({ status }) => p.status === undefined || status === p.status)
    // newest first; queries started at the same time, the later started first
    .sort((a, b) => b.q.createTime - a.q.createTime || b.i - a.i);
  const page = paginate(found, { maxResults: max, nextToken: p.nextToken, defaultPageSize: 1000, settings: world.settings, invalidToken });
  return {
    queries: page.items.map(({ q, status }) => ({
      queryLanguage: 'CWLI',
      queryId: q.queryId,
      queryString: q.queryString,
      status,
      createTime: q.createTime,
      logGroupName: q.logGroupNames[0],
    })),
    nextToken: page.nextToken,
  };
}

export const insightsOperations: Record<string, Operation> = {
  StartQuery: typedOperation({ mutating: false, decode: jsonBody<StartQueryRequest>, handler: startQuery }),
  GetQueryResults: typedOperation({ mutating: false, decode: jsonBody<GetQueryResultsRequest>, handler: getQueryResults }),
  StopQuery: typedOperation({ mutating: false, decode: jsonBody<StopQueryRequest>, handler: stopQuery }),
  DescribeQueries: typedOperation({ mutating: false, decode: jsonBody<DescribeQueriesRequest>, handler: describeQueries }),
};
