/**
 * The Tagging API's listing lags the services (services/tagging-index.ts): with a lag L, GetResources,
 * GetTagKeys and GetTagValues answer the tags as they were at now - L. On the sandbox's clock (a
 * ManualClock), so each boundary is exact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetResourcesCommand, GetTagKeysCommand, GetTagValuesCommand, ResourceGroupsTaggingAPIClient, type ResourceTagMapping } from '@aws-sdk/client-resource-groups-tagging-api';
import { ManualClock, startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { DEFAULT_TAGGING_LAG_MS } from '../../src/sandbox/latency.js';
import type { TaggingState } from '../../src/sandbox/services/tagging-index.js';
import { control, TEST_KEYS } from '../helpers/sandbox-context.js';
import { clientConfig, withSandbox } from './support.js';

const LAG = 5000;
const GROUP = '/ecs/lag';
const ARN = `arn:aws:logs:us-east-1:123456789012:log-group:${GROUP}`;
const STACK_KEY = 'ecs-cwlogs:stack';

interface Clients {
  logs: CloudWatchLogsClient;
  tagging: ResourceGroupsTaggingAPIClient;
}

async function withLag(fn: (sb: RunningSandbox, c: Clients, clock: ManualClock) => Promise<void>, opts: { statePath?: string; clock?: ManualClock } = {}): Promise<void> {
  const clock = opts.clock ?? new ManualClock();
  await withSandbox({ latency: 'fast', taggingLagMs: LAG, clock, ...(opts.statePath ? { statePath: opts.statePath } : {}) }, async (sb) => {
    const cfg = clientConfig(sb, { maxAttempts: 1 });
    const c = { logs: new CloudWatchLogsClient(cfg), tagging: new ResourceGroupsTaggingAPIClient(cfg) };
    try {
      await fn(sb, c, clock);
    } finally {
      c.logs.destroy();
      c.tagging.destroy();
    }
  });
}

/** What the listing shows of the log group: its tags, or undefined when it is not listed. */
async function listed(tagging: ResourceGroupsTaggingAPIClient, filter?: string): Promise<Record<string, string> | undefined> {
  const out = await tagging.send(new GetResourcesCommand({ ResourceTypeFilters: ['logs:log-group'], ...(filter ? { TagFilters: [{ Key: filter }] } : {}) }));
  const m: ResourceTagMapping | undefined = out.ResourceTagMappingList?.find((r) => r.ResourceARN === ARN);
  return m && Object.fromEntries((m.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

const indexOf = (sb: RunningSandbox) => (sb.world.state.tagging as TaggingState).index;

test('the lag per profile: realistic 10 s, none and fast 0 (the listing as the services hold it)', async () => {
  assert.deepEqual(DEFAULT_TAGGING_LAG_MS, { none: 0, fast: 0, realistic: 10_000 });
  for (const latency of ['none', 'fast', 'realistic'] as const) {
    const sb = await startSandbox({ port: 0, latency, credentials: TEST_KEYS });
    try {
      assert.equal(sb.world.settings.taggingLagMs, DEFAULT_TAGGING_LAG_MS[latency], latency);
    } finally {
      await sb.close();
    }
  }
  // Without a lag, a resource is listed the moment it is tagged, and no index is kept.
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const cfg = clientConfig(sb, { maxAttempts: 1 });
    const logs = new CloudWatchLogsClient(cfg);
    const tagging = new ResourceGroupsTaggingAPIClient(cfg);
    await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP, tags: { [STACK_KEY]: 'lab' } }));
    assert.deepEqual(await listed(tagging), { [STACK_KEY]: 'lab' });
    assert.equal((sb.world.state.tagging as TaggingState | undefined)?.index, undefined);
    logs.destroy();
    tagging.destroy();
  });
});

test('a new resource is listed only once the lag has passed; GetTagKeys and GetTagValues lag with it', async () => {
  await withLag(async (_sb, { logs, tagging }, clock) => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP, tags: { [STACK_KEY]: 'lab' } }));
    assert.equal(await listed(tagging), undefined, 'created moments ago: not listed');
    assert.equal(await listed(tagging, STACK_KEY), undefined);
    assert.deepEqual((await tagging.send(new GetTagKeysCommand({}))).TagKeys, []);
    clock.advance(LAG - 1);
    assert.equal(await listed(tagging), undefined, '1 ms before the lag has passed: still not listed');
    clock.advance(1);
    assert.deepEqual(await listed(tagging, STACK_KEY), { [STACK_KEY]: 'lab' }, 'listed once the lag has passed');
    assert.deepEqual((await tagging.send(new GetTagKeysCommand({}))).TagKeys, [STACK_KEY]);
    assert.deepEqual((await tagging.send(new GetTagValuesCommand({ Key: STACK_KEY }))).TagValues, ['lab']);
  });
});

test('a tag change shows the old tags for the lag; a resource whose last tag went stays listed with none', async () => {
  await withLag(async (sb, { logs, tagging }, clock) => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP, tags: { [STACK_KEY]: 'lab' } }));
    clock.advance(LAG);
    await logs.send(new TagResourceCommand({ resourceArn: ARN, tags: { [STACK_KEY]: 'other' } }));
    clock.advance(LAG - 1);
    assert.deepEqual(await listed(tagging, STACK_KEY), { [STACK_KEY]: 'lab' }, 'the change is not shown yet');
    assert.deepEqual((await tagging.send(new GetTagValuesCommand({ Key: STACK_KEY }))).TagValues, ['lab']);
    clock.advance(1);
    assert.deepEqual(await listed(tagging, STACK_KEY), { [STACK_KEY]: 'other' });

    await logs.send(new UntagResourceCommand({ resourceArn: ARN, tagKeys: [STACK_KEY] }));
    assert.deepEqual(await listed(tagging, STACK_KEY), { [STACK_KEY]: 'other' }, 'untagged moments ago: its old tags');
    clock.advance(LAG);
    assert.deepEqual(await listed(tagging), {}, '"previously tagged": listed with an empty tag list');
    assert.equal(await listed(tagging, STACK_KEY), undefined, 'a tag filter no longer matches it');
    assert.deepEqual((await tagging.send(new GetTagKeysCommand({}))).TagKeys, []);
    // The index keeps one entry for it, not its history.
    clock.advance(1);
    await listed(tagging);
    assert.deepEqual(indexOf(sb)?.entries[ARN], [{ at: clock.now() - LAG - 1, tags: {} }]);
  });
});

test('a deleted resource stays listed with its last tags for the lag, then is forgotten by the index too', async () => {
  await withLag(async (sb, { logs, tagging }, clock) => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP, tags: { [STACK_KEY]: 'lab', role: 'logs' } }));
    clock.advance(LAG);
    await logs.send(new DeleteLogGroupCommand({ logGroupName: GROUP }));
    assert.deepEqual(await listed(tagging, STACK_KEY), { [STACK_KEY]: 'lab', role: 'logs' }, 'deleted moments ago: still listed');
    clock.advance(LAG - 1);
    assert.deepEqual(await listed(tagging), { [STACK_KEY]: 'lab', role: 'logs' });
    clock.advance(1);
    assert.equal(await listed(tagging), undefined, 'gone once the lag has passed');
    assert.equal(indexOf(sb)?.entries[ARN], undefined, 'and the index holds nothing of it');
  });
});

test('the index survives the state file: a resource created before a restart is still not listed after it, then is', async () => {
  const statePath = join(mkdtempSync(join(tmpdir(), 'cwl-lag-')), 'state.json');
  const clock = new ManualClock();
  await withLag(
    async (_sb, { logs, tagging }) => {
      await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP, tags: { [STACK_KEY]: 'lab' } }));
      assert.equal(await listed(tagging), undefined);
    },
    { statePath, clock },
  );
  const saved = JSON.parse(readFileSync(statePath, 'utf8')) as { state: { tagging: TaggingState } };
  assert.deepEqual(saved.state.tagging.index?.entries[ARN], [{ at: clock.now(), tags: { [STACK_KEY]: 'lab' } }]);
  clock.advance(LAG / 2);
  await withLag(
    async (_sb, { tagging }) => {
      assert.equal(await listed(tagging), undefined, 'after the restart, still within the lag');
      clock.advance(LAG / 2);
      assert.deepEqual(await listed(tagging), { [STACK_KEY]: 'lab' });
    },
    { statePath, clock },
  );
});

test('the lag is a setting: 0 through the control endpoint lists at once; set again, what existed counts as settled', async () => {
  await withLag(async (sb, { logs, tagging }) => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP, tags: { [STACK_KEY]: 'lab' } }));
    assert.equal(await listed(tagging), undefined);
    const off = await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ taggingLagMs: 0 }) });
    assert.equal(off.status, 200);
    assert.deepEqual(await listed(tagging), { [STACK_KEY]: 'lab' });
    assert.equal(indexOf(sb), undefined, 'no index without a lag');
    await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ taggingLagMs: LAG }) });
    assert.deepEqual(await listed(tagging), { [STACK_KEY]: 'lab' }, 'tagged before the index began: listed');
    await logs.send(new DeleteLogGroupCommand({ logGroupName: GROUP }));
    assert.deepEqual(await listed(tagging), { [STACK_KEY]: 'lab' }, 'deleted since: still listed');
    const bad = await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ taggingLagMs: -1 }) });
    assert.equal(bad.status, 400);
  });
});
