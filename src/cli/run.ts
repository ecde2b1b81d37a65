/**
 * The one wrapper every command action goes through: build IO, validate, and turn whatever
 * happened into output and an exit code. Commands stay thin: they say what to run, in the order
 * Validate (done here, before the command runs) -> connect and resolve -> Ask -> Plan -> Confirm ->
 * Execute.
 */
import type { Command } from 'commander';
import { EngineError, type RunReport, type StepReport } from '../engine/engine.js';
import type { StackConfig } from '../core/settings.js';
import { instances } from '../core/plural.js';
import { CliError, ExitCode, InternalError, InterruptedError, UserInputError } from '../core/errors.js';
import type { RunFlags } from '../core/context.js';
import type { Context } from '../engine/context.js';
import { assertConfigWritable, configDir, saveStack, unwritableError, withUserSettings } from '../core/config.js';
import { givenSettings, resolveSettings, taggedText, type ResolvedConfig, type SettingsInput } from '../core/resolve.js';
import { lockStack, type StackLock } from '../core/lock.js';
import { acquireAccountLock, checkAccountLock, lockParameterName, staleAfterSeconds, type AccountLock } from '../core/account-lock.js';
import { showValue } from '../core/step.js';
import { hourlyPrice, loadBalancerHourly } from '../core/pricing.js';
import type { IoHost } from '../io/host.js';
import { toCliError } from '../aws/errors.js';
import { commandFor } from './invocation.js';
import { readTaggedFacts } from './tagged-facts.js';
import { parameterListed, stackInventory } from '../steps/inventory.js';
import { autoScalingGroupStep, instanceStep, loadBalancerStep } from '../steps/index.js';
import { CLIENT_NAMES } from '../aws/clients.js';
import { buildContext, connect, createIo, interruptSignal, settingsInput, validateInputs, type Connection, type GlobalOptions, type Validated } from './runtime.js';

export interface Session {
  readonly conn: Connection;
  /** What the settings were resolved from (flags, environment, saved, region, tags, answers). */
  readonly inputs: SettingsInput;
  /** resolveSettings(inputs): deeply frozen. Nothing writes it; new inputs make a new session (settle). */
  readonly resolved: ResolvedConfig;
  /** A key pair the wizard will create once the plan is confirmed (prepare must not require it yet). */
  readonly newKeyPair?: string;
}

/** The session with more inputs (the wizard's answers, an image built here), its settings resolved anew. */
export function settle(s: Session, more: Pick<SettingsInput, 'answers' | 'built'>, newKeyPair = s.newKeyPair): Session {
  const inputs: SettingsInput = { ...s.inputs, ...more, answers: { ...s.inputs.answers, ...more.answers } };
  return { conn: s.conn, inputs, resolved: resolveSettings(inputs), ...(newKeyPair ? { newKeyPair } : {}) };
}

export interface Runtime {
  opts: GlobalOptions;
  io: IoHost;
  stack: string;
  validated: Validated;
  signal: AbortSignal;
  /** Connect (once) and resolve the settings for the target found. */
  session(): Promise<Session>;
  /** The session with more inputs, resolved anew (settle); the one an error report reads from then. */
  settle(s: Session, more: Pick<SettingsInput, 'answers' | 'built'>, newKeyPair?: string): Session;
  /** The steps' context, config frozen. */
  context(s: Session, intent?: RunFlags['intent']): Context;
  /** Take the stack's lock on this machine (released when the command ends). */
  lock(command: string): Promise<void>;
  /**
   * Plan time, read-only: stop now (nothing written) if another run holds the stack in the account.
   * A run that will write nothing (`writes` false) reads the lock only where the run's Tagging API
   * listing shows it (the lock parameter carries the stack tag): it needs no lock, and a stack that
   * another run is changing is still refused (once AWS lists that run's lock).
   */
  checkAccountLock(ctx: Context, writes: boolean): Promise<void>;
  /**
   * After Confirm, before the first write: take the stack's lock in the account (an SSM parameter,
   * src/core/account-lock.ts), released when the command ends. Only runs that write take it.
   */
  lockAccount(ctx: Context, command: string): Promise<void>;
  /**
   * For teardown, whose refusals (an instance still registered) come from the deletes' own reads: the
   * same context, whose first write takes the stack's lock in the account first. A refusal before any
   * write leaves the account untouched, the lock included.
   */
  lockOnFirstWrite(ctx: Context, command: string): Context;
  /** Release the stack's lock in the account now (before the sandbox that holds it stops). */
  unlockAccount(): Promise<void>;
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

/**
 * `savedSettings: 'unused'`: the command never reads the stack's saved settings (`sandbox`: serving,
 * listing, stopping), so a broken stack file is said as a warning, not a reason to refuse (and leave
 * a sandbox running).
 */
export function action(fn: (rt: Runtime) => Promise<number | void>, o: { savedSettings?: 'unused' } = {}): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    const io = createIo(opts);
    const sig = interruptSignal();
    let held: StackLock | undefined;
    let account: AccountLock | undefined;
    const warn = (text: string) => io.emit({ type: 'message', level: 'warn', text });
    let session: Promise<Session> | undefined;
    let latest: Session | undefined;
    try {
      const validated = await validateInputs(opts, o.savedSettings === 'unused' ? { onBrokenStackFile: (e) => warn(`${e.message} (${commandName(cmd)} does not use that file: it goes on.)`) } : {});
      const rt: Runtime = {
        opts,
        io,
        stack: validated.stack,
        validated,
        signal: sig.signal,
        session() {
          session ??= connect(opts, validated, io).catch((e: unknown) => {
            throw offerRehearsal(e, opts);
          }).then(async (connected) => {
            // The stack's inventory, read once for the whole run: the tagged facts, the retired-step
            // check and the steps share it.
            const conn = { ...connected, inventory: stackInventory() };
            // What the user gave, checked (a bad saved value stops here, before any lookup); then what
            // the stack's tags show for the rest; then the one resolution.
            const base = settingsInput(validated, conn);
            const given = givenSettings(base);
            const tagged = await readTaggedFacts({ aws: conn.aws, stack: validated.stack, region: conn.region, given, inventory: conn.inventory }).catch((e) => {
              throw toCliError(e, 'Finding the stack by its tag');
            });
            const inputs: SettingsInput = { ...base, tagged };
            const resolved = resolveSettings(inputs);
            const used = taggedText(resolved);
            if (used.length && opts.verbose) io.emit({ type: 'message', level: 'info', text: `Names found on the stack's tagged resources: ${used.join(', ')}` });
            return { conn, inputs, resolved };
          });
          return session;
        },
        settle(s, more, newKeyPair) {
          latest = settle(s, more, newKeyPair);
          return latest;
        },
        context(s, intent = 'apply') {
          return buildContext({ opts, io, stack: validated.stack, resolved: s.resolved, conn: s.conn, signal: sig.signal, intent, newKeyPair: s.newKeyPair });
        },
        async lock(command) {
          // A read-only config directory is a stop before the first write, not after it.
          if (!held) await assertConfigWritable();
          held ??= await lockStack(validated.stack, command);
        },
        async checkAccountLock(ctx, writes) {
          if (opts.dryRun) return;
          if (!writes && (await parameterListed(ctx, lockParameterName(validated.stack)).catch(() => undefined)) === false) return;
          await checkAccountLock({ store: ctx.ssm, stack: validated.stack, staleAfterSeconds: staleAfterSeconds(), warn });
        },
        async unlockAccount() {
          await account?.release().catch((e) => warn(`Could not release the lock of stack ${opts.stack} in the account (${e instanceof Error ? e.message : String(e)}): the next run takes it over once it is stale.`));
        },
        lockOnFirstWrite(ctx, command) {
          if (opts.dryRun) return ctx;
          let taking: Promise<void> | undefined;
          return guardWrites(ctx, () => (taking ??= this.lockAccount(ctx, command)));
        },
        async lockAccount(ctx, command) {
          if (opts.dryRun || account) return;
          account = await acquireAccountLock({
            store: ctx.ssm,
            stack: validated.stack,
            region: ctx.config.region,
            command,
            configDir: configDir(),
            tags: ctx.tags,
            staleAfterSeconds: staleAfterSeconds(),
            warn,
          });
        },
        async save(s) {
          if (opts.dryRun) return;
          await saveStack(withUserSettings(validated.stack, s.conn.target, s.resolved, validated.saved));
        },
      };
      const code = await fn(rt);
      lastExit = code ?? ExitCode.Ok;
    } catch (e) {
      const cfg = latest?.resolved.config ?? (await session?.then((x) => x.resolved.config).catch(() => undefined));
      lastExit = reportError(e, io, Boolean(opts.verbose), commandLine(cmd, opts), cmd.name(), cfg, Boolean(opts.sandbox));
    } finally {
      await account?.release().catch((e) => warn(`Could not release the lock of stack ${opts.stack} in the account (${e instanceof Error ? e.message : String(e)}): the next run takes it over once it is stale.`));
      // A sandbox this command started for itself goes with it, unless something now lives in it.
      if (opts.sandbox) {
        const sandbox = await import('./sandbox-mode.js');
        await sandbox.releaseSandboxes(io).catch(() => undefined);
        // A down that did not finish leaves its sandbox running: never unseen.
        if (cmd.name() === 'down' && lastExit !== ExitCode.Ok) {
          // (a name core/validate.ts stackName accepts: never a path)
          if (opts.stack && /^[A-Za-z][A-Za-z0-9-]{0,62}$/.test(opts.stack)) await sandbox.sayStillRunning(opts.stack, io, commandFor(opts), commandFor({ stack: opts.stack })).catch(() => undefined);
        }
      }
      await held?.release().catch(() => undefined);
      sig.dispose();
      io.close();
    }
  };
}

/**
 * No credentials and no endpoint: the user has no account set up here (a user's situation, exit 2),
 * and the whole lab can be rehearsed without one. Say how, as a command that runs from here.
 */
function offerRehearsal(e: unknown, opts: GlobalOptions): unknown {
  const err = e instanceof CliError ? e : undefined;
  const endpoint = opts.endpointUrl ?? process.env.AWS_ENDPOINT_URL;
  if (!err || opts.sandbox || endpoint || !/^No AWS credentials found/.test(err.what)) return e;
  const rehearse = commandFor({ ...opts, sandbox: true, region: undefined, profile: undefined })('up');
  return new UserInputError({
    what: 'No AWS credentials found',
    why: `${err.why ?? 'no credentials in the environment, the shared files or a profile'}; nothing was changed`,
    fix: `Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --profile (after \`aws configure\` or \`aws sso login\`). Or rehearse the whole lab on the built-in sandbox, no account needed: \`${rehearse}\`.`,
    cause: e,
  });
}

/** AWS calls that only read: everything else writes (the SDK's method names follow the API's). */
const READS = /^(describe|list|get|batchGet|filter|lookup|search|simulate|test|validate)[A-Z]/;

/** The context, whose clients wait for `before()` ahead of their first call that writes. */
function guardWrites(ctx: Context, before: () => Promise<void>): Context {
  const guard = <T extends object>(client: T): T =>
    new Proxy(client, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function' || typeof prop !== 'string' || READS.test(prop) || !/^[a-z]+[A-Z]/.test(prop)) return v;
        return async (...args: unknown[]) => {
          await before();
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return Object.create(ctx, Object.fromEntries(CLIENT_NAMES.map((k) => [k, { value: guard(ctx[k]) }]))) as Context;
}

/** The command to resume with: the same subcommand, as the user can type it here, with the flags that pick the stack. */
function commandLine(cmd: Command, opts: GlobalOptions): { resume: string; remove: string } {
  const run = commandFor(opts);
  return { resume: run(cmd.name()), remove: run('down') };
}

/** What a step's resource costs while it runs, if it is one that does (an instance, the group's instances, the ALB). */
function runningCost(s: StepReport, cfg?: Pick<StackConfig, 'instanceType' | 'instances'>): { hourly?: number; text: string } | undefined {
  const o = (s.outputs ?? {}) as Record<string, unknown>;
  if (s.id === instanceStep.id) {
    const type = String(o.instanceType ?? cfg?.instanceType ?? '');
    const p = hourlyPrice(type);
    return { hourly: p, text: p ? `~$${p.toFixed(4)}/hour` : 'it costs money by the hour' };
  }
  if (s.id === autoScalingGroupStep.id) {
    const n = typeof o.desired === 'number' ? o.desired : (cfg?.instances ?? 1);
    const p = cfg ? hourlyPrice(cfg.instanceType) : undefined;
    return { hourly: p === undefined ? undefined : n * p, text: p ? `${instances(n)} × ~$${p.toFixed(4)}/hour` : `${instances(n)}, by the hour` };
  }
  if (s.id === loadBalancerStep.id) {
    const h = loadBalancerHourly();
    return { hourly: h, text: `~$${h.toFixed(4)}/hour` };
  }
  return undefined;
}

/**
 * After a failed or interrupted apply: what now exists, what runs and what that costs per hour, and
 * how to resume or remove it. A step cut short (failed, interrupted) that makes a running resource
 * is listed too: its instance may have been launched before it stopped.
 */
export function whatExists(report: RunReport, cmds: { resume: string; remove: string }, cfg?: Pick<StackConfig, 'instanceType' | 'instances'>, sandbox = false): string | undefined {
  if (report.dryRun) return undefined;
  const done = report.steps.filter((s) => ['create', 'update', 'replace', 'noop'].includes(s.action) && s.outputs);
  const cut = report.steps.filter((s) => ['failed', 'interrupted'].includes(s.action) && runningCost(s, cfg) && s.plan && s.plan.action !== 'noop');
  const changed = done.filter((s) => s.action !== 'noop');
  if (changed.length === 0 && cut.length === 0) return undefined;
  let total = 0;
  let priced = true;
  const lines = [...done, ...cut].map((s) => {
    const o = (s.outputs ?? {}) as Record<string, unknown>;
    const id = ['serviceArn', 'taskDefinitionArn', 'instanceId', 'groupName', 'loadBalancerName', 'logGroup', 'clusterName', 'roleName', 'imageRef']
      .map((k) => (o[k] !== undefined ? showValue(o[k] as string) : ''))
      .find(Boolean);
    const c = sandbox ? undefined : runningCost(s, cfg);
    let cost = '';
    if (c && (s.action !== 'noop' || c.hourly !== undefined)) {
      if (c.hourly === undefined) priced = false;
      else total += c.hourly;
      cost = ['failed', 'interrupted'].includes(s.action) ? ` (may be running, launched before it stopped: ${c.text})` : ` (running: ${c.text})`;
    }
    const verb = s.action === 'noop' ? 'exists ' : s.action === 'create' ? 'created' : ['failed', 'interrupted'].includes(s.action) ? s.action.padEnd(7) : 'changed';
    return `  ${verb}  ${s.title}${id ? ` ${id}` : ''}${cost}`;
  });
  const bill = sandbox ? ['In the sandbox: nothing of it costs money.'] : total > 0 ? [`Running now: about ~$${total.toFixed(4)}/hour${priced ? '' : ' and more'} until you remove it.`] : [];
  return ['What exists now:', ...lines, ...bill, `Run \`${cmds.resume}\` again to resume, or \`${cmds.remove}\` to remove it.`].join('\n');
}

export function reportError(
  e: unknown,
  io: IoHost,
  verbose: boolean,
  cmds?: { resume: string; remove: string },
  cmdName?: string,
  cfg?: Pick<StackConfig, 'instanceType' | 'instances'>,
  sandbox = false,
): number {
  let report: RunReport | undefined;
  let err: CliError;
  if (e instanceof EngineError) {
    report = e.report;
    err = e.error;
  } else if (e instanceof CliError) err = e;
  else if (unwritableError(e)) err = unwritableError(e)!;
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
  // A failure and a Ctrl-C alike: what now runs, and what it costs by the hour.
  const exists = report && cmds ? whatExists(report, cmds, cfg, sandbox) : undefined;
  if (exists) io.emit({ type: 'message', level: 'warn', text: exists });
  // `changed`: whether anything was written before the error (a failed validation or plan: no).
  const changed = Boolean(report && !report.dryRun && report.steps.some((s) => ['create', 'update', 'replace'].includes(s.action) || (s.action === 'destroy' && s.deleted?.length)));
  if (io.json) io.result({ ok: false, command: cmdName, error: err.toJSON(), changed, steps: report?.steps, ...(exists ? { exists } : {}) }, () => '');
  return err.exitCode;
}

/** "sandbox --stop", for messages: the command's name. */
function commandName(cmd: Command): string {
  return `ecs-cwlogs ${cmd.name()}`;
}
