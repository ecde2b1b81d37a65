/**
 * The World: every service's state plus the settings, in one JSON-serialisable object that can be
 * saved to a file (atomically) and loaded again, so a sandbox survives a restart.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { SandboxSettings, ServiceModule, World } from './types.js';

const FILE_FORMAT = 'ecs-cwlogs-sandbox/1';

interface WorldFile {
  format: string;
  savedAt: string;
  idSeq: number;
  state: Record<string, any>;
}

export class SandboxWorld implements World {
  state: Record<string, any>;
  settings: SandboxSettings;
  /** How many ids nextId has handed out; persisted so ids stay unique across restarts. */
  idSeq: number;

  constructor(settings: SandboxSettings, state: Record<string, any> = {}, idSeq = 0) {
    this.settings = settings;
    this.state = state;
    this.idSeq = idSeq;
  }

  nextId(prefix: string, hexLength = 17): string {
    this.idSeq += 1;
    // A hash of the sequence number looks random (like AWS ids) but is the same on every run.
    let hex = '';
    for (let block = 0; hex.length < hexLength; block++) {
      hex += createHash('sha256').update(`${this.idSeq}:${block}`).digest('hex');
    }
    // Current EC2-style ids (17 hex digits) start with 0: i-0abc..., sg-0abc..., vpc-0abc...
    const digits = hexLength === 17 ? '0' + hex.slice(0, 16) : hex.slice(0, hexLength);
    return prefix + digits;
  }

  toFile(now: number): WorldFile {
    return { format: FILE_FORMAT, savedAt: new Date(now).toISOString(), idSeq: this.idSeq, state: this.state };
  }
}

/** A world with every module's empty state. */
export function createWorld(settings: SandboxSettings, modules: ServiceModule[]): SandboxWorld {
  const world = new SandboxWorld(settings);
  ensureModuleState(world, modules);
  return world;
}

/**
 * Load the world saved at `path`, or create an empty one if there is no file.
 * Settings always come from the caller (startSandbox options), not from the file.
 */
export function loadWorld(path: string, settings: SandboxSettings, modules: ServiceModule[]): SandboxWorld {
  if (!existsSync(path)) return createWorld(settings, modules);
  const file = JSON.parse(readFileSync(path, 'utf8')) as WorldFile;
  if (file.format !== FILE_FORMAT) {
    throw new Error(`${path} is not a sandbox state file (format "${String(file.format)}", expected "${FILE_FORMAT}")`);
  }
  const world = new SandboxWorld(settings, file.state ?? {}, file.idSeq ?? 0);
  ensureModuleState(world, modules);
  return world;
}

/** Write the world to `path` atomically: a reader never sees a half-written file. */
export function saveWorld(world: SandboxWorld, path: string, now: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(world.toFile(now)));
  renameSync(tmp, path);
}

function ensureModuleState(world: World, modules: ServiceModule[]): void {
  for (const m of modules) {
    if (world.state[m.name] === undefined) world.state[m.name] = m.initState();
  }
}
