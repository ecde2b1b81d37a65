/**
 * MetricDataQuery evaluation, shared by GetMetricData and alarms on metric math: each query is a
 * MetricStat (one metric, one statistic per period) or an Expression over other queries' ids.
 */
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { World } from '../../types.js';
import { invalidParameterValue } from './common.js';
import { evaluate, referencedIds, type MathValue } from './math.js';
import { buckets, dimensionRecord, findSeries, statistic, validStatistic } from './store.js';

const ID = /^[a-z][a-zA-Z0-9_]*$/;

/** Check ids, statistics and references, as GetMetricData and PutMetricAlarm do. */
export function validateQueries(queries: MetricDataQuery[], member: string): void {
  if (queries.length === 0) throw invalidParameterValue(`The parameter ${member} must contain at least one query.`);
  if (queries.length > 500) throw invalidParameterValue(`The collection ${member} must not have a size greater than 500.`);
  const ids = new Set<string>();
  for (const q of queries) {
    if (!q.Id || !ID.test(q.Id)) {
      throw invalidParameterValue(`The value ${q.Id ?? 'null'} for parameter ${member}.member.Id is invalid: it must start with a lowercase letter and contain only letters, numbers and underscores.`);
    }
    if (ids.has(q.Id)) throw invalidParameterValue(`The value ${q.Id} for parameter ${member}.member.Id is not unique.`);
    ids.add(q.Id);
    if (!!q.MetricStat === !!q.Expression) throw invalidParameterValue(`Exactly one element of the metrics list should have MetricStat or Expression (query ${q.Id}).`);
    if (q.MetricStat) {
      const ms = q.MetricStat;
      if (!ms.Metric?.MetricName || !ms.Metric.Namespace) throw invalidParameterValue(`The query ${q.Id} must name a Namespace and a MetricName.`);
      if (!ms.Stat || !validStatistic(ms.Stat)) throw invalidParameterValue(`The value ${ms.Stat ?? 'null'} for parameter ${member}.member.MetricStat.Stat is not valid.`);
      validPeriod(ms.Period, `${member}.member.MetricStat.Period`);
    }
  }
  for (const q of queries) {
    for (const ref of q.Expression ? referencedIds(q.Expression) : []) {
      if (!ids.has(ref)) throw invalidParameterValue(`Invalid metrics list: the expression of ${q.Id} references ${ref}, which is not an id of the list.`);
    }
  }
}

/** Period: 1, 5, 10, 20, 30, or a multiple of 60 (API_MetricStat, Period). */
export function validPeriod(period: number | undefined, member: string): number {
  if (period === undefined) throw invalidParameterValue(`The parameter ${member} is required.`);
  if (!Number.isInteger(period) || period < 1 || (period < 60 ? ![1, 5, 10, 20, 30].includes(period) : period % 60 !== 0)) {
    throw invalidParameterValue(`The parameter ${member} must be 1, 5, 10, 20, 30, or a multiple of 60.`);
  }
  return period;
}

/**
 * Every query's series over [start, end): periods of `periodMs` (GetMetricData: each MetricStat's own
 * Period; alarms: the scaled period). Returns id -> (period start ms -> value).
 */
export function runQueries(world: World, region: string, queries: MetricDataQuery[], start: number, end: number, periodMs: (q: MetricDataQuery) => number): Map<string, Map<number, number>> {
  const results = new Map<string, MathValue>();
  const byId = new Map(queries.map((q) => [q.Id!, q]));
  const visiting = new Set<string>();
  let defaultPeriod = 0;
  const get = (id: string): MathValue | undefined => {
    const done = results.get(id);
    if (done !== undefined) return done;
    const q = byId.get(id);
    if (!q) return undefined;
    if (visiting.has(id)) throw invalidParameterValue(`Invalid metrics list: the expression of ${id} refers to itself.`);
    visiting.add(id);
    let value: MathValue;
    if (q.MetricStat) {
      const ms = q.MetricStat;
      const p = periodMs(q);
      defaultPeriod ||= p;
      const series = findSeries(world, region, ms.Metric!.Namespace!, ms.Metric!.MetricName!, dimensionRecord(ms.Metric!.Dimensions));
      const out = new Map<number, number>();
      for (const [t, b] of buckets(series, start, end, p, ms.Unit)) {
        const v = statistic(b, ms.Stat!);
        if (v !== undefined) out.set(t, v);
      }
      value = out;
    } else {
      const p = defaultPeriod || periodMs(q);
      const stamps: number[] = [];
      for (let t = Math.floor(start / p) * p; t < end; t += p) stamps.push(t);
      value = evaluate(q.Expression!, get, stamps);
    }
    visiting.delete(id);
    results.set(id, value);
    return value;
  };
  // MetricStats first, so an expression's FILL knows the period.
  for (const q of queries) if (q.MetricStat) get(q.Id!);
  const out = new Map<string, Map<number, number>>();
  for (const q of queries) {
    const v = get(q.Id!)!;
    out.set(q.Id!, typeof v === 'number' ? new Map() : v);
  }
  return out;
}
