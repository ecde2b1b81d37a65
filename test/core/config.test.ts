import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack, missingSettingsError, resolveSettings, saveStack, stackFile, toSaved } from '../../src/core/config.js';
import { UserInputError } from '../../src/core/errors.js';

const saved = { version: 1 as const, stack: 's', settings: { clusterName: 'FromFile', logGroup: 'file-group', instanceType: 't3.medium' } };

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

test('every invalid value is reported at once, naming where it came from', () => {
  assert.throws(
    () => resolveSettings({ flags: { clusterName: 'bad name', allowCidr: '1.2.3.4' }, env: { ECS_CWLOGS_RETENTION_DAYS: '31' } }),
    (e: unknown) => {
      assert.ok(e instanceof UserInputError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /3 invalid settings/);
      assert.match(e.message, /--cluster-name: "bad name"/);
      assert.match(e.message, /--allow-cidr: "1.2.3.4"/);
      assert.match(e.message, /ECS_CWLOGS_RETENTION_DAYS: "31"/);
      return true;
    },
  );
});

test('a missing-settings error names every flag in one message', () => {
  const e = missingSettingsError(['image', 'allowCidr']);
  assert.equal(e.exitCode, 2);
  assert.match(e.message, /--image, --allow-cidr/);
  assert.match(e.message, /ECS_CWLOGS_IMAGE/);
});

test('the stack file is written atomically with mode 0600 and read back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cwl-config-'));
  const env = { ECS_CWLOGS_CONFIG_DIR: dir };
  const { config } = resolveSettings({ flags: { clusterName: 'Saved1', region: 'eu-west-1' }, env: {} });
  const file = await saveStack(toSaved('demo', config), env);
  assert.equal(file, stackFile('demo', env));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(join(dir, 'stacks')), ['demo.json'], 'no temp file is left behind');
  const back = await loadStack('demo', env);
  assert.equal(back?.settings.clusterName, 'Saved1');
  assert.equal(back?.settings.region, 'eu-west-1');
  assert.doesNotMatch(await readFile(file, 'utf8'), /secret|password|AKID/i);
  assert.equal(await loadStack('nope', env), undefined);
});

test('a corrupt stack file is a clear input error, not a crash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cwl-config-'));
  const env = { ECS_CWLOGS_CONFIG_DIR: dir };
  await saveStack({ version: 1, stack: 'x', settings: {} }, env);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(stackFile('x', env), '{not json');
  await assert.rejects(loadStack('x', env), (e: unknown) => e instanceof UserInputError && /not a valid stack file/.test(e.message));
});
