/**
 * The metric store (world.state.monitoring.metrics) and the statistics CloudWatch computes from it.
 *
 * A metric is its namespace, name and dimensions, per region: "CloudWatch treats each unique
 * combination of dimensions as a separate metric" (CloudWatch concepts, "Dimensions"). Values are kept
 * raw and aggregated per period when read, so any period and any statistic can be asked for later.
 *
 * Percentiles (p50, p99.9): CloudWatch computes them from the values it has; the sandbox ranks the raw
 * values (nearest rank: the smallest value with at least p% of the values at or below it). Values
 * sent as StatisticValues (sum, count, min, max) have no distribution: CloudWatch documents that
 * percentiles are then unavailable, and the sandbox leaves them out of percentile statistics.
 */
import type { MetricDatum } from '../../metrics.js';
import type { World } from '../../types.js';
import { cwState, invalidParameterValue, type MetricSeries, type Point } from './common.js';

/** The newest points kept per metric (older ones are dropped). */
export const MAX_POINTS = 50_000;

export function metricKey(region: string, namespace: string, metricName: string, dimensions: Record<string, string>): string {
  const dims = Object.keys(dimensions)
    .sort()
    .map((k) => [k, dimensions[k]]);
  return JSON.stringify([region, namespace, metricName, dims]);
}

function seriesFor(world: World, region: string, namespace: string, metricName: string, dimensions: Record<string, string>, unit?: string): MetricSeries {
  const state = cwState(world);
  const key = metricKey(region, namespace, metricName, dimensions);
  let s = state.metrics[key];
  if (!s) s = state.metrics[key] = { region, namespace, metricName, dimensions: { ...dimensions }, points: [] };
  if (unit && !s.unit) s.unit = unit;
  return s;
}

function addPoint(s: MetricSeries, point: Point): void {
  // Kept in time order: data usually arrives in order, so this is an append.
  let i = s.points.length;
  while (i > 0 && s.points[i - 1][0] > point[0]) i--;
  s.points.splice(i, 0, point);
  if (s.points.length > MAX_POINTS) s.points.splice(0, s.points.length - MAX_POINTS);
}

/** The sink behind emitMetric (metric filters on ingest) and PutMetricData's Value. */
export function recordDatum(world: World, d: MetricDatum): void {
  addPoint(seriesFor(world, d.region, d.namespace, d.metricName, d.dimensions, d.unit), [d.timestamp, d.value, 1]);
}

/** Values with counts (PutMetricData Values + Counts). */
export function recordValues(world: World, region: string, ns: string, name: string, dims: Record<string, string>, t: number, values: number[], counts: number[], unit?: string): void {
  const s = seriesFor(world, region, ns, name, dims, unit);
  values.forEach((v, i) => addPoint(s, [t, v, counts[i] ?? 1]));
}

/** A statistic set (PutMetricData StatisticValues). */
export function recordStatisticSet(world: World, region: string, ns: string, name: string, dims: Record<string, string>, t: number, set: { sum: number; count: number; min: number; max: number }, unit?: string): void {
  addPoint(seriesFor(world, region, ns, name, dims, unit), [t, set.sum, set.count, set.min, set.max]);
}

export function findSeries(world: World, region: string, namespace: string, metricName: string, dimensions: Record<string, string>): MetricSeries | undefined {
  return cwState(world).metrics[metricKey(region, namespace, metricName, dimensions)];
}

/** The values of one period. */
export class Bucket {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** [value, count] of raw values, for percentiles. */
  raw: [number, number][] = [];

  add(p: Point): void {
    if (p.length >= 5) {
      this.count += p[2];
      this.sum += p[1];
      this.min = Math.min(this.min, p[3]);
      this.max = Math.max(this.max, p[4]);
      return;
    }
    const [, v, n] = p;
    this.count += n;
    this.sum += v * n;
    this.min = Math.min(this.min, v);
    this.max = Math.max(this.max, v);
    this.raw.push([v, n]);
  }
}

/**
 * The points of `s` in [start, end) grouped into periods of `periodMs` aligned on multiples of it
 * (GetMetricData: "the start time is rounded down" to the period, API_GetMetricData StartTime).
 */
export function buckets(s: MetricSeries | undefined, start: number, end: number, periodMs: number, unit?: string): Map<number, Bucket> {
  const out = new Map<number, Bucket>();
  if (!s || (unit && s.unit && s.unit !== unit)) return out;
  // Points are in time order: start at the first one in range (alarms read a few periods of a long series).
  let lo = 0;
  let hi = s.points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.points[mid][0] < start) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < s.points.length && s.points[i][0] < end; i++) {
    const p = s.points[i];
    const t = Math.floor(p[0] / periodMs) * periodMs;
    let b = out.get(t);
    if (!b) out.set(t, (b = new Bucket()));
    b.add(p);
  }
  return out;
}

const PERCENTILE = /^p(\d{1,2}(\.\d{1,10})?|100)$/;

/** Whether CloudWatch knows this statistic (Statistic or ExtendedStatistic pNN.NN). */
export function validStatistic(stat: string): boolean {
  return ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'].includes(stat) || PERCENTILE.test(stat);
}

/** One statistic of one period, or undefined when it cannot be computed (a percentile of statistic sets). */
export function statistic(b: Bucket, stat: string): number | undefined {
  if (b.count === 0) return undefined;
  switch (stat) {
    case 'SampleCount':
      return b.count;
    case 'Sum':
      return b.sum;
    case 'Average':
      return b.sum / b.count;
    case 'Minimum':
      return b.min;
    case 'Maximum':
      return b.max;
  }
  const m = PERCENTILE.exec(stat);
  if (!m) throw invalidParameterValue(`The value ${stat} for parameter Stat is not valid.`);
  return percentile(b.raw, Number(m[1]));
}

/** Nearest-rank percentile of weighted values. */
export function percentile(raw: [number, number][], p: number): number | undefined {
  const total = raw.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return undefined;
  const sorted = [...raw].sort((a, b) => a[0] - b[0]);
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [v, c] of sorted) {
    seen += c;
    if (seen >= rank) return v;
  }
  return sorted[sorted.length - 1][0];
}

/** Name/Value dimension lists <-> records. */
export function dimensionRecord(dims: { Name?: string; Value?: string }[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of dims ?? []) if (d.Name !== undefined) out[d.Name] = d.Value ?? '';
  return out;
}

export function dimensionList(dims: Record<string, string>): { Name: string; Value: string }[] {
  return Object.entries(dims).map(([Name, Value]) => ({ Name, Value }));
}
