/**
 * The stand-in for the CloudWatch agent, when the logging image was built without it
 * (--skip-agent). It does what the agent's configuration (docker/.../ecs-cwlogs-agent-config) says
 * the agent does, against the sandbox, over the real wire protocol (SDK, SigV4, HTTP):
 *   - follows the files rsyslog writes in the logging container (bind-mounted from a host directory,
 *     see runner.ts) and the instance's /var/log/ecs/ecs-agent.log and ecs-init.log;
 *   - puts their lines with PutLogEvents under <prefix>-<file>, the prefix being
 *     {instance_id}-{hostname}-{ip_address} resolved with the sandbox's instance, creating the log
 *     group and stream when they are missing, as the agent does;
 *   - batches within the PutLogEvents limits: at most 10,000 events and 1,048,576 bytes (each
 *     message's UTF-8 bytes + 26) per call; a line longer than 256 KiB - 26 bytes is truncated;
 *   - keeps its read offsets in a file (offsets.json), advanced only once a batch is accepted, so a
 *     line is shipped once across container restarts and sandbox restarts (at least once across a
 *     crash between the call and the write of that file);
 *   - follows a rotated file (renamed to <file>.1 by ecs-cwlogs-rotate) to its end, then the new
 *     file from its beginning; a truncated file is read again from 0.
 * Events carry the time the line was read (the agent's default without timestamp_format).
 *
 * The files are written by the containers, which run as root and may put anything in their /var/log:
 * each file is opened beneath its source's `root` (the task's log directory, the instance's stand-in
 * root), with no link followed on the way or at the file itself, and only a regular file is read
 * (confine.ts: O_NOFOLLOW | O_NONBLOCK, fstat, device and inode compared with lstat). A link or a
 * special file in a file's place is not shipped, and onError says so once, naming it (issue 19,
 * item 1b): the CloudWatch agent runs as root on an instance, the stand-in as the user on this machine.
 */
import { closeSync, existsSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ConfinementError, openFileBeneath, relativeParts, type OpenedFile } from './confine.js';

export const MAX_BATCH_EVENTS = 10_000;
export const MAX_BATCH_BYTES = 1_048_576;
export const EVENT_OVERHEAD = 26;
export const MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD;

export interface LogSource {
  /** The directory the file is read beneath (nothing outside it is ever opened). */
  root: string;
  /** The file to follow, inside root. */
  path: string;
  region: string;
  logGroup: string;
  logStream: string;
}

interface Offset {
  ino: number;
  offset: number;
}

interface Pending {
  source: LogSource;
  events: { timestamp: number; message: string }[];
  bytes: number;
  /** Offsets to record once the batch is accepted. */
  commit: Offset;
  since: number;
}

/**
 * How long a stream's lines wait for more before the call, by default: the agent's
 * force_flush_interval in docker/rootfs/usr/local/bin/ecs-cwlogs-agent-config (1 s), with the same
 * semantics (the wait starts at the first line of a batch), so `--local` measures what the agent does.
 */
export const DEFAULT_FLUSH_MS = 1000;

export interface ShipperOptions {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** offsets.json */
  offsetsFile: string;
  /** How long lines may wait for more before a call (default DEFAULT_FLUSH_MS). */
  flushMs?: number;
  /** Reported problems (a call that failed), for the sandbox's output. */
  onError?: (message: string) => void;
}

/** Split complete lines off a buffer; returns the lines and how many bytes they used. */
export function completeLines(buf: Buffer): { lines: string[]; used: number } {
  const end = buf.lastIndexOf(0x0a);
  if (end < 0) return { lines: [], used: 0 };
  const text = buf.subarray(0, end).toString('utf8');
  return { lines: text.split('\n'), used: end + 1 };
}

/** Cut a message to what one event may hold. */
export function truncateMessage(message: string): string {
  if (Buffer.byteLength(message) <= MAX_EVENT_BYTES) return message;
  let cut = Buffer.from(message).subarray(0, MAX_EVENT_BYTES).toString('utf8');
  while (Buffer.byteLength(cut) > MAX_EVENT_BYTES) cut = cut.slice(0, -1);
  return cut;
}

/** Pack events into PutLogEvents-sized batches. */
export function batches<T extends { message: string }>(events: T[], maxEvents = MAX_BATCH_EVENTS, maxBytes = MAX_BATCH_BYTES): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const e of events) {
    const size = Buffer.byteLength(e.message) + EVENT_OVERHEAD;
    if (cur.length > 0 && (cur.length >= maxEvents || bytes + size > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
}

export class LogShipper {
  private readonly clients = new Map<string, CloudWatchLogsClient>();
  private offsets: Record<string, Offset>;
  private sources = new Map<string, LogSource>();
  private pending = new Map<string, Pending>();
  private readonly knownStreams = new Set<string>();
  private busy = false;
  /** Files refused (link, special file, outside root) and why, said once each. */
  private readonly refused = new Map<string, string>();
  private lastTimestamp = 0;
  /** Events accepted so far (for the benchmark and the sandbox's output). */
  shipped = 0;

  constructor(private readonly opts: ShipperOptions) {
    this.offsets = existsSync(opts.offsetsFile) ? (JSON.parse(readFileSync(opts.offsetsFile, 'utf8')) as Record<string, Offset>) : {};
  }

  setSources(sources: LogSource[]): void {
    this.sources = new Map(sources.map((s) => [s.path, s]));
  }

  /** Read what is new and ship what is due. One pass at a time. */
  async poll(force = false): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const source of this.sources.values()) this.read(source);
      for (const [path, p] of [...this.pending]) {
        if (!force && Date.now() - p.since < (this.opts.flushMs ?? DEFAULT_FLUSH_MS) && p.events.length < MAX_BATCH_EVENTS && p.bytes < MAX_BATCH_BYTES) continue;
        if (await this.ship(p)) this.pending.delete(path);
      }
    } finally {
      this.busy = false;
    }
  }

  private read(source: LogSource): void {
    if (this.pending.has(source.path)) {
      const p = this.pending.get(source.path)!;
      if (p.events.length >= MAX_BATCH_EVENTS || p.bytes >= MAX_BATCH_BYTES) return; // ship first
    }
    const current = this.open(source, source.path);
    if (!current) return;
    const st = current.stat;
    closeSync(current.fd);
    const at = this.pending.get(source.path)?.commit ?? this.offsets[source.path] ?? { ino: st.ino, offset: 0 };
    let { ino, offset } = at;
    if (ino !== st.ino) {
      // Renamed away by rotation: drain the old file (now <file>.1) first, if it is that one.
      const rotated = `${source.path}.1`;
      const old = this.open(source, rotated);
      if (old) closeSync(old.fd);
      if (old && old.stat.ino === ino && old.stat.size > offset) {
        this.take(source, rotated, ino, offset, old.stat.size);
        return;
      }
      ino = st.ino;
      offset = 0;
    } else if (st.size < offset) {
      offset = 0; // truncated
    }
    if (st.size > offset) this.take(source, source.path, ino, offset, st.size);
    else if (ino !== at.ino || offset !== at.offset) this.offsets[source.path] = { ino, offset };
  }

  /**
   * `file` opened beneath the source's root, never through a link: undefined when it is missing, or
   * refused (said once through onError).
   */
  private open(source: LogSource, file: string): OpenedFile | undefined {
    try {
      const rel = relative(source.root, file);
      if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) throw new ConfinementError(`${file} is outside ${source.root}`);
      const opened = openFileBeneath(source.root, relativeParts(rel.split(sep).join('/')));
      if (opened) this.refused.delete(file);
      return opened;
    } catch (e) {
      if (!(e instanceof ConfinementError)) throw e;
      if (this.refused.get(file) !== e.message) {
        this.refused.set(file, e.message);
        const why = e.message.startsWith(`${file} `) ? `it${e.message.slice(file.length)}` : e.message;
        this.opts.onError?.(`not shipping ${file}: ${why}; the stand-in reads only regular files inside the task's directory, never through a link (a container may have planted it)`);
      }
      return undefined;
    }
  }

  /** Read complete lines of `file` from `offset` into the source's pending batch. */
  private take(source: LogSource, file: string, ino: number, offset: number, size: number): void {
    const p: Pending = this.pending.get(source.path) ?? { source, events: [], bytes: 0, commit: { ino, offset }, since: Date.now() };
    const room = MAX_BATCH_BYTES - p.bytes;
    const length = Math.min(size - offset, Math.max(room, MAX_EVENT_BYTES + 1));
    const buf = Buffer.alloc(length);
    const opened = this.open(source, file);
    if (!opened) return;
    try {
      if (opened.stat.ino !== ino) return; // replaced since it was looked at: next pass
      readSync(opened.fd, buf, 0, length, offset);
    } finally {
      closeSync(opened.fd);
    }
    let { lines, used } = completeLines(buf);
    if (used === 0 && length > MAX_EVENT_BYTES) {
      lines = [buf.toString('utf8')]; // a line longer than an event may be: ship its start
      used = length;
    }
    let consumed = 0;
    const now = Math.max(Date.now(), this.lastTimestamp);
    this.lastTimestamp = now;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line) + 1;
      const message = truncateMessage(line.replace(/\r$/, ''));
      const size = Buffer.byteLength(message) + EVENT_OVERHEAD;
      if (p.events.length >= MAX_BATCH_EVENTS || (p.events.length > 0 && p.bytes + size > MAX_BATCH_BYTES)) break;
      consumed += bytes;
      if (message.length === 0) continue; // CloudWatch Logs refuses empty messages
      p.events.push({ timestamp: now, message });
      p.bytes += size;
    }
    if (consumed === 0 && p.events.length === 0) return;
    p.commit = { ino, offset: offset + Math.min(consumed, used) };
    if (p.events.length === 0) {
      this.offsets[source.path] = p.commit;
      return;
    }
    this.pending.set(source.path, p);
  }

  private client(region: string): CloudWatchLogsClient {
    let c = this.clients.get(region);
    if (!c) {
      c = new CloudWatchLogsClient({ region, endpoint: this.opts.endpoint, credentials: this.opts.credentials, maxAttempts: 3 });
      this.clients.set(region, c);
    }
    return c;
  }

  /** One PutLogEvents call; true when the batch is accepted (and its offsets recorded). */
  private async ship(p: Pending): Promise<boolean> {
    const { region, logGroup, logStream } = p.source;
    const client = this.client(region);
    const key = `${region}|${logGroup}|${logStream}`;
    try {
      if (!this.knownStreams.has(key)) await this.ensureStream(client, logGroup, logStream);
      this.knownStreams.add(key);
      await client.send(new PutLogEventsCommand({ logGroupName: logGroup, logStreamName: logStream, logEvents: p.events }));
    } catch (e) {
      const name = (e as { name?: string }).name;
      if (name === 'ResourceNotFoundException') this.knownStreams.delete(key);
      this.opts.onError?.(`PutLogEvents ${logGroup} ${logStream}: ${(e as Error).message}`);
      return false;
    }
    this.shipped += p.events.length;
    this.offsets[p.source.path] = p.commit;
    this.saveOffsets();
    return true;
  }

  private async ensureStream(client: CloudWatchLogsClient, logGroupName: string, logStreamName: string): Promise<void> {
    const exists = (e: unknown) => (e as { name?: string }).name === 'ResourceAlreadyExistsException';
    try {
      await client.send(new CreateLogStreamCommand({ logGroupName, logStreamName }));
    } catch (e) {
      if (exists(e)) return;
      if ((e as { name?: string }).name !== 'ResourceNotFoundException') throw e;
      await client.send(new CreateLogGroupCommand({ logGroupName })).catch((x) => {
        if (!exists(x)) throw x;
      });
      await client.send(new CreateLogStreamCommand({ logGroupName, logStreamName })).catch((x) => {
        if (!exists(x)) throw x;
      });
    }
  }

  private saveOffsets(): void {
    const tmp = `${this.opts.offsetsFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.offsets), { mode: 0o600 });
    renameSync(tmp, this.opts.offsetsFile);
  }

  /** Ship everything read so far (on shutdown). */
  async flush(): Promise<void> {
    await this.poll(true);
  }

  close(): void {
    for (const c of this.clients.values()) c.destroy();
  }
}
