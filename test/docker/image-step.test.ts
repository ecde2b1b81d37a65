/**
 * The image step's decisions with a fake Docker engine and a fake ECR (no daemon needed):
 * what it skips, what it builds and pushes, and how it treats ECR.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createImageStep, platformFor, resolvePlatform, type ImageCtx } from '../../src/steps/image.js';
import type { BuildRequest, DockerEngine, ImageInfo, PushRequest } from '../../src/docker/engine.js';
import type { RegistryCredentials } from '../../src/docker/auth.js';
import { isAbsent } from '../../src/core/step.js';
import { stackTags } from '../../src/core/context.js';
import { RecordingIoHost } from '../../src/io/recording.js';
import { resolveSettings } from '../../src/core/config.js';
import type { StackConfig } from '../../src/core/settings.js';
import { UserInputError } from '../../src/core/errors.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;

class FakeEngine implements DockerEngine {
  readonly endpoint = 'fake://';
  readonly calls: string[] = [];
  local = new Set<string>();
  remote = new Map<string, string>();
  creds: (RegistryCredentials | undefined)[] = [];
  async ping() {
    this.calls.push('ping');
  }
  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    this.calls.push(`inspect ${ref}`);
    return this.local.has(ref) ? { id: 'sha256:img', repoTags: [ref], repoDigests: [] } : undefined;
  }
  async build(req: BuildRequest) {
    this.calls.push(`build ${req.tag} ${JSON.stringify(req.buildArgs)} ${req.platform}`);
    req.onOutput?.('Step 1/2 : FROM base');
    this.local.add(req.tag);
    return { imageId: 'sha256:img' };
  }
  async tag(source: string, target: string) {
    this.calls.push(`tag ${source} ${target}`);
    this.local.add(target);
  }
  async push(req: PushRequest) {
    this.calls.push(`push ${req.ref}`);
    this.creds.push(req.credentials);
    this.remote.set(req.ref, DIGEST);
    return { digest: DIGEST };
  }
  async remoteDigest(ref: string, credentials?: RegistryCredentials) {
    this.calls.push(`head ${ref}`);
    this.creds.push(credentials);
    return this.remote.get(ref);
  }
}

function fakeEcr() {
  const calls: string[] = [];
  const repos = new Set<string>();
  const api = {
    async describeRepositories(input: { repositoryNames?: string[] }) {
      calls.push('DescribeRepositories');
      const name = input.repositoryNames?.[0] ?? '';
      if (!repos.has(name)) throw Object.assign(new Error('not found'), { name: 'RepositoryNotFoundException' });
      return { repositories: [{ repositoryName: name }] };
    },
    async createRepository(input: { repositoryName?: string; tags?: { Key?: string; Value?: string }[] }) {
      calls.push(`CreateRepository ${input.repositoryName} ${JSON.stringify(input.tags)}`);
      repos.add(input.repositoryName!);
      return {};
    },
    async getAuthorizationToken() {
      calls.push('GetAuthorizationToken');
      return { authorizationData: [{ authorizationToken: Buffer.from('AWS:ecr-password').toString('base64'), proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com' }] };
    },
  };
  return { api, calls, repos };
}

function ctx(engine: FakeEngine, config: Partial<StackConfig>, ecr = fakeEcr()): ImageCtx {
  const base = resolveSettings({ flags: {}, env: {} }).config;
  return {
    config: { ...base, region: 'eu-west-1', ...config },
    ecr: ecr.api as unknown as ImageCtx['ecr'],
    docker: engine,
    tags: stackTags('t'),
    stack: 't',
    account: '123456789012',
    io: new RecordingIoHost(),
    signal: new AbortController().signal,
    report: () => undefined,
  };
}

async function runStep(step: ReturnType<typeof createImageStep>, c: ImageCtx) {
  const observed = await step.read(c, {});
  const desired = step.desired(c, {}, {});
  const plan = step.plan(observed, desired);
  const out = await step.apply(c, { plan, observed, desired });
  return { observed, desired, plan, out };
}

test('registry: builds, tags latest, pushes both; a second run only asks the registry', async () => {
  const engine = new FakeEngine();
  const step = createImageStep({ baseImage: 'base:1', skipAgent: true, credentials: { username: 'u', password: 'p' } });
  const c = ctx(engine, { imageRepo: 'user/cloudwatchlogs' });
  engine.local.add('base:1');
  const first = await runStep(step, c);
  assert.equal(first.plan.action, 'create');
  assert.equal(first.out.imageRef, `user/cloudwatchlogs@${DIGEST}`);
  assert.equal(first.out.built, true);
  const tag = first.desired.tag;
  assert.deepEqual(engine.calls, [
    // read: not in the registry, so the build's preconditions are checked before anything is made
    `head user/cloudwatchlogs:${tag}`,
    `inspect user/cloudwatchlogs:${tag}`,
    'ping',
    'inspect base:1',
    // apply
    'ping',
    `inspect user/cloudwatchlogs:${tag}`,
    `build user/cloudwatchlogs:${tag} {"BASE_IMAGE":"base:1","SKIP_CLOUDWATCH_AGENT":"true"} linux/amd64`,
    `tag user/cloudwatchlogs:${tag} user/cloudwatchlogs:latest`,
    `push user/cloudwatchlogs:${tag}`,
    'push user/cloudwatchlogs:latest',
  ]);
  assert.deepEqual(engine.creds[0], { serverAddress: 'https://index.docker.io/v1/', username: 'u', password: 'p', source: '--username' });

  engine.calls.length = 0;
  const second = await runStep(step, c);
  assert.equal(second.plan.action, 'noop');
  assert.deepEqual(engine.calls, [`head user/cloudwatchlogs:${tag}`], 'no build, no push, no daemon call');
  assert.equal(second.out.pushed, false);
});

test('registry: a missing base image or an unreachable daemon fails the read, before anything is created', async () => {
  const engine = new FakeEngine();
  const step = createImageStep({ baseImage: 'no-such-base:1', skipAgent: true, credentials: { username: 'u', password: 'p' } });
  const c = ctx(engine, { imageRepo: 'user/cloudwatchlogs' });
  await assert.rejects(step.read(c, {}), (e: unknown) => e instanceof UserInputError && /base image no-such-base:1 not found/.test(e.message) && /--base-image/.test(e.message));
  assert.ok(!engine.calls.some((x) => x.startsWith('build') || x.startsWith('push')));
  const down = new FakeEngine();
  down.ping = async () => {
    throw new Error('connect ENOENT /var/run/docker.sock');
  };
  await assert.rejects(createImageStep({ skipAgent: true }).read(ctx(down, { imageRepo: 'user/cloudwatchlogs' }), {}), /ENOENT/);
});

test('registry: an image already built locally is pushed, not rebuilt', async () => {
  const engine = new FakeEngine();
  const step = createImageStep();
  const c = ctx(engine, { imageRepo: 'registry.example.com:5000/team/cwl' });
  const tag = step.desired(c, {}, {}).tag;
  engine.local.add(`registry.example.com:5000/team/cwl:${tag}`);
  const r = await runStep(step, c);
  assert.equal(r.out.built, false);
  assert.equal(r.out.pushed, true);
  assert.ok(!engine.calls.some((x) => x.startsWith('build')));
});

test('ECR: creates the repository with the stack tags, pushes with the GetAuthorizationToken login', async () => {
  const engine = new FakeEngine();
  const ecr = fakeEcr();
  const step = createImageStep({ ecr: true });
  const c = ctx(engine, {}, ecr);
  engine.local.add('debian:bookworm-slim');
  const observed = await step.read(c, {});
  assert.ok(isAbsent(observed));
  const desired = step.desired(c, {}, {});
  assert.equal(desired.repository, '123456789012.dkr.ecr.eu-west-1.amazonaws.com/cloudwatchlogs');
  const plan = step.plan(observed, desired);
  assert.equal(plan.action, 'create');
  assert.match((plan as { summary: string }).summary, /create ECR repository cloudwatchlogs/);
  const out = await step.apply(c, { plan, observed, desired });
  assert.equal(out.imageRef, `123456789012.dkr.ecr.eu-west-1.amazonaws.com/cloudwatchlogs@${DIGEST}`);
  assert.ok(ecr.calls.some((x) => x.startsWith('CreateRepository cloudwatchlogs') && x.includes('"Key":"ecs-cwlogs:stack","Value":"t"')), ecr.calls.join('\n'));
  const pushCreds = engine.creds.at(-1)!;
  assert.equal(pushCreds.username, 'AWS');
  assert.equal(pushCreds.password, 'ecr-password');
  assert.equal(pushCreds.serverAddress, 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com');
  assert.equal(ecr.calls.filter((x) => x === 'GetAuthorizationToken').length, 1, 'one token per run');
});

test('--image with no repository: nothing to build, the image is handed on', async () => {
  const engine = new FakeEngine();
  const step = createImageStep();
  const given = `me/cwl@${DIGEST}`;
  const r = await runStep(step, ctx(engine, { image: given, imageRepo: undefined }));
  assert.equal(r.plan.action, 'noop');
  assert.equal(r.out.imageRef, given);
  assert.deepEqual(engine.calls, []);
});

test('no repository and no image, or a repository with a tag, is a usage error', () => {
  const step = createImageStep();
  assert.throws(() => step.desired(ctx(new FakeEngine(), { image: undefined, imageRepo: undefined }), {}, {}), (e: unknown) => e instanceof UserInputError && /--repo/.test(e.message));
  assert.throws(() => step.desired(ctx(new FakeEngine(), { imageRepo: 'user/cwl:v1' }), {}, {}), UserInputError);
  assert.throws(() => step.desired(ctx(new FakeEngine(), { imageRepo: 'User/CWL' }), {}, {}), UserInputError);
});

test('the image is built for the instance type\'s architecture, and the platform is in the tag', async () => {
  const built: Record<string, { tag: string; platform?: string; calls: string[] }> = {};
  for (const instanceType of ['t4g.small', 't3.small']) {
    const engine = new FakeEngine();
    engine.local.add('base:1');
    const step = createImageStep({ baseImage: 'base:1', skipAgent: true });
    const r = await runStep(step, ctx(engine, { imageRepo: 'user/cloudwatchlogs', instanceType }));
    assert.equal(r.out.built, true);
    built[instanceType] = { tag: r.desired.tag, platform: r.desired.platform, calls: engine.calls.filter((c) => c.startsWith('build ')) };
  }
  assert.equal(built['t4g.small']!.platform, 'linux/arm64');
  assert.equal(built['t3.small']!.platform, 'linux/amd64');
  assert.deepEqual(built['t4g.small']!.calls, [`build user/cloudwatchlogs:${built['t4g.small']!.tag} {"BASE_IMAGE":"base:1","SKIP_CLOUDWATCH_AGENT":"true"} linux/arm64`]);
  assert.deepEqual(built['t3.small']!.calls, [`build user/cloudwatchlogs:${built['t3.small']!.tag} {"BASE_IMAGE":"base:1","SKIP_CLOUDWATCH_AGENT":"true"} linux/amd64`]);
  assert.notEqual(built['t4g.small']!.tag, built['t3.small']!.tag, 'one tag per platform');
});

test('an architecture handed in (from DescribeInstanceTypes) wins over the name; --platform only overrides when it agrees', () => {
  const c = ctx(new FakeEngine(), { imageRepo: 'user/cwl', instanceType: 't3.small' });
  assert.equal(createImageStep({ architecture: 'arm64' }).desired(c, {}, {}).platform, 'linux/arm64');
  const plain = createImageStep().desired(c, {}, {});
  const same = createImageStep({ platform: 'linux/amd64' }).desired(c, {}, {});
  assert.equal(same.platform, 'linux/amd64');
  assert.equal(same.tag, plain.tag, 'an agreeing --platform changes nothing');
  assert.throws(
    () => createImageStep({ platform: 'linux/arm64' }).desired(c, {}, {}),
    (e: unknown) => e instanceof UserInputError && /does not match the instance type/.test(e.message) && /t3\.small \(x86_64\)/.test(JSON.stringify(e)),
  );
  assert.throws(() => createImageStep({ platform: 'windows/amd64' }).desired(c, {}, {}), UserInputError);
});

test('platformFor and resolvePlatform are pure', () => {
  assert.equal(platformFor('x86_64'), 'linux/amd64');
  assert.equal(platformFor('arm64'), 'linux/arm64');
  assert.equal(resolvePlatform({ architecture: 'arm64' }), 'linux/arm64');
  assert.equal(resolvePlatform({ architecture: 'arm64', platform: 'linux/arm64/v8' }), 'linux/arm64');
  assert.throws(() => resolvePlatform({ architecture: 'x86_64', platform: 'linux/arm64', instanceType: 't3.small' }), UserInputError);
});
