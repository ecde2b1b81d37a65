/**
 * Builds what a command needs, in the Validate -> Ask -> Execute order (after Copilot):
 *   1. validate every flag, environment variable and saved value (no AWS call yet)
 *   2. resolve region and endpoint, start or reuse the sandbox if asked
 *   3. a preflight GetCallerIdentity: proves credentials and reachability, gives the account id
 *   4. the Context the steps run with
 */
import { openSession, type AwsClients } from '../aws/clients.js';
import { toCliError } from '../aws/errors.js';
import { resolveSettings, loadStack, type FlagValues, type ResolvedConfig, type SavedStack } from '../core/config.js';
import { AWS_TIMING, SANDBOX_TIMING, realClock, stackTags, type Context, type RunFlags } from '../core/context.js';
import { UserInputError } from '../core/errors.js';
import { SETTING_LIST, type SettingKey } from '../core/settings.js';
import * as v from '../core/validate.js';
import { ValidationFailure } from '../core/validate.js';
import type { DockerEngine } from '../docker/engine.js';
import { lazyObject } from '../core/lazy.js';
import { observeWaits } from '../core/wait.js';
import { createTerminalHost } from '../io/terminal.js';
import type { IoHost } from '../io/host.js';
import { ensureSandbox, SANDBOX_CREDENTIALS } from './sandbox-mode.js';

/** Options every command has (commander's optsWithGlobals()). */
export interface GlobalOptions {
  region?: string;
  profile?: string;
  endpointUrl?: string;
  stack: string;
  yes?: boolean;
  json?: boolean;
  dryRun?: boolean;
  verbose?: boolean;
  color?: boolean;
  sandbox?: boolean;
  adopt?: boolean;
  deleteLogs?: boolean;
  [k: string]: unknown;
}

export function createIo(opts: GlobalOptions): IoHost {
  // --no-color gives false; otherwise FORCE_COLOR, NO_COLOR and the terminal decide (io/terminal.ts).
  const io = createTerminalHost({ json: Boolean(opts.json), yes: Boolean(opts.yes), verbose: Boolean(opts.verbose), color: opts.color === false ? false : undefined });
  observeWaits((p) => io.emit({ type: 'waiting', ...p }));
  return io;
}

/** Validate the stack name and every setting before anything else happens. */
export async function validateInputs(opts: GlobalOptions): Promise<{ resolved: ResolvedConfig; saved?: SavedStack; stack: string }> {
  const stack = parseOrExit('--stack', v.stackName, opts.stack);
  if (opts.endpointUrl !== undefined) parseOrExit('--endpoint-url', v.endpointUrl, opts.endpointUrl);
  const saved = await loadStack(stack);
  const flags: FlagValues = {};
  for (const s of SETTING_LIST) {
    const value = opts[s.attribute];
    if (typeof value === 'string' || typeof value === 'number') flags[s.key as SettingKey] = value;
  }
  const resolved = resolveSettings({ flags, env: process.env, saved });
  return { resolved, saved, stack };
}

function parseOrExit<T>(flag: string, parse: v.Validator<T>, raw: string): T {
  try {
    return parse(raw);
  } catch (e) {
    if (e instanceof ValidationFailure) throw new UserInputError({ what: `Invalid ${flag}`, why: e.problem, fix: `${e.allowed[0]?.toUpperCase()}${e.allowed.slice(1)}.` });
    throw e;
  }
}

export interface Connection {
  region: string;
  endpoint?: string;
  sandbox: boolean;
  aws: AwsClients;
  account: string;
  callerArn: string;
}

/** Region, endpoint, clients and the preflight identity check. */
export async function connect(opts: GlobalOptions, resolved: ResolvedConfig, stack: string, io: IoHost): Promise<Connection> {
  let endpoint = opts.endpointUrl;
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  const sandbox = Boolean(opts.sandbox);
  if (sandbox) {
    endpoint = await ensureSandbox(stack, io);
    credentials = SANDBOX_CREDENTIALS;
  }
  // Profile, region, retries, credentials and proxies as the AWS CLI reads them.
  const session = await openSession({ region: resolved.config.region, profile: resolved.config.profile, endpoint, sandbox: credentials && { credentials } });
  const region = session.region;
  resolved.config.region = region;
  const aws = session.clients();
  // Preflight: fail fast (three attempts, so throttling doesn't fail it) on missing credentials or an
  // endpoint that isn't there.
  const probe = session.clients({ maxAttempts: 3 });
  let account: string;
  let callerArn: string;
  try {
    const id = await probe.sts.getCallerIdentity({});
    account = id.Account ?? '';
    callerArn = id.Arn ?? '';
  } catch (e) {
    throw toCliError(e, 'Checking your AWS identity');
  }
  return { region, endpoint, sandbox, aws, account, callerArn };
}

export interface ContextInput {
  opts: GlobalOptions;
  io: IoHost;
  stack: string;
  resolved: ResolvedConfig;
  conn: Connection;
  signal: AbortSignal;
}

export function buildContext({ opts, io, stack, resolved, conn, signal }: ContextInput): Context {
  const flags: RunFlags = { adopt: Boolean(opts.adopt), deleteLogs: Boolean(opts.deleteLogs) };
  const fast = conn.sandbox || Boolean(conn.endpoint && /^https?:\/\/(127\.|localhost|\[::1\])/.test(conn.endpoint));
  const timing = fast ? SANDBOX_TIMING : AWS_TIMING;
  const pollOverride = Number(process.env.ECS_CWLOGS_POLL_MS);
  const ctx: Context = Object.create(conn.aws, {
    stack: { value: stack },
    account: { value: conn.account },
    callerArn: { value: conn.callerArn },
    config: { value: resolved.config },
    tags: { value: stackTags(stack) },
    io: { value: io },
    flags: { value: flags },
    clock: { value: realClock },
    timing: { value: pollOverride > 0 ? { ...timing, pollMs: pollOverride, retryMs: pollOverride } : timing },
    signal: { value: signal },
    endpoint: { value: conn.endpoint ?? process.env.AWS_ENDPOINT_URL },
    report: { value: () => undefined },
    docker: { get: lazyDocker() },
  });
  return ctx;
}

/** The Docker engine, created on first use (commands that never build don't touch Docker). */
function lazyDocker(): () => DockerEngine {
  let engine: DockerEngine | undefined;
  return () =>
    (engine ??= lazyObject(async () => (await import('../docker/engine.js')).createDockerEngine(), {
      endpoint: process.env.DOCKER_HOST || 'unix:///var/run/docker.sock',
    }));
}

/** Ctrl-C aborts the run (steps stop at their next await); a second Ctrl-C exits at once. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  let count = 0;
  const onSig = () => {
    count++;
    if (count === 1) ac.abort(new Error('interrupted'));
    else process.exit(130);
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  return {
    signal: ac.signal,
    dispose() {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    },
  };
}
