/**
 * CloudWatch Logs filter patterns, as metric filters, subscription filters, FilterLogEvents and
 * Live Tail use them; and a metric filter's transformation (its value and dimensions).
 *
 * Sources:
 * - "Filter pattern syntax for metric filters, subscription filters, filter log events, and Live
 *   Tail", https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
 *   (its sections "Using filter patterns to match terms in unstructured log events", "... in
 *   space-delimited log events", "... in JSON log events", and "Supported regular expressions").
 * - The same page's earlier text, "Filter and Pattern Syntax" (awsdocs/amazon-cloudwatch-logs-user-guide,
 *   doc_source/FilterAndPatternSyntax.md): terms match as substrings ("ERROR" matches "Exiting with
 *   ERRORCODE: -1"), terms with characters other than alphanumerics or underscore go in double
 *   quotes, the selector and number grammar of JSON patterns, `[..., request=*.html*, status_code=4*,]`
 *   and its extracted values ($status_code, $1...).
 * - MetricTransformation (API reference): metricValue is a number or a `$field`/`$.selector`;
 *   up to 3 dimensions, whose values are `$field`/`$.selector`; no defaultValue with dimensions.
 *
 * The four kinds: terms (`ERROR`, `"an exact phrase"`, `?ERROR ?WARN`, `ERROR -ARGUMENTS`), a
 * regular expression (`%...%`), space-delimited (`[ip, user, ..., status_code = 5*, bytes > 1000]`)
 * and JSON (`{ $.status = 500 && $.path != "/health" }`).
 *
 * Where AWS's rules are unclear the sandbox is stricter (a pattern it accepts, AWS accepts too):
 * - Terms: `?` terms cannot be mixed with plain or `-` terms; an unquoted term is letters, digits
 *   and `_` only (AWS accepts some other characters unquoted).
 * - Regex: only the characters the page lists (letters, digits, `:_#=@/;,-`, the operators
 *   `^$?[]{}|\*+.`); no space, no parentheses; at most 2 regexes in a space-delimited or JSON pattern.
 * - Space-delimited: at most one `...`; a field's condition names only that field
 *   (`status_code = 4* && bytes > 1000` is refused, as AWS refuses it too, awsdocs issue #21);
 *   `&&` binds tighter than `||`; runs of spaces in the message separate like one space.
 *   A number compared with `=`/`!=`/`<`... matches only a field that is a number.
 * - JSON: the whole message must be a JSON object; `=`/`!=` with a number matches only a JSON
 *   number, with a string only a JSON string (`= *` matches any string, number or boolean);
 *   `!=` never matches a missing field, an object or an array; `EXISTS` is accepted beside the
 *   documented `NOT EXISTS`, `IS NULL`, `IS TRUE`, `IS FALSE`. Array elements by index only.
 * - Wildcards: `*` is a wildcard only at the start and/or end of a value (the page: "Ev*ent will
 *   only match the actual string Ev*ent").
 * - `" "` (a quoted single space) is taken as the empty pattern: every event matches, also one
 *   without a space (undocumented; read as "match everything", as it is commonly used).
 * - A metric value taken from a field that is not a number emits nothing for that event
 *   (metric-transformation.ts).
 */

export class FilterPatternError extends Error {
  constructor(message: string, readonly position: number) {
    super(`Invalid filter pattern: ${message} (at character ${position + 1})`);
    this.name = 'FilterPatternError';
  }
}

export type PatternKind = 'all' | 'terms' | 'regex' | 'delimited' | 'json';

export interface FilterMatch {
  /** As TestMetricFilter's extractedValues: `$name` or `$<position>` for space-delimited, `$.a.b` for JSON. */
  extracted: Record<string, string>;
  /** The message parsed as JSON (JSON patterns only). */
  json?: unknown;
}

export interface FilterPattern {
  readonly kind: PatternKind;
  readonly text: string;
  /** The names of a space-delimited pattern's named fields. */
  readonly fields: readonly string[];
  /** The match and its extracted values, or undefined. */
  match(message: string): FilterMatch | undefined;
  matches(message: string): boolean;
}

const MAX_PATTERN = 1024; // MetricFilter.filterPattern: "Maximum length of 1024"
const MAX_REGEX = 2;
const ALL: FilterMatch = Object.freeze({ extracted: Object.freeze({}) }) as FilterMatch;

export function compileFilterPattern(pattern: string | undefined): FilterPattern {
  const raw = pattern ?? '';
  if (raw.length > MAX_PATTERN) throw new FilterPatternError(`longer than ${MAX_PATTERN} characters`, MAX_PATTERN);
  const text = raw.trim();
  const at = raw.indexOf(text);
  let match: (m: string) => FilterMatch | undefined;
  let kind: PatternKind;
  let fields: string[] = [];
  if (text === '' || text === '" "') {
    kind = 'all';
    match = () => ALL;
  } else if (text.startsWith('{')) {
    kind = 'json';
    match = compileJson(text, at);
  } else if (text.startsWith('[')) {
    kind = 'delimited';
    const d = compileDelimited(text, at);
    fields = d.fields;
    match = d.match;
  } else if (text.startsWith('%') && text.endsWith('%') && text.length > 1) {
    kind = 'regex';
    const re = compileRegex(text, at);
    match = (m) => (re.test(m) ? ALL : undefined);
  } else {
    kind = 'terms';
    match = compileTerms(text, at);
  }
  return { kind, text, fields, match, matches: (m) => match(m) !== undefined };
}

// ---------------------------------------------------------------------------------------------
// Terms

function compileTerms(text: string, at: number): (m: string) => FilterMatch | undefined {
  const all: string[] = [];
  const none: string[] = [];
  const any: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i])) { i++; continue; }
    const start = i;
    const op = text[i] === '-' || text[i] === '?' ? text[i++] : '';
    let term: string;
    if (text[i] === '"') {
      const q = readQuoted(text, i, at);
      term = q.value;
      i = q.end;
      if (i < text.length && !/\s/.test(text[i])) throw new FilterPatternError('a quoted term must be followed by a space', at + i);
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(text.slice(i));
      const end = m ? i + m[0].length : i;
      if (!m || (end < text.length && !/\s/.test(text[end]))) {
        throw new FilterPatternError('a term with characters other than letters, digits or underscore must be in double quotes', at + start);
      }
      term = m[0];
      i = end;
    }
    (op === '-' ? none : op === '?' ? any : all).push(term);
  }
  if (any.length && (all.length || none.length)) {
    throw new FilterPatternError('?term (OR) cannot be combined with plain or -term terms', at);
  }
  return (m) =>
    all.every((t) => m.includes(t)) && none.every((t) => !m.includes(t)) && (any.length === 0 || any.some((t) => m.includes(t)))
      ? ALL
      : undefined;
}

function readQuoted(text: string, i: number, at: number): { value: string; end: number } {
  let value = '';
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === '\\' && j + 1 < text.length) { value += text[++j]; continue; }
    if (c === '"') return { value, end: j + 1 };
    value += c;
  }
  throw new FilterPatternError('unterminated double quote', at + i);
}

// ---------------------------------------------------------------------------------------------
// Regular expressions: %...%

const REGEX_CHARS = /^[A-Za-z0-9:_#=@/;,\-^$?[\]{}|\\*+.]*$/;

function compileRegex(text: string, at: number): RegExp {
  const body = text.slice(1, -1);
  if (body === '') throw new FilterPatternError('an empty regular expression', at);
  if (!REGEX_CHARS.test(body)) {
    const bad = [...body].findIndex((c) => !REGEX_CHARS.test(c));
    throw new FilterPatternError(`character ${JSON.stringify(body[bad])} is not supported in a regular expression`, at + 1 + bad);
  }
  try {
    return new RegExp(body);
  } catch (e) {
    throw new FilterPatternError(`bad regular expression: ${(e as Error).message}`, at);
  }
}

// ---------------------------------------------------------------------------------------------
// Values compared by delimited and JSON patterns

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=';
type Value = { kind: 'number'; n: number } | { kind: 'string'; s: string; quoted: boolean } | { kind: 'regex'; re: RegExp };

export const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** `*` at the start and/or end is a wildcard; elsewhere it is literal. */
function stringTest(pattern: string): (s: string) => boolean {
  if (pattern === '*') return () => true;
  const head = pattern.startsWith('*');
  const tail = pattern.length > 1 && pattern.endsWith('*');
  const core = pattern.slice(head ? 1 : 0, tail ? -1 : undefined);
  if (head && tail) return (s) => s.includes(core);
  if (head) return (s) => s.endsWith(core);
  if (tail) return (s) => s.startsWith(core);
  return (s) => s === core;
}

function numberCompare(op: Op, a: number, b: number): boolean {
  switch (op) {
    case '=': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
  }
}

/** A small tokenizer shared by the delimited and JSON grammars. */
export class Cursor {
  i = 0;
  regexes = 0;
  constructor(readonly text: string, readonly at: number) {}
  ws(): void { while (this.i < this.text.length && /\s/.test(this.text[this.i])) this.i++; }
  peek(s: string): boolean { this.ws(); return this.text.startsWith(s, this.i); }
  eat(s: string): boolean { if (this.peek(s)) { this.i += s.length; return true; } return false; }
  fail(msg: string, i = this.i): never { throw new FilterPatternError(msg, this.at + i); }
  op(): Op | undefined {
    this.ws();
    for (const o of ['!=', '<=', '>=', '=', '<', '>'] as const) if (this.text.startsWith(o, this.i)) { this.i += o.length; return o; }
    return undefined;
  }
  /** A value: "quoted", %regex%, or a bare token ending at space, `,`, `]`, `}`, `)`, `&&`, `||`. */
  value(op: Op): Value {
    this.ws();
    const start = this.i;
    const t = this.text;
    if (t[this.i] === '"') {
      const q = readQuoted(t, this.i, this.at);
      this.i = q.end;
      if (op !== '=' && op !== '!=') this.fail(`${op} needs a number`, start);
      return { kind: 'string', s: q.value, quoted: true };
    }
    if (t[this.i] === '%') {
      const end = t.indexOf('%', this.i + 1);
      if (end < 0) this.fail('unterminated %regex%');
      if (op !== '=' && op !== '!=') this.fail(`${op} cannot take a regular expression`, start);
      if (++this.regexes > MAX_REGEX) this.fail(`more than ${MAX_REGEX} regular expressions in one pattern`, start);
      const re = compileRegex(t.slice(this.i, end + 1), this.at + this.i);
      this.i = end + 1;
      return { kind: 'regex', re };
    }
    const m = /^[^\s,\]})&|"%]+/.exec(t.slice(this.i));
    if (!m) this.fail('a value is missing');
    this.i += m[0].length;
    if (NUMBER.test(m[0])) return { kind: 'number', n: Number(m[0]) };
    if (op !== '=' && op !== '!=') this.fail(`${op} needs a number`, start);
    if (!/^[A-Za-z0-9_.*:/\-+]+$/.test(m[0])) this.fail('a value with characters such as these must be in double quotes', start);
    return { kind: 'string', s: m[0], quoted: false };
  }
}

// ---------------------------------------------------------------------------------------------
// Space-delimited: [a, b = x, ..., c > 10]

type Cond = { op: Op; value: Value };
type Expr = { or: Cond[][] }; // OR of ANDs
interface Column { name?: string; ellipsis?: boolean; expr?: Expr }

function compileDelimited(text: string, at: number): { fields: string[]; match: (m: string) => FilterMatch | undefined } {
  if (!text.endsWith(']')) throw new FilterPatternError('a space-delimited pattern must end with ]', at + text.length - 1);
  const c = new Cursor(text.slice(0, -1), at);
  c.i = 1;
  const cols: Column[] = [];
  const names = new Set<string>();
  for (;;) {
    c.ws();
    const start = c.i;
    if (c.eat('...')) {
      if (cols.some((x) => x.ellipsis)) c.fail('only one ... is supported', start);
      cols.push({ ellipsis: true });
    } else if (c.peek(',') || c.i >= c.text.length) {
      if (c.i >= c.text.length && cols.length === 0) c.fail('an empty space-delimited pattern');
      cols.push({});
    } else {
      const col = delimitedColumn(c);
      if (names.has(col.name!)) c.fail(`field ${col.name} is named twice`, start);
      names.add(col.name!);
      cols.push(col);
    }
    c.ws();
    if (c.i >= c.text.length) break;
    if (!c.eat(',')) c.fail('expected , between fields');
  }
  const e = cols.findIndex((x) => x.ellipsis);
  const pre = e < 0 ? cols : cols.slice(0, e);
  const post = e < 0 ? [] : cols.slice(e + 1);
  return {
    fields: [...names],
    match(message) {
      const words = splitDelimited(message);
      if (e < 0 ? words.length !== cols.length : words.length < pre.length + post.length) return undefined;
      const extracted: Record<string, string> = {};
      const bind = (col: Column, w: string, pos: number): boolean => {
        if (col.expr && !evalExpr(col.expr, w)) return false;
        extracted[col.name ? `$${col.name}` : `$${pos + 1}`] = w;
        return true;
      };
      for (let i = 0; i < pre.length; i++) if (!bind(pre[i], words[i], i)) return undefined;
      const off = words.length - post.length;
      for (let i = 0; i < post.length; i++) if (!bind(post[i], words[off + i], off + i)) return undefined;
      for (let i = pre.length; i < off; i++) extracted[`$${i + 1}`] = words[i];
      return { extracted };
    },
  };
}

function delimitedColumn(c: Cursor): Column {
  const ident = (): string => {
    c.ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(c.text.slice(c.i));
    if (!m) c.fail('expected a field name');
    c.i += m[0].length;
    return m[0];
  };
  const name = ident();
  const at = c.i;
  const op = c.op();
  if (!op) return { name };
  c.i = at;
  const or: Cond[][] = [[]];
  for (let first = true; ; first = false) {
    if (!first) {
      const start = c.i;
      if (ident() !== name) c.fail(`a condition of field ${name} can only test ${name}`, start);
    }
    const o = c.op();
    if (!o) c.fail('expected an operator (=, !=, <, <=, >, >=)');
    or[or.length - 1].push({ op: o, value: c.value(o) });
    if (c.eat('&&')) continue;
    if (c.eat('||')) { or.push([]); continue; }
    return { name, expr: { or } };
  }
}

function evalExpr(expr: Expr, w: string): boolean {
  return expr.or.some((and) => and.every((cond) => testWord(cond, w)));
}

function testWord({ op, value }: Cond, w: string): boolean {
  if (value.kind === 'number') {
    if (!NUMBER.test(w)) return false;
    return numberCompare(op, Number(w), value.n);
  }
  const hit = value.kind === 'regex' ? value.re.test(w) : stringTest(value.s)(w);
  return op === '=' ? hit : !hit;
}

// The last message split (read only): a log group's metric filters see each event in turn.
let lastMessage: string | undefined;
let lastWords: readonly string[] = [];

/** Fields of a message: separated by spaces; "..." and [...] are one field each, without their delimiters. */
export function splitDelimited(message: string): readonly string[] {
  if (message === lastMessage) return lastWords;
  lastWords = split(message);
  lastMessage = message;
  return lastWords;
}

function split(message: string): string[] {
  const out: string[] = [];
  const n = message.length;
  let i = 0;
  while (i < n) {
    const c = message.charCodeAt(i);
    if (c === 32 || c === 9) { i++; continue; }
    if (c === 34 /* " */ || c === 91 /* [ */) {
      const close = c === 34 ? '"' : ']';
      let j = i + 1;
      while (j < n && message[j] !== close) j += message[j] === '\\' && c === 34 ? 2 : 1;
      if (j < n) {
        out.push(message.slice(i + 1, j));
        i = j + 1;
        continue;
      }
    }
    let j = i;
    while (j < n && message.charCodeAt(j) !== 32 && message.charCodeAt(j) !== 9) j++;
    out.push(message.slice(i, j));
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON: { $.a.b[0] = "x" && ($.n > 3 || $.c IS NULL) }

type Path = (string | number)[];
type JNode =
  | { and: JNode[] }
  | { or: JNode[] }
  | { path: Path; text: string; test: 'null' | 'true' | 'false' | 'exists' | 'missing' }
  | { path: Path; text: string; op: Op; value: Value };

function compileJson(text: string, at: number): (m: string) => FilterMatch | undefined {
  if (!text.endsWith('}')) throw new FilterPatternError('a JSON pattern must end with }', at + text.length - 1);
  const c: Cursor = new Cursor(text.slice(0, -1), at);
  c.i = 1;
  const selectors: { path: Path; text: string }[] = [];
  const or = (): JNode => {
    const parts = [and()];
    while (c.eat('||')) parts.push(and());
    return parts.length === 1 ? parts[0] : { or: parts };
  };
  const and = (): JNode => {
    const parts = [primary()];
    while (c.eat('&&')) parts.push(primary());
    return parts.length === 1 ? parts[0] : { and: parts };
  };
  const primary = (): JNode => {
    if (c.eat('(')) {
      const e = or();
      if (!c.eat(')')) c.fail('expected )');
      return e;
    }
    const sel = selector(c);
    selectors.push(sel);
    c.ws();
    const rest = c.text.slice(c.i);
    const kw = /^(IS\s+NULL|IS\s+TRUE|IS\s+FALSE|NOT\s+EXISTS|EXISTS)\b/.exec(rest);
    if (kw) {
      c.i += kw[0].length;
      const k = kw[1].replace(/\s+/g, ' ');
      const test = k === 'IS NULL' ? 'null' : k === 'IS TRUE' ? 'true' : k === 'IS FALSE' ? 'false' : k === 'EXISTS' ? 'exists' : 'missing';
      return { ...sel, test };
    }
    const op = c.op();
    if (!op) c.fail('expected an operator (=, !=, <, <=, >, >=) or IS NULL, IS TRUE, IS FALSE, EXISTS, NOT EXISTS');
    return { ...sel, op, value: c.value(op) };
  };
  c.ws();
  if (c.i >= c.text.length) c.fail('an empty JSON pattern');
  const root = or();
  c.ws();
  if (c.i < c.text.length) c.fail(`unexpected ${JSON.stringify(c.text[c.i])}`);
  return (message) => {
    if (message.length === 0 || message.trimStart()[0] !== '{') return undefined;
    let json: unknown;
    try { json = JSON.parse(message); } catch { return undefined; }
    if (!evalJson(root, json)) return undefined;
    const extracted: Record<string, string> = {};
    for (const s of selectors) {
      const v = resolve(json, s.path);
      if (v !== undefined && (v === null || typeof v !== 'object')) extracted[s.text] = String(v);
    }
    return { extracted, json };
  };
}

export function selector(c: Cursor): { path: Path; text: string } {
  c.ws();
  const start = c.i;
  if (!c.text.startsWith('$', c.i)) c.fail('a JSON selector starts with $');
  c.i++;
  const path: Path = [];
  for (;;) {
    const rest = c.text.slice(c.i);
    let m: RegExpExecArray | null;
    if ((m = /^\.([A-Za-z0-9_-]+)/.exec(rest))) path.push(m[1]);
    else if ((m = /^\[(\d+)\]/.exec(rest))) {
      if (path.length === 0) c.fail('an array index must follow a property');
      path.push(Number(m[1]));
    } else break;
    c.i += m[0].length;
  }
  if (path.length === 0) c.fail('expected a property after $', start);
  return { path, text: c.text.slice(start, c.i) };
}

export function resolve(json: unknown, path: Path): unknown {
  let v: unknown = json;
  for (const p of path) {
    if (typeof p === 'number') {
      if (!Array.isArray(v) || p >= v.length) return undefined;
      v = v[p];
    } else {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, p)) return undefined;
      v = (v as Record<string, unknown>)[p];
    }
  }
  return v;
}

function evalJson(n: JNode, json: unknown): boolean {
  if ('and' in n) return n.and.every((x) => evalJson(x, json));
  if ('or' in n) return n.or.some((x) => evalJson(x, json));
  const v = resolve(json, n.path);
  if ('test' in n) {
    switch (n.test) {
      case 'null': return v === null;
      case 'true': return v === true;
      case 'false': return v === false;
      case 'exists': return v !== undefined;
      case 'missing': return v === undefined;
    }
  }
  if (v === undefined || v === null || typeof v === 'object') return false;
  const { op, value } = n;
  if (value.kind === 'number') return typeof v === 'number' && numberCompare(op, v, value.n);
  if (value.kind === 'string' && value.s === '*') return op === '=';
  if (typeof v !== 'string') return false;
  const hit = value.kind === 'regex' ? value.re.test(v) : stringTest(value.s)(v);
  return op === '=' ? hit : !hit;
}
