/** ECS services: CreateService, UpdateService, DescribeServices, ListServices, DeleteService. */
import type {
  DeploymentConfiguration,
  CreateServiceRequest,
  CreateServiceResponse,
  DeleteServiceRequest,
  DeleteServiceResponse,
  DescribeServicesRequest,
  DescribeServicesResponse,
  ListServicesRequest,
  ListServicesResponse,
  UpdateServiceRequest,
  UpdateServiceResponse,
  LaunchType,
  Service,
} from '@aws-sdk/client-ecs';
import { jsonBody, typedOperation } from '../../typed.js';
import { ServiceError } from '../../types.js';
import type { JsonItem } from './state.js';
import type { Elbv2View } from '../../views.js';
import { ELBV2_STATE } from '../elbv2/state.js';
import { loadBalancersOf } from '../elbv2/target-groups.js';
import { FARGATE_PROVIDERS, readStrategy } from './capacity-providers.js';
import type { CapacityProviderStrategyItem } from './state.js';
import type { Operation } from '../../types.js';
import { paginate } from '../../paginate.js';
import { type SandboxRequest, type World } from '../../types.js';
import { newDeployment } from './scheduler.js';
import { type ClusterRecord, NAME_PATTERN, type ServiceRecord, type TaskDefinitionRecord, date, ecsState, findService, findTaskDefinition, includes, invalidParameter, optInt, optString, optStringList, pageRequest, readTags, reqString, requireActiveCluster, serviceArnFor, serviceNotActive, serviceNotFound, tasksOf } from './state.js';

export function serviceView(world: World, s: ServiceRecord, p: { include?: string[] } = {}): Service {
  const live = tasksOf(world, (t) => t.serviceArn === s.serviceArn && t.desiredStatus === 'RUNNING');
  const counts = (deploymentId?: string) => {
    const mine = deploymentId ? live.filter((t) => t.startedBy === deploymentId) : live;
    return {
      runningCount: mine.filter((t) => t.lastStatus === 'RUNNING').length,
      pendingCount: mine.filter((t) => t.lastStatus === 'PROVISIONING' || t.lastStatus === 'PENDING').length,
    };
  };
  return {
    serviceArn: s.serviceArn,
    serviceName: s.serviceName,
    clusterArn: s.clusterArn,
    loadBalancers: s.loadBalancers ?? [],
    capacityProviderStrategy: s.capacityProviderStrategy,
    serviceRegistries: [],
    status: s.status,
    desiredCount: s.desiredCount,
    ...counts(),
    launchType: (s.launchType || undefined) as LaunchType | undefined,
    taskDefinition: s.taskDefinition,
    deploymentConfiguration: s.deploymentConfiguration,
    deployments: s.deployments.map((d) => ({
      id: d.id,
      status: d.status,
      taskDefinition: d.taskDefinition,
      desiredCount: d.desiredCount,
      ...counts(d.id),
      failedTasks: d.failedTasks,
      createdAt: date(d.createdAt),
      updatedAt: date(d.updatedAt),
      launchType: (s.launchType || undefined) as LaunchType | undefined,
      capacityProviderStrategy: s.capacityProviderStrategy,
      rolloutState: d.rolloutState,
      rolloutStateReason: d.rolloutStateReason,
    })),
    events: s.events.map((e) => ({ id: e.id, createdAt: date(e.createdAt), message: e.message })),
    createdAt: date(s.createdAt),
    placementConstraints: s.placementConstraints as Service['placementConstraints'],
    placementStrategy: s.placementStrategy as Service['placementStrategy'],
    healthCheckGracePeriodSeconds: s.healthCheckGracePeriodSeconds,
    schedulingStrategy: s.schedulingStrategy,
    deploymentController: { type: 'ECS' },
    createdBy: s.createdBy,
    enableECSManagedTags: s.enableECSManagedTags,
    propagateTags: s.propagateTags as Service['propagateTags'],
    enableExecuteCommand: s.enableExecuteCommand,
    tags: includes(p, 'TAGS') ? s.tags : undefined,
  };
}

function requireTaskDefinitionForService(world: World, region: string, ref: string): TaskDefinitionRecord {
  const td = findTaskDefinition(world, region, ref);
  if (!td) throw invalidParameter('TaskDefinition not found.');
  if (td.status !== 'ACTIVE') throw invalidParameter('TaskDefinition is inactive');
  return td;
}

function deploymentConfiguration(p: DeploymentConfiguration | undefined, current?: ServiceRecord['deploymentConfiguration']): ServiceRecord['deploymentConfiguration'] {
  const base = current ?? { maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker: { enable: false, rollback: false } };
  if (p === undefined || p === null) return base;
  const merged = {
    maximumPercent: p.maximumPercent ?? base.maximumPercent,
    minimumHealthyPercent: p.minimumHealthyPercent ?? base.minimumHealthyPercent,
    deploymentCircuitBreaker: p.deploymentCircuitBreaker
      ? { enable: p.deploymentCircuitBreaker.enable ?? false, rollback: p.deploymentCircuitBreaker.rollback ?? false }
      : base.deploymentCircuitBreaker,
  };
  if (!Number.isInteger(merged.minimumHealthyPercent) || merged.minimumHealthyPercent < 0 || merged.minimumHealthyPercent > 100) {
    throw invalidParameter('minimumHealthyPercent must be between 0 and 100.');
  }
  if (!Number.isInteger(merged.maximumPercent) || merged.maximumPercent < 100 || merged.maximumPercent > 200) {
    throw invalidParameter('maximumPercent must be between 100 and 200.');
  }
  return merged;
}

const createService = typedOperation<CreateServiceRequest, CreateServiceResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const name = reqString(p, 'serviceName', invalidParameter);
    if (!NAME_PATTERN.test(name)) {
      throw invalidParameter('Service name can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores, and hyphens.');
    }
    const schedulingStrategy = optString(p, 'schedulingStrategy') ?? 'REPLICA';
    if (schedulingStrategy !== 'REPLICA') throw invalidParameter('The sandbox supports only the REPLICA scheduling strategy.');
    const requestedLaunchType = optString(p, 'launchType');
    if (requestedLaunchType !== undefined && Array.isArray(p.capacityProviderStrategy) && p.capacityProviderStrategy.length > 0) {
      throw invalidParameter('Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.');
    }
    // No launch type and no strategy: the cluster's default strategy, if it has one; else EC2.
    const strategy = requestedLaunchType !== undefined
      ? []
      : readStrategy(world, cluster, Array.isArray(p.capacityProviderStrategy) && p.capacityProviderStrategy.length > 0 ? p.capacityProviderStrategy : cluster.defaultCapacityProviderStrategy);
    checkStrategyAssociated(cluster, strategy);
    const launchType = strategy.length > 0 ? '' : (requestedLaunchType ?? 'EC2');
    if (strategy.length === 0 && launchType !== 'EC2') throw invalidParameter(`The sandbox supports only the EC2 launch type, not ${launchType}.`);
    const desiredCount = optInt(p, 'desiredCount') ?? 0;
    if (desiredCount < 0) throw invalidParameter('desiredCount must be greater than or equal to 0.');
    const td = requireTaskDefinitionForService(world, region, reqString(p, 'taskDefinition', invalidParameter));
    const loadBalancers = readLoadBalancers(world, td, p.loadBalancers);
    const placementStrategy = readPlacementStrategy(p.placementStrategy);
    const placementConstraints = readPlacementConstraints(p.placementConstraints);
    const tags = readTags(p);
    const config = deploymentConfiguration(p.deploymentConfiguration);

    const ecs = ecsState(world);
    const arn = serviceArnFor(world, cluster, name);
    const existing = ecs.services[arn];
    // clientToken: ECS remembers the request a token came with. The same token with other parameters
    // (another task definition, say, after the service was deleted and is created again) is refused,
    // whatever became of the service; the same request again gets the service it created.
    const token = optString(p, 'clientToken');
    const fingerprint = JSON.stringify([arn, td.taskDefinitionArn, desiredCount, launchType, config, strategy, loadBalancers]);
    if (token) {
      ecs.clientTokens ??= {};
      const seen = ecs.clientTokens[token];
      if (seen && seen.fingerprint !== fingerprint) throw invalidParameter('Creation of service was not idempotent.');
      if (seen && ecs.services[seen.serviceArn]?.status === 'ACTIVE') return { service: serviceView(world, ecs.services[seen.serviceArn]!) };
    }
    if (existing && existing.status !== 'INACTIVE') {
      // Same request again: ECS answers with the existing service. Anything else is a conflict.
      if (existing.status === 'ACTIVE' && existing.taskDefinition === td.taskDefinitionArn && existing.desiredCount === desiredCount) {
        return { service: serviceView(world, existing) };
      }
      throw invalidParameter('Creation of service was not idempotent.');
    }
    const service: ServiceRecord = {
      serviceArn: arn,
      serviceName: name,
      clusterArn: cluster.clusterArn,
      status: 'ACTIVE',
      taskDefinition: td.taskDefinitionArn,
      desiredCount,
      launchType,
      schedulingStrategy: 'REPLICA',
      deploymentConfiguration: config,
      placementConstraints,
      placementStrategy,
      capacityProviderStrategy: strategy.length > 0 ? strategy : undefined,
      loadBalancers: loadBalancers.length > 0 ? loadBalancers : undefined,
      deployments: [],
      events: [],
      createdAt: now,
      createdBy: `arn:aws:iam::${world.settings.accountId}:user/sandbox`,
      tags,
      enableECSManagedTags: p.enableECSManagedTags === true,
      propagateTags: optString(p, 'propagateTags') ?? 'NONE',
      enableExecuteCommand: p.enableExecuteCommand === true,
      healthCheckGracePeriodSeconds: optInt(p, 'healthCheckGracePeriodSeconds'),
      steady: false,
    };
    service.deployments.push(newDeployment(world, service, now));
    ecs.services[arn] = service;
    if (token) ecs.clientTokens![token] = { serviceArn: arn, fingerprint };
    return { service: serviceView(world, service, { include: ['TAGS'] }) };
  },
});

function requireService(world: World, req: SandboxRequest): { cluster: ClusterRecord; service: ServiceRecord } {
  const cluster = requireActiveCluster(world, req.region, optString(req.params, 'cluster'));
  const service = findService(world, cluster, reqString(req.params, 'service', invalidParameter));
  if (!service) throw serviceNotFound();
  return { cluster, service };
}

const updateService = typedOperation<UpdateServiceRequest, UpdateServiceResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { req, world, region, now }) => {
    const p = input;
    const { service } = requireService(world, req);
    if (service.status !== 'ACTIVE') throw serviceNotActive();
    const desiredCount = optInt(p, 'desiredCount');
    if (desiredCount !== undefined && desiredCount < 0) throw invalidParameter('desiredCount must be greater than or equal to 0.');
    const tdRef = optString(p, 'taskDefinition');
    const td = tdRef ? requireTaskDefinitionForService(world, region, tdRef) : undefined;
    const cluster = ecsState(world).clusters[service.clusterArn];
    let strategy: CapacityProviderStrategyItem[] | undefined;
    if (Array.isArray(p.capacityProviderStrategy)) {
      strategy = readStrategy(world, cluster, p.capacityProviderStrategy.length > 0 ? p.capacityProviderStrategy : cluster.defaultCapacityProviderStrategy);
      checkStrategyAssociated(cluster, strategy);
      const changed = JSON.stringify(strategy) !== JSON.stringify(service.capacityProviderStrategy ?? []);
      if (changed && p.forceNewDeployment !== true) {
        throw invalidParameter(
          'When switching from launch type to capacity provider strategy on an existing service, or making a change to a capacity provider strategy on a service that is already using one, you must force a new deployment.',
        );
      }
    }
    const loadBalancers = Array.isArray(p.loadBalancers) ? readLoadBalancers(world, td ?? requireTaskDefinitionForService(world, region, service.taskDefinition), p.loadBalancers) : undefined;
    const placementStrategy = p.placementStrategy !== undefined ? readPlacementStrategy(p.placementStrategy) : undefined;
    const placementConstraints = p.placementConstraints !== undefined ? readPlacementConstraints(p.placementConstraints) : undefined;
    const grace = optInt(p, 'healthCheckGracePeriodSeconds');
    if (grace !== undefined && (grace < 0 || grace > 2147483647)) throw invalidParameter('healthCheckGracePeriodSeconds must be between 0 and 2147483647.');

    service.deploymentConfiguration = deploymentConfiguration(p.deploymentConfiguration, service.deploymentConfiguration);
    if (desiredCount !== undefined) service.desiredCount = desiredCount;
    if (strategy) {
      service.capacityProviderStrategy = strategy.length > 0 ? strategy : undefined;
      service.launchType = strategy.length > 0 ? '' : 'EC2';
    }
    const lbChanged = loadBalancers !== undefined && JSON.stringify(loadBalancers) !== JSON.stringify(service.loadBalancers ?? []);
    if (loadBalancers) service.loadBalancers = loadBalancers.length > 0 ? loadBalancers : undefined;
    if (placementStrategy) service.placementStrategy = placementStrategy;
    if (placementConstraints) service.placementConstraints = placementConstraints;
    if (grace !== undefined) service.healthCheckGracePeriodSeconds = grace;
    const primary = service.deployments[0];
    if ((td && td.taskDefinitionArn !== service.taskDefinition) || p.forceNewDeployment === true || lbChanged) {
      if (td) service.taskDefinition = td.taskDefinitionArn;
      for (const d of service.deployments) {
        d.status = 'ACTIVE';
        d.updatedAt = now;
      }
      service.deployments.unshift(newDeployment(world, service, now));
      service.steady = false;
    } else if (primary && desiredCount !== undefined) {
      primary.desiredCount = desiredCount;
      primary.updatedAt = now;
      service.steady = false;
    }
    return { service: serviceView(world, service) };
  },
});

const describeServices = typedOperation<DescribeServicesRequest, DescribeServicesResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const refs = optStringList(p, 'services');
    if (!refs || refs.length === 0) throw invalidParameter('Services cannot be empty.');
    if (refs.length > 10) throw invalidParameter('services can have at most 10 items.');
    const services = [];
    const failures = [];
    for (const ref of refs) {
      const s = findService(world, cluster, ref);
      if (s) services.push(serviceView(world, s, p));
      else failures.push({ arn: serviceArnFor(world, cluster, ref), reason: 'MISSING' });
    }
    return { services, failures };
  },
});

const listServices = typedOperation<ListServicesRequest, ListServicesResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const launchType = optString(p, 'launchType');
    const arns = Object.values(ecsState(world).services)
      .filter((s) => s.clusterArn === cluster.clusterArn && s.status === 'ACTIVE')
      .filter((s) => launchType === undefined || s.launchType === launchType)
      .sort((a, b) => a.createdAt - b.createdAt || a.serviceArn.localeCompare(b.serviceArn))
      .map((s) => s.serviceArn);
    const page = paginate(arns, pageRequest(world, p, 10, 100));
    return { serviceArns: page.items, nextToken: page.nextToken };
  },
});

const deleteService = typedOperation<DeleteServiceRequest, DeleteServiceResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { req, world, now }) => {
    const p = input;
    const { service } = requireService(world, req);
    if (service.status !== 'ACTIVE') throw serviceNotActive();
    if (service.desiredCount > 0 && p.force !== true) {
      throw invalidParameter('The service cannot be stopped while it is scaled above 0.');
    }
    service.status = 'DRAINING';
    service.desiredCount = 0;
    service.deletedAt = now;
    for (const d of service.deployments) {
      d.desiredCount = 0;
      d.updatedAt = now;
    }
    return { service: serviceView(world, service) };
  },
});

export const operations: Record<string, Operation> = {
  CreateService: createService,
  UpdateService: updateService,
  DescribeServices: describeServices,
  ListServices: listServices,
  DeleteService: deleteService,
};

// ---- Capacity providers, load balancers, placement -------------------------------------------------

function checkStrategyAssociated(cluster: ClusterRecord, strategy: CapacityProviderStrategyItem[]): void {
  for (const item of strategy) {
    if (FARGATE_PROVIDERS.includes(item.capacityProvider)) {
      throw invalidParameter('The sandbox emulates the EC2 launch type only: FARGATE capacity providers cannot run tasks here.');
    }
    if (!(cluster.capacityProviders ?? []).includes(item.capacityProvider)) {
      throw invalidParameter(
        'The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.',
      );
    }
  }
}

/** A service's loadBalancers, checked as ECS checks them against ELBv2 and the task definition. */
function readLoadBalancers(world: World, td: TaskDefinitionRecord, raw: unknown): NonNullable<ServiceRecord['loadBalancers']> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ServiceError('SerializationException', 'loadBalancers must be a list');
  const elb = (world.state[ELBV2_STATE] ?? {}) as Elbv2View;
  return (raw as JsonItem[]).map((lb) => {
    const targetGroupArn = lb?.targetGroupArn;
    if (typeof targetGroupArn !== 'string' || targetGroupArn === '') {
      if (lb?.loadBalancerName) throw invalidParameter('The sandbox supports target groups (targetGroupArn), not Classic Load Balancers.');
      throw invalidParameter('targetGroupArn can not be blank.');
    }
    if (!elb.targetGroups?.[targetGroupArn]) throw invalidParameter(`The target group with targetGroupArn ${targetGroupArn} does not exist.`);
    if (loadBalancersOf(world, targetGroupArn).length === 0) {
      throw invalidParameter(`The target group with targetGroupArn ${targetGroupArn} does not have an associated load balancer.`);
    }
    const containerName = lb?.containerName;
    const containerPort = lb?.containerPort;
    const container = td.definition.containerDefinitions.find((c) => c.name === containerName);
    if (!container) throw invalidParameter(`The container ${containerName} does not exist in the task definition.`);
    if (!(container.portMappings ?? []).some((pm) => pm.containerPort === containerPort)) {
      throw invalidParameter(`The container ${containerName} did not have a container port ${containerPort} defined.`);
    }
    return { targetGroupArn, containerName: container.name, containerPort: containerPort as number };
  });
}

function readPlacementStrategy(raw: unknown): { type: string; field?: string }[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ServiceError('SerializationException', 'placementStrategy must be a list');
  if (raw.length > 5) throw invalidParameter('placementStrategy can have at most 5 items.');
  return (raw as JsonItem[]).map((st) => {
    const type = st?.type;
    const field = st?.field;
    if (type === 'random') return { type };
    if (type === 'spread') {
      if (typeof field !== 'string' || field === '') throw invalidParameter('Spread placement strategy requires a field.');
      return { type, field };
    }
    if (type === 'binpack') {
      if (field !== 'cpu' && field !== 'memory') throw invalidParameter(`Invalid binpack field '${String(field)}'. Valid values are cpu and memory.`);
      return { type, field };
    }
    throw invalidParameter(`Invalid placement strategy type '${String(type)}'. Valid values are random, spread and binpack.`);
  });
}

function readPlacementConstraints(raw: unknown): { type: string; expression?: string }[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ServiceError('SerializationException', 'placementConstraints must be a list');
  if (raw.length > 10) throw invalidParameter('placementConstraints can have at most 10 items.');
  return (raw as JsonItem[]).map((c) => {
    if (c?.type === 'distinctInstance') {
      if (c.expression) throw invalidParameter('A distinctInstance placement constraint cannot have an expression.');
      return { type: 'distinctInstance' };
    }
    if (c?.type === 'memberOf') {
      if (typeof c.expression !== 'string' || c.expression === '') throw invalidParameter('A memberOf placement constraint requires an expression.');
      return { type: 'memberOf', expression: c.expression };
    }
    throw invalidParameter(`Invalid placement constraint type '${String(c?.type)}'. Valid values are distinctInstance and memberOf.`);
  });
}
