/**
 * Builds what a command needs, in the Validate -> Ask -> Plan -> Confirm -> Execute order (after
 * Copilot). This file holds the first part:
 *   1. Validate: every flag and environment value, flag conflicts, and the stack file (no AWS call yet)
 *   2. Connect: region and endpoint, the sandbox if asked, a preflight GetCallerIdentity that proves
 *      the credentials and names the account: with the region, the *target* the stack lives in
 *   3. Resolve: what the stack's tags show is read, then core/resolve.ts decides every setting once
 *      (flag > environment > what was saved for this target > tags > default), the config frozen
 *   4. The Context the steps run with
 */
import { openSession, type AwsClients } from '../aws/clients.js';
import { setEndpointOrigin, toCliError } from '../aws/errors.js';
import { endpointOrigin, resolvedOrigin } from '../aws/endpoints.js';
import { lastRegion, loadStack, savedFor, stackFile, type SavedStack, type Target } from '../core/config.js';
import { givenSettings, regionOf, resolveSettings, type FlagValues, type RegionFacts, type ResolvedConfig, type SettingsInput, type TaggedFacts } from '../core/resolve.js';
import { AWS_TIMING, SANDBOX_TIMING, realClock, stackTags, type RunFlags } from '../core/context.js';
import type { Context, Inventory } from '../engine/context.js';
import { UserInputError } from '../core/errors.js';
import { SETTING_LIST, type SettingKey } from '../core/settings.js';
import * as v from '../core/validate.js';
import { ValidationFailure } from '../core/validate.js';
import type { DockerEngine } from '../docker/engine.js';
import { lazyObject } from '../core/lazy.js';
import { observeWaits } from '../core/wait.js';
import { createTerminalHost } from '../io/terminal.js';
import type { IoHost } from '../io/host.js';
import { ensureSandbox } from './sandbox-mode.js';

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
  /** With --sandbox: the sandbox runs the tasks on the local Docker engine. */
  local?: boolean;
  adopt?: boolean;
  deleteLogs?: boolean;
  ecr?: boolean;
  /** up / instance: replace the instance where only a new one can have what is wanted. */
  replaceInstance?: boolean;
  [k: string]: unknown;
}

export function createIo(opts: GlobalOptions): IoHost {
  // --no-color gives false; otherwise FORCE_COLOR, NO_COLOR and the terminal decide (io/terminal.ts).
  const io = createTerminalHost({ json: Boolean(opts.json), yes: Boolean(opts.yes), verbose: Boolean(opts.verbose), color: opts.color === false ? false : undefined });
  observeWaits((p) => io.emit({ type: 'waiting', ...p }));
  return io;
}

export interface Validated {
  stack: string;
  flags: FlagValues;
  saved?: SavedStack;
  file: string;
}

/** The flags as settings: --ecr is the answer "ecr" to --repo. */
export function flagValues(opts: GlobalOptions): FlagValues {
  const flags: FlagValues = {};
  for (const s of SETTING_LIST) {
    const value = opts[s.attribute];
    if (typeof value === 'string' || typeof value === 'number') flags[s.key as SettingKey] = value;
    else if (typeof value === 'boolean' && !s.flag.includes('<')) flags[s.key as SettingKey] = String(value); // --load-balancer / --no-load-balancer
  }
  if (opts.ecr) {
    if (flags.imageRepo !== undefined && flags.imageRepo !== 'ecr') {
      throw new UserInputError({ what: 'Both --ecr and --repo are given', why: '--ecr pushes to an ECR repository of this account, --repo to the repository it names', fix: 'Pass one of them.' });
    }
    if (flags.image !== undefined) {
      throw new UserInputError({ what: 'Both --ecr and --image are given', why: '--image runs an image that is already pushed; --ecr builds the image and pushes it to ECR', fix: 'Pass one of them.' });
    }
    flags.imageRepo = 'ecr';
  }
  return flags;
}

/** Validate: the stack name, every flag and environment value, and the stack file's shape. No AWS call. */
export async function validateInputs(opts: GlobalOptions, o: { onBrokenStackFile?: (e: UserInputError) => void } = {}): Promise<Validated> {
  const stack = parseOrExit('--stack', v.stackName, opts.stack);
  if (opts.endpointUrl !== undefined) parseOrExit('--endpoint-url', v.endpointUrl, opts.endpointUrl);
  if (opts.sandbox && opts.endpointUrl !== undefined) {
    throw new UserInputError({ what: 'Both --sandbox and --endpoint-url are given', why: '--sandbox starts (or reuses) a local sandbox and sends every call there', fix: 'Pass one of them.' });
  }
  const flags = flagValues(opts);
  givenSettings({ flags, env: process.env }); // every flag and environment value, checked now (nothing resolved yet)
  let saved: SavedStack | undefined;
  try {
    saved = await loadStack(stack);
  } catch (e) {
    if (!(e instanceof UserInputError) || !o.onBrokenStackFile) throw e;
    o.onBrokenStackFile(e);
  }
  return { stack, flags, saved, file: stackFile(stack) };
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
  /**
   * The region's sources besides the flag and the environment (the profile's, the last used, the
   * sandbox's, the answer): region is regionOf(flags, env, regionFacts). A connection made by hand
   * (tests) has none: its region then stands as the one last used.
   */
  regionFacts?: RegionFacts;
  endpoint?: string;
  sandbox: boolean;
  aws: AwsClients;
  account: string;
  callerArn: string;
  target: Target;
  /** The stack's inventory for this run (read once, on first use); absent in connections made by hand. */
  inventory?: Inventory;
}

const originOf = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
};

/** Region, endpoint, clients and the preflight identity check: where the stack lives. */
export async function connect(opts: GlobalOptions, validated: Validated, io: IoHost): Promise<Connection> {
  // (Checked here, not in validateInputs: `ecs-cwlogs sandbox --local` has --local of its own.)
  if (opts.local && !opts.sandbox) {
    throw new UserInputError({ what: '--local needs --sandbox', why: "--local makes the sandbox's simulated ECS agent run the tasks on the local Docker engine; AWS runs them on the instance itself", fix: 'Add --sandbox (ecs-cwlogs up --sandbox --local).' });
  }
  let endpoint = opts.endpointUrl ?? (process.env.AWS_ENDPOINT_URL || undefined);
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  const sandbox = Boolean(opts.sandbox);
  if (sandbox) {
    // The sandbox's own random key, from its 0600 record: the user gives no credentials.
    ({ url: endpoint, credentials } = await ensureSandbox(validated.stack, io, { local: Boolean(opts.local) }));
  }
  const kind: Target['kind'] = sandbox ? 'sandbox' : endpoint ? 'endpoint' : 'aws';
  // Profile, retries, credentials and proxies as the AWS CLI reads them; the region by the one rule
  // (core/resolve.ts regionOf). Without a region, the identity is asked in us-east-1 (STS answers
  // everywhere) and the stack's last region in that account is used, if it has one.
  const profileFlag = opts.profile || process.env.ECS_CWLOGS_PROFILE || undefined;
  const sessionInput = {
    profile: profileFlag,
    endpoint: opts.endpointUrl ?? (sandbox ? endpoint : undefined),
    sandbox: credentials && { credentials },
  };
  // The SDK reads a profile's endpoint_url (and its `services` section) through a loader that looks at
  // AWS_PROFILE, not at the clients' `profile` option: with --profile alone, calls meant for the
  // profile's endpoint went to AWS (test/cli/account-lock.test.ts). The AWS CLI honours it; so do we.
  if (!sandbox && sessionInput.profile) process.env.AWS_PROFILE = sessionInput.profile;
  let session = await openSession({ ...sessionInput, fallbackRegion: 'us-east-1' });
  const facts: RegionFacts = { profile: session.profileRegion, profileName: session.profileName };
  const named = regionOf(validated.flags, process.env, facts);
  if (named) session = await openSession({ ...sessionInput, region: named.region, regionFrom: named.from });
  // Preflight: fail fast (three attempts, so throttling doesn't fail it) on missing credentials or an
  // endpoint that isn't there.
  const probe = session.clients({ maxAttempts: 3 });
  // Where the calls go, and what said so: every error about reaching them names both.
  const explicit = sandbox ? { url: endpoint!, from: 'sandbox' as const } : opts.endpointUrl ? { url: opts.endpointUrl, from: 'flag' as const } : undefined;
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const resolved = explicit ? undefined : await resolvedOrigin(probe.sts as unknown as Parameters<typeof resolvedOrigin>[0], new GetCallerIdentityCommand({}) as unknown as Parameters<typeof resolvedOrigin>[1]);
  setEndpointOrigin(endpointOrigin({ explicit, resolved, serviceEnvId: 'STS', profile: session.profile }), (id) => endpointOrigin({ explicit, serviceEnvId: id, profile: session.profile }));
  let account: string;
  let callerArn: string;
  try {
    const id = await probe.sts.getCallerIdentity({});
    account = id.Account ?? '';
    callerArn = id.Arn ?? '';
  } catch (e) {
    throw toCliError(e, 'Checking your AWS identity');
  }
  const where = { kind, account, ...(kind === 'endpoint' ? { endpoint: originOf(endpoint!) } : {}) };
  if (!named) {
    facts.last = lastRegion(validated.saved, where);
    facts.sandbox = sandbox;
    if (!regionOf(validated.flags, process.env, facts) && io.interactive) {
      facts.answer = await io.ask<string>({ flag: '--region', kind: 'input', message: 'AWS region', default: 'us-east-1', validate: v.promptValidator(v.region) });
    }
  }
  const chosen = regionOf(validated.flags, process.env, facts);
  if (!chosen) {
    throw new UserInputError({
      what: 'No AWS region set',
      why: `neither --region, ECS_CWLOGS_REGION, AWS_REGION, AWS_DEFAULT_REGION nor profile "${session.profileName}" names one`,
      fix: 'Pass --region, e.g. --region us-east-1 (or set AWS_REGION, or `aws configure set region us-east-1`).',
    });
  }
  const region = chosen.region;
  if (region !== session.region) session = await openSession({ ...sessionInput, region });
  const aws = session.clients();
  return { region, regionFacts: facts, endpoint, sandbox, aws, account, callerArn, target: { ...where, region } };
}

/** The resolution's inputs for this target: flags, environment, what was saved, the region's sources. */
export function settingsInput(validated: Validated, conn: Connection, more: Pick<SettingsInput, 'tagged' | 'answers' | 'built'> = {}): SettingsInput {
  return {
    flags: validated.flags,
    env: process.env,
    saved: savedFor(validated.saved, conn.target),
    file: validated.file,
    region: conn.regionFacts ?? { last: conn.region },
    ...more,
  };
}

/** Flag > environment > saved for this target > the wizard's answer > what the stack's tags show > default. */
export function resolveFor(validated: Validated, conn: Connection, tagged?: TaggedFacts): ResolvedConfig {
  return resolveSettings(settingsInput(validated, conn, { tagged }));
}

export interface ContextInput {
  opts: GlobalOptions;
  io: IoHost;
  stack: string;
  resolved: ResolvedConfig;
  conn: Connection;
  signal: AbortSignal;
  intent: RunFlags['intent'];
  newKeyPair?: string;
}

/** The steps' context. Its config is frozen: steps read it, nothing writes it. */
export function buildContext({ opts, io, stack, resolved, conn, signal, intent, newKeyPair }: ContextInput): Context {
  const flags: RunFlags = Object.freeze({
    adopt: Boolean(opts.adopt),
    deleteLogs: Boolean(opts.deleteLogs),
    intent,
    ...(newKeyPair ? { newKeyPair } : {}),
    ...(opts.replaceInstance ? { replaceInstance: true } : {}),
  });
  const fast = conn.sandbox || Boolean(conn.endpoint && /^https?:\/\/(127\.|localhost|\[::1\])/.test(conn.endpoint));
  const timing = fast ? SANDBOX_TIMING : AWS_TIMING;
  const pollOverride = Number(process.env.ECS_CWLOGS_POLL_MS);
  const ctx: Context = Object.create(conn.aws, {
    stack: { value: stack },
    target: { value: Object.freeze({ ...conn.target }) },
    account: { value: conn.account },
    callerArn: { value: conn.callerArn },
    config: { value: resolved.config }, // frozen by resolveSettings
    tags: { value: Object.freeze(stackTags(stack)) },
    io: { value: io },
    flags: { value: flags },
    clock: { value: realClock },
    timing: { value: pollOverride > 0 ? { ...timing, pollMs: pollOverride, retryMs: pollOverride } : timing },
    signal: { value: signal },
    endpoint: { value: conn.endpoint },
    inventory: { value: conn.inventory },
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
