/**
 * Metric math, the part the sandbox evaluates: + - * / between time series and numbers, parentheses,
 * unary minus, and the functions FILL(series, value) and ABS(series).
 * Operators between two series match their timestamps ("if a timestamp is missing in one time series
 * the result has no value at that timestamp"; AWS user guide, "Using math expressions with
 * CloudWatch metrics", Arithmetic operators); a division by zero gives no value there.
 * Anything else is refused with a ValidationError naming the expression, stricter than AWS, which
 * knows many more functions.
 */
import { invalidParameterValue } from './common.js';

/** A time series (timestamp ms -> value) or a scalar. */
export type MathValue = number | Map<number, number>;

type Token = { kind: 'num'; value: number } | { kind: 'id'; value: string } | { kind: 'op'; value: string };

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/(),]))/y;
  let pos = 0;
  while (pos < expr.length) {
    if (/^\s*$/.test(expr.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(expr);
    if (!m) throw invalidParameterValue(`Unsupported or invalid metric math expression: ${expr}`);
    if (m[1] !== undefined) out.push({ kind: 'num', value: Number(m[1]) });
    else if (m[2] !== undefined) out.push({ kind: 'id', value: m[2] });
    else out.push({ kind: 'op', value: m[3] });
    pos = re.lastIndex;
  }
  return out;
}

/** The ids an expression reads (to order the queries of GetMetricData and alarms). */
export function referencedIds(expr: string): string[] {
  return tokenize(expr)
    .filter((t, i, all) => t.kind === 'id' && !(all[i + 1]?.kind === 'op' && all[i + 1].value === '('))
    .map((t) => String(t.value));
}

function binary(op: string, a: MathValue, b: MathValue): MathValue {
  const f = (x: number, y: number): number => (op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x / y);
  if (typeof a === 'number' && typeof b === 'number') return f(a, b);
  const out = new Map<number, number>();
  if (typeof a === 'number') {
    for (const [t, y] of b as Map<number, number>) out.set(t, f(a, y));
  } else if (typeof b === 'number') {
    for (const [t, x] of a) out.set(t, f(x, b));
  } else {
    for (const [t, x] of a) if (b.has(t)) out.set(t, f(x, b.get(t)!));
  }
  for (const [t, v] of out) if (!Number.isFinite(v)) out.delete(t);
  return out;
}

/** Evaluate `expr`; `lookup` gives the value of a query id; `timestamps` are the range's periods (for FILL). */
export function evaluate(expr: string, lookup: (id: string) => MathValue | undefined, timestamps: number[]): MathValue {
  const tokens = tokenize(expr);
  let i = 0;
  const fail = (): never => {
    throw invalidParameterValue(`Unsupported or invalid metric math expression: ${expr}`);
  };
  const peek = (v: string) => tokens[i]?.kind === 'op' && tokens[i].value === v;
  const expect = (v: string) => (peek(v) ? i++ : fail());

  const primary = (): MathValue => {
    const t = tokens[i++];
    if (!t) return fail();
    if (t.kind === 'num') return t.value;
    if (t.kind === 'op' && t.value === '(') {
      const v = sum();
      expect(')');
      return v;
    }
    if (t.kind === 'op' && t.value === '-') return binary('*', -1, primary());
    if (t.kind !== 'id') return fail();
    if (peek('(')) {
      i++;
      const name = t.value.toUpperCase();
      if (name === 'FILL') {
        const series = sum();
        expect(',');
        const fill = sum();
        expect(')');
        if (typeof series === 'number' || typeof fill !== 'number') return fail();
        return new Map(timestamps.map((ts) => [ts, series.get(ts) ?? fill]));
      }
      if (name === 'ABS') {
        const v = sum();
        expect(')');
        return typeof v === 'number' ? Math.abs(v) : new Map([...v].map(([ts, x]) => [ts, Math.abs(x)]));
      }
      return fail();
    }
    const v = lookup(t.value);
    return v === undefined ? fail() : v;
  };
  const product = (): MathValue => {
    let v = primary();
    while (peek('*') || peek('/')) {
      const op = tokens[i++].value as string;
      v = binary(op, v, primary());
    }
    return v;
  };
  const sum = (): MathValue => {
    let v = product();
    while (peek('+') || peek('-')) {
      const op = tokens[i++].value as string;
      v = binary(op, v, product());
    }
    return v;
  };
  const v = sum();
  if (i !== tokens.length) fail();
  return v;
}
