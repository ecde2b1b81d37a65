/**
 * Helpers for tests and the benchmark that need a real Docker daemon and the CI registry
 * (.ci/setup-docker.sh starts both and writes their settings to /tmp/ecs-cwlogs-ci.env, which
 * .ci/run sources). Not a test file.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { createDockerEngine, daemonLocation, type DockerEngine } from '../../src/docker/engine.js';
import { readBuildContext } from '../../src/docker/build-context.js';
import { PACKAGE_ROOT } from '../../src/core/version.js';

export interface DockerEnv {
  docker: Docker;
  engine: DockerEngine;
  baseImage: string;
  registry: string;
  user: string;
  password: string;
}

const ENV_FILE = '/tmp/ecs-cwlogs-ci.env';

/** Settings from the environment, else from the setup script's env file. */
function ciSetting(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  try {
    const m = new RegExp(`^export ${name}=(.*)$`, 'm').exec(readFileSync(ENV_FILE, 'utf8'));
    return m?.[1]?.trim();
  } catch {
    return undefined;
  }
}

/**
 * The Docker test environment, or a reason to skip. Under CI a missing daemon or registry is a
 * failure (thrown), never a skip.
 */
export async function dockerEnv(): Promise<DockerEnv | string> {
  const loc = daemonLocation();
  const docker = new Docker(loc.options);
  const problems: string[] = [];
  try {
    await docker.ping();
  } catch (e) {
    problems.push(`Docker is not reachable at ${loc.endpoint} (${(e as Error).message})`);
  }
  const baseImage = ciSetting('ECS_CWLOGS_TEST_BASE_IMAGE');
  const registry = ciSetting('ECS_CWLOGS_TEST_REGISTRY');
  const user = ciSetting('ECS_CWLOGS_TEST_REGISTRY_USER');
  const password = ciSetting('ECS_CWLOGS_TEST_REGISTRY_PASSWORD');
  if (!baseImage || !registry || !user || !password) problems.push(`no CI registry settings (run .ci/setup-docker.sh; it writes ${ENV_FILE})`);
  if (problems.length === 0 && !(await docker.getImage(baseImage!).inspect().catch(() => undefined))) problems.push(`the base image ${baseImage} is missing (run .ci/setup-docker.sh)`);
  if (problems.length > 0) {
    const why = problems.join('; ');
    if (process.env.CI && process.env.CI !== 'false') throw new Error(`Docker tests cannot run under CI: ${why}`);
    return `skipped: ${why}`;
  }
  return { docker, engine: createDockerEngine({ docker }), baseImage: baseImage!, registry: registry!, user: user!, password: password! };
}

/** A docker config directory whose config.json holds the registry login, as `docker login` writes it. */
export function dockerConfigDir(env: DockerEnv): string {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-dockercfg-'));
  const auth = Buffer.from(`${env.user}:${env.password}`).toString('base64');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [env.registry]: { auth } } }), { mode: 0o600 });
  return dir;
}

/** A copy of docker/ to change without touching the checkout. */
export function copyOfDockerDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-dockerdir-'));
  cpSync(join(PACKAGE_ROOT, 'docker'), dir, { recursive: true });
  return dir;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function exec(docker: Docker, container: string, cmd: string[]): Promise<ExecResult> {
  const c = docker.getContainer(container);
  const x = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await x.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  err.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  docker.modem.demuxStream(stream, out, err);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  const info = await x.inspect();
  return { code: info.ExitCode ?? -1, stdout, stderr };
}

export async function sh(docker: Docker, container: string, script: string): Promise<string> {
  const r = await exec(docker, container, ['bash', '-c', script]);
  if (r.code !== 0) throw new Error(`${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Build (unless present) an image from a Dockerfile text and files, tagged by content. */
export async function buildAux(env: DockerEnv, name: string, files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `cwl-${name}-`));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const buildArgs = { BASE_IMAGE: env.baseImage };
  const ctx = readBuildContext(dir, { buildArgs });
  const ref = `ecs-cwlogs-test-${name}:${ctx.tag}`;
  if (!(await env.engine.inspectImage(ref))) await env.engine.build({ context: ctx, tag: ref, buildArgs });
  return ref;
}

/** Build (unless present) the logging image from docker/, agent skipped, from the CI base image. */
export async function buildLoggingImage(env: DockerEnv, repo = 'ecs-cwlogs-test-logging'): Promise<string> {
  const buildArgs = { BASE_IMAGE: env.baseImage, SKIP_CLOUDWATCH_AGENT: 'true' };
  const ctx = readBuildContext(join(PACKAGE_ROOT, 'docker'), { buildArgs });
  const ref = `${repo}:${ctx.tag}`;
  if (!(await env.engine.inspectImage(ref))) await env.engine.build({ context: ctx, tag: ref, buildArgs });
  return ref;
}

export async function removeContainer(docker: Docker, name: string): Promise<void> {
  await docker
    .getContainer(name)
    .remove({ force: true, v: true })
    .catch(() => undefined);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function hostPort(docker: Docker, container: string, port: string): Promise<number> {
  const info = await docker.getContainer(container).inspect();
  const b = info.NetworkSettings.Ports[port]?.[0];
  if (!b) throw new Error(`${container} publishes no ${port}`);
  return Number(b.HostPort);
}

/** Count lines containing a marker in a file inside a container (0 when the file is missing). */
export async function countIn(docker: Docker, container: string, file: string, marker: string): Promise<number> {
  const out = await sh(docker, container, `grep -c -F -- '${marker}' '${file}' 2>/dev/null || true`);
  return Number(out.trim() || '0');
}
