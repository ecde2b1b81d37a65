/**
 * The one wrapper every command action goes through: build IO, validate, connect, run, and turn
 * whatever happened into output and an exit code. Commands stay thin: they say what to run.
 */
import type { Command } from 'commander';
import { EngineError, type RunReport } from '../core/engine.js';
import { CliError, ExitCode, InternalError, InterruptedError } from '../core/errors.js';
import type { Context } from '../core/context.js';
import type { ResolvedConfig, SavedStack } from '../core/config.js';
import type { IoHost } from '../io/host.js';
import { buildContext, connect, createIo, interruptSignal, validateInputs, type Connection, type GlobalOptions } from './runtime.js';

export interface Runtime {
  opts: GlobalOptions;
  io: IoHost;
  stack: string;
  resolved: ResolvedConfig;
  saved?: SavedStack;
  signal: AbortSignal;
  /** Connect to AWS (or the sandbox) and build the step context. Called after any questions. */
  context(): Promise<Context>;
  conn?: Connection;
}

/** Set by the action so main() can return it (commander's parseAsync gives no value back). */
let lastExit: number = ExitCode.Ok;
export function takeExitCode(): number {
  const c = lastExit;
  lastExit = ExitCode.Ok;
  return c;
}

export function action(fn: (rt: Runtime) => Promise<number | void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    const io = createIo(opts);
    const sig = interruptSignal();
    try {
      const { resolved, saved, stack } = await validateInputs(opts);
      const rt: Runtime = {
        opts,
        io,
        stack,
        resolved,
        saved,
        signal: sig.signal,
        async context() {
          const conn = await connect(opts, resolved, stack, io);
          rt.conn = conn;
          return buildContext({ opts, io, stack, resolved, conn, signal: sig.signal });
        },
      };
      const code = await fn(rt);
      lastExit = code ?? ExitCode.Ok;
    } catch (e) {
      lastExit = reportError(e, io, Boolean(opts.verbose));
    } finally {
      sig.dispose();
      io.close();
    }
  };
}

export function reportError(e: unknown, io: IoHost, verbose: boolean): number {
  let report: RunReport | undefined;
  let err: CliError;
  if (e instanceof EngineError) {
    report = e.report;
    err = e.error;
  } else if (e instanceof CliError) err = e;
  else err = new InternalError({ what: 'Unexpected error', why: e instanceof Error ? e.message : String(e), fix: 'Please report it with the output of --verbose.', cause: e });

  if (err instanceof InterruptedError && report) {
    const done = report.steps.filter((s) => !['failed', 'skipped', 'interrupted'].includes(s.action)).map((s) => s.title);
    const cut = report.steps.filter((s) => s.action === 'interrupted').map((s) => s.title);
    const text = [
      `Interrupted.`,
      done.length ? `Finished: ${done.join(', ')}.` : 'No step had finished.',
      cut.length ? `Interrupted during: ${cut.join(', ')}.` : '',
      'Run the same command again to resume: every step picks up from what exists.',
    ]
      .filter(Boolean)
      .join(' ');
    io.emit({ type: 'message', level: 'warn', text });
  }
  const lines = [err.message];
  if (verbose) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.stack) lines.push(cause.stack);
    else if (err.stack) lines.push(err.stack);
  }
  io.error(lines.join('\n'));
  if (io.json) io.result({ ok: false, error: err.toJSON(), steps: report?.steps }, () => '');
  return err.exitCode;
}
