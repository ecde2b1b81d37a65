/**
 * Issue 17, 1.6: two logging tasks on one instance (a deployment behind the ALB runs the old and the
 * new task side by side). Two containers from the logging image, with the host volumes and mount
 * points of the rendered task definition (templates/task-definition.json) on one stand-in host
 * directory, the second started while the first runs, then the first stopped as ECS stops it:
 *   - neither deletes or overwrites the other's agent state (each keeps its own in its container;
 *     only the holder of the host lock writes the shared host offsets);
 *   - while both run, only the first one's configuration lists the host's files (ecs-agent.log,
 *     ecs-init.log, docker.log); when it stops, the second takes the lock, gets its final offsets
 *     and a configuration that lists them;
 *   - so every host line is shipped by exactly one of them, and each one's own lines once.
 * The real agent cannot run here (no AWS): a stand-in (test/docker/fake-agent) reads the
 * configuration and the state folder the container gives it, as the agent does, and records what
 * it would ship.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { readBuildContext } from '../../src/docker/build-context.js';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { renderTaskDefinition } from '../../src/steps/task.js';
import { resolveSettings } from '../../src/core/config.js';
import { buildLoggingImage, dockerEnv, exec, removeContainer, sh, waitFor, type DockerEnv } from './docker-helpers.js';

const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);

const run = `h${Date.now().toString(36)}`;
const OLD = `cwl-test-handover-old-${run}`;
const NEW = `cwl-test-handover-new-${run}`;
const STATE = '/opt/aws/amazon-cloudwatch-agent/logs/state';

after(async () => {
  if (skip) return;
  const env = setup as DockerEnv;
  await removeContainer(env.docker, OLD);
  await removeContainer(env.docker, NEW);
});

async function fakeAgentImage(env: DockerEnv): Promise<string> {
  const logging = await buildLoggingImage(env);
  const buildArgs = { BASE_IMAGE: logging };
  const ctx = readBuildContext(join(PACKAGE_ROOT, 'test', 'docker', 'fake-agent'), { buildArgs });
  const ref = `ecs-cwlogs-test-fake-agent:${ctx.tag}`;
  if (!(await env.engine.inspectImage(ref))) await env.engine.build({ context: ctx, tag: ref, buildArgs });
  return ref;
}

/** The logging container's binds and environment, as ECS lays out the task definition on `host`. */
function asEcsRunsIt(def: RegisterTaskDefinitionCommandInput, host: string): { binds: string[]; env: string[] } {
  const c = def.containerDefinitions!.find((x) => x.name === 'cloudwatchlogs')!;
  const binds = (c.mountPoints ?? []).map((m) => {
    const v = def.volumes!.find((x) => x.name === m.sourceVolume)!;
    const path = join(host, v.host!.sourcePath!);
    mkdirSync(path, { recursive: true });
    return `${path}:${m.containerPath}${m.readOnly ? ':ro' : ''}`;
  });
  return { binds, env: (c.environment ?? []).map((e) => `${e.name}=${e.value}`) };
}

interface Shipped {
  stream: string;
  line: string;
}
function shipped(dir: string, container: string): Shipped[] {
  let text = '';
  try {
    text = readFileSync(join(dir, `${container}.log`), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ stream: l.slice(0, l.indexOf('\t')), line: l.slice(l.indexOf('\t') + 1) }));
}
function configs(dir: string, container: string): { logs: { logs_collected: { files: { collect_list: { file_path: string }[] } } } }[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(`${container}.config.`))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
}
const paths = (c: ReturnType<typeof configs>[number]) => c.logs.logs_collected.files.collect_list.map((e) => e.file_path);
const HOST_FILES = ['/mnt/ecs_instance_logs/ecs-agent.log', '/mnt/ecs_instance_logs/ecs-init.log', '/mnt/ecs-cwlogs-logs/docker.log'];

test('two logging containers on one host: each host line is shipped by exactly one, each own line once, and neither touches the other\'s agent state', { skip, timeout: 600_000 }, async () => {
  const env = setup as DockerEnv;
  const image = await fakeAgentImage(env);
  const host = mkdtempSync(join(tmpdir(), 'cwl-handover-host-'));
  const out = mkdtempSync(join(tmpdir(), 'cwl-handover-shipped-'));
  chmodSync(out, 0o777);
  const { config } = resolveSettings({ flags: { region: 'eu-west-1' }, env: {} });
  const def = renderTaskDefinition(config, image, 'arn:aws:iam::123456789012:role/task');
  const { binds, env: containerEnv } = asEcsRunsIt(def, host);
  const agentLog = join(host, 'var/log/ecs/ecs-agent.log');
  const dockerLog = join(host, 'var/log/ecs-cwlogs/docker.log');
  // The host's own directories (the ECS agent's, and the user data's for dockerd's journal).
  mkdirSync(join(host, 'var/log/ecs'), { recursive: true });
  mkdirSync(join(host, 'var/log/ecs-cwlogs'), { recursive: true });
  let n = 0;
  const hostLines = (count: number) => {
    for (let i = 0; i < count; i++) {
      n += 1;
      appendFileSync(agentLog, `level=info msg="agent line ${n}"\n`);
      appendFileSync(dockerLog, `2026-12-07T10:00:00+0000 ip-10-0-0-1 dockerd[1]: docker line ${n}\n`);
    }
  };
  const start = async (name: string) => {
    await removeContainer(env.docker, name);
    const c = await env.docker.createContainer({
      name,
      Hostname: name.slice(-40),
      Image: image,
      Env: [...containerEnv, 'ECS_CWLOGS_IMDS=off'],
      HostConfig: { Binds: [...binds, `${out}:/shipped`] },
    });
    await c.start();
    await waitFor(`${name}: rsyslog`, async () => (await exec(env.docker, name, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/514'])).code === 0, 60_000, 200);
    return c;
  };
  const own = async (name: string, tag: string, count: number) => {
    await sh(env.docker, name, `for i in $(seq 1 ${count}); do logger -n 127.0.0.1 -P 514 -T -t ${tag} "own line $i of ${tag}"; done`);
  };
  const hostShipped = () => [...shipped(out, OLD.slice(-40)), ...shipped(out, NEW.slice(-40))].filter((s) => /-(ecs-agent\.log|docker)$/.test(s.stream));
  const stateOf = async (name: string) => {
    const text = await sh(env.docker, name, `cd ${STATE} && for f in *; do [ -f "$f" ] && printf '%s|%s|%s\\n' "$f" "$(sed -n 2p "$f")" "$(head -n 1 "$f")"; done; true`);
    return Object.fromEntries(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('|'))
        .map(([f, p, o]) => [f!, { path: p!, offset: Number(o) }]),
    );
  };

  // The old task runs alone: it holds the host's files.
  hostLines(20);
  await start(OLD);
  await waitFor('the old container to ship the first host lines', async () => hostShipped().length === 40, 60_000);
  assert.deepEqual(paths(configs(out, OLD.slice(-40)).at(-1)!).filter((p) => HOST_FILES.includes(p)), HOST_FILES);

  // The new task starts beside it: it ships only its own files, and waits for the lock.
  await start(NEW);
  await waitFor('the new agent to start', async () => configs(out, NEW.slice(-40)).length === 1, 60_000);
  assert.deepEqual(paths(configs(out, NEW.slice(-40))[0]!).filter((p) => p.startsWith('/mnt/')), [], 'the new container does not ship the host files while the old one holds them');
  hostLines(20);
  await own(OLD, 'oldapp', 15);
  await own(NEW, 'newapp', 15);
  await waitFor('both to ship', async () => hostShipped().length === 80 && shipped(out, NEW.slice(-40)).filter((s) => s.line.endsWith('of newapp')).length === 15, 60_000);

  // Each one's state is its own; the shared host offsets are the old one's.
  const oldState = await stateOf(OLD);
  const newState = await stateOf(NEW);
  assert.ok(oldState['_mnt_ecs_instance_logs_ecs-agent.log'], JSON.stringify(oldState));
  assert.equal(newState['_mnt_ecs_instance_logs_ecs-agent.log'], undefined, 'the new one has no host offsets while the old one ships them');
  assert.ok(newState['_var_log_apps_newapp.log'] && !newState['_var_log_apps_oldapp.log']);
  assert.ok(oldState['_var_log_apps_oldapp.log'] && !oldState['_var_log_apps_newapp.log']);
  const sharedDir = join(host, 'var/lib/ecs-cwlogs/agent-state/host');
  await waitFor('the shared host offsets to follow the old one', async () => Number(readFileSync(join(sharedDir, '_mnt_ecs_instance_logs_ecs-agent.log'), 'utf8').split('\n')[0]) === oldState['_mnt_ecs_instance_logs_ecs-agent.log']!.offset, 10_000);

  // The old task stops (ECS: SIGTERM, then SIGKILL after stopTimeout); the new one takes over.
  await env.docker.getContainer(OLD).stop({ t: 30 });
  const finalOld = Number(readFileSync(join(sharedDir, '_mnt_ecs_instance_logs_ecs-agent.log'), 'utf8').split('\n')[0]);
  await waitFor('the new one to take the host files over', async () => configs(out, NEW.slice(-40)).length === 2, 30_000);
  assert.deepEqual(paths(configs(out, NEW.slice(-40))[1]!).filter((p) => HOST_FILES.includes(p)), HOST_FILES);
  const taken = await stateOf(NEW);
  assert.equal(taken['_mnt_ecs_instance_logs_ecs-agent.log']?.offset, finalOld, 'the new one resumes at the old one\'s last offset');
  hostLines(20);
  await own(NEW, 'newapp2', 5);
  await waitFor('the new one to ship the rest', async () => hostShipped().length === 120 && shipped(out, NEW.slice(-40)).filter((s) => s.line.includes('of newapp2')).length === 5, 60_000);

  // Exactly once: every host line, and each container's own lines.
  const counts = new Map<string, number>();
  for (const s of hostShipped()) counts.set(s.line, (counts.get(s.line) ?? 0) + 1);
  const wrong = [...counts].filter(([, c]) => c !== 1);
  assert.deepEqual(wrong, [], 'a host line shipped twice');
  for (let i = 1; i <= n; i++) {
    assert.equal(counts.get(`level=info msg="agent line ${i}"`), 1, `agent line ${i}`);
    assert.equal(counts.get(`2026-12-07T10:00:00+0000 ip-10-0-0-1 dockerd[1]: docker line ${i}`), 1, `docker line ${i}`);
  }
  const oldShipped = shipped(out, OLD.slice(-40));
  const newShipped = shipped(out, NEW.slice(-40));
  assert.ok(oldShipped.some((s) => s.line === 'level=info msg="agent line 40"') && newShipped.some((s) => s.line === 'level=info msg="agent line 41"'), 'the old one shipped up to the handover, the new one after');
  for (const [list, tag, count] of [[oldShipped, 'oldapp', 15], [newShipped, 'newapp', 15], [newShipped, 'newapp2', 5]] as const) {
    const mine = list.filter((s) => s.line.endsWith(`of ${tag}`));
    assert.equal(mine.length, count, `${tag}: ${mine.length} lines`);
    assert.equal(new Set(mine.map((s) => s.line.replace(/^.*own line/, ''))).size, count);
  }
  assert.equal(newShipped.filter((s) => s.line.includes('of oldapp')).length, 0);
  assert.ok(newShipped.some((s) => s.stream.endsWith('-docker')), 'docker.log goes to its own stream, docker');
});
