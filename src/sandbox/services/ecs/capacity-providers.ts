/**
 * ECS capacity providers: Create/Describe/Update/DeleteCapacityProvider and PutClusterCapacityProviders.
 *
 * An Auto Scaling group capacity provider names one group (world.state.autoscaling, read through
 * views.ts's AutoScalingView); the service scheduler places a service's tasks only on container
 * instances whose EC2 instance is in a group of its strategy (scheduler.ts). FARGATE and FARGATE_SPOT
 * always exist. DeleteCapacityProvider: ACTIVE with updateStatus DELETE_IN_PROGRESS, INACTIVE
 * (DELETE_COMPLETE) latency.taskStopMs later; while associated with a cluster it answers DELETE_FAILED
 * with the reason, as ECS does.
 *
 * Managed termination protection (tick): when the group has more InService instances than its desired
 * capacity, ECS clears scale-in protection on instances that run no task, so Auto Scaling can take
 * them (the one write into another module's state, documented in views.ts). Managed scaling is
 * recorded and shown (with its as_policy attachment on the cluster) but does not change the group's
 * desired capacity: the sandbox's callers size groups themselves.
 */
import { randomUUID } from 'node:crypto';
import type {
  CapacityProvider,
  CapacityProviderStrategyItem as SdkStrategyItem,
  CreateCapacityProviderRequest,
  CreateCapacityProviderResponse,
  DeleteCapacityProviderRequest,
  DeleteCapacityProviderResponse,
  DescribeCapacityProvidersRequest,
  DescribeCapacityProvidersResponse,
  PutClusterCapacityProvidersRequest,
  PutClusterCapacityProvidersResponse,
  UpdateCapacityProviderRequest,
  UpdateCapacityProviderResponse,
} from '@aws-sdk/client-ecs';
import { jsonBody, typedOperation } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import type { AsgGroupView, AutoScalingView } from '../../views.js';
import { clusterView } from './clusters.js';
import {
  clientError,
  ecsArn,
  ecsState,
  invalidParameter,
  isTaskActive,
  pageRequest,
  readTags,
  requireActiveCluster,
  tasksOf,
  type CapacityProviderRecord,
  type CapacityProviderStrategyItem,
  type ClusterRecord,
} from './state.js';
import { paginate } from '../../paginate.js';
import { ECS_MANAGED_TAG, markEcsManaged } from '../autoscaling/tags.js';

export const FARGATE_PROVIDERS = ['FARGATE', 'FARGATE_SPOT'];

const NAME = /^[a-zA-Z0-9_-]{1,255}$/;
const invalidName = () =>
  clientError(
    'The specified capacity provider name is invalid. Up to 255 characters are allowed, including letters (upper and lowercase), numbers, underscores, and hyphens. The name cannot be prefixed with "aws", "ecs", or "fargate". Specify a valid name and try again.',
  );
const notFound = () => clientError('The specified capacity provider does not exist. Specify a valid name or ARN and try again.');

export function capacityProviders(world: World): Record<string, CapacityProviderRecord> {
  return (ecsState(world).capacityProviders ??= {});
}

/** A capacity provider by name or ARN, in any status. */
export function findCapacityProvider(world: World, region: string, ref: string): CapacityProviderRecord | undefined {
  const arn = ref.startsWith('arn:') ? ref : ecsArn(world, region, `capacity-provider/${ref}`);
  return capacityProviders(world)[arn];
}

/** The Auto Scaling group an ARN or name refers to (AutoScalingView). */
export function findGroup(world: World, region: string, ref: string): AsgGroupView | undefined {
  const groups = ((world.state.autoscaling ?? {}) as AutoScalingView).groups ?? {};
  if (ref.startsWith('arn:')) return Object.values(groups).find((g) => g.autoScalingGroupArn === ref);
  return groups[`${region}/${ref}`];
}

/** The EC2 instance ids in a capacity provider's group (empty for FARGATE or a vanished group). */
export function providerInstances(world: World, region: string, name: string): Set<string> {
  const cp = findCapacityProvider(world, region, name);
  if (!cp || cp.status !== 'ACTIVE') return new Set();
  const group = findGroup(world, region, cp.autoScalingGroupProvider.autoScalingGroupArn);
  return new Set((group?.instances ?? []).filter((i) => i.lifecycleState !== 'Terminated' && i.lifecycleState !== 'Detached').map((i) => i.instanceId));
}

/**
 * The capacity provider a container instance belongs to, decided once, when it registers (as ECS
 * does): its EC2 instance is in the group of an ACTIVE provider and carries the AmazonECSManaged tag
 * the group propagates once the provider exists. An instance launched before the provider (no tag),
 * or registered before it existed, is never the provider's: ECS does not rescan a group's instances
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/asg-capacity-providers.html,
 * aws/containers-roadmap#2055). Stricter than AWS's "might not be properly registered".
 */
export function registeringProvider(world: World, region: string, ec2InstanceId: string, tags: Record<string, string>): string | undefined {
  if (tags[ECS_MANAGED_TAG] === undefined) return undefined;
  const groups = ((world.state.autoscaling ?? {}) as AutoScalingView).groups ?? {};
  const group = Object.values(groups).find((g) => g.region === region && g.instances.some((i) => i.instanceId === ec2InstanceId && i.lifecycleState !== 'Terminated' && i.lifecycleState !== 'Detached'));
  if (!group) return undefined;
  return Object.values(capacityProviders(world)).find(
    (cp) => cp.region === region && cp.status === 'ACTIVE' && cp.autoScalingGroupProvider.autoScalingGroupArn === group.autoScalingGroupArn,
  )?.name;
}

function builtin(name: string): CapacityProvider {
  return { name, status: 'ACTIVE', type: name as CapacityProvider['type'], tags: [] };
}

export function capacityProviderView(cp: CapacityProviderRecord, withTags: boolean): CapacityProvider {
  return {
    capacityProviderArn: cp.capacityProviderArn,
    name: cp.name,
    status: cp.status,
    type: 'EC2_AUTOSCALING',
    autoScalingGroupProvider: JSON.parse(JSON.stringify(cp.autoScalingGroupProvider)),
    updateStatus: cp.updateStatus as CapacityProvider['updateStatus'],
    updateStatusReason: cp.updateStatusReason,
    tags: withTags ? cp.tags : undefined,
  };
}

type ManagedScalingInput = NonNullable<NonNullable<CreateCapacityProviderRequest['autoScalingGroupProvider']>['managedScaling']>;

function managedScaling(input: ManagedScalingInput | undefined, base: CapacityProviderRecord['autoScalingGroupProvider']['managedScaling']) {
  const m = {
    status: (input?.status ?? base.status) as 'ENABLED' | 'DISABLED',
    targetCapacity: input?.targetCapacity ?? base.targetCapacity,
    minimumScalingStepSize: input?.minimumScalingStepSize ?? base.minimumScalingStepSize,
    maximumScalingStepSize: input?.maximumScalingStepSize ?? base.maximumScalingStepSize,
    instanceWarmupPeriod: input?.instanceWarmupPeriod ?? base.instanceWarmupPeriod,
  };
  if (m.status !== 'ENABLED' && m.status !== 'DISABLED') throw invalidParameter(`Invalid managed scaling status: ${m.status}`);
  if (!Number.isInteger(m.targetCapacity) || m.targetCapacity < 1 || m.targetCapacity > 100) {
    throw clientError('The managed scaling target capacity is invalid. Specify a value between 1 and 100 and try again.');
  }
  for (const [k, v] of [['minimumScalingStepSize', m.minimumScalingStepSize], ['maximumScalingStepSize', m.maximumScalingStepSize]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 10000) throw clientError(`The managed scaling ${k} is invalid. Specify a value between 1 and 10000 and try again.`);
  }
  if (m.minimumScalingStepSize > m.maximumScalingStepSize) {
    throw clientError('The managed scaling minimumScalingStepSize must be less than or equal to the maximumScalingStepSize.');
  }
  if (!Number.isInteger(m.instanceWarmupPeriod) || m.instanceWarmupPeriod < 0 || m.instanceWarmupPeriod > 10000) {
    throw clientError('The managed scaling instanceWarmupPeriod is invalid. Specify a value between 0 and 10000 and try again.');
  }
  return m;
}

function checkTerminationProtection(provider: CapacityProviderRecord['autoScalingGroupProvider'], group: AsgGroupView): void {
  if (provider.managedTerminationProtection !== 'ENABLED') return;
  if (provider.managedScaling.status !== 'ENABLED') {
    throw clientError(
      'The managed termination protection setting for the capacity provider is invalid. To enable managed termination protection for a capacity provider, managed scaling must also be enabled.',
    );
  }
  if (!group.newInstancesProtectedFromScaleIn) {
    throw clientError(
      'The managed termination protection setting for the capacity provider is invalid. To enable managed termination protection for a capacity provider, the Auto Scaling group must have instance protection from scale in enabled.',
    );
  }
}

const onOff = (v: string | undefined, fallback: 'ENABLED' | 'DISABLED', what: string): 'ENABLED' | 'DISABLED' => {
  const x = v ?? fallback;
  if (x !== 'ENABLED' && x !== 'DISABLED') throw invalidParameter(`Invalid ${what}: ${x}`);
  return x;
};

const createCapacityProvider = typedOperation<CreateCapacityProviderRequest, CreateCapacityProviderResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const name = input.name ?? '';
    if (!NAME.test(name) || /^(aws|ecs|fargate)/i.test(name)) throw invalidName();
    const asg = input.autoScalingGroupProvider;
    if (!asg || !asg.autoScalingGroupArn) {
      throw invalidParameter('autoScalingGroupProvider can not be null. The sandbox emulates Auto Scaling group capacity providers only.');
    }
    const group = findGroup(world, region, asg.autoScalingGroupArn);
    if (!group) throw clientError(`The specified Auto Scaling group ARN is invalid. Specify a valid Auto Scaling group ARN and try again.`);
    const tags = readTags(input);
    const arn = ecsArn(world, region, `capacity-provider/${name}`);
    const all = capacityProviders(world);
    if (all[arn] && all[arn].status === 'ACTIVE') {
      throw clientError('The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.');
    }
    if (Object.values(all).some((cp) => cp.status === 'ACTIVE' && cp.autoScalingGroupProvider.autoScalingGroupArn === group.autoScalingGroupArn)) {
      throw clientError('The specified Auto Scaling group ARN is already being used by another capacity provider. Specify a unique Auto Scaling group ARN and try again.');
    }
    const provider: CapacityProviderRecord['autoScalingGroupProvider'] = {
      autoScalingGroupArn: group.autoScalingGroupArn,
      managedScaling: managedScaling(asg.managedScaling, { status: 'DISABLED', targetCapacity: 100, minimumScalingStepSize: 1, maximumScalingStepSize: 10000, instanceWarmupPeriod: 300 }),
      managedTerminationProtection: onOff(asg.managedTerminationProtection, 'DISABLED', 'managedTerminationProtection'),
      managedDraining: onOff(asg.managedDraining, 'ENABLED', 'managedDraining'),
    };
    checkTerminationProtection(provider, group);
    const cp: CapacityProviderRecord = { capacityProviderArn: arn, name, region, status: 'ACTIVE', autoScalingGroupProvider: provider, tags, createdAt: now };
    all[arn] = cp;
    // ECS tags the group AmazonECSManaged (propagated at launch): only instances launched from now on are the provider's.
    markEcsManaged(world, group.autoScalingGroupArn);
    return { capacityProvider: capacityProviderView(cp, true) };
  },
});

const describeCapacityProviders = typedOperation<DescribeCapacityProvidersRequest, DescribeCapacityProvidersResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const withTags = (input.include ?? []).includes('TAGS');
    if (input.maxResults !== undefined && (input.maxResults < 1 || input.maxResults > 10)) {
      throw invalidParameter('maxResults must be between 1 and 10.');
    }
    const refs = input.capacityProviders;
    if (refs && refs.length > 0) {
      if (refs.length > 100) throw invalidParameter('capacityProviders can have at most 100 items.');
      const found: CapacityProvider[] = [];
      const failures = [];
      for (const ref of refs) {
        if (FARGATE_PROVIDERS.includes(ref)) {
          found.push(builtin(ref));
          continue;
        }
        const cp = findCapacityProvider(world, region, ref);
        if (cp) found.push(capacityProviderView(cp, withTags));
        else failures.push({ arn: ref.startsWith('arn:') ? ref : ecsArn(world, region, `capacity-provider/${ref}`), reason: 'MISSING' });
      }
      return { capacityProviders: found, failures };
    }
    const mine = Object.values(capacityProviders(world))
      .filter((cp) => cp.region === region)
      .sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name))
      .map((cp) => capacityProviderView(cp, withTags));
    const all = [...FARGATE_PROVIDERS.map(builtin), ...mine];
    const page = paginate(all, pageRequest(world, input, 10, 10));
    return { capacityProviders: page.items, failures: [], nextToken: page.nextToken };
  },
});

const updateCapacityProvider = typedOperation<UpdateCapacityProviderRequest, UpdateCapacityProviderResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const cp = findCapacityProvider(world, region, input.name ?? '');
    if (!cp || cp.status !== 'ACTIVE' || cp.deleteRequestedAt !== undefined) throw notFound();
    const update = input.autoScalingGroupProvider;
    if (!update) throw invalidParameter('autoScalingGroupProvider can not be null.');
    const next: CapacityProviderRecord['autoScalingGroupProvider'] = {
      autoScalingGroupArn: cp.autoScalingGroupProvider.autoScalingGroupArn,
      managedScaling: managedScaling(update.managedScaling, cp.autoScalingGroupProvider.managedScaling),
      managedTerminationProtection: onOff(update.managedTerminationProtection, cp.autoScalingGroupProvider.managedTerminationProtection, 'managedTerminationProtection'),
      managedDraining: onOff(update.managedDraining, cp.autoScalingGroupProvider.managedDraining, 'managedDraining'),
    };
    const group = findGroup(world, region, next.autoScalingGroupArn);
    if (group) checkTerminationProtection(next, group);
    cp.autoScalingGroupProvider = next;
    cp.updateStatus = 'UPDATE_COMPLETE';
    cp.updateStatusReason = undefined;
    for (const c of Object.values(ecsState(world).clusters)) if (c.capacityProviders?.includes(cp.name)) syncAttachments(world, c);
    return { capacityProvider: capacityProviderView(cp, false) };
  },
});

const deleteCapacityProvider = typedOperation<DeleteCapacityProviderRequest, DeleteCapacityProviderResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const ref = input.capacityProvider ?? '';
    if (FARGATE_PROVIDERS.includes(ref)) throw invalidParameter(`The ${ref} capacity provider cannot be deleted.`);
    const cp = findCapacityProvider(world, region, ref);
    if (!cp || cp.status !== 'ACTIVE') throw notFound();
    const cluster = Object.values(ecsState(world).clusters).find((c) => c.status === 'ACTIVE' && c.capacityProviders?.includes(cp.name));
    if (cluster) {
      // ECS answers, and records the failure on the capacity provider.
      cp.updateStatus = 'DELETE_FAILED';
      cp.updateStatusReason = `The capacity provider cannot be deleted because it is associated with cluster: ${cluster.clusterName}. Remove the capacity provider from the cluster and try again.`;
      return { capacityProvider: capacityProviderView(cp, false) };
    }
    cp.updateStatus = 'DELETE_IN_PROGRESS';
    cp.updateStatusReason = undefined;
    cp.deleteRequestedAt ??= now;
    return { capacityProvider: capacityProviderView(cp, false) };
  },
});

/** The capacity providers services of the cluster use (their strategies). */
function providersInUse(world: World, cluster: ClusterRecord): Set<string> {
  const used = new Set<string>();
  for (const s of Object.values(ecsState(world).services)) {
    if (s.clusterArn !== cluster.clusterArn || s.status === 'INACTIVE') continue;
    for (const item of s.capacityProviderStrategy ?? []) used.add(item.capacityProvider);
  }
  return used;
}

/** Keep the cluster's as_policy attachments in step with its managed-scaling capacity providers. */
export function syncAttachments(world: World, cluster: ClusterRecord): void {
  const region = cluster.clusterArn.split(':')[3];
  const wanted = (cluster.capacityProviders ?? []).filter(
    (name) => findCapacityProvider(world, region, name)?.autoScalingGroupProvider.managedScaling.status === 'ENABLED',
  );
  const current = cluster.attachments ?? [];
  const name = (a: { details: { name: string; value: string }[] }) => a.details.find((d) => d.name === 'capacityProviderName')?.value;
  const kept = current.filter((a) => a.type === 'as_policy' && wanted.includes(name(a) ?? ''));
  for (const cp of wanted) {
    if (kept.some((a) => name(a) === cp)) continue;
    kept.push({
      id: randomUUID(),
      type: 'as_policy',
      status: 'CREATED',
      details: [
        { name: 'capacityProviderName', value: cp },
        { name: 'scalingPolicyName', value: `ECSManagedAutoScalingPolicy-${randomUUID()}` },
      ],
    });
  }
  cluster.attachments = kept;
  cluster.attachmentsStatus = 'UPDATE_COMPLETE';
}

/** A capacity provider strategy as the API takes it, checked against the cluster's providers. */
export function readStrategy(world: World, cluster: ClusterRecord, items: SdkStrategyItem[] | undefined): CapacityProviderStrategyItem[] {
  const region = cluster.clusterArn.split(':')[3];
  const strategy = (items ?? []).map((i) => {
    const ref = i.capacityProvider ?? '';
    const name = ref.startsWith('arn:') ? ref.slice(ref.lastIndexOf('/') + 1) : ref;
    return { capacityProvider: name, weight: i.weight ?? 0, base: i.base ?? 0 };
  });
  for (const item of strategy) {
    if (!Number.isInteger(item.weight) || item.weight < 0 || item.weight > 1000) throw invalidParameter('The capacity provider strategy weight must be between 0 and 1000.');
    if (!Number.isInteger(item.base) || item.base < 0 || item.base > 100000) throw invalidParameter('The capacity provider strategy base must be between 0 and 100000.');
    if (!FARGATE_PROVIDERS.includes(item.capacityProvider) && !findCapacityProvider(world, region, item.capacityProvider)) {
      throw invalidParameter('The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.');
    }
  }
  if (new Set(strategy.map((i) => i.capacityProvider)).size !== strategy.length) {
    throw invalidParameter('The specified capacity provider strategy cannot contain duplicate capacity providers.');
  }
  if (strategy.filter((i) => i.base > 0).length > 1) throw invalidParameter('Only one capacity provider in a capacity provider strategy can have a base defined.');
  if (strategy.length > 0 && strategy.every((i) => i.weight === 0)) {
    throw invalidParameter('The specified capacity provider strategy must contain at least one capacity provider with a weight greater than zero.');
  }
  const fargate = strategy.filter((i) => FARGATE_PROVIDERS.includes(i.capacityProvider));
  if (fargate.length > 0 && fargate.length !== strategy.length) {
    throw invalidParameter('The specified capacity provider strategy cannot contain a mix of capacity providers using Auto Scaling groups and Fargate providers. Specify one or the other and try again.');
  }
  return strategy;
}

const putClusterCapacityProviders = typedOperation<PutClusterCapacityProvidersRequest, PutClusterCapacityProvidersResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const cluster = requireActiveCluster(world, region, input.cluster);
    if (!input.capacityProviders) throw invalidParameter('capacityProviders can not be null.');
    if (!input.defaultCapacityProviderStrategy) throw invalidParameter('defaultCapacityProviderStrategy can not be null.');
    const names = input.capacityProviders.map((ref) => (ref.startsWith('arn:') ? ref.slice(ref.lastIndexOf('/') + 1) : ref));
    for (const name of names) {
      if (FARGATE_PROVIDERS.includes(name)) continue;
      const cp = findCapacityProvider(world, region, name);
      if (!cp || cp.status !== 'ACTIVE' || cp.deleteRequestedAt !== undefined) {
        throw invalidParameter('The specified capacity provider was not found. Specify a valid capacity provider and try again.');
      }
      const other = Object.values(ecsState(world).clusters).find(
        (c) => c.status === 'ACTIVE' && c.clusterArn !== cluster.clusterArn && c.capacityProviders?.includes(name),
      );
      if (other) {
        throw invalidParameter(`The specified capacity provider '${name}' is already associated with another cluster. A capacity provider that uses an Auto Scaling group can be associated with one cluster only.`);
      }
    }
    const removed = (cluster.capacityProviders ?? []).filter((n) => !names.includes(n));
    const inUse = providersInUse(world, cluster);
    if (removed.some((n) => inUse.has(n))) throw new ServiceError('ResourceInUseException', 'The specified capacity provider is in use and cannot be removed.');
    const strategy = readStrategy(world, cluster, input.defaultCapacityProviderStrategy);
    if (strategy.some((i) => !names.includes(i.capacityProvider))) {
      throw invalidParameter('The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.');
    }
    cluster.capacityProviders = names;
    cluster.defaultCapacityProviderStrategy = strategy;
    syncAttachments(world, cluster);
    for (const name of names) {
      const cp = findCapacityProvider(world, region, name);
      if (cp?.updateStatus === 'DELETE_FAILED') cp.updateStatus = undefined;
    }
    return { cluster: clusterView(world, cluster, { include: ['ATTACHMENTS', 'SETTINGS'] }) as PutClusterCapacityProvidersResponse['cluster'] };
  },
});

// ---- Time ---------------------------------------------------------------------------------------------

/** Finish deletions and apply managed termination protection. */
export function capacityProviderTick(world: World, now: number): void {
  const ecs = ecsState(world);
  for (const cp of Object.values(ecs.capacityProviders ?? {})) {
    if (cp.status !== 'ACTIVE') continue;
    if (cp.deleteRequestedAt !== undefined && now >= cp.deleteRequestedAt + world.settings.latency.taskStopMs) {
      cp.status = 'INACTIVE';
      cp.updateStatus = 'DELETE_COMPLETE';
      continue;
    }
    if (cp.autoScalingGroupProvider.managedTerminationProtection !== 'ENABLED') continue;
    const group = findGroup(world, cp.region, cp.autoScalingGroupProvider.autoScalingGroupArn);
    if (!group) continue;
    const inService = group.instances.filter((i) => i.lifecycleState === 'InService');
    // Instances already unprotected are Auto Scaling's to take: only the rest of the surplus is cleared.
    let surplus = inService.length - group.desiredCapacity - inService.filter((i) => !i.protectedFromScaleIn).length;
    for (const instance of inService) {
      if (surplus <= 0) break;
      if (!instance.protectedFromScaleIn) continue;
      const ciArn = ecs.agentRegistrations[instance.instanceId];
      const busy = ciArn !== undefined && tasksOf(world, (t) => t.containerInstanceArn === ciArn && isTaskActive(t)).length > 0;
      if (busy) continue;
      instance.protectedFromScaleIn = false; // the documented cross-module write (views.ts AsgInstanceView)
      surplus -= 1;
    }
  }
}

export const operations: Record<string, Operation> = {
  CreateCapacityProvider: createCapacityProvider,
  DescribeCapacityProviders: describeCapacityProviders,
  UpdateCapacityProvider: updateCapacityProvider,
  DeleteCapacityProvider: deleteCapacityProvider,
  PutClusterCapacityProviders: putClusterCapacityProviders,
};
