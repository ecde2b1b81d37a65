/**
 * What one service module of the sandbox may read (and, where said, write) of another's state.
 * Each view names only the fields the other side relies on; the owning module's records have more.
 * A module that changes one of these fields' meaning breaks its readers: keep them as documented.
 *
 *   world.state.ec2          owned by services/ec2/          read by ELBv2 (subnets, groups), Auto Scaling, the ECS agent
 *   world.state.autoscaling  owned by services/autoscaling/  read by ECS capacity providers (which may clear protection)
 *   world.state.elasticloadbalancing ("elbv2" below; state is keyed by signing name)
 *                            owned by services/elbv2/        read by the Tagging API; ECS registers and deregisters
 *                                                            service tasks through services/elbv2/targets.ts's functions
 *   world.state.ecs          owned by services/ecs/          read by ELBv2 health checks (which host ports a RUNNING task binds)
 */
import type { Ec2InstanceRecord } from './types.js';

export type TagMap = Record<string, string>;

export interface SubnetView {
  subnetId: string;
  region: string;
  vpcId: string;
  availabilityZone: string;
  availabilityZoneId: string;
  mapPublicIpOnLaunch: boolean;
  tags: TagMap;
}

export interface SecurityGroupView {
  groupId: string;
  region: string;
  groupName: string;
  vpcId: string;
  tags: TagMap;
}

export interface VpcView {
  vpcId: string;
  region: string;
  isDefault: boolean;
  cidrBlock: string;
  tags: TagMap;
}

export interface LaunchTemplateView {
  launchTemplateId: string;
  launchTemplateName: string;
  region: string;
  defaultVersion: number;
  latestVersion: number;
  tags: TagMap;
}

/** world.state.ec2, as other modules see it. */
export interface Ec2View {
  vpcs?: Record<string, VpcView>;
  subnets?: Record<string, SubnetView>;
  securityGroups?: Record<string, SecurityGroupView>;
  /** Ec2InstanceRecord plus the zone; the ECS agent and ELBv2 health checks read these. */
  instances?: Record<string, Ec2InstanceRecord & { availabilityZone?: string }>;
  launchTemplates?: Record<string, LaunchTemplateView>;
}

export interface AsgInstanceView {
  instanceId: string;
  availabilityZone: string;
  /** Auto Scaling's LifecycleState values. */
  lifecycleState: 'Pending' | 'InService' | 'Terminating' | 'Terminated' | 'Detaching' | 'Detached' | 'Standby';
  healthStatus: 'Healthy' | 'Unhealthy';
  /**
   * Scale-in protection. ECS managed termination protection sets it on new instances (through
   * NewInstancesProtectedFromScaleIn) and the ECS module CLEARS it (writes false) on instances that
   * run no task when the group has more instances than it wants: the one write another module makes.
   */
  protectedFromScaleIn: boolean;
}

export interface AsgGroupView {
  autoScalingGroupName: string;
  autoScalingGroupArn: string;
  region: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  newInstancesProtectedFromScaleIn: boolean;
  instances: AsgInstanceView[];
  /** 'Delete in progress' while DeleteAutoScalingGroup runs. */
  status?: string;
  tags: TagMap;
}

/** world.state.autoscaling, as other modules see it. Groups keyed by `${region}/${name}`. */
export interface AutoScalingView {
  groups?: Record<string, AsgGroupView>;
}

export interface LoadBalancerView {
  loadBalancerArn: string;
  loadBalancerName: string;
  region: string;
  dnsName: string;
  tags: TagMap;
}

export interface TargetGroupView {
  targetGroupArn: string;
  targetGroupName: string;
  region: string;
  port: number;
  tags: TagMap;
}

/** world.state.elasticloadbalancing (the ELBv2 module's signing name), as other modules see it. Keyed by ARN. */
export interface Elbv2View {
  loadBalancers?: Record<string, LoadBalancerView>;
  targetGroups?: Record<string, TargetGroupView>;
}

/**
 * world.state.ecs, as ELBv2 health checks see it: a target (instance, port) answers while a RUNNING task
 * on that instance's container instance binds that host port. Added for the ELBv2 module.
 */
export interface EcsView {
  containerInstances?: Record<string, { ec2InstanceId: string }>;
  tasks?: Record<
    string,
    {
      lastStatus: string;
      startedAt?: number;
      containerInstanceArn: string;
      /** lastStatus / healthStatus are set when a local runtime really runs the container (Docker's word). */
      containers: { networkBindings: { hostPort: number }[]; lastStatus?: string; healthStatus?: string }[];
    }
  >;
}
