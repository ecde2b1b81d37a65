/**
 * Issue 18, item 5: `--local` works with no Docker Hub, from what the user has. With httpd:2.4 and
 * the Dockerfile's base absent, `up --sandbox --local --ecr` says how to go on naming only what this
 * engine has (the Debian base image), and with `--base-image` builds both images from it: the
 * logging image (pushed to the sandbox's loopback ECR) and an httpd-like app image
 * (templates/httpd-like), whose URL answers. Nothing outside this machine is resolved.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { dockerEnv, waitFor, type DockerEnv } from './docker-helpers.js';
import { get, NOTHING, tearDownStack } from './local-helpers.js';
import { outsideHosts } from '../helpers/net-log.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

const configDir = tempConfigDir();
const netLog = join(configDir, 'net.log');
const stack = `lbase-${Date.now().toString(36)}`;
const cli = cliEnv(configDir, { NODE_OPTIONS: `--import=${join(PACKAGE_ROOT, 'dist', 'test', 'helpers', 'net-recorder.js')}`, ECS_CWLOGS_TEST_NET_LOG: netLog });
const cleanups: (() => Promise<unknown>)[] = [];
// Cleanup whatever failed before: down, then every sandbox process of the stack (by its command
// line, not only its record) and its containers; nothing of it may remain.
after(async () => {
  if (skip) return;
  const { remaining } = await tearDownStack(env.docker, { configDir, stack, env: cli });
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  assert.deepEqual(remaining, NOTHING, 'no container of the stack and no sandbox process of it remain');
});

const hasHttpd = skip ? true : await env.docker.getImage('httpd:2.4').inspect().then(() => true, () => false);

test('without httpd:2.4 the error says how to go on, naming only what this engine has', { skip: skip || (hasHttpd && 'httpd:2.4 is on this engine'), timeout: 120_000 }, async () => {
  const r = await runCli(['up', '--sandbox', '--local', '--ecr', '--yes', '--stack', stack], cli, { timeoutMs: 120_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /The app image httpd:2\.4 is not on this Docker engine/);
  assert.ok(r.stderr.includes(`--base-image ${env.baseImage}`), `the hint names the base image this engine has:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /test\/docker|--repo/, 'no path the package lacks, no flag the user never gave');
});

test('up --sandbox --local --ecr --base-image builds both images from it and the app answers', { skip, timeout: 900_000 }, async () => {
  const r = await runCli(['up', '--sandbox', '--local', '--ecr', '--base-image', env.baseImage, '--yes', '--json', '--stack', stack], cli, { timeoutMs: 900_000 });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const imageRef: string = doc.outputs.image.imageRef;
  assert.match(imageRef, /^127\.0\.0\.1:\d+\/cloudwatchlogs@sha256:/);
  const repo = imageRef.replace(/@.*$/, '');
  for (const tag of ['latest', doc.outputs.image.tag]) cleanups.push(() => env.docker.getImage(`${repo}:${tag}`).remove());
  const td = doc.outputs.task?.taskDefinitionArn;
  assert.ok(td, 'a task definition');
  const url: string = doc.summary.url;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'the summary shows the local URL');
  await waitFor('the app to answer', async () => (await get(url).catch(() => 0)) === 200, 30_000, 250);
  const apps = (await env.docker.listImages()).flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith('ecs-cwlogs-httpd-like:'));
  assert.ok(apps.length >= 1, 'the httpd-like app image was built');
  assert.deepEqual(outsideHosts(netLog), []);
});
