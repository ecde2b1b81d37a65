/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY for the SDK clients, as the AWS CLI reads them (botocore with
 * urllib3): an https:// endpoint goes through HTTPS_PROXY (a CONNECT tunnel), an http:// endpoint
 * (the sandbox, a local emulator) through HTTP_PROXY as a forwarding proxy, and a host that NO_PROXY
 * covers goes direct. Lower-case names are honoured too; upper case wins. Nothing is proxied when
 * none is set, and the agent then is Node's plain one.
 */
import type { Agent as HttpAgent, ClientRequest } from 'node:http';
import { Agent as HttpsAgentClass, type Agent as HttpsAgent } from 'node:https';
import { Agent as PlainHttpAgent } from 'node:http';
import { Agent as AgentBase, type AgentConnectOpts } from 'agent-base';

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

/**
 * One agent for one scheme that decides per request: direct, or through the proxy the environment
 * names for that host. Proxy agents are kept per proxy URL, so connections are reused.
 */
class EnvProxyAgent extends AgentBase {
  private readonly direct: HttpAgent | HttpsAgent;
  private readonly viaProxy = new Map<string, HttpAgent>();

  constructor(
    private readonly secure: boolean,
    private readonly env: Env,
  ) {
    super({ keepAlive: true });
    this.direct = secure ? new HttpsAgentClass({ keepAlive: true }) : new PlainHttpAgent({ keepAlive: true });
  }

  override async connect(_req: ClientRequest, opts: AgentConnectOpts): Promise<HttpAgent> {
    const host = opts.host ?? 'localhost';
    const url = new URL(`${this.secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${opts.port}`);
    const proxy = proxyFor(url, this.env);
    if (!proxy) return this.direct;
    let agent = this.viaProxy.get(proxy);
    if (!agent) {
      if (this.secure) {
        const { HttpsProxyAgent } = await import('https-proxy-agent');
        agent = new HttpsProxyAgent(proxy, { keepAlive: true }) as unknown as HttpAgent;
      } else {
        const { HttpProxyAgent } = await import('http-proxy-agent');
        agent = new HttpProxyAgent(proxy, { keepAlive: true }) as unknown as HttpAgent;
      }
      this.viaProxy.set(proxy, agent);
    }
    return agent;
  }
}

export interface ProxyAgents {
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
}

/** Agents for the SDK's NodeHttpHandler that follow the environment's proxy settings. */
export function proxyAgents(env: Env = process.env): ProxyAgents {
  return { httpAgent: new EnvProxyAgent(false, env), httpsAgent: new EnvProxyAgent(true, env) as unknown as HttpsAgent };
}
