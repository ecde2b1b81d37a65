/** CloudWatch Logs log groups (retention, tags) and their log streams. */
import type {
  CreateLogGroupRequest,
  CreateLogStreamRequest,
  DeleteLogGroupRequest,
  DeleteLogStreamRequest,
  DeleteRetentionPolicyRequest,
  DescribeLogGroupsRequest,
  DescribeLogGroupsResponse,
  DescribeLogStreamsRequest,
  DescribeLogStreamsResponse,
  ListTagsForResourceRequest,
  ListTagsForResourceResponse,
  ListTagsLogGroupRequest,
  ListTagsLogGroupResponse,
  PutRetentionPolicyRequest,
  TagLogGroupRequest,
  TagResourceRequest,
  UntagLogGroupRequest,
  UntagResourceRequest,
} from '@aws-sdk/client-cloudwatch-logs';
import { jsonBody, typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation } from '../../types.js';
import { paginate } from '../../paginate.js';
import { bool, list } from '../util.js';
import { RETENTION_DAYS, key, groupArn, invalidParameter, checkGroupName, checkStreamName, checkLimit, checkTags, invalidToken, findGroup, groupByName, findStream, groupByArn, type Empty } from './common.js';
import { state } from './records.js';
// ---------------------------------------------------------------------------------------------
// Log groups

function createLogGroup(p: CreateLogGroupRequest, { world, region, now }: Call): Empty {
  const name = checkGroupName(p.logGroupName);
  const tags = checkTags(p.tags);
  const groups = state(world).groups;
  if (groups[key(region, name)]) {
    throw new ServiceError('ResourceAlreadyExistsException', 'The specified log group already exists', 400);
  }
  groups[key(region, name)] = {
    logGroupName: name,
    region: region,
    creationTime: now,
    kmsKeyId: p.kmsKeyId,
    tags,
    streams: {},
  };
  return undefined;
}

function describeLogGroups(p: DescribeLogGroupsRequest, { world, region, now }: Call): DescribeLogGroupsResponse {
  if (p.logGroupNamePrefix && p.logGroupNamePattern) {
    throw invalidParameter('LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.');
  }
  const prefix: string = p.logGroupNamePrefix ?? '';
  const pattern = p.logGroupNamePattern ? String(p.logGroupNamePattern).toLowerCase() : undefined;
  const groups = Object.values(state(world).groups)
    .filter((g) => g.region === region && g.logGroupName.startsWith(prefix))
    .filter((g) => !pattern || g.logGroupName.toLowerCase().includes(pattern))
    .sort((a, b) => (a.logGroupName < b.logGroupName ? -1 : a.logGroupName > b.logGroupName ? 1 : 0));
  const page = paginate(groups, {
    maxResults: checkLimit(p.limit, 50),
    nextToken: p.nextToken,
    defaultPageSize: 50,
    settings: world.settings,
    invalidToken,
  });
  return {
    logGroups: page.items.map((g) => ({
      logGroupName: g.logGroupName,
      creationTime: g.creationTime,
      retentionInDays: g.retentionInDays,
      metricFilterCount: Object.keys(g.metricFilters ?? {}).length,
      arn: `${groupArn(world, g)}:*`,
      storedBytes: Object.values(g.streams).reduce((n, s) => n + s.storedBytes, 0),
      kmsKeyId: g.kmsKeyId,
      logGroupClass: 'STANDARD',
      logGroupArn: groupArn(world, g),
    })),
    nextToken: page.nextToken,
  };
}

function deleteLogGroup(p: DeleteLogGroupRequest, { world, region, now }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  delete state(world).groups[key(group.region, group.logGroupName)];
  return undefined;
}

function putRetentionPolicy(p: PutRetentionPolicyRequest, { world, region, now }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  const days = p.retentionInDays;
  if (days === undefined || days === null) {
    throw invalidParameter(`1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null`);
  }
  if (typeof days !== 'number' || !RETENTION_DAYS.includes(days)) {
    throw invalidParameter(
      `1 validation error detected: Value '${days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`,
    );
  }
  group.retentionInDays = days;
  return undefined;
}

function deleteRetentionPolicy(p: DeleteRetentionPolicyRequest, { world, region, now }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  delete group.retentionInDays;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Log streams

function createLogStream(p: CreateLogStreamRequest, { world, region, now }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  const name = checkStreamName(p.logStreamName);
  if (group.streams[name]) {
    throw new ServiceError('ResourceAlreadyExistsException', 'The specified log stream already exists', 400);
  }
  group.streams[name] = { logStreamName: name, creationTime: now, storedBytes: 0, events: [] };
  return undefined;
}

function deleteLogStream(p: DeleteLogStreamRequest, { world, region, now }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  const stream = findStream(group, p.logStreamName);
  delete group.streams[stream.logStreamName];
  return undefined;
}

function describeLogStreams(p: DescribeLogStreamsRequest, { world, region, now }: Call): DescribeLogStreamsResponse {
  const group = findGroup(world, region, p);
  const orderBy = p.orderBy ?? 'LogStreamName';
  if (orderBy !== 'LogStreamName' && orderBy !== 'LastEventTime') {
    throw invalidParameter(
      `1 validation error detected: Value '${orderBy}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]`,
    );
  }
  if (orderBy === 'LastEventTime' && p.logStreamNamePrefix) {
    throw invalidParameter('Cannot order by LastEventTime with a logStreamNamePrefix.');
  }
  const prefix: string = p.logStreamNamePrefix ?? '';
  const streams = Object.values(group.streams)
    .filter((s) => s.logStreamName.startsWith(prefix))
    .sort((a, b) =>
      orderBy === 'LastEventTime'
        ? (a.lastEventTimestamp ?? 0) - (b.lastEventTimestamp ?? 0) || a.creationTime - b.creationTime
        : a.logStreamName < b.logStreamName
          ? -1
          : a.logStreamName > b.logStreamName
            ? 1
            : 0,
    );
  if (bool(p.descending)) streams.reverse();
  const page = paginate(streams, {
    maxResults: checkLimit(p.limit, 50),
    nextToken: p.nextToken,
    defaultPageSize: 50,
    settings: world.settings,
    invalidToken,
  });
  return {
    logStreams: page.items.map((s) => ({
      logStreamName: s.logStreamName,
      creationTime: s.creationTime,
      firstEventTimestamp: s.firstEventTimestamp,
      lastEventTimestamp: s.lastEventTimestamp,
      lastIngestionTime: s.lastIngestionTime,
      arn: `${groupArn(world, group)}:log-stream:${s.logStreamName}`,
      storedBytes: 0, // AWS reports 0 here since 2019; the log group's storedBytes has the total
    })),
    nextToken: page.nextToken,
  };
}

// ---------------------------------------------------------------------------------------------
// Tags

function tagResource(p: TagResourceRequest, { world, region, now }: Call): Empty {
  const group = groupByArn(world, p.resourceArn);
  group.tags = checkTags({ ...group.tags, ...checkTags(p.tags) });
  return undefined;
}

function untagResource(p: UntagResourceRequest, { world, region, now }: Call): Empty {
  const group = groupByArn(world, p.resourceArn);
  for (const k of list<string>(p.tagKeys)) delete group.tags[k];
  return undefined;
}

function listTagsForResource(p: ListTagsForResourceRequest, { world, region, now }: Call): ListTagsForResourceResponse {
  return { tags: { ...groupByArn(world, p.resourceArn).tags } };
}

function tagLogGroup(p: TagLogGroupRequest, { world, region, now }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  group.tags = checkTags({ ...group.tags, ...checkTags(p.tags) });
  return undefined;
}

function untagLogGroup(p: UntagLogGroupRequest, { world, region, now }: Call): Empty {
  const group = groupByName(world, region, checkGroupName(p.logGroupName));
  for (const k of list<string>(p.tags)) delete group.tags[k];
  return undefined;
}

function listTagsLogGroup(p: ListTagsLogGroupRequest, { world, region, now }: Call): ListTagsLogGroupResponse {
  return { tags: { ...groupByName(world, region, checkGroupName(p.logGroupName)).tags } };
}

export const groupOperations: Record<string, Operation> = {
  CreateLogGroup: typedOperation({ mutating: true, decode: jsonBody<CreateLogGroupRequest>, handler: createLogGroup }),
  DescribeLogGroups: typedOperation({ mutating: false, decode: jsonBody<DescribeLogGroupsRequest>, handler: describeLogGroups }),
  DeleteLogGroup: typedOperation({ mutating: true, decode: jsonBody<DeleteLogGroupRequest>, handler: deleteLogGroup }),
  PutRetentionPolicy: typedOperation({ mutating: true, decode: jsonBody<PutRetentionPolicyRequest>, handler: putRetentionPolicy }),
  DeleteRetentionPolicy: typedOperation({ mutating: true, decode: jsonBody<DeleteRetentionPolicyRequest>, handler: deleteRetentionPolicy }),
  CreateLogStream: typedOperation({ mutating: true, decode: jsonBody<CreateLogStreamRequest>, handler: createLogStream }),
  DescribeLogStreams: typedOperation({ mutating: false, decode: jsonBody<DescribeLogStreamsRequest>, handler: describeLogStreams }),
  DeleteLogStream: typedOperation({ mutating: true, decode: jsonBody<DeleteLogStreamRequest>, handler: deleteLogStream }),
  TagResource: typedOperation({ mutating: true, decode: jsonBody<TagResourceRequest>, handler: tagResource }),
  UntagResource: typedOperation({ mutating: true, decode: jsonBody<UntagResourceRequest>, handler: untagResource }),
  ListTagsForResource: typedOperation({ mutating: false, decode: jsonBody<ListTagsForResourceRequest>, handler: listTagsForResource }),
  TagLogGroup: typedOperation({ mutating: true, decode: jsonBody<TagLogGroupRequest>, handler: tagLogGroup }),
  UntagLogGroup: typedOperation({ mutating: true, decode: jsonBody<UntagLogGroupRequest>, handler: untagLogGroup }),
  ListTagsLogGroup: typedOperation({ mutating: false, decode: jsonBody<ListTagsLogGroupRequest>, handler: listTagsLogGroup }),
};
