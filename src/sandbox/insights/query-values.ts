/**
 * Values of Logs Insights queries: strings, numbers, times (Date) and null (no value); how they
 * print in GetQueryResults and how `sort` orders them (CWL_QuerySyntax-Sort.html: "All non-number
 * values come before all number values"; other values compare in chunks, runs of digits by length
 * and then value, the rest by Unicode code points).
 */
export type Value = string | number | Date | null;

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function toNumber(v: Value): number | null {
  if (v === null) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v instanceof Date) return v.getTime();
  return NUMERIC.test(v) ? Number(v) : null;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Times as the console and GetQueryResults print them: `2026-12-07 18:15:14.123` (UTC). */
export function formatTime(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

export function formatValue(v: Exclude<Value, null>): string {
  if (v instanceof Date) return formatTime(v);
  return typeof v === 'number' ? String(v) : v;
}

/** "Number values are values that include only numbers" (digits, optionally a sign and a decimal point). */
function isNumberValue(v: Exclude<Value, null>): boolean {
  return typeof v === 'number' || v instanceof Date || /^-?\d+(?:\.\d+)?$/.test(v);
}

const CHUNK = /\d+|\D+/g;

export function compareNatural(a: Exclude<Value, null>, b: Exclude<Value, null>): number {
  const an = isNumberValue(a);
  const bn = isNumberValue(b);
  if (an && bn) return toNumber(a)! - toNumber(b)!;
  if (an !== bn) return an ? 1 : -1;
  const x = (a as string).match(CHUNK) ?? [];
  const y = (b as string).match(CHUNK) ?? [];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === q) continue;
    const pd = p.charCodeAt(0) >= 48 && p.charCodeAt(0) <= 57;
    const qd = q.charCodeAt(0) >= 48 && q.charCodeAt(0) <= 57;
    if (pd && qd) return p.length - q.length || (p < q ? -1 : 1);
    return p < q ? -1 : 1;
  }
  return x.length - y.length;
}
