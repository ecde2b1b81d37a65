/**
 * The named Logs Insights queries of `ecs-cwlogs query` (latency, status, errors, top-paths,
 * slow), as data: the same text runs against AWS, against the sandbox and is saved as query
 * definitions for the console.
 *
 * They read the lab's access line as CloudWatch Logs holds it: rsyslog's framing (RFC 3339 time,
 * host, `httpd:`), then httpd's LogFormat (templates/httpd-command.sh) with `%D` as its last field:
 *
 *   2026-12-07T18:15:14.123456+00:00 ip-10-0-0-5 httpd: ip-10-0-0-5 10.0.0.9 - - [07/Dec/2026:18:15:14 +0000] "GET /index.html HTTP/1.1" 200 2048 "-" "curl/8.5.0" 1523
 *   <time> <host> httpd: %v %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D
 *
 * %r, Referer and User-agent are quoted, with `"` and `\` escaped by httpd as `\"` and `\\`;
 * %b is `-` for an empty body; %D is the time taken to serve the request, in microseconds.
 * Lines of the error stream (`...-httpd-error.log`) are matched by stream name only.
 *
 * Syntax: "CloudWatch Logs Insights language query syntax"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html): `parse` with a
 * regular expression's named groups creates fields; `stats ... by bin(period)`; `pct(field, n)`.
 * Durations are reported in milliseconds (duration_ms = %D / 1000).
 */

export const NAMED_QUERIES = ['latency', 'status', 'errors', 'top-paths', 'slow'] as const;
export type NamedQueryName = (typeof NAMED_QUERIES)[number];

export interface NamedQuery {
  name: NamedQueryName;
  description: string;
  query: string;
}

export interface NamedQueryOptions {
  /** The bin() period of `latency`, e.g. 1m, 5m, 1h (default 1m). */
  interval?: string;
  /** `slow`: requests at least this long, in milliseconds (default 1000). */
  slowMs?: number;
  /** `top-paths` and `slow`: how many rows (default 10 and 20). */
  top?: number;
}

/**
 * The access line's fields from the end: the quoted request, status, bytes, the quoted referer
 * and user agent, and %D. Anchored at the end so a request or agent containing `" 200 ` cannot
 * shift the fields. The same expression is used by the queries and by `ACCESS_LINE`.
 */
const INSIDE = String.raw`[^"\\]*(?:\\.[^"\\]*)*`; // the unrolled form of (?:[^"\\]|\\.)*: no alternation per character
const QUOTED = `"${INSIDE}"`;
export const ACCESS_LINE_SOURCE = String.raw`\] "(?<request>${INSIDE})" (?<status>\d{3}) (?<bytes>\d+|-) ${QUOTED} ${QUOTED} (?<duration>\d+)$`;
export const ACCESS_LINE = new RegExp(ACCESS_LINE_SOURCE);

const ACCESS_STREAM = String.raw`filter @logStream like /-httpd-access\.log$/`;
const ERROR_STREAM = String.raw`filter @logStream like /-httpd-error\.log$/`;
const PARSE_ACCESS = `parse @message /${ACCESS_LINE_SOURCE}/`;
const DURATION_MS = 'fields duration / 1000 as duration_ms';
const PATH = String.raw`parse request /^(?<method>\S+) (?<path>[^ ?]*)/`;

export class NamedQueryError extends Error {}

export function namedQuery(name: NamedQueryName, o: NamedQueryOptions = {}): NamedQuery {
  const interval = o.interval ?? '1m';
  if (!/^[1-9]\d*(?:s|m|h|d)$/.test(interval)) {
    throw new NamedQueryError(`interval ${JSON.stringify(interval)}: not a period: use a whole number and s, m, h or d, e.g. 5m`);
  }
  const slowMs = o.slowMs ?? 1000;
  if (!Number.isFinite(slowMs) || slowMs < 0) throw new NamedQueryError(`slow threshold ${slowMs}: not a number of milliseconds >= 0`);
  const top = o.top ?? (name === 'slow' ? 20 : 10);
  if (!Number.isInteger(top) || top < 1 || top > 10_000) throw new NamedQueryError(`top ${top}: not a whole number from 1 to 10000`);
  const lines = (...l: string[]): string => l.join('\n| ');
  switch (name) {
    case 'latency':
      return {
        name,
        description: `p50, p90 and p99 request duration (ms) and requests per ${interval}`,
        query: lines(
          ACCESS_STREAM,
          PARSE_ACCESS,
          'filter ispresent(duration)',
          DURATION_MS,
          `stats pct(duration_ms, 50) as p50_ms, pct(duration_ms, 90) as p90_ms, pct(duration_ms, 99) as p99_ms, count(*) as requests by bin(${interval}) as interval`,
          'sort interval asc',
        ),
      };
    case 'status':
      return {
        name,
        description: 'requests by HTTP status code',
        query: lines(ACCESS_STREAM, PARSE_ACCESS, 'filter ispresent(status)', 'stats count(*) as requests by status', 'sort status asc'),
      };
    case 'errors':
      return {
        name,
        description: "httpd's error lines, newest first",
        query: lines(ERROR_STREAM, 'fields @timestamp, @logStream, @message', 'sort @timestamp desc', `limit ${o.top ?? 100}`),
      };
    case 'top-paths':
      return {
        name,
        description: `the ${top} most requested paths (without query strings)`,
        query: lines(
          ACCESS_STREAM,
          PARSE_ACCESS,
          PATH,
          'filter ispresent(path)',
          DURATION_MS,
          'stats count(*) as requests, pct(duration_ms, 99) as p99_ms by path',
          'sort requests desc',
          `limit ${top}`,
        ),
      };
    case 'slow':
      return {
        name,
        description: `the ${top} slowest requests taking at least ${slowMs} ms`,
        query: lines(
          ACCESS_STREAM,
          PARSE_ACCESS,
          DURATION_MS,
          `filter duration_ms >= ${slowMs}`,
          'sort duration_ms desc',
          `limit ${top}`,
          'display @timestamp, @logStream, status, request, duration_ms',
        ),
      };
  }
}

/** The query definition's name, in a folder of the stack (the console shows `/` as folders). */
export function queryDefinitionName(stack: string, name: NamedQueryName): string {
  return `ecs-cwlogs/${stack}/${name}`;
}
