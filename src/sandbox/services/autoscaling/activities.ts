/**
 * Auto Scaling scaling activities: what tick() and the API record (launches, terminations, failed
 * launches), worded as Auto Scaling words them, and DescribeScalingActivities (newest first).
 */
import { DescribeScalingActivitiesType$, type Activity, type ActivitiesType, type DescribeScalingActivitiesType } from '@aws-sdk/client-auto-scaling';
import { paginate } from '../../paginate.js';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { queryDecoder } from '../ec2/codec.js';
import { asgState, findGroup, validation } from './groups.js';

export type ActivityStatus = 'InProgress' | 'Successful' | 'Failed' | 'Cancelled' | 'PreInService' | 'WaitingForInstanceId';

export interface ActivityRecord {
  activityId: string;
  region: string;
  autoScalingGroupName: string;
  autoScalingGroupArn: string;
  description: string;
  cause: string;
  startTime: number;
  endTime?: number;
  statusCode: ActivityStatus;
  statusMessage?: string;
  progress: number;
  details: string;
  /** The EC2 instance the activity launches or terminates. */
  instanceId?: string;
}

/** "2026-12-01T12:00:00Z", as Auto Scaling writes times in causes. */
export function causeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function recordActivity(
  world: World,
  group: { region: string; autoScalingGroupName: string; autoScalingGroupArn: string; availabilityZones?: string[]; subnetIds?: string[] },
  a: Pick<ActivityRecord, 'description' | 'cause' | 'statusCode' | 'startTime'> & Partial<ActivityRecord>,
): ActivityRecord {
  const record: ActivityRecord = {
    activityId: world.nextId('', 32).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'),
    region: group.region,
    autoScalingGroupName: group.autoScalingGroupName,
    autoScalingGroupArn: group.autoScalingGroupArn,
    progress: a.statusCode === 'Successful' || a.statusCode === 'Failed' ? 100 : 0,
    details: JSON.stringify({ 'Subnet ID': group.subnetIds?.[0], 'Availability Zone': group.availabilityZones?.[0] }),
    ...a,
  };
  asgState(world).activities.push(record);
  return record;
}

export function finishActivity(a: ActivityRecord, at: number, status: ActivityStatus = 'Successful', message?: string): void {
  a.statusCode = status;
  a.endTime = at;
  a.progress = 100;
  if (message) a.statusMessage = message;
}

export function activityShape(a: ActivityRecord): Activity {
  return {
    ActivityId: a.activityId,
    AutoScalingGroupName: a.autoScalingGroupName,
    AutoScalingGroupARN: a.autoScalingGroupArn,
    Description: a.description,
    Cause: a.cause,
    StartTime: new Date(a.startTime),
    EndTime: a.endTime === undefined ? undefined : new Date(a.endTime),
    StatusCode: a.statusCode,
    StatusMessage: a.statusMessage,
    Progress: a.progress,
    Details: a.details,
  };
}

export function inProgress(world: World, region: string, name: string): ActivityRecord[] {
  return asgState(world).activities.filter((a) => a.region === region && a.autoScalingGroupName === name && a.endTime === undefined);
}

function describeScalingActivities(input: DescribeScalingActivitiesType, { world, region }: Call): ActivitiesType {
  const max = input.MaxRecords;
  if (max !== undefined && (max < 1 || max > 100)) throw validation(`1 validation error detected: Value '${max}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100`);
  const name = input.AutoScalingGroupName;
  if (name && !input.IncludeDeletedGroups) findGroup(world, region, name);
  const ids = input.ActivityIds ?? [];
  const activities = asgState(world)
    .activities.filter((a) => a.region === region && (!name || a.autoScalingGroupName === name) && (!ids.length || ids.includes(a.activityId)))
    .filter((a) => input.IncludeDeletedGroups || name || ids.length || asgState(world).groups[`${region}/${a.autoScalingGroupName}`])
    .slice()
    .reverse();
  const page = paginate(activities, {
    maxResults: max,
    nextToken: input.NextToken,
    defaultPageSize: 100,
    settings: world.settings,
    invalidToken: () => new ServiceError('InvalidNextToken', 'The token provided is invalid.', 400),
  });
  return { Activities: page.items.map(activityShape), NextToken: page.nextToken };
}

export const operations: Record<string, Operation> = {
  DescribeScalingActivities: typedOperation<DescribeScalingActivitiesType, ActivitiesType>({
    mutating: false,
    decode: queryDecoder(DescribeScalingActivitiesType$),
    handler: describeScalingActivities,
  }),
};
