/**
 * The AWS CLI's conventions and the terminal's, through the real binary: region and profile sources,
 * one credential_process run per command, proxies, EPIPE, a 0x0 pty, per-service endpoint variables.
 * Everything stays on loopback: the proxy below refuses to tunnel anywhere else.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

let sb: RunningSandbox;
test.before(async () => {
  // The tests' own keys, and those their profiles and credential_process hand out.
  sb = await startSandbox({ credentials: [...TEST_KEYS, { accessKeyId: 'AKIDDEMO', secretAccessKey: 's' }, { accessKeyId: 'AKIDPROCESS', secretAccessKey: 's' }], port: 0, latency: 'none' });
});
test.after(async () => {
  await sb.close();
});

/** cliEnv without the static keys: credentials come from the files under test. */
function fileEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cliEnv(tempConfigDir(), { AWS_CONFIG_FILE: join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), ...extra });
  delete env.AWS_ACCESS_KEY_ID;
  delete env.AWS_SECRET_ACCESS_KEY;
  return env;
}

test('the tests run on Node 22.12 or later, and so does the binary', async () => {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  assert.ok(major > 22 || (major === 22 && minor >= 12), process.version);
  const r = spawnSync(process.execPath, ['-p', 'process.version'], { encoding: 'utf8' });
  assert.equal(r.stdout.trim(), process.version);
});

test('AWS_DEFAULT_REGION alone names the region', async () => {
  const env = cliEnv(tempConfigDir(), { AWS_DEFAULT_REGION: 'eu-west-2' });
  const r = await runCli(['down', '--yes', '--endpoint-url', sb.url], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /no resources in eu-west-2/);
  // AWS_REGION wins over it, as in the AWS CLI.
  const r2 = await runCli(['down', '--yes', '--endpoint-url', sb.url], { ...env, AWS_REGION: 'eu-central-1' });
  assert.match(r2.stdout, /no resources in eu-central-1/, r2.stderr);
});

test("a profile's region is used; an unknown profile says it is not found; regions come from the partition data", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-prof-'));
  writeFileSync(join(dir, 'config'), '[profile demo]\nregion = ap-southeast-2\n');
  writeFileSync(join(dir, 'credentials'), '[demo]\naws_access_key_id = AKIDDEMO\naws_secret_access_key = s\n');
  const ok = await runCli(['down', '--yes', '--endpoint-url', sb.url, '--profile', 'demo'], fileEnv(dir));
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /no resources in ap-southeast-2/);

  for (const [args, extra] of [[['--profile', 'nope'], {}], [[], { AWS_PROFILE: 'nope' }]] as const) {
    const r = await runCli(['status', '--endpoint-url', sb.url, '--region', 'us-east-1', ...args], fileEnv(dir, extra));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Profile "nope" not found/);
    assert.doesNotMatch(r.stderr, /No AWS region/);
  }

  const eusc = await runCli(['down', '--yes', '--endpoint-url', sb.url, '--region', 'eusc-de-east-1'], cliEnv(tempConfigDir()));
  assert.equal(eusc.code, 0, eusc.stderr);
  const bad = await runCli(['status', '--endpoint-url', sb.url, '--region', 'moon-base-1'], cliEnv(tempConfigDir()));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Invalid region "moon-base-1"/);
});

test('one credential_process run for one status (all clients share one provider); a failing one shows its own error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-proc-'));
  const count = join(dir, 'count');
  const good = join(dir, 'cred.sh');
  writeFileSync(good, `#!/bin/sh\necho run >> '${count}'\necho '{"Version":1,"AccessKeyId":"AKIDPROCESS","SecretAccessKey":"s"}'\n`);
  const bad = join(dir, 'bad.sh');
  writeFileSync(bad, '#!/bin/sh\necho "token expired, run the login first" >&2\nexit 3\n');
  chmodSync(good, 0o755);
  chmodSync(bad, 0o755);
  writeFileSync(join(dir, 'config'), `[profile proc]\nregion = us-east-1\ncredential_process = ${good}\n\n[profile broken]\nregion = us-east-1\ncredential_process = ${bad}\n`);
  writeFileSync(join(dir, 'credentials'), '');

  const r = await runCli(['status', '--endpoint-url', sb.url, '--profile', 'proc', '--json'], fileEnv(dir));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(count, 'utf8').trim().split('\n').length, 1, 'credential_process runs');

  const f = await runCli(['status', '--endpoint-url', sb.url, '--profile', 'broken'], fileEnv(dir));
  assert.equal(f.code, 1);
  assert.match(f.stderr, /credential_process of profile "broken" failed/);
  assert.match(f.stderr, /token expired, run the login first/);
});

interface Recorded {
  method: string;
  target: string;
}

/**
 * A small forwarding and CONNECT proxy on 127.0.0.1 that records what it is asked for. It forwards
 * plain-HTTP requests and tunnels only to 127.0.0.1; any other CONNECT (a real AWS host) is
 * recorded and refused with 403, so nothing leaves the machine. At most 500 requests are kept.
 */
async function startProxy(): Promise<{ url: string; seen: Recorded[]; close(): Promise<void> }> {
  const seen: Recorded[] = [];
  const sockets = new Set<Socket>();
  const record = (r: Recorded) => {
    if (seen.length < 500) seen.push(r);
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    record({ method: req.method ?? '', target: req.url ?? '' });
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (url.hostname !== '127.0.0.1') {
      res.writeHead(403).end('loopback only');
      return;
    }
    const up = httpRequest({ host: '127.0.0.1', port: url.port, method: req.method, path: `${url.pathname}${url.search}`, headers: req.headers }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, client: Socket) => {
    record({ method: 'CONNECT', target: req.url ?? '' });
    const [host, port] = (req.url ?? '').split(':');
    if (host !== '127.0.0.1') {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const up = netConnect(Number(port), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

test('HTTPS_PROXY: https calls to AWS go through the proxy (CONNECT), unless NO_PROXY covers the host', async () => {
  const proxy = await startProxy();
  try {
    const env = cliEnv(tempConfigDir(), { HTTPS_PROXY: proxy.url, AWS_MAX_ATTEMPTS: '1' });
    const r = await runCli(['status', '--region', 'us-east-1'], env, { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0); // the proxy refuses to tunnel to the real AWS: nothing leaves the machine
    assert.ok(proxy.seen.some((s) => s.method === 'CONNECT' && s.target === 'sts.us-east-1.amazonaws.com:443'), JSON.stringify(proxy.seen));
    assert.match(r.stderr, /Cannot reach AWS|Checking your AWS identity/);

    // An https:// endpoint on loopback (nothing listens): through the proxy, or direct when NO_PROXY covers it.
    proxy.seen.length = 0;
    const tls = ['status', '--region', 'us-east-1', '--endpoint-url', 'https://127.0.0.1:9'];
    await runCli(tls, env, { timeoutMs: 60_000 });
    assert.ok(proxy.seen.some((s) => s.method === 'CONNECT' && s.target === '127.0.0.1:9'), JSON.stringify(proxy.seen));
    proxy.seen.length = 0;
    const bypass = await runCli(tls, { ...env, NO_PROXY: 'localhost,127.0.0.1' }, { timeoutMs: 60_000 });
    assert.match(bypass.stderr, /ECONNREFUSED/);
    assert.deepEqual(proxy.seen, []);

    // An http:// endpoint is not what HTTPS_PROXY is for (the AWS CLI uses HTTP_PROXY there).
    proxy.seen.length = 0;
    const direct = await runCli(['status', '--region', 'us-east-1', '--endpoint-url', sb.url], env);
    assert.equal(direct.code, 0, direct.stderr);
    assert.deepEqual(proxy.seen, []);
  } finally {
    await proxy.close();
  }
});

test('HTTP_PROXY: the http:// sandbox endpoint goes through the proxy, unless NO_PROXY covers it', async () => {
  const proxy = await startProxy();
  try {
    const env = cliEnv(tempConfigDir(), { HTTP_PROXY: proxy.url });
    const via = await runCli(['status', '--region', 'us-east-1', '--endpoint-url', sb.url, '--json'], env);
    assert.equal(via.code, 0, via.stderr);
    assert.ok(proxy.seen.length >= 2, JSON.stringify(proxy.seen));
    assert.ok(proxy.seen.every((s) => s.method === 'POST' && s.target.startsWith(`${sb.url}/`)), JSON.stringify(proxy.seen));

    for (const noProxy of ['127.0.0.1', `127.0.0.1:${sb.port}`, '*']) {
      proxy.seen.length = 0;
      const r = await runCli(['status', '--region', 'us-east-1', '--endpoint-url', sb.url], { ...env, NO_PROXY: noProxy });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(proxy.seen, [], `NO_PROXY=${noProxy}`);
    }
  } finally {
    await proxy.close();
  }
});

test('status and up with only AWS_ENDPOINT_URL_<SERVICE> set: no --allow-cidr needed, the caller IP comes from that endpoint', async () => {
  const endpoints = Object.fromEntries(['ECS', 'EC2', 'IAM', 'SSM', 'STS', 'ECR', 'CLOUDWATCH_LOGS', 'RESOURCE_GROUPS_TAGGING_API', 'AUTO_SCALING', 'ELASTIC_LOAD_BALANCING_V2', 'CLOUDWATCH', 'SNS'].map((s) => [`AWS_ENDPOINT_URL_${s}`, sb.url]));
  const env = cliEnv(tempConfigDir(), { ...endpoints, AWS_REGION: 'us-east-1' });
  const status = await runCli(['status'], env);
  assert.equal(status.code, 0, status.stderr);
  assert.doesNotMatch(status.stderr, /public IP/);
  const up = await runCli(['up', '--yes', '--dry-run', '--image', 'example/cloudwatchlogs:latest'], env);
  assert.equal(up.code, 0, up.stderr);
  assert.match(`${up.stdout}${up.stderr}`, /127\.0\.0\.1\/32/);
});

test('`up --help | head -1`, 20 times: no EPIPE, exit 0', async () => {
  for (let i = 0; i < 20; i++) {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" up --help | head -1; exit "\${PIPESTATUS[0]}"`], { encoding: 'utf8', env: cliEnv(tempConfigDir()) });
    assert.equal(r.stderr, '', `run ${i}: ${r.stderr}`);
    assert.equal(r.status, 0, `run ${i}`);
    assert.match(r.stdout, /^Usage: ecs-cwlogs up/);
  }
});

test('up in a 0x0 pty ends, with plain lines and no cursor codes', { skip: existsSync('/usr/bin/script') ? false : 'needs script(1) from util-linux' }, async () => {
  const env = cliEnv(tempConfigDir(), { TERM: 'xterm-256color' });
  const cmd = `"${process.execPath}" "${BIN}" up --yes --endpoint-url ${sb.url} --region us-east-1 --image example/cloudwatchlogs:latest --allow-cidr 203.0.113.7/32`;
  // script(1) with stdin not a terminal gives the child a pty of 0 rows and 0 columns.
  const child = spawn('script', ['-qec', `stty size; ${cmd}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    if (out.length < 1_000_000) out += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  assert.match(out, /^0 0/m, 'the pty is 0x0');
  assert.equal(code, 0, out.slice(-2000));
  assert.ok(out.length < 50_000, `${out.length} bytes of output`);
  assert.doesNotMatch(out, /\u001b\[\d*[GKA]/, 'no cursor movement');
  assert.match(out, /ECS service/);
});

test('colour: NO_COLOR, FORCE_COLOR and --no-color', async () => {
  const env = cliEnv(tempConfigDir());
  delete env.NO_COLOR;
  const args = ['down', '--yes', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'colour'];
  const esc = /\u001b\[/;
  // Not a terminal: plain by default; FORCE_COLOR=1 colours anyway; --no-color and FORCE_COLOR=0 don't.
  assert.doesNotMatch((await runCli(args, env)).stderr, esc);
  const forced = await runCli(['status', '--endpoint-url', 'http://127.0.0.1:1', '--region', 'us-east-1'], { ...env, FORCE_COLOR: '1' });
  assert.match(forced.stderr, esc);
  const off = await runCli(['status', '--endpoint-url', 'http://127.0.0.1:1', '--region', 'us-east-1', '--no-color'], { ...env, FORCE_COLOR: '1' });
  assert.doesNotMatch(off.stderr, esc);
  const zero = await runCli(['status', '--endpoint-url', 'http://127.0.0.1:1', '--region', 'us-east-1'], { ...env, FORCE_COLOR: '0' });
  assert.doesNotMatch(zero.stderr, esc);
});

test('a policy written for one instance (no autoscaling:*, no elasticloadbalancing:*): up and down of one instance work, down says what it could not check', { timeout: 300_000 }, async () => {
  // Auto Scaling and ELBv2 answer AccessDenied to everything, as AWS does for a principal without them.
  const deny = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'text/xml' });
      res.end('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform this action</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>');
    });
  });
  await new Promise<void>((r) => deny.listen(0, '127.0.0.1', () => r()));
  const denied = `http://127.0.0.1:${(deny.address() as AddressInfo).port}`;
  // A sandbox of its own: the file's shared one holds the default-named stack of earlier tests.
  const sb = await startSandbox({ credentials: TEST_KEYS, port: 0, latency: 'none' });
  try {
    const endpoints = Object.fromEntries(['ECS', 'EC2', 'IAM', 'SSM', 'STS', 'ECR', 'CLOUDWATCH_LOGS', 'RESOURCE_GROUPS_TAGGING_API', 'CLOUDWATCH', 'SNS'].map((s) => [`AWS_ENDPOINT_URL_${s}`, sb.url]));
    const env = cliEnv(tempConfigDir(), { ...endpoints, AWS_ENDPOINT_URL_AUTO_SCALING: denied, AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: denied, AWS_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: '1' });
    const args = ['--stack', 'onlyone', '--yes'];
    const up = await runCli(['up', ...args, '--image', 'example/cloudwatchlogs:latest', '--allow-cidr', '203.0.113.7/32'], env, { timeoutMs: 240_000 });
    assert.equal(up.code, 0, up.stderr);
    const down = await runCli(['down', ...args, '--delete-logs'], env, { timeoutMs: 240_000 });
    assert.equal(down.code, 0, down.stderr);
    // The Tagging API has no Auto Scaling groups, and the group read was refused: not checked. It
    // covers load balancers, and shows none of this stack: nothing to delete, no ELB read.
    assert.match(down.stdout + down.stderr, /Auto Scaling group: not checked \(AccessDenied\)/);
    assert.match(down.stdout + down.stderr, /Load balancer: nothing of this stack to delete/);
    // And a group stack is not let off: there the same denial is an error.
    const group = await runCli(['up', '--stack', 'agroup', '--yes', '--instances', '2', '--image', 'example/cloudwatchlogs:latest', '--allow-cidr', '203.0.113.7/32'], env);
    assert.notEqual(group.code, 0, group.stderr);
    assert.match(group.stderr, /AccessDenied|not authorized/);
  } finally {
    deny.close();
    await sb.close();
  }
});
