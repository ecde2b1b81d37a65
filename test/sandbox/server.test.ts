import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import {
  CreateClusterCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListClustersCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { startSandbox, type ServiceModule } from '../../src/sandbox/index.js';
import { ecsService } from '../../src/sandbox/services/ecs/index.js';
import { stsService } from '../../src/sandbox/services/sts.js';
import { clientConfig, rejection, taskDefinitionInput, withSandbox } from './support.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

test('throttling: about throttleRate of requests fail without retries; the SDK retries through it', async () => {
  await withSandbox({ throttleRate: 0.3 }, async (sb) => {
    const noRetry = new ECSClient(clientConfig(sb, { maxAttempts: 1 }));
    const n = 200;
    let throttled = 0;
    for (let i = 0; i < n; i++) {
      try {
        await noRetry.send(new ListClustersCommand({}));
      } catch (err: any) {
        assert.equal(err.name, 'ThrottlingException');
        assert.equal(err.$metadata.httpStatusCode, 400);
        throttled++;
      }
    }
    assert.ok(throttled > n * 0.2 && throttled < n * 0.4, `throttled ${throttled} of ${n}`);
    assert.equal(sb.requestLog().filter((e) => e.errorCode === 'ThrottlingException').length, throttled);

    // The SDK's retry strategy must classify the errors as throttling and retry them (short backoff here).
    const retrying = new ECSClient(clientConfig(sb, { retryStrategy: new ConfiguredRetryStrategy(6, () => 5) }));
    const sts = new STSClient(clientConfig(sb, { retryStrategy: new ConfiguredRetryStrategy(6, () => 5) }));
    sb.clearRequestLog();
    for (let i = 0; i < 20; i++) {
      const out = await retrying.send(new CreateClusterCommand({ clusterName: `c${i}` }));
      assert.equal(out.cluster?.status, 'ACTIVE');
      assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Account, '123456789012');
    }
    const codes = new Set(sb.requestLog().map((e) => e.errorCode).filter(Boolean));
    assert.deepEqual([...codes].sort(), ['Throttling', 'ThrottlingException']);
  });
});

/** A stand-in EC2 module (the real one is tested on its own): enough to exercise the EC2 protocol with the SDK. */
const regionsOnlyEc2: ServiceModule = {
  name: 'ec2',
  protocol: 'ec2',
  xmlNamespace: 'http://ec2.amazonaws.com/doc/2016-11-15/',
  apiVersion: '2016-11-15',
  initState: () => ({}),
  operations: {
    DescribeRegions: {
      mutating: false,
      handler: () => ({
        regionInfo: [
          { regionName: 'us-east-1', regionEndpoint: 'ec2.us-east-1.amazonaws.com', optInStatus: 'opt-in-not-required' },
          { regionName: 'eu-west-1', regionEndpoint: 'ec2.eu-west-1.amazonaws.com', optInStatus: 'opt-in-not-required' },
        ],
      }),
    },
  },
};

test('EC2 protocol through the SDK: <item> lists parse, RequestLimitExceeded (503) is retried as throttling', async () => {
  await withSandbox({ services: [ecsService, stsService, regionsOnlyEc2], throttleRate: 0.3 }, async (sb) => {
    const once = new EC2Client(clientConfig(sb, { maxAttempts: 1 }));
    let throttled = 0;
    for (let i = 0; i < 40; i++) {
      try {
        const out = await once.send(new DescribeRegionsCommand({}));
        assert.deepEqual(out.Regions?.map((r) => r.RegionName), ['us-east-1', 'eu-west-1']);
      } catch (err: any) {
        assert.equal(err.name, 'RequestLimitExceeded');
        assert.equal(err.$metadata.httpStatusCode, 503);
        throttled++;
      }
    }
    assert.ok(throttled > 0);
    const retrying = new EC2Client(clientConfig(sb, { retryStrategy: new ConfiguredRetryStrategy(6, () => 5) }));
    for (let i = 0; i < 10; i++) assert.equal((await retrying.send(new DescribeRegionsCommand({}))).Regions?.length, 2);
  });
});

test('request log records service, operation, mutating flag, status and error code', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    await ecs.send(new CreateClusterCommand({ clusterName: 'c' }));
    await ecs.send(new DescribeClustersCommand({ clusters: ['c'] }));
    await rejection(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope' })));
    await new STSClient(clientConfig(sb)).send(new GetCallerIdentityCommand({}));
    const log = sb.requestLog();
    assert.deepEqual(
      log.map((e) => [e.service, e.operation, e.mutating, e.status, e.errorCode ?? null]),
      [
        ['ecs', 'CreateCluster', true, 200, null],
        ['ecs', 'DescribeClusters', false, 200, null],
        ['ecs', 'DescribeTaskDefinition', false, 400, 'ClientException'],
        ['sts', 'GetCallerIdentity', false, 200, null],
      ],
    );
    assert.deepEqual(log.map((e) => e.seq), [1, 2, 3, 4]);
    assert.ok(log.every((e) => /^[0-9a-f-]{36}$/.test(e.requestId) && !Number.isNaN(Date.parse(e.time))));
  });
});

test('persistence: the world survives a restart, ids keep counting, the file is written atomically', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
  const statePath = join(dir, 'world.json');
  try {
    const first = await startSandbox({ credentials: TEST_KEYS, statePath });
    const ecs1 = new ECSClient(clientConfig(first));
    await ecs1.send(new CreateClusterCommand({ clusterName: 'kept' }));
    await ecs1.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')));
    // Written after the mutating request, before close.
    assert.ok(existsSync(statePath));
    const idAfterFirst = first.world.nextId('i-');
    await first.close();
    assert.deepEqual(readdirSync(dir), ['world.json'], 'no temporary file left behind');

    const second = await startSandbox({ credentials: TEST_KEYS, statePath });
    try {
      const ecs2 = new ECSClient(clientConfig(second));
      const described = await ecs2.send(new DescribeClustersCommand({ clusters: ['kept'] }));
      assert.equal(described.clusters?.[0].status, 'ACTIVE');
      assert.equal((await ecs2.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')))).taskDefinition?.revision, 2);
      assert.notEqual(second.world.nextId('i-'), idAfterFirst);
    } finally {
      await second.close();
    }

    // Without statePath nothing is kept.
    await withSandbox({}, async (sb) => {
      const described = await new ECSClient(clientConfig(sb)).send(new DescribeClustersCommand({ clusters: ['kept'] }));
      assert.equal(described.failures?.[0].reason, 'MISSING');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nextId: AWS-looking, repeatable for one seed, different from one sandbox to the next, seed kept in the state file', async () => {
  const a = await startSandbox({ credentials: TEST_KEYS, idSeed: 'seed-1' });
  const b = await startSandbox({ credentials: TEST_KEYS, idSeed: 'seed-1' });
  const c = await startSandbox({ credentials: TEST_KEYS });
  const d = await startSandbox({ credentials: TEST_KEYS });
  const dir = mkdtempSync(join(tmpdir(), 'sb-seed-'));
  try {
    const idA = a.world.nextId('i-');
    assert.match(idA, /^i-0[0-9a-f]{16}$/);
    assert.equal(b.world.nextId('i-'), idA, 'one seed, the same ids');
    assert.match(a.world.nextId('', 32), /^[0-9a-f]{32}$/);
    assert.notEqual(a.world.nextId('sg-'), a.world.nextId('sg-'));
    // Two sandboxes started without a seed (two config directories, one stack name) never share ids.
    assert.notEqual(c.world.nextId('i-'), d.world.nextId('i-'));
    assert.notEqual(c.world.nextId('i-'), idA);

    // The seed is saved with the world, and a restarted sandbox goes on with it.
    const statePath = join(dir, 'state.json');
    const first = await startSandbox({ credentials: TEST_KEYS, statePath });
    const before = first.world.nextId('i-');
    await first.close();
    const again = await startSandbox({ credentials: TEST_KEYS, statePath, idSeed: 'ignored: the file has one' });
    const after = again.world.nextId('i-');
    await again.close();
    const fresh = await startSandbox({ credentials: TEST_KEYS, idSeed: (JSON.parse(readFileSync(statePath, 'utf8')) as { idSeed: string }).idSeed });
    fresh.world.nextId('i-');
    assert.equal(fresh.world.nextId('i-'), after, 'the second id of that seed');
    assert.notEqual(after, before);
    await fresh.close();
    assert.equal(statSync(statePath).mode & 0o777, 0o600, 'the state file is 0600');
  } finally {
    await Promise.all([a.close(), b.close(), c.close(), d.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('realistic latency adds a per-request delay', async () => {
  await withSandbox({ latency: 'realistic' }, async (sb) => {
    const sts = new STSClient(clientConfig(sb));
    const start = Date.now();
    await sts.send(new GetCallerIdentityCommand({}));
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 30, `took ${elapsed} ms`);
  });
});
