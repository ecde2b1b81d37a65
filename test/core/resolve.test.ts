/**
 * src/core/resolve.ts: the one pure function that resolves a run's settings. Its precedence (the
 * region's too), that it is deterministic and its output frozen, that the wizard's answers and the
 * stack's tags enter only through it, and that the stack file then holds only what the user gave.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { regionOf, resolveSettings, taggedText, type SettingsInput } from '../../src/core/resolve.js';
import { savedFor, withUserSettings, type Target } from '../../src/core/config.js';
import { UserInputError } from '../../src/core/errors.js';

const aws1: Target = { kind: 'aws', account: '111111111111', region: 'eu-west-1' };

function frozenDeep(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return true;
  return Object.isFrozen(x) && Object.values(x).every(frozenDeep);
}

test('precedence: flag > environment > saved > tags > default', () => {
  const tagged = { clusters: ['TaggedCluster'] };
  const all: SettingsInput = { flags: { clusterName: 'FlagCluster' }, env: { ECS_CWLOGS_CLUSTER_NAME: 'EnvCluster' }, saved: { clusterName: 'SavedCluster' }, tagged };
  const at = (input: SettingsInput) => {
    const r = resolveSettings(input);
    return [r.config.clusterName, r.sources.clusterName];
  };
  assert.deepEqual(at(all), ['FlagCluster', 'flag']);
  assert.deepEqual(at({ ...all, flags: {} }), ['EnvCluster', 'env']);
  assert.deepEqual(at({ ...all, flags: {}, env: {} }), ['SavedCluster', 'saved']);
  assert.deepEqual(at({ ...all, flags: {}, env: {}, saved: {} }), ['TaggedCluster', 'tagged']);
  assert.deepEqual(at({ flags: {}, env: {} }), ['ECSCloudWatchLogs', 'default']);
  // `--cluster-name ""` clears: the default, whatever the environment, the file and the tags say.
  assert.deepEqual(at({ ...all, flags: { clusterName: '' } }), ['ECSCloudWatchLogs', 'cleared']);
});

test('the region: --region, ECS_CWLOGS_REGION, AWS_REGION, AWS_DEFAULT_REGION, the profile, the last used, the sandbox, the answer', () => {
  const flags = { region: 'eu-west-1' };
  const env = { ECS_CWLOGS_REGION: 'eu-west-2', AWS_REGION: 'eu-west-3', AWS_DEFAULT_REGION: 'eu-north-1' };
  const facts = { profile: 'ap-south-1', profileName: 'dev', last: 'ca-central-1', sandbox: true, answer: 'sa-east-1' };
  const at = (f: typeof flags | {}, e: Partial<typeof env>, x: Partial<typeof facts>) => {
    const r = resolveSettings({ flags: f, env: e, region: x });
    assert.equal(r.config.region, regionOf(f, e, x)?.region, 'the connection and the config read the region by the same rule');
    return [r.config.region, r.sources.region];
  };
  assert.deepEqual(at(flags, env, facts), ['eu-west-1', 'flag']);
  assert.deepEqual(at({}, env, facts), ['eu-west-2', 'env']);
  assert.deepEqual(at({}, { ...env, ECS_CWLOGS_REGION: undefined }, facts), ['eu-west-3', 'env']);
  assert.deepEqual(at({}, { AWS_DEFAULT_REGION: env.AWS_DEFAULT_REGION }, facts), ['eu-north-1', 'env']);
  assert.deepEqual(at({}, {}, facts), ['ap-south-1', 'profile']);
  assert.deepEqual(at({}, {}, { ...facts, profile: undefined }), ['ca-central-1', 'saved']);
  assert.deepEqual(at({}, {}, { sandbox: true, answer: 'sa-east-1' }), ['us-east-1', 'default']);
  assert.deepEqual(at({}, {}, { answer: 'sa-east-1' }), ['sa-east-1', 'prompt']);
  assert.deepEqual(at({}, {}, {}), [undefined, undefined]);
  assert.equal(regionOf({}, { AWS_REGION: 'eu-west-3' }, facts)?.from, 'AWS_REGION', 'messages name where the region came from');
  // A bad --region or ECS_CWLOGS_REGION is the user's input error, named.
  assert.throws(() => resolveSettings({ flags: {}, env: { ECS_CWLOGS_REGION: 'Mars' } }), (e: unknown) => e instanceof UserInputError && /ECS_CWLOGS_REGION: "Mars" is not an AWS region name/.test(e.message));
});

test('deterministic, and frozen to the last level: a write throws, the input is never written', () => {
  const input: SettingsInput = deepFreezeInput({
    flags: { instances: '3', image: 'a/b:1' },
    env: { ECS_CWLOGS_LOG_GROUP: 'env-group' },
    saved: { subnetId: 'subnet-0123456789abcdef0', allowCidr: '198.51.100.0/24' },
    region: { last: 'eu-west-1' },
    tagged: { clusters: ['Found'], iamNames: ['A', 'B'] },
    answers: { keyName: null },
  });
  const a = resolveSettings(input);
  const b = resolveSettings(input);
  assert.deepEqual(a, b, 'the same input gives the same output');
  assert.notEqual(a, b, 'a new value each time, nothing shared to write through');
  assert.ok(frozenDeep(a));
  assert.throws(() => {
    (a.config as { clusterName: string }).clusterName = 'Other';
  }, TypeError);
  assert.throws(() => {
    (a.sources as Record<string, string>).clusterName = 'flag';
  }, TypeError);
  assert.throws(() => {
    delete (a.config as { clusterName?: string }).clusterName;
  }, TypeError);
  assert.throws(() => (a.notApplied as unknown[]).push({}), TypeError);
  assert.throws(() => {
    (a.notApplied[0] as { value: string }).value = 'x';
  }, TypeError);
  // The group set the saved subnet aside (said in the plan), and the ambiguous IAM names are not used.
  assert.deepEqual(a.notApplied.map((n) => n.key), ['subnetId']);
  assert.equal(a.config.iamName, 'ECSCloudWatchLogs');
  assert.equal(a.config.clusterName, 'Found');
});

test("the wizard's answers enter only through it: they fill what was not given, never override it, and `none` unsets", () => {
  const base: SettingsInput = { flags: { instanceType: 't3.medium' }, env: {}, saved: { logGroup: 'saved-group' } };
  const answers = { instanceType: 't3.micro', logGroup: 'answered', clusterName: 'Answered', keyName: null, instances: 2, loadBalancer: true } as const;
  const before = resolveSettings(base);
  const r = resolveSettings({ ...base, answers });
  assert.equal(before.config.clusterName, 'ECSCloudWatchLogs', 'no answers: the default');
  assert.equal(r.config.clusterName, 'Answered');
  assert.equal(r.sources.clusterName, 'prompt');
  assert.equal(r.config.instanceType, 't3.medium', 'a flag beats an answer');
  assert.equal(r.config.logGroup, 'saved-group', 'what was saved beats an answer');
  assert.equal(r.config.keyName, undefined);
  assert.equal(r.sources.keyName, 'prompt');
  assert.deepEqual([r.config.instances, r.config.loadBalancer], [2, true]);
  assert.throws(() => resolveSettings({ ...base, answers: { instances: 0 } }), (e: unknown) => e instanceof UserInputError && /the answer to --instances/.test(e.message));
});

test("what the stack's tags show stands in only for what was not given, and only when it is one", () => {
  const tagged = {
    group: { size: 3, loadBalancer: true },
    clusters: ['Logs'],
    services: [
      { cluster: 'Logs', name: 'web' },
      { cluster: 'Other', name: 'api' },
    ],
    taskFamilies: ['fam'],
    logGroups: ['one', 'two'],
    securityGroupNames: ['sg'],
    iamNames: ['Base'],
    images: { fam: 'reg/cw@sha256:1', cloudwatchlogs: 'reg/cw@sha256:2' },
  };
  const r = resolveSettings({ flags: { securityGroupName: 'mine' }, env: {}, tagged });
  assert.deepEqual(
    [r.config.instances, r.config.loadBalancer, r.config.clusterName, r.config.serviceName, r.config.taskFamily, r.config.logGroup, r.config.securityGroupName, r.config.iamName, r.config.image],
    [3, true, 'Logs', 'web', 'fam', 'ecs', 'mine', 'Base', 'reg/cw@sha256:1'],
  );
  assert.equal(r.sources.logGroup, 'default', 'two log groups: neither is used');
  assert.equal(r.sources.securityGroupName, 'flag');
  assert.deepEqual(taggedText(r), ['instances=3', 'loadBalancer=true', 'clusterName=Logs', 'serviceName=web', 'taskFamily=fam', 'iamName=Base', 'image=reg/cw@sha256:1']);
  // A repository given (saved) keeps the image to be built: the running image is not taken.
  const built = resolveSettings({ flags: {}, env: {}, saved: { imageRepo: 'ecr' }, tagged });
  assert.equal(built.config.image, undefined);
  assert.equal(built.config.imageRepo, 'ecr');
  // --instances given: the tagged group's size is not.
  assert.equal(resolveSettings({ flags: { instances: '1' }, env: {}, tagged }).config.instances, 1);
});

test('the stack file holds only what the user gave: flags, environment, answers; never tags, defaults, the region or a built image', () => {
  const r = resolveSettings({
    flags: { clusterName: 'Mine', region: 'eu-west-1' },
    env: { ECS_CWLOGS_LOG_GROUP: 'env-group', AWS_REGION: 'eu-west-1' },
    tagged: { iamNames: ['Found'], group: { size: 2, loadBalancer: false } },
    answers: { allowCidr: '203.0.113.7/32', keyName: null },
    built: { appImage: 'ecs-cwlogs-httpd-like:abc' },
  });
  assert.equal(r.config.appImage, 'ecs-cwlogs-httpd-like:abc');
  assert.equal(r.sources.appImage, 'built');
  assert.equal(r.config.iamName, 'Found');
  const file = withUserSettings('demo', aws1, r, undefined, new Date('2026-01-01T00:00:00Z'));
  assert.deepEqual(savedFor(file, aws1), { clusterName: 'Mine', logGroup: 'env-group', allowCidr: '203.0.113.7/32' });
  // A flag beats everything saved, and is saved in its place.
  const again = resolveSettings({ flags: { clusterName: 'Newer' }, env: {}, saved: savedFor(file, aws1) });
  assert.equal(again.config.clusterName, 'Newer');
  assert.equal(savedFor(withUserSettings('demo', aws1, again, file), aws1).clusterName, 'Newer');
  // An image built here never replaces an app image the user gave.
  assert.equal(resolveSettings({ flags: { appImage: 'httpd:2.4.62' }, env: {}, built: { appImage: 'x:1' } }).config.appImage, 'httpd:2.4.62');
});

function deepFreezeInput<T>(x: T): T {
  if (typeof x === 'object' && x !== null) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreezeInput(v);
  }
  return x;
}
