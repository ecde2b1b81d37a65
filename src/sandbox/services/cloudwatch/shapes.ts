/**
 * The shape a saved state file's CloudWatch part (world.state.monitoring) is checked against
 * (../../shape.ts), so a damaged file is refused at load instead of failing requests later.
 * Mirrors the records of common.ts.
 */
import { arrayOf, bool, json, num, object, oneOf, optional, recordOf, str } from '../../shape.js';

const tags = recordOf(str);
const dimension = object({ Name: str, Value: str });

const series = object({ region: str, namespace: str, metricName: str, dimensions: recordOf(str), unit: optional(str), points: arrayOf(arrayOf(num)) });

const history = object({ timestamp: num, type: oneOf('ConfigurationUpdate', 'StateUpdate', 'Action'), summary: str, data: str });

const alarm = object({
  name: str,
  arn: str,
  region: str,
  description: optional(str),
  actionsEnabled: bool,
  okActions: arrayOf(str),
  alarmActions: arrayOf(str),
  insufficientDataActions: arrayOf(str),
  namespace: optional(str),
  metricName: optional(str),
  dimensions: arrayOf(dimension),
  statistic: optional(str),
  extendedStatistic: optional(str),
  period: optional(num),
  unit: optional(str),
  /** MetricDataQuery objects, as the API gave them. */
  metrics: optional(arrayOf(json)),
  evaluationPeriods: num,
  datapointsToAlarm: optional(num),
  threshold: optional(num),
  comparisonOperator: str,
  treatMissingData: oneOf('breaching', 'notBreaching', 'ignore', 'missing'),
  evaluateLowSampleCountPercentile: optional(str),
  state: oneOf('OK', 'ALARM', 'INSUFFICIENT_DATA'),
  stateReason: str,
  stateReasonData: optional(str),
  stateUpdated: num,
  stateTransitioned: num,
  configUpdated: num,
  evaluatedAt: num,
  history: arrayOf(history),
  tags,
});

const dashboard = object({ name: str, arn: str, body: str, lastModified: num, tags });

export const cloudwatchStateShape = object({ metrics: recordOf(series), alarms: recordOf(alarm), dashboards: recordOf(dashboard) });
