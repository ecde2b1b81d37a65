/**
 * --sandbox: run any command against a local sandbox that the tool starts and keeps for the stack,
 * so `up`, `status`, `logs` and `down` in separate processes all see the same emulated account.
 * The sandbox runs detached (`ecs-cwlogs sandbox --state …`) and persists its state in the
 * config directory; `ecs-cwlogs sandbox --stop` ends it.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configDir } from '../core/config.js';
import { ExitCode, InternalError, UserInputError } from '../core/errors.js';
import { PACKAGE_ROOT } from '../core/version.js';
import type { IoHost } from '../io/host.js';

export const SANDBOX_CREDENTIALS = { accessKeyId: 'AKIDSANDBOX000000000', secretAccessKey: 'sandbox-secret-not-a-real-key' };

interface SandboxRecord {
  port: number;
  pid: number;
  statePath: string;
  /** Runs its tasks on the local Docker engine (--local). */
  local?: boolean;
}

export function sandboxDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'sandbox');
}

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/_sandbox/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

async function readRecord(file: string): Promise<SandboxRecord | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SandboxRecord;
  } catch {
    return undefined;
  }
}

/**
 * The stack's directory of --local (the instances' stand-in file systems, the tasks' log files, the
 * log shipper's offsets). While it exists the stack's sandbox runs in local mode, whichever command
 * starts it, so `logs`, `status` and `down` need no --local.
 */
export function localDir(stack: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(sandboxDir(env), `${stack}.local`);
}

/** Whether the stack's sandbox ever ran (a record or a state file): if not, it owns nothing. */
export function sandboxUsed(stack: string): boolean {
  const dir = sandboxDir();
  return existsSync(join(dir, `${stack}.json`)) || existsSync(join(dir, `${stack}.state.json`)) || existsSync(localDir(stack));
}

/** The URL of this stack's sandbox, starting it if it isn't running (in local mode if asked or if it was). */
export async function ensureSandbox(stack: string, io: IoHost, opts: { local?: boolean } = {}): Promise<string> {
  const dir = sandboxDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const recordFile = join(dir, `${stack}.json`);
  const local = Boolean(opts.local) || existsSync(localDir(stack));
  const rec = await readRecord(recordFile);
  if (rec && (await healthy(rec.port))) {
    if (!local || rec.local) return `http://127.0.0.1:${rec.port}`;
    // Running without --local: restart it in local mode (its state is in the state file).
    await stopSandbox(stack, false);
  }

  const statePath = join(dir, `${stack}.state.json`);
  const readyFile = join(dir, `${stack}.ready`);
  await rm(readyFile, { force: true });
  const latency = process.env.ECS_CWLOGS_SANDBOX_LATENCY || 'fast';
  const args = [join(PACKAGE_ROOT, 'bin', 'ecs-cwlogs.js'), 'sandbox', '--stack', stack, '--port', '0', '--state', statePath, '--latency', latency, '--ready-file', readyFile];
  if (local) args.push('--local');
  // Its output (what the local runner did, its errors) goes to a log beside the state, so a sandbox
  // that cannot start (a damaged state file) is reported with its own words instead of a timeout.
  const logFile = join(dir, `${stack}.log`);
  const log = openSync(logFile, 'w', 0o600);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code ?? -1));
  child.unref();
  for (let i = 0; i < 100; i++) {
    const ready = await readRecord(readyFile);
    if (ready?.port && (await healthy(ready.port))) {
      await writeFile(recordFile, JSON.stringify({ port: ready.port, pid: child.pid ?? 0, statePath, local } satisfies SandboxRecord), { mode: 0o600 });
      io.emit({ type: 'message', level: 'info', text: `Sandbox for stack ${stack} started on http://127.0.0.1:${ready.port}${local ? ', running tasks on the local Docker engine' : ''} (state: ${statePath})` });
      return `http://127.0.0.1:${ready.port}`;
    }
    if (exitCode !== undefined) {
      const said = (await readFile(logFile, 'utf8').catch(() => '')).trim().replace(/^✖\s*/, '');
      const parts = { what: 'Cannot start the sandbox', why: said || `it exited with code ${exitCode}`, fix: `Its log is ${logFile}.` };
      // Exit 2 from the sandbox is bad input (its state file): the user can act on it.
      throw exitCode === ExitCode.Usage ? new UserInputError(parts) : new InternalError(parts);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new InternalError({ what: 'Cannot start the sandbox', why: 'it did not become ready within 10 seconds', fix: `See ${logFile}, or run \`ecs-cwlogs sandbox${local ? ' --local' : ''}\` in another terminal to see why, and use --endpoint-url.` });
}

/** Stop this stack's sandbox (keeps its state file unless asked). */
export async function stopSandbox(stack: string, removeState: boolean): Promise<boolean> {
  const recordFile = join(sandboxDir(), `${stack}.json`);
  const rec = await readRecord(recordFile);
  let stopped = false;
  if (rec) {
    try {
      process.kill(rec.pid, 'SIGTERM');
      stopped = true;
    } catch {
      /* already gone */
    }
    // Wait for it to save its state and let go of its port (at most 10 s).
    for (let i = 0; stopped && i < 100 && alive(rec.pid); i++) await new Promise((r) => setTimeout(r, 100));
    await rm(recordFile, { force: true });
    await rm(join(sandboxDir(), `${stack}.ready`), { force: true });
  }
  if (removeState) await rm(join(sandboxDir(), `${stack}.state.json`), { force: true });
  return stopped;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
