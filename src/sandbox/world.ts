/**
 * The World: every service's state plus the settings, in one JSON-serialisable object that can be
 * saved to a file (atomically) and loaded again, so a sandbox survives a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { int, json, object, optional, recordOf, str, type Shape } from './shape.js';
import { STATE_SHAPES } from './state-shapes.js';
import type { SandboxSettings, ServiceModule, World } from './types.js';

const FILE_FORMAT = 'ecs-cwlogs-sandbox/1';

interface WorldFile {
  format: string;
  savedAt: string;
  idSeq: number;
  /** Seed of the ids (absent in files written before ids were seeded: those keep their old ids). */
  idSeed?: string;
  state: Record<string, any>;
}

export class SandboxWorld implements World {
  state: Record<string, any>;
  settings: SandboxSettings;
  /** How many ids nextId has handed out; persisted so ids stay unique across restarts. */
  idSeq: number;
  /**
   * Mixed into every id, so two sandboxes (two config directories with one stack name, on one Docker
   * engine) never make the same instance id or task ARN. '' = the unseeded ids of older state files.
   */
  readonly idSeed: string;

  constructor(settings: SandboxSettings, state: Record<string, any> = {}, idSeq = 0, idSeed: string = newIdSeed()) {
    this.settings = settings;
    this.state = state;
    this.idSeq = idSeq;
    this.idSeed = idSeed;
  }

  nextId(prefix: string, hexLength = 17): string {
    this.idSeq += 1;
    // A hash of the seed and the sequence number looks random (like AWS ids), is the same for a given
    // seed (a test can pass one), and differs from one sandbox to the next.
    let hex = '';
    const seedPart = this.idSeed ? `${this.idSeed}:` : '';
    for (let block = 0; hex.length < hexLength; block++) {
      hex += createHash('sha256').update(`${seedPart}${this.idSeq}:${block}`).digest('hex');
    }
    // Current EC2-style ids (17 hex digits) start with 0: i-0abc..., sg-0abc..., vpc-0abc...
    const digits = hexLength === 17 ? '0' + hex.slice(0, 16) : hex.slice(0, hexLength);
    return prefix + digits;
  }

  toFile(now: number): WorldFile {
    return { format: FILE_FORMAT, savedAt: new Date(now).toISOString(), idSeq: this.idSeq, ...(this.idSeed ? { idSeed: this.idSeed } : {}), state: this.state };
  }
}

/** 128 random bits, hex. */
export function newIdSeed(): string {
  return randomBytes(16).toString('hex');
}

/** A world with every module's empty state. */
export function createWorld(settings: SandboxSettings, modules: ServiceModule[], idSeed?: string): SandboxWorld {
  const world = new SandboxWorld(settings, {}, 0, idSeed ?? newIdSeed());
  ensureModuleState(world, modules);
  return world;
}

/**
 * A state file that cannot be used: unreadable, not JSON, not a sandbox state file, or of the wrong
 * shape. `problem` says what is wrong ("ecs.services["arn:…"].clusterArn must be a string (found …)").
 */
export class StateFileError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

const FILE_SHAPE: Shape = object({ format: str, savedAt: optional(str), idSeq: int, idSeed: optional(str), state: recordOf(json) });

/**
 * Load the world saved at `path`, or create an empty one if there is no file. A file that is not a
 * well-formed sandbox state file is refused with a StateFileError: the sandbox never serves a world it
 * would answer with internal errors later.
 * Settings always come from the caller (startSandbox options), not from the file.
 */
export function loadWorld(path: string, settings: SandboxSettings, modules: ServiceModule[], idSeed?: string): SandboxWorld {
  if (!existsSync(path)) return createWorld(settings, modules, idSeed);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StateFileError(path, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (err) {
    throw new StateFileError(path, text.trim() === '' ? 'it is empty, not JSON' : `it is not JSON (${(err as Error).message})`);
  }
  const problem = checkStateFile(file, modules);
  if (problem) throw new StateFileError(path, problem);
  const valid = file as WorldFile;
  // The file's seed wins: ids stay those of the world it holds.
  const world = new SandboxWorld(settings, valid.state, valid.idSeq, valid.idSeed ?? '');
  ensureModuleState(world, modules);
  return world;
}

/** The first thing wrong with a parsed state file, or undefined when the sandbox can serve it. */
export function checkStateFile(file: unknown, modules: ServiceModule[]): string | undefined {
  if (typeof file !== 'object' || file === null || Array.isArray(file)) {
    return `it must hold a JSON object with "format": "${FILE_FORMAT}" (found ${file === null ? 'null' : Array.isArray(file) ? 'an array' : typeof file})`;
  }
  const format = (file as Record<string, unknown>).format;
  if (format !== FILE_FORMAT) return `it is not a sandbox state file (format ${JSON.stringify(format)}, expected "${FILE_FORMAT}")`;
  const problem = FILE_SHAPE(file, '');
  if (problem) return problem;
  const state = (file as WorldFile).state;
  for (const m of modules) {
    const slice = state[m.name];
    if (slice === undefined) continue; // created empty
    const shape = STATE_SHAPES[m.name] ?? recordOf(json);
    const sliceProblem = shape(slice, m.name);
    if (sliceProblem) return sliceProblem;
  }
  return undefined;
}

/** Write the world to `path` atomically: a reader never sees a half-written file. */
export function saveWorld(world: SandboxWorld, path: string, now: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  // 0600: the state holds the whole emulated account (user data, parameters); `wx` so a file left
  // behind by a crash (or planted) is never written through.
  rmSync(tmp, { force: true });
  writeFileSync(tmp, JSON.stringify(world.toFile(now)), { mode: 0o600, flag: 'wx' });
  renameSync(tmp, path);
}

function ensureModuleState(world: World, modules: ServiceModule[]): void {
  for (const m of modules) {
    if (world.state[m.name] === undefined) world.state[m.name] = m.initState();
  }
}
