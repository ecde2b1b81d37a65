/**
 * The build context: the files of a directory that `.dockerignore` lets through, their content hash
 * (the image tag), and the tar stream sent to the daemon.
 *
 * The hash covers each file's path, executable bit and content, the build arguments and the
 * platform, so the tag changes exactly when the image the build would produce can change (a
 * build argument such as a base image tag that moves upstream is the one thing it cannot see).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix, sep } from 'node:path';
import type { Readable } from 'node:stream';
import tarFs from 'tar-fs';
import { dockerignoreMatcher } from './ignore.js';

export interface ContextFile {
  /** Relative, / separated. */
  path: string;
  mode: number;
  /** sha256 of the content (of the target, for a symlink). */
  sha256: string;
}

export interface BuildContext {
  dir: string;
  files: ContextFile[];
  /** sha256 hex over the files, build args and platform. */
  hash: string;
  /** The first 16 hex digits: the image tag. */
  tag: string;
}

export interface ContextOptions {
  buildArgs?: Readonly<Record<string, string>>;
  platform?: string;
  /** Dockerfile path relative to the context (default Dockerfile). */
  dockerfile?: string;
}

/** List the context's files (sorted), honouring .dockerignore like the Docker CLI. */
export function listContextFiles(dir: string, dockerfile = 'Dockerfile'): string[] {
  let ignoreText = '';
  try {
    ignoreText = readFileSync(join(dir, '.dockerignore'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const ignored = dockerignoreMatcher(ignoreText);
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = rel ? join(dir, ...rel.split('/')) : dir;
    for (const name of readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(abs, name));
      if (st.isDirectory()) walk(r);
      else if (st.isFile() || st.isSymbolicLink()) {
        if (!ignored(r)) out.push(r);
      }
    }
  };
  walk('');
  // The CLI always sends the Dockerfile and .dockerignore, whatever the patterns say.
  for (const always of [posix.normalize(dockerfile.split(sep).join('/')), '.dockerignore']) {
    if (!out.includes(always) && exists(join(dir, always))) out.push(always);
  }
  return out.sort();
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export function readBuildContext(dir: string, opts: ContextOptions = {}): BuildContext {
  const files = listContextFiles(dir, opts.dockerfile).map((path): ContextFile => {
    const abs = join(dir, ...path.split('/'));
    const st = lstatSync(abs);
    const content = st.isSymbolicLink() ? Buffer.from(`symlink:${readlinkSync(abs)}`) : readFileSync(abs);
    return { path, mode: st.mode, sha256: createHash('sha256').update(content).digest('hex') };
  });
  const h = createHash('sha256');
  h.update('ecs-cwlogs build context v1\n');
  for (const f of files) h.update(`file ${JSON.stringify(f.path)} ${f.mode & 0o111 ? 'x' : '-'} ${f.sha256}\n`);
  for (const [k, v] of Object.entries(opts.buildArgs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`arg ${JSON.stringify(k)}=${JSON.stringify(v)}\n`);
  }
  h.update(`platform ${opts.platform ?? ''}\n`);
  const hash = h.digest('hex');
  return { dir, files, hash, tag: hash.slice(0, 16) };
}

/** The tar stream of exactly the listed files (modes kept, owner and times normalised). */
export function packContext(ctx: BuildContext): Readable {
  return tarFs.pack(ctx.dir, {
    entries: ctx.files.map((f) => f.path.split('/').join(sep)),
    map: (header) => {
      header.uid = 0;
      header.gid = 0;
      header.mtime = new Date(0);
      return header;
    },
  }) as unknown as Readable;
}
