import assert from 'node:assert/strict';
import { rejects } from './support.js';
import { after, before, test } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  ListTagsForResourceCommand,
  ListTagsLogGroupCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
  TagLogGroupCommand,
  TagResourceCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { ManualClock, startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { logs as logsModule } from '../../src/sandbox/services/logs.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

const clock = new ManualClock();
let sb: RunningSandbox;
let logs: CloudWatchLogsClient;

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, services: [logsModule], clock });
  logs = new CloudWatchLogsClient({
    region: 'us-east-1',
    endpoint: sb.url,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
});

after(async () => {
  logs.destroy();
  await sb.close();
});


test('log groups: create with tags, duplicate, retention validation, describe, delete', async () => {
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/app', tags: { stack: 'test' } }));
  await rejects(logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/app' })), 'ResourceAlreadyExistsException');
  await rejects(logs.send(new CreateLogGroupCommand({ logGroupName: 'bad name' })), 'InvalidParameterException');

  await rejects(logs.send(new PutRetentionPolicyCommand({ logGroupName: '/ecs/app', retentionInDays: 2 })), 'InvalidParameterException', /enum value set/);
  await rejects(logs.send(new PutRetentionPolicyCommand({ logGroupName: '/ecs/nope', retentionInDays: 7 })), 'ResourceNotFoundException');
  await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/ecs/app', retentionInDays: 30 }));

  const { logGroups } = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/' }));
  assert.equal(logGroups?.length, 1);
  assert.equal(logGroups?.[0].retentionInDays, 30);
  assert.equal(logGroups?.[0].arn, 'arn:aws:logs:us-east-1:123456789012:log-group:/ecs/app:*');
  assert.equal(logGroups?.[0].creationTime, clock.now());

  const arn = 'arn:aws:logs:us-east-1:123456789012:log-group:/ecs/app';
  await logs.send(new TagResourceCommand({ resourceArn: arn, tags: { owner: 'me' } }));
  assert.deepEqual((await logs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, { stack: 'test', owner: 'me' });
  await logs.send(new TagLogGroupCommand({ logGroupName: '/ecs/app', tags: { legacy: 'yes' } }));
  assert.equal((await logs.send(new ListTagsLogGroupCommand({ logGroupName: '/ecs/app' }))).tags?.legacy, 'yes');
  await rejects(logs.send(new ListTagsForResourceCommand({ resourceArn: `${arn}-nope` })), 'ResourceNotFoundException');

  await logs.send(new DeleteLogGroupCommand({ logGroupName: '/ecs/app' }));
  await rejects(logs.send(new DeleteLogGroupCommand({ logGroupName: '/ecs/app' })), 'ResourceNotFoundException');
});

test('DescribeLogGroups and DescribeLogStreams paginate with pageSize 1', async () => {
  for (const n of ['a', 'b', 'c']) {
    await logs.send(new CreateLogGroupCommand({ logGroupName: `/page/${n}` }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/page/a', logStreamName: `s-${n}` }));
  }
  sb.world.settings.pageSize = 1;
  try {
    const groups: string[] = [];
    let token: string | undefined;
    do {
      const page = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/page/', nextToken: token }));
      groups.push(...(page.logGroups ?? []).map((g) => g.logGroupName!));
      token = page.nextToken;
    } while (token);
    assert.deepEqual(groups, ['/page/a', '/page/b', '/page/c']);

    const streams: string[] = [];
    do {
      const page = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/page/a', descending: true, nextToken: token }));
      streams.push(...(page.logStreams ?? []).map((s) => s.logStreamName!));
      token = page.nextToken;
    } while (token);
    assert.deepEqual(streams, ['s-c', 's-b', 's-a']);
  } finally {
    sb.world.settings.pageSize = 0;
  }
  await rejects(logs.send(new CreateLogStreamCommand({ logGroupName: '/page/a', logStreamName: 's-a' })), 'ResourceAlreadyExistsException');
  await rejects(logs.send(new CreateLogStreamCommand({ logGroupName: '/page/zzz', logStreamName: 's' })), 'ResourceNotFoundException');
  await rejects(
    logs.send(new DescribeLogStreamsCommand({ logGroupName: '/page/a', orderBy: 'LastEventTime', logStreamNamePrefix: 's' })),
    'InvalidParameterException',
  );
});

test('events: put, reject too old/new, get with tokens, filter across streams', async () => {
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/ev' }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/ev', logStreamName: 'web' }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/ev', logStreamName: 'worker' }));
  const t = clock.now();

  await rejects(
    logs.send(
      new PutLogEventsCommand({
        logGroupName: '/ev',
        logStreamName: 'web',
        logEvents: [
          { timestamp: t + 10, message: 'b' },
          { timestamp: t, message: 'a' },
        ],
      }),
    ),
    'InvalidParameterException',
    /chronological/,
  );
  await rejects(
    logs.send(new PutLogEventsCommand({ logGroupName: '/ev', logStreamName: 'nope', logEvents: [{ timestamp: t, message: 'x' }] })),
    'ResourceNotFoundException',
  );

  const old = await logs.send(
    new PutLogEventsCommand({ logGroupName: '/ev', logStreamName: 'web', logEvents: [{ timestamp: t - 15 * 86_400_000, message: 'ancient' }] }),
  );
  assert.deepEqual(old.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 0 });
  const put = await logs.send(
    new PutLogEventsCommand({
      logGroupName: '/ev',
      logStreamName: 'web',
      logEvents: [
        { timestamp: t + 1, message: 'GET /health 200' },
        { timestamp: t + 3, message: 'GET /api 500 ERROR' },
        { timestamp: t + 5, message: 'GET /api 200' },
        { timestamp: t + 3 * 3_600_000, message: 'future' },
      ],
    }),
  );
  assert.ok(put.nextSequenceToken);
  assert.deepEqual(put.rejectedLogEventsInfo, { tooNewLogEventStartIndex: 3 });
  await logs.send(
    new PutLogEventsCommand({
      logGroupName: '/ev',
      logStreamName: 'worker',
      logEvents: [
        { timestamp: t + 2, message: 'job started' },
        { timestamp: t + 4, message: 'job failed ERROR' },
      ],
    }),
  );

  // GetLogEvents: newest first page by default; startFromHead with limit and forward tokens.
  const head = await logs.send(new GetLogEventsCommand({ logGroupName: '/ev', logStreamName: 'web', startFromHead: true, limit: 2 }));
  assert.deepEqual(head.events?.map((e) => e.message), ['GET /health 200', 'GET /api 500 ERROR']);
  const next = await logs.send(new GetLogEventsCommand({ logGroupName: '/ev', logStreamName: 'web', nextToken: head.nextForwardToken }));
  assert.deepEqual(next.events?.map((e) => e.message), ['GET /api 200']);
  const end = await logs.send(new GetLogEventsCommand({ logGroupName: '/ev', logStreamName: 'web', nextToken: next.nextForwardToken }));
  assert.deepEqual(end.events, []);
  assert.equal(end.nextForwardToken, next.nextForwardToken);
  const tail = await logs.send(new GetLogEventsCommand({ logGroupName: '/ev', logStreamName: 'web', limit: 1 }));
  assert.deepEqual(tail.events?.map((e) => e.message), ['GET /api 200']);

  // FilterLogEvents interleaves streams by timestamp.
  const all = await logs.send(new FilterLogEventsCommand({ logGroupName: '/ev' }));
  assert.deepEqual(all.events?.map((e) => e.message), [
    'GET /health 200',
    'job started',
    'GET /api 500 ERROR',
    'job failed ERROR',
    'GET /api 200',
  ]);
  const errors = await logs.send(new FilterLogEventsCommand({ logGroupName: '/ev', filterPattern: 'ERROR' }));
  assert.deepEqual(errors.events?.map((e) => e.logStreamName), ['web', 'worker']);
  const notHealth = await logs.send(
    new FilterLogEventsCommand({ logGroupName: '/ev', logStreamNames: ['web'], filterPattern: 'GET -health', startTime: t + 2, endTime: t + 5 }),
  );
  assert.deepEqual(notHealth.events?.map((e) => e.message), ['GET /api 500 ERROR', 'GET /api 200']);

  sb.world.settings.pageSize = 1;
  try {
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const page = await logs.send(new FilterLogEventsCommand({ logGroupName: '/ev', logStreamNamePrefix: 'wor', nextToken: token }));
      paged.push(...(page.events ?? []).map((e) => e.message!));
      token = page.nextToken;
    } while (token);
    assert.deepEqual(paged, ['job started', 'job failed ERROR']);
  } finally {
    sb.world.settings.pageSize = 0;
  }
  await rejects(logs.send(new FilterLogEventsCommand({ logGroupName: '/nope' })), 'ResourceNotFoundException');
});
