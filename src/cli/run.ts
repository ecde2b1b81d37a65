/**
 * The one wrapper every command action goes through: build IO, validate, and turn whatever
 * happened into output and an exit code. Commands stay thin: they say what to run, in the order
 * Validate (done here, before the command runs) -> connect and resolve -> Ask -> Plan -> Confirm ->
 * Execute.
 */
import type { Command } from 'commander';
import { EngineError, type RunReport } from '../core/engine.js';
import { CliError, ExitCode, InternalError, InterruptedError } from '../core/errors.js';
import type { Context, RunFlags } from '../core/context.js';
import { withUserSettings, saveStack, type ResolvedConfig } from '../core/config.js';
import { lockStack, type StackLock } from '../core/lock.js';
import { showValue } from '../core/step.js';
import { hourlyPrice } from '../core/pricing.js';
import type { IoHost } from '../io/host.js';
import { toCliError } from '../aws/errors.js';
import { adoptTaggedNames } from '../steps/inventory.js';
import { buildContext, connect, createIo, interruptSignal, resolveFor, validateInputs, type Connection, type GlobalOptions, type Validated } from './runtime.js';

export interface Session {
  conn: Connection;
  /** Mutable until the context is built (the wizard's answers go here). */
  resolved: ResolvedConfig;
  /** A key pair the wizard will create once the plan is confirmed (prepare must not require it yet). */
  newKeyPair?: string;
}

export interface Runtime {
  opts: GlobalOptions;
  io: IoHost;
  stack: string;
  validated: Validated;
  signal: AbortSignal;
  /** Connect (once) and resolve the settings for the target found. */
  session(): Promise<Session>;
  /** The steps' context, config frozen. */
  context(s: Session, intent?: RunFlags['intent']): Context;
  /** Take the stack's lock (released when the command ends). */
  lock(command: string): Promise<void>;
  /** Save what the user gave for this target (never in a dry run). */
  save(s: Session): Promise<void>;
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
    let held: StackLock | undefined;
    try {
      const validated = await validateInputs(opts);
      let session: Promise<Session> | undefined;
      const rt: Runtime = {
        opts,
        io,
        stack: validated.stack,
        validated,
        signal: sig.signal,
        session() {
          session ??= connect(opts, validated, io).then(async (conn) => {
            const resolved = resolveFor(validated, conn);
            const used = await adoptTaggedNames(resolved, conn.aws, validated.stack, conn.region).catch((e) => {
              throw toCliError(e, 'Finding the stack by its tag');
            });
            if (used.length && opts.verbose) io.emit({ type: 'message', level: 'info', text: `Names found on the stack's tagged resources: ${used.join(', ')}` });
            return { conn, resolved };
          });
          return session;
        },
        context(s, intent = 'apply') {
          return buildContext({ opts, io, stack: validated.stack, resolved: s.resolved, conn: s.conn, signal: sig.signal, intent, newKeyPair: s.newKeyPair });
        },
        async lock(command) {
          held ??= await lockStack(validated.stack, command);
        },
        async save(s) {
          if (opts.dryRun) return;
          await saveStack(withUserSettings(validated.stack, s.conn.target, s.resolved, validated.saved));
        },
      };
      const code = await fn(rt);
      lastExit = code ?? ExitCode.Ok;
    } catch (e) {
      lastExit = reportError(e, io, Boolean(opts.verbose), commandLine(cmd, opts));
    } finally {
      // A sandbox this command started for itself goes with it, unless something now lives in it.
      if (opts.sandbox) await (await import('./sandbox-mode.js')).releaseSandboxes(io).catch(() => undefined);
      await held?.release().catch(() => undefined);
      sig.dispose();
      io.close();
    }
  };
}

/** The command to resume with: the same subcommand and the global flags that pick the stack. */
function commandLine(cmd: Command, opts: GlobalOptions): { resume: string; remove: string } {
  const extra = [
    opts.stack && opts.stack !== 'ecs-cwlogs' ? `--stack ${opts.stack}` : '',
    opts.sandbox ? '--sandbox' : '',
    opts.region ? `--region ${opts.region}` : '',
    opts.profile ? `--profile ${opts.profile}` : '',
    opts.endpointUrl ? `--endpoint-url ${opts.endpointUrl}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const tail = extra ? ` ${extra}` : '';
  return { resume: `ecs-cwlogs ${cmd.name()}${tail}`, remove: `ecs-cwlogs down${tail}` };
}

/** After a failed or interrupted apply: what now exists, what it costs, and how to resume or remove it. */
export function whatExists(report: RunReport, cmds: { resume: string; remove: string }): string | undefined {
  if (report.dryRun) return undefined;
  const done = report.steps.filter((s) => ['create', 'update', 'replace', 'noop'].includes(s.action) && s.outputs);
  const changed = done.filter((s) => s.action !== 'noop');
  if (changed.length === 0) return undefined;
  const lines = done.map((s) => {
    const o = s.outputs as Record<string, unknown>;
    const id = ['serviceArn', 'taskDefinitionArn', 'instanceId', 'logGroup', 'clusterName', 'roleName', 'imageRef']
      .map((k) => (o[k] !== undefined ? showValue(o[k] as string) : ''))
      .find(Boolean);
    let cost = '';
    if (s.id === 'instance' && typeof o.instanceId === 'string') {
      const p = hourlyPrice(String(o.instanceType ?? ''));
      cost = p ? ` (running: ~$${p.toFixed(4)}/hour)` : ' (running: it costs money by the hour)';
    }
    return `  ${s.action === 'noop' ? 'exists ' : s.action === 'create' ? 'created' : 'changed'}  ${s.title}${id ? ` ${id}` : ''}${cost}`;
  });
  return ['What exists now:', ...lines, `Run \`${cmds.resume}\` again to resume, or \`${cmds.remove}\` to remove it.`].join('\n');
}

export function reportError(e: unknown, io: IoHost, verbose: boolean, cmds?: { resume: string; remove: string }): number {
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
  const exists = report && cmds && !(err instanceof InterruptedError) ? whatExists(report, cmds) : undefined;
  if (exists) io.emit({ type: 'message', level: 'warn', text: exists });
  if (io.json) io.result({ ok: false, error: err.toJSON(), steps: report?.steps, ...(exists ? { exists } : {}) }, () => '');
  return err.exitCode;
}
