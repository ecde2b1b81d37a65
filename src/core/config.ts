/**
 * The stack file: what the user gave, saved per target, read back as one input of the settings'
 * resolution (core/resolve.ts, the one pure function that decides them).
 *
 * The stack file lives in the platform's config directory (XDG on Linux, ~/Library/Preferences on
 * macOS, %APPDATA% on Windows), or ECS_CWLOGS_CONFIG_DIR. It is written atomically with mode 0600.
 * It holds only what the user gave (flags, environment, answers), never credentials and never what a
 * run discovered (default VPC, detected IP, AMI), and it keeps them apart per *target*: the AWS
 * account and region, or the sandbox, or another endpoint. A rehearsal in the sandbox never touches
 * a real account's answers, and a second region starts from the defaults.
 */
import { access, constants, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import envPaths from 'env-paths';
import { UserInputError } from './errors.js';
import { SETTING_LIST, SETTINGS, type SettingKey } from './settings.js';
import type { ResolvedConfig, SavedSettings } from './resolve.js';

export { givenSettings, regionOf, resolveSettings, taggedText, type Answers, type FlagValues, type NotApplied, type RegionFacts, type ResolvedConfig, type SavedSettings, type SettingsInput, type Source, type TaggedFacts } from './resolve.js';

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ECS_CWLOGS_CONFIG_DIR || envPaths('ecs-cwlogs', { suffix: '' }).config;
}

export function stackFile(stack: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'stacks', `${stack}.json`);
}

/** Where a stack's resources live: one account and region of AWS, of the sandbox, or of another endpoint. */
export interface Target {
  kind: 'aws' | 'sandbox' | 'endpoint';
  account: string;
  region: string;
  /** For kind "endpoint": the endpoint's origin (scheme, host, port). */
  endpoint?: string;
}

export function targetKey(t: Target): string {
  return t.kind === 'endpoint' ? `endpoint ${t.endpoint} ${t.account} ${t.region}` : `${t.kind} ${t.account} ${t.region}`;
}

export function describeTarget(t: Target): string {
  const where = t.kind === 'sandbox' ? 'the sandbox' : t.kind === 'endpoint' ? `endpoint ${t.endpoint}` : 'AWS';
  return `${where}, account ${t.account}, ${t.region}`;
}

export interface SavedTarget extends Target {
  settings: SavedSettings;
  savedAt: string;
}

export interface SavedStack {
  version: 2;
  stack: string;
  /** By targetKey(). */
  targets: Record<string, SavedTarget>;
}

/** Settings that are connection details, never saved per target (the target is made of them). */
const NOT_SAVED: ReadonlySet<SettingKey> = new Set(['region', 'profile']);

function brokenFile(stack: string, file: string, why: string, fix?: string): UserInputError {
  return new UserInputError({
    what: `Cannot read the saved settings of stack "${stack}"`,
    why: `${file} ${why}`,
    fix: fix ?? `Fix that file, or move it away (it holds only the answers you gave; the stack's resources are found by their tags, not by this file).`,
  });
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkSettings(x: unknown, where: string): SavedSettings {
  if (!isObject(x)) throw new Error(`${where} must be an object, not ${x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x}`);
  const out: SavedSettings = {};
  for (const [k, v] of Object.entries(x)) {
    if (!(k in SETTINGS)) continue; // a setting of a newer or older version: ignored, kept out
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`${where}.${k} must be a string, a number or true/false`);
    out[k as SettingKey] = v;
  }
  return out;
}

/** Parse and check a stack file's text. Throws Error with a path-like reason. */
export function parseStackFile(text: string, stack: string): SavedStack {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`is not JSON (${(e as Error).message})`);
  }
  if (!isObject(raw)) throw new Error(`holds ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}, not a stack object`);
  if (raw.version === 1) {
    // Version 1 kept one set of settings for every account and region, with discovered values
    // (VPC, subnet, detected IP) mixed in. Keep what can only have been given; drop the rest.
    const legacy = checkSettings(raw.settings, 'settings');
    for (const k of ['vpcId', 'subnetId', 'allowCidr', 'region', 'profile'] as SettingKey[]) delete legacy[k];
    return { version: 2, stack, targets: Object.keys(legacy).length ? { legacy: { kind: 'aws', account: '*', region: '*', settings: legacy, savedAt: '1970-01-01T00:00:00.000Z' } } : {} };
  }
  if (raw.version !== 2) throw new Error(`has version ${JSON.stringify(raw.version)}; this ecs-cwlogs reads versions 1 and 2`);
  if (!isObject(raw.targets)) throw new Error(`targets must be an object`);
  const targets: Record<string, SavedTarget> = {};
  for (const [key, t] of Object.entries(raw.targets)) {
    const where = `targets[${JSON.stringify(key)}]`;
    if (!isObject(t)) throw new Error(`${where} must be an object`);
    if (t.kind !== 'aws' && t.kind !== 'sandbox' && t.kind !== 'endpoint') throw new Error(`${where}.kind must be aws, sandbox or endpoint`);
    for (const f of ['account', 'region', 'savedAt'] as const) if (typeof t[f] !== 'string') throw new Error(`${where}.${f} must be a string`);
    if (t.endpoint !== undefined && typeof t.endpoint !== 'string') throw new Error(`${where}.endpoint must be a string`);
    targets[key] = {
      kind: t.kind,
      account: t.account as string,
      region: t.region as string,
      ...(t.endpoint ? { endpoint: t.endpoint as string } : {}),
      settings: checkSettings(t.settings, `${where}.settings`),
      savedAt: t.savedAt as string,
    };
  }
  return { version: 2, stack, targets };
}

export async function loadStack(stack: string, env: NodeJS.ProcessEnv = process.env): Promise<SavedStack | undefined> {
  const file = stackFile(stack, env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EISDIR') throw brokenFile(stack, file, 'is a directory, not a file', `Move that directory away; the next \`up\` writes the file anew.`);
    if (code === 'EACCES' || code === 'EPERM') throw brokenFile(stack, file, 'cannot be read (permission denied)', `Give your user read access to it (chmod 600 ${file}), or run as the user who created it.`);
    throw brokenFile(stack, file, `cannot be read (${code ?? (e as Error).message})`);
  }
  try {
    return parseStackFile(text, stack);
  } catch (e) {
    throw brokenFile(stack, file, `is not a valid stack file: it ${(e as Error).message}`);
  }
}

/** Atomic write (tmp + rename), mode 0600: an interrupted save never leaves a half-written file. */
export async function saveStack(saved: SavedStack, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = stackFile(saved.stack, env);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(join(configDir(env), 'stacks'), { recursive: true, mode: 0o700 });
    await writeFile(tmp, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw unwritableError(e, env) ?? e;
  }
  return file;
}

/** The errors of a file that cannot be written: permission denied, not permitted (immutable), read-only file system. */
const UNWRITABLE: Record<string, string> = {
  EACCES: 'permission denied (EACCES)',
  EPERM: 'the operation is not permitted there (EPERM: an immutable or otherwise protected directory)',
  EROFS: 'it is on a read-only file system (EROFS)',
};

/**
 * A clear exit-2 error for a file of the tool's own (settings, stack files, the lock, a key file)
 * that cannot be written; undefined when `e` is not such an error. Names the directory and the way out.
 */
export function unwritableError(e: unknown, env: NodeJS.ProcessEnv = process.env): UserInputError | undefined {
  const err = e as NodeJS.ErrnoException | undefined;
  const why = err?.code ? UNWRITABLE[err.code] : undefined;
  if (!why || !err?.path) return undefined;
  const dir = err.syscall === 'access' ? err.path : dirname(err.path);
  return new UserInputError({
    what: `Cannot write to ${dir}`,
    why: `${err.syscall ?? 'writing'} ${err.path}: ${why}`,
    fix: `ecs-cwlogs keeps its saved settings, stack files and locks under ${configDir(env)}. Make that directory writable by your user (for example chmod u+w ${dir}), or set ECS_CWLOGS_CONFIG_DIR to a writable directory, and run the command again.`,
    cause: e,
  });
}

/**
 * Before the first write of a run: the directories the run will write its lock and its stack file
 * to, or their nearest existing parent, can be written (W_OK honours read-only mounts and immutable
 * directories, even for root). Throws unwritableError.
 */
export async function assertConfigWritable(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  for (const sub of ['stacks', 'locks']) {
    let dir = join(configDir(env), sub);
    for (;;) {
      try {
        await access(dir, constants.W_OK);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && dirname(dir) !== dir) {
          dir = dirname(dir);
          continue;
        }
        throw unwritableError(e, env) ?? e;
      }
    }
  }
}

/** What was saved for this target (legacy version-1 answers apply to AWS targets until replaced). */
export function savedFor(saved: SavedStack | undefined, t: Target): SavedSettings {
  if (!saved) return {};
  const own = saved.targets[targetKey(t)];
  if (own) return own.settings;
  const legacy = saved.targets.legacy;
  return legacy && t.kind === 'aws' ? legacy.settings : {};
}

/** The region this account was last used in for the stack (when no flag, environment or profile names one). */
export function lastRegion(saved: SavedStack | undefined, t: Omit<Target, 'region'>): string | undefined {
  const same = Object.values(saved?.targets ?? {})
    .filter((x) => x.kind === t.kind && x.account === t.account && (x.endpoint ?? '') === (t.endpoint ?? ''))
    .sort((a, b) => b.savedAt.localeCompare(a.savedAt));
  return same[0]?.region;
}

/** The plan's line about saved settings this shape ignores (undefined when there are none). */
export function notAppliedText(r: ResolvedConfig): string | undefined {
  const list = r.notApplied ?? [];
  if (!list.length) return undefined;
  return list
    .map((n) => `Saved ${n.flag} ${n.value} no longer applies: ${n.why}. It stays saved for a move back to one instance (--instances 1); \`${n.flag} ""\` forgets it.`)
    .join('\n');
}

/** Fail with one message naming every missing flag (no TTY, or --yes). */
export function missingSettingsError(keys: SettingKey[], why = 'there is no terminal to ask in, or --yes was given', up = 'ecs-cwlogs up'): UserInputError {
  const flags = keys.map((k) => SETTINGS[k].flagName);
  return new UserInputError({
    what: `Missing ${flags.length === 1 ? 'setting' : 'settings'} ${flags.join(', ')}`,
    why,
    fix: `Pass ${flags.join(' or ')} (or set ${keys.map((k) => SETTINGS[k].env).join(', ')}), or run \`${up}\` in a terminal to be asked.`,
  });
}

/**
 * The stack file after a run on this target: what the user gave (flag, environment, answer) is
 * recorded, what was saved before is kept, and nothing discovered is. A setting the user gave a
 * second way replaces the first (an --image flag drops a saved --repo).
 */
export function withUserSettings(stack: string, target: Target, r: ResolvedConfig, previous: SavedStack | undefined, now = new Date()): SavedStack {
  const settings: SavedSettings = { ...savedFor(previous, target) };
  for (const s of SETTING_LIST) {
    if (NOT_SAVED.has(s.key)) continue;
    const src = r.sources[s.key];
    if (src === 'cleared') {
      delete settings[s.key];
      continue;
    }
    if (src === 'flag' || src === 'env' || src === 'prompt') {
      const value = r.config[s.key];
      if (value === undefined || value === '') delete settings[s.key];
      else settings[s.key] = value as string | number | boolean;
    }
  }
  // The image question has one answer.
  if (['flag', 'env', 'prompt'].includes(r.sources.image ?? '')) delete settings.imageRepo;
  if (['flag', 'env', 'prompt'].includes(r.sources.imageRepo ?? '')) delete settings.image;
  const targets = { ...(previous?.targets ?? {}) };
  targets[targetKey(target)] = { ...target, settings, savedAt: now.toISOString() };
  return { version: 2, stack, targets };
}
