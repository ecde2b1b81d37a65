/**
 * Issue 18, item 4: local containers carry their sandbox's identity. Two sandboxes of one stack name,
 * each from its own config directory, on one Docker engine: both run their task, and `down` in one
 * leaves the other's containers running (and the other's network).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { labelled, sandboxIdentity, SANDBOX_LABEL } from '../../src/sandbox/local/labels.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { buildLoggingImage, dockerEnv, type DockerEnv } from './docker-helpers.js';
import { buildHttpdLike, NOTHING, tearDownStack } from './local-helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

const stack = `twin-${Date.now().toString(36)}`;
const sides: { configDir: string; env: NodeJS.ProcessEnv; sandbox: string }[] = [];

// Cleanup whatever failed before: down in each, then every sandbox process of the stack there (by
// its command line, not only its record) and its containers; nothing of either may remain.
after(async () => {
  const left = [];
  for (const s of sides) left.push((await tearDownStack(env.docker, { configDir: s.configDir, stack, env: s.env }, { owner: { stack, sandbox: s.sandbox } })).remaining);
  assert.deepEqual(left, sides.map(() => NOTHING), 'no container of the stack and no sandbox process of it remain');
});

test('two sandboxes with one stack name: down in one leaves the other running', { skip, timeout: 600_000 }, async () => {
  const [logging, httpd] = await Promise.all([buildLoggingImage(env), buildHttpdLike(env)]);
  for (let i = 0; i < 2; i++) {
    const configDir = tempConfigDir();
    const side = { configDir, env: cliEnv(configDir), sandbox: sandboxIdentity(join(configDir, 'sandbox', `${stack}.local`)) };
    sides.push(side);
    const up = await runCli(['up', '--sandbox', '--local', '--yes', '--json', '--stack', stack, '--image', logging, '--app-image', httpd], side.env, { timeoutMs: 240_000 });
    assert.equal(up.code, 0, up.stderr);
  }
  const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
  assert.notEqual(a.sandbox, b.sandbox);
  const running = async (s: typeof a) => (await labelled(env.docker, { stack, sandbox: s.sandbox })).containers.filter((c) => c.state === 'running');
  const bBefore = await running(b);
  assert.ok((await running(a)).length >= 2, "A's task runs (httpd and the logging container)");
  assert.ok(bBefore.length >= 2, "B's task runs: starting B's sandbox did not remove A's containers, nor A's B's");
  for (const c of (await labelled(env.docker, stack)).containers) {
    const info = await env.docker.getContainer(c.id).inspect();
    assert.ok([a.sandbox, b.sandbox].includes(info.Config.Labels[SANDBOX_LABEL]!), `${c.name} carries its sandbox's identity`);
  }

  const down = await runCli(['down', '--sandbox', '--yes', '--stack', stack], a.env, { timeoutMs: 180_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual((await labelled(env.docker, { stack, sandbox: a.sandbox })).containers, [], "A's containers are gone");
  const bAfter = await running(b);
  assert.deepEqual(bAfter.map((c) => c.id).sort(), bBefore.map((c) => c.id).sort(), "B's containers still run, untouched");
  assert.ok((await labelled(env.docker, { stack, sandbox: b.sandbox })).networks.length >= 1, "B's network is still there");
});
