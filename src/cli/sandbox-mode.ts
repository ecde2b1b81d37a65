/**
 * --sandbox: run any command against a local sandbox that the tool starts and keeps for the stack,
 * so `up`, `status`, `logs` and `down` in separate processes all see the same emulated account.
 * The sandbox runs detached (`ecs-cwlogs sandbox --state …`) and persists its state in the
 * config directory; `ecs-cwlogs sandbox --stop` ends it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
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

/** The URL of this stack's sandbox, starting it if it isn't running. */
export async function ensureSandbox(stack: string, io: IoHost): Promise<string> {
  const dir = sandboxDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const recordFile = join(dir, `${stack}.json`);
  const rec = await readRecord(recordFile);
  if (rec && (await healthy(rec.port))) return `http://127.0.0.1:${rec.port}`;

  const statePath = join(dir, `${stack}.state.json`);
  const readyFile = join(dir, `${stack}.ready`);
  await rm(readyFile, { force: true });
  const latency = process.env.ECS_CWLOGS_SANDBOX_LATENCY || 'fast';
  // Its errors go to a log beside the state, so a sandbox that cannot start (a damaged state file)
  // is reported with its own words instead of a timeout.
  const logFile = join(dir, `${stack}.log`);
  const log = openSync(logFile, 'w', 0o600);
  const child = spawn(
    process.execPath,
    [join(PACKAGE_ROOT, 'bin', 'ecs-cwlogs.js'), 'sandbox', '--port', '0', '--state', statePath, '--latency', latency, '--ready-file', readyFile],
    { detached: true, stdio: ['ignore', 'ignore', log] },
  );
  closeSync(log);
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code ?? -1));
  child.unref();
  for (let i = 0; i < 100; i++) {
    const ready = await readRecord(readyFile);
    if (ready?.port && (await healthy(ready.port))) {
      await writeFile(recordFile, JSON.stringify({ port: ready.port, pid: child.pid ?? 0, statePath } satisfies SandboxRecord), { mode: 0o600 });
      io.emit({ type: 'message', level: 'info', text: `Sandbox for stack ${stack} started on http://127.0.0.1:${ready.port} (state: ${statePath})` });
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
  throw new InternalError({ what: 'Cannot start the sandbox', why: 'it did not become ready within 10 seconds', fix: `See ${logFile}, or run \`ecs-cwlogs sandbox\` in another terminal to see why, and use --endpoint-url.` });
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
    await rm(recordFile, { force: true });
  }
  if (removeState) await rm(join(sandboxDir(), `${stack}.state.json`), { force: true });
  return stopped;
}
