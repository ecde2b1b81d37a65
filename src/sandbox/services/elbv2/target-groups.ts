/**
 * ELBv2 target groups: Create/Describe/Modify/DeleteTargetGroup and Describe/ModifyTargetGroupAttributes.
 * HTTP/HTTPS target groups of instance (or ip) targets, with AWS's health check defaults.
 */
import type {
  Action,
  CreateTargetGroupInput,
  CreateTargetGroupOutput,
  DeleteTargetGroupInput,
  DeleteTargetGroupOutput,
  DescribeTargetGroupAttributesInput,
  DescribeTargetGroupAttributesOutput,
  DescribeTargetGroupsInput,
  DescribeTargetGroupsOutput,
  ModifyTargetGroupAttributesInput,
  ModifyTargetGroupAttributesOutput,
  ModifyTargetGroupInput,
  ModifyTargetGroupOutput,
  TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateTargetGroupInput$, DescribeTargetGroupsInput$, ModifyTargetGroupInput$, DeleteTargetGroupInput$, DescribeTargetGroupAttributesInput$, ModifyTargetGroupAttributesInput$ } from '@aws-sdk/client-elastic-load-balancing-v2';
import { queryDecoder } from '../../protocols/schema.js';
import { typedOperation } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { ec2View, elbArn, elbv2State, hex16, page, tagMap, tgNotFound, validation, type HealthCheckSettings, type TargetGroupRecord } from './state.js';

/** Default attributes of an instance/ip target group behind an ALB, as DescribeTargetGroupAttributes lists them. */
export const DEFAULT_ATTRIBUTES: Record<string, string> = {
  'deregistration_delay.timeout_seconds': '300',
  'stickiness.enabled': 'false',
  'stickiness.type': 'lb_cookie',
  'stickiness.lb_cookie.duration_seconds': '86400',
  'stickiness.app_cookie.cookie_name': '',
  'stickiness.app_cookie.duration_seconds': '86400',
  'slow_start.duration_seconds': '0',
  'load_balancing.algorithm.type': 'round_robin',
  'load_balancing.algorithm.anomaly_mitigation': 'off',
  'load_balancing.cross_zone.enabled': 'use_load_balancer_configuration',
  'target_group_health.dns_failover.minimum_healthy_targets.count': '1',
  'target_group_health.dns_failover.minimum_healthy_targets.percentage': 'off',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.count': '1',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage': 'off',
};

/** Load balancers whose listeners forward to the target group. */
export function loadBalancersOf(world: World, targetGroupArn: string): string[] {
  const s = elbv2State(world);
  const arns = new Set<string>();
  for (const l of Object.values(s.listeners)) {
    if (forwardsTo(l.defaultActions).includes(targetGroupArn)) arns.add(l.loadBalancerArn);
  }
  return [...arns].sort();
}

/** The target groups a list of actions forwards to. */
export function forwardsTo(actions: Action[]): string[] {
  return actions.flatMap((a) => [
    ...(a.TargetGroupArn ? [a.TargetGroupArn] : []),
    ...(a.ForwardConfig?.TargetGroups ?? []).map((t) => t.TargetGroupArn ?? '').filter(Boolean),
  ]);
}

export function targetGroupView(world: World, tg: TargetGroupRecord): TargetGroup {
  const h = tg.healthCheck;
  return {
    TargetGroupArn: tg.targetGroupArn,
    TargetGroupName: tg.targetGroupName,
    Protocol: tg.protocol as TargetGroup['Protocol'],
    Port: tg.port,
    VpcId: tg.vpcId,
    HealthCheckProtocol: h.protocol as TargetGroup['Protocol'],
    HealthCheckPort: h.port,
    HealthCheckEnabled: h.enabled,
    HealthCheckIntervalSeconds: h.intervalSeconds,
    HealthCheckTimeoutSeconds: h.timeoutSeconds,
    HealthyThresholdCount: h.healthyThresholdCount,
    UnhealthyThresholdCount: h.unhealthyThresholdCount,
    HealthCheckPath: h.path,
    Matcher: { HttpCode: h.matcher },
    LoadBalancerArns: loadBalancersOf(world, tg.targetGroupArn),
    TargetType: tg.targetType,
    ProtocolVersion: tg.protocolVersion,
    IpAddressType: tg.ipAddressType,
  };
}

export function requireTargetGroup(world: World, arn: string | undefined): TargetGroupRecord {
  const tg = arn ? elbv2State(world).targetGroups[arn] : undefined;
  if (!tg) throw tgNotFound();
  return tg;
}

const NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$/;

type HealthInput = Pick<
  CreateTargetGroupInput,
  | 'HealthCheckProtocol'
  | 'HealthCheckPort'
  | 'HealthCheckEnabled'
  | 'HealthCheckPath'
  | 'HealthCheckIntervalSeconds'
  | 'HealthCheckTimeoutSeconds'
  | 'HealthyThresholdCount'
  | 'UnhealthyThresholdCount'
  | 'Matcher'
>;

function healthCheck(input: HealthInput, base: HealthCheckSettings): HealthCheckSettings {
  const h: HealthCheckSettings = {
    protocol: input.HealthCheckProtocol ?? base.protocol,
    port: input.HealthCheckPort ?? base.port,
    enabled: input.HealthCheckEnabled ?? base.enabled,
    path: input.HealthCheckPath ?? base.path,
    intervalSeconds: input.HealthCheckIntervalSeconds ?? base.intervalSeconds,
    timeoutSeconds: input.HealthCheckTimeoutSeconds ?? base.timeoutSeconds,
    healthyThresholdCount: input.HealthyThresholdCount ?? base.healthyThresholdCount,
    unhealthyThresholdCount: input.UnhealthyThresholdCount ?? base.unhealthyThresholdCount,
    matcher: input.Matcher?.HttpCode ?? base.matcher,
  };
  const range = (v: number, name: string, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw validation(`1 validation error detected: Value '${v}' at '${name}' failed to satisfy constraint: Member must have value between ${lo} and ${hi}`);
    }
  };
  range(h.intervalSeconds, 'healthCheckIntervalSeconds', 5, 300);
  range(h.timeoutSeconds, 'healthCheckTimeoutSeconds', 2, 120);
  range(h.healthyThresholdCount, 'healthyThresholdCount', 2, 10);
  range(h.unhealthyThresholdCount, 'unhealthyThresholdCount', 2, 10);
  if (h.timeoutSeconds >= h.intervalSeconds) throw validation('Health check interval must be greater than the timeout.');
  if (!h.path.startsWith('/')) throw validation('Health check path must begin with a \'/\' character');
  if (h.port !== 'traffic-port' && !(/^\d+$/.test(h.port) && Number(h.port) >= 1 && Number(h.port) <= 65535)) {
    throw validation(`Health check port '${h.port}' must be 'traffic-port' or a port number between 1 and 65535`);
  }
  return h;
}

const createTargetGroup = typedOperation<CreateTargetGroupInput, CreateTargetGroupOutput>({
  mutating: true,
  decode: queryDecoder(CreateTargetGroupInput$),
  handler: (input, { world, region, now }) => {
    const name = input.Name ?? '';
    if (name.length > 32) throw validation(`Target group name '${name}' cannot be longer than '32' characters`);
    if (!NAME.test(name)) throw validation(`Target group name '${name}' can only contain characters that are alphanumeric characters or hyphens(-)`);
    const targetType = input.TargetType ?? 'instance';
    if (targetType !== 'instance' && targetType !== 'ip') throw validation(`The sandbox emulates instance and ip target groups, not '${targetType}'`);
    const protocol = input.Protocol;
    if (protocol === undefined) throw validation('A protocol must be specified');
    if (protocol !== 'HTTP' && protocol !== 'HTTPS') throw validation(`Protocol '${protocol}' is not supported for target groups of application load balancers`);
    const port = input.Port;
    if (port === undefined) throw validation('A port must be specified');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw validation(`1 validation error detected: Value '${port}' at 'port' failed to satisfy constraint: Member must have value between 1 and 65535`);
    const vpcId = input.VpcId;
    if (!vpcId) throw validation('A VPC ID must be specified');
    const vpc = ec2View(world).vpcs?.[vpcId];
    if (world.state.ec2 && (!vpc || vpc.region !== region)) throw validation(`The VPC ID '${vpcId}' is not found`);
    const h = healthCheck(input, {
      protocol: protocol,
      port: 'traffic-port',
      enabled: true,
      path: '/',
      intervalSeconds: 30,
      timeoutSeconds: 5,
      healthyThresholdCount: 5,
      unhealthyThresholdCount: 2,
      matcher: '200',
    });
    const tags = tagMap(input.Tags);
    const s = elbv2State(world);
    const existing = Object.values(s.targetGroups).find((t) => t.region === region && t.targetGroupName === name);
    if (existing) {
      const same =
        existing.protocol === protocol && existing.port === port && existing.vpcId === vpcId && existing.targetType === targetType && JSON.stringify(existing.healthCheck) === JSON.stringify(h);
      if (!same) throw new ServiceError('DuplicateTargetGroupName', `A target group with the same name '${name}' exists, but with different settings`);
      return { TargetGroups: [targetGroupView(world, existing)] };
    }
    const tg: TargetGroupRecord = {
      targetGroupArn: elbArn(world, region, `targetgroup/${name}/${hex16(world)}`),
      targetGroupName: name,
      region,
      port,
      tags,
      protocol,
      protocolVersion: input.ProtocolVersion ?? 'HTTP1',
      vpcId,
      targetType,
      ipAddressType: 'ipv4',
      healthCheck: h,
      attributes: { ...DEFAULT_ATTRIBUTES },
      targets: [],
      createdAt: now,
    };
    s.targetGroups[tg.targetGroupArn] = tg;
    return { TargetGroups: [targetGroupView(world, tg)] };
  },
});

const describeTargetGroups = typedOperation<DescribeTargetGroupsInput, DescribeTargetGroupsOutput>({
  mutating: false,
  decode: queryDecoder(DescribeTargetGroupsInput$),
  handler: (input, { world, region }) => {
    const s = elbv2State(world);
    const arns = input.TargetGroupArns ?? [];
    const names = input.Names ?? [];
    let tgs = Object.values(s.targetGroups).filter((t) => t.region === region);
    if (input.LoadBalancerArn) {
      if (!s.loadBalancers[input.LoadBalancerArn]) throw new ServiceError('LoadBalancerNotFound', 'One or more load balancers not found');
      tgs = tgs.filter((t) => loadBalancersOf(world, t.targetGroupArn).includes(input.LoadBalancerArn!));
    }
    if (arns.length > 0) {
      if (arns.some((a) => !s.targetGroups[a])) throw tgNotFound();
      tgs = arns.map((a) => s.targetGroups[a]);
    } else if (names.length > 0) {
      const found = names.map((n) => tgs.find((t) => t.targetGroupName === n));
      if (found.some((x) => !x)) throw tgNotFound();
      tgs = found as TargetGroupRecord[];
    } else {
      tgs.sort((a, b) => a.targetGroupName.localeCompare(b.targetGroupName) || a.createdAt - b.createdAt);
    }
    const p = page(world, tgs, input.Marker, input.PageSize);
    return { TargetGroups: p.items.map((t) => targetGroupView(world, t)), NextMarker: p.next };
  },
});

const modifyTargetGroup = typedOperation<ModifyTargetGroupInput, ModifyTargetGroupOutput>({
  mutating: true,
  decode: queryDecoder(ModifyTargetGroupInput$),
  handler: (input, { world }) => {
    const tg = requireTargetGroup(world, input.TargetGroupArn);
    tg.healthCheck = healthCheck(input, tg.healthCheck);
    return { TargetGroups: [targetGroupView(world, tg)] };
  },
});

const deleteTargetGroup = typedOperation<DeleteTargetGroupInput, DeleteTargetGroupOutput>({
  mutating: true,
  decode: queryDecoder(DeleteTargetGroupInput$),
  handler: (input, { world }) => {
    const s = elbv2State(world);
    const arn = input.TargetGroupArn ?? '';
    // Like DeleteLoadBalancer, deleting a target group that is already gone succeeds.
    if (!s.targetGroups[arn]) return {};
    if (loadBalancersOf(world, arn).length > 0) {
      throw new ServiceError('ResourceInUse', `Target group '${arn}' is currently in use by a listener or a rule`);
    }
    delete s.targetGroups[arn];
    return {};
  },
});

const describeTargetGroupAttributes = typedOperation<DescribeTargetGroupAttributesInput, DescribeTargetGroupAttributesOutput>({
  mutating: false,
  decode: queryDecoder(DescribeTargetGroupAttributesInput$),
  handler: (input, { world }) => {
    const tg = requireTargetGroup(world, input.TargetGroupArn);
    return { Attributes: Object.entries(tg.attributes).map(([Key, Value]) => ({ Key, Value })) };
  },
});

const modifyTargetGroupAttributes = typedOperation<ModifyTargetGroupAttributesInput, ModifyTargetGroupAttributesOutput>({
  mutating: true,
  decode: queryDecoder(ModifyTargetGroupAttributesInput$),
  handler: (input, { world }) => {
    const tg = requireTargetGroup(world, input.TargetGroupArn);
    const attrs = input.Attributes ?? [];
    if (attrs.length === 0) throw validation('Attributes cannot be empty');
    const next = { ...tg.attributes };
    for (const a of attrs) {
      const key = a.Key ?? '';
      const value = a.Value ?? '';
      if (!(key in DEFAULT_ATTRIBUTES)) throw new ServiceError('InvalidConfigurationRequest', `Target group attribute key '${key}' is not recognized`);
      if (key === 'deregistration_delay.timeout_seconds' && !(/^\d+$/.test(value) && Number(value) <= 3600)) {
        throw validation(`Target group attribute '${key}' must be an integer between 0 and 3600`);
      }
      if (key === 'stickiness.enabled' && value !== 'true' && value !== 'false') throw validation(`Target group attribute '${key}' must be 'true' or 'false'`);
      next[key] = value;
    }
    tg.attributes = next;
    return { Attributes: Object.entries(tg.attributes).map(([Key, Value]) => ({ Key, Value })) };
  },
});

export const operations: Record<string, Operation> = {
  CreateTargetGroup: createTargetGroup,
  DescribeTargetGroups: describeTargetGroups,
  ModifyTargetGroup: modifyTargetGroup,
  DeleteTargetGroup: deleteTargetGroup,
  DescribeTargetGroupAttributes: describeTargetGroupAttributes,
  ModifyTargetGroupAttributes: modifyTargetGroupAttributes,
};
