/**
 * EC2 DescribeInstanceAttribute and ModifyInstanceAttribute, as the API reference lists them
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceAttribute.html,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html):
 *
 *   describe: one attribute per call -- instanceType, kernel, ramdisk, userData (base64, as sent),
 *             disableApiTermination, instanceInitiatedShutdownBehavior, rootDeviceName,
 *             blockDeviceMapping, productCodes, sourceDestCheck, groupSet, ebsOptimized,
 *             sriovNetSupport, enclaveOptions, disableApiStop. enaSupport is listed but "not
 *             supported" by the reference: refused (read it from DescribeInstances).
 *   modify:   what a user changes by hand -- instanceType, userData, ebsOptimized and kernel/ramdisk
 *             only while the instance is stopped (EC2 answers IncorrectInstanceState otherwise, see
 *             "Change the instance type" and "Modify user data" in the EC2 user guide);
 *             disableApiTermination, disableApiStop, instanceInitiatedShutdownBehavior,
 *             sourceDestCheck and groups (security group ids of the instance's VPC, at most 5) at any
 *             time before termination. One attribute per call, as EC2 requires.
 */
import {
  DescribeInstanceAttributeRequest$,
  InstanceAttribute$,
  ModifyInstanceAttributeRequest$,
  type DescribeInstanceAttributeRequest,
  type InstanceAttribute,
  type ModifyInstanceAttributeRequest,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation } from '../../types.js';
import { dryRun, invalidValue, missing } from './common.js';
import { INSTANCE_TYPES } from './ec2-data.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { decodeUserData } from './launch.js';
import { lookupInstances } from './lookups.js';
import type { InstanceRecord } from './records.js';
import { seeded, state } from './state.js';

export const DESCRIBABLE = [
  'instanceType', 'kernel', 'ramdisk', 'userData', 'disableApiTermination', 'instanceInitiatedShutdownBehavior', 'rootDeviceName',
  'blockDeviceMapping', 'productCodes', 'sourceDestCheck', 'groupSet', 'ebsOptimized', 'sriovNetSupport', 'enaSupport', 'enclaveOptions', 'disableApiStop',
] as const;

/** The attributes an InstanceRecord may carry beyond what RunInstances always sets (absent = EC2's default). */
export interface InstanceAttributes {
  sourceDestCheck?: boolean;
  instanceInitiatedShutdownBehavior?: 'stop' | 'terminate';
  disableApiStop?: boolean;
  ebsOptimized?: boolean;
}

function instanceOf(p: { InstanceId?: string }, call: Call): InstanceRecord {
  if (!p.InstanceId) throw missing('InstanceId');
  return lookupInstances(call.world, call.region, [p.InstanceId])[0]!;
}

export function describeInstanceAttribute(p: DescribeInstanceAttributeRequest, call: Call): InstanceAttribute {
  const inst = instanceOf(p, call);
  const attribute = p.Attribute;
  if (!attribute) throw missing('Attribute');
  if (!(DESCRIBABLE as readonly string[]).includes(attribute)) {
    throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
  }
  if (attribute === 'enaSupport') {
    throw new ServiceError('UnsupportedOperation', 'The enaSupport attribute is not supported by DescribeInstanceAttribute; DescribeInstances reports it.', 400);
  }
  dryRun(p);
  const a = inst as InstanceRecord & InstanceAttributes;
  const out: InstanceAttribute = { InstanceId: inst.instanceId };
  switch (attribute) {
    case 'instanceType':
      out.InstanceType = { Value: inst.instanceType };
      break;
    case 'kernel':
      out.KernelId = {};
      break;
    case 'ramdisk':
      out.RamdiskId = {};
      break;
    case 'userData':
      // EC2 returns the user data base64-encoded, as it was given; none: an empty element.
      out.UserData = inst.userData === undefined ? {} : { Value: Buffer.from(inst.userData, 'utf8').toString('base64') };
      break;
    case 'disableApiTermination':
      out.DisableApiTermination = { Value: inst.disableApiTermination };
      break;
    case 'instanceInitiatedShutdownBehavior':
      out.InstanceInitiatedShutdownBehavior = { Value: a.instanceInitiatedShutdownBehavior ?? 'stop' };
      break;
    case 'rootDeviceName':
      out.RootDeviceName = { Value: '/dev/xvda' };
      break;
    case 'blockDeviceMapping':
      out.BlockDeviceMappings = inst.state === 'terminated' ? [] : inst.blockDevices.map((d) => ({
        DeviceName: d.deviceName,
        Ebs: { VolumeId: d.volumeId, Status: 'attached', AttachTime: new Date(inst.launchTime), DeleteOnTermination: d.deleteOnTermination },
      }));
      break;
    case 'productCodes':
      out.ProductCodes = [];
      break;
    case 'sourceDestCheck':
      out.SourceDestCheck = { Value: a.sourceDestCheck ?? true };
      break;
    case 'groupSet':
      out.Groups = inst.securityGroupIds.map((id) => ({ GroupId: id, GroupName: state(call.world).securityGroups[id]?.groupName }));
      break;
    case 'ebsOptimized':
      out.EbsOptimized = { Value: a.ebsOptimized ?? false };
      break;
    case 'sriovNetSupport':
      out.SriovNetSupport = {};
      break;
    case 'enclaveOptions':
      out.EnclaveOptions = { Enabled: false };
      break;
    case 'disableApiStop':
      out.DisableApiStop = { Value: a.disableApiStop ?? false };
      break;
  }
  return out;
}

const STOPPED_ONLY = new Set(['instanceType', 'userData', 'ebsOptimized', 'kernel', 'ramdisk']);

export function modifyInstanceAttribute(p: ModifyInstanceAttributeRequest, call: Call): { Return: boolean } {
  const inst = instanceOf(p, call) as InstanceRecord & InstanceAttributes;
  // The attribute named either by Attribute+Value or by its own member; exactly one per call.
  const given: [string, unknown][] = [
    ['sourceDestCheck', p.SourceDestCheck?.Value],
    ['disableApiStop', p.DisableApiStop?.Value],
    ['disableApiTermination', p.DisableApiTermination?.Value],
    ['instanceType', p.InstanceType?.Value],
    ['kernel', p.Kernel?.Value],
    ['ramdisk', p.Ramdisk?.Value],
    ['userData', p.UserData?.Value],
    ['instanceInitiatedShutdownBehavior', p.InstanceInitiatedShutdownBehavior?.Value],
    ['groupSet', p.Groups?.length ? p.Groups : undefined],
    ['ebsOptimized', p.EbsOptimized?.Value],
    ['blockDeviceMapping', p.BlockDeviceMappings?.length ? p.BlockDeviceMappings : undefined],
    ['sriovNetSupport', p.SriovNetSupport?.Value],
    ['enaSupport', p.EnaSupport?.Value],
  ].filter(([, v]) => v !== undefined) as [string, unknown][];
  if (p.Attribute) given.push([p.Attribute, p.Value]);
  if (given.length === 0) throw missing('Attribute');
  if (given.length > 1) throw new ServiceError('InvalidParameterCombination', 'Fields for multiple attribute types specified: ' + given.map(([k]) => k).join(', '), 400);
  const [attribute, raw] = given[0]!;
  if (raw === undefined || raw === '') throw missing('Value');
  if (inst.state === 'terminated' || inst.state === 'shutting-down') {
    throw new ServiceError('IncorrectInstanceState', `The instance '${inst.instanceId}' is not in a state from which its attributes can be modified.`, 400);
  }
  if (STOPPED_ONLY.has(attribute) && inst.state !== 'stopped') {
    throw new ServiceError('IncorrectInstanceState', `The instance '${inst.instanceId}' is not in the 'stopped' state.`, 400);
  }
  const bool = (v: unknown) => {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    throw invalidValue(`Value (${String(v)}) for parameter value is invalid. Expected: 'true' or 'false'.`);
  };
  dryRun(p);
  switch (attribute) {
    case 'instanceType': {
      const type = String(raw);
      if (!INSTANCE_TYPES.has(type)) throw invalidValue(`Value (${type}) for parameter instanceType is invalid.`);
      inst.instanceType = type;
      break;
    }
    case 'userData':
      inst.userData = decodeUserData(raw instanceof Uint8Array ? Buffer.from(raw).toString('base64') : raw);
      break;
    case 'disableApiTermination':
      inst.disableApiTermination = bool(raw);
      break;
    case 'disableApiStop':
      inst.disableApiStop = bool(raw);
      break;
    case 'sourceDestCheck':
      inst.sourceDestCheck = bool(raw);
      break;
    case 'ebsOptimized':
      inst.ebsOptimized = bool(raw);
      break;
    case 'instanceInitiatedShutdownBehavior': {
      const v = String(raw);
      if (v !== 'stop' && v !== 'terminate') throw invalidValue(`Value (${v}) for parameter instanceInitiatedShutdownBehavior is invalid. Expected: 'stop' or 'terminate'.`);
      inst.instanceInitiatedShutdownBehavior = v;
      break;
    }
    case 'groupSet': {
      const ids = (Array.isArray(raw) ? raw : [raw]).map(String);
      if (ids.length > 5) throw new ServiceError('SecurityGroupsPerInstanceLimitExceeded', 'The maximum number of security groups per interface has been reached.', 400);
      for (const id of ids) {
        const g = state(call.world).securityGroups[id];
        if (!g || g.region !== call.region) throw new ServiceError('InvalidGroup.NotFound', `The security group '${id}' does not exist`, 400);
        if (g.vpcId !== inst.vpcId) throw new ServiceError('InvalidGroup.NotFound', `The security group '${id}' does not exist in VPC '${inst.vpcId}'`, 400);
      }
      inst.securityGroupIds = [...new Set(ids)];
      break;
    }
    default:
      throw new ServiceError('UnsupportedOperation', `The sandbox does not modify the ${attribute} attribute.`, 400);
  }
  return { Return: true };
}

export const operations: Record<string, Operation> = {
  DescribeInstanceAttribute: typedOperation<DescribeInstanceAttributeRequest, InstanceAttribute>({
    mutating: false,
    decode: ec2Decoder(DescribeInstanceAttributeRequest$),
    encode: ec2Encoder(InstanceAttribute$),
    handler: seeded(describeInstanceAttribute),
  }),
  ModifyInstanceAttribute: typedOperation<ModifyInstanceAttributeRequest, { Return: boolean }>({
    mutating: true,
    decode: ec2Decoder(ModifyInstanceAttributeRequest$),
    encode: (out) => ({ return: out.Return }),
    handler: seeded(modifyInstanceAttribute),
  }),
};
