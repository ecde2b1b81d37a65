/**
 * EC2 instances as DescribeInstances and RunInstances answer them (reservations, instances, their DNS
 * names) and the state changes Terminate/Stop/StartInstances report.
 */
import type { InstanceStateChange } from '@aws-sdk/client-ec2';
import type { World } from '../../types.js';
import { tagSet } from './common.js';
import type { InstanceRecord, ReservationRecord } from './records.js';
import { STATE_CODES, state } from './state.js';

export function dnsNames(region: string, inst: { privateIpAddress: string; publicIpAddress?: string }) {
  const internal = region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
  const external = region === 'us-east-1' ? 'compute-1.amazonaws.com' : `${region}.compute.amazonaws.com`;
  return {
    privateDnsName: `ip-${inst.privateIpAddress.replace(/\./g, '-')}.${internal}`,
    dnsName: inst.publicIpAddress ? `ec2-${inst.publicIpAddress.replace(/\./g, '-')}.${external}` : '',
  };
}

/** A reservation as RunInstances and DescribeInstances write it, in EC2's XML element names. */
export type WireReservation = ReturnType<typeof reservationShape>;

/** DescribeInstances' answer, in EC2's XML element names. */
export interface WireInstances {
  reservationSet: WireReservation[];
  nextToken?: string;
}

export function reservationShape(world: World, reservation: ReservationRecord, only?: Set<string>) {
  const instances = reservation.instanceIds
    .map((id) => state(world).instances[id])
    .filter((i): i is InstanceRecord => i !== undefined && (!only || only.has(i.instanceId)));
  const groups = instances[0]?.securityGroupIds ?? [];
  return {
    reservationId: reservation.reservationId,
    ownerId: world.settings.accountId,
    groupSet: groups.map((id) => ({ groupId: id, groupName: state(world).securityGroups[id]?.groupName })),
    instancesSet: instances.map((i) => instanceShape(world, i)),
  };
}

export function instanceShape(world: World, i: InstanceRecord) {
  const terminated = i.state === 'terminated';
  const dns = dnsNames(i.region, i);
  return {
    instanceId: i.instanceId,
    imageId: i.imageId,
    instanceState: { code: STATE_CODES[i.state], name: i.state },
    privateDnsName: terminated ? '' : dns.privateDnsName,
    dnsName: dns.dnsName,
    reason: i.stateTransitionReason ?? '',
    keyName: i.keyName,
    amiLaunchIndex: i.amiLaunchIndex,
    productCodes: [],
    instanceType: i.instanceType,
    launchTime: new Date(i.launchTime),
    placement: { availabilityZone: i.availabilityZone, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: terminated ? undefined : i.subnetId,
    vpcId: terminated ? undefined : i.vpcId,
    privateIpAddress: terminated ? undefined : i.privateIpAddress,
    ipAddress: i.publicIpAddress,
    sourceDestCheck: terminated ? undefined : (i.sourceDestCheck ?? true),
    groupSet: i.securityGroupIds.map((id) => ({ groupId: id, groupName: state(world).securityGroups[id]?.groupName })),
    stateReason: terminated
      ? { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' }
      : i.state === 'pending'
        ? { code: 'pending', message: 'pending' }
        : undefined,
    architecture: i.architecture,
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: terminated
      ? []
      : i.blockDevices.map((d) => ({
          deviceName: d.deviceName,
          ebs: { volumeId: d.volumeId, status: 'attached', attachTime: new Date(i.launchTime), deleteOnTermination: d.deleteOnTermination },
        })),
    virtualizationType: 'hvm',
    clientToken: i.clientToken ?? '',
    tagSet: Object.keys(i.tags).length ? tagSet(i.tags) : undefined,
    hypervisor: 'xen',
    iamInstanceProfile: i.iamInstanceProfile ? { arn: i.iamInstanceProfile.arn, id: i.iamInstanceProfileId } : undefined,
    ebsOptimized: i.ebsOptimized ?? false,
    enaSupport: true,
    bootMode: 'uefi',
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    metadataOptions: {
      state: i.state === 'pending' ? 'pending' : 'applied',
      httpTokens: i.metadataOptions.httpTokens,
      httpPutResponseHopLimit: i.metadataOptions.httpPutResponseHopLimit,
      httpEndpoint: i.metadataOptions.httpEndpoint,
      httpProtocolIpv6: 'disabled',
      instanceMetadataTags: i.metadataOptions.instanceMetadataTags,
    },
    currentInstanceBootMode: 'uefi',
  };
}

export function stateChange(inst: InstanceRecord, previous: InstanceRecord['state']): InstanceStateChange {
  return {
    InstanceId: inst.instanceId,
    CurrentState: { Code: STATE_CODES[inst.state], Name: inst.state },
    PreviousState: { Code: STATE_CODES[previous], Name: previous },
  };
}
