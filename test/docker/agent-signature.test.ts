/**
 * The agent install step of docker/Dockerfile (docker/rootfs/usr/local/lib/ecs-cwlogs/install-agent.sh), offline: a fake agent .deb
 * and its detached signature, made with a throwaway key generated here, served over HTTP on
 * 127.0.0.1 to a build on the host network, with that key's URL and fingerprint substituted for
 * AWS's through the build arguments.
 *   - a good signature by the pinned key: the build passes, the package is installed, and it was
 *     fetched from ubuntu/<arch>/<version>/amazon-cloudwatch-agent.deb (+ .sig);
 *   - a tampered package, or a signature by another key than the pinned fingerprint: the build fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { packContext, readBuildContext } from '../../src/docker/build-context.js';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { dockerEnv, type DockerEnv } from './docker-helpers.js';

const setup = await dockerEnv();
const hasTools = ['gpg', 'dpkg-deb'].every((t) => {
  try {
    execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
const skip = typeof setup === 'string' ? setup : hasTools ? false : 'skipped: gpg and dpkg-deb are needed on the host';
if (skip) console.log(`# agent signature tests ${skip}`);
const env = setup as DockerEnv;

const run = `s${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const VERSION = '9.9.9-test';
const dir = mkdtempSync(join(tmpdir(), 'cwl-agent-sig-'));
const files = new Map<string, Buffer>();
const requests: string[] = [];
let server: Server;
let base = '';
let goodFpr = '';
let arch = '';
const built: string[] = [];

function gpg(home: string, args: string[], input?: Buffer): Buffer {
  return execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function newKey(name: string): { home: string; fpr: string; pub: Buffer } {
  const home = join(dir, name);
  mkdirSync(home, { mode: 0o700 });
  gpg(home, ['--quick-gen-key', `${name} <${name}@ecs-cwlogs.invalid>`, 'ed25519', 'sign', 'never']);
  const colons = gpg(home, ['--with-colons', '--fingerprint']).toString('utf8');
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  return { home, fpr, pub: gpg(home, ['--armor', '--export', fpr]) };
}

/** Build docker/ on the host network with the agent from the fake server; resolves with the error text, or '' on success. */
async function buildWith(docker: Docker, tag: string, variant: string, fpr: string): Promise<string> {
  const buildArgs = {
    BASE_IMAGE: env.baseImage,
    AGENT_VERSION: VERSION,
    AGENT_BASE_URL: `${base}/${variant}`,
    AGENT_KEY_URL: `${base}/key.gpg`,
    AGENT_KEY_FINGERPRINT: fpr,
  };
  const ctx = readBuildContext(join(PACKAGE_ROOT, 'docker'), { buildArgs });
  const stream = await docker.buildImage(packContext(ctx) as unknown as NodeJS.ReadableStream, { t: tag, buildargs: buildArgs, networkmode: 'host', rm: true, forcerm: true } as Docker.ImageBuildOptions);
  const events = await new Promise<{ error?: string; stream?: string }[]>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => (err ? reject(err) : resolve(out))));
  const err = events.find((e) => e.error);
  if (!err) built.push(tag);
  return err ? `${err.error}\n${events.map((e) => e.stream ?? '').join('')}` : '';
}

before(async () => {
  if (skip) return;
  arch = execFileSync('dpkg', ['--print-architecture']).toString('utf8').trim();
  const good = newKey('pinned');
  const other = newKey('other');
  goodFpr = good.fpr;
  // A minimal package that installs the agent's start script.
  const root = join(dir, 'pkg');
  const bin = join(root, 'opt', 'aws', 'amazon-cloudwatch-agent', 'bin');
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(root, 'DEBIAN', 'control'), `Package: amazon-cloudwatch-agent\nVersion: ${VERSION}\nArchitecture: ${arch}\nMaintainer: test <test@ecs-cwlogs.invalid>\nDescription: fake agent for the signature test\n`);
  writeFileSync(join(bin, 'start-amazon-cloudwatch-agent'), `#!/bin/sh\necho fake agent ${run}\n`);
  chmodSync(join(bin, 'start-amazon-cloudwatch-agent'), 0o755);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, join(dir, 'agent.deb')], { stdio: 'ignore' });
  const deb = readFileSync(join(dir, 'agent.deb'));
  const sign = (home: string, data: Buffer) => gpg(home, ['--detach-sign', '--output', '-'], data);
  const path = `ubuntu/${arch}/${VERSION}/amazon-cloudwatch-agent.deb`;
  files.set('/key.gpg', Buffer.concat([good.pub, other.pub])); // the key file may hold more keys: only the pinned one counts
  files.set(`/good/${path}`, deb);
  files.set(`/good/${path}.sig`, sign(good.home, deb));
  const tampered = Buffer.from(deb);
  tampered[tampered.length - 1] ^= 0xff;
  files.set(`/tampered/${path}`, tampered);
  files.set(`/tampered/${path}.sig`, sign(good.home, deb));
  files.set(`/otherkey/${path}`, deb);
  files.set(`/otherkey/${path}.sig`, sign(other.home, deb));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = files.get(req.url ?? '');
    res.statusCode = body ? 200 : 404;
    res.end(body ?? 'not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  if (skip) return;
  server.close();
  for (const tag of built) await env.docker.getImage(tag).remove({ force: true }).catch(() => undefined);
});

test('a good signature by the pinned key: the build passes and installs the agent from ubuntu/<arch>/<version>/', { skip, timeout: 600_000 }, async () => {
  const tag = `ecs-cwlogs-test-agent-sig:${run}`;
  const err = await buildWith(env.docker, tag, 'good', goodFpr);
  assert.equal(err, '', err);
  assert.ok(requests.includes(`/good/ubuntu/${arch}/${VERSION}/amazon-cloudwatch-agent.deb`), requests.join(' '));
  assert.ok(requests.includes(`/good/ubuntu/${arch}/${VERSION}/amazon-cloudwatch-agent.deb.sig`));
  const c = await env.docker.createContainer({ Image: tag, Entrypoint: ['/opt/aws/amazon-cloudwatch-agent/bin/start-amazon-cloudwatch-agent'] });
  try {
    await c.start();
    await c.wait();
    assert.match((await c.logs({ stdout: true, stderr: true })).toString('utf8'), new RegExp(`fake agent ${run}`));
  } finally {
    await c.remove({ force: true });
  }
});

test('a tampered package fails the build', { skip, timeout: 300_000 }, async () => {
  const err = await buildWith(env.docker, `ecs-cwlogs-test-agent-sig:${run}-tampered`, 'tampered', goodFpr);
  assert.match(err, /does not verify/, err);
});

test('a signature by a key other than the pinned fingerprint fails the build', { skip, timeout: 300_000 }, async () => {
  const err = await buildWith(env.docker, `ecs-cwlogs-test-agent-sig:${run}-otherkey`, 'otherkey', goodFpr);
  assert.match(err, /does not verify/, err);
});

test('a key file without the pinned key fails the build', { skip, timeout: 300_000 }, async () => {
  const err = await buildWith(env.docker, `ecs-cwlogs-test-agent-sig:${run}-nokey`, 'good', 'A'.repeat(40));
  assert.match(err, /does not hold the key/, err);
});
