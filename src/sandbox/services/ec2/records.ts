/**
 * The EC2 records world.state.ec2 holds (Ec2State in state.ts), one shape per resource. This module is
 * the bottom of the EC2 service: it imports no handler, and every other EC2 file may import it.
 */
import type { RequestLaunchTemplateData } from '@aws-sdk/client-ec2';
import type { Ec2InstanceRecord } from '../../types.js';
import type { TagMap } from '../util.js';

export interface VpcRecord {
  vpcId: string;
  region: string;
  cidrBlock: string;
  isDefault: boolean;
  dhcpOptionsId: string;
  tags: TagMap;
}

export interface SubnetRecord {
  subnetId: string;
  region: string;
  vpcId: string;
  cidrBlock: string;
  availabilityZone: string;
  availabilityZoneId: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
  /** Host number of the next private IP to hand out (AWS reserves the first four). */
  nextHost: number;
  tags: TagMap;
}

export interface RuleRecord {
  ruleId: string;
  /** 'tcp' | 'udp' | 'icmp' | '-1' (all) or a protocol number. */
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidrIp?: string;
  /** Source security group (instead of cidrIp). */
  groupId?: string;
  description?: string;
}

export interface SecurityGroupRecord {
  groupId: string;
  region: string;
  groupName: string;
  description: string;
  vpcId: string;
  ingress: RuleRecord[];
  egress: RuleRecord[];
  tags: TagMap;
}

export interface KeyPairRecord {
  keyPairId: string;
  region: string;
  keyName: string;
  keyType: 'rsa' | 'ed25519';
  keyFingerprint: string;
  publicKey: string;
  createTime: number;
  tags: TagMap;
}

export interface LaunchTemplateVersionRecord {
  versionNumber: number;
  versionDescription?: string;
  createTime: number;
  /** As the request gave it (SDK member names); JSON-serialisable. */
  data: RequestLaunchTemplateData;
  clientToken?: string;
  requestHash?: string;
}

/** LaunchTemplateView (../../views.ts) plus the versions. */
export interface LaunchTemplateRecord {
  launchTemplateId: string;
  launchTemplateName: string;
  region: string;
  createTime: number;
  createdBy: string;
  defaultVersion: number;
  latestVersion: number;
  tags: TagMap;
  /** By version number. */
  versions: Record<string, LaunchTemplateVersionRecord>;
  clientToken?: string;
  requestHash?: string;
}

export interface VolumeRecord {
  volumeId: string;
  region: string;
  size: number;
  volumeType: string;
  encrypted: boolean;
  iops?: number;
  throughput?: number;
  snapshotId?: string;
  availabilityZone: string;
  createTime: number;
  instanceId?: string;
  deviceName?: string;
  deleteOnTermination: boolean;
  state: 'in-use' | 'available';
  tags: TagMap;
}

/** The agreed record (../types.ts) plus what DescribeInstances needs. */
export interface InstanceRecord extends Ec2InstanceRecord {
  region: string;
  reservationId: string;
  amiLaunchIndex: number;
  keyName?: string;
  availabilityZone: string;
  architecture: string;
  clientToken?: string;
  /** IAM instance profile id, for DescribeInstances' iamInstanceProfile.id. */
  iamInstanceProfileId?: string;
  metadataOptions: { httpTokens: string; httpPutResponseHopLimit: number; httpEndpoint: string; instanceMetadataTags: string };
  /** Root and extra EBS volumes, by device name. */
  blockDevices: { deviceName: string; volumeId: string; deleteOnTermination: boolean }[];
  disableApiTermination: boolean;
  /** Set by TerminateInstances: "User initiated (2026-11-25 12:00:00 GMT)". */
  stateTransitionReason?: string;
  /** Whether the instance gets a public IP when it is running (subnet setting or AssociatePublicIpAddress). */
  wantsPublicIp: boolean;
  /** Burstable types: the CPU credit option (CreditSpecification, else the family's default). */
  cpuCredits?: 'standard' | 'unlimited';
  /** Attributes RunInstances or ModifyInstanceAttribute set (instance-attributes.ts); absent = EC2's default. */
  sourceDestCheck?: boolean;
  instanceInitiatedShutdownBehavior?: 'stop' | 'terminate';
  disableApiStop?: boolean;
  ebsOptimized?: boolean;
}

export interface ReservationRecord {
  reservationId: string;
  region: string;
  instanceIds: string[];
  clientToken?: string;
  /** Fingerprint of the request parameters, for ClientToken idempotency. */
  requestHash?: string;
}
