/**
 * The sandbox's CloudWatch metrics, as every emitter sees them: a metric filter on ingest
 * (services/logs), PutMetricData (services/cloudwatch). One datum is one value of one metric at one
 * time; CloudWatch aggregates them per period when read (GetMetricData, GetMetricStatistics, alarms).
 *
 * The CloudWatch service keeps them in its state; this module is the one door in, so an emitter does
 * not import the CloudWatch service (and no cycle forms).
 */
import type { World } from './types.js';

export interface MetricDatum {
  region: string;
  account: string;
  namespace: string;
  metricName: string;
  /** Dimension name -> value; {} for none. */
  dimensions: Record<string, string>;
  /** Milliseconds since the epoch (the log event's timestamp for a metric filter). */
  timestamp: number;
  value: number;
  unit?: string;
}

/** Stores the datum and says so; false when this world has no CloudWatch state (the datum is then held). */
type Sink = (world: World, datum: MetricDatum) => boolean;

let sink: Sink | undefined;
const pending = new WeakMap<World, MetricDatum[]>();

/**
 * The CloudWatch service (services/cloudwatch.ts) registers where data goes when its module is
 * loaded; the data then lives in world.state.monitoring.metrics, persisted with the world. Until a
 * sink is registered, or for a world without CloudWatch state, data is held per world.
 */
export function setMetricSink(s: Sink): void {
  sink = s;
}

/** Records one datum. */
export function emitMetric(world: World, datum: MetricDatum): void {
  if (sink?.(world, datum)) return;
  const list = pending.get(world) ?? [];
  list.push(datum);
  pending.set(world, list);
}

/** Data emitted while no CloudWatch service was registered (tests of an emitter alone). */
export function heldMetrics(world: World): readonly MetricDatum[] {
  return pending.get(world) ?? [];
}
