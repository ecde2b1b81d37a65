/**
 * Issue 18, item 3: a rehearsal never leaves the machine. `up --sandbox --ecr` through the real
 * binary, with Docker and the CI base image: the logging image is built and pushed to the sandbox's
 * loopback ECR registry, and a recording of every host the CLI and its detached sandbox resolve or
 * connect to (test/helpers/net-recorder.ts, preloaded with NODE_OPTIONS) holds only loopback and
 * the Docker socket. The summary points at nothing in AWS.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAwsClients } from '../../src/aws/clients.js';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { outsideHosts } from '../helpers/net-log.js';
import { dockerEnv, type DockerEnv } from './docker-helpers.js';
import { NOTHING, tearDownStack, type Remains } from './local-helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

const RECORDER = join(PACKAGE_ROOT, 'dist', 'test', 'helpers', 'net-recorder.js');
const cleanups: (() => Promise<unknown>)[] = [];
/** What each stack's unconditional cleanup found remaining (down, then its sandbox processes by command line). */
const leftovers: Remains[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  assert.deepEqual(leftovers, leftovers.map(() => NOTHING), 'no container of the stack and no sandbox process of it remain');
});

test('up --sandbox --ecr pushes to a loopback registry and resolves no host outside this machine', { skip, timeout: 900_000 }, async () => {
  const configDir = tempConfigDir();
  const netLog = join(configDir, 'net.log');
  const stack = `reh-${Date.now().toString(36)}`;
  const cli = cliEnv(configDir, { NODE_OPTIONS: `--import=${RECORDER}`, ECS_CWLOGS_TEST_NET_LOG: netLog });
  cleanups.push(async () => leftovers.push((await tearDownStack(env.docker, { configDir, stack, env: cli })).remaining));
  const up = await runCli(['up', '--sandbox', '--yes', '--json', '--stack', stack, '--ecr', '--base-image', env.baseImage], cli, { timeoutMs: 900_000 });
  assert.equal(up.code, 0, up.stderr);
  const doc = JSON.parse(up.stdout);
  const imageRef: string = doc.outputs.image.imageRef;
  assert.match(imageRef, /^127\.0\.0\.1:\d+\/cloudwatchlogs@sha256:[0-9a-f]{64}$/, 'the image went to the loopback registry');
  const repo = imageRef.replace(/@.*$/, '');
  for (const tag of ['latest', doc.outputs.image.tag]) cleanups.push(() => env.docker.getImage(`${repo}:${tag}`).remove());
  assert.deepEqual(outsideHosts(netLog), [], `hosts outside this machine were resolved or contacted (recording ${netLog})`);

  // ECR shows what was pushed: the same digest.
  const rec = JSON.parse(readFileSync(join(configDir, 'sandbox', `${stack}.json`), 'utf8')) as { port: number; accessKeyId: string; secretAccessKey: string };
  const aws = createAwsClients({ region: 'us-east-1', endpoint: `http://127.0.0.1:${rec.port}`, credentials: { accessKeyId: rec.accessKeyId, secretAccessKey: rec.secretAccessKey } });
  const images = await aws.ecr.describeImages({ repositoryName: 'cloudwatchlogs' });
  assert.ok(images.imageDetails?.some((i) => i.imageDigest === imageRef.split('@')[1]), 'DescribeImages lists the pushed digest');

  // Nothing in the summary points at AWS: no console link, no public IP that answers nothing.
  assert.doesNotMatch(JSON.stringify(doc.summary), /amazonaws|console\.aws/);
  assert.equal(doc.summary.url, undefined, 'without --local a rehearsal has no reachable app');
  const text = await runCli(['status', '--sandbox', '--stack', stack], cli, { timeoutMs: 120_000 });
  assert.equal(text.code, 0, text.stderr);
  assert.deepEqual(outsideHosts(netLog), []);
});
