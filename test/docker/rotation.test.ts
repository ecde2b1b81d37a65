/**
 * The logging container (docker/, agent skipped) rotates the files rsyslog writes by size, the way
 * the CloudWatch agent follows them (rename, then rsyslog reopens the name on SIGHUP), and keeps
 * the agent's offsets of the host's files across containers while forgetting those of its own:
 *   - a burst of N lines over TCP, to httpd-access.log (a static file) and apps/myapp.log (a
 *     dynaFile), with a 64 KiB limit checked every second: rotations happen, every rotated file
 *     passed the limit, a line sent afterwards is in the live file (rsyslog reopened the name),
 *     and across all files each line is there exactly once;
 *   - nothing on the shared agent-state volume is removed at start (it may be another task's).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLoggingImage, dockerEnv, exec, removeContainer, sh, waitFor, type DockerEnv } from './docker-helpers.js';

const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

const run = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const LOGGING = `cwl-test-rot-${run}`;
const LIMIT = 64 * 1024;
const stateDir = mkdtempSync(join(tmpdir(), 'cwl-agent-state-'));

before(async () => {
  if (skip) return;
  const image = await buildLoggingImage(env);
  // What an earlier task's agent left on the host volume (offset, then the file's path).
  writeFileSync(join(stateDir, '_var_log_syslog'), '999999\n/var/log/syslog\n');
  writeFileSync(join(stateDir, '_mnt_ecs_instance_logs_ecs-agent.log'), '1234\n/mnt/ecs_instance_logs/ecs-agent.log\n');
  chmodSync(stateDir, 0o755);
  await removeContainer(env.docker, LOGGING);
  const c = await env.docker.createContainer({
    name: LOGGING,
    Image: image,
    Env: ['ECS_CWLOGS_IMDS=off', `ECS_CWLOGS_ROTATE_SIZE=${LIMIT / 1024}k`, 'ECS_CWLOGS_ROTATE_KEEP=100', 'ECS_CWLOGS_ROTATE_INTERVAL=1'],
    HostConfig: { Binds: [`${stateDir}:/mnt/ecs-cwlogs-state`] },
  });
  await c.start();
  await waitFor('rsyslog to listen', async () => (await exec(env.docker, LOGGING, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/514'])).code === 0, 30_000, 100);
});

after(async () => {
  if (skip) return;
  await removeContainer(env.docker, LOGGING);
});

test('a new container deletes nothing on the shared agent-state volume (another task\'s, or an older image\'s)', { skip }, () => {
  assert.equal(existsSync(join(stateDir, '_var_log_syslog')), true);
  assert.equal(existsSync(join(stateDir, '_mnt_ecs_instance_logs_ecs-agent.log')), true);
});

test('size-based rotation during a burst loses no line and duplicates none', { skip, timeout: 120_000 }, async () => {
  const { docker } = env;
  const N = 4000;
  const pad = 'x'.repeat(120);
  const t0 = Date.now();
  // One TCP logger per file, N lines each, paced so that rotations happen in the middle (~3 s).
  const burst = (tag: string, prio: string) =>
    sh(docker, LOGGING, `for i in $(seq 1 ${N}); do echo "burst-${run} $i ${pad}"; [ $((i % 250)) = 0 ] && sleep 0.2; done | logger -n 127.0.0.1 -P 514 -T -t ${tag} -p ${prio} -S 4096`);
  await Promise.all([burst('httpd', 'local6.info'), burst('myapp', 'user.info')]);
  for (const file of ['/var/log/httpd-access.log', '/var/log/apps/myapp.log']) {
    const seqs = async () => (await sh(docker, LOGGING, `cat ${file} ${file}.[0-9]* 2>/dev/null | grep -F 'burst-${run} ' | awk '{ print $5 }' || true`)).split('\n').filter(Boolean);
    await waitFor(`${N} lines in ${file}*`, async () => (await seqs()).length >= N, 30_000, 250);
    const all = await seqs();
    assert.equal(all.length, N, `${file}: ${all.length} lines`);
    assert.equal(new Set(all).size, N, `${file}: each line once`);
    const sizes = (await sh(docker, LOGGING, `for f in ${file}.[0-9]*; do [ -e "$f" ] && stat -c '%s' "$f"; done; true`)).split('\n').filter(Boolean).map(Number);
    assert.ok(sizes.length >= 1, `${file} was rotated`);
    for (const s of sizes) assert.ok(s > LIMIT, `a rotated file has ${s} bytes, over the ${LIMIT} limit`);
    // Once the live file is under the limit (no rotation pending), a line written goes to it:
    // rsyslog reopened the name after the last rename.
    await waitFor(`${file} under the limit`, async () => Number((await sh(docker, LOGGING, `stat -c '%s' ${file} 2>/dev/null || echo 0`)).trim()) < LIMIT, 20_000, 250);
    const tag = file.includes('httpd') ? '-t httpd -p local6.info' : '-t myapp -p user.info';
    await sh(docker, LOGGING, `logger -n 127.0.0.1 -P 514 -T ${tag} "after-${run}"`);
    // Exactly once: in the live file, or in the newest rotated one if a check rotated it meanwhile
    // (which also means it was written to the name rsyslog reopened).
    await waitFor(
      `the line after the burst in ${file}`,
      async () => (await sh(docker, LOGGING, `cat ${file} ${file}.[0-9]* 2>/dev/null | grep -c -F 'after-${run}' || true`)).trim() === '1',
      30_000,
      100,
    );
    console.log(`# rotation of ${file}: ${sizes.length} rotations of ${sizes.map((s) => Math.round(s / 1024)).join(', ')} KiB (limit ${LIMIT / 1024} KiB, checked every 1 s), ${N} lines in ${((Date.now() - t0) / 1000).toFixed(1)} s, none lost or doubled`);
  }
});
