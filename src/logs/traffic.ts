/**
 * Requests per minute and p99 latency over a window (the last hour for `status`), from the named
 * `latency` query at a 1-minute bin: one point per minute of the window, a minute without requests
 * counted as 0 (Logs Insights returns no row for an empty bin).
 */
import type { LogsApi } from '../aws/clients.js';
import { runQuery, type QueryResult, type QueryRun } from './insights.js';
import { namedQuery } from './queries.js';

export interface TrafficPoint {
  t: number;
  requests: number;
  p99?: number;
}

const MINUTE = 60_000;

/** Insights' bin() value: "2026-12-07 18:15:00.000" (UTC), to epoch ms. */
export function binTime(v: string): number {
  return Date.parse(`${v.trim().replace(' ', 'T')}${/Z|[+-]\d\d:?\d\d$/.test(v) ? '' : 'Z'}`);
}

/** One point per minute of [startTime, endTime] from the latency query's rows. */
export function trafficPoints(result: Pick<QueryResult, 'rows'>, startTime: number, endTime: number): TrafficPoint[] {
  const byMinute = new Map<number, { requests: number; p99?: number }>();
  for (const r of result.rows) {
    const t = binTime(r.interval ?? '');
    if (Number.isNaN(t)) continue;
    const p99 = Number(r.p99_ms);
    byMinute.set(Math.floor(t / MINUTE) * MINUTE, { requests: Number(r.requests) || 0, ...(r.p99_ms !== undefined && Number.isFinite(p99) ? { p99 } : {}) });
  }
  const out: TrafficPoint[] = [];
  for (let m = Math.floor(startTime / MINUTE) * MINUTE; m <= endTime; m += MINUTE) out.push({ t: m, requests: 0, ...byMinute.get(m) });
  return out;
}

/** Run the latency query at 1m over the window and return its points. */
export async function traffic(logs: LogsApi, o: Omit<QueryRun, 'query' | 'label'>): Promise<{ points: TrafficPoint[]; result: QueryResult }> {
  const q = namedQuery('latency', { interval: '1m' });
  const result = await runQuery(logs, { ...o, query: q.query, label: 'the latency query' });
  return { points: trafficPoints(result, o.startTime, o.endTime), result };
}
