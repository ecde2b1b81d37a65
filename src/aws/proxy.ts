/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY for the SDK clients, as the AWS CLI reads them (botocore with
 * urllib3): an https:// endpoint goes through HTTPS_PROXY (a CONNECT tunnel), an http:// endpoint
 * (the sandbox, a local emulator) through HTTP_PROXY as a forwarding proxy, and a host that NO_PROXY
 * covers goes direct. Lower-case names are honoured too; upper case wins. When none is set the
 * clients keep the SDK's default HTTP handler.
 */

type Env = NodeJS.ProcessEnv;

function envVar(env: Env, name: string): string | undefined {
  const v = env[name.toUpperCase()] ?? env[name.toLowerCase()];
  return v?.trim() || undefined;
}

/** The proxy URL for a request to `url`, or undefined to go direct. */
export function proxyFor(url: string | URL, env: Env = process.env): string | undefined {
  const u = typeof url === 'string' ? new URL(url) : url;
  const proxy = u.protocol === 'https:' ? envVar(env, 'https_proxy') : u.protocol === 'http:' ? envVar(env, 'http_proxy') : undefined;
  if (!proxy) return undefined;
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  if (noProxyCovers(u.hostname, port, envVar(env, 'no_proxy'))) return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
}

/**
 * NO_PROXY as curl and urllib read it: comma- (or space-) separated host names, domain suffixes
 * (`.example.com` or `example.com` both cover sub.example.com), IP addresses, optional `:port`, and
 * `*` for everything.
 */
export function noProxyCovers(hostname: string, port: string, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: string | undefined;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (m) {
      entry = m[1]!;
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, '').replace(/^\*?\./, '.');
    if (entryPort && entryPort !== port) continue;
    const bare = entry.startsWith('.') ? entry.slice(1) : entry;
    if (host === bare || host.endsWith(`.${bare}`)) return true;
  }
  return false;
}

/** Proxies in the environment at all? (When not, the SDK keeps its own default agents.) */
export function proxyConfigured(env: Env = process.env): boolean {
  return Boolean(envVar(env, 'https_proxy') || envVar(env, 'http_proxy'));
}

interface HandlerLike {
  handle(request: { protocol?: string; hostname?: string; port?: number }, options?: unknown): Promise<unknown>;
  updateHttpClientConfig?(key: never, value: never): void;
  httpHandlerConfigs?(): unknown;
  destroy?(): void;
}

/**
 * The SDK's HTTP handler for a run with proxies in the environment: it picks, per request, the
 * SDK's own NodeHttpHandler going direct or one whose agents go through the proxy that
 * HTTPS_PROXY/HTTP_PROXY name for that request's scheme (NO_PROXY decides per host). One handler
 * per proxy, so connections are pooled as usual.
 */
export async function proxyRequestHandler(env: Env = process.env): Promise<HandlerLike> {
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  const direct = new NodeHttpHandler();
  const via = new Map<string, Promise<InstanceType<typeof NodeHttpHandler>>>();
  const viaProxy = (proxy: string) => {
    let h = via.get(proxy);
    if (!h) {
      h = (async () => {
        const [{ HttpsProxyAgent }, { HttpProxyAgent }] = await Promise.all([import('https-proxy-agent'), import('http-proxy-agent')]);
        return new NodeHttpHandler({ httpAgent: new HttpProxyAgent(proxy, { keepAlive: true }), httpsAgent: new HttpsProxyAgent(proxy, { keepAlive: true }) });
      })();
      via.set(proxy, h);
    }
    return h;
  };
  return {
    async handle(request, options) {
      const host = request.hostname ?? 'localhost';
      const origin = `${request.protocol ?? 'https:'}//${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}${request.port ? `:${request.port}` : ''}`;
      const proxy = proxyFor(origin, env);
      const handler = proxy ? await viaProxy(proxy) : direct;
      return handler.handle(request as never, options as never);
    },
    updateHttpClientConfig(key, value) {
      direct.updateHttpClientConfig(key, value);
      for (const h of via.values()) void h.then((x) => x.updateHttpClientConfig(key, value));
    },
    httpHandlerConfigs: () => direct.httpHandlerConfigs(),
    destroy() {
      direct.destroy();
      for (const h of via.values()) void h.then((x) => x.destroy());
    },
  };
}
