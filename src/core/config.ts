/**
 * Config resolution: flag, then ECS_CWLOGS_* environment, then the saved stack file, then a prompt
 * or the default. Everything is validated before any AWS call; a bad value is a UserInputError
 * (exit 2) that says what is wrong and what is allowed.
 *
 * The stack file lives in the platform's config directory (XDG on Linux, ~/Library/Preferences on
 * macOS, %APPDATA% on Windows), or ECS_CWLOGS_CONFIG_DIR. It is written atomically with mode 0600.
 * It holds settings only: never credentials.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { UserInputError } from './errors.js';
import { SETTING_LIST, SETTINGS, type Setting, type SettingKey, type StackConfig } from './settings.js';
import { ValidationFailure } from './validate.js';

export type Source = 'flag' | 'env' | 'saved' | 'prompt' | 'default' | 'discovered';

export interface ResolvedConfig {
  config: StackConfig;
  /** Where each value came from. */
  sources: Partial<Record<SettingKey, Source>>;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ECS_CWLOGS_CONFIG_DIR || envPaths('ecs-cwlogs', { suffix: '' }).config;
}

export function stackFile(stack: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'stacks', `${stack}.json`);
}

export interface SavedStack {
  version: 1;
  stack: string;
  settings: Partial<Record<SettingKey, string | number>>;
  /** Sandbox mode: the endpoint of the sandbox kept for this stack (not a secret). */
  sandbox?: { port: number; pid: number; statePath: string };
}

export async function loadStack(stack: string, env: NodeJS.ProcessEnv = process.env): Promise<SavedStack | undefined> {
  const file = stackFile(stack, env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const parsed = JSON.parse(text) as SavedStack;
    if (parsed.version !== 1 || typeof parsed.settings !== 'object') throw new Error('unknown format');
    return parsed;
  } catch (e) {
    throw new UserInputError({
      what: `Cannot read the saved settings of stack "${stack}"`,
      why: `${file} is not a valid stack file (${(e as Error).message})`,
      fix: `Fix or delete that file; it holds only settings and is rewritten by the next \`up\`.`,
    });
  }
}

/** Atomic write (tmp + rename), mode 0600: an interrupted save never leaves a half-written file. */
export async function saveStack(saved: SavedStack, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = stackFile(saved.stack, env);
  await mkdir(join(configDir(env), 'stacks'), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return file;
}

export async function deleteStackFile(stack: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await rm(stackFile(stack, env), { force: true });
}

/** Raw values from the command line, keyed like StackConfig (commander's camelCased option names). */
export type FlagValues = Partial<Record<SettingKey, string | number | undefined>>;

export interface ResolveInput {
  flags: FlagValues;
  env: NodeJS.ProcessEnv;
  saved?: SavedStack;
}

/**
 * Resolve every setting that has a value from flag, env, saved file or default. Settings without a
 * value are left undefined; the caller decides whether to ask, discover or fail (see requireSettings).
 * All present values are validated, and all problems are reported together.
 */
export function resolveSettings(input: ResolveInput): ResolvedConfig {
  const config: Partial<Record<SettingKey, unknown>> = {};
  const sources: Partial<Record<SettingKey, Source>> = {};
  const problems: string[] = [];
  for (const s of SETTING_LIST) {
    const found = pick(s, input);
    if (found === undefined) {
      if (s.default !== undefined) {
        config[s.key] = s.default;
        sources[s.key] = 'default';
      }
      continue;
    }
    try {
      config[s.key] = s.parse(String(found.value));
      sources[s.key] = found.source;
    } catch (e) {
      if (!(e instanceof ValidationFailure)) throw e;
      problems.push(`${describeSource(s, found.source)}: ${e.problem}; ${e.allowed}`);
    }
  }
  if (problems.length > 0) {
    throw new UserInputError({
      what: problems.length === 1 ? `Invalid setting` : `${problems.length} invalid settings`,
      why: problems.join('\n  '),
      fix: 'Nothing was created.',
    });
  }
  return { config: config as unknown as StackConfig, sources };
}

function pick(s: Setting, input: ResolveInput): { value: string | number; source: Source } | undefined {
  const flag = input.flags[s.key];
  if (flag !== undefined && flag !== '') return { value: flag, source: 'flag' };
  const env = input.env[s.env];
  if (env !== undefined && env !== '') return { value: env, source: 'env' };
  const saved = input.saved?.settings[s.key];
  if (saved !== undefined && saved !== '') return { value: saved, source: 'saved' };
  return undefined;
}

function describeSource(s: Setting, source: Source): string {
  switch (source) {
    case 'flag':
      return s.flagName;
    case 'env':
      return s.env;
    case 'saved':
      return `${s.flagName} (saved in the stack file)`;
    default:
      return s.flagName;
  }
}

/** Fail with one message naming every missing flag (no TTY, or --yes). */
export function missingSettingsError(keys: SettingKey[], why = 'there is no terminal to ask in, or --yes was given'): UserInputError {
  const flags = keys.map((k) => SETTINGS[k].flagName);
  return new UserInputError({
    what: `Missing ${flags.length === 1 ? 'setting' : 'settings'} ${flags.join(', ')}`,
    why,
    fix: `Pass ${flags.join(' and ')} (or set ${keys.map((k) => SETTINGS[k].env).join(', ')}), or run \`ecs-cwlogs up\` in a terminal to be asked.`,
  });
}

/** The values worth saving for the next run of this stack. */
export function toSaved(stack: string, config: StackConfig, previous?: SavedStack): SavedStack {
  const settings: SavedStack['settings'] = { ...(previous?.settings ?? {}) };
  for (const s of SETTING_LIST) {
    const value = config[s.key];
    if (value !== undefined && value !== '' && s.saved) settings[s.key] = value as string | number;
  }
  return { version: 1, stack, settings, sandbox: previous?.sandbox };
}
