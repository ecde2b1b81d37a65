/**
 * Helpers for the `--sandbox --local` tests and benchmark: the two images built from the CI base
 * image (cached by content hash), the real binary run against a private config directory, the
 * detached sandbox's record, and what carries a stack's label on Docker. Not a test file.
 */
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { readBuildContext } from '../../src/docker/build-context.js';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { labelled, removeLabelled, type Owner } from '../../src/sandbox/local/labels.js';
import { controlCall, type SandboxRecord } from '../../src/cli/sandbox-mode.js';
import { cliEnv, runCli, tempConfigDir, type CliResult } from '../helpers/cli.js';
import { sandboxProcesses } from '../helpers/sandbox-processes.js';
import { buildLoggingImage, type DockerEnv } from './docker-helpers.js';

export async function buildHttpdLike(e: DockerEnv): Promise<string> {
  const buildArgs = { BASE_IMAGE: e.baseImage };
  const ctx = readBuildContext(join(PACKAGE_ROOT, 'templates', 'httpd-like'), { buildArgs });
  const ref = `ecs-cwlogs-test-httpd-like:${ctx.tag}`;
  if (!(await e.engine.inspectImage(ref))) await e.engine.build({ context: ctx, tag: ref, buildArgs });
  return ref;
}

export interface LocalStack {
  stack: string;
  configDir: string;
  env: NodeJS.ProcessEnv;
  images: { logging: string; httpd: string };
  upArgs: string[];
  cli(args: string[], timeoutMs?: number): Promise<CliResult>;
  record(): SandboxRecord | undefined;
}

export async function localStack(e: DockerEnv, name: string): Promise<LocalStack> {
  const [logging, httpd] = await Promise.all([buildLoggingImage(e), buildHttpdLike(e)]);
  const stack = `${name}-${Date.now().toString(36)}`;
  const configDir = tempConfigDir();
  const env = cliEnv(configDir);
  const upArgs = ['up', '--sandbox', '--local', '--yes', '--json', '--stack', stack, '--image', logging, '--app-image', httpd];
  return {
    stack,
    configDir,
    env,
    images: { logging, httpd },
    upArgs,
    cli: (args, timeoutMs = 180_000) => runCli(args, env, { timeoutMs }),
    record() {
      try {
        return JSON.parse(readFileSync(join(configDir, 'sandbox', `${stack}.json`), 'utf8'));
      } catch {
        return undefined;
      }
    },
  };
}

/** GET over node:http, one connection each. */
export function get(url: string, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export interface LogEvent {
  timestamp: string;
  stream: string;
  message: string;
}

/** `logs --since 5m --json --sandbox`, parsed. */
export async function readLogs(s: LocalStack, extra: string[] = []): Promise<LogEvent[]> {
  const r = await s.cli(['logs', '--since', '5m', '--json', '--sandbox', '--stack', s.stack, ...extra], 60_000);
  if (r.code !== 0) throw new Error(`logs exited ${r.code}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LogEvent);
}

export async function labelledNow(docker: DockerEnv['docker'], stack: string) {
  return labelled(docker, stack);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Mutating calls since `from` in the sandbox's request log, except the log shipper's (the instance's CloudWatch agent). */
export async function mutatingSince(rec: SandboxRecord, from: number): Promise<string[]> {
  const res = await controlCall(rec.port, rec, '/_sandbox/requests', { timeoutMs: 5000 });
  const { requests } = (await res.json()) as { requests: { seq: number; service: string; operation: string; mutating: boolean }[] };
  const agent = new Set(['logs:PutLogEvents', 'logs:CreateLogStream', 'logs:CreateLogGroup']);
  return requests.filter((r) => r.seq > from && r.mutating && !agent.has(`${r.service}:${r.operation}`)).map((r) => `${r.service}:${r.operation}`);
}

export async function lastSeq(rec: SandboxRecord): Promise<number> {
  const res = await controlCall(rec.port, rec, '/_sandbox/requests', { timeoutMs: 5000 });
  const { requests } = (await res.json()) as { requests: { seq: number }[] };
  return requests.at(-1)?.seq ?? 0;
}

/** What a test file may leave of a stack: its sandbox processes and its labelled containers. */
export interface Remains {
  processes: number[];
  containers: string[];
}
export const NOTHING: Remains = { processes: [], containers: [] };


async function remains(docker: DockerEnv['docker'], configDir: string, stack: string, owner: string | Owner): Promise<Remains> {
  const found = await labelled(docker, owner).catch(() => ({ containers: [] as { name: string }[] }));
  return { processes: sandboxProcesses(configDir, stack), containers: found.containers.map((c) => c.name) };
}

/**
 * A test file's cleanup, unconditional (call it from `after`, which runs whatever failed before):
 * `down --sandbox` (a failure or timeout is kept, not thrown), then every sandbox process of the
 * stack stopped (SIGTERM, SIGKILL after 10 s), found by its command line and not only by its record,
 * and only then its labelled containers removed (a live sandbox would start its tasks again).
 * Returns down's exit code, what was left after it, and what remains after the force (the caller
 * asserts NOTHING).
 */
export async function tearDownStack(
  docker: DockerEnv['docker'],
  s: { configDir: string; stack: string; env: NodeJS.ProcessEnv },
  o: { owner?: string | Owner; down?: boolean } = {},
): Promise<{ downCode: number | null | undefined; afterDown: Remains; remaining: Remains }> {
  const owner = o.owner ?? s.stack;
  const down = o.down === false ? undefined : await runCli(['down', '--sandbox', '--yes', '--stack', s.stack], s.env, { timeoutMs: 180_000 }).catch(() => undefined);
  const afterDown = await remains(docker, s.configDir, s.stack, owner);
  const pids = new Set(afterDown.processes);
  try {
    const rec = JSON.parse(readFileSync(join(s.configDir, 'sandbox', `${s.stack}.json`), 'utf8')) as SandboxRecord;
    if (alive(rec.pid) && sandboxProcesses(s.configDir, s.stack).includes(rec.pid)) pids.add(rec.pid);
  } catch {
    /* no record */
  }
  for (const pid of pids) signal(pid, 'SIGTERM');
  for (let i = 0; i < 100 && [...pids].some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) if (alive(pid)) signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && [...pids].some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  await removeLabelled(docker, owner).catch(() => undefined);
  return { downCode: down?.code, afterDown, remaining: await remains(docker, s.configDir, s.stack, owner) };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}
