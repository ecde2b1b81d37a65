/**
 * Alarm evaluation on the sandbox's clock (called from the module's tick, before every request).
 *
 * What AWS does (CloudWatch user guide, "Using Amazon CloudWatch alarms" > "Evaluating an alarm" and
 * "Configuring how CloudWatch alarms treat missing data"):
 *   - an alarm looks at the most recent EvaluationPeriods periods of its metric (or math expression);
 *     it goes to ALARM when at least DatapointsToAlarm (default: EvaluationPeriods) of them breach the
 *     threshold, and to OK otherwise;
 *   - a period without a value is "missing": TreatMissingData breaching / notBreaching counts it as
 *     such; missing (the default) does not count it, and the alarm goes to INSUFFICIENT_DATA when every
 *     period of the range is missing; ignore keeps the current state when every period is missing;
 *   - a new alarm starts in INSUFFICIENT_DATA ("Unchecked: Initial alarm creation");
 *   - a state change runs the actions of the new state (OKActions, AlarmActions,
 *     InsufficientDataActions) when ActionsEnabled; an SNS action publishes the alarm's notification.
 * The sandbox evaluates once per (scaled) period, at period boundaries, over the completed periods
 * before the boundary. AWS widens the range to find enough datapoints when some are missing
 * (the "evaluation range"); the sandbox does not: with `missing`, partial data is judged on the
 * datapoints present in the last EvaluationPeriods periods.
 */
import type { MetricDataQuery, StandardUnit } from '@aws-sdk/client-cloudwatch';
import type { World } from '../../types.js';
import { publishToTopic } from '../sns/topics.js';
import { cwState, timeScale, type AlarmRecord, type AlarmStateValue } from './common.js';
import { runQueries } from './queries.js';

/** Evaluations replayed at most per tick (older boundaries are skipped after a long idle time). */
const MAX_CATCH_UP = 200;
const HISTORY_LIMIT = 500;

/** The alarm's period on the sandbox's clock (ms). */
export function scaledPeriodMs(world: World, alarm: AlarmRecord): number {
  const seconds = alarm.period ?? alarm.metrics?.find((m) => m.MetricStat)?.MetricStat?.Period ?? alarm.metrics?.find((m) => m.Period)?.Period ?? 60;
  return Math.max(1, Math.round(seconds * 1000 * timeScale(world)));
}

export function evaluateAlarms(world: World, now: number): void {
  const state = cwState(world);
  if (!state) return;
  for (const alarm of Object.values(state.alarms)) {
    const p = scaledPeriodMs(world, alarm);
    const boundary = Math.floor(now / p) * p;
    let b = Math.max(alarm.evaluatedAt + p, boundary - MAX_CATCH_UP * p);
    b = Math.ceil(b / p) * p;
    for (; b <= boundary; b += p) evaluateAt(world, alarm, b, p);
    alarm.evaluatedAt = Math.max(alarm.evaluatedAt, boundary);
  }
}

const OPERATORS: Record<string, { test: (v: number, t: number) => boolean; words: string }> = {
  GreaterThanOrEqualToThreshold: { test: (v, t) => v >= t, words: 'greater than or equal to' },
  GreaterThanThreshold: { test: (v, t) => v > t, words: 'greater than' },
  LessThanThreshold: { test: (v, t) => v < t, words: 'less than' },
  LessThanOrEqualToThreshold: { test: (v, t) => v <= t, words: 'less than or equal to' },
};
export const SUPPORTED_OPERATORS = Object.keys(OPERATORS);

/** The alarm's values over the N periods ending at `boundary` (undefined = missing), oldest first. */
function datapoints(world: World, alarm: AlarmRecord, boundary: number, p: number): (number | undefined)[] {
  const n = alarm.evaluationPeriods;
  const start = boundary - n * p;
  const queries: MetricDataQuery[] = alarm.metrics ?? [
    {
      Id: 'm',
      MetricStat: {
        Metric: { Namespace: alarm.namespace, MetricName: alarm.metricName, Dimensions: alarm.dimensions },
        Period: alarm.period,
        Stat: alarm.statistic ?? alarm.extendedStatistic,
        Unit: alarm.unit as StandardUnit | undefined,
      },
    },
  ];
  const series = runQueries(world, alarm.region, queries, start, boundary, () => p);
  const id = queries.find((q) => q.ReturnData !== false && (alarm.metrics ? q.ReturnData === true : true))?.Id ?? queries[0].Id!;
  const values = series.get(id) ?? new Map<number, number>();
  return Array.from({ length: n }, (_, i) => values.get(start + i * p));
}

function evaluateAt(world: World, alarm: AlarmRecord, boundary: number, p: number): void {
  const op = OPERATORS[alarm.comparisonOperator];
  if (!op || alarm.threshold === undefined) return;
  const values = datapoints(world, alarm, boundary, p);
  const m = alarm.datapointsToAlarm ?? alarm.evaluationPeriods;
  const treat = alarm.treatMissingData;
  let breaching = 0;
  let present = 0;
  for (const v of values) {
    if (v === undefined) {
      if (treat === 'breaching') breaching++;
      continue;
    }
    present++;
    if (op.test(v, alarm.threshold)) breaching++;
  }
  let next: AlarmStateValue;
  if (breaching >= m) next = 'ALARM';
  else if (present === 0 && treat !== 'breaching' && treat !== 'notBreaching') {
    if (treat === 'ignore') return;
    next = 'INSUFFICIENT_DATA';
  } else next = 'OK';
  if (next === alarm.state) return;
  const shown = values.map((v, i) => ({ v, t: boundary - (values.length - i) * p })).filter((x) => x.v !== undefined).reverse();
  const list = shown.map((x) => `${x.v} (${new Date(x.t).toISOString().slice(0, 19).replace('T', ' ')})`).join(', ');
  const reason =
    next === 'INSUFFICIENT_DATA'
      ? `Insufficient Data: ${values.length} datapoint${values.length === 1 ? ' was' : 's were'} unknown.`
      : `Threshold Crossed: ${next === 'ALARM' ? breaching : present - breaching} out of the last ${values.length} datapoints [${list}] ${next === 'ALARM' ? 'was' : 'was not'} ${op.words} the threshold (${alarm.threshold}) (minimum ${next === 'ALARM' ? m : 1} datapoint${m === 1 || next !== 'ALARM' ? '' : 's'} for ${alarm.state} -> ${next} transition).`;
  const reasonData = JSON.stringify({
    version: '1.0',
    queryDate: new Date(boundary).toISOString(),
    startDate: new Date(boundary - values.length * p).toISOString(),
    period: alarm.period ?? p / 1000,
    recentDatapoints: shown.map((x) => x.v),
    threshold: alarm.threshold,
    evaluatedDatapoints: shown.map((x) => ({ timestamp: new Date(x.t).toISOString(), value: x.v })),
  });
  changeState(world, alarm, next, reason, reasonData, boundary);
}

/** Record a state change (SetAlarmState or an evaluation) and run the new state's actions. */
export function changeState(world: World, alarm: AlarmRecord, next: AlarmStateValue, reason: string, reasonData: string | undefined, at: number): void {
  const old = alarm.state;
  alarm.state = next;
  alarm.stateReason = reason;
  alarm.stateReasonData = reasonData;
  alarm.stateUpdated = at;
  if (old !== next) alarm.stateTransitioned = at;
  addHistory(alarm, {
    timestamp: at,
    type: 'StateUpdate',
    summary: `Alarm updated from ${old} to ${next}`,
    data: JSON.stringify({ version: '1.0', oldState: { stateValue: old }, newState: { stateValue: next, stateReason: reason } }),
  });
  if (!alarm.actionsEnabled || old === next) return;
  const actions = next === 'ALARM' ? alarm.alarmActions : next === 'OK' ? alarm.okActions : alarm.insufficientDataActions;
  for (const arn of actions) runAction(world, alarm, arn, old, at);
}

export function addHistory(alarm: AlarmRecord, item: AlarmRecord['history'][number]): void {
  alarm.history.push(item);
  if (alarm.history.length > HISTORY_LIMIT) alarm.history.splice(0, alarm.history.length - HISTORY_LIMIT);
}

function runAction(world: World, alarm: AlarmRecord, arn: string, old: AlarmStateValue, at: number): void {
  if (!arn.startsWith('arn:aws:sns:')) {
    addHistory(alarm, { timestamp: at, type: 'Action', summary: `Failed to execute action ${arn}`, data: JSON.stringify({ actionState: 'Failed', notificationResource: arn, error: 'The sandbox runs SNS actions only' }) });
    return;
  }
  // The notification's fields: "Amazon SNS message format for CloudWatch alarms" (user guide, alarm notifications).
  const message = JSON.stringify({
    AlarmName: alarm.name,
    AlarmDescription: alarm.description ?? null,
    AWSAccountId: world.settings.accountId,
    AlarmConfigurationUpdatedTimestamp: new Date(alarm.configUpdated).toISOString(),
    NewStateValue: alarm.state,
    NewStateReason: alarm.stateReason,
    StateChangeTime: new Date(at).toISOString(),
    Region: alarm.region,
    AlarmArn: alarm.arn,
    OldStateValue: old,
    Trigger: {
      MetricName: alarm.metricName,
      Namespace: alarm.namespace,
      Statistic: alarm.statistic?.toUpperCase(),
      ExtendedStatistic: alarm.extendedStatistic,
      Dimensions: alarm.dimensions.map((d) => ({ name: d.Name, value: d.Value })),
      Metrics: alarm.metrics,
      Period: alarm.period,
      EvaluationPeriods: alarm.evaluationPeriods,
      DatapointsToAlarm: alarm.datapointsToAlarm,
      ComparisonOperator: alarm.comparisonOperator,
      Threshold: alarm.threshold,
      TreatMissingData: alarm.treatMissingData,
    },
  });
  const sent = publishToTopic(world, arn, `${alarm.state}: "${alarm.name}" in ${alarm.region}`, message, at);
  addHistory(alarm, {
    timestamp: at,
    type: 'Action',
    summary: sent ? `Successfully executed action ${arn}` : `Failed to execute action ${arn}`,
    data: JSON.stringify({ actionState: sent ? 'Succeeded' : 'Failed', notificationResource: arn, stateUpdateTimestamp: at, ...(sent ? { publishedMessage: sent } : { error: 'Resource not found' }) }),
  });
}
