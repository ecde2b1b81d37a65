/**
 * The "is published" check against fake registries on 127.0.0.1: Basic auth (like registry:2 with
 * htpasswd) and Bearer tokens from a realm (like Docker Hub and most hosted registries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { manifestDigest, parseChallenge } from '../../src/docker/registry.js';
import { DockerError } from '../../src/core/errors.js';

const DIGEST = `sha256:${'b'.repeat(64)}`;

async function serve(handler: (req: IncomingMessage, res: ServerResponse, base: string) => void): Promise<{ host: string; close(): void; requests: string[] }> {
  const requests: string[] = [];
  let base = '';
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res, base);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  base = `http://${host}`;
  return { host, requests, close: () => server.close() };
}

test('Basic auth: 401 without credentials, the digest with them, undefined for a missing tag', async () => {
  const good = `Basic ${Buffer.from('ci:pw').toString('base64')}`;
  const reg = await serve((req, res) => {
    if (req.headers.authorization !== good) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' }).end();
      return;
    }
    assert.equal(req.method, 'HEAD');
    assert.match(String(req.headers.accept), /application\/vnd\.docker\.distribution\.manifest\.v2\+json/);
    if (req.url === '/v2/team/cwl/manifests/abc') res.writeHead(200, { 'Docker-Content-Digest': DIGEST }).end();
    else res.writeHead(404).end();
  });
  try {
    const creds = { serverAddress: reg.host, username: 'ci', password: 'pw', source: 'test' };
    assert.equal(await manifestDigest(`${reg.host}/team/cwl:abc`, creds), DIGEST);
    assert.equal(await manifestDigest(`${reg.host}/team/cwl:other`, creds), undefined);
    await assert.rejects(manifestDigest(`${reg.host}/team/cwl:abc`, undefined), (e: unknown) => {
      assert.ok(e instanceof DockerError);
      assert.match(e.message, /refused/);
      assert.match(e.message, /docker login/);
      return true;
    });
    await assert.rejects(manifestDigest(`${reg.host}/team/cwl:abc`, { ...creds, password: 'wrong' }), /refused.*HTTP 401/);
  } finally {
    reg.close();
  }
});

test('Bearer: a token from the realm with the repository scope, then the HEAD with it', async () => {
  const reg = await serve((req, res, base) => {
    const url = new URL(req.url ?? '/', base);
    if (url.pathname === '/token') {
      assert.equal(url.searchParams.get('service'), 'test-registry');
      assert.equal(url.searchParams.get('scope'), 'repository:user/cwl:pull');
      assert.equal(req.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'T0K' }));
      return;
    }
    if (req.headers.authorization !== 'Bearer T0K') {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${base}/token",service="test-registry",scope="repository:user/cwl:pull"` }).end();
      return;
    }
    res.writeHead(200, { 'Docker-Content-Digest': DIGEST }).end();
  });
  try {
    assert.equal(await manifestDigest(`${reg.host}/user/cwl:t1`, { serverAddress: reg.host, username: 'u', password: 'p', source: 'test' }), DIGEST);
    assert.deepEqual(reg.requests.map((r) => r.split('?')[0]), ['HEAD /v2/user/cwl/manifests/t1', 'GET /token', 'HEAD /v2/user/cwl/manifests/t1']);
  } finally {
    reg.close();
  }
});

test('an unreachable registry is a DockerError naming it', async () => {
  const reg = await serve(() => undefined);
  reg.close();
  await assert.rejects(manifestDigest(`${reg.host}/x/y:z`, undefined), /Cannot reach the registry 127\.0\.0\.1/);
});

test('WWW-Authenticate parsing', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
});
