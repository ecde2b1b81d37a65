/**
 * Confinement of `--local` on this machine's file system (issue 19, item 1). Every host path the
 * runner mounts into a container, creates, appends to or ships from lies beneath a directory of the
 * stack's own (an instance's stand-in root, a task's directory), and nothing a container wrote there
 * can lead it out:
 *   - lexically: a task definition's path is split into components; `..` stops at the stand-in root
 *     (as it stops at `/` on the instance), and a component is never empty, `.`, `..` or holding `/`
 *     or NUL;
 *   - on disk: the walk holds a descriptor of each directory and opens the next component relative
 *     to it (through /proc/self/fd, Linux's openat) with O_NOFOLLOW, so a symbolic link planted by a
 *     container, anywhere on the way, is refused instead of followed; a missing directory is created
 *     with mkdir inside the directory just verified, never with `mkdir -p` on a joined path;
 *   - a file is opened the same way, with O_NONBLOCK (a FIFO planted in place of a log file cannot
 *     block the sandbox), then fstat'ed: only a regular file whose device and inode are those lstat
 *     sees at that name is used.
 * Where /proc/self/fd is missing (not Linux), the walk lstat's each component by path before opening
 * it with O_NOFOLLOW and compares the opened directory's device and inode with what lstat saw.
 */
import { closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** A path that would leave its directory, or a link or special file in its way. */
export class ConfinementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfinementError';
  }
}

const PROC_FD = process.platform === 'linux' && existsSync('/proc/self/fd');
// O_PATH (Linux): a descriptor that names a directory without needing read permission on it.
const O_PATH = process.platform === 'linux' ? 0o10000000 : 0;
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_WRONLY, O_APPEND, O_CREAT } = constants;

/** ECS names (volumes, containers): up to 255 letters, numbers, hyphens and underscores. */
const ECS_NAME = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * A volume or container name as the only component of a host path. AWS allows "up to 255 letters
 * (uppercase and lowercase), numbers, underscores, and hyphens" (RegisterTaskDefinition, Volume.name
 * and ContainerDefinition.name: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Volume.html,
 * .../API_ContainerDefinition.html); anything else is refused.
 */
export function ecsNameComponent(kind: string, name: unknown): string {
  if (typeof name !== 'string' || !ECS_NAME.test(name)) {
    throw new ConfinementError(`the ${kind} name ${JSON.stringify(name)} is not 1 to 255 letters, numbers, hyphens and underscores, as ECS requires`);
  }
  return name;
}

/**
 * The components of a host volume's `sourcePath` as it resolves on a Linux instance ("the path on the
 * host container instance that's presented to the container"; Docker creates it when missing:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-taskdefinition-volumes-host.html):
 * an absolute path,
 * `.` and empty components dropped, `..` taking one component off and stopping at `/` (the kernel
 * resolves `/..` to `/`). A relative path, or one holding NUL, is refused: on an instance Docker would
 * not take it as a host directory (a bind source that is not absolute is a named volume).
 */
export function instancePathParts(sourcePath: string): string[] {
  if (sourcePath.includes('\0')) throw new ConfinementError(`the host sourcePath ${JSON.stringify(sourcePath)} holds a NUL character`);
  if (!sourcePath.startsWith('/')) throw new ConfinementError(`the host sourcePath ${JSON.stringify(sourcePath)} is not an absolute path on the container instance`);
  const out: string[] = [];
  for (const part of sourcePath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

/** The components of `rel` beneath a directory (a path the runner built itself), checked. */
export function relativeParts(rel: string): string[] {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  for (const p of parts) if (p === '..' || p.includes('\0')) throw new ConfinementError(`${JSON.stringify(rel)} leaves its directory`);
  return parts;
}

function childPath(fd: number, dir: string, name: string): string {
  return PROC_FD ? `/proc/self/fd/${fd}/${name}` : join(dir, name);
}

function describe(path: string): string {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return `a symbolic link (to ${readlinkSync(path)})`;
    if (st.isDirectory()) return 'a directory';
    if (st.isFIFO()) return 'a FIFO';
    if (st.isSocket()) return 'a socket';
    if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
    return 'not a directory';
  } catch {
    return 'gone';
  }
}

/** Open `base` (trusted: the runner's own directory) as the start of a walk. */
function openBase(base: string): { fd: number; path: string } {
  const path = realpathSync(base);
  return { fd: openSync(path, (O_PATH || O_RDONLY) | O_DIRECTORY), path };
}

/** Open directory `name` in the directory open as `fd`, never through a link. */
function openChildDir(fd: number, dir: string, name: string, create: boolean, mode: number): number {
  const p = childPath(fd, dir, name);
  const shown = join(dir, name);
  const flags = (O_PATH || O_RDONLY) | O_DIRECTORY | O_NOFOLLOW;
  let before: Stats | undefined;
  if (!PROC_FD) {
    before = lstatSync(p, { throwIfNoEntry: false });
    if (before && !before.isDirectory()) throw new ConfinementError(`${shown} is ${describe(shown)}, not a directory inside it`);
  }
  let next: number;
  try {
    next = openSync(p, flags);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && create) {
      try {
        mkdirSync(p, { mode });
      } catch (m) {
        if ((m as NodeJS.ErrnoException).code !== 'EEXIST') throw m;
      }
      return openChildDir(fd, dir, name, false, mode);
    }
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new ConfinementError(`${shown} is ${describe(shown)}, not a directory inside it`);
    throw e;
  }
  if (!PROC_FD) {
    const st = fstatSync(next);
    const now = lstatSync(p, { throwIfNoEntry: false });
    if (!now || now.dev !== st.dev || now.ino !== st.ino) {
      closeSync(next);
      throw new ConfinementError(`${shown} changed while it was opened`);
    }
  }
  return next;
}

/** Walk `parts` beneath `base`, creating missing directories when asked; returns the last one open. */
function walk(base: string, parts: string[], create: boolean, mode: number): { fd: number; path: string } {
  let { fd, path } = openBase(base);
  try {
    for (const name of parts) {
      const next = openChildDir(fd, path, name, create, mode);
      closeSync(fd);
      fd = next;
      path = join(path, name);
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return { fd, path };
}

/**
 * The directory `base/parts…`, created where missing, each component inside the one before and
 * none a link. Returns its path (what Docker is given to mount).
 */
export function ensureDirBeneath(base: string, parts: string[], mode = 0o755): string {
  const { fd, path } = walk(base, parts, true, mode);
  closeSync(fd);
  return path;
}

/** Whether `base/parts…` is still a directory inside `base`, reached through no link (before a mount). */
export function checkDirBeneath(base: string, parts: string[]): string {
  const { fd, path } = walk(base, parts, false, 0);
  closeSync(fd);
  return path;
}

export type OpenedFile = { fd: number; stat: Stats; path: string };

/**
 * Open the regular file `base/parts…` for reading, reaching it through no link. undefined when it
 * (or a directory on the way) does not exist; ConfinementError when something in the way is a link
 * or the file is not a regular file. The caller closes `fd`.
 */
export function openFileBeneath(base: string, parts: string[]): OpenedFile | undefined {
  if (parts.length === 0) throw new ConfinementError(`no file named beneath ${base}`);
  let dir: { fd: number; path: string };
  try {
    dir = walk(base, parts.slice(0, -1), false, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const name = parts.at(-1)!;
  const shown = join(dir.path, name);
  try {
    const p = childPath(dir.fd, dir.path, name);
    let fd: number;
    try {
      fd = openSync(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP') throw new ConfinementError(`${shown} is ${describe(shown)}`);
      if (code === 'ENXIO') throw new ConfinementError(`${shown} is ${describe(shown)}, not a regular file`);
      throw e;
    }
    const stat = fstatSync(fd);
    const seen = lstatSync(p, { throwIfNoEntry: false });
    if (!stat.isFile() || !seen || seen.dev !== stat.dev || seen.ino !== stat.ino) {
      closeSync(fd);
      throw new ConfinementError(`${shown} is ${stat.isFile() ? 'replaced while it was opened' : `${describe(shown)}, not a regular file`}`);
    }
    return { fd, stat, path: shown };
  } finally {
    closeSync(dir.fd);
  }
}

/** Append `data` to the regular file `base/parts…`, creating it (mode 0600) and its directories; never through a link. */
export function appendBeneath(base: string, parts: string[], data: string): void {
  const dir = walk(base, parts.slice(0, -1), true, 0o755);
  const name = parts.at(-1)!;
  const shown = join(dir.path, name);
  try {
    let fd: number;
    try {
      fd = openSync(childPath(dir.fd, dir.path, name), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENXIO') throw new ConfinementError(`${shown} is ${describe(shown)}, not a regular file`);
      throw e;
    }
    try {
      if (!fstatSync(fd).isFile()) throw new ConfinementError(`${shown} is ${describe(shown)}, not a regular file`);
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
  } finally {
    closeSync(dir.fd);
  }
}
