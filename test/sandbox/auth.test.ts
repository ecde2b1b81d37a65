/**
 * Issue 19, item 2: the sandbox authenticates its callers. Signatures are verified (SigV4, header and
 * presigned), a failure gets AWS's own error per protocol, only its own Host is served, a request
 * from a web page (Origin) is refused, bodies are capped, and the control endpoints need a signature.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { request } from 'node:http';
import { test } from 'node:test';
import { DescribeLogGroupsCommand, CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { controlCall } from '../../src/cli/sandbox-mode.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { BODY_CAP } from '../../src/sandbox/server.js';
import { signRequest } from '../../src/sandbox/sigv4.js';

/** The checksum constructor the SDK's signer takes (SHA-256, or HMAC-SHA256 when given a secret). */
class Sha256 {
  private readonly h: ReturnType<typeof createHash>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined || typeof secret === 'string' ? secret : Buffer.from(ArrayBuffer.isView(secret) ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength) : new Uint8Array(secret));
    this.h = key === undefined ? createHash('sha256') : (createHmac('sha256', key) as unknown as ReturnType<typeof createHash>);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof data === 'string' ? data : Buffer.from(ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data)));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

const KEY = { accessKeyId: 'ASBXTESTKEY000000000', secretAccessKey: 'the-sandbox-secret/with+base64=' };

async function withAuthSandbox(fn: (sb: RunningSandbox) => Promise<void>): Promise<void> {
  const sb = await startSandbox({ latency: 'none', credentials: KEY });
  try {
    await fn(sb);
  } finally {
    await sb.close();
  }
}

function clients(sb: RunningSandbox, credentials: { accessKeyId: string; secretAccessKey: string }) {
  const config = { endpoint: sb.url, region: 'us-east-1', credentials, maxAttempts: 1 };
  return { sts: new STSClient(config), ecs: new ECSClient(config), ec2: new EC2Client(config), logs: new CloudWatchLogsClient(config) };
}

async function failure(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** A raw request over node:http, with whatever Host and headers a test wants. */
function raw(sb: RunningSandbox, o: { method?: string; path?: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: sb.port, method: o.method ?? 'POST', path: o.path ?? '/', headers: o.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body ?? '');
  });
}

const STS_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
const signedSts = (sb: RunningSandbox, extra: { now?: number; key?: typeof KEY } = {}) =>
  signRequest({ method: 'POST', url: `${sb.url}/`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: STS_BODY, credentials: extra.key ?? KEY, region: 'us-east-1', service: 'sts', now: extra.now });

test('the SDK signs with the sandbox key and is served, on every protocol', async () => {
  await withAuthSandbox(async (sb) => {
    const c = clients(sb, KEY);
    assert.match((await c.sts.send(new GetCallerIdentityCommand({}))).Account ?? '', /^\d{12}$/);
    assert.deepEqual((await c.ecs.send(new ListClustersCommand({}))).clusterArns, []);
    assert.ok(((await c.ec2.send(new DescribeVpcsCommand({}))).Vpcs ?? []).length > 0);
    assert.deepEqual((await c.logs.send(new DescribeLogGroupsCommand({}))).logGroups, []);
  });
});

test("another secret or an unknown key: each protocol's own error, status and message", async () => {
  await withAuthSandbox(async (sb) => {
    const wrong = clients(sb, { accessKeyId: KEY.accessKeyId, secretAccessKey: 'not-the-secret' });
    const unknown = clients(sb, { accessKeyId: 'AKIDSOMEONEELSE00000', secretAccessKey: KEY.secretAccessKey });
    const cases: [() => Promise<unknown>, string, number][] = [
      [() => wrong.sts.send(new GetCallerIdentityCommand({})), 'SignatureDoesNotMatch', 403],
      [() => unknown.sts.send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403],
      [() => wrong.ecs.send(new ListClustersCommand({})), 'InvalidSignatureException', 400],
      [() => unknown.ecs.send(new ListClustersCommand({})), 'UnrecognizedClientException', 400],
      [() => wrong.logs.send(new DescribeLogGroupsCommand({})), 'InvalidSignatureException', 400],
      [() => unknown.logs.send(new DescribeLogGroupsCommand({})), 'UnrecognizedClientException', 400],
      [() => wrong.ec2.send(new DescribeVpcsCommand({})), 'AuthFailure', 401],
      [() => unknown.ec2.send(new DescribeVpcsCommand({})), 'AuthFailure', 401],
    ];
    for (const [call, code, status] of cases) {
      const f = await failure(call());
      assert.deepEqual([f.name, f.status], [code, status], `${code}: ${f.message}`);
    }
    // Refused before the handler: nothing was served, each refusal is in the log with its code.
    assert.deepEqual(
      sb.requestLog().map((r) => r.errorCode),
      cases.map(([, code]) => code),
    );
  });
});

test('a request changed after signing, or signed more than 15 minutes away, is refused', async () => {
  await withAuthSandbox(async (sb) => {
    const good = signedSts(sb);
    assert.equal((await raw(sb, { headers: good, body: STS_BODY })).status, 200);
    // Another body under the same signature (its hash header no longer matches).
    const tampered = await raw(sb, { headers: good, body: 'Action=GetCallerIdentity&Version=2011-06-15&X=1' });
    assert.equal(tampered.status, 403);
    assert.match(tampered.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    // Another signed header's value.
    const retargeted = await raw(sb, { headers: { ...good, 'content-type': 'text/plain' }, body: STS_BODY });
    assert.match(retargeted.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    const old = await raw(sb, { headers: signedSts(sb, { now: Date.now() - 20 * 60_000 }), body: STS_BODY });
    assert.equal(old.status, 403);
    assert.match(old.body, /<Code>SignatureDoesNotMatch<\/Code><Message>Signature expired: \d{8}T\d{6}Z is now earlier than/);
  });
});

test('presigned (query-string) requests are verified too', async (t) => {
  let SignatureV4: typeof import('@smithy/signature-v4').SignatureV4;
  try {
    ({ SignatureV4 } = await import('@smithy/signature-v4'));
  } catch {
    t.skip('@smithy/signature-v4 is not installed');
    return;
  }
  await withAuthSandbox(async (sb) => {
    const presign = async (secretAccessKey: string) => {
      const signer = new SignatureV4({ credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey }, region: 'us-east-1', service: 'sts', sha256: Sha256 });
      const req = await signer.presign(
        { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: sb.port, path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers: { host: `127.0.0.1:${sb.port}` } },
        { expiresIn: 60 },
      );
      const qs = new URLSearchParams(req.query as Record<string, string>).toString();
      return raw(sb, { method: 'GET', path: `/?${qs}`, headers: { host: `127.0.0.1:${sb.port}` } });
    };
    const ok = await presign(KEY.secretAccessKey);
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /<GetCallerIdentityResult>/);
    const bad = await presign('not-the-secret');
    assert.equal(bad.status, 403);
    assert.match(bad.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  });
});

test('only its own Host is served, and no request that carries an Origin header', async () => {
  await withAuthSandbox(async (sb) => {
    const good = signedSts(sb);
    // A DNS-rebound page: same address, the attacker's name in Host (signed as sent, so only Host decides).
    const rebound = signRequest({ method: 'POST', url: `http://attacker.example:${sb.port}/`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: STS_BODY, credentials: KEY, region: 'us-east-1', service: 'sts' });
    const foreign = await raw(sb, { headers: rebound, body: STS_BODY });
    assert.equal(foreign.status, 403);
    assert.match(foreign.body, /serves only Host 127\.0\.0\.1:\d+, localhost:\d+/);
    const viaLocalhost = signRequest({ method: 'POST', url: `http://localhost:${sb.port}/`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: STS_BODY, credentials: KEY, region: 'us-east-1', service: 'sts' });
    assert.equal((await raw(sb, { headers: viaLocalhost, body: STS_BODY })).status, 200);

    // What a web page can send without a preflight: a form POST (here even validly signed).
    const fromPage = await raw(sb, { headers: { ...good, origin: 'http://attacker.example' }, body: STS_BODY });
    assert.equal(fromPage.status, 403);
    assert.match(fromPage.body, /Origin/);
    const settings = await raw(sb, { path: '/_sandbox/settings', headers: { host: `127.0.0.1:${sb.port}`, origin: 'null', 'content-type': 'text/plain' }, body: '{"throttleRate":1}' });
    assert.equal(settings.status, 403);
    assert.equal(sb.world.settings.throttleRate, 0);
  });
});

test('bodies are capped: a larger Content-Length is refused before it is read', async () => {
  await withAuthSandbox(async (sb) => {
    const big = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: sb.port, method: 'POST', path: '/', headers: { host: `127.0.0.1:${sb.port}`, 'content-length': String(BODY_CAP + 1) }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('Action=GetCallerIdentity');
    });
    assert.equal(big, 413);
    // The control endpoints take small documents only (64 KiB), even signed.
    const body = JSON.stringify({ pad: 'x'.repeat(100_000) });
    assert.equal((await controlCall(sb.port, KEY, '/_sandbox/settings', { method: 'POST', body, timeoutMs: 5000 })).status, 413);
  });
});

test('control endpoints need the signature (checkip, a stand-in for a public AWS endpoint, does not)', async () => {
  await withAuthSandbox(async (sb) => {
    const host = { host: `127.0.0.1:${sb.port}` };
    assert.equal((await raw(sb, { method: 'GET', path: '/_sandbox/health', headers: host })).status, 403);
    assert.equal((await raw(sb, { method: 'POST', path: '/_sandbox/settings', headers: host, body: '{"throttleRate":1}' })).status, 403);
    assert.equal(sb.world.settings.throttleRate, 0);
    assert.equal((await controlCall(sb.port, { ...KEY, secretAccessKey: 'wrong' }, '/_sandbox/state')).status, 403);
    const health = await controlCall(sb.port, KEY, '/_sandbox/health');
    assert.equal(health.status, 200);
    const h = (await health.json()) as { pid: number; inUse: Record<string, number> };
    assert.equal(h.pid, process.pid);
    assert.deepEqual(h.inUse, { instances: 0, autoScalingGroups: 0, loadBalancers: 0, services: 0, tasks: 0 });
    assert.equal((await raw(sb, { method: 'GET', path: '/_sandbox/checkip', headers: host })).body, '127.0.0.1\n');
  });
});

test("credentials 'none' (--no-auth) serves any signature, and startSandbox needs one or the other", async () => {
  const sb = await startSandbox({ latency: 'none', credentials: 'none' });
  try {
    const any = clients(sb, { accessKeyId: 'AKIDANYTHING', secretAccessKey: 'anything' });
    assert.match((await any.sts.send(new GetCallerIdentityCommand({}))).Account ?? '', /^\d{12}$/);
    // Host and Origin are still checked.
    assert.equal((await raw(sb, { headers: { host: 'attacker.example' }, body: STS_BODY })).status, 403);
  } finally {
    await sb.close();
  }
  await assert.rejects(startSandbox({} as never), /pass credentials/);
});
