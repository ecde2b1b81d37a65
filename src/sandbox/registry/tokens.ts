/**
 * What ECR's handlers (services/ecr.ts) and the registry's wire (wire.ts) share: the registry's part
 * of the ECR state, its tokens, and the registry host of a region. index.ts, which runs the
 * listeners, registers itself here when the sandbox starts, so ECR never imports the listeners and
 * the listeners' wire may import ECR.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ServiceError, type World } from '../types.js';

/** What the registry needs of the ECR state (services/ecr.ts keeps it). */
export interface RegistryState {
  registryPorts?: Record<string, number>;
  registrySecret?: string;
}

export const TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000;

export function registryState(world: World): RegistryState {
  return world.state.ecr as RegistryState;
}

const resolvers = new WeakMap<World, (region: string) => Promise<string>>();

export function setRegistryResolver(world: World, resolve: (region: string) => Promise<string>): void {
  resolvers.set(world, resolve);
}

/** `127.0.0.1:<port>`, the registry host of a region (its listener starts on first use). */
export function registryHost(world: World, region: string): Promise<string> {
  const resolve = resolvers.get(world);
  if (!resolve) return Promise.reject(new ServiceError('ServerException', 'The sandbox registry is not running (the world was not started by the sandbox server).', 500));
  return resolve(region);
}

function secret(world: World): Buffer {
  const state = registryState(world);
  state.registrySecret ??= randomBytes(32).toString('hex');
  return Buffer.from(state.registrySecret, 'hex');
}

function mac(world: World, region: string, expiration: number): string {
  return createHmac('sha256', secret(world)).update(`${region}|${expiration}`).digest('base64');
}

/**
 * A registry password for the region, valid until `expiresAt` (ms). Shaped like ECR's (base64 of a
 * JSON document with payload, version, type and expiration), checked with the sandbox's own key.
 */
export function issuePassword(world: World, region: string, expiresAt: number): string {
  const expiration = Math.floor(expiresAt / 1000);
  const doc = { payload: mac(world, region, expiration), datakey: randomBytes(24).toString('base64'), version: '2', type: 'DATA_KEY', expiration };
  return Buffer.from(JSON.stringify(doc)).toString('base64');
}

/** Whether an Authorization header carries a valid, unexpired token for the region. */
export function checkAuthorization(world: World, region: string, header: string | undefined, now: number): 'ok' | 'missing' | 'expired' | 'invalid' {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return 'missing';
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0 || decoded.slice(0, i) !== 'AWS') return 'invalid';
  let doc: { payload?: unknown; expiration?: unknown };
  try {
    doc = JSON.parse(Buffer.from(decoded.slice(i + 1), 'base64').toString('utf8'));
  } catch {
    return 'invalid';
  }
  if (typeof doc.payload !== 'string' || typeof doc.expiration !== 'number') return 'invalid';
  const want = Buffer.from(mac(world, region, doc.expiration));
  const got = Buffer.from(doc.payload);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return 'invalid';
  return doc.expiration * 1000 <= now ? 'expired' : 'ok';
}
