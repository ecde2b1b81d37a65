/**
 * Issue 13, images: where the app image cannot be pulled, `up --sandbox --local` says so plainly,
 * names --app-image, and stops before the plan: no mutating AWS call, no container.
 * The image is one the CI registry does not have (a pull there fails at once; Docker Hub is not
 * reachable offline, and would only be slower to say the same).
 */
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { dockerEnv, type DockerEnv } from './docker-helpers.js';
import { labelledNow, localStack, NOTHING, tearDownStack } from './local-helpers.js';

const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

test('an app image that cannot be pulled: a plain message naming --app-image, nothing created', { skip, timeout: 120_000 }, async () => {
  const s = await localStack(env, 'img');
  const missing = `${env.registry}/ecs-cwlogs-missing-${Date.now().toString(36)}/httpd:2.4`;
  const args = s.upArgs.map((a, i) => (s.upArgs[i - 1] === '--app-image' ? missing : a)).filter((a) => a !== '--json');
  try {
    const r = await s.cli(args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`The app image ${missing.replace(/[.]/g, '\\.')} is not on this Docker engine`));
    assert.match(r.stderr, /cannot pull it/, 'a loopback registry is asked, and says it has no such image');
    assert.match(r.stderr, /pass --app-image with an image this engine has/);
    // The sandbox it started for itself is gone with it (nothing lives in it), and its saved world
    // holds nothing: no mutating call was made.
    assert.equal(s.record(), undefined, 'no sandbox is left running');
    const saved = JSON.parse(readFileSync(join(s.configDir, 'sandbox', `${s.stack}.state.json`), 'utf8'));
    assert.deepEqual(Object.keys(saved.state.ecs.clusters), [], 'nothing was created');
    assert.deepEqual(Object.keys(saved.state.iam.roles), [], 'nothing was created');
    assert.deepEqual((await labelledNow(env.docker, s.stack)).containers, []);
  } finally {
    // Unconditional: down, then every sandbox process of the stack (by its command line, not only
    // its record) and its containers; nothing of it may remain.
    const { downCode, remaining } = await tearDownStack(env.docker, s);
    assert.deepEqual(remaining, NOTHING, 'no container of the stack and no sandbox process of it remain');
    assert.equal(downCode, 0, 'down --sandbox succeeds');
  }
});
