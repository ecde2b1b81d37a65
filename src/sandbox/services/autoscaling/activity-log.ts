/**
 * Scaling activities as tick() and the handlers record them (launches, terminations, failed launches),
 * worded as Auto Scaling words them, and as DescribeScalingActivities lists them.
 */
import type { Activity } from '@aws-sdk/client-auto-scaling';
import type { World } from '../../types.js';
import { asgState, type ActivityRecord, type ActivityStatus, type AsgGroupRecord } from './model.js';

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

export function openActivity(world: World, g: AsgGroupRecord, instanceId: string) {
  return asgState(world).activities.find((a) => a.region === g.region && a.autoScalingGroupName === g.autoScalingGroupName && a.instanceId === instanceId && a.endTime === undefined);
}
