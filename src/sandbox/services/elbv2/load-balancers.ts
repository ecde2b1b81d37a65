/**
 * ELBv2 load balancers: CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer. Application load
 * balancers only. A new load balancer is `provisioning` for the latency profile's instance boot time,
 * then `active`. Subnets and security groups are read from world.state.ec2 through views.ts's Ec2View.
 */
import type {
  CreateLoadBalancerInput,
  CreateLoadBalancerOutput,
  DeleteLoadBalancerInput,
  DeleteLoadBalancerOutput,
  DescribeLoadBalancersInput,
  DescribeLoadBalancersOutput,
  LoadBalancer,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateLoadBalancerInput$, DescribeLoadBalancersInput$, DeleteLoadBalancerInput$ } from '@aws-sdk/client-elastic-load-balancing-v2';
import { queryDecoder } from '../../protocols/schema.js';
import { typedOperation } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import {
  ec2View,
  elbArn,
  elbv2State,
  hex16,
  invalidConfig,
  lbNotFound,
  page,
  tagMap,
  validation,
  type LoadBalancerRecord,
} from './state.js';

/** Route 53 hosted zone of ALBs per region (AWS's published values; us-east-1 otherwise). */
const HOSTED_ZONES: Record<string, string> = {
  'us-east-1': 'Z35SXDOTRQ7X7K',
  'us-east-2': 'Z3AADJGX6KTTL2',
  'us-west-1': 'Z368ELLRRE2KJ0',
  'us-west-2': 'Z1H1FL5HABSF5',
  'eu-west-1': 'Z32O12XQLNTSW2',
  'eu-central-1': 'Z215JYRZR1TBD5',
};

export function loadBalancerState(world: World, lb: LoadBalancerRecord, now: number): 'provisioning' | 'active' {
  return now >= lb.activeAt ? 'active' : 'provisioning';
}

export function loadBalancerView(world: World, lb: LoadBalancerRecord, now: number): LoadBalancer {
  return {
    LoadBalancerArn: lb.loadBalancerArn,
    DNSName: lb.dnsName,
    CanonicalHostedZoneId: lb.canonicalHostedZoneId,
    CreatedTime: new Date(lb.createdAt),
    LoadBalancerName: lb.loadBalancerName,
    Scheme: lb.scheme,
    VpcId: lb.vpcId,
    State: { Code: loadBalancerState(world, lb, now) },
    Type: lb.type,
    AvailabilityZones: lb.subnets.map((s) => ({ ZoneName: s.availabilityZone, SubnetId: s.subnetId, LoadBalancerAddresses: [] })),
    SecurityGroups: lb.securityGroups,
    IpAddressType: lb.ipAddressType,
  };
}

const NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$/;

const createLoadBalancer = typedOperation<CreateLoadBalancerInput, CreateLoadBalancerOutput>({
  mutating: true,
  decode: queryDecoder(CreateLoadBalancerInput$),
  handler: (input, { world, region, now }) => {
    const name = input.Name ?? '';
    if (name === '') throw validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null");
    if (name.length > 32) throw validation(`The load balancer name '${name}' cannot be longer than '32' characters`);
    if (!NAME.test(name)) {
      throw validation(`The load balancer name '${name}' can only contain characters that are alphanumeric characters and hyphens(-)`);
    }
    if (name.toLowerCase().startsWith('internal-')) throw validation(`The load balancer name '${name}' cannot begin with 'internal-'`);
    const type = input.Type ?? 'application';
    if (type !== 'application') throw validation(`The sandbox emulates application load balancers only, not '${type}'`);
    const scheme = input.Scheme ?? 'internet-facing';
    if (scheme !== 'internet-facing' && scheme !== 'internal') throw validation(`Scheme '${scheme}' is not valid`);
    const ipAddressType = input.IpAddressType ?? 'ipv4';
    if (ipAddressType !== 'ipv4' && ipAddressType !== 'dualstack') throw validation(`IP address type '${ipAddressType}' is not valid`);
    const subnetIds = [...(input.Subnets ?? []), ...(input.SubnetMappings ?? []).map((m) => m.SubnetId ?? '')];
    const ec2 = ec2View(world);
    const subnets = subnetIds.map((id) => {
      const s = ec2.subnets?.[id];
      if (!s || s.region !== region) throw new ServiceError('SubnetNotFound', `The subnet ID '${id}' is not valid`);
      return s;
    });
    const zones = new Set(subnets.map((s) => s.availabilityZone));
    if (zones.size !== subnets.length) throw invalidConfig('A load balancer cannot be attached to multiple subnets in the same Availability Zone');
    if (zones.size < 2) throw validation('At least two subnets in two different Availability Zones must be specified');
    const vpcId = subnets[0].vpcId;
    if (subnets.some((s) => s.vpcId !== vpcId)) throw invalidConfig('The subnets must all be in the same VPC');
    let securityGroups = input.SecurityGroups ?? [];
    for (const id of securityGroups) {
      const sg = ec2.securityGroups?.[id];
      if (!sg || sg.region !== region) throw new ServiceError('InvalidSecurityGroup', `Security group '${id}' does not exist`);
      if (sg.vpcId !== vpcId) throw new ServiceError('InvalidSecurityGroup', `Security group '${id}' does not belong to VPC '${vpcId}'`);
    }
    if (securityGroups.length === 0) {
      const def = Object.values(ec2.securityGroups ?? {}).find((g) => g.region === region && g.vpcId === vpcId && g.groupName === 'default');
      securityGroups = def ? [def.groupId] : [];
    }
    const tags = tagMap(input.Tags);

    const s = elbv2State(world);
    const existing = Object.values(s.loadBalancers).find((lb) => lb.region === region && lb.loadBalancerName === name);
    if (existing) {
      // Idempotent: the same name and settings return the existing load balancer.
      const same =
        existing.scheme === scheme &&
        existing.ipAddressType === ipAddressType &&
        [...existing.subnets.map((x) => x.subnetId)].sort().join() === [...subnetIds].sort().join() &&
        [...existing.securityGroups].sort().join() === [...securityGroups].sort().join();
      if (!same) throw new ServiceError('DuplicateLoadBalancerName', `A load balancer with the same name '${name}' exists, but with different settings`);
      return { LoadBalancers: [loadBalancerView(world, existing, now)] };
    }
    const id = hex16(world);
    const digits = (BigInt('0x' + id) % 10_000_000_000n).toString().padStart(10, '1');
    const lb: LoadBalancerRecord = {
      loadBalancerArn: elbArn(world, region, `loadbalancer/app/${name}/${id}`),
      loadBalancerName: name,
      region,
      dnsName: `${scheme === 'internal' ? 'internal-' : ''}${name}-${digits}.${region}.elb.amazonaws.com`,
      tags,
      type: 'application',
      scheme,
      vpcId,
      subnets: subnets.map((x) => ({ subnetId: x.subnetId, availabilityZone: x.availabilityZone })),
      securityGroups,
      ipAddressType,
      canonicalHostedZoneId: HOSTED_ZONES[region] ?? HOSTED_ZONES['us-east-1'],
      createdAt: now,
      activeAt: now + world.settings.latency.instanceBootMs,
    };
    s.loadBalancers[lb.loadBalancerArn] = lb;
    return { LoadBalancers: [loadBalancerView(world, lb, now)] };
  },
});

const describeLoadBalancers = typedOperation<DescribeLoadBalancersInput, DescribeLoadBalancersOutput>({
  mutating: false,
  decode: queryDecoder(DescribeLoadBalancersInput$),
  handler: (input, { world, region, now }) => {
    const s = elbv2State(world);
    const arns = input.LoadBalancerArns ?? [];
    const names = input.Names ?? [];
    if (arns.length > 0 && names.length > 0) throw validation('Load balancer names and load balancer ARNs cannot be specified at the same time');
    let lbs = Object.values(s.loadBalancers).filter((lb) => lb.region === region);
    if (arns.length > 0) {
      if (arns.some((a) => !s.loadBalancers[a] || s.loadBalancers[a].region !== region)) throw lbNotFound();
      lbs = arns.map((a) => s.loadBalancers[a]);
    } else if (names.length > 0) {
      const found = names.map((n) => lbs.find((lb) => lb.loadBalancerName === n));
      if (found.some((x) => !x)) throw lbNotFound();
      lbs = found as LoadBalancerRecord[];
    } else {
      lbs.sort((a, b) => a.createdAt - b.createdAt || a.loadBalancerArn.localeCompare(b.loadBalancerArn));
    }
    const p = page(world, lbs, input.Marker, input.PageSize);
    return { LoadBalancers: p.items.map((lb) => loadBalancerView(world, lb, now)), NextMarker: p.next };
  },
});

const deleteLoadBalancer = typedOperation<DeleteLoadBalancerInput, DeleteLoadBalancerOutput>({
  mutating: true,
  decode: queryDecoder(DeleteLoadBalancerInput$),
  handler: (input, { world }) => {
    const s = elbv2State(world);
    const arn = input.LoadBalancerArn ?? '';
    if (!arn) throw validation("1 validation error detected: Value null at 'loadBalancerArn' failed to satisfy constraint: Member must not be null");
    // Deleting a load balancer that does not exist succeeds (AWS documents DeleteLoadBalancer as idempotent).
    if (!s.loadBalancers[arn]) {
      if (!/^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer\//.test(arn)) throw validation(`'${arn}' is not a valid load balancer ARN`);
      return {};
    }
    for (const [larn, l] of Object.entries(s.listeners)) if (l.loadBalancerArn === arn) delete s.listeners[larn];
    delete s.loadBalancers[arn];
    return {};
  },
});

export const operations: Record<string, Operation> = {
  CreateLoadBalancer: createLoadBalancer,
  DescribeLoadBalancers: describeLoadBalancers,
  DeleteLoadBalancer: deleteLoadBalancer,
};
