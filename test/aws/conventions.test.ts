/** src/aws/conventions.ts and proxy.ts, in process: the rules the binary tests rely on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRegion, knownRegion, retrySettings, type ProfileChoice } from '../../src/aws/conventions.js';
import { regionOf } from '../../src/core/resolve.js';
import { noProxyCovers, proxyFor } from '../../src/aws/proxy.js';
import { isAwsHost } from '../../src/aws/endpoints.js';
import { UserInputError } from '../../src/core/errors.js';

const profile = (settings: Record<string, string> = {}): ProfileChoice => ({ name: 'p', explicit: true, settings });

test('regions: the partition data decides', async () => {
  for (const r of ['us-east-1', 'eusc-de-east-1', 'cn-north-1', 'us-gov-west-1', 'us-isob-east-1', 'eu-west-9']) assert.ok(await knownRegion(r), r);
  for (const r of ['moon-base-1', 'xx-east-1']) assert.equal(await knownRegion(r), false, r);
  await assert.rejects(checkRegion('moon-base-1', 'AWS_REGION'), (e: unknown) => e instanceof UserInputError && /from AWS_REGION/.test(e.message));
});

// The region's one rule moved to src/core/resolve.ts (regionOf); the profile's region is handed to it.
test('region order: flag, AWS_REGION, AWS_DEFAULT_REGION, the profile', async () => {
  const p = { profile: 'ap-south-1', profileName: 'p' };
  assert.deepEqual(regionOf({ region: 'eu-west-1' }, { AWS_REGION: 'us-west-2' }, p), { region: 'eu-west-1', source: 'flag', from: '--region' });
  assert.equal(regionOf({}, { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'us-east-2' }, p)?.region, 'us-west-2');
  assert.equal(regionOf({}, { AWS_DEFAULT_REGION: 'us-east-2' }, p)?.region, 'us-east-2');
  assert.equal(regionOf({}, {}, p)?.region, 'ap-south-1');
  assert.equal(regionOf({}, {}, { profileName: 'p' }), undefined);
});

test('retries: AWS_MAX_ATTEMPTS / AWS_RETRY_MODE, then the profile, then the defaults', () => {
  const d = { maxAttempts: 10, retryMode: 'adaptive' as const };
  assert.deepEqual(retrySettings(profile(), d, {}), { maxAttempts: 10, retryMode: 'adaptive', fromUser: false });
  assert.deepEqual(retrySettings(profile({ max_attempts: '4', retry_mode: 'standard' }), d, {}), { maxAttempts: 4, retryMode: 'standard', fromUser: true });
  assert.deepEqual(retrySettings(profile({ max_attempts: '4' }), d, { AWS_MAX_ATTEMPTS: '2', AWS_RETRY_MODE: 'legacy' }), { maxAttempts: 2, retryMode: 'standard', fromUser: true });
  assert.throws(() => retrySettings(profile(), d, { AWS_MAX_ATTEMPTS: 'many' }), /AWS_MAX_ATTEMPTS/);
  assert.throws(() => retrySettings(profile(), d, { AWS_RETRY_MODE: 'eager' }), /AWS_RETRY_MODE/);
});

test('NO_PROXY: names, suffixes, ports, IPs and *', () => {
  assert.ok(noProxyCovers('sts.us-east-1.amazonaws.com', '443', '.amazonaws.com'));
  assert.ok(noProxyCovers('sts.us-east-1.amazonaws.com', '443', 'amazonaws.com'));
  assert.ok(noProxyCovers('sts.us-east-1.amazonaws.com', '443', '*.amazonaws.com'));
  assert.ok(!noProxyCovers('notamazonaws.com', '443', 'amazonaws.com'));
  assert.ok(noProxyCovers('127.0.0.1', '4566', 'localhost, 127.0.0.1'));
  assert.ok(noProxyCovers('127.0.0.1', '4566', '127.0.0.1:4566'));
  assert.ok(!noProxyCovers('127.0.0.1', '4567', '127.0.0.1:4566'));
  assert.ok(noProxyCovers('::1', '80', '[::1]'));
  assert.ok(noProxyCovers('anything', '1', '*'));
  assert.ok(!noProxyCovers('host', '1', undefined));
});

test('the proxy for a URL: HTTPS_PROXY for https, HTTP_PROXY for http, lower case too, NO_PROXY wins', () => {
  const env = { HTTPS_PROXY: 'http://p:3128', http_proxy: 'proxy.local:8080', NO_PROXY: 'internal.example' };
  assert.equal(proxyFor('https://ecs.us-east-1.amazonaws.com', env), 'http://p:3128');
  assert.equal(proxyFor('http://127.0.0.1:4566', env), 'http://proxy.local:8080');
  assert.equal(proxyFor('https://api.internal.example', env), undefined);
  assert.equal(proxyFor('https://x.example', {}), undefined);
});

test('AWS hosts are told from emulators', () => {
  assert.ok(isAwsHost('https://ec2.us-east-1.amazonaws.com'));
  assert.ok(isAwsHost('https://ec2.cn-north-1.amazonaws.com.cn'));
  assert.ok(isAwsHost('https://ec2.us-east-1.api.aws'));
  assert.ok(!isAwsHost('http://127.0.0.1:4566'));
  assert.ok(!isAwsHost('https://localstack.example:4566'));
});
