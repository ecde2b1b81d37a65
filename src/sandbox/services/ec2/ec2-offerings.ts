/**
 * EC2 placement as the sandbox models it: which availability zones offer an instance type
 * (DescribeInstanceTypeOfferings, RunInstances' `Unsupported`), how much capacity a zone has left
 * (RunInstances' `InsufficientInstanceCapacity`), and the CPU credit option of burstable instances
 * (RunInstances' CreditSpecification, DescribeInstanceCreditSpecifications).
 *
 * Both are sandbox settings, so a test (or POST /_sandbox/settings) can change them at any time:
 *
 *   settings.notOffered = { 'us-east-1a': ['t3.*'] }  // zone -> type patterns (* and ?) it does not offer
 *   settings.capacity   = { 'us-east-1a': 0 }         // zone -> instances it can still launch
 *
 * Without them every zone offers every type and has unlimited capacity. As on AWS, an `Unsupported`
 * error (400) names the zones that do offer the type; `InsufficientInstanceCapacity` is a server
 * error (500) naming the zones with capacity left. A launch uses one unit of its zone's capacity.
 */
import { ServiceError, type World } from '../../types.js';
import { paginate } from '../../paginate.js';
import type {
  _InstanceType,
  DescribeInstanceCreditSpecificationsRequest,
  DescribeInstanceCreditSpecificationsResult,
  DescribeInstanceTypeOfferingsRequest,
  DescribeInstanceTypeOfferingsResult,
  LocationType,
  ModifyInstanceCreditSpecificationRequest,
  ModifyInstanceCreditSpecificationResult,
  SuccessfulInstanceCreditSpecificationItem,
  UnsuccessfulInstanceCreditSpecificationErrorCode,
  UnsuccessfulInstanceCreditSpecificationItem,
} from '@aws-sdk/client-ec2';
import type { Call } from '../../typed.js';
import { INSTANCE_TYPES, availabilityZones } from './ec2-data.js';

function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 's');
}


/** Whether the zone offers the instance type (settings.notOffered). */
export function isOffered(world: World, instanceType: string, zoneName: string): boolean {
  const patterns = world.settings.notOffered?.[zoneName] ?? [];
  return !patterns.some((p) => wildcard(p).test(instanceType));
}

function hasCapacity(world: World, zoneName: string): boolean {
  const left = world.settings.capacity?.[zoneName];
  return left === undefined || left > 0;
}

/**
 * Throws what RunInstances answers when the zone does not offer the type or has no capacity left.
 * Called once the request is otherwise valid (after DryRun).
 */
export function checkPlacement(world: World, region: string, instanceType: string, zoneName: string, count: number): void {
  const zones = availabilityZones(region).map((z) => z.zoneName);
  if (!isOffered(world, instanceType, zoneName)) {
    const others = zones.filter((z) => z !== zoneName && isOffered(world, instanceType, z));
    throw new ServiceError(
      'Unsupported',
      `Your requested instance type (${instanceType}) is not supported in your requested Availability Zone (${zoneName}). ` +
        `Please retry your request by not specifying an Availability Zone or choosing ${others.join(', ')}.`,
      400,
    );
  }
  const left = world.settings.capacity?.[zoneName];
  if (left !== undefined && left < count) {
    const others = zones.filter((z) => z !== zoneName && isOffered(world, instanceType, z) && hasCapacity(world, z));
    throw new ServiceError(
      'InsufficientInstanceCapacity',
      `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested (${zoneName}). ` +
        `Our system will be working on provisioning additional capacity. You can currently get ${instanceType} capacity by not specifying an Availability Zone in your request` +
        (others.length ? ` or choosing ${others.join(', ')}.` : '.'),
      500,
      'Receiver',
    );
  }
}

/** A launch took `count` instances of the zone's capacity. */
export function useCapacity(world: World, zoneName: string, count: number): void {
  const capacity = world.settings.capacity;
  if (capacity && capacity[zoneName] !== undefined) capacity[zoneName] = Math.max(0, capacity[zoneName]! - count);
}

/** DescribeInstanceTypeOfferings: LocationType region (default), availability-zone or availability-zone-id. */
export function describeInstanceTypeOfferings(p: DescribeInstanceTypeOfferingsRequest, { world, region }: Call): DescribeInstanceTypeOfferingsResult {
  const req = { region };
  const locationType: string = p.LocationType ? String(p.LocationType) : 'region';
  if (!['region', 'availability-zone', 'availability-zone-id'].includes(locationType)) {
    throw new ServiceError('InvalidParameterValue', `Value (${locationType}) for parameter locationType is invalid. Unknown location type.`, 400);
  }
  const zones = availabilityZones(req.region);
  const offerings: { InstanceType: _InstanceType; Location: string; LocationType: LocationType }[] = [];
  for (const type of [...INSTANCE_TYPES].sort()) {
    if (locationType === 'region') {
      if (zones.some((z) => isOffered(world, type, z.zoneName))) offerings.push({ InstanceType: type as _InstanceType, Location: req.region, LocationType: 'region' });
      continue;
    }
    for (const z of zones) {
      if (isOffered(world, type, z.zoneName)) {
        offerings.push({ InstanceType: type as _InstanceType, Location: locationType === 'availability-zone' ? z.zoneName : z.zoneId, LocationType: locationType as LocationType });
      }
    }
  }
  const filters = (p.Filters ?? []).filter((f) => f.Name);
  for (const f of filters) {
    if (!['instance-type', 'location'].includes(String(f.Name))) throw new ServiceError('InvalidParameterValue', `The filter '${String(f.Name)}' is invalid`, 400);
  }
  const selected = offerings.filter((o) =>
    filters.every((f) => {
      const value = String(f.Name) === 'instance-type' ? o.InstanceType : o.Location;
      return (f.Values ?? []).some((v) => wildcard(v).test(value));
    }),
  );
  const maxResults = p.MaxResults;
  if (maxResults !== undefined && (Number.isNaN(maxResults) || maxResults < 5 || maxResults > 1000)) {
    throw new ServiceError('InvalidParameterValue', `Value ( ${p.MaxResults} ) for parameter maxResults is invalid. Parameter must be between 5 and 1000.`, 400);
  }
  const page = paginate(selected, {
    maxResults,
    nextToken: p.NextToken || undefined,
    defaultPageSize: 1000,
    settings: world.settings,
    invalidToken: () => new ServiceError('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.', 400),
  });
  return { InstanceTypeOfferings: page.items, NextToken: page.nextToken };
}

// ---- CPU credits ------------------------------------------------------------------------------------

/** Burstable families and the credit option each launches with when the request names none. */
const BURSTABLE_DEFAULT: Record<string, 'standard' | 'unlimited'> = { t2: 'standard', t3: 'unlimited', t3a: 'unlimited', t4g: 'unlimited' };

export function isBurstable(instanceType: string): boolean {
  return instanceType.split('.')[0]! in BURSTABLE_DEFAULT;
}

/** The credit option a launch gets: CreditSpecification.CpuCredits, else the family's default. */
export function launchCredits(instanceType: string, p: { CreditSpecification?: { CpuCredits?: string } }): 'standard' | 'unlimited' | undefined {
  const requested = p.CreditSpecification?.CpuCredits;
  if (requested !== undefined && requested !== 'standard' && requested !== 'unlimited') {
    throw new ServiceError('InvalidParameterValue', `Value (${String(requested)}) for parameter cpuCredits is invalid. Valid values are standard and unlimited.`, 400);
  }
  if (!isBurstable(instanceType)) {
    if (requested === 'unlimited') {
      throw new ServiceError('InstanceCreditSpecification.NotSupported', `The ${instanceType} instance type does not support T2 Unlimited.`, 400);
    }
    return undefined;
  }
  return requested ?? BURSTABLE_DEFAULT[instanceType.split('.')[0]!];
}

interface CreditView {
  instanceId: string;
  instanceType: string;
  state: string;
  region: string;
  cpuCredits?: string;
}

/**
 * ModifyInstanceCreditSpecification: per instance, success, or NotSupported for a non-burstable one
 * (in the unsuccessful set, as EC2 reports it).
 */
export function modifyInstanceCreditSpecification(p: ModifyInstanceCreditSpecificationRequest, { world, region }: Call): ModifyInstanceCreditSpecificationResult {
  const req = { region };
  const items = p.InstanceCreditSpecifications ?? [];
  if (!items.length) throw new ServiceError('MissingParameter', 'The request must contain the parameter InstanceCreditSpecification', 400);
  const instances = (world.state.ec2?.instances ?? {}) as Record<string, CreditView>;
  const ok: SuccessfulInstanceCreditSpecificationItem[] = [];
  const failed: UnsuccessfulInstanceCreditSpecificationItem[] = [];
  for (const item of items) {
    const id = String(item.InstanceId ?? '');
    const credits = item.CpuCredits;
    if (credits !== 'standard' && credits !== 'unlimited') {
      throw new ServiceError('InvalidParameterValue', `Value (${String(credits)}) for parameter cpuCredits is invalid. Valid values are standard and unlimited.`, 400);
    }
    const inst = instances[id];
    if (!inst || inst.region !== req.region || inst.state === 'terminated') {
      failed.push({ InstanceId: id, Error: { Code: 'InvalidInstanceID.NotFound', Message: `The instance ID '${id}' does not exist` } });
    } else if (!isBurstable(inst.instanceType)) {
      failed.push({
        InstanceId: id,
        Error: { Code: 'InstanceCreditSpecification.NotSupported' as UnsuccessfulInstanceCreditSpecificationErrorCode, Message: `The ${inst.instanceType} instance type does not support burstable performance.` },
      });
    } else {
      inst.cpuCredits = credits;
      ok.push({ InstanceId: id });
    }
  }
  return { SuccessfulInstanceCreditSpecifications: ok, UnsuccessfulInstanceCreditSpecifications: failed };
}

/**
 * DescribeInstanceCreditSpecifications: named instances with their option (a non-burstable one
 * reports `standard`); without ids, the burstable instances running `unlimited`.
 */
export function describeInstanceCreditSpecifications(p: DescribeInstanceCreditSpecificationsRequest, { world, region }: Call): DescribeInstanceCreditSpecificationsResult {
  const req = { region };
  const ids = p.InstanceIds ?? [];
  const all = Object.values((world.state.ec2?.instances ?? {}) as Record<string, CreditView>).filter((i) => i.region === req.region && i.state !== 'terminated');
  let chosen: CreditView[];
  if (ids.length) {
    const missing = ids.filter((id) => !all.some((i) => i.instanceId === id));
    if (missing.length) throw new ServiceError('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`, 400);
    chosen = ids.map((id) => all.find((i) => i.instanceId === id)!);
  } else {
    chosen = all.filter((i) => i.cpuCredits === 'unlimited');
  }
  return { InstanceCreditSpecifications: chosen.map((i) => ({ InstanceId: i.instanceId, CpuCredits: i.cpuCredits ?? 'standard' })) };
}
