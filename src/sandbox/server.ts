/**
 * The sandbox HTTP server: one endpoint for every emulated service, routed the way AWS clients sign
 * requests. For each AWS request it
 *
 *   1. reads the SigV4 credential scope (sigv4.ts): the signing name selects the ServiceModule, the scope
 *      gives the region; an unsigned request gets the protocol's real authentication error;
 *   2. finds the operation (X-Amz-Target for JSON, Action for Query/EC2);
 *   3. advances every module's lifecycles to "now" (ServiceModule.tick);
 *   4. throttles a configurable fraction of requests with the protocol's throttling error;
 *   5. calls the handler and serialises its result or ServiceError (protocols/*.ts);
 *   6. logs the call, and saves the world after a successful mutating call when persistence is on.
 *
 * Control endpoints (not AWS) live under /_sandbox/: health, requests, settings, checkip, state.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from './clock.js';
import { DEFAULT_IAM_PROPAGATION_MS, latencyProfile, requestDelay } from './latency.js';
import { ec2Codec } from './protocols/ec2.js';
import { jsonCodec, parseJsonBody, parseTarget } from './protocols/json.js';
import { queryCodec } from './protocols/query.js';
import type { ProtocolCodec, WireResponse } from './protocols/wire.js';
import { defaultServices } from './services/index.js';
import { readSigV4 } from './sigv4.js';
import {
  ServiceError,
  type LatencyProfileName,
  type Protocol,
  type RequestLogEntry,
  type SandboxRequest,
  type SandboxSettings,
  type ServiceModule,
  type World,
} from './types.js';
import { createWorld, loadWorld, saveWorld, type SandboxWorld } from './world.js';
import { attachRegistries, closeRegistries } from './registry/index.js';

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 'none'. */
  latency?: LatencyProfileName;
  /** Fraction (0..1) of AWS requests answered with a throttling error. Default 0. */
  throttleRate?: number;
  /** Cap on every page of paginated operations; 0 (default) = each service's own default. */
  pageSize?: number;
  /** IAM eventual consistency window for instance profiles (ms). Default depends on the latency profile. */
  iamPropagationMs?: number;
  /** Persist the world to this file (loaded at start, written after every mutating request). */
  statePath?: string;
  /** Service modules to serve; default: every module in services/index.ts. */
  services?: ServiceModule[];
  /** Default 123456789012. */
  accountId?: string;
  /** Region assumed where a request gives none. Default us-east-1. */
  defaultRegion?: string;
  /** Time source; inject a ManualClock to drive lifecycles from a test. */
  clock?: Clock;
  /** Seed for the throttling and jitter random numbers (default 1), so runs are repeatable. */
  seed?: number;
}

export interface RunningSandbox {
  /** e.g. http://127.0.0.1:40123 — use as the SDK `endpoint` / awscli --endpoint-url. */
  url: string;
  port: number;
  world: World;
  /** Advance every module's lifecycles to the clock's now (requests do this automatically). */
  tick(): void;
  requestLog(): RequestLogEntry[];
  clearRequestLog(): void;
  close(): Promise<void>;
}

const CODECS: Record<Protocol, ProtocolCodec> = { json: jsonCodec, query: queryCodec, ec2: ec2Codec };
const MAX_LOG_ENTRIES = 10_000;
const SETTINGS_KEYS = ['throttleRate', 'pageSize', 'iamPropagationMs', 'latency', 'capacity', 'notOffered'] as const;

export async function startSandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const sandbox = new Sandbox(opts);
  return sandbox.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
}

/** Where a request is going, once routed. */
interface Route {
  module?: ServiceModule;
  codec: ProtocolCodec;
  operation: string;
  params: Record<string, any>;
  version?: string;
}

class Sandbox {
  readonly modules: ServiceModule[];
  readonly world: SandboxWorld;
  private readonly clock: Clock;
  private readonly statePath?: string;
  private readonly random: () => number;
  private log: RequestLogEntry[] = [];
  private seq = 0;
  private server?: Server;

  constructor(opts: SandboxOptions) {
    this.modules = opts.services ?? defaultServices;
    this.clock = opts.clock ?? systemClock;
    this.statePath = opts.statePath;
    this.random = mulberry32(opts.seed ?? 1);
    const latency = opts.latency ?? 'none';
    const settings: SandboxSettings = {
      latency: latencyProfile(latency),
      throttleRate: opts.throttleRate ?? 0,
      pageSize: opts.pageSize ?? 0,
      iamPropagationMs: opts.iamPropagationMs ?? DEFAULT_IAM_PROPAGATION_MS[latency],
      accountId: opts.accountId ?? '123456789012',
      defaultRegion: opts.defaultRegion ?? 'us-east-1',
    };
    this.world = this.statePath ? loadWorld(this.statePath, settings, this.modules) : createWorld(settings, this.modules);
    // ECR's registry on loopback (registry/): blobs beside the state file, pushes saved like any call.
    const statePath = this.statePath;
    attachRegistries(this.world, {
      dir: statePath ? `${statePath}.registry` : undefined,
      now: () => this.clock.now(),
      save: statePath ? () => saveWorld(this.world, statePath, this.clock.now()) : undefined,
    });
  }

  listen(port: number, host: string): Promise<RunningSandbox> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        console.error('sandbox: unhandled error', err);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal sandbox error\n');
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const address = server.address() as AddressInfo;
        const urlHost = host.includes(':') ? `[${host}]` : host;
        resolve({
          url: `http://${urlHost}:${address.port}`,
          port: address.port,
          world: this.world,
          tick: () => this.tick(this.clock.now()),
          requestLog: () => this.log.slice(),
          clearRequestLog: () => {
            this.log = [];
          },
          close: () => this.close(),
        });
      });
    });
  }

  private async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    if (this.statePath) saveWorld(this.world, this.statePath, this.clock.now());
    await closeRegistries(this.world);
    await new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
  }

  /**
   * Advance every module to `now`. Two rounds, so a module that reads another's state (the ECS agent
   * reads EC2 instances) sees it up to date whatever the order of the module list.
   */
  private tick(now: number): void {
    for (let round = 0; round < 2; round++) {
      for (const m of this.modules) m.tick?.(this.world, now);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const body = await readBody(req);
    if (url.pathname.startsWith('/_sandbox/')) {
      send(res, this.control(req.method ?? 'GET', url.pathname, body));
      return;
    }
    send(res, await this.aws(req, url, body));
  }

  // ---- AWS requests -------------------------------------------------------------------------------

  private async aws(req: IncomingMessage, url: URL, body: string): Promise<WireResponse> {
    const requestId = randomUUID();
    const auth = readSigV4(req.headers, url.searchParams);
    const signingName = auth.kind === 'signed' ? auth.scope.service : undefined;

    let route: Route;
    try {
      route = this.route(req, url, body, signingName);
    } catch (err) {
      // Unparseable body: answer in the style the request was sent in.
      const codec = req.headers['x-amz-target'] ? jsonCodec : queryCodec;
      const error = err instanceof ServiceError ? err : codec.internalError();
      return this.finish(undefined, 'Unknown', false, codec.error(undefined, error, requestId), error, requestId);
    }
    const { module, codec, operation } = route;
    const serviceName = module?.name ?? signingName ?? 'unknown';
    const fail = (error: ServiceError, mutating = false) =>
      this.finish(serviceName, operation, mutating, codec.error(module, error, requestId), error, requestId);

    if (auth.kind === 'missing') return fail(codec.missingAuthentication());
    if (auth.kind === 'incomplete') return fail(codec.incompleteSignature(auth.message));
    if (!module) {
      return fail(new ServiceError('UnrecognizedClientException', `The sandbox does not emulate the "${signingName}" service.`, 400));
    }
    const op = module.operations[operation];
    if (!op) return fail(codec.unknownOperation(operation, route.version));

    const delay = requestDelay(this.world.settings.latency, module.name, operation, this.random);
    if (delay > 0) await sleep(delay);

    const now = this.clock.now();
    this.tick(now);

    if (this.world.settings.throttleRate > 0 && this.random() < this.world.settings.throttleRate) {
      return fail(module.throttling?.() ?? codec.throttling(), op.mutating);
    }

    const sandboxRequest: SandboxRequest = {
      service: module.name,
      operation,
      params: route.params,
      region: auth.scope.region,
      accessKeyId: auth.scope.accessKeyId,
      requestId,
      now,
    };
    let result: unknown;
    try {
      result = await op.handler(sandboxRequest, this.world);
    } catch (err) {
      if (err instanceof ServiceError) return fail(err, op.mutating);
      console.error(`sandbox: ${module.name}:${operation} failed`, err);
      return fail(codec.internalError(), op.mutating);
    }
    if (op.mutating) {
      // Let the world react to the change at the moment it happened (a new service schedules its tasks now).
      this.tick(now);
      if (this.statePath) saveWorld(this.world, this.statePath, now);
    }
    return this.finish(module.name, operation, op.mutating, codec.success(module, operation, result, requestId), undefined, requestId);
  }

  /** Find module, protocol and operation. Routing works without a signature so errors have the right format. */
  private route(req: IncomingMessage, url: URL, body: string, signingName: string | undefined): Route {
    const bySigningName = signingName ? this.modules.find((m) => m.name === signingName) : undefined;
    const target = req.headers['x-amz-target'];

    if (typeof target === 'string') {
      const parsed = parseTarget(target);
      const module =
        bySigningName ?? this.modules.find((m) => m.protocol === 'json' && m.targetPrefix === parsed?.prefix);
      if (module && module.protocol !== 'json') {
        throw new ServiceError('InvalidAction', `${module.name} does not accept JSON (X-Amz-Target) requests.`);
      }
      const operation = parsed && (!module?.targetPrefix || parsed.prefix === module.targetPrefix) ? parsed.operation : target;
      return { module, codec: jsonCodec, operation, params: parseJsonBody(body) };
    }

    // Query / EC2: parameters in the form body and/or the query string.
    const params: Record<string, any> = Object.fromEntries(url.searchParams);
    const contentType = String(req.headers['content-type'] ?? '');
    if (body && (contentType === '' || contentType.includes('x-www-form-urlencoded'))) {
      Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
    }
    for (const k of Object.keys(params)) if (k.startsWith('X-Amz-')) delete params[k];
    const operation = String(params.Action ?? 'Unknown');
    const version = params.Version === undefined ? undefined : String(params.Version);
    delete params.Action;
    delete params.Version;

    const xmlModules = this.modules.filter((m) => m.protocol !== 'json');
    const module =
      bySigningName ??
      xmlModules.find((m) => m.apiVersion !== undefined && m.apiVersion === version) ??
      xmlModules.find((m) => m.operations[operation] !== undefined);
    const protocol: Protocol = module?.protocol === 'ec2' ? 'ec2' : 'query';
    if (module && module.protocol === 'json') {
      throw new ServiceError('UnknownOperationException', `${module.name} expects JSON requests with an X-Amz-Target header.`);
    }
    return { module, codec: CODECS[protocol], operation, params, version };
  }

  private finish(
    service: string | undefined,
    operation: string,
    mutating: boolean,
    response: WireResponse,
    error: ServiceError | undefined,
    requestId: string,
  ): WireResponse {
    this.seq += 1;
    this.log.push({
      seq: this.seq,
      time: new Date(this.clock.now()).toISOString(),
      service: service ?? 'unknown',
      operation,
      mutating,
      status: response.status,
      errorCode: error?.code,
      requestId,
    });
    if (this.log.length > MAX_LOG_ENTRIES) this.log.splice(0, this.log.length - MAX_LOG_ENTRIES);
    return response;
  }

  // ---- Control endpoints ----------------------------------------------------------------------------

  private control(method: string, path: string, body: string): WireResponse {
    const key = `${method} ${path.replace(/\/+$/, '')}`;
    switch (key) {
      case 'GET /_sandbox/health':
        return jsonReply(200, { status: 'ok', services: this.modules.map((m) => m.name) });
      case 'GET /_sandbox/requests':
        return jsonReply(200, { requests: this.log });
      case 'DELETE /_sandbox/requests':
        this.log = [];
        return jsonReply(200, { requests: [] });
      case 'GET /_sandbox/checkip':
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: '127.0.0.1\n' };
      case 'GET /_sandbox/state':
        this.tick(this.clock.now());
        return jsonReply(200, this.world.toFile(this.clock.now()));
      case 'GET /_sandbox/settings':
        return jsonReply(200, this.world.settings);
      case 'POST /_sandbox/settings':
        return this.patchSettings(body);
      default:
        return jsonReply(404, { error: `No sandbox control endpoint ${key}` });
    }
  }

  private patchSettings(body: string): WireResponse {
    let patch: Record<string, unknown>;
    try {
      patch = JSON.parse(body || '{}');
    } catch {
      return jsonReply(400, { error: 'Body must be a JSON object' });
    }
    const settings = this.world.settings;
    for (const [key, value] of Object.entries(patch)) {
      if (!(SETTINGS_KEYS as readonly string[]).includes(key)) {
        return jsonReply(400, { error: `Unknown setting "${key}" (expected one of ${SETTINGS_KEYS.join(', ')})` });
      }
      if (key === 'latency') {
        if (value !== 'none' && value !== 'fast' && value !== 'realistic') {
          return jsonReply(400, { error: 'latency must be none, fast or realistic' });
        }
        settings.latency = latencyProfile(value);
        continue;
      }
      if (key === 'capacity' || key === 'notOffered') {
        // { "us-east-1a": 0 } / { "us-east-1a": ["t3.*"] }; null clears the setting.
        const ok =
          value === null ||
          (typeof value === 'object' &&
            !Array.isArray(value) &&
            Object.values(value as object).every((x) => (key === 'capacity' ? typeof x === 'number' && x >= 0 : Array.isArray(x) && x.every((t) => typeof t === 'string'))));
        if (!ok) return jsonReply(400, { error: key === 'capacity' ? 'capacity must map zone names to non-negative numbers' : 'notOffered must map zone names to lists of instance type patterns' });
        if (value === null) delete settings[key];
        else (settings as unknown as Record<string, unknown>)[key] = value;
        continue;
      }
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        return jsonReply(400, { error: `${key} must be a non-negative number` });
      }
      if (key === 'throttleRate' && value > 1) return jsonReply(400, { error: 'throttleRate must be between 0 and 1' });
      (settings as unknown as Record<string, number>)[key] = value;
    }
    return jsonReply(200, settings);
  }
}

function jsonReply(status: number, value: unknown): WireResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) + '\n' };
}

function send(res: ServerResponse, r: WireResponse): void {
  res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
  res.end(r.body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Small seeded PRNG (mulberry32): throttling and jitter are random-looking but repeatable. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
