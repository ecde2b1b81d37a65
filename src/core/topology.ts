/**
 * The two shapes a stack can take, and the names of what the group topology creates.
 *
 *   single   one EC2 instance, one task on host port 80: the lab as written (--instances 1, the default)
 *   group    an Auto Scaling group across Availability Zones behind an ECS capacity provider, N tasks
 *            spread across zones and instances; with --load-balancer an ALB in front (dynamic host ports)
 *
 * The steps of each shape are the steps' declarations (`shapes`); inShape reads them.
 * Names are derived from the cluster name (they are found by the stack tag anyway), never saved.
 */
import { topologyOf, type StackConfig } from './settings.js';
import type { Facet, Shape } from './step.js';

// The shape of a config is the settings' own business (config.ts needs it without the steps).
export { topologyOf, type Topology } from './settings.js';

/** What decides a stack's steps: its shape, and whether monitoring is on (absent: on). */
export type StackShape = Pick<StackConfig, 'instances' | 'loadBalancer'> & Partial<Pick<StackConfig, 'monitoring'>>;

/**
 * Whether a step of these shapes (its declaration) is part of a stack of this configuration. Which
 * steps each shape runs is the steps' own declaration: src/steps/index.ts lists them.
 */
export function inShape(step: { readonly shapes: readonly Shape[]; readonly facet?: Facet }, config: StackShape): boolean {
  // A facet that is off (--no-monitoring) leaves its steps out whatever the shape (absent: on, the default).
  if (step.facet === 'monitoring' && config.monitoring === false) return false;
  if (topologyOf(config) === 'single') return step.shapes.includes('single');
  return step.shapes.includes('group') || (config.loadBalancer && step.shapes.includes('group-with-alb'));
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
