/**
 * Registry credentials from a docker config file, as the docker CLI reads it: auths, credsStore and
 * credHelpers through docker-credential-* helpers (a fake helper script on a temporary PATH).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAuth, dockerAuthConfig, resolveRegistryAuth } from '../../src/docker/auth.js';
import { DockerError } from '../../src/core/errors.js';
import { parseReference } from '../../src/docker/reference.js';

function setup(config: object): { dir: string; env: NodeJS.ProcessEnv; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-auth-'));
  const bin = join(dir, 'bin');
  const log = join(dir, 'helper.log');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  // A helper that knows two servers; it logs what it was asked (never the secret).
  const helper = `#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
echo "$(basename "$0") $server" >> "${log}"
case "$server" in
  helper.example.com) printf '{"ServerURL":"%s","Username":"hu","Secret":"hs"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hubuser","Secret":"hubpass"}' "$server" ;;
  token.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-tok"}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
  mkdirSync(bin, { recursive: true });
  for (const name of ['test', 'other']) {
    writeFileSync(join(bin, `docker-credential-${name}`), helper);
    chmodSync(join(bin, `docker-credential-${name}`), 0o755);
  }
  return { dir, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: dir }, log };
}

test('auths: base64 user:password, found by hostname whatever the key form', async () => {
  const auth = Buffer.from('ci:s3cret:with:colons').toString('base64');
  const { env } = setup({ auths: { 'http://127.0.0.1:5000/v2/': { auth }, 'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') } } });
  const c = await resolveRegistryAuth('127.0.0.1:5000', { env });
  assert.equal(c?.username, 'ci');
  assert.equal(c?.password, 's3cret:with:colons');
  assert.equal(c?.serverAddress, '127.0.0.1:5000');
  const hub = await resolveRegistryAuth(parseReference('user/cloudwatchlogs').registry, { env });
  assert.equal(hub?.username, 'hub');
  assert.equal(hub?.serverAddress, 'https://index.docker.io/v1/');
  assert.equal(await resolveRegistryAuth('elsewhere.example.com', { env }), undefined);
});

test('credHelpers win over credsStore, which wins over auths; "not found" falls through to auths', async () => {
  const { env, log } = setup({
    credsStore: 'other',
    credHelpers: { 'helper.example.com': 'test' },
    auths: { 'plain.example.com': { auth: Buffer.from('pu:pp').toString('base64') }, 'helper.example.com': {} },
  });
  const h = await resolveRegistryAuth('helper.example.com', { env });
  assert.deepEqual([h?.username, h?.password, h?.source], ['hu', 'hs', 'credHelpers (test)']);
  const hub = await resolveRegistryAuth('docker.io', { env });
  assert.deepEqual([hub?.username, hub?.password, hub?.source], ['hubuser', 'hubpass', 'credsStore (other)']);
  const plain = await resolveRegistryAuth('plain.example.com', { env });
  assert.deepEqual([plain?.username, plain?.password], ['pu', 'pp']);
  assert.match(plain!.source, /^auths in /);
  const calls = readFileSync(log, 'utf8').trim().split('\n');
  assert.deepEqual(calls, ['docker-credential-test helper.example.com', 'docker-credential-other https://index.docker.io/v1/', 'docker-credential-other plain.example.com']);
});

test('a helper answering with the user <token> gives an identity token', async () => {
  const { env } = setup({ credHelpers: { 'token.example.com': 'test' } });
  const c = await resolveRegistryAuth('token.example.com', { env });
  assert.equal(c?.identityToken, 'refresh-tok');
  assert.equal(c?.username, undefined);
  assert.deepEqual(dockerAuthConfig(c!), { identitytoken: 'refresh-tok', serveraddress: 'token.example.com' });
});

test('a helper that is not installed is a clear error; secrets never appear in descriptions', async () => {
  const { env } = setup({ credsStore: 'missing-helper' });
  await assert.rejects(resolveRegistryAuth('x.example.com', { env }), (e: unknown) => {
    assert.ok(e instanceof DockerError);
    assert.match(e.message, /docker-credential-missing-helper/);
    assert.match(e.message, /not on PATH/);
    return true;
  });
  const { env: env2 } = setup({ auths: { 'r.example.com': { auth: Buffer.from('me:topsecret').toString('base64') } } });
  const c = await resolveRegistryAuth('r.example.com', { env: env2 });
  assert.doesNotMatch(describeAuth(c), /topsecret/);
  assert.match(describeAuth(c), /user me/);
});

test('no config file means no credentials; a broken one says where it is', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-auth-'));
  assert.equal(await resolveRegistryAuth('docker.io', { env: { DOCKER_CONFIG: dir } }), undefined);
  writeFileSync(join(dir, 'config.json'), '{not json');
  await assert.rejects(resolveRegistryAuth('docker.io', { env: { DOCKER_CONFIG: dir } }), /config\.json.*not valid JSON/);
});

test('image references: registry, path and tag as docker reads them', () => {
  assert.deepEqual(parseReference('user/cloudwatchlogs'), { registry: 'docker.io', path: 'user/cloudwatchlogs', tag: undefined, digest: undefined, repository: 'user/cloudwatchlogs' });
  assert.equal(parseReference('httpd:2.4').path, 'library/httpd');
  const r = parseReference('127.0.0.1:5000/team/cwl:abc');
  assert.deepEqual([r.registry, r.path, r.tag], ['127.0.0.1:5000', 'team/cwl', 'abc']);
  const e = parseReference('123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudwatchlogs@sha256:' + 'a'.repeat(64));
  assert.deepEqual([e.registry, e.path, e.tag], ['123456789012.dkr.ecr.us-east-1.amazonaws.com', 'cloudwatchlogs', undefined]);
  assert.equal(parseReference('localhost/x:1').registry, 'localhost');
});
