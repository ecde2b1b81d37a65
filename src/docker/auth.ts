/**
 * Registry credentials the way the docker CLI finds them, from its config file
 * ($DOCKER_CONFIG/config.json, else ~/.docker/config.json):
 *   1. credHelpers[<registry>]  -> `docker-credential-<helper> get`
 *   2. credsStore               -> `docker-credential-<store> get`
 *   3. auths[<registry>]        -> "auth" (base64 user:password), or username/password, identitytoken
 * A helper that says "credentials not found" falls through to auths, as the CLI's native store does.
 *
 * Secrets stay in memory: nothing here writes them anywhere, and `describeAuth` is what may be shown.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DockerError, UserInputError } from '../core/errors.js';
import { authKeyFor, authKeyHostname, DOCKER_HUB, DOCKER_HUB_AUTH_KEY } from './reference.js';

export interface RegistryCredentials {
  /** The server address the credentials are for (config key form). */
  serverAddress: string;
  username?: string;
  password?: string;
  /** An OAuth refresh token (helpers return it with the user name "<token>"). */
  identityToken?: string;
  /** Where they came from, for messages: "credHelpers (ecr-login)", "auths in ~/.docker/config.json", "--username". */
  source: string;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export interface AuthOptions {
  env?: NodeJS.ProcessEnv;
  /** Directory of config.json (default: $DOCKER_CONFIG, else ~/.docker). */
  configDir?: string;
}

export function dockerConfigPath(opts: AuthOptions = {}): string {
  const env = opts.env ?? process.env;
  const dir = opts.configDir ?? (env.DOCKER_CONFIG ? env.DOCKER_CONFIG : join(homedir(), '.docker'));
  return join(dir, 'config.json');
}

async function readDockerConfig(file: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserInputError({ what: `Cannot read ${file}`, why: (e as Error).message, fix: 'Check its permissions, or point DOCKER_CONFIG at another directory.' });
  }
  try {
    return JSON.parse(text) as DockerConfigFile;
  } catch (e) {
    throw new UserInputError({ what: `Cannot read ${file}`, why: `it is not valid JSON (${(e as Error).message})`, fix: 'Fix the file, or run `docker login` again.' });
  }
}

/** Credentials for a registry (docker.io, host[:port]), or undefined when none are configured. */
export async function resolveRegistryAuth(registry: string, opts: AuthOptions = {}): Promise<RegistryCredentials | undefined> {
  const file = dockerConfigPath(opts);
  const cfg = await readDockerConfig(file);
  if (!cfg) return undefined;
  const key = authKeyFor(registry);
  const hostname = registry === DOCKER_HUB ? 'index.docker.io' : registry;
  const helper = findByHostname(cfg.credHelpers, hostname) ?? cfg.credsStore;
  if (helper) {
    const which = findByHostname(cfg.credHelpers, hostname) ? `credHelpers (${helper})` : `credsStore (${helper})`;
    const got = await runCredentialHelper(helper, key, opts.env);
    if (got) {
      return got.Username === '<token>'
        ? { serverAddress: key, identityToken: got.Secret, source: which }
        : { serverAddress: key, username: got.Username, password: got.Secret, source: which };
    }
  }
  const entry = findByHostname(cfg.auths, hostname);
  if (entry) {
    const src = `auths in ${file}`;
    if (entry.identitytoken) return { serverAddress: key, identityToken: entry.identitytoken, username: entry.username, source: src };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i < 0) throw new UserInputError({ what: `Cannot use the credentials for ${registry} in ${file}`, why: 'its "auth" is not base64 of user:password', fix: `Run \`docker login ${registry === DOCKER_HUB ? '' : registry}\` again.` });
      return { serverAddress: key, username: decoded.slice(0, i), password: decoded.slice(i + 1), source: src };
    }
    if (entry.username && entry.password) return { serverAddress: key, username: entry.username, password: entry.password, source: src };
  }
  return undefined;
}

function findByHostname<T>(map: Record<string, T> | undefined, hostname: string): T | undefined {
  if (!map) return undefined;
  if (map[hostname] !== undefined) return map[hostname];
  if (hostname === 'index.docker.io' && map[DOCKER_HUB_AUTH_KEY] !== undefined) return map[DOCKER_HUB_AUTH_KEY];
  for (const [k, v] of Object.entries(map)) {
    const h = authKeyHostname(k);
    if (h === hostname || (hostname === 'index.docker.io' && (h === 'docker.io' || h === 'registry-1.docker.io'))) return v;
  }
  return undefined;
}

interface HelperAnswer {
  ServerURL?: string;
  Username: string;
  Secret: string;
}

/** `docker-credential-<name> get`, server address on stdin. Undefined when it has nothing for it. */
export function runCredentialHelper(name: string, serverAddress: string, env: NodeJS.ProcessEnv = process.env): Promise<HelperAnswer | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    return Promise.reject(new UserInputError({ what: `Bad credential helper name "${name}" in the docker config`, fix: 'Fix credsStore / credHelpers in config.json.' }));
  }
  const bin = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') {
        reject(
          new DockerError({
            what: `Cannot get registry credentials from ${bin}`,
            why: 'the docker config names that credential helper, but it is not on PATH',
            fix: `Install ${bin}, or remove it from credsStore/credHelpers in ${dockerConfigPath({ env })}.`,
          }),
        );
      } else reject(new DockerError({ what: `Cannot run ${bin}`, why: e.message }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = `${out}\n${err}`;
      if (code !== 0) {
        if (/credentials not found|not found in native keychain|no credentials/i.test(text)) return resolve(undefined);
        // Never echo the helper's stdout: it may hold a secret.
        return reject(new DockerError({ what: `${bin} get failed (exit ${code})`, why: err.trim().split('\n')[0] || 'no message', fix: `Check the helper with \`echo ${serverAddress} | ${bin} get\`, or run \`docker login\` again.` }));
      }
      try {
        const ans = JSON.parse(out) as HelperAnswer;
        if (!ans.Secret) return resolve(undefined);
        resolve(ans);
      } catch {
        reject(new DockerError({ what: `${bin} get returned something that is not JSON`, fix: 'Check the helper, or run `docker login` again.' }));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(serverAddress);
  });
}

/** What may be printed about credentials: never the secret. */
export function describeAuth(c: RegistryCredentials | undefined): string {
  if (!c) return 'no credentials';
  if (c.identityToken) return `an identity token from ${c.source}`;
  return `user ${c.username ?? '?'} from ${c.source}`;
}

/** The X-Registry-Auth object dockerd expects for push and pull. */
export function dockerAuthConfig(c: RegistryCredentials): Record<string, string> {
  return c.identityToken
    ? { identitytoken: c.identityToken, serveraddress: c.serverAddress }
    : { username: c.username ?? '', password: c.password ?? '', serveraddress: c.serverAddress };
}
