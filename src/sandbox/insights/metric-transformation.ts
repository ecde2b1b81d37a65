/**
 * A metric filter's transformation: the value and dimensions it emits for a matching event.
 *
 * Source: MetricTransformation (CloudWatch Logs API reference,
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_MetricTransformation.html):
 * metricValue is a number or a `$field` (space-delimited) / `$.selector` (JSON); up to 3
 * dimensions whose values are fields of the pattern; no defaultValue with dimensions. And
 * FilterAndPatternSyntax.html ("Publishing numerical values found in log entries":
 * `{ $.latency = * }` with metricValue `$.latency`).
 *
 * Stricter than AWS where it is unclear: a value that is not a number (Apache's `-` for 0 bytes)
 * or a missing or empty dimension value emits nothing for that event.
 */
import { Cursor, NUMBER, resolve, selector, type FilterMatch, type FilterPattern } from './filter-pattern.js';

export interface MetricTransformationInput {
  metricValue: string;
  defaultValue?: number;
  dimensions?: Record<string, string>;
}

export interface MetricObservation {
  value: number;
  dimensions: Record<string, string>;
}

export class MetricTransformationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricTransformationError';
  }
}

/**
 * What a metric filter emits for one message: its value and dimensions, or undefined (no match,
 * or a `$field` that is missing or not a number). Refused when created, as AWS refuses it: a
 * `$field` that the pattern does not name, `$.selector` without a JSON pattern, more than 3
 * dimensions, or a default value with dimensions.
 */
export function compileMetricTransformation(
  pattern: FilterPattern,
  t: MetricTransformationInput,
): (message: string) => MetricObservation | undefined {
  const value = valueGetter(pattern, t.metricValue, 'metricValue', true);
  const dims = Object.entries(t.dimensions ?? {});
  if (dims.length > 3) throw new MetricTransformationError('A metric filter can have at most 3 dimensions.');
  if (dims.length && t.defaultValue !== undefined) {
    throw new MetricTransformationError('A metric filter with dimensions cannot have a default value.');
  }
  if (dims.length && pattern.kind !== 'json' && pattern.kind !== 'delimited') {
    throw new MetricTransformationError('Dimensions need a JSON or space-delimited filter pattern.');
  }
  const getters = dims.map(([k, v]) => {
    if (!/^\S{1,255}$/.test(k)) throw new MetricTransformationError(`Invalid dimension name ${JSON.stringify(k)}.`);
    return [k, valueGetter(pattern, v, `dimension ${k}`, false)] as const;
  });
  return (message) => {
    const m = pattern.match(message);
    if (!m) return undefined;
    const n = Number(value(m));
    if (!Number.isFinite(n)) return undefined;
    const dimensions: Record<string, string> = {};
    for (const [k, get] of getters) {
      const v = get(m);
      if (v === undefined || v === '') return undefined;
      dimensions[k] = v;
    }
    return { value: n, dimensions };
  };
}

function valueGetter(pattern: FilterPattern, spec: string, what: string, numberAllowed: boolean): (m: FilterMatch) => string | undefined {
  const s = spec.trim();
  if (numberAllowed && NUMBER.test(s)) return () => s;
  if (s.startsWith('$.')) {
    if (pattern.kind !== 'json') throw new MetricTransformationError(`${what} ${s} needs a JSON filter pattern.`);
    const c = new Cursor(s, 0);
    const sel = selector(c);
    if (c.i !== s.length) throw new MetricTransformationError(`${what} ${s} is not a JSON selector.`);
    return (m) => {
      const v = resolve(m.json, sel.path);
      return v === undefined || v === null || typeof v === 'object' ? undefined : String(v);
    };
  }
  const name = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(s)?.[1];
  if (name) {
    if (pattern.kind !== 'delimited' || !pattern.fields.includes(name)) {
      throw new MetricTransformationError(`${what} ${s} is not a field named by the space-delimited filter pattern.`);
    }
    return (m) => m.extracted[`$${name}`];
  }
  throw new MetricTransformationError(
    `${what} ${JSON.stringify(spec)} must be ${numberAllowed ? 'a number, ' : ''}a $field of a space-delimited pattern or a $.selector of a JSON pattern.`,
  );
}
