/**
 * EC2 instances' handlers: RunInstances (launch.ts validates and launches), DescribeInstances
 * (instance-shapes.ts), Terminate/Stop/StartInstances, DescribeVolumes and the CPU credit operations.
 */
import {
  DescribeInstancesRequest$,
  DescribeInstanceCreditSpecificationsRequest$,
  type DescribeInstancesRequest,
  type RunInstancesRequest,
  DescribeInstanceCreditSpecificationsResult$,
  DescribeVolumesRequest$,
  ModifyInstanceCreditSpecificationRequest$,
  ModifyInstanceCreditSpecificationResult$,
  type DescribeInstanceCreditSpecificationsRequest,
  type DescribeInstanceCreditSpecificationsResult,
  type ModifyInstanceCreditSpecificationRequest,
  type ModifyInstanceCreditSpecificationResult,
  DescribeVolumesResult$,
  StartInstancesRequest$,
  StartInstancesResult$,
  StopInstancesRequest$,
  StopInstancesResult$,
  TerminateInstancesRequest$,
  TerminateInstancesResult$,
  type DescribeVolumesRequest,
  type DescribeVolumesResult,
  type StartInstancesRequest,
  type StartInstancesResult,
  type StopInstancesRequest,
  type StopInstancesResult,
  type TerminateInstancesRequest,
  type TerminateInstancesResult,
  type VolumeType,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { ServiceError, type Operation } from '../../types.js';
import { dryRun, filterItems, inRegion, invalidValue, missing, notFound, pageOf, sdkTags, strings } from './common.js';
import { describeInstanceCreditSpecifications, modifyInstanceCreditSpecification } from './ec2-offerings.js';
import { dnsNames, reservationShape, stateChange, type WireInstances, type WireReservation } from './instance-shapes.js';
import { launch, requestHash, runInstancesRequest, userInitiated, withTemplate } from './launch.js';
import { lookupInstances } from './lookups.js';
import type { ReservationRecord } from './records.js';
import { STATE_CODES, seeded, state } from './state.js';

/** Auto Scaling's way in (index.ts re-exports them from here). */
export { launchFromTemplate, terminateInstance, type TemplateLaunch } from './launch.js';

export function runInstances(p: RunInstancesRequest, { req, world }: Call): WireReservation {
  const s = state(world);
  const clientToken = p.ClientToken ? String(p.ClientToken) : undefined;
  if (clientToken) {
    if (clientToken.length > 64) throw invalidValue('The client token must be 64 characters or less.');
    const previous = inRegion(s.reservations, req.region).find((r) => r.clientToken === clientToken);
    if (previous) {
      if (previous.requestHash !== requestHash(req.params)) {
        throw new ServiceError(
          'IdempotentParameterMismatch',
          'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).',
          400,
        );
      }
      return reservationShape(world, previous);
    }
  }
  // LaunchTemplate: the template version's data, overridden by what the request itself names.
  const fromTemplate = p.LaunchTemplate ? withTemplate(world, req.region, p.LaunchTemplate, p) : undefined;
  const reservation = launch(world, { region: req.region, now: req.now }, fromTemplate?.params ?? p, {
    extraInstanceTags: fromTemplate?.tags,
    clientToken,
    requestHash: clientToken ? requestHash(req.params) : undefined,
    dryRun: () => dryRun(p),
  });
  return reservationShape(world, reservation);
}

export function describeInstances(p: DescribeInstancesRequest, { region, world }: Call): WireInstances {
  const ids = strings(p.InstanceIds);
  if (ids.length && p.MaxResults !== undefined) {
    throw new ServiceError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults', 400);
  }
  let instances = ids.length
    ? lookupInstances(world, region, ids)
    : inRegion(state(world).instances, region).sort((a, b) => a.launchTime - b.launchTime || a.amiLaunchIndex - b.amiLaunchIndex);
  instances = filterItems(instances, p.Filters, {
    'instance-id': (i) => [i.instanceId],
    'instance-state-name': (i) => [i.state],
    'instance-state-code': (i) => [STATE_CODES[i.state]],
    'instance-type': (i) => [i.instanceType],
    'image-id': (i) => [i.imageId],
    'client-token': (i) => [i.clientToken],
    'reservation-id': (i) => [i.reservationId],
    'vpc-id': (i) => [i.vpcId],
    'subnet-id': (i) => [i.subnetId],
    'key-name': (i) => [i.keyName],
    'availability-zone': (i) => [i.availabilityZone],
    'private-ip-address': (i) => [i.privateIpAddress],
    'ip-address': (i) => [i.publicIpAddress],
    'iam-instance-profile.arn': (i) => [i.iamInstanceProfile?.arn],
    'instance.group-id': (i) => i.securityGroupIds,
    'group-id': (i) => i.securityGroupIds,
    // Group names: instance.group-name and, from EC2-Classic's documentation, group-name.
    'instance.group-name': (i) => i.securityGroupIds.map((id) => state(world).securityGroups[id]?.groupName),
    'group-name': (i) => i.securityGroupIds.map((id) => state(world).securityGroups[id]?.groupName),
    'network-interface.subnet-id': (i) => [i.subnetId],
    'network-interface.vpc-id': (i) => [i.vpcId],
    'launch-time': (i) => [new Date(i.launchTime).toISOString()],
    'root-device-type': () => ['ebs'],
    tenancy: () => ['default'],
    'dns-name': (i) => [dnsNames(i.region, i).dnsName],
    'private-dns-name': (i) => [dnsNames(i.region, i).privateDnsName],
    architecture: (i) => [i.architecture],
  });
  const result = pageOf(world, instances, p.MaxResults, p.NextToken);
  // Group the page's instances back into their reservations, in order.
  const reservations: ReservationRecord[] = [];
  const onPage = new Set(result.items.map((i) => i.instanceId));
  for (const inst of result.items) {
    const r = state(world).reservations[inst.reservationId];
    if (r && !reservations.includes(r)) reservations.push(r);
  }
  return {
    reservationSet: reservations.map((r) => reservationShape(world, r, onPage)),
    nextToken: result.nextToken,
  };
}

export function terminateInstances(p: TerminateInstancesRequest, { world, region, now }: Call): TerminateInstancesResult {
  const req = { region, now };
  const ids = p.InstanceIds ?? [];
  if (ids.length === 0) throw missing('InstanceId');
  const instances = lookupInstances(world, req.region, ids);
  for (const inst of instances) {
    if (inst.disableApiTermination && inst.state !== 'terminated') {
      throw new ServiceError(
        'OperationNotPermitted',
        `The instance '${inst.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
        400,
      );
    }
  }
  dryRun(p);
  const when = new Date(req.now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' GMT');
  return {
    TerminatingInstances: instances.map((inst) => {
      const previous = inst.state;
      if (inst.state === 'pending' || inst.state === 'running' || inst.state === 'stopping' || inst.state === 'stopped') {
        inst.state = 'shutting-down';
        inst.stateChangedAt = req.now;
        inst.stateTransitionReason = `User initiated (${when})`;
      }
      return stateChange(inst, previous);
    }),
  };
}

/** StopInstances: running -> stopping -> (instanceTerminateMs) stopped. The instance keeps its volumes. */
export function stopInstances(p: StopInstancesRequest, { world, region, now }: Call): StopInstancesResult {
  const req = { region, now };
  const ids = p.InstanceIds ?? [];
  if (ids.length === 0) throw missing('InstanceId');
  const instances = lookupInstances(world, req.region, ids);
  for (const inst of instances) {
    if (inst.state === 'shutting-down' || inst.state === 'terminated' || inst.state === 'pending') {
      throw new ServiceError('IncorrectInstanceState', `This instance '${inst.instanceId}' is not in a state from which it can be stopped.`, 400);
    }
    // Stop protection (ModifyInstanceAttribute --disable-api-stop), as termination protection above.
    if (inst.disableApiStop) {
      throw new ServiceError('OperationNotPermitted', `The instance '${inst.instanceId}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`, 400);
    }
  }
  dryRun(p);
  return {
    StoppingInstances: instances.map((inst) => {
      const previous = inst.state;
      if (inst.state === 'running') {
        inst.state = 'stopping';
        inst.stateChangedAt = req.now;
        inst.stateTransitionReason = userInitiated(req.now);
      }
      return stateChange(inst, previous);
    }),
  };
}

/** StartInstances: stopped -> pending -> (instanceBootMs) running. */
export function startInstances(p: StartInstancesRequest, { world, region, now }: Call): StartInstancesResult {
  const req = { region, now };
  const ids = p.InstanceIds ?? [];
  if (ids.length === 0) throw missing('InstanceId');
  const instances = lookupInstances(world, req.region, ids);
  for (const inst of instances) {
    if (inst.state !== 'stopped' && inst.state !== 'running' && inst.state !== 'pending') {
      throw new ServiceError('IncorrectInstanceState', `The instance '${inst.instanceId}' is not in a state from which it can be started.`, 400);
    }
  }
  dryRun(p);
  return {
    StartingInstances: instances.map((inst) => {
      const previous = inst.state;
      if (inst.state === 'stopped') {
        // The boot timer runs from launchTime, which EC2 also resets when an instance starts again.
        inst.state = 'pending';
        inst.launchTime = req.now;
        inst.stateChangedAt = req.now;
        delete inst.stateTransitionReason;
      }
      return stateChange(inst, previous);
    }),
  };
}

export function describeVolumes(p: DescribeVolumesRequest, { world, region }: Call): DescribeVolumesResult {
  let volumes = inRegion(state(world).volumes, region);
  const ids = p.VolumeIds ?? [];
  const missingIds = ids.filter((id) => !volumes.some((v) => v.volumeId === id));
  if (missingIds.length) throw notFound('InvalidVolume.NotFound', 'volume', missingIds);
  if (ids.length) volumes = volumes.filter((v) => ids.includes(v.volumeId));
  volumes = filterItems(volumes, p.Filters, {
    'volume-id': (v) => [v.volumeId],
    'attachment.instance-id': (v) => [v.instanceId],
    'attachment.device': (v) => [v.deviceName],
    'volume-type': (v) => [v.volumeType],
    status: (v) => [v.state],
    encrypted: (v) => [v.encrypted],
    size: (v) => [v.size],
    'availability-zone': (v) => [v.availabilityZone],
  });
  const result = pageOf(world, volumes, p.MaxResults, p.NextToken);
  return {
    Volumes: result.items.map((v) => ({
      VolumeId: v.volumeId,
      Size: v.size,
      SnapshotId: v.snapshotId ?? '',
      AvailabilityZone: v.availabilityZone,
      State: v.state,
      CreateTime: new Date(v.createTime),
      Attachments: v.instanceId
        ? [{ VolumeId: v.volumeId, InstanceId: v.instanceId, Device: v.deviceName, State: 'attached', AttachTime: new Date(v.createTime), DeleteOnTermination: v.deleteOnTermination }]
        : [],
      VolumeType: v.volumeType as VolumeType,
      Iops: v.iops,
      Throughput: v.throughput,
      Encrypted: v.encrypted,
      MultiAttachEnabled: false,
      Tags: sdkTags(v.tags),
    })),
    NextToken: result.nextToken,
  };
}

export const operations: Record<string, Operation> = {
  // Their answers are written in EC2's XML names already (instance-shapes.ts): no encoder.
  RunInstances: typedOperation<RunInstancesRequest, WireReservation>({
    mutating: true,
    decode: runInstancesRequest,
    handler: seeded(runInstances),
  }),
  DescribeInstances: typedOperation<DescribeInstancesRequest, WireInstances>({
    mutating: false,
    decode: ec2Decoder(DescribeInstancesRequest$),
    handler: seeded(describeInstances),
  }),
  TerminateInstances: typedOperation<TerminateInstancesRequest, TerminateInstancesResult>({
    mutating: true,
    decode: ec2Decoder(TerminateInstancesRequest$),
    encode: ec2Encoder(TerminateInstancesResult$),
    handler: seeded(terminateInstances),
  }),
  StopInstances: typedOperation<StopInstancesRequest, StopInstancesResult>({
    mutating: true,
    decode: ec2Decoder(StopInstancesRequest$),
    encode: ec2Encoder(StopInstancesResult$),
    handler: seeded(stopInstances),
  }),
  StartInstances: typedOperation<StartInstancesRequest, StartInstancesResult>({
    mutating: true,
    decode: ec2Decoder(StartInstancesRequest$),
    encode: ec2Encoder(StartInstancesResult$),
    handler: seeded(startInstances),
  }),
  DescribeVolumes: typedOperation<DescribeVolumesRequest, DescribeVolumesResult>({
    mutating: false,
    decode: ec2Decoder(DescribeVolumesRequest$),
    encode: ec2Encoder(DescribeVolumesResult$),
    handler: seeded(describeVolumes),
  }),
  DescribeInstanceCreditSpecifications: typedOperation<DescribeInstanceCreditSpecificationsRequest, DescribeInstanceCreditSpecificationsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeInstanceCreditSpecificationsRequest$),
    encode: ec2Encoder(DescribeInstanceCreditSpecificationsResult$),
    handler: seeded(describeInstanceCreditSpecifications),
  }),
  ModifyInstanceCreditSpecification: typedOperation<ModifyInstanceCreditSpecificationRequest, ModifyInstanceCreditSpecificationResult>({
    mutating: true,
    decode: ec2Decoder(ModifyInstanceCreditSpecificationRequest$),
    encode: ec2Encoder(ModifyInstanceCreditSpecificationResult$),
    handler: seeded(modifyInstanceCreditSpecification),
  }),
};
