/**
 * CloudWatch Logs metric filters: PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter,
 * TestMetricFilter, and the emission of their metric data when events are put (applyMetricFilters,
 * called by PutLogEvents).
 *
 * Sources:
 * - PutMetricFilter (API reference): filterName 1-512 `[^:*]*`, filterPattern 0-1024,
 *   metricTransformations "Fixed number of 1 item"; LimitExceededException; "The maximum number of
 *   metric filters that can be associated with a log group is 100".
 * - MetricTransformation: metricName/metricNamespace up to 255 `[^:*$]*`, metricValue up to 100,
 *   defaultValue "The value to emit when a filter pattern does not match a log event", up to 3
 *   dimensions, "you can't specify a default value" with dimensions, unit a StandardUnit.
 * - DescribeMetricFilters: filterNamePrefix needs logGroupName; metricName and metricNamespace go
 *   together; limit 1-50 (default 50).
 * - TestMetricFilter: 1-50 logEventMessages; matches with eventNumber (1-based), eventMessage,
 *   extractedValues.
 * - "Creating metrics from log events using filters" (MonitoringLogData.html): the default value is
 *   "the value reported to the metric filter during a period when logs are ingested but no matching
 *   logs are found"; filters "do not retroactively filter data".
 *
 * The sandbox's model: every event PutLogEvents accepts is run through each filter of its log group;
 * a match emits one datum (value and dimensions of the transformation, the event's timestamp, the
 * unit) through emitMetric. A PutLogEvents batch in which a filter matches no event emits the
 * filter's defaultValue once (when it has one), at the batch's newest accepted event's timestamp:
 * the batch is the sandbox's "period when logs are ingested".
 */
import type {
  DeleteMetricFilterRequest,
  DescribeMetricFiltersRequest,
  DescribeMetricFiltersResponse,
  PutMetricFilterRequest,
  TestMetricFilterRequest,
  TestMetricFilterResponse,
} from '@aws-sdk/client-cloudwatch-logs';
import { compileFilterPattern, FilterPatternError, type FilterPattern } from '../../insights/filter-pattern.js';
import { compileMetricTransformation, MetricTransformationError, type MetricObservation } from '../../insights/metric-transformation.js';
import { emitMetric } from '../../metrics.js';
import { paginate } from '../../paginate.js';
import { jsonBody, typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { list } from '../util.js';
import { checkGroupName, checkLimit, groupByName, invalidParameter, invalidToken, required, type Empty } from './common.js';
import { STANDARD_UNITS, state, type LogGroupRecord, type MetricFilterRecord, type MetricTransformationRecord } from './records.js';

export const MAX_METRIC_FILTERS_PER_GROUP = 100;
const MAX_TEST_MESSAGES = 50;

function constraint(value: unknown, member: string, rule: string): ServiceError {
  return invalidParameter(`1 validation error detected: Value '${String(value)}' at '${member}' failed to satisfy constraint: ${rule}`);
}

/** A filter pattern, or InvalidParameterException as AWS answers a syntax error. */
export function patternOrError(pattern: unknown, member = 'filterPattern'): FilterPattern {
  if (pattern === undefined || pattern === null) {
    throw invalidParameter(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  if (typeof pattern !== 'string') throw constraint(pattern, member, 'Member must be a string');
  try {
    return compileFilterPattern(pattern);
  } catch (e) {
    if (e instanceof FilterPatternError) throw invalidParameter(e.message);
    throw e;
  }
}

function metricName(value: unknown, member: string): string {
  const v = required(value, member);
  if (v.length > 255) throw constraint(v, member, 'Member must have length less than or equal to 255');
  if (/[:*$]/.test(v)) throw constraint(v, member, 'Member must satisfy regular expression pattern: [^:*$]*');
  return v;
}

function checkTransformation(t: unknown, pattern: FilterPattern): MetricTransformationRecord {
  const m = (t ?? {}) as Record<string, unknown>;
  const member = 'metricTransformations.1.member';
  const record: MetricTransformationRecord = {
    metricName: metricName(m.metricName, `${member}.metricName`),
    metricNamespace: metricName(m.metricNamespace, `${member}.metricNamespace`),
    metricValue: required(m.metricValue, `${member}.metricValue`),
  };
  if (record.metricValue.length > 100) throw constraint(record.metricValue, `${member}.metricValue`, 'Member must have length less than or equal to 100');
  if (m.defaultValue !== undefined && m.defaultValue !== null) {
    if (typeof m.defaultValue !== 'number' || !Number.isFinite(m.defaultValue)) throw constraint(m.defaultValue, `${member}.defaultValue`, 'Member must be a number');
    record.defaultValue = m.defaultValue;
  }
  if (m.dimensions !== undefined && m.dimensions !== null) {
    if (typeof m.dimensions !== 'object' || Array.isArray(m.dimensions)) throw invalidParameter('Dimensions must be a map of names to $fields.');
    const dims = m.dimensions as Record<string, unknown>;
    for (const [k, v] of Object.entries(dims)) if (typeof v !== 'string') throw invalidParameter(`Dimension ${k} must be a string.`);
    if (Object.keys(dims).length) record.dimensions = { ...(dims as Record<string, string>) };
  }
  if (m.unit !== undefined && m.unit !== null) {
    const unit = STANDARD_UNITS.find((u) => u === m.unit);
    if (!unit) throw constraint(m.unit, `${member}.unit`, `Member must satisfy enum value set: [${STANDARD_UNITS.join(', ')}]`);
    record.unit = unit;
  }
  try {
    compileMetricTransformation(pattern, record);
  } catch (e) {
    if (e instanceof MetricTransformationError) throw invalidParameter(`Invalid metric transformation: ${e.message}`);
    throw e;
  }
  return record;
}

function putMetricFilter(p: PutMetricFilterRequest, { world, region, now }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  const filterName = required(p.filterName, 'filterName');
  if (filterName.length > 512) throw constraint(filterName, 'filterName', 'Member must have length less than or equal to 512');
  if (/[:*]/.test(filterName)) throw constraint(filterName, 'filterName', 'Member must satisfy regular expression pattern: [^:*]*');
  const pattern = patternOrError(p.filterPattern);
  const transformations = list<unknown>(p.metricTransformations);
  if (transformations.length !== 1) {
    throw constraint(
      JSON.stringify(transformations),
      'metricTransformations',
      transformations.length ? 'Member must have length less than or equal to 1' : 'Member must have length greater than or equal to 1',
    );
  }
  const transformation = checkTransformation(transformations[0], pattern);
  const filters = (group.metricFilters ??= {});
  if (!filters[filterName] && Object.keys(filters).length >= MAX_METRIC_FILTERS_PER_GROUP) {
    throw new ServiceError('LimitExceededException', `Resource limit exceeded: a log group can have at most ${MAX_METRIC_FILTERS_PER_GROUP} metric filters.`, 400);
  }
  filters[filterName] = {
    filterName,
    filterPattern: String(p.filterPattern),
    metricTransformations: [transformation],
    creationTime: filters[filterName]?.creationTime ?? now,
    ...(p.applyOnTransformedLogs !== undefined ? { applyOnTransformedLogs: Boolean(p.applyOnTransformedLogs) } : {}),
  };
  return undefined;
}

function describeMetricFilters(p: DescribeMetricFiltersRequest, { world, region }: Call): DescribeMetricFiltersResponse {
  if (p.filterNamePrefix && !p.logGroupName) {
    throw invalidParameter('filterNamePrefix can be used only together with logGroupName.');
  }
  if (Boolean(p.metricName) !== Boolean(p.metricNamespace)) {
    throw invalidParameter('metricName and metricNamespace must be given together.');
  }
  const groups = p.logGroupName
    ? [groupByName(world, region, checkGroupName(p.logGroupName))]
    : Object.values(state(world).groups).filter((g) => g.region === region).sort((a, b) => cmp(a.logGroupName, b.logGroupName));
  const prefix = p.filterNamePrefix ?? '';
  const found = groups.flatMap((g) =>
    Object.values(g.metricFilters ?? {})
      .filter((f) => f.filterName.startsWith(prefix))
      .filter((f) => !p.metricName || f.metricTransformations.some((t) => t.metricName === p.metricName && t.metricNamespace === p.metricNamespace))
      .sort((a, b) => cmp(a.filterName, b.filterName))
      .map((f) => ({ g, f })),
  );
  const page = paginate(found, { maxResults: checkLimit(p.limit, 50), nextToken: p.nextToken, defaultPageSize: 50, settings: world.settings, invalidToken });
  return {
    metricFilters: page.items.map(({ g, f }) => ({
      filterName: f.filterName,
      filterPattern: f.filterPattern,
      metricTransformations: f.metricTransformations.map((t) => ({ ...t, dimensions: t.dimensions ? { ...t.dimensions } : undefined })),
      creationTime: f.creationTime,
      logGroupName: g.logGroupName,
      applyOnTransformedLogs: f.applyOnTransformedLogs ?? false,
    })),
    nextToken: page.nextToken,
  };
}

function deleteMetricFilter(p: DeleteMetricFilterRequest, { world, region }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  const name = required(p.filterName, 'filterName');
  if (!group.metricFilters?.[name]) throw new ServiceError('ResourceNotFoundException', 'The specified metric filter does not exist.', 400);
  delete group.metricFilters[name];
  return undefined;
}

function testMetricFilter(p: TestMetricFilterRequest): TestMetricFilterResponse {
  const pattern = patternOrError(p.filterPattern);
  const messages = list<unknown>(p.logEventMessages);
  if (messages.length < 1 || messages.length > MAX_TEST_MESSAGES) {
    throw constraint(
      '[...]',
      'logEventMessages',
      messages.length ? `Member must have length less than or equal to ${MAX_TEST_MESSAGES}` : 'Member must have length greater than or equal to 1',
    );
  }
  const matches: NonNullable<TestMetricFilterResponse['matches']> = [];
  messages.forEach((message, i) => {
    if (typeof message !== 'string' || message === '') throw constraint(message, `logEventMessages.${i + 1}.member`, 'Member must have length greater than or equal to 1');
    const m = pattern.match(message);
    if (m) matches.push({ eventNumber: i + 1, eventMessage: message, extractedValues: { ...m.extracted } });
  });
  return { matches };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Emission on ingest

type Compiled = (message: string) => MetricObservation | undefined;
/** Compiled once per stored filter record (a state reloaded from a file compiles again). */
const compiled = new WeakMap<MetricFilterRecord, Compiled>();

function compiledFilter(f: MetricFilterRecord): Compiled {
  let fn = compiled.get(f);
  if (!fn) {
    fn = compileMetricTransformation(compileFilterPattern(f.filterPattern), f.metricTransformations[0]);
    compiled.set(f, fn);
  }
  return fn;
}

/**
 * Emits the metric data of a PutLogEvents batch's accepted events, in the batch's order (each event
 * through every filter in turn, so the filters share one split of the message).
 */
export function applyMetricFilters(world: World, group: LogGroupRecord, events: readonly { timestamp: number; message: string }[]): void {
  const filters = Object.values(group.metricFilters ?? {});
  if (filters.length === 0 || events.length === 0) return;
  const account = world.settings.accountId;
  const observers = filters.map(compiledFilter);
  const matched = filters.map(() => false);
  let newest = events[0].timestamp;
  for (const e of events) {
    if (e.timestamp > newest) newest = e.timestamp;
    for (let i = 0; i < filters.length; i++) {
      const o = observers[i](e.message);
      if (!o) continue;
      matched[i] = true;
      const t = filters[i].metricTransformations[0];
      emitMetric(world, { region: group.region, account, namespace: t.metricNamespace, metricName: t.metricName, dimensions: o.dimensions, timestamp: e.timestamp, value: o.value, unit: t.unit });
    }
  }
  filters.forEach((f, i) => {
    const t = f.metricTransformations[0];
    if (matched[i] || t.defaultValue === undefined) return;
    emitMetric(world, { region: group.region, account, namespace: t.metricNamespace, metricName: t.metricName, dimensions: {}, timestamp: newest, value: t.defaultValue, unit: t.unit });
  });
}

export const metricFilterOperations: Record<string, Operation> = {
  PutMetricFilter: typedOperation({ mutating: true, decode: jsonBody<PutMetricFilterRequest>, handler: putMetricFilter }),
  DescribeMetricFilters: typedOperation({ mutating: false, decode: jsonBody<DescribeMetricFiltersRequest>, handler: describeMetricFilters }),
  DeleteMetricFilter: typedOperation({ mutating: true, decode: jsonBody<DeleteMetricFilterRequest>, handler: deleteMetricFilter }),
  TestMetricFilter: typedOperation({ mutating: false, decode: jsonBody<TestMetricFilterRequest>, handler: testMetricFilter }),
};
