/**
 * --sandbox: run any command against a local sandbox that the tool starts and keeps for the stack,
 * so `up`, `status`, `logs` and `down` in separate processes all see the same emulated account.
 *
 * - The sandbox runs detached (`ecs-cwlogs sandbox --state …`) and persists its state in the config
 *   directory. It makes a random access key for itself; the CLI finds it in the stack's record
 *   (`sandbox/<stack>.json`, 0600, in a 0700 directory) and signs every call with it.
 * - A command that started the sandbox for itself stops it when it ends, unless something still lives
 *   there (instances, a group, a load balancer, services, tasks): `releaseSandboxes`, from run.ts.
 * - `sandbox --list` shows them; `sandbox --stop` stops one or all, once it has made sure the recorded
 *   PID is still that sandbox (a signed handshake on its port, or /proc's command line and start time).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { configDir } from '../core/config.js';
import { ExitCode, InternalError, UserInputError } from '../core/errors.js';
import { PACKAGE_ROOT } from '../core/version.js';
import type { IoHost } from '../io/host.js';
import { signRequest, type SigningCredentials } from '../sandbox/sigv4.js';

export type SandboxCredentials = SigningCredentials;

/** What the CLI keeps about a stack's running sandbox (0600: it holds the sandbox's secret). */
export interface SandboxRecord {
  stack: string;
  port: number;
  pid: number;
  /** ISO time the sandbox was started. */
  startedAt: string;
  /** The process's start time in clock ticks (/proc/<pid>/stat field 22), where there is a /proc. */
  procStart?: string;
  statePath: string;
  /** Runs its tasks on the local Docker engine (--local). */
  local?: boolean;
  accessKeyId: string;
  secretAccessKey: string;
}

/** What the sandbox process writes once it listens (0600), for the command that started it. */
export interface ReadyFile {
  port: number;
  pid: number;
  accessKeyId: string;
  secretAccessKey: string;
}

export function sandboxDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'sandbox');
}

/** A new random access key for a sandbox: the shape of an AWS key (20 characters; a 40-character secret). */
export function newSandboxCredentials(): SandboxCredentials {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = [...randomBytes(16)].map((b) => alphabet[b & 31]).join('');
  return { accessKeyId: `ASBX${id}`, secretAccessKey: randomBytes(30).toString('base64') };
}

/** A signed call to one of the sandbox's /_sandbox/ control endpoints. */
export async function controlCall(port: number, creds: SandboxCredentials, path: string, init: { method?: string; body?: string; timeoutMs?: number } = {}): Promise<Response> {
  const url = `http://127.0.0.1:${port}${path}`;
  const method = init.method ?? 'GET';
  const headers = signRequest({ method, url, body: init.body, credentials: creds, region: 'us-east-1', service: 'sandbox', headers: init.body ? { 'content-type': 'application/json' } : {} });
  delete headers.host; // fetch sets it (the same value)
  return fetch(url, { method, headers, body: init.body, signal: AbortSignal.timeout(init.timeoutMs ?? 1000) });
}

interface Health {
  pid: number;
  inUse: Record<string, number>;
}

async function health(port: number, creds: SandboxCredentials): Promise<Health | undefined> {
  try {
    const res = await controlCall(port, creds, '/_sandbox/health');
    return res.ok ? ((await res.json()) as Health) : undefined;
  } catch {
    return undefined;
  }
}

/** The recorded sandbox answers on its port, signed with its key, with the recorded PID. */
async function answersAsRecorded(rec: SandboxRecord): Promise<boolean> {
  return Boolean(rec.secretAccessKey) && (await health(rec.port, rec))?.pid === rec.pid;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Write a file 0600, whole or not at all (a reader never sees half of it, a planted file is replaced). */
export async function writePrivate(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
  await rename(tmp, file);
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

/** Stacks whose sandbox this process started (and so stops at the end of the command if it holds nothing). */
const startedHere = new Map<string, SandboxRecord>();

/** The URL and credentials of this stack's sandbox, starting it if it isn't running (in local mode if asked or if it was). */
export async function ensureSandbox(stack: string, io: IoHost, opts: { local?: boolean } = {}): Promise<{ url: string; credentials: SandboxCredentials }> {
  const dir = sandboxDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // It holds the records (the sandbox's secret) and the state: 0700 even if an older version made it 0755.
  await chmod(dir, 0o700);
  const recordFile = join(dir, `${stack}.json`);
  const local = Boolean(opts.local) || existsSync(localDir(stack));
  const rec = readJson<SandboxRecord>(recordFile);
  if (rec && (await answersAsRecorded(rec))) {
    if (!local || rec.local) return { url: `http://127.0.0.1:${rec.port}`, credentials: credentialsOf(rec) };
    // Running without --local: restart it in local mode (its state is in the state file).
    await stopSandbox(stack, false);
  }

  const statePath = join(dir, `${stack}.state.json`);
  const readyFile = join(dir, `${stack}.ready`);
  // A sandbox of this stack that its record does not lead to (the record is broken, or names another
  // PID; or it does not answer) still runs on this state file: it stops first (saving its state), so
  // there is never a second one on the same file, and never one left running unseen.
  const prior = await stopSandboxReport(stack, false, dir);
  for (const text of prior.problems) io.emit({ type: 'message', level: 'warn', text: `${text}.` });
  await rm(readyFile, { force: true });
  const latency = process.env.ECS_CWLOGS_SANDBOX_LATENCY || 'fast';
  const args = [join(PACKAGE_ROOT, 'bin', 'ecs-cwlogs.js'), 'sandbox', '--stack', stack, '--port', '0', '--state', statePath, '--latency', latency, '--ready-file', readyFile];
  if (local) args.push('--local');
  // Its output (what the local runner did, its errors) goes to a log beside the state, so a sandbox
  // that cannot start (a damaged state file) is reported with its own words instead of a timeout.
  const logFile = join(dir, `${stack}.log`);
  const log = openSync(logFile, 'w', 0o600);
  fchmodSync(log, 0o600); // an older log may have been 0644
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code ?? -1));
  child.unref();
  for (let i = 0; i < 100; i++) {
    const ready = readJson<ReadyFile>(readyFile);
    if (ready?.port && ready.pid === child.pid && (await health(ready.port, ready))?.pid === child.pid) {
      const record: SandboxRecord = {
        stack,
        port: ready.port,
        pid: ready.pid,
        startedAt: new Date().toISOString(),
        procStart: procStartTime(ready.pid),
        statePath,
        local,
        accessKeyId: ready.accessKeyId,
        secretAccessKey: ready.secretAccessKey,
      };
      await writePrivate(recordFile, JSON.stringify(record));
      await rm(readyFile, { force: true });
      startedHere.set(stack, record);
      io.emit({ type: 'message', level: 'info', text: `Sandbox for stack ${stack} started on http://127.0.0.1:${ready.port}${local ? ', running tasks on the local Docker engine' : ''} (state: ${statePath})` });
      return { url: `http://127.0.0.1:${ready.port}`, credentials: credentialsOf(record) };
    }
    if (exitCode !== undefined) {
      const said = (await readFile(logFile, 'utf8').catch(() => '')).trim().replace(/^✖\s*/, '');
      const parts = { what: 'Cannot start the sandbox', why: said || `it exited with code ${exitCode}`, fix: `Its log is ${logFile}.` };
      // Exit 2 from the sandbox is bad input (its state file): the user can act on it.
      throw exitCode === ExitCode.Usage ? new UserInputError(parts) : new InternalError(parts);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (child.pid) killQuietly(child.pid);
  throw new InternalError({ what: 'Cannot start the sandbox', why: 'it did not become ready within 10 seconds', fix: `See ${logFile}, or run \`ecs-cwlogs sandbox${local ? ' --local' : ''}\` in another terminal to see why, and use --endpoint-url.` });
}

function credentialsOf(r: SandboxCredentials): SandboxCredentials {
  return { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey };
}

/**
 * At the end of a command: stop each sandbox this process started whose emulated account holds
 * nothing that lives (a refused run, a cancelled wizard, `status` of an empty stack). After a
 * successful `up` the resources live there, so it stays.
 */
export async function releaseSandboxes(io: IoHost): Promise<void> {
  for (const [stack, rec] of startedHere) {
    startedHere.delete(stack);
    const h = await health(rec.port, rec);
    if (h && Object.values(h.inUse).some((n) => n > 0)) continue;
    if (await stopSandbox(stack, false)) io.emit({ type: 'message', level: 'info', text: `Stopped the sandbox of stack ${stack}: nothing runs in it (its state is kept).` });
  }
}

/**
 * After a `down` that failed or was interrupted: its sandbox runs on, since what was not deleted
 * lives there. Say so, with where, and how to finish or stop it (its state is kept either way).
 */
export async function sayStillRunning(stack: string, io: IoHost, run: (sub: string) => string, stop: (sub: string) => string, dir = sandboxDir()): Promise<void> {
  const rec = readJson<SandboxRecord>(join(dir, `${stack}.json`));
  if (!rec || !(await answersAsRecorded(rec))) return;
  io.emit({
    type: 'message',
    level: 'warn',
    text: `The sandbox of stack ${stack} still runs on http://127.0.0.1:${rec.port}: what was not deleted lives there (state: ${rec.statePath}). Run \`${run('down')}\` again to finish, or \`${stop('sandbox --stop')}\` to stop it (its state is kept).`,
  });
}

/** Stop this stack's sandbox (keeps its state file unless asked). True if a process was signalled. */
export async function stopSandbox(stack: string, removeState: boolean, dir = sandboxDir()): Promise<boolean> {
  return (await stopSandboxReport(stack, removeState, dir)).stopped;
}

/** What stopping a stack's sandbox did: whether a process was signalled, and what was wrong on the way. */
export interface StopReport {
  stopped: boolean;
  pid?: number;
  /** "what happened: why, and what was done" for a record that was broken or stale. */
  problems: string[];
}

/**
 * Stop this stack's sandbox. The record names its PID; a record that cannot be read, or that names a
 * PID that is not that sandbox (it died, or the record is stale), is said, and the sandbox is then
 * found by its command line (this tool's `sandbox` command with this directory's ready file), so a
 * broken file never leaves it running.
 */
export async function stopSandboxReport(stack: string, removeState: boolean, dir = sandboxDir()): Promise<StopReport> {
  const recordFile = join(dir, `${stack}.json`);
  const readyFile = join(dir, `${stack}.ready`);
  const problems: string[] = [];
  let rec: SandboxRecord | undefined;
  let pid: number | undefined;
  let text: string | undefined;
  try {
    text = readFileSync(recordFile, 'utf8');
  } catch {
    /* no record */
  }
  if (text !== undefined) {
    try {
      const parsed = JSON.parse(text) as SandboxRecord;
      if (parsed && typeof parsed === 'object' && Number.isInteger(parsed.pid)) rec = parsed;
      else throw new Error('it names no PID');
    } catch (e) {
      problems.push(`The sandbox record ${recordFile} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // Only a process that is still that sandbox is signalled: a PID is reused once its process is gone.
  if (rec && (await isThatSandbox(rec, readyFile))) pid = rec.pid;
  else if (rec) problems.push(`The sandbox record ${recordFile} names PID ${rec.pid}, which is not that sandbox (the process is gone, or the PID is another program's now)`);
  if (pid === undefined) {
    const found = sandboxProcessOf(readyFile);
    if (found !== undefined) {
      pid = found;
      if (problems.length) problems[problems.length - 1] += `: found the sandbox by its command line (PID ${found}) and stopped it`;
      else problems.push(`The sandbox of stack ${stack} ran without its record ${recordFile}: found the sandbox by its command line (PID ${found}) and stopped it`);
    } else if (problems.length) problems[problems.length - 1] += ': no sandbox process of this stack runs';
  }
  let stopped = false;
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGTERM');
      stopped = true;
    } catch {
      /* already gone */
    }
    // Wait for it to save its state and let go of its port (at most 10 s).
    for (let i = 0; stopped && i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
  if (text !== undefined) await rm(recordFile, { force: true });
  await rm(readyFile, { force: true });
  if (removeState) await rm(join(dir, `${stack}.state.json`), { force: true });
  return { stopped, ...(stopped ? { pid } : {}), problems };
}

/** The PID of this user's sandbox process started with this ready file (its command line says so), if one runs. */
function sandboxProcessOf(readyFile: string): number | undefined {
  if (!existsSync('/proc')) return undefined;
  const uid = process.getuid?.();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (uid !== undefined && statSync(`/proc/${entry}`).uid !== uid) continue;
    } catch {
      continue;
    }
    const cmd = procCmdline(Number(entry));
    if (cmd && isSandboxCommand(cmd) && cmd[cmd.indexOf('--ready-file') + 1] === readyFile) return Number(entry);
  }
  return undefined;
}

/**
 * Whether the recorded PID is still the sandbox: it answers a signed handshake on its port with its
 * PID (only the sandbox knows the secret), or, if it does not answer (busy, hung), /proc shows the
 * same start time and this tool's `sandbox` command for this stack.
 */
async function isThatSandbox(rec: SandboxRecord, readyFile: string): Promise<boolean> {
  if (!Number.isInteger(rec.pid) || rec.pid <= 1) return false;
  if (await answersAsRecorded(rec)) return true;
  if (!rec.procStart) return false;
  const cmd = procCmdline(rec.pid);
  return procStartTime(rec.pid) === rec.procStart && cmd !== undefined && isSandboxCommand(cmd) && cmd.includes(readyFile);
}

/** Field 22 of /proc/<pid>/stat (start time, in clock ticks after boot); undefined without /proc. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command name, in parentheses) may hold spaces: count from after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function procCmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** node <this package>/bin/ecs-cwlogs.js sandbox … --ready-file …: one this tool started for a stack. */
function isSandboxCommand(cmd: string[]): boolean {
  return cmd[1] === join(PACKAGE_ROOT, 'bin', 'ecs-cwlogs.js') && cmd[2] === 'sandbox' && cmd.includes('--ready-file');
}

export interface SandboxListing {
  stack: string;
  configDir: string;
  port?: number;
  pid: number;
  startedAt?: string;
  statePath?: string;
  /** running: it answers with the record's secret; not-responding: the process lives but does not answer; gone: only a stale record. */
  state: 'running' | 'not-responding' | 'gone';
}

/**
 * The sandboxes of this config directory (from their records) and, where there is a /proc, those
 * of this user's other config directories (from the processes' command lines).
 */
export async function listSandboxes(): Promise<SandboxListing[]> {
  const found = new Map<string, SandboxListing>();
  const add = async (dir: string, stack: string, pid?: number) => {
    const key = join(dir, stack);
    if (found.has(key)) return;
    const rec = readJson<SandboxRecord>(join(dir, `${stack}.json`));
    if (!rec && pid === undefined) return;
    const h = rec?.secretAccessKey ? await health(rec.port, rec) : undefined;
    const p = rec?.pid ?? pid!;
    const state = h?.pid === p ? 'running' : alive(p) && (!rec?.procStart || procStartTime(p) === rec.procStart) ? 'not-responding' : 'gone';
    found.set(key, { stack, configDir: dirname(dir), port: rec?.port, pid: p, startedAt: rec?.startedAt, statePath: rec?.statePath ?? join(dir, `${stack}.state.json`), state });
  };
  const own = sandboxDir();
  if (existsSync(own)) {
    for (const f of readdirSync(own).sort()) {
      if (f.endsWith('.json') && !f.endsWith('.state.json')) await add(own, f.slice(0, -'.json'.length));
    }
  }
  if (existsSync('/proc')) {
    const uid = process.getuid?.();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      const pid = Number(entry);
      try {
        if (uid !== undefined && statSync(`/proc/${entry}`).uid !== uid) continue;
      } catch {
        continue;
      }
      const cmd = procCmdline(pid);
      if (!cmd || !isSandboxCommand(cmd)) continue;
      const ready = cmd[cmd.indexOf('--ready-file') + 1];
      const stack = cmd[cmd.indexOf('--stack') + 1];
      if (!ready || !stack || basename(ready) !== `${stack}.ready`) continue;
      await add(dirname(ready), stack, pid);
    }
  }
  return [...found.values()];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* gone */
  }
}
