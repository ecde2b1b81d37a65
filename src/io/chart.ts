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

/**
 * A minute's label, UTC: "HH:MM", or "YYYY-MM-DD HH:MM" when the points span more than one UTC day
 * (as `logs` dates its lines): a window across midnight, or longer than a day, would otherwise
 * show the same HH:MM for different minutes.
 */
function minuteLabel(dated: boolean): (t: number) => string {
  return (t) => {
    const iso = new Date(t).toISOString();
    return dated ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
  };
}

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
  const dated = new Date(first).toISOString().slice(0, 10) !== new Date(last).toISOString().slice(0, 10);
  const label = minuteLabel(dated);
  if (!o.draw) {
    const head = dated ? `${'minute'.padEnd(16)}  requests  p99_ms` : 'minute  requests  p99_ms';
    return [head, ...points.map((p) => `${label(p.t)}  ${String(p.requests).padStart(8)}  ${(p.p99 === undefined ? '-' : short(p.p99)).padStart(6)}`)].join('\n');
  }
  const total = points.reduce((s, p) => s + p.requests, 0);
  const p99s = points.map((p) => p.p99).filter((x): x is number => x !== undefined);
  const [from, to] = [label(first), label(last)];
  const axis = `${' '.repeat(8)}${from}${' '.repeat(Math.max(1, points.length - from.length - to.length))}${to} UTC`;
  return [
    one(`Requests per minute (${total} in ${points.length} min)`, points.map((p) => p.requests), o, asciichart.cyan),
    axis,
    one(`p99 latency, ms (worst ${p99s.length ? short(Math.max(...p99s)) : '-'})`, points.map((p) => p.p99 ?? 0), o, asciichart.magenta),
    axis,
  ].join('\n');
}
