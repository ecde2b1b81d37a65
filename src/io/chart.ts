/**
 * The traffic picture of `status` and `query --chart`: requests per minute and p99 latency, one
 * small asciichart (https://github.com/kroitor/asciichart) each, drawn only for a terminal; piped,
 * or for a reader other than a person, the same figures as plain numbers, one minute a line.
 */
import asciichart from 'asciichart';

export interface TrafficPoint {
  /** The minute's start, epoch ms. */
  t: number;
  requests: number;
  /** p99 request duration in ms; undefined for a minute without requests. */
  p99?: number;
}

export interface ChartOptions {
  /** Draw (a TTY); otherwise plain numbers. */
  draw: boolean;
  /** Rows of each chart. */
  height?: number;
  /** Colour (the chart's lines). */
  color?: boolean;
}

const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);

/** One figure, short: 12, 1.5k, 0.42. */
function short(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 10_000) return `${(x / 1000).toFixed(0)}k`;
  if (Math.abs(x) >= 1000) return `${(x / 1000).toFixed(1)}k`;
  if (Math.abs(x) >= 10 || x === Math.round(x)) return x.toFixed(0);
  return x.toFixed(2);
}

function one(title: string, values: number[], o: ChartOptions, color: string | undefined): string {
  const max = Math.max(...values);
  const flat = max === Math.min(...values);
  const plot = asciichart.plot(values, {
    height: o.height ?? 6,
    // A flat line (no traffic at all) still gets an axis from 0.
    ...(flat ? { min: 0, max: Math.max(1, max) } : { min: 0 }),
    format: (x: number) => short(x).padStart(6),
    ...(color && o.color ? { colors: [color] } : {}),
  });
  return `${title}\n${plot}`;
}

/** The chart (a TTY) or the plain lines; '' when there are no points. */
export function trafficChart(points: readonly TrafficPoint[], o: ChartOptions): string {
  if (points.length === 0) return '';
  const first = points[0]!.t;
  const last = points[points.length - 1]!.t;
  if (!o.draw) {
    return ['minute  requests  p99_ms', ...points.map((p) => `${hhmm(p.t)}  ${String(p.requests).padStart(8)}  ${(p.p99 === undefined ? '-' : short(p.p99)).padStart(6)}`)].join('\n');
  }
  const total = points.reduce((s, p) => s + p.requests, 0);
  const p99s = points.map((p) => p.p99).filter((x): x is number => x !== undefined);
  const axis = `${' '.repeat(8)}${hhmm(first)}${' '.repeat(Math.max(1, points.length - 10))}${hhmm(last)} UTC`;
  return [
    one(`Requests per minute (${total} in ${points.length} min)`, points.map((p) => p.requests), o, asciichart.cyan),
    axis,
    one(`p99 latency, ms (worst ${p99s.length ? short(Math.max(...p99s)) : '-'})`, points.map((p) => p.p99 ?? 0), o, asciichart.magenta),
    axis,
  ].join('\n');
}
