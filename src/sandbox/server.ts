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
 *
 * Before any of that, a request must be for this server (Host 127.0.0.1:<port> or localhost:<port>,
 * [::1]:<port> when it listens there: a DNS-rebound name is refused), must not come from a web page
 * (no Origin header: browsers add one to every cross-site request, and no AWS client sends one), must
 * not be larger than BODY_CAP, and, unless the sandbox was started with credentials 'none', must carry
 * a valid SigV4 signature made with the sandbox's secret (control endpoints too, but checkip).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from './clock.js';
import { DEFAULT_IAM_PROPAGATION_MS, DEFAULT_TAGGING_LAG_MS, latencyProfile, requestDelay } from './latency.js';
import { ec2Codec } from './protocols/ec2.js';
import { jsonCodec, parseJsonBody, parseTarget } from './protocols/json.js';
import { queryCodec } from './protocols/query.js';
import { accessDenied, type ProtocolCodec, type WireResponse } from './protocols/wire.js';
import { defaultServices } from './services/index.js';
import { readSigV4, verifySigV4, type SigningCredentials, type SigV4Failure } from './sigv4.js';
import {
  ServiceError,
  StreamingResult,
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
import { controlEndpoint, jsonReply } from './control.js';

export { inUse } from './control.js';

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
  /** How far behind the Tagging API's listing is (ms). Default depends on the latency profile. */
  taggingLagMs?: number;
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
  /**
   * Who may call: the access key(s) whose SigV4 signatures are accepted, or 'none' to serve anyone
   * who can reach the port (for other tools' tests only: `ecs-cwlogs sandbox --no-auth`).
   */
  credentials: SigningCredentials | SigningCredentials[] | 'none';
  /**
   * Seed of the ids the sandbox makes (instance ids, task ARNs, ...), kept in the state file. Default:
   * the state file's, or a new random one, so two sandboxes never make the same ids.
   */
  idSeed?: string;
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
/**
 * The largest request body served. The largest legitimate AWS requests: ECR UploadLayerPart's
 * layerPartBlob (base64, at most 20,971,520 characters: ECR API reference, UploadLayerPart) and
 * PutLogEvents (1,048,576 bytes of events, up to 6x once JSON-escaped). Docker's registry traffic does
 * not go through this server (the sandbox's ECR has no registry behind it).
 */
export const BODY_CAP = 32 * 1024 * 1024;
/** Control endpoints take small JSON documents. */
const CONTROL_BODY_CAP = 64 * 1024;

export async function startSandbox(opts: SandboxOptions): Promise<RunningSandbox> {
  const sandbox = new Sandbox(opts);
  return sandbox.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
}

/** Where a request is going, once routed. */
interface Route {
  module?: ServiceModule;
  codec: ProtocolCodec;
  operation: string;
  params: SandboxRequest['params'];
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
  /** Secret by access key id; undefined = no authentication (credentials 'none'). */
  private readonly secrets?: Map<string, string>;
  private allowedHosts = new Set<string>();

  constructor(opts: SandboxOptions) {
    if (opts.credentials === undefined) throw new Error("startSandbox: pass credentials (the callers' key), or 'none' for an open test endpoint");
    if (opts.credentials !== 'none') {
      const list = Array.isArray(opts.credentials) ? opts.credentials : [opts.credentials];
      if (list.length === 0 || list.some((c) => !c.accessKeyId || !c.secretAccessKey)) throw new Error('startSandbox: every credential needs an accessKeyId and a secretAccessKey');
      this.secrets = new Map(list.map((c) => [c.accessKeyId, c.secretAccessKey]));
    }
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
      taggingLagMs: opts.taggingLagMs ?? DEFAULT_TAGGING_LAG_MS[latency],
      accountId: opts.accountId ?? '123456789012',
      defaultRegion: opts.defaultRegion ?? 'us-east-1',
    };
    this.world = this.statePath ? loadWorld(this.statePath, settings, this.modules, opts.idSeed) : createWorld(settings, this.modules, opts.idSeed);
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
        this.allowedHosts = new Set([`127.0.0.1:${address.port}`, `localhost:${address.port}`]);
        if (host === '::1' || host === '::') this.allowedHosts.add(`[::1]:${address.port}`);
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
    const refused = this.refusal(req);
    if (refused) {
      send(res, refused, true);
      req.resume();
      return;
    }
    const control = url.pathname.startsWith('/_sandbox/');
    const body = await readBody(req, control ? CONTROL_BODY_CAP : BODY_CAP);
    if (body === undefined) {
      send(res, jsonReply(413, { error: `The request body is larger than ${control ? CONTROL_BODY_CAP : BODY_CAP} bytes.` }), true);
      return;
    }
    if (control) {
      const method = req.method ?? 'GET';
      const open = method === 'GET' && url.pathname.replace(/\/+$/, '') === '/_sandbox/checkip';
      const denied = open ? undefined : this.authenticate(req, url, body);
      if (denied) {
        send(res, jsonReply(403, { error: `The sandbox's control endpoints need a request signed with the sandbox's credentials (${denied}).` }));
        return;
      }
      send(res, this.control(method, url.pathname, body.toString('utf8')));
      return;
    }
    const reply = await this.aws(req, url, body);
    if (reply.stream) await this.stream(res, reply, reply.stream);
    else send(res, reply);
  }

  /** A streaming response: headers now, then whatever the operation writes until it ends or the client leaves. */
  private async stream(res: ServerResponse, head: WireResponse, body: StreamingResult): Promise<void> {
    res.writeHead(head.status, head.headers);
    const closed = new AbortController();
    res.on('close', () => closed.abort());
    try {
      await body.run({ write: (chunk) => void (closed.signal.aborted || res.write(chunk)), closed: closed.signal, now: () => this.clock.now() });
    } finally {
      res.end();
    }
  }

  /**
   * A request that is not for this server, or that a web page sent: refused before its body is read.
   * Host: a page on a DNS-rebound name (attacker.example resolving to 127.0.0.1) sends its own name.
   * Origin: browsers send it with every cross-origin request (and every POST); AWS clients never do.
   */
  private refusal(req: IncomingMessage): WireResponse | undefined {
    const host = String(req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts.has(host)) {
      return jsonReply(403, { error: `The sandbox serves only Host ${[...this.allowedHosts].join(', ')}; this request was for "${host.slice(0, 100)}".` });
    }
    if (req.headers.origin !== undefined) {
      return jsonReply(403, { error: 'The sandbox does not serve requests from web pages (the request has an Origin header).' });
    }
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > BODY_CAP) return jsonReply(413, { error: `The request body is larger than ${BODY_CAP} bytes.` });
    return undefined;
  }

  /** Why a control request is not authenticated, or undefined when it is (or no authentication is on). */
  private authenticate(req: IncomingMessage, url: URL, body: Buffer): string | undefined {
    if (!this.secrets) return undefined;
    const auth = readSigV4(req.headers, url.searchParams);
    if (auth.kind === 'missing') return 'it is not signed';
    if (auth.kind === 'incomplete') return auth.message;
    const failure = this.verify(req, body, auth.scope);
    return failure && (failure.kind === 'unknown-key' ? 'unknown access key id' : failure.kind === 'mismatch' ? 'the signature does not match' : failure.message);
  }

  private verify(req: IncomingMessage, body: Buffer, scope: Parameters<typeof verifySigV4>[0]['scope']): SigV4Failure | undefined {
    if (!this.secrets) return undefined;
    const secrets = this.secrets;
    return verifySigV4({ method: req.method ?? 'GET', rawUrl: req.url ?? '/', headers: req.headers, body, scope, secretFor: (id) => secrets.get(id), now: Date.now() });
  }

  // ---- AWS requests -------------------------------------------------------------------------------

  private async aws(req: IncomingMessage, url: URL, raw: Buffer): Promise<WireResponse> {
    const requestId = randomUUID();
    const body = raw.toString('utf8');
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
    const failure = this.verify(req, raw, auth.scope);
    if (failure) {
      if (failure.kind === 'unknown-key') return fail(codec.invalidClientToken());
      if (failure.kind === 'mismatch') return fail(codec.signatureMismatch());
      if (failure.kind === 'expired') return fail(codec.signatureExpired(failure.message));
      return fail(codec.incompleteSignature(failure.message));
    }
    if (!module) {
      return fail(new ServiceError('UnrecognizedClientException', `The sandbox does not emulate the "${signingName}" service.`, 400));
    }
    const op = module.operations[operation];
    if (!op) return fail(codec.unknownOperation(operation, route.version));
    if (this.world.settings.deny?.includes(`${module.name}:${operation}`)) return fail(accessDenied(module, operation, this.world.settings.accountId));

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
      protocol: route.codec === jsonCodec ? 'json' : route.codec === ec2Codec ? 'ec2' : 'query',
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
    if (result instanceof StreamingResult) {
      const head: WireResponse = { status: 200, headers: { 'content-type': result.contentType, 'x-amzn-requestid': requestId }, body: '', stream: result };
      return this.finish(module.name, operation, op.mutating, head, undefined, requestId);
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
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    const contentType = String(req.headers['content-type'] ?? '');
    if (body && (contentType === '' || contentType.includes('x-www-form-urlencoded'))) {
      Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
    }
    for (const k of Object.keys(params)) if (k.startsWith('X-Amz-')) delete params[k];
    const operation = String(params.Action ?? 'Unknown');
    const version = params.Version === undefined ? undefined : String(params.Version);
    delete params.Action;
    delete params.Version;

    const xmlModules = this.modules.filter((m) => m.protocol !== 'json' || m.queryCompatible);
    const module =
      bySigningName ??
      xmlModules.find((m) => m.apiVersion !== undefined && m.apiVersion === version) ??
      xmlModules.find((m) => m.operations[operation] !== undefined);
    const protocol: Protocol = module?.protocol === 'ec2' ? 'ec2' : 'query';
    if (module && module.protocol === 'json' && !module.queryCompatible) {
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

  private control(method: string, path: string, body: string): WireResponse {
    return controlEndpoint(
      {
        world: this.world,
        modules: this.modules,
        log: () => this.log,
        clearLog: () => {
          this.log = [];
        },
        tick: () => this.tick(this.clock.now()),
        now: () => this.clock.now(),
      },
      method,
      path,
      body,
    );
  }
}

function send(res: ServerResponse, r: WireResponse, close = false): void {
  res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body), ...(close ? { connection: 'close' } : {}) });
  res.end(r.body);
}

/** The body, or undefined once it passes `cap` bytes (the rest is not read). */
function readBody(req: IncomingMessage, cap: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > cap) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
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
