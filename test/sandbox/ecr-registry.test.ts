/**
 * The sandbox's ECR registry on loopback: the Docker Registry HTTP API v2 behind repositoryUri and
 * GetAuthorizationToken, spoken here with fetch exactly as dockerd speaks it on a push (version
 * check, Basic challenge, blob HEAD, chunked upload, manifest PUT), and what ECR then shows.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { ecr as ecrModule } from '../../src/sandbox/services/ecr.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

let sb: RunningSandbox;
let ecr: ECRClient;
const statePath = join(mkdtempSync(join(tmpdir(), 'cwl-ecr-registry-')), 'state.json');

const client = (url: string, region = 'us-east-1') =>
  new ECRClient({ region, endpoint: url, credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' }, maxAttempts: 1 });

before(async () => {
  sb = await startSandbox({ services: [ecrModule], statePath, credentials: TEST_KEYS });
  ecr = client(sb.url);
});

after(async () => {
  ecr.destroy();
  await sb.close();
});

const digestOf = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function login(c = ecr): Promise<{ base: string; auth: string }> {
  const data = (await c.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
  return { base: data.proxyEndpoint!, auth: `Basic ${data.authorizationToken}` };
}

/** A push as dockerd does it: HEAD blob, POST upload, PATCH chunks, PUT ?digest=, then the manifest. */
async function pushImage(base: string, auth: string, name: string, tag: string, layer: Buffer): Promise<Response> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }));
  for (const blob of [layer, config]) {
    const d = digestOf(blob);
    const head = await fetch(`${base}/v2/${name}/blobs/${d}`, { method: 'HEAD', headers: { Authorization: auth } });
    assert.equal(head.status, 404);
    const start = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: { Authorization: auth } });
    assert.equal(start.status, 202);
    let location = start.headers.get('location')!;
    const half = Math.floor(blob.length / 2);
    for (const chunk of [blob.subarray(0, half), blob.subarray(half)]) {
      const patch = await fetch(new URL(location, base), { method: 'PATCH', body: new Uint8Array(chunk), headers: { Authorization: auth, 'Content-Type': 'application/octet-stream' } });
      assert.equal(patch.status, 202);
      location = patch.headers.get('location')!;
    }
    const put = new URL(location, base);
    put.searchParams.set('digest', d);
    const done = await fetch(put, { method: 'PUT', headers: { Authorization: auth } });
    assert.equal(done.status, 201);
    assert.equal(done.headers.get('docker-content-digest'), d);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: digestOf(config) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: digestOf(layer) }],
  });
  return fetch(`${base}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { Authorization: auth, 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' },
  });
}

test('repositoryUri and proxyEndpoint name one loopback registry per region, stable across describes', async () => {
  const { repository } = await ecr.send(new CreateRepositoryCommand({ repositoryName: 'cwl/logger' }));
  const { base } = await login();
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(repository!.repositoryUri, `${new URL(base).host}/cwl/logger`);
  const again = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['cwl/logger'] }));
  assert.equal(again.repositories![0]!.repositoryUri, repository!.repositoryUri);
  const west = client(sb.url, 'eu-west-1');
  try {
    const other = await login(west);
    assert.notEqual(other.base, base, 'each region has its own registry host, as in AWS');
  } finally {
    west.destroy();
  }
});

test('the registry asks for the token: 401 with a Basic challenge, a forged or other-region token is refused', async () => {
  const { base, auth } = await login();
  const bare = await fetch(`${base}/v2/`);
  assert.equal(bare.status, 401);
  assert.match(bare.headers.get('www-authenticate') ?? '', /^Basic realm="/);
  assert.equal(bare.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.equal((await fetch(`${base}/v2/`, { headers: { Authorization: auth } })).status, 200);
  const forged = `Basic ${Buffer.from(`AWS:${Buffer.from(JSON.stringify({ payload: 'x', expiration: 9e9 })).toString('base64')}`).toString('base64')}`;
  assert.equal((await fetch(`${base}/v2/`, { headers: { Authorization: forged } })).status, 401);
  const west = client(sb.url, 'eu-west-1');
  try {
    const other = await login(west);
    assert.equal((await fetch(`${base}/v2/`, { headers: { Authorization: other.auth } })).status, 401, 'a token is for its region');
  } finally {
    west.destroy();
  }
});

test('a push lands in the repository: DescribeImages lists it, the manifest is served by tag and digest', async () => {
  await ecr.send(new CreateRepositoryCommand({ repositoryName: 'pushed' }));
  const { base, auth } = await login();
  const layer = Buffer.from('layer bytes '.repeat(1000));
  const res = await pushImage(base, auth, 'pushed', 'v1', layer);
  assert.equal(res.status, 201);
  const digest = res.headers.get('docker-content-digest')!;
  const images = await ecr.send(new DescribeImagesCommand({ repositoryName: 'pushed' }));
  assert.deepEqual(images.imageDetails!.map((i) => [i.imageDigest, i.imageTags]), [[digest, ['v1']]]);
  const head = await fetch(`${base}/v2/pushed/manifests/v1`, { method: 'HEAD', headers: { Authorization: auth } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('docker-content-digest'), digest);
  const body = await (await fetch(`${base}/v2/pushed/manifests/${digest}`, { headers: { Authorization: auth } })).text();
  assert.equal(digestOf(body), digest);
  const blob = await fetch(`${base}/v2/pushed/blobs/${digestOf(layer)}`, { headers: { Authorization: auth } });
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), layer);
  // The same push again is accepted (docker repeats itself), and changes nothing.
  assert.equal((await pushImage(base, auth, 'pushed', 'v1', Buffer.from('another layer'))).status, 201);
  const after = await ecr.send(new DescribeImagesCommand({ repositoryName: 'pushed' }));
  assert.equal(after.imageDetails!.length, 2);
  assert.deepEqual(after.imageDetails!.find((i) => i.imageDigest === digest)!.imageTags, undefined, 'the tag moved to the new image');
});

test('ECR refusals: a missing repository (NAME_UNKNOWN), a manifest without its blobs (MANIFEST_BLOB_UNKNOWN), an immutable tag', async () => {
  const { base, auth } = await login();
  const missing = await fetch(`${base}/v2/nope/blobs/uploads/`, { method: 'POST', headers: { Authorization: auth } });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { errors: { code: string }[] }).errors[0]!.code, 'NAME_UNKNOWN');

  await ecr.send(new CreateRepositoryCommand({ repositoryName: 'strict', imageTagMutability: 'IMMUTABLE' }));
  const bare = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 2, digest: digestOf('{}x') },
    layers: [],
  });
  const orphan = await fetch(`${base}/v2/strict/manifests/v1`, { method: 'PUT', body: bare, headers: { Authorization: auth, 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(orphan.status, 400);
  assert.equal(((await orphan.json()) as { errors: { code: string }[] }).errors[0]!.code, 'MANIFEST_BLOB_UNKNOWN');

  assert.equal((await pushImage(base, auth, 'strict', 'v1', Buffer.from('one'))).status, 201);
  const moved = await pushImage(base, auth, 'strict', 'v1', Buffer.from('two'));
  assert.equal(moved.status, 400);
  assert.equal(((await moved.json()) as { errors: { code: string }[] }).errors[0]!.code, 'TAG_INVALID');
});

test('a restarted sandbox serves the same registry host and the images pushed before', async () => {
  const { base, auth } = await login();
  const head = await fetch(`${base}/v2/pushed/manifests/v1`, { method: 'HEAD', headers: { Authorization: auth } });
  const digest = head.headers.get('docker-content-digest');
  ecr.destroy();
  await sb.close();
  sb = await startSandbox({ services: [ecrModule], statePath, credentials: TEST_KEYS });
  ecr = client(sb.url);
  const again = await login();
  assert.equal(again.base, base, 'the port is kept in the state');
  const res = await fetch(`${again.base}/v2/pushed/manifests/v1`, { method: 'HEAD', headers: { Authorization: again.auth } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-content-digest'), digest);
});
