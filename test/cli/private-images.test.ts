/**
 * Private images at plan time: the instance pulls without credentials (no repositoryCredentials), so
 * `up` asks each registry for an anonymous pull first. A private one is refused before any write; a
 * registry that answers anonymously passes; one that cannot be reached only warns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anonymousPull } from '../../src/docker/pullable.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, withSandbox } from '../helpers/sandbox-context.js';

const upArgs = (url: string, ...rest: string[]) => ['up', '--endpoint-url', url, '--region', 'us-east-1', '--stack', 'pulls', '--yes', '--allow-cidr', '203.0.113.7/32', ...rest];

/** A registry speaking the v2 API with the Bearer token flow; repositories under private/ get no anonymous token. */
async function fakeRegistry() {
  const seen: { url: string; authorization?: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const { port } = server.address() as AddressInfo;
    const u = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (u.pathname === '/token') {
      const scope = u.searchParams.get('scope') ?? '';
      if (scope.includes(':private/')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `anon-${scope}` }));
      return;
    }
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(u.pathname);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    if (!req.headers.authorization?.startsWith('Bearer anon-')) {
      res
        .writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="fake",scope="repository:${m[1]}:pull"` })
        .end();
      return;
    }
    res.writeHead(200, { 'docker-content-digest': `sha256:${'a'.repeat(64)}`, 'content-type': 'application/vnd.oci.image.index.v1+json' }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('anonymous pull check: pullable through the anonymous token flow, private when the token is refused, unknown when unreachable', async () => {
  const reg = await fakeRegistry();
  try {
    assert.equal((await anonymousPull(`${reg.host}/public/cwl:1`)).status, 'pullable');
    const priv = await anonymousPull(`${reg.host}/private/cwl:1`);
    assert.equal(priv.status, 'private');
    assert.match(priv.why, /no anonymous token \(HTTP 401\)/);
    assert.ok(reg.seen.every((r) => !r.authorization || r.authorization.startsWith('Bearer anon-')), 'no credentials were ever sent');
  } finally {
    await reg.close();
  }
  const gone = await anonymousPull('registry.example/cloudwatchlogs:1');
  assert.equal(gone.status, 'unknown');
  const closed = await anonymousPull('127.0.0.1:9/x/y:1');
  assert.equal(closed.status, 'unknown');
});

test('up passes the check when both images are readable anonymously (and says nothing about them)', async () => {
  const reg = await fakeRegistry();
  try {
    await withSandbox({}, async (sb) => {
      const up = await runCli(upArgs(sb.url, '--image', `${reg.host}/public/cwl:1`, '--app-image', `${reg.host}/library/httpd:2.4`), cliEnv(tempConfigDir()));
      assert.equal(up.code, 0, up.stderr);
      assert.doesNotMatch(up.stderr + up.stdout, /Cannot tell whether|cannot pull/i);
      const manifests = reg.seen.filter((r) => r.url.includes('/manifests/') && r.authorization);
      assert.deepEqual([...new Set(manifests.map((r) => r.url))].sort(), ['/v2/library/httpd/manifests/2.4', '/v2/public/cwl/manifests/1']);
    });
  } finally {
    await reg.close();
  }
});

test('up refuses a private app image at plan time, naming it and what to do; 0 mutating calls', async () => {
  const reg = await fakeRegistry();
  try {
    await withSandbox({}, async (sb) => {
      const up = await runCli(upArgs(sb.url, '--image', `${reg.host}/public/cwl:1`, '--app-image', `${reg.host}/private/httpd:2.4`), cliEnv(tempConfigDir()));
      assert.equal(up.code, 2, up.stderr);
      assert.match(up.stderr, /cannot pull an image without credentials/);
      assert.match(up.stderr, new RegExp(`the app image ${reg.host.replace(/\./g, '\\.')}/private/httpd:2\\.4`));
      assert.match(up.stderr, /--app-image/);
      assert.match(up.stderr, /repositoryCredentials/);
      assert.deepEqual(mutatingCalls(sb), []);
    });
  } finally {
    await reg.close();
  }
});

// The CI registry (htpasswd, as .ci/setup-docker.sh starts it) holds only private repositories.
const ciRegistry = process.env.ECS_CWLOGS_TEST_REGISTRY;
const skipCi = ciRegistry ? false : 'ECS_CWLOGS_TEST_REGISTRY is not set (source /tmp/ecs-cwlogs-ci.env: the htpasswd registry on 127.0.0.1:5000)';
if (skipCi) console.log(`# private-images: ${skipCi}`);

test('up refuses a logging image in a private registry (htpasswd) at plan time, pointing to --ecr; 0 mutating calls', { skip: skipCi }, async () => {
  await withSandbox({}, async (sb) => {
    const up = await runCli(upArgs(sb.url, '--image', `${ciRegistry}/ecs-cwlogs-private/cloudwatchlogs:1`), cliEnv(tempConfigDir()));
    assert.equal(up.code, 2, up.stderr);
    assert.match(up.stderr, /cannot pull an image without credentials/);
    assert.match(up.stderr, /the logging image 127\.0\.0\.1:5000\/ecs-cwlogs-private\/cloudwatchlogs:1: [^\n]*asks for credentials \(HTTP 401, basic challenge\)/);
    assert.match(up.stderr, /--ecr/);
    assert.match(up.stderr, /Nothing was changed/);
    assert.deepEqual(mutatingCalls(sb), []);
  });
});
