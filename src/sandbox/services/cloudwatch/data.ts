/**
 * Metric data: PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics.
 * Sources: the CloudWatch API reference of each operation (docs.aws.amazon.com/AmazonCloudWatch/
 * latest/APIReference/API_<Operation>.html); limits as documented there.
 */
import {
  GetMetricDataInput$,
  GetMetricStatisticsInput$,
  ListMetricsInput$,
  PutMetricDataInput$,
  type Datapoint,
  type GetMetricDataInput,
  type GetMetricDataOutput,
  type GetMetricStatisticsInput,
  type GetMetricStatisticsOutput,
  type ListMetricsInput,
  type ListMetricsOutput,
  type MetricDataResult,
  type PutMetricDataInput,
} from '@aws-sdk/client-cloudwatch';
import { xmlList } from '../../protocols/xml.js';
import type { Operation } from '../../types.js';
import { cwOperation, cwState, invalidParameterCombination, invalidParameterValue, missingParameter, page } from './common.js';
import { runQueries, validateQueries, validPeriod } from './queries.js';
import { buckets, dimensionList, dimensionRecord, findSeries, recordStatisticSet, recordValues, statistic, validStatistic } from './store.js';

type Empty = Record<string, never>;

/** PutMetricData takes values from two weeks ago to two hours ahead (API_PutMetricData). */
const PAST_MS = 14 * 24 * 3600_000;
const FUTURE_MS = 2 * 3600_000;

const putMetricData = cwOperation<PutMetricDataInput, Empty>(true, PutMetricDataInput$, (p, { world, region, now }) => {
  if (!p.Namespace) throw missingParameter('Namespace');
  if (p.Namespace.startsWith('AWS/')) throw invalidParameterValue(`The value ${p.Namespace} for parameter Namespace is invalid.`);
  const data = p.MetricData ?? [];
  if (data.length === 0) throw missingParameter('MetricData');
  if (data.length > 1000) throw invalidParameterValue('The collection MetricData must not have a size greater than 1000.');
  // Validate all first: one bad datum refuses the whole request.
  for (const [i, d] of data.entries()) {
    const where = `MetricData.member.${i + 1}`;
    if (!d.MetricName) throw missingParameter(`${where}.MetricName`);
    const t = d.Timestamp ? d.Timestamp.getTime() : now;
    if (t < now - PAST_MS || t > now + FUTURE_MS) {
      throw invalidParameterValue(`The parameter ${where}.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future.`);
    }
    const kinds = [d.Value !== undefined, d.Values !== undefined, d.StatisticValues !== undefined].filter(Boolean).length;
    if (kinds > 1) throw invalidParameterCombination(`The parameters ${where}.Value, ${where}.Values and ${where}.StatisticValues are mutually exclusive.`);
    if (d.Counts && d.Counts.length !== (d.Values ?? []).length) throw invalidParameterValue(`The parameters ${where}.Values and ${where}.Counts must be arrays of the same length.`);
    if ((d.Dimensions ?? []).length > 30) throw invalidParameterValue(`The collection ${where}.Dimensions must not have a size greater than 30.`);
  }
  for (const d of data) {
    const t = d.Timestamp ? d.Timestamp.getTime() : now;
    const dims = dimensionRecord(d.Dimensions);
    const unit = d.Unit === 'None' ? undefined : d.Unit;
    if (d.StatisticValues) {
      const s = d.StatisticValues;
      recordStatisticSet(world, region, p.Namespace, d.MetricName!, dims, t, { sum: s.Sum ?? 0, count: s.SampleCount ?? 0, min: s.Minimum ?? 0, max: s.Maximum ?? 0 }, unit);
    } else if (d.Values) {
      recordValues(world, region, p.Namespace, d.MetricName!, dims, t, d.Values, d.Counts ?? [], unit);
    } else {
      recordValues(world, region, p.Namespace, d.MetricName!, dims, t, [d.Value ?? 0], [1], unit);
    }
  }
  return {};
});

const getMetricData = cwOperation<GetMetricDataInput, GetMetricDataOutput>(false, GetMetricDataInput$, (p, { world, region }) => {
  const queries = p.MetricDataQueries ?? [];
  validateQueries(queries, 'MetricDataQueries');
  if (!p.StartTime) throw missingParameter('StartTime');
  if (!p.EndTime) throw missingParameter('EndTime');
  const start = p.StartTime.getTime();
  const end = p.EndTime.getTime();
  if (end <= start) throw invalidParameterValue('The parameter StartTime must be less than the parameter EndTime.');
  for (const q of queries) if (q.Expression && q.Period !== undefined) validPeriod(q.Period, 'MetricDataQueries.member.Period');
  const series = runQueries(world, region, queries, start, end, (q) => (q.MetricStat?.Period ?? q.Period ?? 60) * 1000);
  const ascending = p.ScanBy === 'TimestampAscending';
  const results: MetricDataResult[] = queries
    .filter((q) => q.ReturnData !== false)
    .map((q) => {
      const points = [...series.get(q.Id!)!].sort((a, b) => (ascending ? a[0] - b[0] : b[0] - a[0]));
      return {
        Id: q.Id,
        Label: q.Label ?? q.MetricStat?.Metric?.MetricName ?? q.Id,
        Timestamps: points.map(([t]) => new Date(t)),
        Values: points.map(([, v]) => v),
        StatusCode: 'Complete',
        Messages: [],
      };
    });
  return { MetricDataResults: results, Messages: [] };
});

/**
 * GetMetricStatistics: "The maximum number of data points returned from a single call is 1,440";
 * Statistics or ExtendedStatistics (p0.0 to p100), not both empty.
 */
const getMetricStatistics = cwOperation<GetMetricStatisticsInput, GetMetricStatisticsOutput>(
  false,
  GetMetricStatisticsInput$,
  (p, { world, region }) => {
    if (!p.Namespace) throw missingParameter('Namespace');
    if (!p.MetricName) throw missingParameter('MetricName');
    if (!p.StartTime) throw missingParameter('StartTime');
    if (!p.EndTime) throw missingParameter('EndTime');
    const period = validPeriod(p.Period, 'Period');
    const stats = p.Statistics ?? [];
    const extended = p.ExtendedStatistics ?? [];
    if (stats.length === 0 && extended.length === 0) throw missingParameter('Statistics or ExtendedStatistics');
    if (stats.length + extended.length > 10) throw invalidParameterValue('The collections Statistics and ExtendedStatistics must not have more than 10 members together.');
    for (const s of extended) if (!/^p/.test(s) || !validStatistic(s)) throw invalidParameterValue(`The value ${s} for parameter ExtendedStatistics is not a valid percentile.`);
    const start = p.StartTime.getTime();
    const end = p.EndTime.getTime();
    if (end <= start) throw invalidParameterValue('The parameter StartTime must be less than the parameter EndTime.');
    const periodMs = period * 1000;
    if (Math.ceil((end - start) / periodMs) > 1440) {
      throw invalidParameterCombination('You have requested up to 1,441 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.');
    }
    const series = findSeries(world, region, p.Namespace, p.MetricName, dimensionRecord(p.Dimensions));
    const unit = p.Unit ?? series?.unit ?? 'None';
    const datapoints: Datapoint[] = [];
    for (const [t, b] of [...buckets(series, start, end, periodMs, p.Unit)].sort((a, b) => a[0] - b[0])) {
      const d: Datapoint = { Timestamp: new Date(t), Unit: unit as Datapoint['Unit'] };
      for (const s of stats) (d as Record<string, unknown>)[s] = statistic(b, s);
      if (extended.length) {
        const ext: Record<string, number> = {};
        for (const s of extended) {
          const v = statistic(b, s);
          if (v !== undefined) ext[s] = v;
        }
        d.ExtendedStatistics = ext;
      }
      datapoints.push(d);
    }
    return { Label: p.MetricName, Datapoints: datapoints };
  },
  // Query protocol: ExtendedStatistics is a map (<entry><key/><value/></entry>).
  (out) => ({
    ...out,
    Datapoints: (out.Datapoints ?? []).map((d) => ({
      ...d,
      ExtendedStatistics: d.ExtendedStatistics
        ? xmlList(
            Object.entries(d.ExtendedStatistics).map(([key, value]) => ({ key, value })),
            { itemName: 'entry' },
          )
        : undefined,
    })),
  }),
);

/** ListMetrics: 500 per page; metrics with data in the last two weeks (RecentlyActive PT3H: three hours). */
const listMetrics = cwOperation<ListMetricsInput, ListMetricsOutput>(false, ListMetricsInput$, (p, { world, region, now }) => {
  const filters = p.Dimensions ?? [];
  if (p.RecentlyActive !== undefined && p.RecentlyActive !== 'PT3H') throw invalidParameterValue(`The value ${p.RecentlyActive} for parameter RecentlyActive is not valid.`);
  const since = p.RecentlyActive ? now - 3 * 3600_000 : now - 14 * 24 * 3600_000;
  const metrics = Object.values(cwState(world).metrics)
    .filter((s) => s.region === region)
    .filter((s) => (!p.Namespace || s.namespace === p.Namespace) && (!p.MetricName || s.metricName === p.MetricName))
    .filter((s) => filters.every((f) => f.Name !== undefined && f.Name in s.dimensions && (f.Value === undefined || s.dimensions[f.Name] === f.Value)))
    .filter((s) => s.points.some((pt) => pt[0] >= since))
    .map((s) => ({ Namespace: s.namespace, MetricName: s.metricName, Dimensions: dimensionList(s.dimensions) }))
    .sort((a, b) => `${a.Namespace}/${a.MetricName}`.localeCompare(`${b.Namespace}/${b.MetricName}`));
  const pg = page(metrics, p.NextToken, 500);
  return { Metrics: pg.items, NextToken: pg.next };
});

export const dataOperations: Record<string, Operation> = {
  PutMetricData: putMetricData,
  GetMetricData: getMetricData,
  GetMetricStatistics: getMetricStatistics,
  ListMetrics: listMetrics,
};
