/**
 * The narrow Docker interface the image step needs, and its dockerode implementation.
 *
 * The daemon is found the way the docker CLI finds it: DOCKER_HOST (unix://, tcp:// with
 * DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, npipe://), else the usual sockets (/var/run/docker.sock,
 * rootless $XDG_RUNTIME_DIR/docker.sock, Docker Desktop's ~/.docker/run/docker.sock).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DockerError, InterruptedError } from '../core/errors.js';
import { dockerAuthConfig, type RegistryCredentials } from './auth.js';
import { packContext, type BuildContext } from './build-context.js';
import { manifestDigest, type Fetch } from './registry.js';
import { parseReference } from './reference.js';

export interface ImageInfo {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  architecture?: string;
  os?: string;
  size?: number;
}

export interface BuildRequest {
  context: BuildContext;
  /** Full reference to tag the result with, e.g. user/cloudwatchlogs:0123abcd. */
  tag: string;
  buildArgs: Readonly<Record<string, string>>;
  platform?: string;
  /** Every line of build output, as Docker prints it. */
  onOutput?: (line: string) => void;
  signal?: AbortSignal;
}

export interface PushRequest {
  /** repo:tag, present locally. */
  ref: string;
  credentials?: RegistryCredentials;
  onOutput?: (line: string) => void;
  signal?: AbortSignal;
}

export interface DockerEngine {
  /** Where the daemon is (for messages). */
  readonly endpoint: string;
  /** Throws a DockerError saying how to start Docker when the daemon does not answer. */
  ping(): Promise<void>;
  inspectImage(ref: string): Promise<ImageInfo | undefined>;
  /** repo:tag of every image on the host, newest first (for hints naming what the user has). */
  listImages?(): Promise<string[]>;
  build(req: BuildRequest): Promise<{ imageId: string }>;
  tag(source: string, target: string): Promise<void>;
  /** Pushes repo:tag; resolves with the manifest digest the registry reported. */
  push(req: PushRequest): Promise<{ digest: string }>;
  /** The digest of repo:tag in its registry (HTTP API v2), or undefined when it isn't there. */
  remoteDigest(ref: string, credentials?: RegistryCredentials, signal?: AbortSignal): Promise<string | undefined>;
}

export interface DockerodeEngineOptions {
  env?: NodeJS.ProcessEnv;
  /** For tests: an explicit dockerode instance. */
  docker?: Docker;
  fetch?: Fetch;
}

/** Where the daemon is: DOCKER_HOST, else the first usual socket that exists. */
export function daemonLocation(env: NodeJS.ProcessEnv = process.env): { options?: Docker.DockerOptions; endpoint: string } {
  if (env.DOCKER_HOST) return { endpoint: env.DOCKER_HOST }; // docker-modem reads DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
  if (process.platform === 'win32') return { options: { socketPath: '//./pipe/docker_engine' }, endpoint: 'npipe:////./pipe/docker_engine' };
  const candidates = [
    '/var/run/docker.sock',
    env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'docker.sock') : '',
    join(homedir(), '.docker', 'run', 'docker.sock'),
    join(homedir(), '.docker', 'desktop', 'docker.sock'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p)) ?? '/var/run/docker.sock';
  return { options: { socketPath: found }, endpoint: `unix://${found}` };
}

export function createDockerEngine(opts: DockerodeEngineOptions = {}): DockerEngine {
  return new DockerodeEngine(opts);
}

interface ProgressEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
}

class DockerodeEngine implements DockerEngine {
  readonly endpoint: string;
  private readonly docker: Docker;
  private readonly fetch?: Fetch;

  constructor(opts: DockerodeEngineOptions) {
    const loc = daemonLocation(opts.env);
    this.endpoint = loc.endpoint;
    this.docker = opts.docker ?? new Docker(loc.options);
    this.fetch = opts.fetch;
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (e) {
      throw this.unreachable(e);
    }
  }

  private unreachable(e: unknown): DockerError {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const why =
      code === 'EACCES'
        ? `permission denied on ${this.endpoint}`
        : code === 'ENOENT' || code === 'ECONNREFUSED'
          ? `nothing listens at ${this.endpoint}`
          : `${this.endpoint}: ${(e as Error).message ?? String(e)}`;
    const fix =
      code === 'EACCES'
        ? 'Add your user to the docker group (then log in again), or run with access to the socket.'
        : 'Start Docker (Docker Desktop, `sudo systemctl start docker`, or `dockerd`), or set DOCKER_HOST to where your daemon listens (e.g. DOCKER_HOST=unix:///run/user/1000/docker.sock).';
    return new DockerError({ what: 'Docker is not reachable', why, fix, cause: e });
  }

  private wrap(e: unknown, what: string): never {
    if (e instanceof DockerError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES') throw this.unreachable(e);
    if ((e as Error).name === 'AbortError') throw new InterruptedError({ what: 'Interrupted', why: what });
    const msg = (e as { json?: { message?: string } }).json?.message ?? (e as Error).message ?? String(e);
    throw new DockerError({ what, why: msg, cause: e });
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    try {
      const i = await this.docker.getImage(ref).inspect();
      return { id: i.Id, repoTags: i.RepoTags ?? [], repoDigests: i.RepoDigests ?? [], architecture: i.Architecture, os: i.Os, size: i.Size };
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return undefined;
      this.wrap(e, `Cannot inspect the image ${ref}`);
    }
  }

  async listImages(): Promise<string[]> {
    try {
      const list = await this.docker.listImages();
      return list.sort((a, b) => b.Created - a.Created).flatMap((i) => (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'));
    } catch (e) {
      this.wrap(e, 'Cannot list the images');
    }
  }

  async build(req: BuildRequest): Promise<{ imageId: string }> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.buildImage(packContext(req.context) as unknown as NodeJS.ReadableStream, {
        t: req.tag,
        buildargs: { ...req.buildArgs },
        rm: true,
        forcerm: true,
        ...(req.platform ? { platform: req.platform } : {}),
        abortSignal: req.signal,
      } as Docker.ImageBuildOptions);
    } catch (e) {
      this.wrap(e, 'Cannot start the image build');
    }
    let imageId = '';
    let lastStep = '';
    const events = await this.follow(stream, (ev) => {
      if (ev.aux?.ID) imageId = ev.aux.ID;
      const text = ev.stream ?? ev.status;
      if (text) {
        for (const line of text.split('\n')) {
          if (line.trim() === '') continue;
          if (/^Step \d+\/\d+ :/.test(line)) lastStep = line;
          req.onOutput?.(line);
        }
      }
    }, 'The image build');
    const err = events.find((ev) => ev.error);
    if (err) throw buildError(err.errorDetail?.message ?? err.error ?? '', lastStep);
    if (!imageId) {
      const built = events.map((ev) => /Successfully built ([0-9a-f]+)/.exec(ev.stream ?? '')?.[1]).find(Boolean);
      imageId = built ?? (await this.inspectImage(req.tag))?.id ?? '';
    }
    if (!imageId) throw new DockerError({ what: 'The image build finished without an image', why: lastStep || 'no output' });
    return { imageId };
  }

  async tag(source: string, target: string): Promise<void> {
    const r = parseReference(target);
    try {
      await this.docker.getImage(source).tag({ repo: r.repository, tag: r.tag ?? 'latest' });
    } catch (e) {
      this.wrap(e, `Cannot tag ${source} as ${target}`);
    }
  }

  async push(req: PushRequest): Promise<{ digest: string }> {
    const r = parseReference(req.ref);
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.getImage(r.repository).push({
        tag: r.tag ?? 'latest',
        // dockerd needs an X-Registry-Auth header even for anonymous pushes.
        authconfig: req.credentials ? dockerAuthConfig(req.credentials) : {},
        abortSignal: req.signal,
      } as unknown as Docker.ImagePushOptions)) as NodeJS.ReadableStream;
    } catch (e) {
      this.wrap(e, `Cannot push ${req.ref}`);
    }
    let digest = '';
    const events = await this.follow(stream, (ev) => {
      if (ev.aux?.Digest) digest = ev.aux.Digest;
      const m = /digest: (sha256:[0-9a-f]{64})/.exec(ev.status ?? '');
      if (m && !digest) digest = m[1]!;
      if (ev.status) req.onOutput?.(ev.id ? `${ev.id}: ${ev.status}` : ev.status);
    }, `Pushing ${req.ref}`);
    const err = events.find((ev) => ev.error);
    if (err) throw pushError(err.errorDetail?.message ?? err.error ?? '', req.ref, req.credentials);
    if (!digest) throw new DockerError({ what: `Pushed ${req.ref} but the registry reported no digest` });
    return { digest };
  }

  remoteDigest(ref: string, credentials?: RegistryCredentials, signal?: AbortSignal): Promise<string | undefined> {
    return manifestDigest(ref, credentials, { fetch: this.fetch, signal });
  }

  private follow(stream: NodeJS.ReadableStream, onEvent: (ev: ProgressEvent) => void, what: string): Promise<ProgressEvent[]> {
    return new Promise((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (err: Error | null, out: ProgressEvent[]) => {
          if (err) {
            try {
              this.wrap(err, what);
            } catch (e) {
              reject(e);
            }
            return;
          }
          resolve(out);
        },
        onEvent,
      );
    });
  }
}

/** A build error as Docker reports it, with a fix when the cause is known. */
export function buildError(message: string, step: string): DockerError {
  const fromStep = /^Step \d+\/\d+ : FROM /.test(step);
  const pull = /pull access denied|manifest unknown|manifest for .* not found|not found: manifest|repository does not exist|no such host|dial tcp|i\/o timeout|toomanyrequests|failed to resolve|unauthorized/i.test(message);
  if (fromStep || (pull && !/^Step \d+\/\d+ : RUN /.test(step))) {
    return new DockerError({
      what: 'The base image cannot be pulled',
      why: message.trim(),
      fix: 'Pass --base-image with an image this Docker daemon can pull or already has (for example a Debian image from a registry you can reach), or log in to its registry.',
    });
  }
  return new DockerError({ what: 'The image build failed', why: `${step ? `${step}: ` : ''}${message.trim()}`, fix: 'The build output above shows where; run with --verbose for all of it.' });
}

export function pushError(message: string, ref: string, creds: RegistryCredentials | undefined): DockerError {
  const m = message.trim();
  const repo = parseReference(ref);
  if (/name unknown|repository .* does not exist|repository with name .* does not exist|NAME_UNKNOWN/i.test(m)) {
    return new DockerError({
      what: `The repository ${repo.repository} does not exist`,
      why: m,
      fix: repo.registry.includes('.dkr.ecr.') ? 'Run `ecs-cwlogs image --ecr` to create it.' : 'Create the repository in the registry first, or check the --repo name.',
    });
  }
  if (/denied|unauthorized|authentication required|no basic auth credentials|forbidden|403|401/i.test(m)) {
    return new DockerError({
      what: `Push to ${repo.repository} was denied`,
      why: `${m}${creds ? ` (using ${creds.source.replace(/\s+/g, ' ')})` : ' (no credentials for this registry)'}`,
      fix: creds
        ? `Check that this account may push to ${repo.repository}, or log in again (\`docker login ${repo.registry === 'docker.io' ? '' : repo.registry}\`).`
        : `Log in (\`docker login${repo.registry === 'docker.io' ? '' : ` ${repo.registry}`}\`), or pass --username and --password-stdin.`,
    });
  }
  return new DockerError({ what: `Cannot push ${ref}`, why: m });
}
