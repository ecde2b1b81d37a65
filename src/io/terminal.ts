/**
 * The IO host for a real process: a TTY gets an ora spinner and colour on stderr; no TTY, CI, a
 * TERM=dumb or 0-column terminal gets plain timestamped lines; --json keeps stdout for exactly one
 * JSON document.
 *
 * Colour follows no-color.org and chalk: --no-color wins, then FORCE_COLOR (0 none, 1 basic, 2 256
 * colours, 3 truecolor, even into a pipe), then NO_COLOR (any non-empty value), then what the
 * terminal supports (Node's getColorDepth: TERM, COLORTERM, CI).
 */
import { stripVTControlCharacters } from 'node:util';
import { Chalk, type ChalkInstance } from 'chalk';
import ora, { type Ora } from 'ora';
import { InterruptedError, UserInputError } from '../core/errors.js';
import { formatDiff } from '../core/diff.js';
import type { IoHost, ProgressEvent, Question } from './host.js';
import type { Plan } from '../core/step.js';

export interface TerminalOptions {
  json: boolean;
  yes: boolean;
  verbose: boolean;
  /** false: --no-color. Otherwise decided from the environment and the stream (colorLevel). */
  color?: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

export function createTerminalHost(opts: TerminalOptions): IoHost {
  return new TerminalHost(opts);
}

const SYMBOL = { ok: '✔', fail: '✖', skip: '–', arrow: '→' };

class TerminalHost implements IoHost {
  readonly interactive: boolean;
  readonly json: boolean;
  readonly verbose: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly err: NodeJS.WriteStream;
  private readonly fancy: boolean;
  private readonly c: ChalkInstance;
  private spinner?: Ora;
  private readonly running = new Map<string, string>();
  private resultWritten = false;

  constructor(opts: TerminalOptions) {
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
    const stdin = opts.stdin ?? process.stdin;
    const ci = Boolean(process.env.CI) && process.env.CI !== 'false';
    // A pty of 0 columns (or one that doesn't say) can't hold a spinner line or a prompt.
    const usable = Boolean(this.err.isTTY) && (this.err.columns ?? 0) > 0;
    this.fancy = usable && !ci && process.env.TERM !== 'dumb';
    this.interactive = !opts.yes && Boolean(stdin.isTTY) && usable;
    this.json = opts.json;
    this.verbose = opts.verbose;
    this.level = colorLevel(this.err, opts.color);
    this.c = new Chalk({ level: this.level });
  }

  private readonly level: 0 | 1 | 2 | 3;
  /** Non-TTY heartbeat: the last time a line was written for each wait, so one is at most every 15 s. */
  private readonly lastBeat = new Map<string, number>();

  emit(e: ProgressEvent): void {
    switch (e.type) {
      case 'plan':
        this.line(this.formatPlan(e.title, e.plan));
        for (const d of e.plan.action === 'update' ? e.plan.diffs : []) this.line(this.c.dim(`      ${formatDiff(d)}`));
        return;
      case 'step-start':
        this.running.set(e.step, e.title);
        if (this.fancy) this.refreshSpinner();
        else this.line(`${e.title}: ${e.phase === 'destroy' ? 'deleting' : 'working'}…`);
        return;
      case 'step-progress': {
        const title = this.running.get(e.step) ?? e.step;
        this.running.set(e.step, `${title.split(' — ')[0]} — ${e.message}`);
        if (this.fancy) this.refreshSpinner();
        else this.line(`${title.split(' — ')[0]}: ${e.message}`);
        return;
      }
      case 'step-done': {
        this.running.delete(e.step);
        const verb =
          e.verb ??
          (e.action === 'noop' ? 'in sync' : e.action === 'create' ? 'created' : e.action === 'update' ? 'updated' : e.action === 'replace' ? 'needs replacing' : e.action === 'destroy' ? 'deleted' : e.action);
        const detail = e.detail ? ` ${this.c.dim(e.detail)}` : '';
        this.persist(`${this.c.green(SYMBOL.ok)} ${e.title} ${this.c.dim(verb)}${detail} ${this.c.dim(fmtMs(e.ms))}`);
        return;
      }
      case 'step-failed':
        this.running.delete(e.step);
        this.persist(`${this.c.red(SYMBOL.fail)} ${e.title} ${this.c.red(e.interrupted ? 'interrupted' : 'failed')} ${this.c.dim(fmtMs(e.ms))}`);
        return;
      case 'step-skipped':
        this.running.delete(e.step);
        this.persist(`${this.c.dim(SYMBOL.skip)} ${e.title} ${this.c.dim(e.reason)}`);
        return;
      case 'waiting': {
        // A long wait: the spinner says so in a terminal; plain output gets a line at most every 15 s.
        if (this.fancy) return;
        const key = e.what;
        const last = this.lastBeat.get(key);
        const now = Date.now();
        if (last === undefined) this.lastBeat.set(key, now); // the wait's start: the step already said what it does
        else if (now - last >= HEARTBEAT_MS) {
          this.lastBeat.set(key, now);
          this.line(`still waiting for ${e.what}: ${fmtMs(e.elapsedMs)} of at most ${fmtMs(e.limitMs)}`);
        }
        if (e.done) this.lastBeat.delete(key);
        return;
      }
      case 'message': {
        const text = e.level === 'warn' ? this.c.yellow(`! ${e.text}`) : e.level === 'success' ? this.c.green(e.text) : e.text;
        this.persist(text);
        return;
      }
    }
  }

  async ask<T>(q: Question<T>): Promise<T> {
    if (!this.interactive) return q.default;
    this.pauseSpinner();
    const ctx = { output: this.err, clearPromptOnDone: false };
    // Loaded when a question is asked: scripts (--yes, no TTY) never pay for it.
    const { confirm, input, password, select } = await import('@inquirer/prompts');
    try {
      switch (q.kind) {
        case 'confirm':
          return (await confirm({ message: q.message, default: Boolean(q.default) }, ctx)) as T;
        case 'select':
          return await select<T>(
            { message: q.message, choices: (q.choices ?? []).map((ch) => ({ ...ch })), default: q.default, pageSize: 12 },
            ctx,
          );
        case 'password':
          return (await password({ message: q.message, mask: '*', validate: q.validate }, ctx)) as T;
        case 'input':
          return (await input({ message: q.message, default: q.default === undefined ? undefined : String(q.default), validate: q.validate }, ctx)) as T;
      }
    } catch (err) {
      if (err instanceof Error && err.name === 'ExitPromptError') {
        throw new InterruptedError({ what: 'Interrupted', why: 'the prompt was cancelled (Ctrl-C)' });
      }
      throw err;
    } finally {
      this.refreshSpinner();
    }
    throw new UserInputError({ what: `Unknown question kind for ${q.flag}` });
  }

  result(data: unknown, human: () => string): void {
    if (this.resultWritten) return;
    this.resultWritten = true;
    this.pauseSpinner();
    if (this.json) this.out.write(`${JSON.stringify(data, null, 2)}\n`);
    else {
      const text = human();
      if (text) this.out.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  close(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }

  /** For the CLI's error path. */
  error(text: string): void {
    this.pauseSpinner();
    this.err.write(`${this.c.red(`${SYMBOL.fail} ${text}`)}\n`);
  }

  private formatPlan(title: string, plan: Plan): string {
    switch (plan.action) {
      case 'create':
        return `  ${this.c.green('+ create')} ${title}${plan.summary ? this.c.dim(` (${plan.summary})`) : ''}`;
      case 'update':
        return `  ${this.c.yellow('~ update')} ${title}${plan.summary ? this.c.dim(` (${plan.summary})`) : ''}`;
      case 'replace':
        return `  ${this.c.red('± replace')} ${title}${this.c.dim(` (${plan.summary})`)}\n      ${plan.fix}`;
      case 'noop':
        return `  ${this.c.dim('= no change')} ${title}${plan.summary ? this.c.dim(` (${plan.summary})`) : ''}`;
      case 'conflict':
        return `  ${this.c.red('! conflict')} ${title}: ${plan.what}`;
    }
  }

  private line(text: string): void {
    this.persist(text);
  }

  private persist(text: string): void {
    if (!this.fancy) {
      this.err.write(`${new Date().toISOString().slice(11, 19)} ${this.level ? text : stripAnsi(text)}\n`);
      return;
    }
    this.pauseSpinner();
    this.err.write(`${text}\n`);
    this.refreshSpinner();
  }

  private pauseSpinner(): void {
    if (this.spinner) {
      this.spinner.stop();
      this.spinner = undefined;
    }
  }

  private refreshSpinner(): void {
    if (!this.fancy) return;
    if (this.running.size === 0) {
      this.pauseSpinner();
      return;
    }
    const text = [...this.running.values()].join(this.c.dim('  ·  '));
    if (this.spinner) this.spinner.text = text;
    else this.spinner = ora({ text, stream: this.err, discardStdin: false, color: this.level ? 'cyan' : false }).start();
  }
}

const HEARTBEAT_MS = 15_000;

/** 950 ms, 12.3 s, 1m59s, 2m00s, 1h05m: rounded once, so 119.6 s is 2m00s and never 1m60s. */
export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)}s`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

/** Every terminal control sequence (colours, cursor moves, OSC-8 links), not just colours. */
export function stripAnsi(s: string): string {
  return stripVTControlCharacters(s);
}

/**
 * The chalk level for a stream: 0 with --no-color (flag false); FORCE_COLOR=0/1/2/3 (empty or "true"
 * is 1) whether or not the stream is a terminal; then NO_COLOR; then the terminal's own depth.
 */
export function colorLevel(stream: { isTTY?: boolean; getColorDepth?: (env?: object) => number }, flag?: boolean, env: NodeJS.ProcessEnv = process.env): 0 | 1 | 2 | 3 {
  if (flag === false) return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '' || force === 'true') return 1;
    if (force === 'false') return 0;
    const n = Number(force);
    if (n === 0 || n === 1 || n === 2 || n === 3) return n;
    return Number.isFinite(n) && n > 3 ? 3 : 1;
  }
  if (env.NO_COLOR) return 0;
  if (!stream.isTTY || env.TERM === 'dumb') return 0;
  const depth = stream.getColorDepth?.(env) ?? 4;
  return depth >= 24 ? 3 : depth >= 8 ? 2 : depth >= 4 ? 1 : 0;
}

/**
 * `ecs-cwlogs … | head -1`: the reader is gone. Node raises EPIPE on the next write; nothing more
 * can be said to anyone, so end quietly with 0 (as `yes | head -1` does), not with a stack trace.
 */
export function exitQuietlyOnEpipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const s of streams) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') process.exit(0);
      throw e;
    });
  }
}
