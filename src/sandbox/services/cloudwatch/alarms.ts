/**
 * Metric alarms: PutMetricAlarm, DescribeAlarms, DeleteAlarms, DescribeAlarmHistory, SetAlarmState.
 * Evaluation is evaluate.ts. Sources: API_PutMetricAlarm ("When you update an existing alarm, its
 * state is left unchanged, but the update completely overwrites the previous configuration of the
 * alarm"; "If you are using this operation to update an existing alarm, any tags you specify in this
 * parameter are ignored"), API_DeleteAlarms ("If you specify an incorrect alarm name or make any other
 * error in the operation, no alarms are deleted"; the current reference says instead that the correct
 * names "are still deleted": the stricter older text is modelled), API_SetAlarmState (the alarm returns to its actual
 * state at its next evaluation).
 */
import {
  DeleteAlarmsInput$,
  DescribeAlarmHistoryInput$,
  DescribeAlarmsInput$,
  PutMetricAlarmInput$,
  SetAlarmStateInput$,
  type AlarmHistoryItem,
  type DeleteAlarmsInput,
  type DescribeAlarmHistoryInput,
  type DescribeAlarmHistoryOutput,
  type DescribeAlarmsInput,
  type DescribeAlarmsOutput,
  type MetricAlarm,
  type PutMetricAlarmInput,
  type SetAlarmStateInput,
} from '@aws-sdk/client-cloudwatch';
import type { Operation } from '../../types.js';
import { arrayToTagMap } from '../util.js';
import { alarmArn, cwOperation, cwState, invalidParameterCombination, invalidParameterValue, missingParameter, page, resourceNotFound, type AlarmQuery, type AlarmRecord, type AlarmStateValue } from './common.js';
import { addHistory, changeState, scaledPeriodMs, SUPPORTED_OPERATORS } from './evaluate.js';
import { validateQueries, validPeriod } from './queries.js';
import { validStatistic } from './store.js';

type Empty = Record<string, never>;
const STATES: AlarmStateValue[] = ['OK', 'ALARM', 'INSUFFICIENT_DATA'];
const TREAT = ['breaching', 'notBreaching', 'ignore', 'missing'];
const MAX_ACTIONS = 5;

function validName(name: string | undefined, member: string): string {
  if (!name) throw missingParameter(member);
  if (name.length > 255) throw invalidParameterValue(`The value for parameter ${member} must have length less than or equal to 255.`);
  return name;
}

function validActions(list: string[] | undefined, member: string): string[] {
  const actions = list ?? [];
  if (actions.length > MAX_ACTIONS) throw invalidParameterValue(`The collection ${member} must not have a size greater than ${MAX_ACTIONS}.`);
  for (const a of actions) if (!/^arn:aws[\w-]*:[\w-]+:/.test(a)) throw invalidParameterValue(`Invalid arn syntax: ${a}`);
  return actions;
}

const putMetricAlarm = cwOperation<PutMetricAlarmInput, Empty>(true, PutMetricAlarmInput$, (p, { world, region, now }) => {
  const name = validName(p.AlarmName, 'AlarmName');
  if (p.EvaluationPeriods === undefined) throw missingParameter('EvaluationPeriods');
  if (!Number.isInteger(p.EvaluationPeriods) || p.EvaluationPeriods < 1) throw invalidParameterValue('The parameter EvaluationPeriods must be greater than or equal to 1.');
  if (!p.ComparisonOperator) throw missingParameter('ComparisonOperator');
  if (!SUPPORTED_OPERATORS.includes(p.ComparisonOperator)) {
    throw invalidParameterValue(`The value ${p.ComparisonOperator} for parameter ComparisonOperator is not one the sandbox evaluates (${SUPPORTED_OPERATORS.join(', ')}; anomaly detection bands are not emulated).`);
  }
  if (p.Threshold === undefined) throw missingParameter('Threshold');
  if (p.DatapointsToAlarm !== undefined && (p.DatapointsToAlarm < 1 || p.DatapointsToAlarm > p.EvaluationPeriods)) {
    throw invalidParameterValue('DatapointsToAlarm must be between 1 and the value of EvaluationPeriods.');
  }
  const treat = p.TreatMissingData ?? 'missing';
  if (!TREAT.includes(treat)) throw invalidParameterValue(`The value ${treat} for parameter TreatMissingData is not valid (breaching, notBreaching, ignore or missing).`);
  const single = p.MetricName !== undefined || p.Namespace !== undefined || p.Statistic !== undefined || p.ExtendedStatistic !== undefined || p.Period !== undefined;
  if (p.Metrics && single) throw invalidParameterCombination('The parameters Metrics and MetricName/Namespace/Statistic/ExtendedStatistic/Period are mutually exclusive.');
  let period: number | undefined;
  if (p.Metrics) {
    validateQueries(p.Metrics, 'Metrics');
    if (p.Metrics.filter((q) => q.ReturnData === true).length !== 1) throw invalidParameterValue('Exactly one element of the Metrics list must have ReturnData set to true.');
    period = p.Metrics.find((q) => q.MetricStat)?.MetricStat?.Period;
  } else {
    if (!p.MetricName) throw missingParameter('MetricName');
    if (!p.Namespace) throw missingParameter('Namespace');
    if (!!p.Statistic === !!p.ExtendedStatistic) throw invalidParameterCombination('Exactly one of the parameters Statistic and ExtendedStatistic must be given.');
    const stat = p.Statistic ?? p.ExtendedStatistic!;
    if (!validStatistic(stat) || (p.ExtendedStatistic && !p.ExtendedStatistic.startsWith('p'))) throw invalidParameterValue(`The value ${stat} for parameter ${p.Statistic ? 'Statistic' : 'ExtendedStatistic'} is not valid.`);
    period = validPeriod(p.Period, 'Period');
  }
  // "The number of evaluation periods multiplied by the period ... can't exceed one day" (API_PutMetricAlarm EvaluationPeriods).
  if (period !== undefined && period * p.EvaluationPeriods > 86_400) {
    throw invalidParameterValue('The evaluation period of the alarm (Period multiplied by EvaluationPeriods) must not exceed 86400 seconds (one day).');
  }
  const state = cwState(world);
  const key = `${region}/${name}`;
  const existing = state.alarms[key];
  const record: AlarmRecord = {
    name,
    arn: alarmArn(world, region, name),
    region,
    description: p.AlarmDescription,
    actionsEnabled: p.ActionsEnabled ?? true,
    okActions: validActions(p.OKActions, 'OKActions'),
    alarmActions: validActions(p.AlarmActions, 'AlarmActions'),
    insufficientDataActions: validActions(p.InsufficientDataActions, 'InsufficientDataActions'),
    namespace: p.Namespace,
    metricName: p.MetricName,
    dimensions: (p.Dimensions ?? []).map((d) => ({ Name: d.Name ?? '', Value: d.Value ?? '' })),
    statistic: p.Statistic,
    extendedStatistic: p.ExtendedStatistic,
    period: p.Period,
    unit: p.Unit,
    metrics: p.Metrics ? (JSON.parse(JSON.stringify(p.Metrics)) as AlarmQuery[]) : undefined,
    evaluationPeriods: p.EvaluationPeriods,
    datapointsToAlarm: p.DatapointsToAlarm,
    threshold: p.Threshold,
    comparisonOperator: p.ComparisonOperator,
    treatMissingData: treat,
    evaluateLowSampleCountPercentile: p.EvaluateLowSampleCountPercentile,
    state: existing?.state ?? 'INSUFFICIENT_DATA',
    stateReason: existing?.stateReason ?? 'Unchecked: Initial alarm creation',
    stateReasonData: existing?.stateReasonData,
    stateUpdated: existing?.stateUpdated ?? now,
    stateTransitioned: existing?.stateTransitioned ?? now,
    configUpdated: now,
    evaluatedAt: 0,
    history: existing?.history ?? [],
    tags: existing ? existing.tags : arrayToTagMap(p.Tags ?? []),
  };
  // The first evaluation comes one (scaled) period after the alarm was created or updated.
  const periodMs = scaledPeriodMs(world, record);
  record.evaluatedAt = Math.floor(now / periodMs) * periodMs;
  addHistory(record, {
    timestamp: now,
    type: 'ConfigurationUpdate',
    summary: `Alarm "${name}" ${existing ? 'updated' : 'created'}`,
    data: JSON.stringify({ version: '1.0', type: existing ? 'Update' : 'Create' }),
  });
  state.alarms[key] = record;
  return {};
});

export function metricAlarm(a: AlarmRecord): MetricAlarm {
  return {
    AlarmName: a.name,
    AlarmArn: a.arn,
    AlarmDescription: a.description,
    AlarmConfigurationUpdatedTimestamp: new Date(a.configUpdated),
    ActionsEnabled: a.actionsEnabled,
    OKActions: a.okActions,
    AlarmActions: a.alarmActions,
    InsufficientDataActions: a.insufficientDataActions,
    StateValue: a.state,
    StateReason: a.stateReason,
    StateReasonData: a.stateReasonData,
    StateUpdatedTimestamp: new Date(a.stateUpdated),
    StateTransitionedTimestamp: new Date(a.stateTransitioned),
    MetricName: a.metricName,
    Namespace: a.namespace,
    Statistic: a.statistic as MetricAlarm['Statistic'],
    ExtendedStatistic: a.extendedStatistic,
    Dimensions: a.metrics ? undefined : a.dimensions,
    Period: a.period,
    Unit: a.unit as MetricAlarm['Unit'],
    EvaluationPeriods: a.evaluationPeriods,
    DatapointsToAlarm: a.datapointsToAlarm,
    Threshold: a.threshold,
    ComparisonOperator: a.comparisonOperator as MetricAlarm['ComparisonOperator'],
    TreatMissingData: a.treatMissingData,
    EvaluateLowSampleCountPercentile: a.evaluateLowSampleCountPercentile,
    Metrics: a.metrics as MetricAlarm['Metrics'],
  };
}

function regionAlarms(all: Record<string, AlarmRecord>, region: string): AlarmRecord[] {
  return Object.values(all)
    .filter((a) => a.region === region)
    .sort((a, b) => a.name.localeCompare(b.name));
}

const describeAlarms = cwOperation<DescribeAlarmsInput, DescribeAlarmsOutput>(false, DescribeAlarmsInput$, (p, { world, region }) => {
  if (p.AlarmNames?.length && p.AlarmNamePrefix) throw invalidParameterCombination('The parameters AlarmNames and AlarmNamePrefix are mutually exclusive.');
  if ((p.AlarmNames ?? []).length > 100) throw invalidParameterValue('The collection AlarmNames must not have a size greater than 100.');
  if (p.StateValue && !STATES.includes(p.StateValue as AlarmStateValue)) throw invalidParameterValue(`The value ${p.StateValue} for parameter StateValue is not valid.`);
  const max = p.MaxRecords ?? 50;
  if (max < 1 || max > 100) throw invalidParameterValue('The parameter MaxRecords must be between 1 and 100.');
  const metricWanted = !p.AlarmTypes?.length || p.AlarmTypes.includes('MetricAlarm');
  const alarms = regionAlarms(cwState(world).alarms, region).filter(
    (a) =>
      metricWanted &&
      (!p.AlarmNames?.length || p.AlarmNames.includes(a.name)) &&
      (!p.AlarmNamePrefix || a.name.startsWith(p.AlarmNamePrefix)) &&
      (!p.StateValue || a.state === p.StateValue) &&
      (!p.ActionPrefix || [...a.alarmActions, ...a.okActions, ...a.insufficientDataActions].some((x) => x.startsWith(p.ActionPrefix!))),
  );
  const pg = page(alarms, p.NextToken, max);
  return { MetricAlarms: pg.items.map(metricAlarm), CompositeAlarms: [], NextToken: pg.next };
});

const deleteAlarms = cwOperation<DeleteAlarmsInput, Empty>(true, DeleteAlarmsInput$, (p, { world, region }) => {
  const names = p.AlarmNames ?? [];
  if (names.length === 0) throw missingParameter('AlarmNames');
  if (names.length > 100) throw invalidParameterValue('The collection AlarmNames must not have a size greater than 100.');
  const state = cwState(world);
  const missing = names.filter((n) => !state.alarms[`${region}/${n}`]);
  if (missing.length) throw resourceNotFound(`${missing.length === 1 ? 'An alarm' : 'Alarms'} with the name${missing.length === 1 ? '' : 's'} ${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist.`);
  for (const n of names) delete state.alarms[`${region}/${n}`];
  return {};
});

const describeAlarmHistory = cwOperation<DescribeAlarmHistoryInput, DescribeAlarmHistoryOutput>(false, DescribeAlarmHistoryInput$, (p, { world, region }) => {
  const max = p.MaxRecords ?? 100;
  if (max < 1 || max > 100) throw invalidParameterValue('The parameter MaxRecords must be between 1 and 100.');
  const start = p.StartDate?.getTime() ?? -Infinity;
  const end = p.EndDate?.getTime() ?? Infinity;
  const items: AlarmHistoryItem[] = regionAlarms(cwState(world).alarms, region)
    .filter((a) => !p.AlarmName || a.name === p.AlarmName)
    .filter((a) => !p.AlarmTypes?.length || p.AlarmTypes.includes('MetricAlarm'))
    .flatMap((a) =>
      a.history.map((h) => ({ AlarmName: a.name, AlarmType: 'MetricAlarm' as const, Timestamp: new Date(h.timestamp), HistoryItemType: h.type, HistorySummary: h.summary, HistoryData: h.data })),
    )
    .filter((h) => (!p.HistoryItemType || h.HistoryItemType === p.HistoryItemType) && h.Timestamp.getTime() >= start && h.Timestamp.getTime() <= end)
    .sort((x, y) => (p.ScanBy === 'TimestampAscending' ? x.Timestamp.getTime() - y.Timestamp.getTime() : y.Timestamp.getTime() - x.Timestamp.getTime()));
  const pg = page(items, p.NextToken, max);
  return { AlarmHistoryItems: pg.items, NextToken: pg.next };
});

const setAlarmState = cwOperation<SetAlarmStateInput, Empty>(true, SetAlarmStateInput$, (p, { world, region, now }) => {
  const name = validName(p.AlarmName, 'AlarmName');
  if (!p.StateValue || !STATES.includes(p.StateValue as AlarmStateValue)) throw invalidParameterValue(`The value ${p.StateValue ?? 'null'} for parameter StateValue is not valid.`);
  if (!p.StateReason) throw missingParameter('StateReason');
  if (p.StateReasonData !== undefined) {
    try {
      JSON.parse(p.StateReasonData);
    } catch {
      throw invalidParameterValue('The parameter StateReasonData must be valid JSON.');
    }
  }
  const alarm = cwState(world).alarms[`${region}/${name}`];
  if (!alarm) throw resourceNotFound(`Alarm ${name} not found`);
  changeState(world, alarm, p.StateValue as AlarmStateValue, p.StateReason, p.StateReasonData, now);
  return {};
});

export const alarmOperations: Record<string, Operation> = {
  PutMetricAlarm: putMetricAlarm,
  DescribeAlarms: describeAlarms,
  DeleteAlarms: deleteAlarms,
  DescribeAlarmHistory: describeAlarmHistory,
  SetAlarmState: setAlarmState,
};
