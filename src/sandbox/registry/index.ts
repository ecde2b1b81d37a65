/**
 * The sandbox's ECR registry, on loopback: the Docker Registry HTTP API v2 that `docker push` and
 * `docker pull` speak, one listener per region on 127.0.0.1 (AWS gives each region its own registry
 * host, <account>.dkr.ecr.<region>.amazonaws.com; here each region gets its own port). ECR's
 * repositoryUri and GetAuthorizationToken's proxyEndpoint name it, so a rehearsal pushes its image to
 * this machine and never resolves an AWS host. dockerd treats 127.0.0.0/8 as an insecure registry
 * by default, so it speaks plain HTTP to it with no daemon configuration.
 *
 * What ECR does and this follows (Amazon ECR User Guide, "Private registry authentication"; the
 * AuthorizationData reference; the Docker Registry HTTP API v2 reference):
 *   - the token from GetAuthorizationToken decodes to AWS:<password>, valid 12 hours, for the
 *     region's registry; every registry request without it answers 401 with a Basic challenge;
 *   - a push to a repository that does not exist fails with NAME_UNKNOWN (ECR never creates one);
 *   - a manifest whose layers or config were not uploaded fails with MANIFEST_BLOB_UNKNOWN;
 *   - a pushed manifest is the repository's image (DescribeImages lists it; an IMMUTABLE repository
 *     refuses to move a tag: TAG_INVALID).
 * Simpler than ECR: blobs are stored once for the whole sandbox, not per repository.
 *
 * The port of each region is kept in the ECR state, so repository URIs stay the same across sandbox
 * restarts (a different port is taken, and recorded, only when the old one is busy).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { World } from '../types.js';
import { diskStore, memoryStore, type BlobStore } from './store.js';
import { handleRegistryRequest } from './wire.js';
import { registryState, setRegistryResolver } from './tokens.js';

export interface RegistryOptions {
  /** Blob directory; memory when absent. */
  dir?: string;
  /** The sandbox clock (token expiry, push times). */
  now: () => number;
  /** Persist the world after a push (the sandbox's own save). */
  save?: () => void;
}

interface Hub {
  opts: RegistryOptions;
  store: BlobStore;
  servers: Map<string, Server>;
  hosts: Map<string, Promise<string>>;
}

const hubs = new WeakMap<World, Hub>();

/** Gives the world its registries (called by the sandbox server when it starts). */
export function attachRegistries(world: World, opts: RegistryOptions): void {
  hubs.set(world, { opts, store: opts.dir ? diskStore(opts.dir) : memoryStore(), servers: new Map(), hosts: new Map() });
  // ECR's handlers reach the listeners through tokens.ts (no import of this file: no cycle).
  setRegistryResolver(world, (region) => registryHost(world, region));
}

/** Stops the world's registry listeners. */
export async function closeRegistries(world: World): Promise<void> {
  const hub = hubs.get(world);
  if (!hub) return;
  const servers = [...hub.servers.values()];
  hub.servers.clear();
  hub.hosts.clear();
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
}

function hubOf(world: World): Hub {
  let hub = hubs.get(world);
  if (!hub) {
    // A world used without the sandbox server (a handler under test): memory, the system clock.
    attachRegistries(world, { now: () => Date.now() });
    hub = hubs.get(world)!;
  }
  return hub;
}

/** `127.0.0.1:<port>`, the registry host of a region (its listener starts on first use). */
export function registryHost(world: World, region: string): Promise<string> {
  const hub = hubOf(world);
  let host = hub.hosts.get(region);
  if (!host) {
    host = listen(world, hub, region);
    hub.hosts.set(region, host);
    host.catch(() => hub.hosts.delete(region));
  }
  return host;
}

async function listen(world: World, hub: Hub, region: string): Promise<string> {
  const state = registryState(world);
  const remembered = state.registryPorts?.[region];
  const server = createServer((req, res) => {
    handleRegistryRequest(req, res, { world, region, store: hub.store, now: hub.opts.now, save: hub.opts.save, host: hostOf(server) }).catch((err) => {
      console.error('sandbox registry: unhandled error', err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'internal sandbox registry error' }] }));
    });
  });
  const bind = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  let port: number;
  try {
    port = await bind(remembered ?? 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || remembered === undefined) throw e;
    port = await bind(0);
  }
  // The sandbox's own server keeps its process alive; a registry alone never does.
  server.unref();
  hub.servers.set(region, server);
  state.registryPorts = { ...(state.registryPorts ?? {}), [region]: port };
  return `127.0.0.1:${port}`;
}

function hostOf(server: Server): string {
  const a = server.address() as AddressInfo | null;
  return a ? `127.0.0.1:${a.port}` : '127.0.0.1';
}
