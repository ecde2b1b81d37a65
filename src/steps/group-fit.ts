/**
 * The group's launch checks, made only where something about a launch changed. A stack whose Auto
 * Scaling group and launch template already are what the settings ask for (the template's instance
 * type and key pair, the VPC of its security group, no --subnet, not --replace-instance) launches
 * what it launched before: EC2 runs that type there. So its network is the group's own (its subnets
 * and zones, in the VPC of the stack's security group the template names) rather than derived again,
 * and the type, its zone offerings, the VPC's subnets and the image are not looked up; the AMI's id
 * alone is, from SSM, for the "newer AMI" note (instance.ts preparedFrom does the same for one
 * instance). Any difference runs every check, in prepare, before anything is written.
 *
 * The group and the template read here are the ones the steps' reads of the same plan make: shared
 * with them (oncePerPlan), so a plan made again (under the account lock) reads afresh.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import type { Context } from '../engine/context.js';
import { oncePerPlan } from '../engine/run.js';
import { ownedBy } from '../core/context.js';
import { discovered, isAbsent, type Absent, type Discovered } from '../core/step.js';
import { groupNames } from '../core/topology.js';
import { stackSecurityGroupsAtStart } from './inventory.js';
import { readLaunchTemplate, type LaunchTemplateObserved } from './launch-template-observe.js';

export interface GroupNetwork {
  vpcId: string | Discovered<string>;
  /** The group's subnets (one public subnet per zone where derived), sorted. */
  subnets: string[];
  /** Their zones, sorted. */
  zones: string[];
}

/** Without Auto Scaling, the run's inventory or a plan (a context made by hand), the checks run. */
export type FitCtx = Pick<Context, 'ec2' | 'config' | 'stack' | 'flags'> & Partial<Pick<Context, 'autoscaling' | 'inventory' | 'planReads'>>;

/** The root device of the ECS-optimized AL2023 AMIs: a template holding another is checked against the image. */
export const DEFAULT_ROOT_DEVICE = '/dev/xvda';

const LT_VERSION = '$Default';

export const groupKey = (name: string) => `autoscaling:group:${name}`;
export const templateKey = (name: string) => `ec2:launch-template:${name}`;

/** The Auto Scaling group of that name, as DescribeAutoScalingGroups returns it. */
export async function readRawGroup(ctx: Pick<Context, 'autoscaling'>, name: string): Promise<AutoScalingGroup | undefined> {
  const res = await ctx.autoscaling.describeAutoScalingGroups({ AutoScalingGroupNames: [name] });
  return res.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === name);
}

// ---- the fit ----------------------------------------------------------------------------------------

/**
 * The group's network when the group and its template already are what the settings ask for;
 * undefined when anything differs (or can't be told without the checks): then the checks run. Made
 * once per plan, in a plan of a run with its inventory (elsewhere, the reads it saves could not be
 * shared): the plan made again under the account lock judges afresh, from its own reads and the
 * template's tags from EC2 (engine/run.ts forWrites).
 */
export function groupAsAsked(ctx: FitCtx): Promise<GroupNetwork | undefined> {
  const { autoscaling, inventory, planReads } = ctx;
  if (!inventory || !autoscaling || !planReads) return Promise.resolve(undefined);
  const c = ctx.config;
  return planReads.once(`group:as-asked:${JSON.stringify([c.instanceType, c.vpcId ?? '', c.subnetId ?? '', c.keyName ?? '', Boolean(ctx.flags.replaceInstance)])}`, () => findFit(ctx, autoscaling));
}

async function findFit(ctx: FitCtx, autoscaling: Context['autoscaling']): Promise<GroupNetwork | undefined> {
  const c = ctx.config;
  if (c.subnetId || ctx.flags.replaceInstance) return undefined; // --subnet is refused by the checks; a replacement launches
  const names = groupNames(c);
  const [g, t, groups] = await Promise.all([
    oncePerPlan(ctx, groupKey(names.autoScalingGroup), () => readRawGroup({ autoscaling }, names.autoScalingGroup)),
    oncePerPlan<LaunchTemplateObserved | Absent>(ctx, templateKey(names.launchTemplate), () => readLaunchTemplate(ctx, names.launchTemplate)),
    stackSecurityGroupsAtStart(ctx),
  ]);
  if (!g || g.Status === 'Delete in progress' || !ownedBy(Object.fromEntries((g.Tags ?? []).map((x) => [x.Key ?? '', x.Value ?? ''])), ctx.stack)) return undefined;
  const lt = g.LaunchTemplate ?? g.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  if (isAbsent(t) || !t.owned || lt?.LaunchTemplateId !== t.launchTemplateId || lt.Version !== LT_VERSION) return undefined;
  const d = t.data;
  if (d.instanceType !== c.instanceType || d.keyName !== (c.keyName || undefined) || !d.imageId || d.rootVolume?.deviceName !== DEFAULT_ROOT_DEVICE) return undefined;
  // The VPC: the one of the stack's security group the template launches into (an instance's group
  // and subnet are in one VPC).
  const sg = groups.find((x) => x.GroupName === c.securityGroupName && x.GroupId && x.VpcId && d.securityGroupIds.includes(x.GroupId));
  if (!sg || (c.vpcId && c.vpcId !== sg.VpcId)) return undefined;
  const subnets = (g.VPCZoneIdentifier ?? '').split(',').map((s) => s.trim()).filter(Boolean).sort();
  const zones = [...new Set(g.AvailabilityZones ?? [])].sort();
  // An ALB needs two zones: a group in fewer is checked (and said so) the usual way.
  if (!subnets.length || zones.length < (c.loadBalancer ? 2 : 1)) return undefined;
  return { vpcId: c.vpcId ?? discovered(sg.VpcId!, `the VPC of the stack's security group ${sg.GroupName} (${sg.GroupId})`), subnets, zones };
}
