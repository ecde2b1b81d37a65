/** What CloudWatch Logs' operations share: limits, validation as the service words it, lookups. */
import { ServiceError, type World } from '../../types.js';
import { int, type TagMap } from '../util.js';
import { state, type LogGroupRecord, type LogStreamRecord } from './records.js';

/** What an operation without output returns (the JSON protocol then writes {}). */
export type Empty = undefined;

export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export const MAX_EVENTS_PER_STREAM = 10_000;
export const MAX_BATCH_EVENTS = 10_000;
export const MAX_BATCH_BYTES = 1_048_576;
export const DAY_MS = 24 * 60 * 60 * 1000;
export const TOO_NEW_MS = 2 * 60 * 60 * 1000;
export const TOO_OLD_MS = 14 * DAY_MS;


export function key(region: string, name: string): string {
  return `${region}|${name}`;
}

export function groupArn(world: World, g: LogGroupRecord): string {
  return `arn:aws:logs:${g.region}:${world.settings.accountId}:log-group:${g.logGroupName}`;
}

// ---------------------------------------------------------------------------------------------
// Validation

export function invalidParameter(message: string): ServiceError {
  return new ServiceError('InvalidParameterException', message, 400);
}

export function required(value: unknown, member: string): string {
  if (value === undefined || value === null || value === '') {
    throw invalidParameter(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  return String(value);
}

export function checkGroupName(value: unknown, member = 'logGroupName'): string {
  const name = required(value, member);
  if (name.length > 512 || !/^[.\-_/#A-Za-z0-9]+$/.test(name)) {
    throw invalidParameter(
      `1 validation error detected: Value '${name}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+`,
    );
  }
  return name;
}

export function checkStreamName(value: unknown, member = 'logStreamName'): string {
  const name = required(value, member);
  if (name.length > 512 || /[:*]/.test(name)) {
    throw invalidParameter(
      `1 validation error detected: Value '${name}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*`,
    );
  }
  return name;
}

export function checkLimit(value: unknown, max: number): number | undefined {
  const limit = int(value);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > max)) {
    throw invalidParameter(
      `1 validation error detected: Value '${value}' at 'limit' failed to satisfy constraint: Member must have value ${limit! < 1 ? 'greater than or equal to 1' : `less than or equal to ${max}`}`,
    );
  }
  return limit;
}

export function checkTags(value: unknown): TagMap {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidParameter('Tags must be a map.');
  const tags = value as TagMap;
  if (Object.keys(tags).length > 50) throw invalidParameter('A resource can have no more than 50 tags.');
  for (const k of Object.keys(tags)) {
    if (k.toLowerCase().startsWith('aws:')) throw invalidParameter('Tag keys must not start with "aws:".');
  }
  return { ...tags };
}

export function invalidToken(): ServiceError {
  return invalidParameter('The specified nextToken is invalid.');
}

// ---------------------------------------------------------------------------------------------
// Lookups

/** By logGroupName or logGroupIdentifier (a name or an ARN). */
export function findGroup(world: World, region: string, p: { logGroupName?: string; logGroupIdentifier?: string }): LogGroupRecord {
  if (p.logGroupName && p.logGroupIdentifier) {
    throw invalidParameter('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
  }
  const name = required(p.logGroupName ?? p.logGroupIdentifier, 'logGroupName');
  const arn = /^arn:aws[a-z-]*:logs:([^:]+):\d+:log-group:(.+?)(:\*)?$/.exec(name);
  if (arn) return groupByName(world, arn[1], arn[2]);
  return groupByName(world, region, name);
}

export function groupByName(world: World, region: string, name: string): LogGroupRecord {
  const group = state(world).groups[key(region, name)];
  if (!group) throw new ServiceError('ResourceNotFoundException', 'The specified log group does not exist.', 400);
  return group;
}

export function findStream(group: LogGroupRecord, name: unknown): LogStreamRecord {
  const stream = group.streams[checkStreamName(name)];
  if (!stream) throw new ServiceError('ResourceNotFoundException', 'The specified log stream does not exist.', 400);
  return stream;
}

export function groupByArn(world: World, arn: unknown): LogGroupRecord {
  const text = required(arn, 'resourceArn');
  const match = /^arn:aws[a-z-]*:logs:([^:]+):(\d+):log-group:(.+?)(:\*)?$/.exec(text);
  if (!match) throw invalidParameter(`Invalid resource ARN: ${text}`);
  const group = state(world).groups[key(match[1], match[3])];
  if (!group || match[2] !== world.settings.accountId) {
    throw new ServiceError('ResourceNotFoundException', `The specified resource does not exist.`, 400);
  }
  return group;
}

export function nextSequenceToken(world: World): string {
  const s = state(world);
  s.seq += 1;
  return String(49_650_000_000_000 + s.seq).padStart(56, '0');
}
