// `prepare`: build, so that installs from git and from a local path work (npm runs it there).
//
// npm/cli#8440: `npm install -g [--prefix P] git+…` runs this in a temporary clone whose dependencies
// npm installed into the global prefix instead of the clone (the inner `npm install` inherits the
// prefix). Then there is no tsc here: install the devDependencies into this directory first, with
// the prefix and the global flag taken out of the environment, then build. The packed result is the
// same as from any clone: `files` decides what goes in, never node_modules.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

const cwd = process.cwd();
const env = { ...process.env };
for (const k of Object.keys(env)) if (/^npm_config_(global|prefix|location|globalconfig)$/i.test(k)) delete env[k];
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];

function run(args) {
  const [cmd, ...rest] = [...npm, ...args];
  const r = spawnSync(cmd, rest, { cwd, env, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync('node_modules/typescript/package.json') || !existsSync('node_modules/esbuild/package.json')) {
  console.error('prepare: no build tools in this directory (npm/cli#8440); installing the devDependencies here first');
  // What npm left here is a global-style partial tree: start from the lockfile instead.
  rmSync('node_modules', { recursive: true, force: true });
  run([existsSync('package-lock.json') ? 'ci' : 'install', '--prefix', cwd, '--location=project', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error']);
}
run(['run', 'build', '--prefix', cwd]);
