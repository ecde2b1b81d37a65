/**
 * The single topology's instances as EC2 shows them: what the instance step observes and wants (its
 * types), and how the stack's instances are found (the stack tag, Auto Scaling's left out).
 */
import type { Instance } from '@aws-sdk/client-ec2';
import type { Context } from '../engine/context.js';
import { STACK_TAG } from '../core/context.js';
import { hasAwsCode } from '../core/errors.js';
import type { Discovered } from '../core/step.js';
import { isBurstable, tagMap, type AmiInfo, type SubnetChoice } from './host.js';


export type Ctx = Pick<Context, 'ec2' | 'ssm' | 'ecs' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'clock' | 'timing' | 'signal' | 'report' | 'inventory'>;

export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

export interface InstanceObserved {
  instanceId: string;
  state: string;
  instanceType: string;
  imageId: string;
  subnetId: string;
  vpcId: string;
  keyName?: string;
  publicIp?: string;
  privateIp?: string;
  securityGroupIds: string[];
  instanceProfileArn?: string;
  httpTokens?: string;
  hopLimit?: number;
  /** Burstable types: the CPU credit option, when EC2 says (DescribeInstanceCreditSpecifications). */
  cpuCredits?: string;
  tags: Record<string, string>;
}

export interface InstanceStepObserved {
  /** The oldest live instance carrying the stack tag (normally the only one). */
  instance?: InstanceObserved;
  /** Every live instance of the stack, oldest first: two after a replacement cut short. */
  instances?: InstanceObserved[];
}

export interface InstanceDesired {
  /** The security group the instance launches in (the security-group step's); undefined until it is created. */
  securityGroupId?: string;
  securityGroupName: string;
  vpcId?: string;
  subnetId?: string;
  /**
   * Where a launch may go, in order: the first is tried first, the next ones when EC2 answers
   * InsufficientInstanceCapacity or Unsupported. Only the given one with --subnet.
   */
  subnetChoices: SubnetChoice[];
  /** The subnet was given (--subnet): an instance elsewhere differs. Otherwise any public subnet of the VPC will do. */
  subnetFixed: boolean;
  /** Burstable types (t2, t3, t3a, t4g) launch with `standard` CPU credits: no surplus credit charges. */
  cpuCredits?: 'standard';
  /** --replace-instance: what only a new instance can change (the AMI included) is done by replacing it. */
  replaceInstance: boolean;
  instanceType: string;
  architecture: 'x86_64' | 'arm64';
  amiId?: string;
  rootDeviceName?: string;
  keyName?: string;
  clusterName: string;
  instanceProfileName: string;
  userData: string;
  tags: Record<string, string>;
  /** How the network was chosen, for the plan ("discovered: the default VPC"). */
  found: string[];
  stack: string;
}

/** What prepare finds for a run: the network and the AMI. Never saved. */
export interface InstancePrepared {
  vpcId: string | Discovered<string>;
  subnetId: string | Discovered<string>;
  /** The subnets a launch may use, in order (the first is subnetId); see InstanceDesired.subnetChoices. */
  subnets?: SubnetChoice[];
  ami?: AmiInfo;
}

// ---- read -------------------------------------------------------------------------------------------

export function instanceShape(i: Instance): InstanceObserved {
  return {
    instanceId: i.InstanceId ?? '',
    state: i.State?.Name ?? 'unknown',
    instanceType: i.InstanceType ?? '',
    imageId: i.ImageId ?? '',
    subnetId: i.SubnetId ?? '',
    vpcId: i.VpcId ?? '',
    keyName: i.KeyName,
    publicIp: i.PublicIpAddress,
    privateIp: i.PrivateIpAddress,
    securityGroupIds: (i.SecurityGroups ?? []).map((g) => g.GroupId ?? ''),
    instanceProfileArn: i.IamInstanceProfile?.Arn,
    httpTokens: i.MetadataOptions?.HttpTokens,
    hopLimit: i.MetadataOptions?.HttpPutResponseHopLimit,
    tags: tagMap(i.Tags),
  };
}

/** Fills in the CPU credit option of burstable instances (left unknown where EC2 won't say). */
export async function readCredits(ctx: Pick<Ctx, 'ec2'>, instances: InstanceObserved[]): Promise<void> {
  const ids = instances.filter((i) => isBurstable(i.instanceType) && i.state !== 'shutting-down').map((i) => i.instanceId);
  if (!ids.length) return;
  try {
    const res = await ctx.ec2.describeInstanceCreditSpecifications({ InstanceIds: ids });
    for (const c of res.InstanceCreditSpecifications ?? []) {
      const i = instances.find((x) => x.instanceId === c.InstanceId);
      if (i && c.CpuCredits) i.cpuCredits = c.CpuCredits;
    }
  } catch (e) {
    if (!hasAwsCode(e, 'UnauthorizedOperation', 'AccessDenied', 'InvalidAction', 'NotImplemented', 'InvalidInstanceID.NotFound')) throw e;
  }
}

/** The tag EC2 Auto Scaling puts on every instance it launches. */
export const ASG_TAG = 'aws:autoscaling:groupName';

/**
 * Instances carrying the stack tag in the given states, oldest first: this step's, not those of the
 * group topology's Auto Scaling group (they carry the stack tag too, from the launch template, and
 * the group replaces and terminates them itself).
 */
export async function stackInstances(ctx: Pick<Ctx, 'ec2' | 'stack'>, states: readonly string[]): Promise<InstanceObserved[]> {
  const found: (InstanceObserved & { launch: number })[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ec2.describeInstances({
      Filters: [
        { Name: `tag:${STACK_TAG}`, Values: [ctx.stack] },
        { Name: 'instance-state-name', Values: [...states] },
      ],
      NextToken: token,
    });
    for (const r of res.Reservations ?? []) {
      for (const i of r.Instances ?? []) {
        if (i.Tags?.some((t) => t.Key === ASG_TAG)) continue;
        found.push({ ...instanceShape(i), launch: i.LaunchTime?.getTime() ?? 0 });
      }
    }
    token = res.NextToken;
  } while (token);
  return found.sort((a, b) => a.launch - b.launch).map(({ launch: _launch, ...i }) => i);
}

export async function describeInstance(ctx: Pick<Ctx, 'ec2'>, id: string): Promise<InstanceObserved | undefined> {
  try {
    const res = await ctx.ec2.describeInstances({ InstanceIds: [id] });
    const i = res.Reservations?.[0]?.Instances?.[0];
    return i ? instanceShape(i) : undefined;
  } catch (e) {
    if (hasAwsCode(e, 'InvalidInstanceID.NotFound')) return undefined; // just launched: not visible yet
    throw e;
  }
}

