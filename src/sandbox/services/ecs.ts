/**
 * Amazon ECS (AWS JSON 1.1, target prefix AmazonEC2ContainerServiceV20141113): clusters, container
 * instances, task definitions, services, tasks and tags.
 *
 * The handlers validate and answer the API; everything that happens over time (the agent registering
 * EC2 instances, the service scheduler placing tasks, tasks starting and stopping, services draining)
 * is in ../agent.ts, run from this module's tick().
 *
 * Error codes are the exception shape names the SDK maps (ClusterNotFoundException, ...); messages follow
 * what ECS returns.
 */
import {
  ecsTick,
  newDeployment,
  registerContainerInstance,
  stopTask,
  taskDefinitionRequirements,
} from '../agent.js';
import {
  arnId,
  clusterArnFor,
  ecsArn,
  ecsState,
  findCluster,
  findService,
  findTaskDefinition,
  initEcsState,
  isTaskActive,
  parseEcsArn,
  remainingResources,
  requireActiveCluster,
  serviceArnFor,
  tasksOf,
  type ClusterRecord,
  type ContainerInstanceRecord,
  type EcsTag,
  type Resource,
  type ServiceRecord,
  type TaskDefinitionRecord,
  type TaskRecord,
} from '../ecs-state.js';
import { paginate } from '../paginate.js';
import { ServiceError, type Handler, type Operation, type SandboxRequest, type ServiceModule, type World } from '../types.js';

// ---- Errors -----------------------------------------------------------------------------------------

const invalidParameter = (message: string) => new ServiceError('InvalidParameterException', message);
const clientError = (message: string) => new ServiceError('ClientException', message);
const serviceNotFound = () => new ServiceError('ServiceNotFoundException', 'Service not found.');
const serviceNotActive = () => new ServiceError('ServiceNotActiveException', 'Service was not ACTIVE.');
const invalidToken = () => invalidParameter('Invalid token');

// ---- Parameter helpers ------------------------------------------------------------------------------

function optString(p: Record<string, any>, name: string): string | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ServiceError('SerializationException', `${name} must be a string`);
  return v;
}

function reqString(p: Record<string, any>, name: string, error = clientError): string {
  const v = optString(p, name);
  if (v === undefined || v === '') throw error(`${name} can not be blank.`);
  return v;
}

function optStringList(p: Record<string, any>, name: string): string[] | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new ServiceError('SerializationException', `${name} must be a list of strings`);
  }
  return v;
}

function optInt(p: Record<string, any>, name: string): number | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ServiceError('SerializationException', `${name} must be an integer`);
  return v;
}

function maxResults(p: Record<string, any>, max: number): number | undefined {
  const n = optInt(p, 'maxResults');
  if (n !== undefined && (n < 1 || n > max)) {
    throw invalidParameter(`maxResults must be between 1 and ${max}.`);
  }
  return n;
}

function includes(p: Record<string, any>, what: string): boolean {
  return (optStringList(p, 'include') ?? []).includes(what);
}

const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,255}$/;

function readTags(p: Record<string, any>): EcsTag[] {
  const tags = p.tags;
  if (tags === undefined || tags === null) return [];
  if (!Array.isArray(tags)) throw new ServiceError('SerializationException', 'tags must be a list');
  if (tags.length > 50) throw invalidParameter('Too many tags. A resource can have at most 50 tags.');
  return tags.map((t: any) => {
    if (typeof t?.key !== 'string' || t.key === '' || t.key.length > 128) {
      throw invalidParameter('Tag keys must be between 1 and 128 characters in length.');
    }
    if (t.value !== undefined && (typeof t.value !== 'string' || t.value.length > 256)) {
      throw invalidParameter('Tag values must be between 0 and 256 characters in length.');
    }
    return { key: t.key, value: t.value ?? '' };
  });
}

function mergeTags(existing: EcsTag[], added: EcsTag[]): EcsTag[] {
  const byKey = new Map(existing.map((t) => [t.key, t]));
  for (const t of added) byKey.set(t.key, t);
  if (byKey.size > 50) throw invalidParameter('Too many tags. A resource can have at most 50 tags.');
  return [...byKey.values()];
}

const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

// ---- Views (API shapes) -----------------------------------------------------------------------------

function clusterView(world: World, c: ClusterRecord, p: Record<string, any>) {
  const ecs = ecsState(world);
  const tasks = tasksOf(world, (t) => t.clusterArn === c.clusterArn);
  return {
    clusterArn: c.clusterArn,
    clusterName: c.clusterName,
    status: c.status,
    registeredContainerInstancesCount: Object.values(ecs.containerInstances).filter(
      (ci) => ci.clusterArn === c.clusterArn && (ci.status === 'ACTIVE' || ci.status === 'DRAINING'),
    ).length,
    runningTasksCount: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
    pendingTasksCount: tasks.filter((t) => t.lastStatus === 'PROVISIONING' || t.lastStatus === 'PENDING').length,
    activeServicesCount: Object.values(ecs.services).filter((s) => s.clusterArn === c.clusterArn && s.status === 'ACTIVE').length,
    statistics: [],
    tags: includes(p, 'TAGS') ? c.tags : undefined,
    settings: includes(p, 'SETTINGS') ? c.settings : undefined,
    configuration: includes(p, 'CONFIGURATIONS') ? c.configuration : undefined,
    capacityProviders: [],
    defaultCapacityProviderStrategy: [],
  };
}

function taskDefinitionView(td: TaskDefinitionRecord) {
  return {
    ...td.definition,
    taskDefinitionArn: td.taskDefinitionArn,
    family: td.family,
    revision: td.revision,
    status: td.status,
    registeredAt: date(td.registeredAt),
    deregisteredAt: date(td.deregisteredAt),
    deleteRequestedAt: date(td.deleteRequestedAt),
  };
}

function containerInstanceView(world: World, ci: ContainerInstanceRecord, p: Record<string, any>) {
  const remaining = remainingResources(world, ci);
  const tasks = tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t));
  const remainingResourcesList: Resource[] = [
    { name: 'CPU', type: 'INTEGER', integerValue: remaining.cpu, doubleValue: 0, longValue: 0 },
    { name: 'MEMORY', type: 'INTEGER', integerValue: remaining.memory, doubleValue: 0, longValue: 0 },
    { name: 'PORTS', type: 'STRINGSET', stringSetValue: [...remaining.tcpPorts].sort((a, b) => a - b).map(String), doubleValue: 0, longValue: 0, integerValue: 0 },
    { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [...remaining.udpPorts].sort((a, b) => a - b).map(String), doubleValue: 0, longValue: 0, integerValue: 0 },
  ];
  return {
    containerInstanceArn: ci.containerInstanceArn,
    ec2InstanceId: ci.ec2InstanceId,
    version: ci.version,
    versionInfo: ci.versionInfo,
    remainingResources: remainingResourcesList,
    registeredResources: ci.registeredResources,
    status: ci.status,
    agentConnected: ci.agentConnected,
    runningTasksCount: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
    pendingTasksCount: tasks.filter((t) => t.lastStatus === 'PROVISIONING' || t.lastStatus === 'PENDING').length,
    attributes: ci.attributes,
    registeredAt: date(ci.registeredAt),
    attachments: [],
    tags: includes(p, 'TAGS') ? ci.tags : undefined,
  };
}

function serviceView(world: World, s: ServiceRecord, p: Record<string, any> = {}) {
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

function taskView(t: TaskRecord, p: Record<string, any>) {
  const containerStatus = t.lastStatus === 'PROVISIONING' ? 'PENDING' : t.lastStatus === 'STOPPING' ? 'RUNNING' : t.lastStatus;
  return {
    attachments: [],
    attributes: [],
    availabilityZone: `${parseEcsArn(t.taskArn)?.region ?? 'us-east-1'}a`,
    clusterArn: t.clusterArn,
    connectivity: 'CONNECTED',
    connectivityAt: date(t.createdAt),
    containerInstanceArn: t.containerInstanceArn,
    containers: t.containers.map((c) => ({
      containerArn: c.containerArn,
      taskArn: t.taskArn,
      name: c.name,
      image: c.image,
      lastStatus: c.lastStatus ?? containerStatus,
      exitCode: c.lastStatus ? c.exitCode : t.lastStatus === 'STOPPED' ? 0 : undefined,
      reason: c.reason,
      runtimeId: c.runtimeId,
      networkBindings: t.lastStatus === 'RUNNING' || t.lastStatus === 'STOPPING' ? c.networkBindings : [],
      networkInterfaces: [],
      healthStatus: c.healthStatus ?? 'UNKNOWN',
      cpu: String(c.cpu),
      memory: c.memory === undefined ? undefined : String(c.memory),
      memoryReservation: c.memoryReservation === undefined ? undefined : String(c.memoryReservation),
    })),
    cpu: String(t.cpu),
    createdAt: date(t.createdAt),
    desiredStatus: t.desiredStatus,
    enableExecuteCommand: false,
    group: t.group,
    healthStatus: t.healthStatus ?? 'UNKNOWN',
    lastStatus: t.lastStatus,
    launchType: 'EC2',
    memory: String(t.memory),
    overrides: { containerOverrides: t.containers.map((c) => ({ name: c.name })), inferenceAcceleratorOverrides: [] },
    pullStartedAt: date(t.pullStartedAt),
    pullStoppedAt: date(t.pullStoppedAt),
    startedAt: date(t.startedAt),
    startedBy: t.startedBy,
    stopCode: t.stopCode,
    stoppedAt: date(t.stoppedAt),
    stoppedReason: t.stoppedReason,
    stoppingAt: date(t.stoppingAt),
    tags: includes(p, 'TAGS') ? t.tags : [],
    taskArn: t.taskArn,
    taskDefinitionArn: t.taskDefinitionArn,
    version: t.version,
  };
}

// ---- Clusters ---------------------------------------------------------------------------------------

const createCluster: Handler = (req, world) => {
  const p = req.params;
  const name = optString(p, 'clusterName') || 'default';
  if (!NAME_PATTERN.test(name)) {
    throw invalidParameter('Cluster name can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores, and hyphens.');
  }
  const tags = readTags(p);
  const arn = ecsArn(world, req.region, `cluster/${name}`);
  const ecs = ecsState(world);
  const existing = ecs.clusters[arn];
  // CreateCluster is idempotent: an ACTIVE cluster of that name is returned as it is.
  if (existing && existing.status === 'ACTIVE') return { cluster: clusterView(world, existing, { include: ['TAGS', 'SETTINGS'] }) };
  const cluster: ClusterRecord = {
    clusterArn: arn,
    clusterName: name,
    status: 'ACTIVE',
    createdAt: req.now,
    tags,
    settings: Array.isArray(p.settings) ? p.settings : [{ name: 'containerInsights', value: 'disabled' }],
    configuration: p.configuration,
  };
  ecs.clusters[arn] = cluster;
  return { cluster: clusterView(world, cluster, { include: ['TAGS', 'SETTINGS'] }) };
};

const describeClusters: Handler = (req, world) => {
  const p = req.params;
  const refs = optStringList(p, 'clusters') ?? ['default'];
  if (refs.length > 100) throw invalidParameter('clusters can have at most 100 items.');
  const clusters = [];
  const failures = [];
  for (const ref of refs) {
    const c = findCluster(world, req.region, ref);
    if (c) clusters.push(clusterView(world, c, p));
    else failures.push({ arn: clusterArnFor(world, req.region, ref), reason: 'MISSING' });
  }
  return { clusters, failures };
};

const deleteCluster: Handler = (req, world) => {
  const c = requireActiveCluster(world, req.region, reqString(req.params, 'cluster', invalidParameter));
  const ecs = ecsState(world);
  if (Object.values(ecs.containerInstances).some((ci) => ci.clusterArn === c.clusterArn && (ci.status === 'ACTIVE' || ci.status === 'DRAINING'))) {
    throw new ServiceError('ClusterContainsContainerInstancesException', 'The Cluster cannot be deleted while Container Instances are active or draining.');
  }
  if (Object.values(ecs.services).some((s) => s.clusterArn === c.clusterArn && (s.status === 'ACTIVE' || s.status === 'DRAINING'))) {
    throw new ServiceError('ClusterContainsServicesException', 'The Cluster cannot be deleted while Services are active.');
  }
  if (tasksOf(world, (t) => t.clusterArn === c.clusterArn && isTaskActive(t)).length > 0) {
    throw new ServiceError('ClusterContainsTasksException', 'The Cluster cannot be deleted while Tasks are active.');
  }
  c.status = 'INACTIVE';
  c.deletedAt = req.now;
  return { cluster: clusterView(world, c, { include: ['SETTINGS'] }) };
};

const listClusters: Handler = (req, world) => {
  const p = req.params;
  const prefix = ecsArn(world, req.region, 'cluster/');
  const arns = Object.values(ecsState(world).clusters)
    .filter((c) => c.status === 'ACTIVE' && c.clusterArn.startsWith(prefix))
    .sort((a, b) => a.createdAt - b.createdAt || a.clusterArn.localeCompare(b.clusterArn))
    .map((c) => c.clusterArn);
  const page = paginate(arns, pageRequest(world, p, 100, 100));
  return { clusterArns: page.items, nextToken: page.nextToken };
};

function pageRequest(world: World, p: Record<string, any>, defaultPageSize: number, max: number) {
  return { maxResults: maxResults(p, max), nextToken: optString(p, 'nextToken') || undefined, defaultPageSize, settings: world.settings, invalidToken };
}

// ---- Container instances ----------------------------------------------------------------------------

const registerContainerInstanceOp: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const doc = optString(p, 'instanceIdentityDocument');
  let ec2InstanceId: string | undefined;
  if (doc) {
    try {
      ec2InstanceId = JSON.parse(doc).instanceId;
    } catch {
      throw clientError('Invalid instance identity document.');
    }
  }
  if (!ec2InstanceId) throw clientError('An instance identity document is required.');
  const resources: Resource[] = Array.isArray(p.totalResources) ? p.totalResources : [];
  const ci = registerContainerInstance(world, cluster, ec2InstanceId, req.now, {
    resources: resources.length ? resources : undefined,
    attributes: Array.isArray(p.attributes) ? p.attributes : undefined,
    tags: readTags(p),
  });
  return { containerInstance: containerInstanceView(world, ci, { include: ['TAGS'] }) };
};

function findContainerInstance(world: World, cluster: ClusterRecord, ref: string): ContainerInstanceRecord | undefined {
  const id = ref.startsWith('arn:') ? arnId(ref) : ref;
  return Object.values(ecsState(world).containerInstances).find(
    (ci) => ci.clusterArn === cluster.clusterArn && arnId(ci.containerInstanceArn) === id,
  );
}

const listContainerInstances: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const status = optString(p, 'status');
  if (status !== undefined && !['ACTIVE', 'DRAINING', 'REGISTERING', 'DEREGISTERING', 'REGISTRATION_FAILED'].includes(status)) {
    throw invalidParameter(`Invalid status: ${status}`);
  }
  const arns = Object.values(ecsState(world).containerInstances)
    .filter((ci) => ci.clusterArn === cluster.clusterArn)
    .filter((ci) => (status ? ci.status === status : ci.status === 'ACTIVE' || ci.status === 'DRAINING'))
    .sort((a, b) => a.registeredAt - b.registeredAt)
    .map((ci) => ci.containerInstanceArn);
  const page = paginate(arns, pageRequest(world, p, 100, 100));
  return { containerInstanceArns: page.items, nextToken: page.nextToken };
};

const describeContainerInstances: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const refs = optStringList(p, 'containerInstances');
  if (!refs || refs.length === 0) throw invalidParameter('containerInstances can not be empty.');
  if (refs.length > 100) throw invalidParameter('containerInstances can have at most 100 items.');
  const containerInstances = [];
  const failures = [];
  for (const ref of refs) {
    const ci = findContainerInstance(world, cluster, ref);
    if (ci) containerInstances.push(containerInstanceView(world, ci, p));
    else failures.push({ arn: ref.startsWith('arn:') ? ref : ecsArn(world, req.region, `container-instance/${cluster.clusterName}/${ref}`), reason: 'MISSING' });
  }
  return { containerInstances, failures };
};

const deregisterContainerInstance: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const ref = reqString(p, 'containerInstance', invalidParameter);
  const ci = findContainerInstance(world, cluster, ref);
  if (!ci || ci.status === 'INACTIVE') throw invalidParameter('The referenced container instance was not found.');
  const tasks = tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t));
  if (tasks.length > 0 && p.force !== true) throw invalidParameter('Found running tasks on the instance.');
  for (const t of tasks) stopTask(t, req.now, 'Container instance deregistration forced by user.', 'UserInitiated');
  ci.status = 'INACTIVE';
  ci.agentConnected = false;
  ci.deregisteredAt = req.now;
  ci.version += 1;
  return { containerInstance: containerInstanceView(world, ci, {}) };
};

// ---- Task definitions -------------------------------------------------------------------------------

const NETWORK_MODES = ['bridge', 'host', 'awsvpc', 'none'];
const LOG_DRIVERS = ['json-file', 'syslog', 'journald', 'gelf', 'fluentd', 'awslogs', 'splunk', 'awsfirelens'];

function normaliseContainer(c: any, networkMode: string, taskMemory: string | undefined): Record<string, any> {
  if (typeof c !== 'object' || c === null) throw clientError('Container definition must be an object.');
  if (typeof c.name !== 'string' || c.name === '') throw clientError('Container.name should not be null or empty.');
  if (!/^[a-zA-Z0-9_-]{1,255}$/.test(c.name)) {
    throw clientError(`Invalid container name '${c.name}'. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.`);
  }
  if (typeof c.image !== 'string' || c.image === '') throw clientError('Container.image should not be null or empty.');
  if (taskMemory === undefined && c.memory === undefined && c.memoryReservation === undefined) {
    throw clientError(`Invalid setting for container '${c.name}'. At least one of 'memory' or 'memoryReservation' must be specified.`);
  }
  if (c.memory !== undefined && (!Number.isInteger(c.memory) || c.memory < 6)) {
    throw clientError(`Invalid 'memory' setting for container '${c.name}'. The minimum memory for a container is 6 MiB.`);
  }
  if (c.memory !== undefined && c.memoryReservation !== undefined && c.memoryReservation > c.memory) {
    throw clientError(`Invalid 'memoryReservation' setting for container '${c.name}'. Memory reservation must be less than or equal to 'memory'.`);
  }
  const portMappings = (Array.isArray(c.portMappings) ? c.portMappings : []).map((pm: any) => {
    const containerPort = pm?.containerPort;
    if (!Number.isInteger(containerPort) || containerPort < 1 || containerPort > 65535) {
      throw clientError(`Invalid 'containerPort' setting for container '${c.name}'.`);
    }
    const protocol = pm.protocol ?? 'tcp';
    if (protocol !== 'tcp' && protocol !== 'udp') throw clientError(`Invalid protocol '${protocol}' for container '${c.name}'. Valid values are tcp and udp.`);
    let hostPort = pm.hostPort;
    if (networkMode === 'host' || networkMode === 'awsvpc') {
      if (hostPort !== undefined && hostPort !== containerPort) {
        throw clientError(`When networkMode=${networkMode}, the host ports and container ports in port mappings must match.`);
      }
      hostPort = containerPort;
    } else if (hostPort === undefined) {
      hostPort = 0; // bridge: dynamic host port
    }
    if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw clientError(`Invalid 'hostPort' setting for container '${c.name}'.`);
    return { ...pm, containerPort, hostPort, protocol };
  });
  const logDriver = c.logConfiguration?.logDriver;
  if (c.logConfiguration !== undefined && !LOG_DRIVERS.includes(logDriver)) {
    throw clientError(`Log driver ${String(logDriver)} is not supported. Supported log drivers: ${LOG_DRIVERS.join(', ')}.`);
  }
  return {
    ...c,
    cpu: c.cpu ?? 0,
    portMappings,
    essential: c.essential ?? true,
    environment: c.environment ?? [],
    mountPoints: c.mountPoints ?? [],
    volumesFrom: c.volumesFrom ?? [],
    systemControls: c.systemControls ?? [],
  };
}

const registerTaskDefinition: Handler = (req, world) => {
  const p = req.params;
  const family = reqString(p, 'family');
  if (!NAME_PATTERN.test(family)) {
    throw clientError('Family contains invalid characters. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.');
  }
  const networkMode = optString(p, 'networkMode');
  if (networkMode !== undefined && !NETWORK_MODES.includes(networkMode)) {
    throw clientError(`Invalid networkMode '${networkMode}'. Valid values are bridge, host, awsvpc and none.`);
  }
  const cpu = p.cpu === undefined ? undefined : String(p.cpu);
  const memory = p.memory === undefined ? undefined : String(p.memory);
  const defs = p.containerDefinitions;
  if (!Array.isArray(defs) || defs.length === 0) throw clientError('Container list cannot be empty.');
  if (defs.length > 10) throw clientError('Too many containers. A task definition can have at most 10 containers.');
  const containerDefinitions = defs.map((c: any) => normaliseContainer(c, networkMode ?? 'bridge', memory));
  const names = new Set<string>();
  for (const c of containerDefinitions) {
    if (names.has(c.name)) throw clientError(`Duplicate container name: '${c.name}'.`);
    names.add(c.name);
  }
  const requiresCompatibilities = optStringList(p, 'requiresCompatibilities');
  if (requiresCompatibilities?.includes('FARGATE')) {
    if (networkMode !== 'awsvpc') throw clientError('Fargate only supports network mode ‘awsvpc’.');
    if (cpu === undefined || memory === undefined) throw clientError('Fargate requires task definition to have cpu and memory values.');
  }
  const tags = readTags(p);

  const ecs = ecsState(world);
  const key = `${req.region}/${family}`;
  const fam = (ecs.taskDefinitions[key] ??= { lastRevision: 0, revisions: {} });
  fam.lastRevision += 1;
  const revision = fam.lastRevision;
  const arn = ecsArn(world, req.region, `task-definition/${family}:${revision}`);
  const definition: Record<string, any> = {
    containerDefinitions,
    taskRoleArn: optString(p, 'taskRoleArn'),
    executionRoleArn: optString(p, 'executionRoleArn'),
    networkMode,
    volumes: Array.isArray(p.volumes) ? p.volumes : [],
    placementConstraints: Array.isArray(p.placementConstraints) ? p.placementConstraints : [],
    requiresCompatibilities,
    cpu,
    memory,
    pidMode: p.pidMode,
    ipcMode: p.ipcMode,
    runtimePlatform: p.runtimePlatform,
    registeredBy: `arn:aws:iam::${world.settings.accountId}:user/sandbox`,
  };
  definition.requiresAttributes = taskDefinitionRequirements(definition).map((name) => ({ name }));
  definition.compatibilities = networkMode === 'awsvpc' ? ['EC2', 'FARGATE'] : networkMode === 'host' || networkMode === undefined || networkMode === 'bridge' ? ['EXTERNAL', 'EC2'] : ['EC2'];
  const record: TaskDefinitionRecord = {
    taskDefinitionArn: arn,
    family,
    revision,
    status: 'ACTIVE',
    definition: JSON.parse(JSON.stringify(definition)),
    tags,
    registeredAt: req.now,
  };
  fam.revisions[String(revision)] = record;
  return { taskDefinition: taskDefinitionView(record), tags: tags.length ? tags : undefined };
};

const describeTaskDefinition: Handler = (req, world) => {
  const p = req.params;
  const td = findTaskDefinition(world, req.region, reqString(p, 'taskDefinition'));
  if (!td) throw clientError('Unable to describe task definition.');
  return { taskDefinition: taskDefinitionView(td), tags: includes(p, 'TAGS') ? td.tags : undefined };
};

function allTaskDefinitions(world: World, region: string): TaskDefinitionRecord[] {
  return Object.entries(ecsState(world).taskDefinitions)
    .filter(([key]) => key.startsWith(`${region}/`))
    .flatMap(([, fam]) => Object.values(fam.revisions));
}

const listTaskDefinitions: Handler = (req, world) => {
  const p = req.params;
  const familyPrefix = optString(p, 'familyPrefix');
  const status = optString(p, 'status') ?? 'ACTIVE';
  if (!['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'].includes(status)) throw invalidParameter(`Invalid status: ${status}`);
  const sort = optString(p, 'sort') ?? 'ASC';
  if (sort !== 'ASC' && sort !== 'DESC') throw invalidParameter(`Invalid sort: ${sort}`);
  const tds = allTaskDefinitions(world, req.region)
    .filter((td) => td.status === status && (familyPrefix === undefined || td.family === familyPrefix))
    .sort((a, b) => a.family.localeCompare(b.family) || a.revision - b.revision);
  if (sort === 'DESC') tds.reverse();
  const page = paginate(tds.map((td) => td.taskDefinitionArn), pageRequest(world, p, 100, 100));
  return { taskDefinitionArns: page.items, nextToken: page.nextToken };
};

const listTaskDefinitionFamilies: Handler = (req, world) => {
  const p = req.params;
  const familyPrefix = optString(p, 'familyPrefix') ?? '';
  const status = optString(p, 'status') ?? 'ACTIVE';
  if (!['ACTIVE', 'INACTIVE', 'ALL'].includes(status)) throw invalidParameter(`Invalid status: ${status}`);
  const families = new Map<string, boolean>();
  for (const td of allTaskDefinitions(world, req.region)) {
    if (!td.family.startsWith(familyPrefix)) continue;
    families.set(td.family, (families.get(td.family) ?? false) || td.status === 'ACTIVE');
  }
  const names = [...families.entries()]
    .filter(([, active]) => status === 'ALL' || (status === 'ACTIVE' ? active : !active))
    .map(([name]) => name)
    .sort();
  const page = paginate(names, pageRequest(world, p, 100, 100));
  return { families: page.items, nextToken: page.nextToken };
};

const deregisterTaskDefinition: Handler = (req, world) => {
  const ref = reqString(req.params, 'taskDefinition');
  const id = ref.startsWith('arn:') ? (parseEcsArn(ref)?.id ?? '') : ref;
  if (!/:\d+$/.test(id)) throw clientError('Invalid revision number. Number: ' + (id.split(':')[1] ?? ''));
  const td = findTaskDefinition(world, req.region, ref);
  if (!td || td.status === 'DELETE_IN_PROGRESS') throw clientError('The specified task definition does not exist.');
  if (td.status === 'ACTIVE') {
    td.status = 'INACTIVE';
    td.deregisteredAt = req.now;
  }
  return { taskDefinition: taskDefinitionView(td) };
};

const deleteTaskDefinitions: Handler = (req, world) => {
  const refs = optStringList(req.params, 'taskDefinitions');
  if (!refs || refs.length === 0) throw invalidParameter('size of TaskDefinition references list must be greater than 0');
  if (refs.length > 10) throw invalidParameter('Size of TaskDefinition references list cannot exceed 10');
  const taskDefinitions = [];
  const failures = [];
  for (const ref of refs) {
    const id = ref.startsWith('arn:') ? (parseEcsArn(ref)?.id ?? '') : ref;
    if (!/^[a-zA-Z0-9_-]+:\d+$/.test(id)) {
      failures.push({ arn: ref, reason: 'The specified task definition identifier is invalid. Specify a valid name or ARN and try again.' });
      continue;
    }
    const td = findTaskDefinition(world, req.region, ref);
    const arn = td?.taskDefinitionArn ?? (ref.startsWith('arn:') ? ref : ecsArn(world, req.region, `task-definition/${ref}`));
    if (!td) {
      failures.push({ arn, reason: 'The specified task definition does not exist. Specify a valid account, family, revision and try again.' });
    } else if (td.status === 'ACTIVE') {
      failures.push({ arn, reason: 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.' });
    } else {
      // INACTIVE -> DELETE_IN_PROGRESS; ECS removes it once no task or deployment uses it (agent.ts purge).
      if (td.status === 'INACTIVE') {
        td.status = 'DELETE_IN_PROGRESS';
        td.deleteRequestedAt = req.now;
      }
      taskDefinitions.push(taskDefinitionView(td));
    }
  }
  return { taskDefinitions, failures };
};

// ---- Services ---------------------------------------------------------------------------------------

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

// ---- Tasks ------------------------------------------------------------------------------------------

function findTask(world: World, cluster: ClusterRecord, ref: string): TaskRecord | undefined {
  const id = ref.startsWith('arn:') ? arnId(ref) : ref;
  return tasksOf(world, (t) => t.clusterArn === cluster.clusterArn && arnId(t.taskArn) === id)[0];
}

const listTasks: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const serviceName = optString(p, 'serviceName');
  let service: ServiceRecord | undefined;
  if (serviceName) {
    service = findService(world, cluster, serviceName);
    if (!service) throw serviceNotFound();
  }
  const ciRef = optString(p, 'containerInstance');
  const ci = ciRef ? findContainerInstance(world, cluster, ciRef) : undefined;
  if (ciRef && !ci) throw invalidParameter('The referenced container instance was not found.');
  const family = optString(p, 'family');
  const startedBy = optString(p, 'startedBy');
  const desiredStatus = optString(p, 'desiredStatus') ?? 'RUNNING';
  if (desiredStatus !== 'RUNNING' && desiredStatus !== 'STOPPED' && desiredStatus !== 'PENDING') {
    throw invalidParameter(`Invalid desiredStatus: ${desiredStatus}`);
  }
  const arns = tasksOf(world, (t) => t.clusterArn === cluster.clusterArn)
    .filter((t) => (desiredStatus === 'PENDING' ? t.desiredStatus === 'RUNNING' && t.lastStatus !== 'RUNNING' : t.desiredStatus === desiredStatus))
    .filter((t) => !service || t.serviceArn === service.serviceArn)
    .filter((t) => !ci || t.containerInstanceArn === ci.containerInstanceArn)
    .filter((t) => !family || parseEcsArn(t.taskDefinitionArn)?.id.replace(/:\d+$/, '') === family)
    .filter((t) => !startedBy || t.startedBy === startedBy)
    .sort((a, b) => a.createdAt - b.createdAt || a.taskArn.localeCompare(b.taskArn))
    .map((t) => t.taskArn);
  const page = paginate(arns, pageRequest(world, p, 100, 100));
  return { taskArns: page.items, nextToken: page.nextToken };
};

const describeTasks: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const refs = optStringList(p, 'tasks');
  if (!refs || refs.length === 0) throw invalidParameter('Tasks cannot be empty.');
  if (refs.length > 100) throw invalidParameter('tasks can have at most 100 items.');
  const tasks = [];
  const failures = [];
  for (const ref of refs) {
    const t = findTask(world, cluster, ref);
    if (t) tasks.push(taskView(t, p));
    else failures.push({ arn: ref.startsWith('arn:') ? ref : ecsArn(world, req.region, `task/${cluster.clusterName}/${ref}`), reason: 'MISSING' });
  }
  return { tasks, failures };
};

const stopTaskOp: Handler = (req, world) => {
  const p = req.params;
  const cluster = requireActiveCluster(world, req.region, optString(p, 'cluster'));
  const t = findTask(world, cluster, reqString(p, 'task', invalidParameter));
  if (!t) throw invalidParameter('The referenced task was not found.');
  if (t.desiredStatus !== 'STOPPED') {
    stopTask(t, req.now, optString(p, 'reason') ?? 'Task stopped by user', 'UserInitiated');
    if (t.serviceArn) {
      const svc = ecsState(world).services[t.serviceArn];
      if (svc) svc.steady = false;
    }
  }
  return { task: taskView(t, {}) };
};

// ---- Tags -------------------------------------------------------------------------------------------

/** The tag list of the resource an ARN names, or the error ECS gives. */
function taggable(world: World, arn: string): { tags: EcsTag[]; set(tags: EcsTag[]): void } {
  const parsed = parseEcsArn(arn);
  if (!parsed) throw invalidParameter('The ARN provided is invalid.');
  const ecs = ecsState(world);
  const wrap = (r: { tags: EcsTag[] }) => ({ tags: r.tags, set: (tags: EcsTag[]) => (r.tags = tags) });
  switch (parsed.type) {
    case 'cluster': {
      const c = ecs.clusters[arn];
      if (!c || c.status !== 'ACTIVE') throw new ServiceError('ClusterNotFoundException', 'Cluster not found.');
      return wrap(c);
    }
    case 'service': {
      const s = ecs.services[arn];
      if (!s || s.status === 'INACTIVE') throw serviceNotFound();
      return wrap(s);
    }
    case 'task-definition': {
      const td = /:\d+$/.test(parsed.id) ? findTaskDefinition(world, parsed.region, arn) : undefined;
      if (!td || td.status === 'DELETE_IN_PROGRESS') throw new ServiceError('ResourceNotFoundException', 'The specified resource could not be found.');
      return wrap(td);
    }
    case 'task': {
      const t = ecs.tasks[arn];
      if (!t) throw new ServiceError('ResourceNotFoundException', 'The specified resource could not be found.');
      return wrap(t);
    }
    case 'container-instance': {
      const ci = ecs.containerInstances[arn];
      if (!ci) throw new ServiceError('ResourceNotFoundException', 'The specified resource could not be found.');
      return wrap(ci);
    }
    default:
      throw invalidParameter('The ARN provided is invalid.');
  }
}

const tagResource: Handler = (req, world) => {
  const resource = taggable(world, reqString(req.params, 'resourceArn', invalidParameter));
  const tags = readTags(req.params);
  if (tags.length === 0) throw invalidParameter('Tags can not be empty.');
  resource.set(mergeTags(resource.tags, tags));
  return {};
};

const untagResource: Handler = (req, world) => {
  const resource = taggable(world, reqString(req.params, 'resourceArn', invalidParameter));
  const keys = optStringList(req.params, 'tagKeys');
  if (!keys || keys.length === 0) throw invalidParameter('TagKeys can not be empty.');
  resource.set(resource.tags.filter((t) => !keys.includes(t.key)));
  return {};
};

const listTagsForResource: Handler = (req, world) => {
  const resource = taggable(world, reqString(req.params, 'resourceArn', invalidParameter));
  return { tags: resource.tags };
};

// ---- The module -------------------------------------------------------------------------------------

const read = (handler: Handler): Operation => ({ mutating: false, handler });
const write = (handler: Handler): Operation => ({ mutating: true, handler });

export const ecsService: ServiceModule = {
  name: 'ecs',
  protocol: 'json',
  targetPrefix: 'AmazonEC2ContainerServiceV20141113',
  initState: initEcsState,
  tick: ecsTick,
  operations: {
    CreateCluster: write(createCluster),
    DescribeClusters: read(describeClusters),
    DeleteCluster: write(deleteCluster),
    ListClusters: read(listClusters),
    RegisterContainerInstance: write(registerContainerInstanceOp),
    ListContainerInstances: read(listContainerInstances),
    DescribeContainerInstances: read(describeContainerInstances),
    DeregisterContainerInstance: write(deregisterContainerInstance),
    RegisterTaskDefinition: write(registerTaskDefinition),
    DescribeTaskDefinition: read(describeTaskDefinition),
    ListTaskDefinitions: read(listTaskDefinitions),
    ListTaskDefinitionFamilies: read(listTaskDefinitionFamilies),
    DeregisterTaskDefinition: write(deregisterTaskDefinition),
    DeleteTaskDefinitions: write(deleteTaskDefinitions),
    CreateService: write(createService),
    UpdateService: write(updateService),
    DescribeServices: read(describeServices),
    ListServices: read(listServices),
    DeleteService: write(deleteService),
    ListTasks: read(listTasks),
    DescribeTasks: read(describeTasks),
    StopTask: write(stopTaskOp),
    TagResource: write(tagResource),
    UntagResource: write(untagResource),
    ListTagsForResource: read(listTagsForResource),
  },
};

