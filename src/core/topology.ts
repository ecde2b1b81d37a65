/**
 * The two shapes a stack can take, and the names of what the group topology creates.
 *
 *   single   one EC2 instance, one task on host port 80: the lab as written (--instances 1, the default)
 *   group    an Auto Scaling group across Availability Zones behind an ECS capacity provider, N tasks
 *            spread across zones and instances; with --load-balancer an ALB in front (dynamic host ports)
 *
 * Names are derived from the cluster name (they are found by the stack tag anyway), never saved.
 */
import { topologyOf, type StackConfig, type Topology } from './settings.js';
import type { StepId } from './step.js';

// The shape of a config is the settings' own business (config.ts needs it without the steps).
export { topologyOf, type Topology } from './settings.js';

/** The steps each topology runs; the others' resources, if any exist, are what moving between them removes. */
export const TOPOLOGY_STEPS: Record<Topology, readonly StepId[]> = {
  single: ['image', 'iam', 'cluster', 'log-group', 'security-group', 'instance', 'task', 'service'],
  group: ['image', 'iam', 'cluster', 'log-group', 'target-group', 'load-balancer', 'security-group', 'launch-template', 'auto-scaling-group', 'capacity-provider', 'task', 'service'],
};

/** Steps of the group topology that exist only with --load-balancer. */
export const LOAD_BALANCER_STEPS: readonly StepId[] = ['target-group', 'load-balancer'];

export function stepsFor(config: Pick<StackConfig, 'instances' | 'loadBalancer'>): StepId[] {
  const t = topologyOf(config);
  return TOPOLOGY_STEPS[t].filter((id) => t === 'single' || config.loadBalancer || !LOAD_BALANCER_STEPS.includes(id));
}

/** ELBv2 names: at most 32 letters, digits and hyphens, not starting or ending with a hyphen. */
function elbName(base: string, suffix: string): string {
  const clean = base.replace(/[^A-Za-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  const room = 32 - suffix.length - 1;
  return `${clean.slice(0, room).replace(/-$/, '')}-${suffix}`;
}

export interface GroupNames {
  launchTemplate: string;
  autoScalingGroup: string;
  /** Capacity provider names may not begin with "aws", "ecs" or "fargate": always "cp-…". */
  capacityProvider: string;
  loadBalancer: string;
  targetGroup: string;
  /** The ALB's own security group. */
  loadBalancerSecurityGroup: string;
}

export function groupNames(config: Pick<StackConfig, 'clusterName' | 'securityGroupName'>): GroupNames {
  const c = config.clusterName;
  return {
    launchTemplate: `${c}-instances`,
    autoScalingGroup: `${c}-instances`,
    capacityProvider: `cp-${c}`,
    loadBalancer: elbName(c, 'alb'),
    targetGroup: elbName(c, 'httpd'),
    loadBalancerSecurityGroup: `${config.securityGroupName}-alb`,
  };
}
