/**
 * Image references as Docker reads them: [registry/]path[:tag][@digest].
 * The first component is a registry when it has a dot or a colon, or is "localhost"; otherwise the
 * registry is Docker Hub, whose single-component paths live under library/.
 */
export const DOCKER_HUB = 'docker.io';
/** The key Docker Hub credentials have in ~/.docker/config.json. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

export interface ImageReference {
  /** Registry host[:port] as written, or docker.io. */
  registry: string;
  /** Repository path within the registry (library/x for official Hub images). */
  path: string;
  tag?: string;
  digest?: string;
  /** The repository as the user wrote it, without tag or digest (e.g. user/cloudwatchlogs). */
  repository: string;
}

export function parseReference(ref: string): ImageReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split('/')[0]!;
  const hasRegistry = rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : DOCKER_HUB;
  let path = hasRegistry ? rest.slice(first.length + 1) : rest;
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  return { registry, path, tag, digest, repository: rest };
}

/** Host to talk to for the registry's HTTP API. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

/** Loopback registries are plain HTTP, as dockerd treats 127.0.0.0/8 and localhost as insecure. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.split(':')[0]!;
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The hostname part of an auths key: "https://index.docker.io/v1/" -> "index.docker.io". */
export function authKeyHostname(key: string): string {
  let s = key.replace(/^[a-z]+:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  return s;
}

/** The config.json key under which credentials for a registry are stored. */
export function authKeyFor(registry: string): string {
  return registry === DOCKER_HUB || registry === 'index.docker.io' ? DOCKER_HUB_AUTH_KEY : registry;
}
