/**
 * Issue 17, 1.5: one region rule for the CLI and the logging container. The CLI accepts a region
 * when it has the shape of src/core/validate.ts (REGION_PATTERN) and is one of the SDK's partitions
 * (src/aws/conventions.ts, checkRegion); the container's ecs-cwlogs-agent-config has no SDK, so it
 * checks the same shape, with the same pattern text (compared here), and every region the CLI
 * accepts (each one the SDK lists, eusc-de-east-1 included) starts the container.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { REGION_PATTERN } from '../../src/core/validate.js';
import { checkRegion } from '../../src/aws/conventions.js';
import { buildLoggingImage, dockerEnv, exec, removeContainer, waitFor, type DockerEnv } from './docker-helpers.js';

const SCRIPT = join(PACKAGE_ROOT, 'docker', 'rootfs', 'usr', 'local', 'bin', 'ecs-cwlogs-agent-config');
const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);

/** Every region the SDK's partition data lists by name (the data is not exported: read from the module). */
function listedRegions(): string[] {
  const file = createRequire(import.meta.url).resolve('@aws-sdk/core/client');
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('const partitionsInfo = ');
  assert.ok(start >= 0, `no partition data in ${file}`);
  const body = text.slice(start + 'const partitionsInfo = '.length, text.indexOf('\n};', start) + 2);
  const data = JSON.parse(body) as { partitions: { regions: Record<string, unknown> }[] };
  return data.partitions.flatMap((p) => Object.keys(p.regions));
}

/** The regions the CLI accepts (its own check), from everything the SDK lists. */
async function acceptedRegions(): Promise<string[]> {
  const out: string[] = [];
  for (const r of listedRegions()) if (await checkRegion(r).then(() => true, () => false)) out.push(r);
  return out;
}

test('the container checks AWS_REGION with the CLI\'s own pattern, character for character', () => {
  const script = readFileSync(SCRIPT, 'utf8');
  const m = /^region_re='([^']*)'$/m.exec(script);
  assert.ok(m, 'ecs-cwlogs-agent-config defines region_re');
  assert.equal(m[1], REGION_PATTERN);
  // The same text means the same language in JavaScript and in bash's ERE only without escapes
  // that differ between them (\d, \w, \s, lookarounds).
  assert.doesNotMatch(REGION_PATTERN, /\\[dwsDWSbB]|\(\?/);
});

test('every region the CLI accepts passes the configuration generator, eusc-de-east-1 included', async () => {
  const regions = await acceptedRegions();
  assert.ok(regions.includes('eusc-de-east-1'), regions.join(' '));
  assert.ok(regions.length >= 30, `${regions.length} regions`);
  const rejected: string[] = [];
  for (const region of regions) {
    const r = spawnSync('bash', [SCRIPT], { env: { PATH: process.env.PATH, ECS_CWLOGS_IMDS: 'off', AWS_REGION: region }, encoding: 'utf8' });
    if (r.status !== 0 || (JSON.parse(r.stdout) as { agent: { region?: string } }).agent.region !== region) rejected.push(`${region}: ${r.stderr.trim()}`);
  }
  assert.deepEqual(rejected, []);
});

test('the logging container starts with AWS_REGION set to each region the CLI accepts', { skip, timeout: 300_000 }, async () => {
  const env = setup as DockerEnv;
  const image = await buildLoggingImage(env);
  const regions = await acceptedRegions();
  const name = `cwl-test-regions-${Date.now().toString(36)}`;
  await removeContainer(env.docker, name);
  try {
    // One full start (rsyslog, supervisord, the configuration) in the new partition...
    const c = await env.docker.createContainer({ name, Image: image, Env: ['ECS_CWLOGS_IMDS=off', 'AWS_REGION=eusc-de-east-1'] });
    await c.start();
    await waitFor('rsyslog to listen', async () => (await exec(env.docker, name, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/514'])).code === 0, 60_000, 200);
    const cfg = JSON.parse((await exec(env.docker, name, ['cat', '/etc/ecs-cwlogs/amazon-cloudwatch-agent.json'])).stdout) as { agent: { region?: string } };
    assert.equal(cfg.agent.region, 'eusc-de-east-1');
    assert.equal((await c.inspect()).State.Running, true);
    // ...and the entrypoint's start-up check (the step that refused eusc-de-east-1) for each region,
    // in that container, as `run` calls it.
    const script = `fail=; for r in ${regions.join(' ')}; do AWS_REGION=$r ecs-cwlogs-agent-config > /tmp/c.json 2>/tmp/e || fail="$fail $r:$(cat /tmp/e)"; grep -q "\\"region\\": \\"$r\\"" /tmp/c.json || fail="$fail $r:no-region"; done; echo "failed:$fail"`;
    const r = await exec(env.docker, name, ['bash', '-c', script]);
    assert.equal(r.stdout.trim(), 'failed:', r.stderr);
  } finally {
    await removeContainer(env.docker, name);
  }
});
