/**
 * ECS state as stored in world.state.ecs, plus the lookups and ARN helpers shared by the ECS API
 * handlers (clusters.ts, services.ts, ...) and the simulated agent and scheduler (agent.ts, scheduler.ts).
 *
 * Records hold plain JSON (timestamps in sandbox-clock milliseconds); the handlers turn them into API
 * shapes. Everything is keyed by ARN, and ARNs carry the region, so regions are naturally separate.
 */
import type { Tag } from '@aws-sdk/client-ecs';
import { ServiceError, type Handler, type Operation, type World } from '../../types.js';

export interface EcsTag {
  key: string;
  value: string;
}

export interface ClusterRecord {
  clusterArn: string;
  clusterName: string;
  status: 'ACTIVE' | 'INACTIVE';
  createdAt: number;
  /** When it became INACTIVE. */
  deletedAt?: number;
  tags: EcsTag[];
  settings: { name: string; value: string }[];
  configuration?: unknown;
  serviceConnectDefaults?: unknown;
  /** Capacity provider names associated by PutClusterCapacityProviders (capacity-providers.ts). */
  capacityProviders?: string[];
  defaultCapacityProviderStrategy?: CapacityProviderStrategyItem[];
  /** The Auto Scaling scaling-policy attachments ECS creates for managed scaling ("as_policy"). */
  attachments?: { id: string; type: string; status: string; details: { name: string; value: string }[] }[];
  attachmentsStatus?: string;
}

export interface CapacityProviderStrategyItem {
  capacityProvider: string;
  weight: number;
  base: number;
}

export interface CapacityProviderRecord {
  capacityProviderArn: string;
  name: string;
  region: string;
  status: 'ACTIVE' | 'INACTIVE';
  autoScalingGroupProvider: {
    autoScalingGroupArn: string;
    managedScaling: { status: 'ENABLED' | 'DISABLED'; targetCapacity: number; minimumScalingStepSize: number; maximumScalingStepSize: number; instanceWarmupPeriod: number };
    managedTerminationProtection: 'ENABLED' | 'DISABLED';
    managedDraining: 'ENABLED' | 'DISABLED';
  };
  updateStatus?: string;
  updateStatusReason?: string;
  tags: EcsTag[];
  createdAt: number;
  /** DeleteCapacityProvider: DELETE_IN_PROGRESS until then, INACTIVE after. */
  deleteRequestedAt?: number;
}

export type { JsonItem, StoredContainer, StoredPortMapping, StoredTaskDefinition } from './stored.js';
import type { StoredTaskDefinition } from './stored.js';

export interface TaskDefinitionRecord {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE' | 'DELETE_IN_PROGRESS';
  /** The task definition as DescribeTaskDefinition returns it (without tags). */
  definition: StoredTaskDefinition;
  tags: EcsTag[];
  registeredAt: number;
  deregisteredAt?: number;
  deleteRequestedAt?: number;
}

export interface TaskDefinitionFamily {
  /** Last revision handed out: AWS never reuses a revision number, even after deletion. */
  lastRevision: number;
  revisions: Record<string, TaskDefinitionRecord>;
}

export interface Resource {
  name: string;
  type: 'INTEGER' | 'STRINGSET' | 'DOUBLE' | 'LONG';
  integerValue?: number;
  doubleValue?: number;
  longValue?: number;
  stringSetValue?: string[];
}

export interface ContainerInstanceRecord {
  containerInstanceArn: string;
  clusterArn: string;
  ec2InstanceId: string;
  status: 'ACTIVE' | 'DRAINING' | 'DEREGISTERING' | 'INACTIVE';
  agentConnected: boolean;
  registeredResources: Resource[];
  registeredAt: number;
  deregisteredAt?: number;
  attributes: { name: string; value?: string }[];
  versionInfo: { agentVersion: string; agentHash: string; dockerVersion: string };
  tags: EcsTag[];
  /** Incremented on every change, like the API's version field. */
  version: number;
  /** The capacity provider it was registered with (capacity-providers.ts registeringProvider), if any. */
  capacityProviderName?: string;
}

export interface ServiceEvent {
  id: string;
  createdAt: number;
  message: string;
}

export interface DeploymentRecord {
  id: string;
  status: 'PRIMARY' | 'ACTIVE' | 'INACTIVE';
  taskDefinition: string;
  desiredCount: number;
  createdAt: number;
  updatedAt: number;
  rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  rolloutStateReason: string;
  failedTasks: number;
}

export interface ServiceRecord {
  serviceArn: string;
  serviceName: string;
  clusterArn: string;
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
  taskDefinition: string;
  desiredCount: number;
  launchType: string;
  schedulingStrategy: 'REPLICA' | 'DAEMON';
  deploymentConfiguration: {
    maximumPercent: number;
    minimumHealthyPercent: number;
    deploymentCircuitBreaker: { enable: boolean; rollback: boolean };
  };
  placementConstraints: { type: string; expression?: string }[];
  placementStrategy: { type: string; field?: string }[];
  deployments: DeploymentRecord[];
  /** Newest first, at most 100, like the API. */
  events: ServiceEvent[];
  createdAt: number;
  createdBy: string;
  tags: EcsTag[];
  enableECSManagedTags: boolean;
  propagateTags: string;
  enableExecuteCommand: boolean;
  healthCheckGracePeriodSeconds?: number;
  /** The service's capacity provider strategy (its own, or the cluster default when it was created); launchType is '' then. */
  capacityProviderStrategy?: CapacityProviderStrategyItem[];
  loadBalancers?: { targetGroupArn: string; containerName: string; containerPort: number }[];
  /** Whether the last scheduler pass found the service steady (so "reached a steady state" is said once). */
  steady: boolean;
  /** The task definition of the last deployment that completed (what a circuit-breaker rollback returns to). */
  lastCompletedTaskDefinition?: string;
  deletedAt?: number;
}

export type TaskStatus = 'PROVISIONING' | 'PENDING' | 'ACTIVATING' | 'RUNNING' | 'DEACTIVATING' | 'STOPPING' | 'DEPROVISIONING' | 'STOPPED';

export interface NetworkBinding {
  bindIP: string;
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

export interface TaskRecord {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  containerInstanceArn: string;
  /** 'service:<name>' for service tasks. */
  group: string;
  startedBy?: string;
  /** serviceArn for service tasks (internal). */
  serviceArn?: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  createdAt: number;
  /** When lastStatus last changed (internal; drives the phase timer). */
  statusChangedAt: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  cpu: number;
  memory: number;
  /** Host ports reserved on the container instance, per container. */
  containers: {
    containerArn: string;
    name: string;
    image: string;
    networkBindings: NetworkBinding[];
    cpu: number;
    memory?: number;
    memoryReservation?: number;
    /** Set when a local runtime runs the container (local/runner.ts): what Docker says of it. */
    lastStatus?: 'PENDING' | 'RUNNING' | 'STOPPED';
    exitCode?: number;
    reason?: string;
    healthStatus?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
    runtimeId?: string;
  }[];
  /** Set by a local runtime: the task's health from its essential containers' Docker health. */
  healthStatus?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
  version: number;
  tags: EcsTag[];
  /** The capacity provider the task was placed through. */
  capacityProviderName?: string;
  /** Target groups the scheduler registered the task in (scheduler.ts syncTargets). */
  registeredTargets?: { targetGroupArn: string; id: string; port: number }[];
}

export interface EcsState {
  clusters: Record<string, ClusterRecord>;
  /** Keyed by "<region>/<family>". */
  taskDefinitions: Record<string, TaskDefinitionFamily>;
  containerInstances: Record<string, ContainerInstanceRecord>;
  services: Record<string, ServiceRecord>;
  tasks: Record<string, TaskRecord>;
  /** EC2 instance id => container instance ARN, for instances whose agent has registered once. */
  agentRegistrations: Record<string, string>;
  /** Sandbox time ECS was last brought up to date (index.ts replays timed events since then). */
  lastTickAt?: number;
  /** CreateService clientTokens and the request each came with (services.ts). */
  clientTokens?: Record<string, { serviceArn: string; fingerprint: string }>;
  /** Capacity providers by ARN (capacity-providers.ts); FARGATE and FARGATE_SPOT are built in, not stored. */
  capacityProviders?: Record<string, CapacityProviderRecord>;
}

export function initEcsState(): EcsState {
  return { clusters: {}, taskDefinitions: {}, containerInstances: {}, services: {}, tasks: {}, agentRegistrations: {} };
}

export function ecsState(world: World): EcsState {
  world.state.ecs ??= initEcsState();
  return world.state.ecs as EcsState;
}

// ---- ARNs -------------------------------------------------------------------------------------------

export function ecsArn(world: World, region: string, resource: string): string {
  return `arn:aws:ecs:${region}:${world.settings.accountId}:${resource}`;
}

export interface ParsedEcsArn {
  region: string;
  account: string;
  /** cluster, service, task, container-instance, task-definition */
  type: string;
  /** The part after the type: "name", "cluster/name", "family:rev". */
  id: string;
}

export function parseEcsArn(arn: string): ParsedEcsArn | undefined {
  const m = /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):([a-z-]+)\/(.+)$/.exec(arn);
  return m ? { region: m[1], account: m[2], type: m[3], id: m[4] } : undefined;
}

/** The trailing id of an ARN: ".../task/cluster/abc" => "abc". */
export function arnId(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

// ---- Lookups ----------------------------------------------------------------------------------------

export function clusterArnFor(world: World, region: string, nameOrArn: string | undefined): string {
  const ref = nameOrArn && nameOrArn !== '' ? nameOrArn : 'default';
  return ref.startsWith('arn:') ? ref : ecsArn(world, region, `cluster/${ref}`);
}

/** The cluster named by a request's `cluster` parameter, if it exists in any status. */
export function findCluster(world: World, region: string, nameOrArn: string | undefined): ClusterRecord | undefined {
  return ecsState(world).clusters[clusterArnFor(world, region, nameOrArn)];
}

/** The ACTIVE cluster named by a request, or ClusterNotFoundException as ECS answers. */
export function requireActiveCluster(world: World, region: string, nameOrArn: string | undefined): ClusterRecord {
  const cluster = findCluster(world, region, nameOrArn);
  if (!cluster || cluster.status !== 'ACTIVE') throw new ServiceError('ClusterNotFoundException', 'Cluster not found.');
  return cluster;
}

export function serviceArnFor(world: World, cluster: ClusterRecord, nameOrArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  const region = parseEcsArn(cluster.clusterArn)!.region;
  return ecsArn(world, region, `service/${cluster.clusterName}/${nameOrArn}`);
}

export function findService(world: World, cluster: ClusterRecord, nameOrArn: string): ServiceRecord | undefined {
  const svc = ecsState(world).services[serviceArnFor(world, cluster, nameOrArn)];
  return svc && svc.clusterArn === cluster.clusterArn ? svc : undefined;
}

/**
 * A task definition by "family" (latest ACTIVE revision), "family:revision" or ARN.
 * Returns undefined when it does not exist.
 */
export function findTaskDefinition(world: World, region: string, ref: string): TaskDefinitionRecord | undefined {
  const ecs = ecsState(world);
  let family: string;
  let revision: number | undefined;
  let refRegion = region;
  const parsed = ref.startsWith('arn:') ? parseEcsArn(ref) : undefined;
  if (ref.startsWith('arn:')) {
    if (!parsed || parsed.type !== 'task-definition') return undefined;
    refRegion = parsed.region;
    ref = parsed.id;
  }
  const colon = ref.lastIndexOf(':');
  if (colon >= 0) {
    family = ref.slice(0, colon);
    revision = Number(ref.slice(colon + 1));
    if (!Number.isInteger(revision)) return undefined;
  } else {
    family = ref;
  }
  const fam = ecs.taskDefinitions[`${refRegion}/${family}`];
  if (!fam) return undefined;
  if (revision !== undefined) return fam.revisions[String(revision)];
  // Bare family: the latest ACTIVE revision.
  const active = Object.values(fam.revisions)
    .filter((r) => r.status === 'ACTIVE')
    .sort((a, b) => b.revision - a.revision);
  return active[0];
}

export function tasksOf(world: World, predicate: (t: TaskRecord) => boolean): TaskRecord[] {
  return Object.values(ecsState(world).tasks).filter(predicate);
}

/** A task still holding resources on its container instance. */
export function isTaskActive(t: TaskRecord): boolean {
  return t.lastStatus !== 'STOPPED';
}

// ---- Container instance resources ------------------------------------------------------------------

/** Ports the ECS agent reserves on every container instance. */
export const RESERVED_PORTS = [22, 2375, 2376, 51678, 51679];

export function resourceValue(resources: Resource[], name: string): number {
  return resources.find((r) => r.name === name)?.integerValue ?? 0;
}

/** What is left on a container instance after the tasks placed on it. */
export function remainingResources(world: World, ci: ContainerInstanceRecord): { cpu: number; memory: number; tcpPorts: Set<number>; udpPorts: Set<number> } {
  let cpu = resourceValue(ci.registeredResources, 'CPU');
  let memory = resourceValue(ci.registeredResources, 'MEMORY');
  const tcpPorts = new Set<number>(RESERVED_PORTS);
  const udpPorts = new Set<number>();
  for (const t of tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t))) {
    cpu -= t.cpu;
    memory -= t.memory;
    for (const c of t.containers) {
      for (const b of c.networkBindings) (b.protocol === 'udp' ? udpPorts : tcpPorts).add(b.hostPort);
    }
  }
  return { cpu, memory, tcpPorts, udpPorts };
}

export function addEvent(world: World, svc: ServiceRecord, now: number, message: string): void {
  svc.events.unshift({ id: world.nextId('', 32).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'), createdAt: now, message });
  if (svc.events.length > 100) svc.events.length = 100;
}

// ---- Errors -----------------------------------------------------------------------------------------

export const invalidParameter = (message: string) => new ServiceError('InvalidParameterException', message);
export const clientError = (message: string) => new ServiceError('ClientException', message);
export const serviceNotFound = () => new ServiceError('ServiceNotFoundException', 'Service not found.');
export const serviceNotActive = () => new ServiceError('ServiceNotActiveException', 'Service was not ACTIVE.');
export const invalidToken = () => invalidParameter('Invalid token');

// ---- Parameter helpers ------------------------------------------------------------------------------

/**
 * The JSON protocol hands a handler the body as the SDK's input type, but nothing on the wire holds a
 * caller to it: these read one member of the input (named as the SDK names it) and check its JSON type
 * the way ECS does (SerializationException).
 */
const member = (p: object, name: string): unknown => (p as Record<string, unknown>)[name];

export function optString<T extends object>(p: T, name: keyof T & string): string | undefined {
  const v = member(p, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ServiceError('SerializationException', `${name} must be a string`);
  return v;
}

export function reqString<T extends object>(p: T, name: keyof T & string, error = clientError): string {
  const v = optString(p, name);
  if (v === undefined || v === '') throw error(`${name} can not be blank.`);
  return v;
}

export function optStringList<T extends object>(p: T, name: keyof T & string): string[] | undefined {
  const v = member(p, name);
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new ServiceError('SerializationException', `${name} must be a list of strings`);
  }
  return v as string[];
}

export function optInt<T extends object>(p: T, name: keyof T & string): number | undefined {
  const v = member(p, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ServiceError('SerializationException', `${name} must be an integer`);
  return v;
}

export function maxResults(p: { maxResults?: number }, max: number): number | undefined {
  const n = optInt(p, 'maxResults');
  if (n !== undefined && (n < 1 || n > max)) {
    throw invalidParameter(`maxResults must be between 1 and ${max}.`);
  }
  return n;
}

export function includes(p: { include?: string[] }, what: string): boolean {
  return (optStringList(p, 'include') ?? []).includes(what);
}

/**
 * A list whose items the caller must name (cluster settings, attributes, resources): the SDK's types
 * leave `name` optional, the records need it, so an item without a string name is refused.
 */
export function named<T extends { name?: string }>(items: T[], what: string): (T & { name: string })[] {
  if (items.some((x) => typeof x?.name !== 'string')) throw new ServiceError('SerializationException', `every item of ${what} needs a name`);
  return items as (T & { name: string })[];
}

export const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,255}$/;

export function readTags(p: { tags?: Tag[] }): EcsTag[] {
  const tags: unknown = p.tags;
  if (tags === undefined || tags === null) return [];
  if (!Array.isArray(tags)) throw new ServiceError('SerializationException', 'tags must be a list');
  if (tags.length > 50) throw invalidParameter('Too many tags. A resource can have at most 50 tags.');
  return (tags as Partial<Record<'key' | 'value', unknown>>[]).map((t) => {
    if (typeof t?.key !== 'string' || t.key === '' || t.key.length > 128) {
      throw invalidParameter('Tag keys must be between 1 and 128 characters in length.');
    }
    if (t.value !== undefined && (typeof t.value !== 'string' || t.value.length > 256)) {
      throw invalidParameter('Tag values must be between 0 and 256 characters in length.');
    }
    return { key: t.key, value: t.value ?? '' };
  });
}

export function mergeTags(existing: EcsTag[], added: EcsTag[]): EcsTag[] {
  const byKey = new Map(existing.map((t) => [t.key, t]));
  for (const t of added) byKey.set(t.key, t);
  if (byKey.size > 50) throw invalidParameter('Too many tags. A resource can have at most 50 tags.');
  return [...byKey.values()];
}

export const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

export function pageRequest(world: World, p: { maxResults?: number; nextToken?: string }, defaultPageSize: number, max: number) {
  return { maxResults: maxResults(p, max), nextToken: optString(p, 'nextToken') || undefined, defaultPageSize, settings: world.settings, invalidToken };
}

// ---- Task lifecycle helpers ----------------------------------------------------------------------

/** Ask a task to stop: it spends latency.taskStopMs in STOPPING, then is STOPPED. */
export function stopTask(t: TaskRecord, now: number, reason: string, stopCode: string): void {
  if (t.desiredStatus === 'STOPPED') return;
  t.desiredStatus = 'STOPPED';
  t.stoppingAt = now;
  t.stoppedReason = reason;
  t.stopCode = stopCode;
  if (t.lastStatus !== 'STOPPED') {
    t.lastStatus = 'STOPPING';
    t.statusChangedAt = now;
  }
  t.version += 1;
}

export function finishStop(t: TaskRecord, at: number): void {
  t.lastStatus = 'STOPPED';
  t.statusChangedAt = at;
  t.stoppedAt = at;
  t.version += 1;
}

export const read = (handler: Handler): Operation => ({ mutating: false, handler });
export const write = (handler: Handler): Operation => ({ mutating: true, handler });
