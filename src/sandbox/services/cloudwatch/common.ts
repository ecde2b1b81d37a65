/**
 * What CloudWatch's operations share: the one operation factory for both of its protocols, its
 * errors (Query code + JSON shape name), its state and records.
 *
 * Protocols. @aws-sdk/client-cloudwatch (3.11xx) speaks AWS JSON 1.0 (X-Amz-Target
 * GraniteServiceVersion20100801.<Op>) with `awsQueryCompatible: true`: it sends x-amzn-query-mode: true
 * and reads an error's Query code from the x-amzn-query-error header. Debian's awscli 2.9.19 uses the
 * older botocore model (awscli/botocore/data/cloudwatch/2010-08-01/service-2.json, "protocol": "query").
 * A handler gets the SDK's input type from either (queryDecoder / jsonDecoder over the SDK's
 * `XInput$` schema) and returns the SDK's output type.
 */
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { jsonDecoder, queryDecoder, type Schema } from '../../protocols/schema.js';
import type { Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import type { TagMap } from '../util.js';

/** A CloudWatch operation: `queryEncode` rewrites the output for the Query protocol (maps as <entry>). */
export function cwOperation<I, O>(mutating: boolean, schema: Schema, handler: (input: I, call: Call) => O, queryEncode?: (out: O) => unknown): Operation {
  const fromQuery = queryDecoder<I>(schema);
  const fromJson = jsonDecoder<I>(schema);
  return {
    mutating,
    handler: (req, world) => {
      const query = req.protocol === 'query';
      const input = query ? fromQuery(req.params) : fromJson(req.params);
      const out = handler(input, { req, world, region: req.region, now: req.now });
      return query && queryEncode ? queryEncode(out) : out;
    },
  };
}

// ---- Errors: the Query code (what awscli prints, and the x-amzn-query-error header) and the shape ----
// Codes from the botocore model's "error" traits (awscli/botocore/data/cloudwatch/2010-08-01/service-2.json).

export function invalidParameterValue(message: string): ServiceError {
  return new ServiceError('InvalidParameterValue', message, 400, 'Sender', 'InvalidParameterValueException');
}

export function invalidParameterCombination(message: string): ServiceError {
  return new ServiceError('InvalidParameterCombination', message, 400, 'Sender', 'InvalidParameterCombinationException');
}

export function missingParameter(name: string): ServiceError {
  return new ServiceError('MissingParameter', `The parameter ${name} is required.`, 400, 'Sender', 'MissingRequiredParameterException');
}

export function resourceNotFound(message: string): ServiceError {
  return new ServiceError('ResourceNotFound', message, 404, 'Sender', 'ResourceNotFound');
}

export function dashboardNotFound(message: string): ServiceError {
  return new ServiceError('ResourceNotFound', message, 404, 'Sender', 'DashboardNotFoundError');
}

/** TagResource, UntagResource, ListTagsForResource on an ARN that names nothing. */
export function taggedNotFound(arn: string): ServiceError {
  return new ServiceError('ResourceNotFoundException', `${arn} not found`, 404, 'Sender', 'ResourceNotFoundException');
}

export interface ValidationMessage {
  DataPath: string;
  Message: string;
}

export function dashboardInvalid(messages: ValidationMessage[]): ServiceError {
  const list = messages.map((m) => `{ "dataPath": ${JSON.stringify(m.DataPath)}, "message": ${JSON.stringify(m.Message)} }`).join(', ');
  return new ServiceError(
    'InvalidParameterInput',
    `The dashboard body is invalid, there are ${messages.length} validation errors: [ ${list} ]`,
    400,
    'Sender',
    'DashboardInvalidInputError',
    { dashboardValidationMessages: messages },
  );
}

// ---- State -------------------------------------------------------------------------------------

/** One stored value: [ms, value, count] (PutMetricData Values/Counts) or [ms, sum, count, min, max] (StatisticValues). */
export type Point = number[];

export interface MetricSeries {
  region: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  unit?: string;
  points: Point[];
}

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface HistoryRecord {
  timestamp: number;
  type: 'ConfigurationUpdate' | 'StateUpdate' | 'Action';
  summary: string;
  data: string;
}

/** A query of an alarm on metric math (PutMetricAlarm Metrics): JSON-serialisable as it is. */
export type AlarmQuery = MetricDataQuery;

export interface AlarmRecord {
  name: string;
  arn: string;
  region: string;
  description?: string;
  actionsEnabled: boolean;
  okActions: string[];
  alarmActions: string[];
  insufficientDataActions: string[];
  namespace?: string;
  metricName?: string;
  dimensions: { Name: string; Value: string }[];
  statistic?: string;
  extendedStatistic?: string;
  period?: number;
  unit?: string;
  metrics?: AlarmQuery[];
  evaluationPeriods: number;
  datapointsToAlarm?: number;
  threshold?: number;
  comparisonOperator: string;
  treatMissingData: string;
  evaluateLowSampleCountPercentile?: string;
  state: AlarmStateValue;
  stateReason: string;
  stateReasonData?: string;
  stateUpdated: number;
  stateTransitioned: number;
  configUpdated: number;
  /** The last evaluation boundary (ms on the sandbox clock). */
  evaluatedAt: number;
  history: HistoryRecord[];
  tags: TagMap;
}

export interface DashboardRecord {
  name: string;
  arn: string;
  body: string;
  lastModified: number;
  tags: TagMap;
}

export interface CloudWatchState {
  /** By metricKey(). */
  metrics: Record<string, MetricSeries>;
  /** By `${region}/${name}`. */
  alarms: Record<string, AlarmRecord>;
  /** By name: dashboards are global (their ARN has no region). */
  dashboards: Record<string, DashboardRecord>;
}

export const SERVICE = 'monitoring';

export function cwState(world: World): CloudWatchState {
  return world.state[SERVICE] as CloudWatchState;
}

export function alarmArn(world: World, region: string, name: string): string {
  return `arn:aws:cloudwatch:${region}:${world.settings.accountId}:alarm:${name}`;
}

export function dashboardArn(world: World, name: string): string {
  return `arn:aws:cloudwatch::${world.settings.accountId}:dashboard/${name}`;
}

/**
 * Alarm periods scale with the latency profile, as ELBv2's health checks do: 'realistic' evaluates at
 * 1/10 of AWS's time (a 60 s period lasts 6 s), 'fast' at 0.0075 (450 ms), 'none' at AWS's own time
 * (tests of 'none' drive a ManualClock).
 */
export function timeScale(world: World): number {
  const t = world.settings.latency.taskPhaseMs;
  return t > 0 ? t / 20000 : 1;
}

/** A NextToken: the offset of the next item, opaque to callers. */
export function page<T>(items: T[], token: string | undefined, size: number): { items: T[]; next?: string } {
  let start = 0;
  if (token) {
    start = Number(Buffer.from(token, 'base64').toString('utf8'));
    if (!Number.isInteger(start) || start < 0 || start > items.length) {
      throw new ServiceError('InvalidNextToken', 'The service returned an error with Error Code InvalidNextToken.', 400, 'Sender', 'InvalidNextToken');
    }
  }
  const out = items.slice(start, start + size);
  const end = start + out.length;
  return { items: out, next: end < items.length ? Buffer.from(String(end), 'utf8').toString('base64') : undefined };
}
