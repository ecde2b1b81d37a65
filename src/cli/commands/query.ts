/**
 * `ecs-cwlogs query`: Logs Insights from the terminal. A named query of src/logs/queries.ts (latency,
 * status, errors, top-paths, slow) or a raw query string, over --since/--until (parsed as `logs`
 * parses --since), run to completion (src/logs/insights.ts) and printed:
 *   - a table (stdout), the query's statistics on stderr;
 *   - --json: exactly one document {query, name?, logGroup, startTime, endTime, fields, rows, statistics};
 *   - --csv: RFC 4180 (a header line, then one line per row);
 *   - --chart: requests per minute and p99 latency over the window (the latency query at 1m),
 *     drawn on a terminal, plain numbers when piped; with --json, the points.
 *
 * Exit codes: 0 done (no rows is a result too), 1 the query failed or timed out (it is stopped),
 * 2 a bad flag or a query Logs Insights cannot compile (with the place), 130 Ctrl-C (the query is
 * stopped with StopQuery first).
 */
import { Command, Option } from 'commander';
import { UserInputError } from '../../core/errors.js';
import { parseSince } from '../../logs/tail.js';
import { runQuery } from '../../logs/insights.js';
import { NAMED_QUERIES, NamedQueryError, namedQuery, type NamedQueryName } from '../../logs/queries.js';
import { chooseQuery, toCsv, toTable } from '../../logs/results.js';
import { traffic } from '../../logs/traffic.js';
import { trafficChart, type TrafficPoint } from '../../io/chart.js';
import type { Context } from '../../engine/context.js';
import { colorLevel } from '../../io/terminal.js';
import { action, type Runtime } from '../run.js';
import { addSettingOptions, examples } from './options.js';

interface QueryFlags {
  since: string;
  until?: string;
  interval?: string;
  slowMs?: string;
  top?: string;
  limit?: string;
  csv?: boolean;
  chart?: boolean;
  timeout: string;
  json?: boolean;
}

/** Between two GetQueryResults calls against AWS (the sandbox's polling is faster). */
const AWS_POLL_MS = 1000;

export function queryCommand(): Command {
  const cmd = new Command('query')
    .description(`Run a Logs Insights query on the log group: ${NAMED_QUERIES.join(', ')}, or a query string; a table, --json or --csv`)
    .argument('[query]', `a named query (${NAMED_QUERIES.join(', ')}) or a Logs Insights query string`)
    .addOption(new Option('--since <when>', 'from this long ago (30s, 10m, 1h, 2d, 1w) or an ISO-8601 time (UTC unless it has an offset)').default('1h'))
    .option('--until <when>', 'up to this long ago, or an ISO-8601 time (UTC unless it has an offset; default: now)')
    .option('--interval <period>', 'latency: the bin of each row (1m, 5m, 1h)')
    .option('--slow-ms <ms>', 'slow: requests taking at least this many ms (default 1000)')
    .option('--top <n>', 'top-paths, slow, errors: how many rows')
    .option('--limit <n>', 'at most this many rows (Logs Insights: 10,000 at most)')
    .option('--csv', 'CSV (RFC 4180) on stdout instead of a table')
    .option('--chart', 'requests per minute and p99 latency over the window, as a chart (plain numbers when piped)')
    .addOption(new Option('--timeout <duration>', 'stop the query (StopQuery) if it has not completed by then').default('60s'));
  addSettingOptions(cmd, ['logGroup']);
  cmd.addHelpText(
    'after',
    `\nThe named queries read the access line with its duration (%D, microseconds) last; durations are\n` +
      `shown in ms. Rows go to stdout, the query's statistics to stderr.\n` +
      examples([
        'ecs-cwlogs query latency --since 3h --interval 5m',
        'ecs-cwlogs query status --json | jq .rows',
        'ecs-cwlogs query top-paths --csv > paths.csv',
        'ecs-cwlogs query slow --slow-ms 250',
        "ecs-cwlogs query 'filter @message like /POST/ | stats count(*) by bin(5m)'",
        'ecs-cwlogs query --chart',
      ]),
  );
  cmd.action(action(async (rt) => run(rt, cmd.args[0], rt.opts as unknown as QueryFlags)));
  return cmd;
}

function number(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UserInputError({ what: `Invalid ${flag} "${v}"`, why: `it is not a number of at least ${min}`, fix: `Pass ${flag} with a number, e.g. ${flag} ${Math.max(min, 10)}.` });
  return n;
}

/** `--timeout 90s`/`2m`: a duration in ms. */
function duration(flag: string, v: string): number {
  const m = /^(\d+)\s*(ms|s|m)?$/.exec(v.trim());
  if (!m || Number(m[1]) <= 0) throw new UserInputError({ what: `Invalid ${flag} "${v}"`, why: 'it is not a duration', fix: `Use seconds or minutes, e.g. ${flag} 90s or ${flag} 5m.` });
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
}

function when(flag: string, v: string, now: number): number {
  try {
    return parseSince(v, now);
  } catch (e) {
    if (e instanceof UserInputError) throw new UserInputError({ what: `Invalid ${flag} "${v}"`, why: e.why, fix: e.fix });
    throw e;
  }
}

interface Resolved {
  query: string;
  name?: NamedQueryName;
  startTime: number;
  endTime: number;
  timeoutMs: number;
  limit?: number;
}

/** Every flag checked before any call (a user's mistake is exit 2 with nothing sent). */
function resolve(text: string | undefined, f: QueryFlags, now: number): Resolved {
  if (f.csv && f.json) throw new UserInputError({ what: '--csv and --json together', why: 'stdout carries one format', fix: 'Pass one of them.' });
  if (f.chart && f.csv) throw new UserInputError({ what: '--chart and --csv together', why: 'the chart is the latency query per minute, not rows to export', fix: 'Run `query latency --interval 1m --csv` for the figures as CSV.' });
  const startTime = when('--since', f.since, now);
  const endTime = f.until ? when('--until', f.until, now) : now;
  if (startTime >= endTime) throw new UserInputError({ what: `--since is not before --until`, why: `${new Date(startTime).toISOString()} .. ${new Date(endTime).toISOString()} is an empty window`, fix: 'Pass an earlier --since or a later --until.' });
  const timeoutMs = duration('--timeout', f.timeout);
  const limit = number('--limit', f.limit, 1);
  if (limit !== undefined && (limit > 10_000 || !Number.isInteger(limit))) throw new UserInputError({ what: `Invalid --limit "${f.limit}"`, why: 'Logs Insights returns at most 10,000 rows', fix: 'Pass a whole number from 1 to 10000.' });
  if (f.chart) {
    if (text && text !== 'latency') throw new UserInputError({ what: `--chart with the query "${text}"`, why: 'the chart draws requests per minute and p99 latency: the latency query at 1m', fix: 'Run `query --chart` alone, with --since/--until for the window.' });
    return { query: namedQuery('latency', { interval: '1m' }).query, name: 'latency', startTime, endTime, timeoutMs };
  }
  if (!text) throw new UserInputError({ what: 'No query given', why: `query runs a named query (${NAMED_QUERIES.join(', ')}) or a Logs Insights query string`, fix: 'Run e.g. `ecs-cwlogs query latency`, or `ecs-cwlogs query --help`.' });
  const choice = chooseQuery(text);
  if (choice.kind === 'unknown') {
    throw new UserInputError({
      what: `Unknown query "${choice.word}"`,
      why: `it is not a named query (${NAMED_QUERIES.join(', ')}) and not a Logs Insights query string`,
      fix: choice.suggestion ? `Did you mean \`query ${choice.suggestion}\`?` : "Pass a named query, or a query string such as 'fields @timestamp, @message | limit 20'.",
    });
  }
  if (choice.kind === 'raw') {
    for (const [flag, v] of [['--interval', f.interval], ['--slow-ms', f.slowMs], ['--top', f.top]] as const) {
      if (v !== undefined) throw new UserInputError({ what: `${flag} with a query string`, why: `${flag} shapes the named queries only`, fix: `Write it into the query, or drop ${flag}.` });
    }
    return { query: choice.query, startTime, endTime, timeoutMs, limit };
  }
  try {
    const q = namedQuery(choice.name, { interval: f.interval, slowMs: number('--slow-ms', f.slowMs, 0), top: number('--top', f.top, 1) });
    return { query: q.query, name: choice.name, startTime, endTime, timeoutMs, limit };
  } catch (e) {
    if (e instanceof NamedQueryError) throw new UserInputError({ what: `Invalid option for query ${choice.name}`, why: e.message, fix: 'See `ecs-cwlogs query --help`.' });
    throw e;
  }
}

async function run(rt: Runtime, text: string | undefined, f: QueryFlags): Promise<number> {
  const q = resolve(text, f, Date.now());
  const ctx = rt.context(await rt.session(), 'inspect');
  const stackFlag = rt.stack === 'ecs-cwlogs' ? '' : ` --stack ${rt.stack}`;
  const common = {
    logGroup: ctx.config.logGroup,
    startTime: q.startTime,
    endTime: q.endTime,
    timeoutMs: q.timeoutMs,
    pollMs: Math.min(ctx.timing.pollMs, AWS_POLL_MS),
    signal: ctx.signal,
    region: ctx.config.region,
    createCommand: `ecs-cwlogs up${stackFlag}`,
  };
  const window = { logGroup: ctx.config.logGroup, startTime: new Date(q.startTime).toISOString(), endTime: new Date(q.endTime).toISOString() };
  rt.io.emit({ type: 'message', level: 'info', text: `Querying ${ctx.config.logGroup} from ${window.startTime} to ${window.endTime}${q.name ? ` (${q.name})` : ''}…` });
  if (f.chart) {
    const { points, result } = await traffic(ctx.logs, common);
    const draw = Boolean(process.stdout.isTTY);
    const color = colorLevel(process.stdout, rt.opts.color === false ? false : undefined) > 0;
    rt.io.emit({ type: 'message', level: 'info', text: stats(result.statistics, result.elapsedMs) });
    rt.io.result({ command: 'query', chart: true, ...window, points, statistics: result.statistics }, () => trafficChart(points, { draw, color }));
    return 0;
  }
  const result = await runQuery(ctx.logs, { ...common, query: q.query, limit: q.limit, label: q.name ? `the ${q.name} query` : 'the query' });
  // No rows: the fields are those the query names (a named query always does; a query string with
  // fields, display or stats), so a script reading the CSV or the JSON still sees its columns.
  const fields = result.rows.length || result.fields.length ? result.fields : await namedFields(q.query);
  const count = result.rows.length ? `${result.rows.length} row${result.rows.length === 1 ? '' : 's'}` : 'No rows';
  const csv = f.csv && !rt.io.json;
  const noHeader = csv && !fields ? '; no CSV header either: the query string names no fields (with fields, display or stats), so they are known only from its rows' : '';
  rt.io.emit({ type: 'message', level: 'info', text: `${count}; ${stats(result.statistics, result.elapsedMs)}${noHeader}` });
  if (csv) {
    if (fields) process.stdout.write(toCsv(fields, result.rows));
    return 0;
  }
  rt.io.result(
    { command: 'query', ...(q.name ? { name: q.name } : {}), query: q.query, ...window, fields: fields ?? [], rows: result.rows, statistics: result.statistics, queryId: result.queryId },
    () => (result.rows.length ? toTable(result.fields, result.rows) : ''),
  );
  return 0;
}

/**
 * The columns a query names, known without a row: read with the sandbox's Logs Insights parser
 * (the same one that answers the queries under --sandbox); undefined when the query names none
 * (its columns are whatever its rows carry) or the parser does not know its syntax.
 */
async function namedFields(query: string): Promise<string[] | undefined> {
  try {
    const { parseQuery, outputColumns } = await import('../../sandbox/insights/query.js');
    const { columns, explicit } = outputColumns(parseQuery(query));
    return explicit && columns.length ? columns : undefined;
  } catch {
    return undefined;
  }
}

function stats(s: { recordsMatched: number; recordsScanned: number; bytesScanned: number }, ms: number): string {
  return `${s.recordsMatched} of ${s.recordsScanned} records matched, ${s.bytesScanned} bytes scanned, ${(ms / 1000).toFixed(1)}s`;
}

/**
 * `status`'s picture: requests per minute and p99 latency over the last hour, when the hour had
 * requests. Started beside the steps' reads and given a few seconds (status stays fast): a query
 * that is slower, or fails (no log group yet, no logs:StartQuery permission), leaves the picture out
 * (said with --verbose), never the status.
 */
export async function statusTraffic(rt: Runtime, ctx: Pick<Context, 'logs' | 'config' | 'signal' | 'timing'>): Promise<{ points: TrafficPoint[]; text: string } | undefined> {
  const now = Date.now();
  try {
    const { points } = await traffic(ctx.logs, { logGroup: ctx.config.logGroup, startTime: now - 3_600_000, endTime: now, timeoutMs: 8000, pollMs: Math.min(ctx.timing.pollMs, 500), signal: ctx.signal });
    if (!points.some((p) => p.requests > 0)) return undefined;
    const draw = Boolean(process.stdout.isTTY) && !rt.io.json;
    const color = colorLevel(process.stdout, rt.opts.color === false ? false : undefined) > 0;
    return { points, text: trafficChart(points, { draw, color, height: 5 }) };
  } catch (e) {
    if (rt.opts.verbose) rt.io.emit({ type: 'message', level: 'info', text: `No traffic chart: ${e instanceof Error ? e.message : String(e)}` });
    return undefined;
  }
}
