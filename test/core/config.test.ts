import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastRegion, loadStack, missingSettingsError, resolveSettings, saveStack, savedFor, stackFile, withUserSettings, type SavedStack, type Target } from '../../src/core/config.js';
import { UserInputError } from '../../src/core/errors.js';

const saved = { clusterName: 'FromFile', logGroup: 'file-group', instanceType: 't3.medium' };
const aws1: Target = { kind: 'aws', account: '111111111111', region: 'us-east-1' };
const aws2: Target = { kind: 'aws', account: '111111111111', region: 'eu-west-1' };
const sandbox: Target = { kind: 'sandbox', account: '000000000000', region: 'us-east-1' };

test('resolution order: flag, then environment, then the saved stack file, then the default', () => {
  const { config, sources } = resolveSettings({
    flags: { clusterName: 'FromFlag' },
    env: { ECS_CWLOGS_CLUSTER_NAME: 'FromEnv', ECS_CWLOGS_LOG_GROUP: 'env-group' },
    saved,
  });
  assert.equal(config.clusterName, 'FromFlag');
  assert.equal(sources.clusterName, 'flag');
  assert.equal(config.logGroup, 'env-group');
  assert.equal(sources.logGroup, 'env');
  assert.equal(config.instanceType, 't3.medium');
  assert.equal(sources.instanceType, 'saved');
  assert.equal(config.retentionDays, 30);
  assert.equal(sources.retentionDays, 'default');
  assert.equal(config.keyName, undefined);
});

test('--image and --repo: a flag beats the saved other one; two flags conflict', () => {
  const r = resolveSettings({ flags: { image: 'example/cw:1' }, env: {}, saved: { imageRepo: 'user/cw' } });
  assert.equal(r.config.image, 'example/cw:1');
  assert.equal(r.config.imageRepo, undefined, 'the saved --repo is not used when --image is given');
  const r2 = resolveSettings({ flags: { imageRepo: 'ecr' }, env: {}, saved: { image: 'example/cw:1' } });
  assert.equal(r2.config.imageRepo, 'ecr');
  assert.equal(r2.config.image, undefined);
  assert.throws(() => resolveSettings({ flags: { image: 'a/b:1', imageRepo: 'user/cw' }, env: {} }), (e: unknown) => e instanceof UserInputError && /Both --image and --repo/.test(e.message));
});

test('every invalid value is reported at once, naming where it came from', () => {
  assert.throws(
    () => resolveSettings({ flags: { clusterName: 'bad name', allowCidr: '1.2.3.4' }, env: { ECS_CWLOGS_RETENTION_DAYS: '31' }, saved: { subnetId: 'nope' }, file: '/x/s.json' }),
    (e: unknown) => {
      assert.ok(e instanceof UserInputError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /4 invalid settings/);
      assert.match(e.message, /--cluster-name: "bad name"/);
      assert.match(e.message, /--allow-cidr: "1.2.3.4"/);
      assert.match(e.message, /ECS_CWLOGS_RETENTION_DAYS: "31"/);
      assert.match(e.message, /--subnet \(saved in \/x\/s.json\)/);
      return true;
    },
  );
});

test('a missing-settings error names every flag in one message', () => {
  const e = missingSettingsError(['image', 'allowCidr']);
  assert.equal(e.exitCode, 2);
  assert.match(e.message, /--image or --allow-cidr/);
  assert.match(e.message, /ECS_CWLOGS_IMAGE/);
});

test('only what the user gave is saved, per target; defaults and discovered values never are', () => {
  // (The resolved config is frozen: a discovered value is one the tags showed, or one set on a copy.)
  const found = resolveSettings({ flags: { clusterName: 'Mine' }, env: { ECS_CWLOGS_LOG_GROUP: 'env-group' }, tagged: { securityGroupNames: ['found-sg'] } });
  const r = { ...found, config: { ...found.config, vpcId: 'vpc-0123456789abcdef0' }, sources: { ...found.sources, vpcId: 'tagged' as const } };
  const s1 = withUserSettings('demo', sandbox, r, undefined, new Date('2026-01-01T00:00:00Z'));
  assert.deepEqual(savedFor(s1, sandbox), { clusterName: 'Mine', logGroup: 'env-group' });
  assert.deepEqual(savedFor(s1, aws1), {}, 'a sandbox rehearsal saves nothing for a real account');
  const r2 = resolveSettings({ flags: { instanceType: 't3.medium' }, env: {} });
  const s2 = withUserSettings('demo', aws1, r2, s1, new Date('2026-01-02T00:00:00Z'));
  assert.deepEqual(savedFor(s2, aws1), { instanceType: 't3.medium' });
  assert.deepEqual(savedFor(s2, aws2), {}, 'another region starts from the defaults');
  assert.deepEqual(savedFor(s2, sandbox), { clusterName: 'Mine', logGroup: 'env-group' });
  assert.equal(lastRegion(s2, { kind: 'aws', account: '111111111111' }), 'us-east-1');
  assert.equal(lastRegion(s2, { kind: 'aws', account: '222222222222' }), undefined);
  // A flag for --image replaces a saved --repo.
  const s3 = withUserSettings('demo', aws1, resolveSettings({ flags: { imageRepo: 'user/cw' }, env: {} }), s2);
  const s4 = withUserSettings('demo', aws1, resolveSettings({ flags: { image: 'example/cw:1' }, env: {}, saved: savedFor(s3, aws1) }), s3);
  assert.equal(savedFor(s4, aws1).image, 'example/cw:1');
  assert.equal(savedFor(s4, aws1).imageRepo, undefined);
});

test('the stack file is written atomically with mode 0600 and read back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cwl-config-'));
  const env = { ECS_CWLOGS_CONFIG_DIR: dir };
  const r = resolveSettings({ flags: { clusterName: 'Saved1', region: 'eu-west-1' }, env: {} });
  const file = await saveStack(withUserSettings('demo', aws2, r, undefined), env);
  assert.equal(file, stackFile('demo', env));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(join(dir, 'stacks')), ['demo.json'], 'no temp file is left behind');
  const back = await loadStack('demo', env);
  assert.equal(savedFor(back, aws2).clusterName, 'Saved1');
  assert.equal(savedFor(back, aws2).region, undefined, 'the region is the target, not a saved answer');
  assert.doesNotMatch(await readFile(file, 'utf8'), /secret|password|AKID/i);
  assert.equal(await loadStack('nope', env), undefined);
});

test('a version-1 file keeps what can only have been given and drops what may have been discovered', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cwl-config-'));
  const env = { ECS_CWLOGS_CONFIG_DIR: dir };
  await mkdir(join(dir, 'stacks'), { recursive: true });
  await writeFile(stackFile('old', env), JSON.stringify({ version: 1, stack: 'old', settings: { clusterName: 'Old', vpcId: 'vpc-09ad0000000000000', subnetId: 'subnet-09ad0000000000000', allowCidr: '127.0.0.1/32', region: 'us-east-1' } }));
  const back = (await loadStack('old', env)) as SavedStack;
  assert.deepEqual(savedFor(back, aws1), { clusterName: 'Old' });
  assert.deepEqual(savedFor(back, sandbox), {}, 'legacy answers are not the sandbox’s');
});

for (const [name, content, why] of [
  ['garbage', '{not json', /is not JSON/],
  ['null', 'null', /holds null/],
  ['settings null', JSON.stringify({ version: 1, stack: 'x', settings: null }), /settings must be an object, not null/],
  ['a target of the wrong shape', JSON.stringify({ version: 2, stack: 'x', targets: { a: { kind: 'aws', account: 1 } } }), /account must be a string/],
  ['an unknown version', JSON.stringify({ version: 9 }), /version 9/],
] as const) {
  test(`a stack file with ${name} is a clear input error naming the file`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cwl-config-'));
    const env = { ECS_CWLOGS_CONFIG_DIR: dir };
    await mkdir(join(dir, 'stacks'), { recursive: true });
    await writeFile(stackFile('x', env), content);
    await assert.rejects(loadStack('x', env), (e: unknown) => e instanceof UserInputError && e.exitCode === 2 && why.test(e.message) && e.message.includes(stackFile('x', env)));
  });
}

test('a stack file that is a directory, or unreadable, is a clear input error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cwl-config-'));
  const env = { ECS_CWLOGS_CONFIG_DIR: dir };
  await mkdir(stackFile('d', env), { recursive: true });
  await assert.rejects(loadStack('d', env), (e: unknown) => e instanceof UserInputError && /is a directory/.test(e.message));
  if (process.getuid?.() !== 0) {
    await writeFile(stackFile('u', env), '{}');
    await chmod(stackFile('u', env), 0o000);
    await assert.rejects(loadStack('u', env), (e: unknown) => e instanceof UserInputError && /permission denied/.test(e.message));
  }
});
