/**
 * The IO host for a real process: a TTY gets an ora spinner and colour on stderr; no TTY (or CI)
 * gets plain timestamped lines; --json keeps stdout for exactly one JSON document.
 */
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
  color: boolean;
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
    this.fancy = Boolean(this.err.isTTY) && !ci && process.env.TERM !== 'dumb';
    this.interactive = !opts.yes && Boolean(stdin.isTTY) && Boolean(this.err.isTTY);
    this.json = opts.json;
    this.verbose = opts.verbose;
    this.c = new Chalk({ level: opts.color && this.fancy ? 3 : 0 });
  }

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
    if (this.fancy) this.persist(text);
    else this.err.write(`${new Date().toISOString().slice(11, 19)} ${stripAnsi(text)}\n`);
  }

  private persist(text: string): void {
    if (!this.fancy) {
      this.err.write(`${new Date().toISOString().slice(11, 19)} ${stripAnsi(text)}\n`);
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
    else this.spinner = ora({ text, stream: this.err, discardStdin: false }).start();
  }
}

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}

export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}
