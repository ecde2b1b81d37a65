/**
 * Elastic Load Balancing v2 state (world.state.elasticloadbalancing: the sandbox keys state by the
 * module's SigV4 signing name, so that is where views.ts's Elbv2View lives), ARNs and errors shared by
 * the handlers. Records extend views.ts's LoadBalancerView and TargetGroupView (what the Tagging API
 * reads); everything is keyed by ARN, and ARNs carry the region.
 */
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ServiceError, type World } from '../../types.js';
import type { Ec2View, LoadBalancerView, TagMap, TargetGroupView } from '../../views.js';

export interface LoadBalancerRecord extends LoadBalancerView {
  type: 'application';
  scheme: 'internet-facing' | 'internal';
  vpcId: string;
  subnets: { subnetId: string; availabilityZone: string }[];
  securityGroups: string[];
  ipAddressType: 'ipv4' | 'dualstack';
  canonicalHostedZoneId: string;
  createdAt: number;
  /** When provisioning ends (state active). */
  activeAt: number;
}

export interface HealthCheckSettings {
  protocol: string;
  port: string;
  enabled: boolean;
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThresholdCount: number;
  unhealthyThresholdCount: number;
  matcher: string;
}

export interface TargetRecord {
  id: string;
  port: number;
  availabilityZone?: string;
  registeredAt: number;
  /** Set by DeregisterTargets: the target drains for deregistration_delay.timeout_seconds. */
  deregisteredAt?: number;
}

export interface TargetGroupRecord extends TargetGroupView {
  protocol: string;
  protocolVersion: string;
  vpcId: string;
  targetType: 'instance' | 'ip';
  ipAddressType: 'ipv4' | 'ipv6';
  healthCheck: HealthCheckSettings;
  attributes: Record<string, string>;
  targets: TargetRecord[];
  createdAt: number;
}

export interface ListenerRecord {
  listenerArn: string;
  loadBalancerArn: string;
  region: string;
  port: number;
  protocol: string;
  /** Actions as the API takes and returns them (Type, TargetGroupArn, ForwardConfig, Order). */
  defaultActions: Action[];
  tags: TagMap;
  createdAt: number;
}

export interface Elbv2State {
  loadBalancers: Record<string, LoadBalancerRecord>;
  targetGroups: Record<string, TargetGroupRecord>;
  listeners: Record<string, ListenerRecord>;
}

/** The key of ELBv2's state in world.state (its signing name). */
export const ELBV2_STATE = 'elasticloadbalancing';

export function initElbv2State(): Elbv2State {
  return { loadBalancers: {}, targetGroups: {}, listeners: {} };
}

export function elbv2State(world: World): Elbv2State {
  world.state[ELBV2_STATE] ??= initElbv2State();
  const s = world.state[ELBV2_STATE] as Elbv2State;
  s.loadBalancers ??= {};
  s.targetGroups ??= {};
  s.listeners ??= {};
  return s;
}

export function ec2View(world: World): Ec2View {
  return (world.state.ec2 ?? {}) as Ec2View;
}

// ---- ARNs -------------------------------------------------------------------------------------------

export function elbArn(world: World, region: string, resource: string): string {
  return `arn:aws:elasticloadbalancing:${region}:${world.settings.accountId}:${resource}`;
}

export const hex16 = (world: World) => world.nextId('', 16);

// ---- Errors -----------------------------------------------------------------------------------------

export const validation = (message: string) => new ServiceError('ValidationError', message);
export const lbNotFound = () => new ServiceError('LoadBalancerNotFound', 'One or more load balancers not found');
export const tgNotFound = () => new ServiceError('TargetGroupNotFound', 'One or more target groups not found');
export const listenerNotFound = () => new ServiceError('ListenerNotFound', 'One or more listeners not found');
export const invalidConfig = (message: string) => new ServiceError('InvalidConfigurationRequest', message);

export function tagMap(tags: { Key?: string; Value?: string }[] | undefined): TagMap {
  const out: TagMap = {};
  for (const t of tags ?? []) {
    if (!t.Key) throw validation('A tag key must be specified');
    out[t.Key] = t.Value ?? '';
  }
  if (Object.keys(out).length > 50) throw new ServiceError('TooManyTags', 'Too many tags');
  return out;
}

export const tagList = (tags: TagMap) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** Marker/PageSize pagination (markers are offsets). */
export function page<T>(world: World, all: T[], marker: string | undefined, pageSize: number | undefined): { items: T[]; next?: string } {
  if (pageSize !== undefined && (pageSize < 1 || pageSize > 400)) {
    throw validation(`1 validation error detected: Value '${pageSize}' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and 400`);
  }
  let size = pageSize ?? 400;
  if (world.settings.pageSize > 0) size = Math.min(size, world.settings.pageSize);
  let start = 0;
  if (marker) {
    const n = Number(Buffer.from(marker, 'base64').toString('utf8'));
    if (!Number.isInteger(n) || n < 0) throw validation('Invalid marker');
    start = n;
  }
  const items = all.slice(start, start + size);
  const end = start + items.length;
  return { items, next: end < all.length ? Buffer.from(String(end), 'utf8').toString('base64') : undefined };
}

/** Health checks and provisioning scale with the latency profile: 'realistic' runs them at 1/10 of AWS's time. */
export function timeScale(world: World): number {
  return world.settings.latency.taskPhaseMs / 20000;
}
