/**
 * How the user ran this tool, so every command it prints runs as written from where the user is:
 *
 *   npx ecs-cwlogs          run through npx, or from inside a clone (npx finds the project's own bin)
 *   ecs-cwlogs              the `ecs-cwlogs` on PATH is this very script (a global or linked install)
 *   /abs/path/bin/ecs-cwlogs.js   anything else (the bin is executable, with a shebang)
 *
 * followed by the flags that pick the same stack: --sandbox (--local), --stack, --region, --profile,
 * --endpoint-url, and ECS_CWLOGS_CONFIG_DIR when it is set (the saved answers live there).
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, join, relative, isAbsolute } from 'node:path';
import { PACKAGE_ROOT } from '../core/version.js';

export interface InvocationInput {
  env?: NodeJS.ProcessEnv;
  /** The script node ran (process.argv[1]). */
  script?: string;
  cwd?: string;
}

function real(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

const inside = (dir: string, p: string) => {
  const r = relative(dir, p);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
};

/** The words that run this tool again, as the user can type them here. */
export function invokedAs({ env = process.env, script = process.argv[1] ?? '', cwd = process.cwd() }: InvocationInput = {}): string {
  if (env.npm_command === 'exec') return 'npx ecs-cwlogs';
  const self = real(script);
  const found = onPath('ecs-cwlogs', env);
  if (self && found && real(found) === self) return 'ecs-cwlogs';
  const root = real(PACKAGE_ROOT) ?? PACKAGE_ROOT;
  const here = real(cwd) ?? cwd;
  if (self && inside(root, self) && inside(root, here)) return 'npx ecs-cwlogs';
  return shellWord(self ?? join(PACKAGE_ROOT, 'bin', 'ecs-cwlogs.js'));
}

/** A word the shell reads back as itself. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface StackFlags {
  stack?: string;
  sandbox?: boolean;
  local?: boolean;
  region?: string;
  profile?: string;
  endpointUrl?: string;
}

/** The flags (and environment) a follow-up command needs to reach the same stack. */
export function stackFlags(opts: StackFlags, env: NodeJS.ProcessEnv = process.env): { prefix: string; flags: string } {
  const flags = [
    opts.sandbox ? '--sandbox' : '',
    opts.sandbox && opts.local ? '--local' : '',
    opts.stack && opts.stack !== 'ecs-cwlogs' ? `--stack ${shellWord(opts.stack)}` : '',
    opts.region ? `--region ${shellWord(opts.region)}` : '',
    opts.profile ? `--profile ${shellWord(opts.profile)}` : '',
    opts.endpointUrl ? `--endpoint-url ${shellWord(opts.endpointUrl)}` : '',
  ].filter(Boolean);
  const prefix = env.ECS_CWLOGS_CONFIG_DIR ? `ECS_CWLOGS_CONFIG_DIR=${shellWord(env.ECS_CWLOGS_CONFIG_DIR)} ` : '';
  return { prefix, flags: flags.length ? ` ${flags.join(' ')}` : '' };
}

/** `sub` (e.g. "logs --follow") as a whole command line for the same stack. */
export type CommandFor = (sub: string) => string;

export function commandFor(opts: StackFlags, input: InvocationInput = {}): CommandFor {
  const env = input.env ?? process.env;
  const { prefix, flags } = stackFlags(opts, env);
  const tool = invokedAs(input);
  return (sub) => `${prefix}${tool} ${sub}${flags}`;
}
