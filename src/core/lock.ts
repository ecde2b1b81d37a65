/**
 * One run per stack at a time on this machine: `up`, `down` and every step command that changes
 * something take the stack's lock file first (O_EXCL create in the config directory).
 *
 * The lock names its holder (pid, host, command, start time). A lock whose process no longer runs
 * on this host (a kill -9, a crash, a reboot) is stale: it is taken over, atomically, by the next
 * run. A lock held by a live process makes the second run refuse at once, saying who holds it.
 * Across machines (a shared home directory aside) nothing is locked: see the README.
 */
import { hostname } from 'node:os';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { configDir } from './config.js';
import { ConflictError } from './errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

export interface StackLock {
  readonly file: string;
  release(): Promise<void>;
}

/** Whether a process of this machine still runs (EPERM: it does, as another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const h = JSON.parse(await readFile(file, 'utf8')) as LockHolder;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

function since(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

export async function lockStack(stack: string, command: string, env: NodeJS.ProcessEnv = process.env): Promise<StackLock> {
  const dir = join(configDir(env), 'locks');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${stack}.lock`);
  const me: LockHolder = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify(me));
      } finally {
        await fh.close();
      }
      let released = false;
      return {
        file,
        async release() {
          if (released) return;
          released = true;
          const h = await readHolder(file);
          if (h && h.pid === me.pid && h.host === me.host) await rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readHolder(file);
    const stale = !holder ? attempt > 0 : holder.host === me.host && !alive(holder.pid);
    if (stale) {
      // Move it aside first: of two runs that both found it stale, only one rename succeeds.
      const aside = `${file}.stale.${process.pid}`;
      try {
        await rename(file, aside);
        await rm(aside, { force: true });
      } catch {
        /* another run took it over first: try again */
      }
      continue;
    }
    if (!holder) {
      await new Promise((r) => setTimeout(r, 50)); // being written right now
      continue;
    }
    throw new ConflictError({
      what: `Stack ${stack} is busy`,
      why: `another ecs-cwlogs is changing it: \`${holder.command}\`, pid ${holder.pid} on ${holder.host}, started ${since(holder.startedAt)}`,
      fix:
        holder.host === me.host
          ? 'Wait for it to finish, then run this again (it resumes from what exists).'
          : `That run is on another machine sharing this config directory; if it is gone, delete ${file}.`,
    });
  }
  throw new ConflictError({ what: `Stack ${stack} is busy`, why: `the lock ${file} keeps changing hands`, fix: 'Try again in a moment.' });
}
