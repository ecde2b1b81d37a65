/**
 * The CloudWatch Logs Insights query language (Logs Insights QL): lexer and parser.
 * The evaluation is in query.ts; sources and the differences from AWS are listed there.
 *
 * Grammar (the subset the sandbox runs): commands separated by `|`, comments from `#` to the end
 * of the line.
 *   fields  expr [as name], ...
 *   display field, ...
 *   filter  expr
 *   parse   field "glob with *" as name, ...     |   parse field /regex with (?<name>...)/
 *   stats   agg(...) [as name], ... [by expr [as name], ...]
 *   sort    expr asc|desc, ...
 *   limit   n
 * expr: or, and, not, = != < <= > >=, like "text" | like /re/ | =~ /re/, [not] in [a, b],
 * + - * / % ^, unary -, function calls, fields (@message, a.b, `quoted name`), numbers,
 * 'strings' or "strings", /regex/ (a leading (?i) makes it case-insensitive).
 */

export class QuerySyntaxError extends Error {
  /** 0-based character offsets into the query, as QueryCompileErrorLocation's start and end. */
  constructor(readonly reason: string, readonly start: number, readonly end: number, readonly line: number, readonly column: number) {
    super(`${reason} at line ${line} and position ${column}`);
    this.name = 'MalformedQueryException';
  }
}

type TokKind = 'id' | 'num' | 'dur' | 'str' | 'regex' | 'op' | 'eof';
interface Tok { k: TokKind; v: string; pos: number; end: number; re?: RegExp }

export type Expr =
  | { k: 'num'; v: number }
  | { k: 'str'; v: string }
  | { k: 'dur'; ms: number; unit: string; n: number }
  | { k: 'regex'; re: RegExp }
  | { k: 'star' }
  | { k: 'field'; name: string }
  | { k: 'call'; fn: string; args: Expr[]; text: string; pos: number }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'neg'; e: Expr }
  | { k: 'like'; e: Expr; pat: Expr; neg: boolean }
  | { k: 'in'; e: Expr; list: Expr[]; neg: boolean };

export interface Named { expr: Expr; name: string }
export type Command =
  | { cmd: 'fields'; items: Named[] }
  | { cmd: 'display'; names: string[] }
  | { cmd: 'filter'; expr: Expr }
  | { cmd: 'parse'; source: Expr; re: RegExp; names: string[]; index: number[] }
  | { cmd: 'stats'; aggs: Named[]; by: Named[] }
  | { cmd: 'sort'; keys: { expr: Expr; desc: boolean }[] }
  | { cmd: 'limit'; n: number };

export const AGGREGATES = new Set(['count', 'sum', 'avg', 'min', 'max', 'pct']);
export const FUNCTIONS: Record<string, [number, number]> = {
  // name: [min args, max args]
  bin: [1, 1], ispresent: [1, 1], isempty: [1, 1], isblank: [1, 1], strlen: [1, 1], toupper: [1, 1],
  tolower: [1, 1], concat: [1, 32], abs: [1, 1], ceil: [1, 1], floor: [1, 1], tonumber: [1, 1],
  coalesce: [1, 32], trim: [1, 1],
  count: [0, 1], sum: [1, 1], avg: [1, 1], min: [1, 1], max: [1, 1], pct: [2, 2],
};
const KEYWORDS = new Set(['and', 'or', 'not', 'like', 'in', 'as', 'by', 'asc', 'desc']);
const COMMANDS = new Set(['fields', 'display', 'filter', 'parse', 'stats', 'sort', 'limit']);
/** bin() units, "CWL_QuerySyntax-Stats": ms/msec, s/sec, m/min, h/hr, d, w; a trailing s pluralises. */
const UNITS: Record<string, number> = {
  ms: 1, msec: 1, millisecond: 1, s: 1000, sec: 1000, second: 1000, m: 60_000, min: 60_000, minute: 60_000,
  h: 3_600_000, hr: 3_600_000, hour: 3_600_000, d: 86_400_000, day: 86_400_000, w: 604_800_000, week: 604_800_000,
};

export function unitMs(unit: string): number | undefined {
  return UNITS[unit] ?? (unit.length > 1 && unit.endsWith('s') ? UNITS[unit.slice(0, -1)] : undefined);
}

function lex(q: string, fail: (msg: string, pos: number, end?: number) => never): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const valueBefore = (): boolean => {
    const t = out[out.length - 1];
    if (!t) return false;
    // `like /x/`, `and /x/`... and `parse @message /x/` start a regex; after any other value, / divides.
    if (t.k === 'id') return !KEYWORDS.has(t.v.toLowerCase()) && out[out.length - 2]?.v.toLowerCase() !== 'parse';
    return t.k === 'num' || t.k === 'dur' || t.k === 'str' || (t.k === 'op' && (t.v === ')' || t.v === ']'));
  };
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '#') { while (i < q.length && q[i] !== '\n') i++; continue; }
    const start = i;
    let m: RegExpExecArray | null;
    if (c === '"' || c === "'") {
      let v = '';
      for (i++; i < q.length && q[i] !== c; i++) {
        if (q[i] === '\\' && i + 1 < q.length) {
          const n = q[++i];
          v += n === 'n' ? '\n' : n === 't' ? '\t' : n;
        } else v += q[i];
      }
      if (i >= q.length) fail('unterminated string', start);
      out.push({ k: 'str', v, pos: start, end: ++i });
    } else if (c === '`') {
      const end = q.indexOf('`', i + 1);
      if (end < 0) fail('unterminated `quoted field`', start);
      out.push({ k: 'id', v: q.slice(i + 1, end), pos: start, end: end + 1 });
      i = end + 1;
    } else if (c === '/' && !valueBefore()) {
      let src = '';
      for (i++; i < q.length && q[i] !== '/'; i++) {
        if (q[i] === '\\' && i + 1 < q.length) src += q[i++];
        src += q[i];
      }
      if (i >= q.length) fail('unterminated /regular expression/', start);
      i++;
      let flags = '';
      if (src.startsWith('(?i)')) { flags = 'i'; src = src.slice(4); }
      let re: RegExp;
      try { re = new RegExp(src, flags); } catch (e) { fail(`invalid regular expression: ${(e as Error).message}`, start, i); }
      out.push({ k: 'regex', v: q.slice(start, i), pos: start, end: i, re });
    } else if ((m = /^(\d+(?:\.\d+)?)([A-Za-z]*)/.exec(q.slice(i)))) {
      i += m[0].length;
      out.push({ k: m[2] ? 'dur' : 'num', v: m[0], pos: start, end: i });
    } else if ((m = /^@?[A-Za-z_][A-Za-z0-9_.@]*/.exec(q.slice(i)))) {
      i += m[0].length;
      out.push({ k: 'id', v: m[0], pos: start, end: i });
    } else if ((m = /^(=~|==|!=|<=|>=|[=<>+\-*/%^(),[\]|])/.exec(q.slice(i)))) {
      i += m[0].length;
      out.push({ k: 'op', v: m[0], pos: start, end: i });
    } else fail(`unexpected symbol found ${c}`, start);
  }
  out.push({ k: 'eof', v: '<EOF>', pos: q.length, end: q.length });
  return out;
}

export function parseQuery(query: string): Command[] {
  const fail = (msg: string, pos: number, end = pos + 1): never => {
    const before = query.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - (before.lastIndexOf('\n') + 1);
    throw new QuerySyntaxError(msg, pos, Math.max(pos, end - 1), line, column);
  };
  const toks = lex(query, fail);
  let p = 0;
  const peek = (): Tok => toks[p];
  const isOp = (v: string): boolean => toks[p].k === 'op' && toks[p].v === v;
  const isKw = (v: string): boolean => toks[p].k === 'id' && toks[p].v.toLowerCase() === v;
  const unexpected = (want?: string): never => {
    const t = peek();
    return fail(`unexpected symbol found ${t.v}${want ? `, expected ${want}` : ''}`, t.pos, t.end);
  };
  const expectOp = (v: string): void => { if (!isOp(v)) unexpected(v); p++; };
  const text = (from: number): string => query.slice(toks[from].pos, toks[p - 1].end);
  let statsSeen = false;

  const fieldName = (): string => {
    const t = peek();
    if (t.k !== 'id' || (KEYWORDS.has(t.v.toLowerCase()) && query[t.pos] !== '`')) unexpected('a field name');
    p++;
    return t.v;
  };

  // Expressions, lowest precedence first.
  const expr = (): Expr => or();
  const or = (): Expr => {
    let l = and();
    while (isKw('or')) { p++; l = { k: 'bin', op: 'or', l, r: and() }; }
    return l;
  };
  const and = (): Expr => {
    let l = not();
    while (isKw('and')) { p++; l = { k: 'bin', op: 'and', l, r: not() }; }
    return l;
  };
  const not = (): Expr => {
    if (isKw('not')) { p++; return { k: 'not', e: not() }; }
    return comparison();
  };
  const comparison = (): Expr => {
    const l = additive();
    const t = peek();
    if (t.k === 'op' && ['=', '==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      p++;
      return { k: 'bin', op: t.v === '==' ? '=' : t.v, l, r: additive() };
    }
    if (isOp('=~')) {
      p++;
      const pat = additive();
      if (pat.k !== 'regex') fail('=~ needs a /regular expression/', toks[p - 1].pos);
      return { k: 'like', e: l, pat, neg: false };
    }
    let neg = false;
    if (isKw('not') && toks[p + 1].k === 'id' && ['like', 'in'].includes(toks[p + 1].v.toLowerCase())) { p++; neg = true; }
    if (isKw('like')) {
      p++;
      const pat = additive();
      if (pat.k !== 'regex' && pat.k !== 'str') fail('like needs a "string" or a /regular expression/', toks[p - 1].pos);
      return { k: 'like', e: l, pat, neg };
    }
    if (isKw('in')) {
      p++;
      expectOp('[');
      const list: Expr[] = [];
      if (!isOp(']')) {
        do list.push(additive()); while (isOp(',') && ++p);
      }
      expectOp(']');
      return { k: 'in', e: l, list, neg };
    }
    if (neg) unexpected('like or in');
    return l;
  };
  const additive = (): Expr => {
    let l = multiplicative();
    while (isOp('+') || isOp('-')) { const op = toks[p++].v; l = { k: 'bin', op, l, r: multiplicative() }; }
    return l;
  };
  const multiplicative = (): Expr => {
    let l = power();
    while (isOp('*') || isOp('/') || isOp('%')) { const op = toks[p++].v; l = { k: 'bin', op, l, r: power() }; }
    return l;
  };
  const power = (): Expr => {
    const l = unary();
    if (isOp('^')) { p++; return { k: 'bin', op: '^', l, r: power() }; }
    return l;
  };
  const unary = (): Expr => {
    if (isOp('-')) { p++; return { k: 'neg', e: unary() }; }
    return primary();
  };
  const primary = (): Expr => {
    const t = peek();
    if (t.k === 'num') { p++; return { k: 'num', v: Number(t.v) }; }
    if (t.k === 'str') { p++; return { k: 'str', v: t.v }; }
    if (t.k === 'regex') { p++; return { k: 'regex', re: t.re! }; }
    if (t.k === 'dur') {
      const [, n, unit] = /^(\d+(?:\.\d+)?)([A-Za-z]+)$/.exec(t.v)!;
      const ms = unitMs(unit);
      if (ms === undefined) return fail(`unknown time unit ${unit}`, t.pos, t.end);
      p++;
      return { k: 'dur', ms: Number(n) * ms, unit, n: Number(n) };
    }
    if (isOp('(')) {
      p++;
      const e = expr();
      expectOp(')');
      return e;
    }
    if (t.k === 'id' && toks[p + 1].k === 'op' && toks[p + 1].v === '(' && query[t.pos] !== '`') return call();
    return { k: 'field', name: fieldName() };
  };
  const call = (): Expr => {
    const from = p;
    const t = toks[p];
    const fn = t.v.toLowerCase();
    const arity = FUNCTIONS[fn];
    if (!arity) fail(`unknown function ${t.v}`, t.pos, t.end);
    if (AGGREGATES.has(fn) && !statsSeen) fail(`${t.v} is an aggregation function: use it in stats`, t.pos, t.end);
    p += 2;
    const args: Expr[] = [];
    if (!isOp(')')) {
      do {
        if (fn === 'count' && isOp('*')) { p++; args.push({ k: 'star' }); } else args.push(expr());
      } while (isOp(',') && ++p);
    }
    expectOp(')');
    if (args.length < arity[0] || args.length > arity[1]) fail(`${t.v} takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} argument(s)`, t.pos, toks[p - 1].end);
    if (fn === 'bin' && args[0].k !== 'dur') fail('bin needs a period such as 5m', t.pos, toks[p - 1].end);
    if (fn === 'pct' && (args[1].k !== 'num' || args[1].v < 0 || args[1].v > 100)) fail('pct needs a percentile from 0 to 100', t.pos, toks[p - 1].end);
    return { k: 'call', fn, args, text: text(from), pos: t.pos };
  };
  const named = (): Named => {
    const from = p;
    const e = expr();
    const name = text(from);
    if (isKw('as')) { p++; return { expr: e, name: fieldName() }; }
    return { expr: e, name: e.k === 'field' ? e.name : name };
  };
  const list = <T>(item: () => T): T[] => {
    const out = [item()];
    while (isOp(',')) { p++; out.push(item()); }
    return out;
  };

  const commands: Command[] = [];
  for (;;) {
    const t = peek();
    if (t.k !== 'id' || !COMMANDS.has(t.v.toLowerCase())) unexpected('a command (fields, display, filter, parse, stats, sort, limit)');
    p++;
    switch (t.v.toLowerCase()) {
      case 'fields':
        commands.push({ cmd: 'fields', items: list(named) });
        break;
      case 'display':
        commands.push({ cmd: 'display', names: list(fieldName) });
        break;
      case 'filter':
        commands.push({ cmd: 'filter', expr: expr() });
        break;
      case 'parse': {
        const source: Expr = { k: 'field', name: fieldName() };
        const pt = peek();
        let re: RegExp;
        let names: string[];
        let index: number[];
        if (pt.k === 'str') {
          p++;
          const stars = pt.v.split('*').length - 1;
          if (stars === 0) fail('a parse pattern needs at least one *', pt.pos, pt.end);
          if (!isKw('as')) unexpected('as');
          p++;
          names = list(fieldName);
          if (names.length !== stars) fail(`the pattern has ${stars} * but ${names.length} name(s) follow as`, pt.pos, toks[p - 1].end);
          re = globRegex(pt.v);
          index = names.map((_, i) => i + 1);
        } else if (pt.k === 'regex') {
          p++;
          ({ re, names, index } = positional(pt.re!));
          if (names.length === 0) fail('a parse regular expression needs a named group such as (?<name>...)', pt.pos, pt.end);
        } else return unexpected('a "glob pattern" or a /regular expression/');
        commands.push({ cmd: 'parse', source, re, names, index });
        break;
      }
      case 'stats': {
        statsSeen = true;
        const aggs = list(named);
        for (const a of aggs) {
          if (a.expr.k !== 'call' || !AGGREGATES.has(a.expr.fn)) fail('stats needs aggregation functions (count, sum, avg, min, max, pct)', t.pos, t.end);
        }
        let by: Named[] = [];
        if (isKw('by')) { p++; by = list(named); }
        commands.push({ cmd: 'stats', aggs, by });
        break;
      }
      case 'sort':
        commands.push({
          cmd: 'sort',
          keys: list(() => {
            const e = expr();
            if (isKw('asc') || isKw('desc')) return { expr: e, desc: toks[p++].v.toLowerCase() === 'desc' };
            return unexpected('asc or desc');
          }),
        });
        break;
      case 'limit': {
        const n = peek();
        if (n.k !== 'num' || !/^\d+$/.test(n.v) || Number(n.v) < 1 || Number(n.v) > 10_000) fail('limit needs a whole number from 1 to 10000', n.pos, n.end);
        p++;
        commands.push({ cmd: 'limit', n: Number(n.v) });
        break;
      }
    }
    if (peek().k === 'eof') return commands;
    expectOp('|');
  }
}

/** A parse glob: `*` captures (the last one to the end of the line), everything else is literal. */
function globRegex(glob: string): RegExp {
  const parts = glob.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  let src = parts[0];
  for (let i = 1; i < parts.length; i++) src += (i === parts.length - 1 ? '(.*)' : '(.*?)') + parts[i];
  return new RegExp(src, 's');
}

/**
 * A regex's named groups as numbered ones (V8 builds a `groups` object per match otherwise): the
 * names in order, the capture index of each, and the same expression without the names. Kept as
 * it is when it refers to a group by name (\k<name>).
 */
function positional(re: RegExp): { re: RegExp; names: string[]; index: number[] } {
  const src = re.source;
  const names: string[] = [];
  const index: number[] = [];
  let out = '';
  let group = 0;
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') { out += c + (src[i + 1] ?? ''); i++; continue; }
    if (inClass) { if (c === ']') inClass = false; out += c; continue; }
    if (c === '[') { inClass = true; out += c; continue; }
    if (c === '(') {
      const named = /^\(\?<([A-Za-z_$][A-Za-z0-9_$]*)>/.exec(src.slice(i));
      if (named) {
        names.push(named[1]);
        index.push(++group);
        out += '(';
        i += named[0].length - 1;
        continue;
      }
      if (src[i + 1] !== '?') group++;
    }
    out += c;
  }
  if (/\\k</.test(src)) return { re, names, index: names.map((_, i) => -1 - i) };
  return { re: new RegExp(out, re.flags), names, index };
}
