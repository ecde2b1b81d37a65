/**
 * Amazon EC2 Auto Scaling (Query protocol, SigV4 signing name 'autoscaling', API 2011-01-01): groups
 * launched from EC2 launch templates, kept at their desired capacity by tick() (instances.ts), their
 * instances, tags and scaling activities. Handlers are typed with @aws-sdk/client-auto-scaling.
 *
 * world.state.autoscaling: { groups: `${region}/${name}` -> AsgGroupRecord (AsgGroupView in
 * ../../views.ts), activities: ActivityRecord[] }.
 */
import type { ServiceModule } from '../../types.js';
import { operations as activities } from './activities.js';
import { initState, operations as groups } from './groups.js';
import { operations as instances, tick } from './instances.js';
import { operations as tags } from './tags.js';

export type { AutoScalingState, AsgGroupRecord } from './groups.js';

export const autoscaling: ServiceModule = {
  name: 'autoscaling',
  protocol: 'query',
  apiVersion: '2011-01-01',
  xmlNamespace: 'http://autoscaling.amazonaws.com/doc/2011-01-01/',
  initState,
  tick,
  operations: { ...groups, ...instances, ...tags, ...activities },
};
