/**
 * One run per stack at a time in the account, whichever machine or config directory it runs from.
 *
 * The lock is an SSM parameter, `/ecs-cwlogs/<stack>/lock`, in the stack's region, tagged with the
 * stack. Parameter Store's PutParameter without Overwrite is a conditional create: of two runs, one
 * gets ParameterAlreadyExists (docs/aws-behaviour.md, "The account lock"). Its value names the
 * holder: user, host, pid, command, config directory, when it started and its last heartbeat.
 *
 * How a run uses it (src/cli/run.ts):
 *   - Plan: read it (GetParameter, no write). Held by a live run: stop now, with 0 writes, naming it.
 *   - After Confirm, before the first write: create it. Only a plan with changes takes it: a run that
 *     changes nothing writes nothing, the lock included.
 *   - While it runs: a heartbeat rewrites it every `staleAfter / 4`.
 *   - At the end (success, failure or Ctrl-C): delete it, if it is still ours.
 *   - Stale: its process is gone (same machine) or no heartbeat for `staleAfter` (10 minutes unless
 *     ECS_CWLOGS_LOCK_STALE_SECONDS says otherwise): the next run takes it over and says whose it was.
 *
 * Credentials that may not use Parameter Store: the run goes on without the account lock and says so
 * (the machine's lock in the config directory still holds); docs/security.md lists the permission.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { awsErrorCode } from './errors.js';
import { ConflictError } from './errors.js';
import { alive } from './lock.js';

/** The Parameter Store calls the lock makes (the SDK's SSM client has them). */
export interface LockParameterStore {
  getParameter(input: { Name: string }): Promise<{ Parameter?: { Value?: string; LastModifiedDate?: Date } }>;
  putParameter(input: {
    Name: string;
    Value: string;
    Type?: 'String';
    Overwrite?: boolean;
    Description?: string;
    Tags?: { Key: string; Value: string }[];
  }): Promise<{ Version?: number }>;
  deleteParameter(input: { Name: string }): Promise<unknown>;
}

export interface AccountLockHolder {
  v: 1;
  runId: string;
  user: string;
  host: string;
  /** The machine (its /etc/machine-id, else the host name): a dead pid means something only there. */
  machine: string;
  pid: number;
  command: string;
  configDir: string;
  startedAt: string;
  heartbeatAt: string;
}

export interface AccountLockOptions {
  store: LockParameterStore;
  stack: string;
  region: string;
  command: string;
  configDir: string;
  /** The stack's tags (ownership). */
  tags: Record<string, string>;
  /** Seconds without a heartbeat after which a lock is stale. */
  staleAfterSeconds?: number;
  /** A warning for the user (lost lock, taken-over lock, no permission). */
  warn(text: string): void;
  now?: () => number;
}

export interface AccountLock {
  readonly name: string;
  /** False when the account could not be locked (no permission): the run went on without it. */
  readonly held: boolean;
  /** Set when a heartbeat found the lock in someone else's hands. */
  readonly lost?: AccountLockHolder;
  release(): Promise<void>;
}

export const DEFAULT_STALE_SECONDS = 600;

export function lockParameterName(stack: string): string {
  return `/ecs-cwlogs/${stack}/lock`;
}

export function staleAfterSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.ECS_CWLOGS_LOCK_STALE_SECONDS);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_STALE_SECONDS;
}

let machineIdCache: string | undefined;
function machineId(): string {
  if (machineIdCache) return machineIdCache;
  try {
    machineIdCache = readFileSync('/etc/machine-id', 'utf8').trim() || hostname();
  } catch {
    machineIdCache = hostname();
  }
  return machineIdCache;
}

function parseHolder(value: string | undefined): AccountLockHolder | undefined {
  if (!value) return undefined;
  try {
    const h = JSON.parse(value) as AccountLockHolder;
    return h && typeof h.runId === 'string' && typeof h.pid === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

const isCode = (e: unknown, ...codes: string[]) => codes.includes(awsErrorCode(e) ?? '');
const DENIED = ['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'];

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

/** "ann@build-7 (pid 4242, `up`, config /home/ann/.config/ecs-cwlogs), started 3 min ago" */
export function describeHolder(h: AccountLockHolder, now = Date.now()): string {
  return `${h.user}@${h.host} (pid ${h.pid}, \`${h.command}\`, config ${h.configDir}), started ${ago(now - Date.parse(h.startedAt))}, last heartbeat ${ago(now - Date.parse(h.heartbeatAt))}`;
}

export type LockState =
  | { state: 'free' }
  | { state: 'held'; holder: AccountLockHolder; raw: string }
  | { state: 'stale'; holder: AccountLockHolder | undefined; raw: string; why: string };

/** Read the lock and judge it. Read-only. */
export async function readAccountLock(store: LockParameterStore, stack: string, staleAfter: number, now = Date.now()): Promise<LockState> {
  let res;
  try {
    res = await store.getParameter({ Name: lockParameterName(stack) });
  } catch (e) {
    if (isCode(e, 'ParameterNotFound')) return { state: 'free' };
    throw e;
  }
  const raw = res.Parameter?.Value ?? '';
  const holder = parseHolder(raw);
  if (!holder) return { state: 'stale', holder: undefined, raw, why: 'its value is not a lock ecs-cwlogs wrote' };
  if (holder.machine === machineId() && !alive(holder.pid)) return { state: 'stale', holder, raw, why: `its process ${holder.pid} on this machine is gone` };
  const beat = Math.max(Date.parse(holder.heartbeatAt) || 0, res.Parameter?.LastModifiedDate?.getTime() ?? 0);
  if (now - beat > staleAfter * 1000) return { state: 'stale', holder, raw, why: `no heartbeat for ${ago(now - beat).replace(' ago', '')} (stale after ${staleAfter} s)` };
  return { state: 'held', holder, raw };
}

function busy(stack: string, holder: AccountLockHolder, name: string, staleAfter: number): ConflictError {
  return new ConflictError({
    what: `Stack ${stack} is busy`,
    why: `another ecs-cwlogs run is changing it: ${describeHolder(holder)} (the lock is the SSM parameter ${name})`,
    fix: `Wait for it to finish, then run this again: it resumes from what exists. If that run is gone, its lock is taken over ${staleAfter} s after its last heartbeat.`,
  });
}

/** Plan time: stop now, with nothing written, if another live run holds the stack. */
export async function checkAccountLock(opts: Pick<AccountLockOptions, 'store' | 'stack' | 'staleAfterSeconds' | 'warn'>): Promise<void> {
  const staleAfter = opts.staleAfterSeconds ?? DEFAULT_STALE_SECONDS;
  let s: LockState;
  try {
    s = await readAccountLock(opts.store, opts.stack, staleAfter);
  } catch (e) {
    if (isCode(e, ...DENIED)) return; // acquire says so, once
    throw e;
  }
  if (s.state === 'held') throw busy(opts.stack, s.holder, lockParameterName(opts.stack), staleAfter);
}

/** A lock a stopped run left: who held it and why it is judged stale. */
export interface LeftLock {
  name: string;
  holder?: AccountLockHolder;
  why: string;
  raw: string;
}

/**
 * `down` with nothing else to delete: the stack's lock, if a run that stopped left it (a `down`
 * killed after its last delete). Held by a live run: that run is changing the stack, so stop
 * (busy). Read-only; credentials that may not read it: undefined.
 */
export async function leftAccountLock(opts: Pick<AccountLockOptions, 'store' | 'stack' | 'staleAfterSeconds'>): Promise<LeftLock | undefined> {
  const staleAfter = opts.staleAfterSeconds ?? DEFAULT_STALE_SECONDS;
  let s: LockState;
  try {
    s = await readAccountLock(opts.store, opts.stack, staleAfter);
  } catch (e) {
    if (isCode(e, ...DENIED)) return undefined;
    throw e;
  }
  if (s.state === 'free') return undefined;
  if (s.state === 'held') throw busy(opts.stack, s.holder, lockParameterName(opts.stack), staleAfter);
  return { name: lockParameterName(opts.stack), holder: s.holder, why: s.why, raw: s.raw };
}

/** Delete a left lock, only if it is still the one judged stale (not one a new run took meanwhile). */
export async function deleteLeftAccountLock(opts: Pick<AccountLockOptions, 'store' | 'stack' | 'staleAfterSeconds'>, left: LeftLock): Promise<boolean> {
  const again = await readAccountLock(opts.store, opts.stack, opts.staleAfterSeconds ?? DEFAULT_STALE_SECONDS);
  if (again.state !== 'stale' || again.raw !== left.raw) return false;
  await opts.store.deleteParameter({ Name: left.name }).catch((e) => {
    if (!isCode(e, 'ParameterNotFound')) throw e;
  });
  return true;
}

/** "the lock /ecs-cwlogs/s/lock that a stopped run left (ann@build-7 (pid 4242, …): its process … is gone)" */
export function describeLeftLock(left: LeftLock): string {
  return `the lock ${left.name} that a stopped run left (${left.holder ? `${describeHolder(left.holder)}: ` : ''}${left.why})`;
}

/** Before the first write: take the lock, or stop naming who holds it. */
export async function acquireAccountLock(opts: AccountLockOptions): Promise<AccountLock> {
  const name = lockParameterName(opts.stack);
  const staleAfter = opts.staleAfterSeconds ?? DEFAULT_STALE_SECONDS;
  const now = opts.now ?? Date.now;
  const startedAt = new Date(now()).toISOString();
  const me = (): AccountLockHolder => ({
    v: 1,
    runId,
    user: safeUser(),
    host: hostname(),
    machine: machineId(),
    pid: process.pid,
    command: opts.command,
    configDir: opts.configDir,
    startedAt,
    heartbeatAt: new Date(now()).toISOString(),
  });
  const runId = randomBytes(8).toString('hex');
  const create = () =>
    opts.store.putParameter({
      Name: name,
      Value: JSON.stringify(me()),
      Type: 'String',
      Overwrite: false,
      Description: `ecs-cwlogs: a run is changing stack ${opts.stack}; deleted when it ends`,
      Tags: Object.entries(opts.tags).map(([Key, Value]) => ({ Key, Value })),
    });

  for (let attempt = 0; ; attempt++) {
    try {
      await create();
      break;
    } catch (e) {
      if (isCode(e, ...DENIED)) {
        opts.warn(
          `Not locking stack ${opts.stack} in the account: ${awsErrorCode(e)} on ssm:PutParameter for ${name}. Runs from two machines could collide; allow ssm:PutParameter, ssm:GetParameter, ssm:DeleteParameter and ssm:AddTagsToResource on that parameter (docs/security.md).`,
        );
        return { name, held: false, async release() {} };
      }
      if (!isCode(e, 'ParameterAlreadyExists') || attempt >= 3) throw e;
    }
    const s = await readAccountLock(opts.store, opts.stack, staleAfter, now());
    if (s.state === 'free') continue; // released between the two calls
    if (s.state === 'held') throw busy(opts.stack, s.holder, name, staleAfter);
    // Stale: take it over, but only the lock judged stale (not one taken over meanwhile by another run).
    const again = await readAccountLock(opts.store, opts.stack, staleAfter, now());
    if (again.state !== 'stale' || again.raw !== s.raw) continue;
    await opts.store.deleteParameter({ Name: name }).catch((e) => {
      if (!isCode(e, 'ParameterNotFound')) throw e;
    });
    opts.warn(`Took over the lock of stack ${opts.stack}${s.holder ? ` from ${describeHolder(s.holder)}` : ''}: ${s.why}.`);
  }

  let lost: AccountLockHolder | undefined;
  let released = false;
  const ours = (v: string | undefined) => parseHolder(v)?.runId === runId;
  const beat = async () => {
    if (released || lost) return;
    try {
      const cur = await opts.store.getParameter({ Name: name }).catch((e) => {
        if (isCode(e, 'ParameterNotFound')) return { Parameter: undefined };
        throw e;
      });
      if (!ours(cur.Parameter?.Value)) {
        lost = parseHolder(cur.Parameter?.Value);
        opts.warn(`The lock of stack ${opts.stack} is no longer this run's${lost ? `: ${describeHolder(lost)} holds it` : ''}. Let this run finish, then check with \`status\`.`);
        return;
      }
      await opts.store.putParameter({ Name: name, Value: JSON.stringify(me()), Type: 'String', Overwrite: true });
    } catch {
      /* a missed heartbeat: the next one tries again; stale only after staleAfter */
    }
  };
  const timer = setInterval(() => void beat(), Math.max(1000, (staleAfter * 1000) / 4));
  timer.unref();

  return {
    name,
    held: true,
    get lost() {
      return lost;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const cur = await opts.store.getParameter({ Name: name }).catch(() => undefined);
      if (!cur || !ours(cur.Parameter?.Value)) return;
      await opts.store.deleteParameter({ Name: name }).catch((e) => {
        if (!isCode(e, 'ParameterNotFound')) throw e;
      });
    },
  };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
