import assert from 'node:assert/strict';
import { rejects } from './support.js';
import { after, before, test } from 'node:test';
import {
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ListTagsForResourceCommand,
  PutImageCommand,
  TagResourceCommand,
} from '@aws-sdk/client-ecr';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { ecr as ecrModule } from '../../src/sandbox/services/ecr.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

let sb: RunningSandbox;
let ecr: ECRClient;

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, services: [ecrModule] });
  ecr = new ECRClient({
    region: 'us-east-1',
    endpoint: sb.url,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
});

after(async () => {
  ecr.destroy();
  await sb.close();
});


test('repositories: create, duplicate, describe, not found, tags, delete', async () => {
  const { repository } = await ecr.send(
    new CreateRepositoryCommand({ repositoryName: 'ecs-cwlogs/logger', tags: [{ Key: 'stack', Value: 'test' }] }),
  );
  // The sandbox's registry is on loopback: a rehearsal's push never resolves an AWS host.
  assert.match(repository?.repositoryUri ?? '', /^127\.0\.0\.1:\d+\/ecs-cwlogs\/logger$/);
  assert.equal(repository?.repositoryArn, 'arn:aws:ecr:us-east-1:123456789012:repository/ecs-cwlogs/logger');
  assert.ok(repository?.createdAt instanceof Date);
  await rejects(ecr.send(new CreateRepositoryCommand({ repositoryName: 'ecs-cwlogs/logger' })), 'RepositoryAlreadyExistsException');
  await rejects(ecr.send(new CreateRepositoryCommand({ repositoryName: 'Upper Case' })), 'InvalidParameterException');
  await rejects(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['nope'] })), 'RepositoryNotFoundException');

  const arn = repository!.repositoryArn!;
  await ecr.send(new TagResourceCommand({ resourceArn: arn, tags: [{ Key: 'owner', Value: 'me' }] }));
  const { tags } = await ecr.send(new ListTagsForResourceCommand({ resourceArn: arn }));
  assert.deepEqual(tags, [
    { Key: 'stack', Value: 'test' },
    { Key: 'owner', Value: 'me' },
  ]);

  // No registry behind the sandbox: a new repository has no images.
  const images = await ecr.send(new DescribeImagesCommand({ repositoryName: 'ecs-cwlogs/logger' }));
  assert.deepEqual(images.imageDetails, []);
  await rejects(ecr.send(new DescribeImagesCommand({ repositoryName: 'ecs-cwlogs/logger', imageIds: [{ imageTag: 'latest' }] })), 'ImageNotFoundException');
  await rejects(ecr.send(new DescribeImagesCommand({ repositoryName: 'nope' })), 'RepositoryNotFoundException');

  await ecr.send(new DeleteRepositoryCommand({ repositoryName: 'ecs-cwlogs/logger' }));
  await rejects(ecr.send(new DeleteRepositoryCommand({ repositoryName: 'ecs-cwlogs/logger' })), 'RepositoryNotFoundException');
});

test('a repository with an image cannot be deleted without force', async () => {
  await ecr.send(new CreateRepositoryCommand({ repositoryName: 'full' }));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 100, digest: 'sha256:' + '0'.repeat(64) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 1000, digest: 'sha256:' + '1'.repeat(64) }],
  });
  const put = await ecr.send(new PutImageCommand({ repositoryName: 'full', imageManifest: manifest, imageTag: 'v1' }));
  const digest = put.image?.imageId?.imageDigest;
  assert.match(digest ?? '', /^sha256:[0-9a-f]{64}$/);
  await rejects(ecr.send(new PutImageCommand({ repositoryName: 'full', imageManifest: manifest, imageTag: 'v1' })), 'ImageAlreadyExistsException');

  const byTag = await ecr.send(new DescribeImagesCommand({ repositoryName: 'full', imageIds: [{ imageTag: 'v1' }] }));
  assert.equal(byTag.imageDetails?.[0].imageDigest, digest);
  assert.equal(byTag.imageDetails?.[0].imageSizeInBytes, 1100);

  await rejects(ecr.send(new DeleteRepositoryCommand({ repositoryName: 'full' })), 'RepositoryNotEmptyException');
  await ecr.send(new DeleteRepositoryCommand({ repositoryName: 'full', force: true }));
});

test('DescribeRepositories paginates with pageSize 1', async () => {
  for (const n of ['r1', 'r2', 'r3']) await ecr.send(new CreateRepositoryCommand({ repositoryName: n }));
  sb.world.settings.pageSize = 1;
  try {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await ecr.send(new DescribeRepositoriesCommand({ nextToken: token }));
      names.push(...(page.repositories ?? []).map((r) => r.repositoryName!));
      token = page.nextToken;
    } while (token);
    assert.deepEqual(names, ['r1', 'r2', 'r3']);
  } finally {
    sb.world.settings.pageSize = 0;
  }
});

test('GetAuthorizationToken: base64 AWS:<token>, proxy endpoint, expiry', async () => {
  const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
  const data = authorizationData![0];
  assert.match(Buffer.from(data.authorizationToken!, 'base64').toString(), /^AWS:.+/);
  assert.match(data.proxyEndpoint ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(data.expiresAt!.getTime() > Date.now() + 11 * 3_600_000);
});
