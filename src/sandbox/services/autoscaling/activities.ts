/**
 * Auto Scaling scaling activities: what tick() and the API record (launches, terminations, failed
 * launches), worded as Auto Scaling words them, and DescribeScalingActivities (newest first).
 */
import { DescribeScalingActivitiesType$, type ActivitiesType, type DescribeScalingActivitiesType } from '@aws-sdk/client-auto-scaling';
import { paginate } from '../../paginate.js';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation } from '../../types.js';
import { queryDecoder } from '../ec2/codec.js';
import { activityShape } from './activity-log.js';
import { asgState, findGroup, validation } from './model.js';

export type ActivityStatus = 'InProgress' | 'Successful' | 'Failed' | 'Cancelled' | 'PreInService' | 'WaitingForInstanceId';

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
