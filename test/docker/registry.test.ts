/**
 * The "is published" check against fake registries on 127.0.0.1: Basic auth (like registry:2 with
 * htpasswd) and Bearer tokens from a realm (like Docker Hub and most hosted registries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { manifestDigest, parseChallenge, tokenRealm } from '../../src/docker/registry.js';
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

// Issue 19, item 4: a Bearer realm gets the user's credentials only over HTTPS or on the registry's own host.
async function bearerRegistry(realm: (base: string) => string): Promise<Awaited<ReturnType<typeof serve>>> {
  return serve((req, res, base) => {
    if (req.headers.authorization !== 'Bearer T0K') {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${realm(base)}",service="test-registry"` }).end();
      return;
    }
    res.writeHead(200, { 'Docker-Content-Digest': DIGEST }).end();
  });
}

async function tokenServer(): Promise<Awaited<ReturnType<typeof serve>> & { auth: (string | undefined)[] }> {
  const auth: (string | undefined)[] = [];
  const s = await serve((req, res) => {
    auth.push(req.headers.authorization);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'T0K' }));
  });
  return Object.assign(s, { auth });
}

const CREDS = (host: string) => ({ serverAddress: host, username: 'u', password: 'p', source: 'test' });

test('a realm on another host over plain HTTP is refused before the credentials are sent', async () => {
  const tokens = await tokenServer();
  const port = tokens.host.split(':')[1];
  const reg = await bearerRegistry(() => `http://localhost:${port}/token`);
  try {
    await assert.rejects(manifestDigest(`${reg.host}/user/cwl:t1`, CREDS(reg.host)), (e: unknown) => {
      assert.ok(e instanceof DockerError);
      assert.match(e.message, new RegExp(`Refusing to send credentials for the registry ${reg.host} to http://localhost:${port}`));
      assert.match(e.message, /over plain HTTP on another host than the registry/);
      return true;
    });
    assert.deepEqual(tokens.requests, [], 'the token server got nothing');
    assert.throws(() => tokenRealm('ftp://auth.example/token', 'registry.example'), /over ftp, not HTTPS/);
    assert.throws(() => tokenRealm('not a url', 'registry.example'), /names a token server that is not a URL/);
    assert.throws(() => tokenRealm('http://auth.example/token', 'registry.example'), DockerError);
  } finally {
    reg.close();
    tokens.close();
  }
});

test("a realm on the registry's own host (another port, plain HTTP) gets them", async () => {
  const tokens = await tokenServer();
  const reg = await bearerRegistry(() => `http://${tokens.host}/token`);
  try {
    assert.equal(await manifestDigest(`${reg.host}/user/cwl:t1`, CREDS(reg.host)), DIGEST);
    assert.deepEqual(tokens.auth, [`Basic ${Buffer.from('u:p').toString('base64')}`]);
  } finally {
    reg.close();
    tokens.close();
  }
});

test('a realm on another host over HTTPS gets them (as auth.docker.io does for Docker Hub)', async () => {
  const reg = await bearerRegistry(() => 'https://auth.example/token');
  const seen: string[] = [];
  const f: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.startsWith('https://auth.example/')) {
      seen.push(`${url.split('?')[0]} ${new Headers(init?.headers).get('authorization')}`);
      return new Response(JSON.stringify({ token: 'T0K' }), { status: 200, headers: { 'Content-Type': 'application/json' } });
    }
    return fetch(input, init);
  };
  try {
    assert.equal(await manifestDigest(`${reg.host}/user/cwl:t1`, CREDS(reg.host), { fetch: f }), DIGEST);
    assert.deepEqual(seen, [`https://auth.example/token Basic ${Buffer.from('u:p').toString('base64')}`]);
  } finally {
    reg.close();
  }
});
