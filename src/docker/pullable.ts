/**
 * Can the instance pull an image without credentials? The task definition has no
 * repositoryCredentials, so the ECS agent pulls anonymously from any registry but the account's own
 * ECR (which the instance role's AmazonEC2ContainerServiceforEC2Role may read). This asks the
 * registry the same question, with no credentials: the registry HTTP API v2 manifest HEAD, and the
 * anonymous token flow when the registry answers 401 with a Bearer challenge.
 *
 *   pullable  the manifest (or a 404 for a tag not pushed yet: the repository itself is readable)
 *   private   401/403 without credentials, a Basic challenge, or a token endpoint that refuses
 *   unknown   the registry cannot be reached from here (DNS, refused, timeout) or answers oddly:
 *             the caller warns and goes on
 *   skipped   a rehearsal (--sandbox): no registry outside this machine is asked
 *
 * In a rehearsal an image on this machine's Docker engine is what the instance would run (with
 * --local it is), so it counts as pullable without asking its registry.
 */
import { MANIFEST_TYPES, parseChallenge, type Fetch } from './registry.js';
import { isLoopbackRegistry, parseReference, registryApiHost } from './reference.js';

export type PullStatus = 'pullable' | 'private' | 'unknown' | 'skipped';

export interface PullCheck {
  ref: string;
  registry: string;
  status: PullStatus;
  /** What the registry said, for messages. */
  why: string;
}

export interface PullCheckOptions {
  fetch?: Fetch;
  signal?: AbortSignal;
  /** Per request (default 5 s): an unreachable registry must not hold the plan up. */
  timeoutMs?: number;
  /** A rehearsal: ask no registry but a loopback one. */
  rehearsal?: boolean;
  /** Whether the local Docker engine has the image (asked first in a rehearsal). */
  localImage?: (ref: string) => Promise<boolean>;
}

/** The account's own ECR: `<account>.dkr.ecr.<region>.amazonaws.com[.cn]`. */
export function ecrAccountOf(registry: string): string | undefined {
  return /^(\d{12})\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$/.exec(registry)?.[1];
}

export async function anonymousPull(ref: string, opts: PullCheckOptions = {}): Promise<PullCheck> {
  const r = parseReference(ref);
  const f = opts.fetch ?? fetch;
  const scheme = isLoopbackRegistry(r.registry) ? 'http' : 'https';
  const url = `${scheme}://${registryApiHost(r.registry)}/v2/${r.path}/manifests/${r.digest ?? r.tag ?? 'latest'}`;
  const signal = () => {
    const t = AbortSignal.timeout(opts.timeoutMs ?? 5000);
    return opts.signal ? AbortSignal.any([opts.signal, t]) : t;
  };
  const out = (status: PullStatus, why: string): PullCheck => ({ ref, registry: r.registry, status, why });
  if (opts.rehearsal) {
    if (await opts.localImage?.(ref).catch(() => false)) return out('pullable', 'it is on this machine\'s Docker engine');
    if (!isLoopbackRegistry(r.registry)) return out('skipped', `a rehearsal asks no registry outside this machine (${r.registry} was not asked)`);
  }
  const head = async (authorization?: string) =>
    f(url, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES, ...(authorization ? { Authorization: authorization } : {}) }, signal: signal() });

  let res: Response;
  try {
    res = await head();
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    return out('unknown', `${r.registry} cannot be reached from here (${causeText(e)})`);
  }
  if (res.status === 401) {
    const { scheme: authScheme, params } = parseChallenge(res.headers.get('www-authenticate') ?? '');
    if (authScheme !== 'bearer' || !params.realm) return out('private', `${r.registry} asks for credentials (HTTP 401, ${authScheme || 'no'} challenge)`);
    let token: string | undefined;
    try {
      const u = new URL(params.realm);
      if (params.service) u.searchParams.set('service', params.service);
      u.searchParams.set('scope', params.scope ?? `repository:${r.path}:pull`);
      const t = await f(u, { signal: signal() });
      if (t.status === 401 || t.status === 403) return out('private', `${r.registry} gives no anonymous token (HTTP ${t.status})`);
      if (!t.ok) return out('unknown', `${r.registry}'s token endpoint answered HTTP ${t.status}`);
      const j = (await t.json()) as { token?: string; access_token?: string };
      token = j.token ?? j.access_token;
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      return out('unknown', `${r.registry}'s token endpoint cannot be reached from here (${causeText(e)})`);
    }
    if (!token) return out('private', `${r.registry} gives no anonymous token`);
    try {
      res = await head(`Bearer ${token}`);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      return out('unknown', `${r.registry} cannot be reached from here (${causeText(e)})`);
    }
  }
  if (res.status === 200) return out('pullable', `${r.registry} serves ${r.repository} anonymously`);
  if (res.status === 404) return out('pullable', `${r.registry} lets anyone read ${r.repository} (this tag is not there yet)`);
  if (res.status === 401 || res.status === 403) return out('private', `${r.registry} refuses an anonymous pull of ${r.repository} (HTTP ${res.status})`);
  return out('unknown', `${r.registry} answered HTTP ${res.status}`);
}

function causeText(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message ?? (e as Error).name ?? String(e);
}
