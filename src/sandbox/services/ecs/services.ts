/** ECS services: CreateService, UpdateService, DescribeServices, ListServices, DeleteService. */
import { read, write } from './state.js';
import type { Operation } from '../../types.js';
import { paginate } from '../../paginate.js';
import { type Handler, type SandboxRequest, type World } from '../../types.js';
import { newDeployment } from './scheduler.js';
import { type ClusterRecord, NAME_PATTERN, type ServiceRecord, type TaskDefinitionRecord, date, ecsState, findService, findTaskDefinition, includes, invalidParameter, optInt, optString, optStringList, pageRequest, readTags, reqString, requireActiveCluster, serviceArnFor, serviceNotActive, serviceNotFound, tasksOf } from './state.js';

export function serviceView(world: World, s: ServiceRecord, p: Record<string, any> = {}) {
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
    loadBalancers: [],
    serviceRegistries: [],
    status: s.status,
    desiredCount: s.desiredCount,
    ...counts(),
    launchType: s.launchType,
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
      launchType: s.launchType,
      rolloutState: d.rolloutState,
      rolloutStateReason: d.rolloutStateReason,
    })),
    events: s.events.map((e) => ({ id: e.id, createdAt: date(e.createdAt), message: e.message })),
    createdAt: date(s.createdAt),
    placementConstraints: s.placementConstraints,
    placementStrategy: s.placementStrategy,
    healthCheckGracePeriodSeconds: s.healthCheckGracePeriodSeconds,
    schedulingStrategy: s.schedulingStrategy,
    deploymentController: { type: 'ECS' },
    createdBy: s.createdBy,
    enableECSManagedTags: s.enableECSManagedTags,
    propagateTags: s.propagateTags,
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

function deploymentConfiguration(p: any, current?: ServiceRecord['deploymentConfiguration']): ServiceRecord['deploymentConfiguration'] {
  const base = current ?? { maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker: { enable: false, rollback: false } };
  if (p === undefined || p === null) return base;
  const merged = {
    maximumPercent: p.maximumPercent ?? base.maximumPercent,
    minimumHealthyPercent: p.minimumHealthyPercent ?? base.minimumHealthyPercent,
    deploymentCircuitBreaker: p.deploymentCircuitBreaker ?? base.deploymentCircuitBreaker,
  };
  if (!Number.isInteger(merged.minimumHealthyPercent) || merged.minimumHealthyPercent < 0 || merged.minimumHealthyPercent > 100) {
    throw invalidParameter('minimumHealthyPercent must be between 0 and 100.');
  }
  if (!Number.isInteger(merged.maximumPercent) || merged.maximumPercent < 100 || merged.maximumPercent > 200) {
    throw invalidParameter('maximumPercent must be between 100 and 200.');
  }
  return merged;
}

const createService: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const name = reqString(p, 'serviceName', invalidParameter);
  if (!NAME_PATTERN.test(name)) {
    throw invalidParameter('Service name can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores, and hyphens.');
  }
  const schedulingStrategy = optString(p, 'schedulingStrategy') ?? 'REPLICA';
  if (schedulingStrategy !== 'REPLICA') throw invalidParameter('The sandbox supports only the REPLICA scheduling strategy.');
  const launchType = optString(p, 'launchType') ?? 'EC2';
  if (launchType !== 'EC2') throw invalidParameter(`The sandbox supports only the EC2 launch type, not ${launchType}.`);
  const desiredCount = optInt(p, 'desiredCount') ?? 0;
  if (desiredCount < 0) throw invalidParameter('desiredCount must be greater than or equal to 0.');
  const td = requireTaskDefinitionForService(world, req.region, reqString(p, 'taskDefinition', invalidParameter));
  const tags = readTags(p);
  const config = deploymentConfiguration(p.deploymentConfiguration);

  const ecs = ecsState(world);
  const arn = serviceArnFor(world, cluster, name);
  const existing = ecs.services[arn];
  // clientToken: ECS remembers the request a token came with. The same token with other parameters
  // (another task definition, say, after the service was deleted and is created again) is refused,
  // whatever became of the service; the same request again gets the service it created.
  const token = optString(p, 'clientToken');
  const fingerprint = JSON.stringify([arn, td.taskDefinitionArn, desiredCount, launchType, config]);
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
    placementConstraints: Array.isArray(p.placementConstraints) ? p.placementConstraints : [],
    placementStrategy: Array.isArray(p.placementStrategy) ? p.placementStrategy : [],
    deployments: [],
    events: [],
    createdAt: req.now,
    createdBy: `arn:aws:iam::${world.settings.accountId}:user/sandbox`,
    tags,
    enableECSManagedTags: p.enableECSManagedTags === true,
    propagateTags: optString(p, 'propagateTags') ?? 'NONE',
    enableExecuteCommand: p.enableExecuteCommand === true,
    healthCheckGracePeriodSeconds: optInt(p, 'healthCheckGracePeriodSeconds'),
    steady: false,
  };
  service.deployments.push(newDeployment(world, service, req.now));
  ecs.services[arn] = service;
  if (token) ecs.clientTokens![token] = { serviceArn: arn, fingerprint };
  return { service: serviceView(world, service, { include: ['TAGS'] }) };
};

function requireService(world: World, req: SandboxRequest): { cluster: ClusterRecord; service: ServiceRecord } {
  const cluster = requireActiveCluster(world, req.region, optString(req.params, 'cluster'));
  const service = findService(world, cluster, reqString(req.params, 'service', invalidParameter));
  if (!service) throw serviceNotFound();
  return { cluster, service };
}

const updateService: Handler = (req, world) => {
  const p = req.params;
  const { service } = requireService(world, req);
  if (service.status !== 'ACTIVE') throw serviceNotActive();
  const desiredCount = optInt(p, 'desiredCount');
  if (desiredCount !== undefined && desiredCount < 0) throw invalidParameter('desiredCount must be greater than or equal to 0.');
  const tdRef = optString(p, 'taskDefinition');
  const td = tdRef ? requireTaskDefinitionForService(world, req.region, tdRef) : undefined;
  service.deploymentConfiguration = deploymentConfiguration(p.deploymentConfiguration, service.deploymentConfiguration);
  if (desiredCount !== undefined) service.desiredCount = desiredCount;
  const primary = service.deployments[0];
  if ((td && td.taskDefinitionArn !== service.taskDefinition) || p.forceNewDeployment === true) {
    if (td) service.taskDefinition = td.taskDefinitionArn;
    for (const d of service.deployments) {
      d.status = 'ACTIVE';
      d.updatedAt = req.now;
    }
    service.deployments.unshift(newDeployment(world, service, req.now));
    service.steady = false;
  } else if (primary && desiredCount !== undefined) {
    primary.desiredCount = desiredCount;
    primary.updatedAt = req.now;
    service.steady = false;
  }
  return { service: serviceView(world, service) };
};

const describeServices: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
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
};

const listServices: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const launchType = optString(p, 'launchType');
  const arns = Object.values(ecsState(world).services)
    .filter((s) => s.clusterArn === cluster.clusterArn && s.status === 'ACTIVE')
    .filter((s) => launchType === undefined || s.launchType === launchType)
    .sort((a, b) => a.createdAt - b.createdAt || a.serviceArn.localeCompare(b.serviceArn))
    .map((s) => s.serviceArn);
  const page = paginate(arns, pageRequest(world, p, 10, 100));
  return { serviceArns: page.items, nextToken: page.nextToken };
};

const deleteService: Handler = (req, world) => {
  const p = req.params;
  const { service } = requireService(world, req);
  if (service.status !== 'ACTIVE') throw serviceNotActive();
  if (service.desiredCount > 0 && p.force !== true) {
    throw invalidParameter('The service cannot be stopped while it is scaled above 0.');
  }
  service.status = 'DRAINING';
  service.desiredCount = 0;
  service.deletedAt = req.now;
  for (const d of service.deployments) {
    d.desiredCount = 0;
    d.updatedAt = req.now;
  }
  return { service: serviceView(world, service) };
};

export const operations: Record<string, Operation> = {
  CreateService: write(createService),
  UpdateService: write(updateService),
  DescribeServices: read(describeServices),
  ListServices: read(listServices),
  DeleteService: write(deleteService),
};
