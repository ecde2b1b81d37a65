/**
 * The simulated ECS container agent and service scheduler, run from the ECS module's tick() before
 * every request. State is advanced lazily from timestamps, so it survives persistence and works the
 * same with a ManualClock.
 *
 * Agent: an EC2 instance (world.state.ec2.instances, owned by services/ec2.ts) that is running, has an
 * instance profile, and whose user data sets ECS_CLUSTER=<name> (default "default") registers as a
 * container instance in that cluster latency.agentRegisterMs after it started running, once the cluster
 * exists. When the instance shuts down, the container instance goes INACTIVE and its tasks stop.
 *
 * Scheduler: each ACTIVE service keeps desiredCount tasks of its PRIMARY deployment on ACTIVE container
 * instances with enough CPU, memory and free host ports, honouring the deployment configuration
 * (maximumPercent / minimumHealthyPercent) when replacing the tasks of older deployments. Tasks go
 * PROVISIONING -> PENDING -> RUNNING, one latency.taskPhaseMs per phase, and take latency.taskStopMs to
 * stop. Services record events and deployment rollout state as ECS does. DRAINING services stop their
 * tasks and become INACTIVE.
 *
 * Failing tasks and the deployment circuit breaker: an image on the host UNPULLABLE_REGISTRY (a
 * reserved .invalid name) cannot be pulled, so its task stops at the end of PENDING with stopCode
 * TaskFailedToStart and a CannotPullContainerError reason, and the scheduler starts another. With the
 * circuit breaker on, CIRCUIT_BREAKER_THRESHOLD (ECS's minimum, 3; half the desired count when more)
 * failed tasks of a deployment mark it FAILED and stop new launches; with rollback, the last
 * completed task definition gets a new deployment.
 */
import { randomUUID } from 'node:crypto';
import {
  addEvent,
  arnId,
  ecsArn,
  ecsState,
  findTaskDefinition,
  isTaskActive,
  parseEcsArn,
  remainingResources,
  tasksOf,
  type ClusterRecord,
  type ContainerInstanceRecord,
  type DeploymentRecord,
  type EcsTag,
  type NetworkBinding,
  type Resource,
  type ServiceRecord,
  type TaskDefinitionRecord,
  type TaskRecord,
} from './ecs-state.js';
import { AWS_MANAGED_POLICIES, findInstanceProfile, instanceProfilePolicyArns } from './services/iam.js';
import type { Ec2InstanceRecord, Ec2StateView, World } from './types.js';
import { taskRuntime } from './local/hooks.js';

/** Images on this registry host never pull (see above). */
export const UNPULLABLE_REGISTRY = 'unpullable.sandbox.invalid';

/** Failed tasks of one deployment that trip the circuit breaker: ECS's max(3, ceil(desired / 2)), at most 200. */
export function circuitBreakerThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(desiredCount / 2)));
}

/** How long STOPPED tasks and INACTIVE container instances stay visible. */
const RETENTION_MS = 60 * 60 * 1000;
/** Safety bound on scheduler passes per step (each pass is one step of every lifecycle). */
const MAX_PASSES = 20;
/** Safety bound on the timed events replayed by one tick. */
const MAX_STEPS = 10_000;

/**
 * Bring ECS up to `now`. Every timed event since the last tick (an agent registering, a task phase
 * ending, an instance terminating) is replayed at the moment it was due, and the scheduler runs after
 * each one, so the timeline is the same whether ticks come every millisecond or once an hour later.
 */
export function ecsTick(world: World, now: number): void {
  const ecs = ecsState(world);
  let cursor = Math.min(ecs.lastTickAt ?? now, now);
  for (let i = 0; i < MAX_STEPS; i++) {
    const next = nextEventAfter(world, cursor);
    if (next === undefined || next >= now) break;
    step(world, next);
    cursor = next;
  }
  step(world, now);
  ecs.lastTickAt = now;
  purge(world, now);
}

function step(world: World, at: number): void {
  syncAgents(world, at);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const progressed = advanceTasks(world, at) || scheduleServices(world, at);
    if (!progressed) break;
  }
}

/** The earliest time after `after` at which something is due to happen on its own. */
function nextEventAfter(world: World, after: number): number | undefined {
  const ecs = ecsState(world);
  const { taskPhaseMs, taskStopMs, agentRegisterMs } = world.settings.latency;
  const instances = (world.state.ec2 as Ec2StateView | undefined)?.instances ?? {};
  const times: number[] = [];
  // Tasks run by a local runtime (local/hooks.ts) change phase when their containers do, not on a timer.
  for (const t of taskRuntime(world) ? [] : Object.values(ecs.tasks)) {
    if (t.lastStatus === 'STOPPING') times.push(t.statusChangedAt + taskStopMs);
    else if (t.desiredStatus === 'RUNNING' && NEXT_PHASE[t.lastStatus]) times.push(t.statusChangedAt + taskPhaseMs);
  }
  for (const instance of Object.values(instances)) {
    if (instance.state === 'running' && instance.iamInstanceProfile && !ecs.agentRegistrations[instance.instanceId]) {
      times.push(instance.stateChangedAt + agentRegisterMs);
    }
  }
  for (const ci of Object.values(ecs.containerInstances)) {
    const instance = instances[ci.ec2InstanceId];
    if (ci.status !== 'INACTIVE' && instance && instance.state !== 'running' && instance.state !== 'pending') {
      times.push(instance.stateChangedAt);
    }
  }
  const future = times.filter((t) => t > after);
  return future.length ? Math.min(...future) : undefined;
}

// ---- Agent ------------------------------------------------------------------------------------------

/** Registered capacity by instance type: CPU units and MiB the agent reports (total minus OS overhead). */
const INSTANCE_CAPACITY: Record<string, { cpu: number; memory: number }> = {
  't2.micro': { cpu: 1024, memory: 982 },
  't2.small': { cpu: 1024, memory: 1993 },
  't2.medium': { cpu: 2048, memory: 3943 },
  't3.nano': { cpu: 2048, memory: 460 },
  't3.micro': { cpu: 2048, memory: 944 },
  't3.small': { cpu: 2048, memory: 1993 },
  't3.medium': { cpu: 2048, memory: 3928 },
  't3.large': { cpu: 2048, memory: 7943 },
  't3.xlarge': { cpu: 4096, memory: 15820 },
  'm5.large': { cpu: 2048, memory: 7680 },
  'm5.xlarge': { cpu: 4096, memory: 15578 },
  'c5.large': { cpu: 2048, memory: 3767 },
};
const DEFAULT_CAPACITY = { cpu: 2048, memory: 1993 };

export function instanceCapacity(instanceType: string): { cpu: number; memory: number } {
  const family = instanceType.replace(/^(t3a|t4g)\./, 't3.');
  return INSTANCE_CAPACITY[instanceType] ?? INSTANCE_CAPACITY[family] ?? DEFAULT_CAPACITY;
}

/** Logging drivers the agent advertises when user data does not set ECS_AVAILABLE_LOGGING_DRIVERS. */
const DEFAULT_LOGGING_DRIVERS = ['json-file', 'syslog', 'awslogs', 'fluentd', 'gelf', 'journald', 'splunk', 'awsfirelens', 'none'];

export interface AgentConfig {
  cluster: string;
  loggingDrivers: string[];
}

/**
 * What the agent would read from /etc/ecs/ecs.config after the user data ran. Understands a bare
 * "ECS_CLUSTER=x" line as well as shell that writes it (echo ECS_CLUSTER=x >> /etc/ecs/ecs.config,
 * heredocs, quoted values). Comment lines are ignored; the last assignment wins.
 */
export function parseAgentConfig(userData: string | undefined): AgentConfig {
  const text = decodeIfBase64(userData ?? '');
  let cluster = 'default';
  let loggingDrivers = DEFAULT_LOGGING_DRIVERS;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line.startsWith('#')) continue;
    for (const m of line.matchAll(/ECS_CLUSTER=\\?["']?([A-Za-z0-9_-]+)/g)) cluster = m[1];
    const drivers = /ECS_AVAILABLE_LOGGING_DRIVERS=\\?'?(\[.*?\])/.exec(line);
    if (drivers) {
      try {
        const parsed = JSON.parse(drivers[1].replace(/\\"/g, '"'));
        if (Array.isArray(parsed)) loggingDrivers = parsed.map(String);
      } catch {
        // The real agent refuses a malformed value and keeps its default.
      }
    }
  }
  return { cluster, loggingDrivers };
}

function decodeIfBase64(s: string): string {
  if (s.includes('ECS_CLUSTER') || !/^[A-Za-z0-9+/=\s]+$/.test(s) || s.trim() === '') return s;
  const decoded = Buffer.from(s, 'base64').toString('utf8');
  return decoded.includes('ECS_') ? decoded : s;
}

function agentAttributes(instance: Ec2InstanceRecord, region: string, loggingDrivers: string[]): { name: string; value?: string }[] {
  const arm = /^[a-z]+\d+g[a-z]*\./.test(instance.instanceType);
  const names = [
    'ecs.capability.secrets.asm.environment-variables',
    'ecs.capability.execution-role-awslogs',
    'ecs.capability.execution-role-ecr-pull',
    'ecs.capability.task-eni',
    'ecs.capability.container-health-check',
    'ecs.capability.private-registry-authentication.secretsmanager',
    'com.amazonaws.ecs.capability.ecr-auth',
    'com.amazonaws.ecs.capability.task-iam-role',
    'com.amazonaws.ecs.capability.task-iam-role-network-host',
    ...['17', '18', '19', '20', '21', '22', '23', '24', '25', '28', '29', '30', '31', '32', '44'].map(
      (v) => `com.amazonaws.ecs.capability.docker-remote-api.1.${v}`,
    ),
    ...loggingDrivers.filter((d) => d !== 'none').map((d) => `com.amazonaws.ecs.capability.logging-driver.${d}`),
  ];
  return [
    ...names.map((name) => ({ name })),
    { name: 'ecs.os-type', value: 'linux' },
    { name: 'ecs.os-family', value: 'LINUX' },
    { name: 'ecs.instance-type', value: instance.instanceType },
    { name: 'ecs.ami-id', value: instance.imageId },
    { name: 'ecs.cpu-architecture', value: arm ? 'arm64' : 'x86_64' },
    { name: 'ecs.availability-zone', value: `${region}a` },
    { name: 'ecs.vpc-id', value: instance.vpcId },
    { name: 'ecs.subnet-id', value: instance.subnetId },
  ];
}

/** The container-instance attributes a task definition needs (its requiresAttributes). */
export function taskDefinitionRequirements(definition: Record<string, any>): string[] {
  const required = new Set<string>();
  for (const c of definition.containerDefinitions ?? []) {
    const driver = c.logConfiguration?.logDriver;
    if (driver) {
      required.add(`com.amazonaws.ecs.capability.logging-driver.${driver}`);
      required.add('com.amazonaws.ecs.capability.docker-remote-api.1.19');
    }
    if (driver === 'awslogs' && definition.executionRoleArn) required.add('ecs.capability.execution-role-awslogs');
  }
  if (definition.taskRoleArn) required.add('com.amazonaws.ecs.capability.task-iam-role');
  if (definition.executionRoleArn) required.add('ecs.capability.execution-role-ecr-pull');
  if (definition.networkMode === 'awsvpc') required.add('ecs.capability.task-eni');
  return [...required].sort();
}

export interface RegisterOptions {
  resources?: Resource[];
  attributes?: { name: string; value?: string }[];
  tags?: EcsTag[];
  /** The EC2 instance, when the agent registers it (gives capacity and attributes). */
  instance?: Ec2InstanceRecord;
  loggingDrivers?: string[];
}

/**
 * Whether the instance role may call ecs:RegisterContainerInstance. The agent on an instance whose role
 * lacks it (typically: AmazonEC2ContainerServiceforEC2Role not attached) never registers, as on AWS.
 * Customer managed policies are given the benefit of the doubt; profiles unknown to the IAM emulation
 * (tests that insert EC2 records directly) are not checked.
 */
export function roleAllowsRegistration(world: World, instanceProfileArn: string): boolean {
  if (!world.state.iam || !findInstanceProfile(world, instanceProfileArn)) return true;
  return instanceProfilePolicyArns(world, instanceProfileArn).some((arn) => {
    const managed = /^arn:aws[a-z-]*:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn);
    if (!managed) return true;
    const document = AWS_MANAGED_POLICIES[managed[1]]?.document;
    return document !== undefined && grantsRegistration(document);
  });
}

function grantsRegistration(document: any): boolean {
  const statements = Array.isArray(document.Statement) ? document.Statement : [document.Statement];
  return statements.some((st: any) => {
    if (st?.Effect !== 'Allow') return false;
    const actions: string[] = Array.isArray(st.Action) ? st.Action : [st.Action];
    return actions.some((a) => a === '*' || a === 'ecs:*' || a === 'ecs:RegisterContainerInstance');
  });
}

/** Register a container instance (the agent's RegisterContainerInstance call). */
export function registerContainerInstance(
  world: World,
  cluster: ClusterRecord,
  ec2InstanceId: string,
  now: number,
  opts: RegisterOptions = {},
): ContainerInstanceRecord {
  const ecs = ecsState(world);
  const region = parseEcsArn(cluster.clusterArn)!.region;
  const capacity = opts.instance ? instanceCapacity(opts.instance.instanceType) : DEFAULT_CAPACITY;
  const resources: Resource[] = opts.resources ?? [
    { name: 'CPU', type: 'INTEGER', integerValue: capacity.cpu, doubleValue: 0, longValue: 0 },
    { name: 'MEMORY', type: 'INTEGER', integerValue: capacity.memory, doubleValue: 0, longValue: 0 },
    { name: 'PORTS', type: 'STRINGSET', stringSetValue: ['22', '2375', '2376', '51678', '51679'], doubleValue: 0, longValue: 0, integerValue: 0 },
    { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [], doubleValue: 0, longValue: 0, integerValue: 0 },
  ];
  const attributes =
    opts.attributes ??
    (opts.instance ? agentAttributes(opts.instance, region, opts.loggingDrivers ?? DEFAULT_LOGGING_DRIVERS) : []);
  const ci: ContainerInstanceRecord = {
    containerInstanceArn: ecsArn(world, region, `container-instance/${cluster.clusterName}/${world.nextId('', 32)}`),
    clusterArn: cluster.clusterArn,
    ec2InstanceId,
    status: 'ACTIVE',
    agentConnected: true,
    registeredResources: resources,
    registeredAt: now,
    attributes,
    versionInfo: { agentVersion: '1.89.2', agentHash: '9a2cd4f1', dockerVersion: 'DockerVersion: 25.0.8' },
    tags: opts.tags ?? [],
    version: 1,
  };
  ecs.containerInstances[ci.containerInstanceArn] = ci;
  ecs.agentRegistrations[ec2InstanceId] = ci.containerInstanceArn;
  return ci;
}

function syncAgents(world: World, now: number): void {
  const ecs = ecsState(world);
  const instances = (world.state.ec2 as Ec2StateView | undefined)?.instances ?? {};
  const latency = world.settings.latency;

  for (const instance of Object.values(instances)) {
    if (instance.state !== 'running' || !instance.iamInstanceProfile) continue;
    if (ecs.agentRegistrations[instance.instanceId]) continue;
    if (!roleAllowsRegistration(world, instance.iamInstanceProfile.arn)) continue;
    const due = instance.stateChangedAt + latency.agentRegisterMs;
    if (now < due) continue;
    const config = parseAgentConfig(instance.userData);
    const region = instance.region ?? world.settings.defaultRegion;
    const cluster = ecs.clusters[ecsArn(world, region, `cluster/${config.cluster}`)];
    // Like the real agent, keep retrying until the cluster exists.
    if (!cluster || cluster.status !== 'ACTIVE') continue;
    registerContainerInstance(world, cluster, instance.instanceId, Math.max(due, cluster.createdAt), {
      instance,
      loggingDrivers: config.loggingDrivers,
    });
  }

  // What ECS does when the EC2 instance under a container instance goes away (DeregisterContainerInstance
  // docs): "If you terminate a running container instance, Amazon ECS automatically deregisters the
  // instance from your cluster (stopped container instances or instances with disconnected agents aren't
  // automatically deregistered when terminated)." So:
  //   stopping / stopped      tasks stop, the agent disconnects, the container instance stays ACTIVE;
  //   running again           the agent reconnects the same container instance (after agentRegisterMs);
  //   terminated, agent up    tasks stop, the container instance is deregistered (INACTIVE);
  //   terminated, agent down  nothing changes: it stays ACTIVE with agentConnected=false until
  //                           DeregisterContainerInstance, and DeleteCluster refuses meanwhile.
  for (const ci of Object.values(ecs.containerInstances)) {
    if (ci.status === 'INACTIVE') continue;
    const instance = instances[ci.ec2InstanceId];
    if (!instance && !world.state.ec2) continue; // registered through the API without any EC2 emulation
    if (instance && instance.stateChangedAt > now) continue;
    const state = instance?.state ?? 'terminated';
    if (state === 'pending') continue;
    if (state === 'running') {
      if (!ci.agentConnected && now >= instance!.stateChangedAt + latency.agentRegisterMs) {
        ci.agentConnected = true;
        ci.version += 1;
      }
      continue;
    }
    if (!ci.agentConnected) continue;
    const at = instance ? instance.stateChangedAt : now;
    const stopped = state === 'stopping' || state === 'stopped';
    for (const t of tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t))) {
      stopTask(t, at, `Host EC2 (instance ${ci.ec2InstanceId}) ${stopped ? 'stopped' : 'terminated'}.`, 'TerminationNotice');
      finishStop(t, at);
    }
    ci.agentConnected = false;
    ci.version += 1;
    if (!stopped) {
      ci.status = 'INACTIVE';
      ci.deregisteredAt = at;
    }
  }
}

// ---- Tasks ------------------------------------------------------------------------------------------

const NEXT_PHASE: Partial<Record<TaskRecord['lastStatus'], TaskRecord['lastStatus']>> = {
  PROVISIONING: 'PENDING',
  PENDING: 'RUNNING',
};

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

function finishStop(t: TaskRecord, at: number): void {
  t.lastStatus = 'STOPPED';
  t.statusChangedAt = at;
  t.stoppedAt = at;
  t.version += 1;
}

/** Move every task through its phases up to `now`. */
function advanceTasks(world: World, now: number): boolean {
  const { taskPhaseMs, taskStopMs } = world.settings.latency;
  let progressed = false;
  if (taskRuntime(world)) return false; // the runtime moves its tasks through their phases (local/runner.ts)
  for (const t of Object.values(ecsState(world).tasks)) {
    if (t.lastStatus === 'STOPPING') {
      if (now >= t.statusChangedAt + taskStopMs) {
        finishStop(t, t.statusChangedAt + taskStopMs);
        progressed = true;
      }
      continue;
    }
    let next = t.desiredStatus === 'RUNNING' ? NEXT_PHASE[t.lastStatus] : undefined;
    while (next && now >= t.statusChangedAt + taskPhaseMs) {
      const at = t.statusChangedAt + taskPhaseMs;
      if (next === 'PENDING') t.pullStartedAt = at;
      if (next === 'RUNNING' && t.containers.some((c) => c.image.startsWith(`${UNPULLABLE_REGISTRY}/`))) {
        taskFailedToStart(world, t, at);
        progressed = true;
        break;
      }
      if (next === 'RUNNING') {
        t.pullStoppedAt = at;
        t.startedAt = at;
      }
      t.lastStatus = next;
      t.statusChangedAt = at;
      t.version += 1;
      progressed = true;
      next = NEXT_PHASE[t.lastStatus];
    }
  }
  return progressed;
}

/** A task whose image cannot be pulled stops; its deployment counts the failure (the circuit breaker). */
function taskFailedToStart(world: World, t: TaskRecord, at: number): void {
  const c = t.containers.find((x) => x.image.startsWith(`${UNPULLABLE_REGISTRY}/`))!;
  stopTask(
    t,
    at,
    `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${c.image}: ${UNPULLABLE_REGISTRY}: not found`,
    'TaskFailedToStart',
  );
  const svc = t.serviceArn ? ecsState(world).services[t.serviceArn] : undefined;
  const d = svc?.deployments.find((x) => x.id === t.startedBy);
  if (!svc || !d || d.rolloutState !== 'IN_PROGRESS') return;
  d.failedTasks += 1;
  const breaker = svc.deploymentConfiguration.deploymentCircuitBreaker;
  if (!breaker?.enable || d.failedTasks < circuitBreakerThreshold(d.desiredCount)) return;
  d.rolloutState = 'FAILED';
  d.rolloutStateReason = 'ECS deployment circuit breaker: tasks failed to start.';
  d.updatedAt = at;
  addEvent(world, svc, at, `(service ${svc.serviceName}) (deployment ${d.id}) deployment failed: tasks failed to start.`);
  const previous = svc.lastCompletedTaskDefinition;
  if (breaker.rollback && previous && previous !== d.taskDefinition) {
    svc.taskDefinition = previous;
    d.status = 'ACTIVE';
    const rollback = newDeployment(world, svc, at);
    svc.deployments.unshift(rollback);
    addEvent(world, svc, at, `(service ${svc.serviceName}) rolling back to deployment ${rollback.id}.`);
  }
}

// ---- Service scheduler ------------------------------------------------------------------------------

/** A new deployment of the service's current task definition. */
export function newDeployment(world: World, service: ServiceRecord, now: number): DeploymentRecord {
  const digits = BigInt('0x' + world.nextId('', 16)) % 10_000_000_000_000_000_000n;
  const id = `ecs-svc/${digits.toString().padStart(19, '0')}`;
  return {
    id,
    status: 'PRIMARY',
    taskDefinition: service.taskDefinition,
    desiredCount: service.desiredCount,
    createdAt: now,
    updatedAt: now,
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: `ECS deployment ${id} in progress.`,
    failedTasks: 0,
  };
}

function scheduleServices(world: World, now: number): boolean {
  let progressed = false;
  for (const svc of Object.values(ecsState(world).services)) {
    if (svc.status === 'INACTIVE') continue;
    if (svc.status === 'DRAINING') progressed = drainService(world, svc, now) || progressed;
    else progressed = scheduleService(world, svc, now) || progressed;
  }
  return progressed;
}

function drainService(world: World, svc: ServiceRecord, now: number): boolean {
  const live = tasksOf(world, (t) => t.serviceArn === svc.serviceArn && t.desiredStatus === 'RUNNING');
  for (const t of live) stopTask(t, now, 'Service deleted', 'ServiceSchedulerInitiated');
  if (live.length > 0) addEvent(world, svc, now, `(service ${svc.serviceName}) has stopped ${live.length} running tasks: ${taskList(live)}.`);
  const stillStopping = tasksOf(world, (t) => t.serviceArn === svc.serviceArn && isTaskActive(t));
  if (stillStopping.length === 0) {
    svc.status = 'INACTIVE';
    svc.deployments = [];
    return true;
  }
  return live.length > 0;
}

function scheduleService(world: World, svc: ServiceRecord, now: number): boolean {
  const primary = svc.deployments[0];
  if (!primary) return false;
  primary.desiredCount = svc.desiredCount;
  const live = () => tasksOf(world, (t) => t.serviceArn === svc.serviceArn && t.desiredStatus === 'RUNNING');
  const { maximumPercent, minimumHealthyPercent } = svc.deploymentConfiguration;
  const maxTotal = Math.max(svc.desiredCount, Math.floor((svc.desiredCount * maximumPercent) / 100));
  const minHealthy = Math.ceil((svc.desiredCount * minimumHealthyPercent) / 100);
  let progressed = false;

  // 1. Too many tasks of the current deployment (scaled in): stop the surplus, pending ones first.
  const current = live().filter((t) => t.startedBy === primary.id);
  if (current.length > svc.desiredCount) {
    const surplus = current
      .sort((a, b) => Number(a.lastStatus === 'RUNNING') - Number(b.lastStatus === 'RUNNING') || b.createdAt - a.createdAt)
      .slice(0, current.length - svc.desiredCount);
    for (const t of surplus) stopTask(t, now, 'Scaling activity initiated by (deployment ' + primary.id + ')', 'ServiceSchedulerInitiated');
    addEvent(world, svc, now, `(service ${svc.serviceName}) has stopped ${surplus.length} running tasks: ${taskList(surplus)}.`);
    svc.steady = false;
    progressed = true;
  }

  // 2. Start tasks of the current deployment, within maximumPercent (none once it has FAILED).
  const missing = primary.rolloutState === 'FAILED' ? 0 : Math.min(svc.desiredCount - live().filter((t) => t.startedBy === primary.id).length, maxTotal - live().length);
  if (missing > 0) {
    const td = findTaskDefinition(world, parseEcsArn(svc.serviceArn)!.region, primary.taskDefinition);
    const started: TaskRecord[] = [];
    for (let i = 0; i < missing && td; i++) {
      const placed = placeTask(world, svc, primary, td, now);
      if (typeof placed === 'string') {
        const message = `(service ${svc.serviceName}) was unable to place a task because no container instance met all of its requirements. ${placed} For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.`;
        if (svc.events[0]?.message !== message) addEvent(world, svc, now, message);
        break;
      }
      started.push(placed);
    }
    if (started.length > 0) {
      addEvent(world, svc, now, `(service ${svc.serviceName}) has started ${started.length} tasks: ${taskList(started)}.`);
      svc.steady = false;
      progressed = true;
    }
  }

  // 3. Retire tasks of older deployments while keeping minimumHealthyPercent of the service running.
  const old = live().filter((t) => t.startedBy !== primary.id);
  if (old.length > 0) {
    let healthy = live().filter((t) => t.lastStatus === 'RUNNING').length;
    const stopped: TaskRecord[] = [];
    for (const t of old.sort((a, b) => Number(a.lastStatus === 'RUNNING') - Number(b.lastStatus === 'RUNNING'))) {
      const isHealthy = t.lastStatus === 'RUNNING';
      if (isHealthy && healthy - 1 < minHealthy) continue;
      stopTask(t, now, `Task stopped by (deployment ${primary.id})`, 'ServiceSchedulerInitiated');
      if (isHealthy) healthy -= 1;
      stopped.push(t);
    }
    if (stopped.length > 0) {
      addEvent(world, svc, now, `(service ${svc.serviceName}) has stopped ${stopped.length} running tasks: ${taskList(stopped)}.`);
      svc.steady = false;
      progressed = true;
    }
  }

  // 4. Deployments whose tasks have all stopped are done; the rollout completes when the primary is whole.
  const before = svc.deployments.length;
  svc.deployments = svc.deployments.filter(
    (d) => d === primary || tasksOf(world, (t) => t.startedBy === d.id && isTaskActive(t)).length > 0,
  );
  if (svc.deployments.length !== before) progressed = true;
  const running = live().filter((t) => t.startedBy === primary.id && t.lastStatus === 'RUNNING').length;
  const settled = svc.deployments.length === 1 && running === svc.desiredCount && live().length === svc.desiredCount;
  if (settled && primary.rolloutState === 'IN_PROGRESS') {
    primary.rolloutState = 'COMPLETED';
    primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
    svc.lastCompletedTaskDefinition = primary.taskDefinition;
    primary.updatedAt = now;
    addEvent(world, svc, now, `(service ${svc.serviceName}) (deployment ${primary.id}) deployment completed.`);
  }
  if (settled && !svc.steady) {
    svc.steady = true;
    addEvent(world, svc, now, `(service ${svc.serviceName}) has reached a steady state.`);
  }
  return progressed;
}

function taskList(tasks: TaskRecord[]): string {
  return tasks.map((t) => `(task ${arnId(t.taskArn)})`).join(' ');
}

// ---- Placement --------------------------------------------------------------------------------------

interface Requirements {
  cpu: number;
  memory: number;
  attributes: string[];
}

function requirements(td: TaskDefinitionRecord): Requirements {
  const d = td.definition;
  const containers: any[] = d.containerDefinitions ?? [];
  const cpu = d.cpu !== undefined && /^\d+$/.test(d.cpu) ? Number(d.cpu) : containers.reduce((n, c) => n + (c.cpu ?? 0), 0);
  const memory =
    d.memory !== undefined && /^\d+$/.test(d.memory)
      ? Number(d.memory)
      : containers.reduce((n, c) => n + (c.memoryReservation ?? c.memory ?? 0), 0);
  return { cpu, memory, attributes: (d.requiresAttributes ?? []).map((a: { name: string }) => a.name) };
}

/** Place one task of the deployment, or explain (in ECS's words) why no container instance fits. */
function placeTask(world: World, svc: ServiceRecord, deployment: DeploymentRecord, td: TaskDefinitionRecord, now: number): TaskRecord | string {
  const ecs = ecsState(world);
  const candidates = Object.values(ecs.containerInstances).filter(
    (ci) => ci.clusterArn === svc.clusterArn && ci.status === 'ACTIVE' && ci.agentConnected,
  );
  if (candidates.length === 0) return 'Reason: No Container Instances were found in your cluster.';
  const req = requirements(td);
  const awsvpc = td.definition.networkMode === 'awsvpc';

  let closest: string | undefined;
  const fits: { ci: ContainerInstanceRecord; bindings: NetworkBinding[][] }[] = [];
  for (const ci of candidates) {
    const id = arnId(ci.containerInstanceArn);
    const names = new Set(ci.attributes.map((a) => a.name));
    const missing = req.attributes.find((a) => !names.has(a));
    const free = remainingResources(world, ci);
    let reason: string | undefined;
    if (missing) reason = `The closest matching (container-instance ${id}) is missing an attribute required by your task.`;
    else if (free.cpu < req.cpu) reason = `The closest matching (container-instance ${id}) has insufficient CPU units available.`;
    else if (free.memory < req.memory) reason = `The closest matching (container-instance ${id}) has insufficient memory available.`;
    const bindings = reason || awsvpc ? undefined : allocatePorts(td, free.tcpPorts, free.udpPorts);
    if (!reason && !awsvpc && !bindings) reason = `The closest matching (container-instance ${id}) is already using a port required by your task.`;
    if (reason) closest ??= reason;
    else fits.push({ ci, bindings: bindings ?? [] });
  }
  if (fits.length === 0) return closest!;

  // Spread: the instance running the fewest of this service's tasks, then the fewest tasks overall.
  const load = (ci: ContainerInstanceRecord, own: boolean) =>
    tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t) && (!own || t.serviceArn === svc.serviceArn)).length;
  fits.sort((a, b) => load(a.ci, true) - load(b.ci, true) || load(a.ci, false) - load(b.ci, false));
  const { ci, bindings } = fits[0];

  const cluster = ecs.clusters[svc.clusterArn];
  const region = parseEcsArn(svc.clusterArn)!.region;
  const taskId = world.nextId('', 32);
  const taskArn = ecsArn(world, region, `task/${cluster.clusterName}/${taskId}`);
  const task: TaskRecord = {
    taskArn,
    clusterArn: svc.clusterArn,
    taskDefinitionArn: td.taskDefinitionArn,
    containerInstanceArn: ci.containerInstanceArn,
    group: `service:${svc.serviceName}`,
    startedBy: deployment.id,
    serviceArn: svc.serviceArn,
    lastStatus: 'PROVISIONING',
    desiredStatus: 'RUNNING',
    createdAt: now,
    statusChangedAt: now,
    cpu: req.cpu,
    memory: req.memory,
    containers: (td.definition.containerDefinitions as any[]).map((c, i) => ({
      containerArn: ecsArn(world, region, `container/${cluster.clusterName}/${taskId}/${randomUUID()}`),
      name: c.name,
      image: c.image,
      networkBindings: bindings[i] ?? [],
      cpu: c.cpu ?? 0,
      memory: c.memory,
      memoryReservation: c.memoryReservation,
    })),
    version: 1,
    tags: svc.propagateTags === 'SERVICE' ? svc.tags : svc.propagateTags === 'TASK_DEFINITION' ? td.tags : [],
  };
  ecs.tasks[taskArn] = task;
  taskRuntime(world)?.taskPlaced(task);
  return task;
}

/** Host port bindings per container, or undefined when a fixed host port is taken. */
function allocatePorts(td: TaskDefinitionRecord, usedTcp: Set<number>, usedUdp: Set<number>): NetworkBinding[][] | undefined {
  const tcp = new Set(usedTcp);
  const udp = new Set(usedUdp);
  const result: NetworkBinding[][] = [];
  for (const c of td.definition.containerDefinitions as any[]) {
    const bindings: NetworkBinding[] = [];
    for (const pm of c.portMappings ?? []) {
      const used = pm.protocol === 'udp' ? udp : tcp;
      let hostPort: number = pm.hostPort;
      if (!hostPort) {
        // Dynamic host port from the ephemeral range, as Docker allocates it in bridge mode.
        hostPort = 32768;
        while (used.has(hostPort) && hostPort < 60999) hostPort++;
      }
      if (used.has(hostPort)) return undefined;
      used.add(hostPort);
      bindings.push({ bindIP: '0.0.0.0', containerPort: pm.containerPort, hostPort, protocol: pm.protocol ?? 'tcp' });
    }
    result.push(bindings);
  }
  return result;
}

// ---- Cleanup ----------------------------------------------------------------------------------------

function purge(world: World, now: number): void {
  const ecs = ecsState(world);
  for (const [arn, t] of Object.entries(ecs.tasks)) {
    if (t.lastStatus === 'STOPPED' && t.stoppedAt !== undefined && now - t.stoppedAt > RETENTION_MS) delete ecs.tasks[arn];
  }
  for (const [arn, ci] of Object.entries(ecs.containerInstances)) {
    if (ci.status === 'INACTIVE' && ci.deregisteredAt !== undefined && now - ci.deregisteredAt > RETENTION_MS) delete ecs.containerInstances[arn];
  }
  // Task definitions being deleted disappear once no task uses them.
  for (const fam of Object.values(ecs.taskDefinitions)) {
    for (const [rev, td] of Object.entries(fam.revisions)) {
      if (td.status !== 'DELETE_IN_PROGRESS' || td.deleteRequestedAt === undefined) continue;
      if (now < td.deleteRequestedAt + world.settings.latency.taskStopMs) continue;
      const inUse = tasksOf(world, (t) => t.taskDefinitionArn === td.taskDefinitionArn && isTaskActive(t)).length > 0;
      if (!inUse) delete fam.revisions[rev];
    }
  }
}
