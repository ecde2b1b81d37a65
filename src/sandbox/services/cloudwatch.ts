/**
 * Amazon CloudWatch (signing name "monitoring", regional; dashboards global): metric data, metric
 * alarms evaluated on the sandbox's clock, dashboards, tags. The operations live in cloudwatch/
 * (data.ts, alarms.ts + evaluate.ts, dashboards.ts, tags.ts), each typed with the SDK's request and
 * response types; it answers AWS JSON 1.0 (the SDK, awsQueryCompatible) and the Query protocol
 * (Debian's awscli 2.9): see cloudwatch/common.ts.
 *
 * The metric store is also the sink of ../metrics.ts's emitMetric (metric filters on ingest): data
 * goes to the world's CloudWatch state when the world has one, and is held per world otherwise.
 */
import { setMetricSink } from '../metrics.js';
import type { ServiceModule } from '../types.js';
import { alarmOperations } from './cloudwatch/alarms.js';
import { SERVICE, type CloudWatchState } from './cloudwatch/common.js';
import { dashboardOperations } from './cloudwatch/dashboards.js';
import { dataOperations } from './cloudwatch/data.js';
import { evaluateAlarms } from './cloudwatch/evaluate.js';
import { recordDatum } from './cloudwatch/store.js';
import { tagOperations } from './cloudwatch/tags.js';

export type { CloudWatchState } from './cloudwatch/common.js';

setMetricSink((world, datum) => {
  if (!world.state[SERVICE]) return false;
  recordDatum(world, datum);
  return true;
});

export const cloudwatch: ServiceModule = {
  name: SERVICE,
  protocol: 'json',
  jsonVersion: '1.0',
  targetPrefix: 'GraniteServiceVersion20100801',
  queryCompatible: true,
  apiVersion: '2010-08-01',
  xmlNamespace: 'http://monitoring.amazonaws.com/doc/2010-08-01/',
  initState: (): CloudWatchState => ({ metrics: {}, alarms: {}, dashboards: {} }),
  tick: (world, now) => evaluateAlarms(world, now),
  operations: { ...dataOperations, ...alarmOperations, ...dashboardOperations, ...tagOperations },
};
