/**
 * Normalise-then-diff (after ecspresso): both sides are brought to one canonical form, so the only
 * differences left are the ones that matter. Steps pick which fields they compare; this module only
 * knows how to canonicalise JSON-like values and list their differences.
 */
import type { FieldDiff } from './step.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface NormaliseOptions {
  /** Drop empty arrays and empty objects (AWS often omits them on read). Default true. */
  dropEmpty?: boolean;
}

/**
 * Canonical form: object keys sorted, undefined and null dropped, empty arrays/objects dropped
 * (unless told otherwise). Array order is kept: callers sort arrays whose order AWS doesn't keep.
 */
export function normalise(value: unknown, opts: NormaliseOptions = {}): Json | undefined {
  const dropEmpty = opts.dropEmpty ?? true;
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    const items = value.map((v) => normalise(v, opts)).filter((v): v is Json => v !== undefined);
    return dropEmpty && items.length === 0 ? undefined : items;
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    const out: { [k: string]: Json } = {};
    for (const key of Object.keys(value as object).sort()) {
      const v = normalise((value as Record<string, unknown>)[key], opts);
      if (v !== undefined) out[key] = v;
    }
    return dropEmpty && Object.keys(out).length === 0 ? undefined : out;
  }
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  return String(value);
}

/** Field-by-field differences between two (normalised) values. */
export function diff(from: unknown, to: unknown, path = ''): FieldDiff[] {
  const a = normalise(from);
  const b = normalise(to);
  return diffJson(a, b, path);
}

function diffJson(a: Json | undefined, b: Json | undefined, path: string): FieldDiff[] {
  if (deepEqual(a, b)) return [];
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffJson(a[k], b[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    return a.flatMap((v, i) => diffJson(v, b[i], `${path}[${i}]`));
  }
  return [{ field: path || '(value)', from: a, to: b }];
}

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Render a diff for people: "field: from → to". */
export function formatDiff(d: FieldDiff): string {
  const show = (v: unknown) => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));
  return `${d.field}: ${show(d.from)} → ${show(d.to)}`;
}
