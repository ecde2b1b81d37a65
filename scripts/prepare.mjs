// `prepare`: build, so that installs from git and from a local path work (npm runs it there).
//
// npm/cli#8440: `npm install -g [--prefix P] git+…` prepares the clone as a *global* install: the
// devDependencies are not installed, and npm is still extracting the production ones into the
// clone's node_modules while this runs. Then build in a private copy of the sources instead (its own
// `npm ci`, with the global settings taken out of the environment) and bring back only dist/.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = process.cwd();
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];

function run(cwd, args, env = process.env) {
  const [cmd, ...rest] = [...npm, ...args];
  const r = spawnSync(cmd, rest, { cwd, env, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const haveTools = existsSync(join(root, 'node_modules/typescript/package.json')) && existsSync(join(root, 'node_modules/esbuild/package.json'));
if (haveTools) {
  run(root, ['run', 'build']);
} else {
  console.error('prepare: no build tools here (a global install from git, npm/cli#8440): building in a private copy');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_config_(global|prefix|location|globalconfig|omit|include)$/i.test(k)) delete env[k];
  const work = mkdtempSync(join(tmpdir(), 'ecs-cwlogs-build-'));
  try {
    cpSync(root, work, { recursive: true, filter: (src) => !/^(node_modules|dist|\.git)(\/|$)/.test(relative(root, src)) });
    run(work, [existsSync(join(work, 'package-lock.json')) ? 'ci' : 'install', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], env);
    run(work, ['run', 'build'], env);
    rmSync(join(root, 'dist'), { recursive: true, force: true });
    cpSync(join(work, 'dist', 'bundle'), join(root, 'dist', 'bundle'), { recursive: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
