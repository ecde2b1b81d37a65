/**
 * Elastic Load Balancing v2 (AWS Query protocol, Version 2015-12-01, SigV4 signing name
 * 'elasticloadbalancing'): application load balancers, target groups, listeners, targets and their
 * health, and tags. State in world.state.elasticloadbalancing (state.ts; views.ts's Elbv2View is what other modules
 * read). Error codes are the wire codes (LoadBalancerNotFound, ...), which the SDK maps to its
 * ...Exception classes.
 */
import type { ServiceModule } from '../../types.js';
import { operations as listeners } from './listeners.js';
import { loadBalancerState, operations as loadBalancers } from './load-balancers.js';
import { ELBV2_STATE, elbv2State, initElbv2State } from './state.js';
import { operations as tags } from './tags.js';
import { operations as targetGroups } from './target-groups.js';
import { operations as targets, purgeTargets } from './targets.js';

export const elbv2: ServiceModule = {
  name: 'elasticloadbalancing',
  protocol: 'query',
  apiVersion: '2015-12-01',
  xmlNamespace: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/',
  initState: initElbv2State,
  tick: (world, now) => {
    if (!world.state[ELBV2_STATE]) return;
    elbv2State(world);
    purgeTargets(world, now);
  },
  operations: { ...loadBalancers, ...targetGroups, ...listeners, ...targets, ...tags },
};

export { loadBalancerState };
