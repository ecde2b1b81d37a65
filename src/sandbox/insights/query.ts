/**
 * CloudWatch Logs Insights queries over a log group's events, answering as GetQueryResults does:
 * rows of {field, value} strings and the statistics recordsMatched, recordsScanned, bytesScanned.
 *
 * Sources:
 * - "CloudWatch Logs Insights language query syntax",
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html (commands, `|`, `#` comments)
 *   and its pages CWL_QuerySyntax-Stats.html (bin units; `stats count(*) by queryType, bin(1h)`),
 *   CWL_QuerySyntax-Sort.html (the natural sort order), CWL_QuerySyntax-Limit.html ("If you omit
 *   limit, the query will return as many as 10,000 log events").
 * - StartQuery (API reference): `limit` "The default is 10,000"; startTime/endTime inclusive.
 * - "Supported logs and discovered fields" (CWL_AnalyzeLogData-discoverable-fields.html):
 *   @timestamp, @message, @logStream, @log ("account-id:log-group-name"), @ingestionTime; JSON
 *   messages' fields are discovered, nested names joined with dots.
 * - GetQueryResults / MalformedQueryException / QueryCompileError (API reference).
 *
 * Known differences from AWS (the sandbox is stricter where AWS's rule is unclear):
 * - The default row limit is 10,000, as the current docs say (older pages said 1,000); a
 *   StartQuery `limit` applies when the query has no `limit` command. `limit` above 10,000 is an error.
 * - `@ptr` is returned (last in a row of records, not of stats) when the caller gives `ptr`; its
 *   value is opaque (GetLogRecord is not emulated).
 * - `pct(field, p)` is the nearest-rank percentile of the group's numeric values (sorted
 *   ascending, the value at rank ceil(p/100 * n), the first for p = 0). AWS does not document
 *   its method (it estimates on large groups); the sandbox is exact.
 * - Without `sort`, records come newest first and stats groups in the order their first record
 *   was met in that scan (so bins are newest first). `sort` needs asc or desc spelled out.
 * - A row omits the fields that have no value, as GetQueryResults does. Numbers print as
 *   JavaScript prints them; times as `yyyy-MM-dd HH:mm:ss.SSS` (UTC).
 * - Without `fields`, `display` or `stats`, a row has @timestamp, @message, @logStream, @log and
 *   the fields `parse` created.
 * - bytesScanned counts the UTF-8 bytes of the scanned messages only.
 * - Only the commands and functions listed in query-parse.ts; anything else is a
 *   MalformedQueryException naming its line and position.
 */
import { AGGREGATES, parseQuery, type Command, type Expr, type Named } from './query-parse.js';
import { compareNatural, formatValue, toNumber, type Value } from './query-values.js';

export { QuerySyntaxError, parseQuery } from './query-parse.js';

export interface LogEvent {
  timestamp: number;
  message: string;
  logStream: string;
  logGroup: string;
  ingestionTime: number;
}

export interface QueryOptions<E extends LogEvent = LogEvent> {
  /** For @log, "account-id:log-group-name". */
  accountId?: string;
  /** Inclusive, in milliseconds. */
  startTime?: number;
  endTime?: number;
  /** StartQuery's limit, when the query has no limit command. */
  limit?: number;
  /** A record's @ptr (GetQueryResults adds it to each row that is a log record). */
  ptr?: (ev: E) => string;
}

export interface ResultField { field: string; value: string }
export interface QueryStatistics { recordsMatched: number; recordsScanned: number; bytesScanned: number }
export interface QueryResult { results: ResultField[][]; statistics: QueryStatistics; fields: string[] }

export const DEFAULT_LIMIT = 10_000;
const SYSTEM = ['@timestamp', '@message', '@logStream', '@log'];

interface Row { get(name: string): Value; set(name: string, v: Value): void; ts(): number | null }

/**
 * The fields a query sets on records (parse names, fields aliases) get slots when it is compiled:
 * a record keeps them in a small array (undefined: never set) instead of a dictionary per record.
 */
interface Scan { account: string; slots: Map<string, number> }

class EventRow implements Row {
  private v: Value[] | undefined;
  private json: Record<string, Value> | null | undefined;
  constructor(readonly ev: LogEvent, private readonly scan: Scan) {}
  private own(name: string): Value | undefined {
    const i = this.v === undefined ? undefined : this.scan.slots.get(name);
    return i === undefined ? undefined : this.v![i];
  }
  get(name: string): Value {
    const own = this.own(name);
    if (own !== undefined) return own;
    switch (name) {
      case '@timestamp': return new Date(this.ev.timestamp);
      case '@message': return this.ev.message;
      case '@logStream': return this.ev.logStream;
      case '@log': return `${this.scan.account}:${this.ev.logGroup}`;
      case '@ingestionTime': return new Date(this.ev.ingestionTime);
    }
    if (this.json === undefined) this.json = discover(this.ev.message);
    return this.json?.[name] ?? null;
  }
  set(name: string, v: Value): void { (this.v ??= new Array<Value>(this.scan.slots.size))[this.scan.slots.get(name)!] = v; }
  ts(): number | null {
    const own = this.own('@timestamp');
    return own !== undefined ? toNumber(own) : this.ev.timestamp;
  }
}

class MapRow implements Row {
  readonly f: Record<string, Value> = Object.create(null) as Record<string, Value>;
  get(name: string): Value { return this.f[name] ?? null; }
  set(name: string, v: Value): void { this.f[name] = v; }
  ts(): number | null { return toNumber(this.get('@timestamp')); }
}

/** A JSON object message's fields, nested names joined with `.` (arrays by index). */
function discover(message: string): Record<string, Value> | null {
  if (message.charCodeAt(0) !== 123 /* { */) return null;
  let json: unknown;
  try { json = JSON.parse(message); } catch { return null; }
  const out: Record<string, Value> = Object.create(null) as Record<string, Value>;
  const walk = (v: unknown, prefix: string): void => {
    if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, prefix ? `${prefix}.${k}` : k);
    } else if (prefix) out[prefix] = typeof v === 'boolean' ? String(v) : (v as string | number | null);
  };
  walk(json, '');
  return out;
}

type Sink = { push(r: Row): void; end(): void };

/**
 * A query's output columns, in the order its commands create them (`fields`, `stats`' groups then
 * aggregates, `display`); without one of those, the system fields and what `parse` names.
 * `explicit`: the query names its columns (so they are known without a row).
 */
export function outputColumns(commands: readonly Command[]): { columns: string[]; explicit: boolean } {
  let columns: string[] = [];
  let explicit = false;
  const add = (n: string): void => { if (!columns.includes(n)) columns.push(n); };
  const parsed: string[] = [];
  for (const c of commands) {
    if (c.cmd === 'fields') { if (!explicit) columns = []; explicit = true; c.items.forEach((i) => add(i.name)); }
    if (c.cmd === 'parse') parsed.push(...c.names);
    if (c.cmd === 'stats') { explicit = true; columns = [...c.by.map((b) => b.name), ...c.aggs.map((a) => a.name)]; }
    if (c.cmd === 'display') { explicit = true; columns = [...c.names]; }
  }
  if (!explicit) { columns = [...SYSTEM]; parsed.forEach(add); }
  return { columns, explicit };
}

/** Runs a query over events (any order); throws QuerySyntaxError for a malformed query. */
export function runQuery<E extends LogEvent>(query: string, events: readonly E[], o: QueryOptions<E> = {}): QueryResult {
  const commands = parseQuery(query);
  const slots = new Map<string, number>();
  for (const c of commands) {
    const names = c.cmd === 'parse' ? c.names : c.cmd === 'fields' ? c.items.map((i) => i.name) : [];
    for (const n of names) if (!slots.has(n)) slots.set(n, slots.size);
  }
  const scanCtx: Scan = { account: o.accountId ?? '000000000000', slots };
  const limitCmd = commands.find((c) => c.cmd === 'limit');
  const finalLimit = Math.min(limitCmd ? DEFAULT_LIMIT : (o.limit ?? DEFAULT_LIMIT), DEFAULT_LIMIT);

  const { columns } = outputColumns(commands);

  // Build the pipeline from its end.
  const out: Row[] = [];
  let matched = 0;
  const countAt = commands.findIndex((c) => c.cmd === 'stats' || c.cmd === 'limit');
  let sink: Sink = { push: (r) => { out.push(r); }, end: () => {} };
  for (let i = commands.length - 1; i >= -1; i--) {
    if (i === (countAt < 0 ? commands.length - 1 : countAt - 1)) sink = counting(sink, () => matched++);
    if (i >= 0) sink = stage(commands[i], sink);
  }

  // Scan newest first: stable on equal timestamps.
  let recordsScanned = 0;
  let bytesScanned = 0;
  const lo = o.startTime ?? -Infinity;
  const hi = o.endTime ?? Infinity;
  const scan = (ev: LogEvent): void => {
    if (ev.timestamp < lo || ev.timestamp > hi) return;
    recordsScanned++;
    bytesScanned += Buffer.byteLength(ev.message, 'utf8');
    sink.push(new EventRow(ev, scanCtx));
  };
  let ascending = true;
  for (let i = 1; i < events.length && ascending; i++) ascending = events[i - 1].timestamp <= events[i].timestamp;
  if (ascending) {
    for (let i = events.length - 1; i >= 0; i--) {
      let j = i;
      while (j > 0 && events[j - 1].timestamp === events[i].timestamp) j--;
      for (let k = j; k <= i; k++) scan(events[k]);
      i = j;
    }
  } else {
    const order = events.map((_, i) => i).sort((a, b) => events[b].timestamp - events[a].timestamp || a - b);
    for (const i of order) scan(events[i]);
  }
  sink.end();

  const results = out.slice(0, finalLimit).map((r) => {
    const row: ResultField[] = [];
    for (const field of columns) {
      const v = r.get(field);
      if (v !== null && v !== undefined) row.push({ field, value: formatValue(v) });
    }
    if (o.ptr && r instanceof EventRow) row.push({ field: '@ptr', value: o.ptr(r.ev as E) });
    return row;
  });
  return { results, statistics: { recordsMatched: matched, recordsScanned, bytesScanned }, fields: columns };
}

function counting(next: Sink, count: () => void): Sink {
  return { push: (r) => { count(); next.push(r); }, end: () => next.end() };
}

function stage(c: Command, next: Sink): Sink {
  switch (c.cmd) {
    case 'fields': {
      const computed = c.items.filter((i) => !(i.expr.k === 'field' && i.expr.name === i.name));
      return { push: (r) => { for (const i of computed) r.set(i.name, evaluate(i.expr, r)); next.push(r); }, end: () => next.end() };
    }
    case 'display':
      return next;
    case 'filter':
      return { push: (r) => { if (truthy(evaluate(c.expr, r))) next.push(r); }, end: () => next.end() };
    case 'parse':
      return {
        push: (r) => {
          const src = evaluate(c.source, r);
          const m = src === null ? null : c.re.exec(formatValue(src));
          // index < 0: the regex kept its names (it uses \k<name>)
          for (let i = 0; i < c.names.length; i++) r.set(c.names[i], m ? ((c.index[i] < 0 ? m.groups?.[c.names[i]] : m[c.index[i]]) ?? null) : null);
          next.push(r);
        },
        end: () => next.end(),
      };
    case 'limit': {
      let n = 0;
      return { push: (r) => { if (n++ < c.n) next.push(r); }, end: () => next.end() };
    }
    case 'sort': {
      const rows: Row[] = [];
      return {
        push: (r) => { rows.push(r); },
        end: () => {
          const keyed = rows.map((r, i) => ({ r, i, k: c.keys.map((k) => evaluate(k.expr, r)) }));
          keyed.sort((a, b) => {
            for (let j = 0; j < c.keys.length; j++) {
              const x = a.k[j];
              const y = b.k[j];
              if (x === null || y === null) { if (x !== y) return x === null ? 1 : -1; continue; }
              const d = compareNatural(x, y);
              if (d) return c.keys[j].desc ? -d : d;
            }
            return a.i - b.i;
          });
          for (const k of keyed) next.push(k.r);
          next.end();
        },
      };
    }
    case 'stats':
      return statsSink(c.aggs, c.by, next);
  }
}

interface Group { row: MapRow; acc: Acc[] }
type Acc = { n: number; sum: number; min: number; max: number; values: number[] | null };

function statsSink(aggs: Named[], by: Named[], next: Sink): Sink {
  const groups = new Map<string | number | null, Group>();
  const specs = aggs.map((a) => {
    const call = a.expr as Extract<Expr, { k: 'call' }>;
    const arg = call.args[0];
    return { name: a.name, fn: call.fn, arg: arg && arg.k !== 'star' ? arg : undefined, p: call.fn === 'pct' ? (call.args[1] as { v: number }).v : 0 };
  });
  // bin() keys stay numbers until a group is created (one Date per group, not per record).
  const keyOf = by.map((b): ((r: Row) => Value) => {
    const e = b.expr;
    if (e.k === 'call' && e.fn === 'bin') {
      const ms = (e.args[0] as { ms: number }).ms;
      return (r) => { const t = r.ts(); return t === null ? null : Math.floor(t / ms) * ms; };
    }
    return (r) => evaluate(e, r);
  });
  const isBin = by.map((b) => b.expr.k === 'call' && b.expr.fn === 'bin');
  const keys: Value[] = new Array(by.length);
  return {
    push(r) {
      // One key: the value itself (a Map tells 200 from "200"); several: joined with their types.
      let key: string | number | null;
      if (keyOf.length === 1) {
        const k = (keys[0] = keyOf[0](r));
        key = k instanceof Date ? `d${k.getTime()}` : k;
      } else {
        key = '';
        for (let i = 0; i < keyOf.length; i++) {
          const k = (keys[i] = keyOf[i](r));
          key += (k === null ? '\u0001' : k instanceof Date ? `d${k.getTime()}` : `${typeof k}${String(k)}`) + '\u0000';
        }
      }
      let g = groups.get(key);
      if (!g) {
        const row = new MapRow();
        by.forEach((b, i) => row.set(b.name, isBin[i] && keys[i] !== null ? new Date(keys[i] as number) : keys[i]));
        g = { row, acc: specs.map((s) => ({ n: 0, sum: 0, min: Infinity, max: -Infinity, values: s.fn === 'pct' ? [] : null })) };
        groups.set(key, g);
      }
      for (let i = 0; i < specs.length; i++) {
        const s = specs[i];
        const a = g.acc[i];
        if (s.fn === 'count') {
          if (!s.arg || evaluate(s.arg, r) !== null) a.n++;
          continue;
        }
        const x = toNumber(evaluate(s.arg!, r));
        if (x === null) continue;
        a.n++;
        a.sum += x;
        if (x < a.min) a.min = x;
        if (x > a.max) a.max = x;
        a.values?.push(x);
      }
    },
    end() {
      for (const g of groups.values()) {
        specs.forEach((s, i) => g.row.set(s.name, result(s.fn, g.acc[i], s.p)));
        next.push(g.row);
      }
      next.end();
    },
  };
}

function result(fn: string, a: Acc, p: number): Value {
  if (fn === 'count') return a.n;
  if (a.n === 0) return null;
  switch (fn) {
    case 'sum': return a.sum;
    case 'avg': return a.sum / a.n;
    case 'min': return a.min;
    case 'max': return a.max;
    default: {
      const v = Float64Array.from(a.values!).sort();
      return v[Math.max(0, Math.ceil((p / 100) * v.length) - 1)];
    }
  }
}

function truthy(v: Value): boolean {
  return v !== null && v !== 0 && v !== '';
}

function equal(a: Value, b: Value): boolean {
  if (a === null || b === null) return false;
  if (typeof a === 'number' || typeof b === 'number' || a instanceof Date || b instanceof Date) {
    const x = toNumber(a);
    const y = toNumber(b);
    if (x !== null && y !== null) return x === y;
  }
  return formatValue(a) === formatValue(b);
}

function order(a: Value, b: Value): number | null {
  if (a === null || b === null) return null;
  const x = toNumber(a);
  const y = toNumber(b);
  if (x !== null && y !== null) return x - y;
  const s = formatValue(a);
  const t = formatValue(b);
  return s < t ? -1 : s > t ? 1 : 0;
}

export function evaluate(e: Expr, r: Row): Value {
  switch (e.k) {
    case 'num': return e.v;
    case 'str': return e.v;
    case 'dur': return e.ms;
    case 'regex': return e.re.source;
    case 'star': return 1;
    case 'field': return r.get(e.name);
    case 'not': return truthy(evaluate(e.e, r)) ? 0 : 1;
    case 'neg': { const x = toNumber(evaluate(e.e, r)); return x === null ? null : -x; }
    case 'like': {
      const v = evaluate(e.e, r);
      if (v === null) return e.neg ? 1 : 0;
      const s = formatValue(v);
      const hit = e.pat.k === 'regex' ? e.pat.re.test(s) : s.includes((e.pat as { v: string }).v);
      return hit !== e.neg ? 1 : 0;
    }
    case 'in': {
      const v = evaluate(e.e, r);
      const hit = e.list.some((x) => equal(v, evaluate(x, r)));
      return hit !== e.neg ? 1 : 0;
    }
    case 'bin': {
      if (e.op === 'and') return truthy(evaluate(e.l, r)) && truthy(evaluate(e.r, r)) ? 1 : 0;
      if (e.op === 'or') return truthy(evaluate(e.l, r)) || truthy(evaluate(e.r, r)) ? 1 : 0;
      const a = evaluate(e.l, r);
      const b = evaluate(e.r, r);
      switch (e.op) {
        case '=': return equal(a, b) ? 1 : 0;
        case '!=': return a !== null && b !== null && !equal(a, b) ? 1 : 0;
        case '<': case '<=': case '>': case '>=': {
          const d = order(a, b);
          if (d === null) return 0;
          return (e.op === '<' ? d < 0 : e.op === '<=' ? d <= 0 : e.op === '>' ? d > 0 : d >= 0) ? 1 : 0;
        }
      }
      const x = toNumber(a);
      const y = toNumber(b);
      if (x === null || y === null) return null;
      switch (e.op) {
        case '+': return x + y;
        case '-': return x - y;
        case '*': return x * y;
        case '/': return y === 0 ? null : x / y;
        case '%': return y === 0 ? null : x % y;
        default: return x ** y;
      }
    }
    case 'call': return call(e, r);
  }
}

function call(e: Extract<Expr, { k: 'call' }>, r: Row): Value {
  // After stats, an aggregation names its column: `sort count(*) desc`.
  if (AGGREGATES.has(e.fn)) return r.get(e.text);
  const arg = (i: number): Value => evaluate(e.args[i], r);
  const str = (i: number): string | null => { const v = arg(i); return v === null ? null : formatValue(v); };
  const num = (i: number): number | null => toNumber(arg(i));
  switch (e.fn) {
    case 'bin': {
      const t = r.ts();
      const ms = (e.args[0] as { ms: number }).ms;
      return t === null ? null : new Date(Math.floor(t / ms) * ms);
    }
    case 'ispresent': return arg(0) !== null ? 1 : 0;
    case 'isempty': { const v = str(0); return v === null || v === '' ? 1 : 0; }
    case 'isblank': { const v = str(0); return v === null || v.trim() === '' ? 1 : 0; }
    case 'strlen': { const v = str(0); return v === null ? null : v.length; }
    case 'toupper': return str(0)?.toUpperCase() ?? null;
    case 'tolower': return str(0)?.toLowerCase() ?? null;
    case 'trim': return str(0)?.trim() ?? null;
    case 'concat': return e.args.map((_, i) => str(i) ?? '').join('');
    case 'coalesce': { for (let i = 0; i < e.args.length; i++) { const v = arg(i); if (v !== null) return v; } return null; }
    case 'abs': { const x = num(0); return x === null ? null : Math.abs(x); }
    case 'ceil': { const x = num(0); return x === null ? null : Math.ceil(x); }
    case 'floor': { const x = num(0); return x === null ? null : Math.floor(x); }
    case 'tonumber': return num(0);
  }
  return null;
}
