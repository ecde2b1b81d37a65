/**
 * ELBv2 listeners: CreateListener, DescribeListeners, ModifyListener, DeleteListener. HTTP and HTTPS
 * listeners whose default actions forward to target groups (or answer fixed responses / redirect).
 */
import type {
  Action,
  CreateListenerInput,
  CreateListenerOutput,
  DeleteListenerInput,
  DeleteListenerOutput,
  DescribeListenersInput,
  DescribeListenersOutput,
  Listener,
  ModifyListenerInput,
  ModifyListenerOutput,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateListenerInput$, DescribeListenersInput$, ModifyListenerInput$, DeleteListenerInput$ } from '@aws-sdk/client-elastic-load-balancing-v2';
import { queryDecoder } from '../../protocols/schema.js';
import { typedOperation } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { elbArn, elbv2State, hex16, lbNotFound, listenerNotFound, page, tagMap, tgNotFound, validation, type ListenerRecord } from './state.js';
import { forwardsTo, loadBalancersOf } from './target-groups.js';

export function listenerView(l: ListenerRecord): Listener {
  return {
    ListenerArn: l.listenerArn,
    LoadBalancerArn: l.loadBalancerArn,
    Port: l.port,
    Protocol: l.protocol as Listener['Protocol'],
    DefaultActions: l.defaultActions,
  };
}

const ACTION_TYPES = ['forward', 'redirect', 'fixed-response'];

/** Validate default actions; returns them as stored (forward actions carry TargetGroupArn). */
function checkActions(world: World, loadBalancerArn: string, actions: Action[] | undefined, listenerArn?: string): Action[] {
  if (!actions || actions.length === 0) throw validation('A default action must be specified');
  const s = elbv2State(world);
  for (const a of actions) {
    if (!a.Type || !ACTION_TYPES.includes(a.Type)) throw validation(`The sandbox supports the action types ${ACTION_TYPES.join(', ')}, not '${a.Type}'`);
    if (a.Type === 'forward' && !a.TargetGroupArn && !a.ForwardConfig?.TargetGroups?.length) {
      throw validation('A target group ARN must be specified for a forward action');
    }
  }
  const tgs = forwardsTo(actions);
  for (const arn of tgs) {
    if (!s.targetGroups[arn]) throw tgNotFound();
    // An ALB target group serves one load balancer only.
    const others = loadBalancersOf(world, arn).filter((lb) => lb !== loadBalancerArn);
    const usedByThisListenerOnly = listenerArn !== undefined && others.length === 0;
    if (others.length > 0 && !usedByThisListenerOnly) {
      throw new ServiceError('TargetGroupAssociationLimit', `The following target groups cannot be associated with more than one load balancer: ${arn}`);
    }
  }
  return JSON.parse(JSON.stringify(actions)) as Action[];
}

const PROTOCOLS = ['HTTP', 'HTTPS'];

const createListener = typedOperation<CreateListenerInput, CreateListenerOutput>({
  mutating: true,
  decode: queryDecoder(CreateListenerInput$),
  handler: (input, { world, region, now }) => {
    const s = elbv2State(world);
    const lb = input.LoadBalancerArn ? s.loadBalancers[input.LoadBalancerArn] : undefined;
    if (!lb) throw lbNotFound();
    const protocol = input.Protocol ?? 'HTTP';
    if (!PROTOCOLS.includes(protocol)) throw new ServiceError('UnsupportedProtocol', `Protocol '${protocol}' is not supported`);
    if (protocol === 'HTTPS' && !input.Certificates?.length) throw validation('A certificate must be specified for HTTPS listeners');
    const port = input.Port ?? (protocol === 'HTTPS' ? 443 : 80);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw validation(`1 validation error detected: Value '${port}' at 'port' failed to satisfy constraint: Member must have value between 1 and 65535`);
    const actions = checkActions(world, lb.loadBalancerArn, input.DefaultActions);
    const existing = Object.values(s.listeners).find((l) => l.loadBalancerArn === lb.loadBalancerArn && l.port === port);
    if (existing) {
      // The same listener again succeeds (AWS documents CreateListener as idempotent); another on the port is refused.
      if (existing.protocol === protocol && JSON.stringify(existing.defaultActions) === JSON.stringify(actions)) return { Listeners: [listenerView(existing)] };
      throw new ServiceError('DuplicateListener', `A listener already exists on this port for this load balancer '${lb.loadBalancerArn}'`);
    }
    const lbPath = lb.loadBalancerArn.slice(lb.loadBalancerArn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
    const l: ListenerRecord = {
      listenerArn: elbArn(world, region, `listener/${lbPath}/${hex16(world)}`),
      loadBalancerArn: lb.loadBalancerArn,
      region,
      port,
      protocol,
      defaultActions: actions,
      tags: tagMap(input.Tags),
      createdAt: now,
    };
    s.listeners[l.listenerArn] = l;
    return { Listeners: [listenerView(l)] };
  },
});

const describeListeners = typedOperation<DescribeListenersInput, DescribeListenersOutput>({
  mutating: false,
  decode: queryDecoder(DescribeListenersInput$),
  handler: (input, { world, region }) => {
    const s = elbv2State(world);
    const arns = input.ListenerArns ?? [];
    let ls: ListenerRecord[];
    if (!input.LoadBalancerArn && arns.length === 0) throw validation('You must specify either listener ARNs or a load balancer ARN');
    if (input.LoadBalancerArn) {
      if (!s.loadBalancers[input.LoadBalancerArn]) throw lbNotFound();
      ls = Object.values(s.listeners).filter((l) => l.loadBalancerArn === input.LoadBalancerArn);
      if (arns.length > 0) ls = ls.filter((l) => arns.includes(l.listenerArn));
    } else {
      if (arns.some((a) => !s.listeners[a] || s.listeners[a].region !== region)) throw listenerNotFound();
      ls = arns.map((a) => s.listeners[a]);
    }
    ls.sort((a, b) => a.port - b.port);
    const p = page(world, ls, input.Marker, input.PageSize);
    return { Listeners: p.items.map(listenerView), NextMarker: p.next };
  },
});

const modifyListener = typedOperation<ModifyListenerInput, ModifyListenerOutput>({
  mutating: true,
  decode: queryDecoder(ModifyListenerInput$),
  handler: (input, { world }) => {
    const s = elbv2State(world);
    const l = input.ListenerArn ? s.listeners[input.ListenerArn] : undefined;
    if (!l) throw listenerNotFound();
    const protocol = input.Protocol ?? l.protocol;
    if (!PROTOCOLS.includes(protocol)) throw new ServiceError('UnsupportedProtocol', `Protocol '${protocol}' is not supported`);
    const port = input.Port ?? l.port;
    if (port !== l.port && Object.values(s.listeners).some((x) => x.loadBalancerArn === l.loadBalancerArn && x.port === port)) {
      throw new ServiceError('DuplicateListener', `A listener already exists on this port for this load balancer '${l.loadBalancerArn}'`);
    }
    const actions = input.DefaultActions ? checkActions(world, l.loadBalancerArn, input.DefaultActions, l.listenerArn) : l.defaultActions;
    l.protocol = protocol;
    l.port = port;
    l.defaultActions = actions;
    return { Listeners: [listenerView(l)] };
  },
});

const deleteListener = typedOperation<DeleteListenerInput, DeleteListenerOutput>({
  mutating: true,
  decode: queryDecoder(DeleteListenerInput$),
  handler: (input, { world }) => {
    const s = elbv2State(world);
    if (!input.ListenerArn || !s.listeners[input.ListenerArn]) throw listenerNotFound();
    delete s.listeners[input.ListenerArn];
    return {};
  },
});

export const operations: Record<string, Operation> = {
  CreateListener: createListener,
  DescribeListeners: describeListeners,
  ModifyListener: modifyListener,
  DeleteListener: deleteListener,
};
