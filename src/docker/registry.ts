/**
 * Is a tag published? One HEAD on the registry's HTTP API v2 (/v2/<path>/manifests/<tag>), with the
 * auth the registry asks for (Basic, or a Bearer token from its realm): the same question the AWS
 * CDK CLI's isPublished asks before building and pushing. The registry is the truth, not a local note.
 */
import { DockerError } from '../core/errors.js';
import type { RegistryCredentials } from './auth.js';
import { isLoopbackRegistry, parseReference, registryApiHost } from './reference.js';

/** The manifest media types a registry may answer with, as an Accept header. */
export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export type Fetch = typeof fetch;

export interface ManifestCheckOptions {
  fetch?: Fetch;
  signal?: AbortSignal;
}

/** The digest of <repo>:<tag> in its registry, or undefined when the registry doesn't have it. */
export async function manifestDigest(ref: string, creds: RegistryCredentials | undefined, opts: ManifestCheckOptions = {}): Promise<string | undefined> {
  const r = parseReference(ref);
  const host = registryApiHost(r.registry);
  const scheme = isLoopbackRegistry(r.registry) ? 'http' : 'https';
  const url = `${scheme}://${host}/v2/${r.path}/manifests/${r.digest ?? r.tag ?? 'latest'}`;
  const f = opts.fetch ?? fetch;
  const head = (authorization?: string) =>
    f(url, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES, ...(authorization ? { Authorization: authorization } : {}) }, signal: opts.signal }).catch((e: unknown) => {
      throw new DockerError({
        what: `Cannot reach the registry ${r.registry}`,
        why: `${url}: ${causeText(e)}`,
        fix: 'Check the --repo host and your network.',
        cause: e,
      });
    });
  let res = await head();
  if (res.status === 401) {
    const challenge = res.headers.get('www-authenticate') ?? '';
    const authorization = await answerChallenge(challenge, r.path, creds, f, opts.signal, r.registry);
    if (authorization) res = await head(authorization);
  }
  if (res.status === 200) {
    const digest = res.headers.get('docker-content-digest');
    if (digest) return digest;
    // Some registries leave the header off a HEAD; a GET always carries the manifest to hash.
    return undefined;
  }
  if (res.status === 404) return undefined;
  if (res.status === 401 && creds) {
    throw new DockerError({
      what: `The registry ${r.registry} refused the credentials`,
      why: `${creds.source}: HTTP 401`,
      fix: `Check the user and password or token, or log in again (\`docker login ${r.registry}\`).`,
    });
  }
  if (res.status === 401 || res.status === 403) {
    // ECR answers a missing repository with 404 when authenticated; a 401/403 here is about access.
    throw new DockerError({
      what: `The registry ${r.registry} refused to show ${r.repository}`,
      why: `HTTP ${res.status}${creds ? ` with ${creds.source}` : ' without credentials'}`,
      fix: creds ? 'Check that these credentials may read and push this repository.' : `Log in first (\`docker login ${r.registry}\`), or pass --username with --password-stdin.`,
    });
  }
  throw new DockerError({ what: `Unexpected answer from the registry ${r.registry}`, why: `HEAD ${url}: HTTP ${res.status}` });
}

function causeText(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message ?? (e as Error).message ?? String(e);
}

/**
 * Where a Bearer challenge sends for a token, checked before the user's credentials go there: over
 * HTTPS to any host (Docker Hub's realm is auth.docker.io, ECR's is the registry itself), or over
 * plain HTTP only to the registry's own host (a loopback registry and its token server). A realm
 * elsewhere over HTTP, or not HTTP at all, would carry the credentials (and the token) in clear to
 * whoever the registry named: refused (issue 19, item 4).
 */
export function tokenRealm(realm: string, registry: string): URL {
  let u: URL;
  try {
    u = new URL(realm);
  } catch {
    throw new DockerError({ what: `The registry ${registry} names a token server that is not a URL`, why: `its Bearer challenge's realm is ${JSON.stringify(realm)}`, fix: 'Check the registry host (--repo), or the registry\'s configuration.' });
  }
  const own = hostnameOf(registryApiHost(registry));
  if (u.protocol === 'https:' || (u.protocol === 'http:' && u.hostname.replace(/^\[|\]$/g, '').toLowerCase() === own)) return u;
  throw new DockerError({
    what: `Refusing to send credentials for the registry ${registry} to ${u.origin}`,
    why: `its Bearer challenge names that token server, ${u.protocol === 'http:' ? 'over plain HTTP on another host than the registry' : `over ${u.protocol.replace(/:$/, '')}, not HTTPS`}: the credentials and the token would cross the network in clear`,
    fix: 'Use a registry whose token server is on HTTPS (every hosted registry), or serve the token from the registry\'s own host.',
  });
}

function hostnameOf(host: string): string {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.split(':')[0]!;
  return h.toLowerCase();
}

/** Parse `Bearer realm="...",service="...",scope="..."` (or Basic). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  const re = /(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

async function answerChallenge(
  header: string,
  path: string,
  creds: RegistryCredentials | undefined,
  f: Fetch,
  signal: AbortSignal | undefined,
  registry: string,
): Promise<string | undefined> {
  const { scheme, params } = parseChallenge(header);
  const basic = creds?.username !== undefined && creds.password !== undefined ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
  if (scheme === 'basic') return basic;
  if (scheme !== 'bearer' || !params.realm) return undefined;
  const u = tokenRealm(params.realm, registry);
  if (params.service) u.searchParams.set('service', params.service);
  u.searchParams.set('scope', params.scope ?? `repository:${path}:pull`);
  let res: Response;
  try {
    if (creds?.identityToken) {
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, service: params.service ?? '', scope: u.searchParams.get('scope') ?? '', client_id: 'ecs-cwlogs' });
      res = await f(tokenRealm(params.realm, registry), { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, signal });
    } else {
      res = await f(u, { headers: basic ? { Authorization: basic } : {}, signal });
    }
  } catch (e) {
    throw new DockerError({ what: `Cannot get a token from the registry ${registry}`, why: `${u.origin}: ${causeText(e)}`, cause: e });
  }
  if (res.status === 401 || res.status === 403) {
    throw new DockerError({
      what: `The registry ${registry} refused the credentials`,
      why: creds ? `${creds.source}: HTTP ${res.status}` : `no credentials: HTTP ${res.status}`,
      fix: creds ? `Log in again (\`docker login ${registry}\`), or pass --username with --password-stdin.` : `Log in first (\`docker login ${registry}\`), or pass --username with --password-stdin.`,
    });
  }
  if (!res.ok) throw new DockerError({ what: `The registry ${registry} did not give a token`, why: `HTTP ${res.status}` });
  const j = (await res.json()) as { token?: string; access_token?: string };
  const token = j.token ?? j.access_token;
  return token ? `Bearer ${token}` : undefined;
}
