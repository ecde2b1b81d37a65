/**
 * EC2 (EC2 Query protocol, regional): VPCs and subnets (a default VPC per region plus one non-default
 * VPC), security groups and their ingress rules, key pairs, AMIs, instance types, instances and their
 * volumes, launch templates, tags. One file per resource, each with its state slice, handlers and
 * operation table; the state and lifecycles are in state.ts.
 */
import type { ServiceModule } from '../../types.js';
import { operations as images } from './images.js';
import { operations as instances } from './instances.js';
import { operations as instanceAttributes } from './instance-attributes.js';
import { operations as keyPairs } from './key-pairs.js';
import { operations as launchTemplates } from './launch-templates.js';
import { operations as network } from './network.js';
import { operations as securityGroups } from './security-groups.js';
import { initState, tick } from './state.js';
import { operations as tags } from './tags.js';

export { launchFromTemplate, terminateInstance, type TemplateLaunch } from './instances.js';
export { builtinNetwork, DEFAULT_SANDBOX_ACCOUNT, type Ec2State } from './state.js';

export const ec2: ServiceModule = {
  name: 'ec2',
  protocol: 'ec2',
  apiVersion: '2016-11-15',
  xmlNamespace: 'http://ec2.amazonaws.com/doc/2016-11-15/',
  initState,
  tick,
  operations: { ...network, ...keyPairs, ...securityGroups, ...images, ...instances, ...instanceAttributes, ...launchTemplates, ...tags },
};
