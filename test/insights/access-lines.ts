/**
 * Access lines as CloudWatch Logs holds them for the lab: rsyslog's framing, then httpd's LogFormat
 * (templates/httpd-command.sh) with %D (microseconds) last, for the named-query tests and the
 * Insights benchmark.
 */
import type { LogEvent } from '../../src/sandbox/insights/query.js';

export interface Access {
  at: number;
  method?: string;
  path?: string;
  status: number;
  bytes?: number;
  agent?: string;
  durationUs: number;
  stream?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/** httpd's %t: [07/Dec/2026:18:15:14 +0000]. */
function clf(ms: number): string {
  const d = new Date(ms);
  return `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
}

/** httpd escapes " and \ in %r and quoted headers. */
const esc = (s: string): string => s.replace(/[\\"]/g, '\\$&');

export function accessLine(a: Access): string {
  const iso = new Date(a.at).toISOString().replace('Z', '000+00:00');
  const request = `${a.method ?? 'GET'} ${a.path ?? '/'} HTTP/1.1`;
  return `${iso} ip-10-0-0-5 httpd: ip-10-0-0-5 10.0.0.9 - - [${clf(a.at)}] "${esc(request)}" ${a.status} ${a.bytes ?? '-'} "-" "${esc(a.agent ?? 'curl/8.5.0')}" ${a.durationUs}`;
}

export const ACCESS_STREAM = 'i-0abc-ip-10-0-0-5-10.0.0.5-httpd-access.log';
export const ERROR_STREAM = 'i-0abc-ip-10-0-0-5-10.0.0.5-httpd-error.log';

export function accessEvent(a: Access): LogEvent {
  return { timestamp: a.at, message: accessLine(a), logStream: a.stream ?? ACCESS_STREAM, logGroup: 'ecs-cwlogs-lab', ingestionTime: a.at + 1500 };
}
