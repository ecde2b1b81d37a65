/**
 * Issues 4 and 5 together: `up --repo` builds the logging image through the real Docker daemon,
 * pushes it to the authenticated local registry, and the task definition runs what was pushed,
 * by digest. The AWS side is the sandbox. Under CI this never skips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAwsClients } from '../../src/aws/clients.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';
import { dockerConfigDir, dockerEnv, type DockerEnv } from './docker-helpers.js';

const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

test('up --repo builds and pushes the image, and the task definition runs it by digest; a second up changes nothing', { skip, timeout: 900_000 }, async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const repo = `${env.registry}/ecs-cwlogs-up-${Date.now().toString(36)}`;
    const cli = cliEnv(tempConfigDir(), { DOCKER_CONFIG: dockerConfigDir(env) });
    const args = ['up', '--endpoint-url', sb.url, '--region', 'us-east-1', '--yes', '--json', '--repo', repo, '--base-image', env.baseImage, '--skip-agent', '--allow-cidr', '203.0.113.7/32'];
    const first = await runCli(args, cli, { timeoutMs: 900_000 });
    assert.equal(first.code, 0, first.stderr);
    const doc = JSON.parse(first.stdout);
    const imageRef: string = doc.outputs.image.imageRef;
    assert.match(imageRef, new RegExp(`^${repo.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
    assert.equal(doc.summary.image, imageRef);

    const aws = createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
    const td = await aws.ecs.describeTaskDefinition({ taskDefinition: 'cloudwatchlogs' });
    const logging = td.taskDefinition?.containerDefinitions?.find((c) => c.name === 'cloudwatchlogs');
    assert.equal(logging?.image, imageRef, 'the task definition runs exactly what was pushed');

    const before = sb.requestLog().length;
    const second = await runCli(args, cli, { timeoutMs: 300_000 });
    assert.equal(second.code, 0, second.stderr);
    const again = JSON.parse(second.stdout);
    assert.equal(again.outputs.image.imageRef, imageRef);
    assert.equal(again.outputs.image.built, false);
    assert.equal(again.outputs.image.pushed, false);
    assert.deepEqual(mutatingCalls(sb, before), []);
  });
});
