/**
 * Auto Scaling's model, the bottom of the service: its records (groups, their members, scaling
 * activities), world.state.autoscaling (AutoScalingView in ../../views.ts: groups keyed
 * `${region}/${name}`), finding a group and the ValidationError Auto Scaling answers with. It imports
 * no handler; every other file of the service may import it.
 */
import { ServiceError, type World } from '../../types.js';
import type { AsgGroupView, AsgInstanceView } from '../../views.js';

export interface AsgGroupRecord extends AsgGroupView {
  instances: AsgInstanceRecord[];
  createdTime: number;
  launchTemplate: { launchTemplateId: string; launchTemplateName: string; version: string };
  vpcZoneIdentifier: string;
  subnetIds: string[];
  availabilityZones: string[];
  healthCheckType: string;
  healthCheckGracePeriod: number;
  defaultCooldown: number;
  terminationPolicies: string[];
  targetGroupArns: string[];
  capacityRebalance: boolean;
  maxInstanceLifetime?: number;
  /** Tag key -> PropagateAtLaunch. */
  propagateAtLaunch: Record<string, boolean>;
  /** Why the desired capacity last changed, the first sentence of launch and termination causes. */
  capacityCause: string;
  /** When a launch last failed: tick() retries ten seconds later. */
  lastLaunchFailureAt?: number;
}

export interface AsgInstanceRecord extends AsgInstanceView {
  instanceType: string;
  subnetId: string;
  launchedAt: number;
  launchTemplate: { launchTemplateId: string; launchTemplateName: string; version: string };
}

export interface AutoScalingState {
  groups: Record<string, AsgGroupRecord>;
  activities: ActivityRecord[];
}

export function initState(): AutoScalingState {
  return { groups: {}, activities: [] };
}

export function asgState(world: World): AutoScalingState {
  const s = (world.state.autoscaling ??= initState()) as AutoScalingState;
  s.groups ??= {};
  s.activities ??= [];
  return s;
}

export const validation = (message: string) => new ServiceError('ValidationError', message, 400);

export function groupNotFound(name: string): ServiceError {
  return validation(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
}

export function findGroup(world: World, region: string, name: string | undefined): AsgGroupRecord {
  if (!name) throw validation("1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null");
  const g = asgState(world).groups[`${region}/${name}`];
  if (!g) throw groupNotFound(name);
  return g;
}

/** AsgGroupView.status while ForceDelete terminates the instances; the group goes once they are. */
export const DELETE_IN_PROGRESS = 'Delete in progress';

export const isDeleting = (g: AsgGroupRecord) => g.status === DELETE_IN_PROGRESS;

/** Groups being deleted refuse changes. */
export function notDeleting(g: AsgGroupRecord): AsgGroupRecord {
  if (isDeleting(g)) throw validation(`AutoScalingGroup ${g.autoScalingGroupName} is pending delete.`);
  return g;
}

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
