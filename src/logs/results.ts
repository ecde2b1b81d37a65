/**
 * What `ecs-cwlogs query` prints: its rows as a table for people, or as CSV (RFC 4180: a field with a
 * comma, a quote, CR or LF is quoted, and its quotes doubled; lines end with CRLF as the RFC says,
 * https://www.rfc-editor.org/rfc/rfc4180#section-2), and which query a word names.
 */
import { NAMED_QUERIES, type NamedQueryName } from './queries.js';
import type { Row } from './insights.js';

/** A field as RFC 4180 writes it. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function toCsv(fields: readonly string[], rows: readonly Row[]): string {
  const line = (cells: readonly string[]) => `${cells.map(csvField).join(',')}\r\n`;
  return line(fields) + rows.map((r) => line(fields.map((f) => r[f] ?? ''))).join('');
}

/** Control characters (a log line may hold escape sequences) shown, never sent to the terminal. */
function printable(v: string): string {
  return v.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\t' ? ' ' : c === '\n' ? '⏎' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** Numbers right-aligned, text left-aligned, each column as wide as its widest cell (at most `maxWidth`). */
export function toTable(fields: readonly string[], rows: readonly Row[], maxWidth = 120): string {
  if (fields.length === 0) return '';
  const cell = (v: string) => {
    const p = printable(v);
    return p.length > maxWidth ? `${p.slice(0, maxWidth - 1)}…` : p;
  };
  const cells = rows.map((r) => fields.map((f) => cell(r[f] ?? '')));
  const numeric = fields.map((_, i) => cells.length > 0 && cells.every((c) => c[i] === '' || /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(c[i]!)));
  const widths = fields.map((f, i) => Math.max(f.length, ...cells.map((c) => c[i]!.length)));
  const fmt = (c: readonly string[]) =>
    c
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : i === c.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(fields.map((f, i) => (numeric[i] ? f.padStart(widths[i]!) : f))), ...cells.map(fmt)].join('\n');
}

/** Words that start a Logs Insights query (CWL_QuerySyntax.html's commands). */
const COMMANDS = /^\s*(fields|filter|stats|parse|sort|limit|display|dedup|unmask|unnest|pattern|diff|anomaly|filterIndex|source|SOURCE)\b/;

export type QueryChoice = { kind: 'named'; name: NamedQueryName } | { kind: 'raw'; query: string } | { kind: 'unknown'; word: string; suggestion?: NamedQueryName };

/** A named query's name, a raw query string, or a word that is neither (with the nearest name). */
export function chooseQuery(text: string): QueryChoice {
  const t = text.trim();
  if ((NAMED_QUERIES as readonly string[]).includes(t)) return { kind: 'named', name: t as NamedQueryName };
  if (COMMANDS.test(t) || /[|\s]/.test(t)) return { kind: 'raw', query: t };
  const near = NAMED_QUERIES.map((n) => ({ n, d: distance(n, t.toLowerCase()) })).sort((a, b) => a.d - b.d)[0]!;
  return { kind: 'unknown', word: t, ...(near.d <= 3 ? { suggestion: near.n } : {}) };
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}
