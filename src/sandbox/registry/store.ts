/**
 * Where the loopback registry keeps blobs and manifests: content-addressed files under a directory
 * (beside the sandbox's state file, so pushed images survive a restart with the state), or memory
 * for a sandbox without a state file.
 *
 *   <dir>/blobs/sha256/<hex>        blobs (layers, configs) and manifests, by digest
 *   <dir>/uploads/<uuid>            a blob upload in progress
 */
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BlobStore {
  has(digest: string): boolean;
  size(digest: string): number | undefined;
  read(digest: string): Buffer | undefined;
  /** Stores content under its own sha256 digest; returns it. */
  put(content: Buffer): string;
  startUpload(): string;
  /** Bytes received so far, or undefined for an unknown upload. */
  uploaded(uuid: string): number | undefined;
  append(uuid: string, chunk: Buffer): number;
  /** Ends the upload: the content's digest, whatever was claimed (the caller compares). */
  finish(uuid: string): string;
  cancel(uuid: string): void;
}

export function sha256Digest(content: Buffer): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const UUID_RE = /^[0-9a-f-]{36}$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function memoryStore(): BlobStore {
  const blobs = new Map<string, Buffer>();
  const uploads = new Map<string, Buffer[]>();
  return {
    has: (d) => blobs.has(d),
    size: (d) => blobs.get(d)?.length,
    read: (d) => blobs.get(d),
    put(content) {
      const d = sha256Digest(content);
      blobs.set(d, content);
      return d;
    },
    startUpload() {
      const id = randomUUID();
      uploads.set(id, []);
      return id;
    },
    uploaded: (id) => uploads.get(id)?.reduce((n, b) => n + b.length, 0),
    append(id, chunk) {
      const parts = uploads.get(id)!;
      parts.push(chunk);
      return parts.reduce((n, b) => n + b.length, 0);
    },
    finish(id) {
      const content = Buffer.concat(uploads.get(id) ?? []);
      uploads.delete(id);
      const d = sha256Digest(content);
      blobs.set(d, content);
      return d;
    },
    cancel: (id) => void uploads.delete(id),
  };
}

export function diskStore(dir: string): BlobStore {
  const blobDir = join(dir, 'blobs', 'sha256');
  const uploadDir = join(dir, 'uploads');
  // Made on the first push: a sandbox that never sees one leaves no directory behind.
  const made = () => {
    mkdirSync(blobDir, { recursive: true, mode: 0o700 });
    mkdirSync(uploadDir, { recursive: true, mode: 0o700 });
  };
  const blobPath = (d: string) => (isDigest(d) ? join(blobDir, d.slice('sha256:'.length)) : undefined);
  const uploadPath = (id: string) => (UUID_RE.test(id) ? join(uploadDir, id) : undefined);
  const size = (p: string | undefined) => {
    try {
      return p ? statSync(p).size : undefined;
    } catch {
      return undefined;
    }
  };
  const hashFile = (p: string) => sha256Digest(readFileSync(p));
  return {
    has: (d) => Boolean(blobPath(d) && existsSync(blobPath(d)!)),
    size: (d) => size(blobPath(d)),
    read(d) {
      const p = blobPath(d);
      return p && existsSync(p) ? readFileSync(p) : undefined;
    },
    put(content) {
      const d = sha256Digest(content);
      const p = blobPath(d)!;
      made();
      if (!existsSync(p)) {
        writeFileSync(`${p}.tmp`, content, { mode: 0o600 });
        renameSync(`${p}.tmp`, p);
      }
      return d;
    },
    startUpload() {
      const id = randomUUID();
      made();
      writeFileSync(uploadPath(id)!, '', { mode: 0o600 });
      return id;
    },
    uploaded: (id) => size(uploadPath(id)),
    append(id, chunk) {
      const p = uploadPath(id)!;
      appendFileSync(p, chunk);
      return size(p) ?? 0;
    },
    finish(id) {
      const p = uploadPath(id)!;
      const d = hashFile(p);
      renameSync(p, blobPath(d)!);
      return d;
    },
    cancel(id) {
      const p = uploadPath(id);
      if (p) rmSync(p, { force: true });
    },
  };
}
