/**
 * The ECS service scheduler: deployments, placement, the circuit breaker.
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
import { deregisterTarget, registerTarget, targetHealth } from '../elbv2/targets.js';
import { providerInstances } from './capacity-providers.js';
import { taskRuntime } from '../../local/hooks.js';
import { type World } from '../../types.js';
import { type ContainerInstanceRecord, type DeploymentRecord, type NetworkBinding, type ServiceRecord, type TaskDefinitionRecord, type TaskRecord, addEvent, arnId, ecsArn, ecsState, findTaskDefinition, isTaskActive, parseEcsArn, remainingResources, stopTask, tasksOf } from './state.js';

/** Images on this registry host never pull (see above). */
export const UNPULLABLE_REGISTRY = 'unpullable.sandbox.invalid';

/** Failed tasks of one deployment that trip the circuit breaker: ECS's max(3, ceil(desired / 2)), at most 200. */
export function circuitBreakerThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(desiredCount / 2)));
}

/** A task whose image cannot be pulled stops; its deployment counts the failure (the circuit breaker). */
export function taskFailedToStart(world: World, t: TaskRecord, at: number): void {
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

export function scheduleServices(world: World, now: number): boolean {
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
    let healthy = live().filter((t) => isHealthy(world, svc, t, now)).length;
    const stopped: TaskRecord[] = [];
    for (const t of old.sort((a, b) => Number(a.lastStatus === 'RUNNING') - Number(b.lastStatus === 'RUNNING'))) {
      const wasHealthy = isHealthy(world, svc, t, now);
      if (wasHealthy && healthy - 1 < minHealthy) continue;
      stopTask(t, now, `Task stopped by (deployment ${primary.id})`, 'ServiceSchedulerInitiated');
      if (wasHealthy) healthy -= 1;
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
  const running = live().filter((t) => t.startedBy === primary.id && isHealthy(world, svc, t, now)).length;
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

export interface Requirements {
  cpu: number;
  memory: number;
  attributes: string[];
}

export function requirements(td: TaskDefinitionRecord): Requirements {
  const d = td.definition;
  const containers = d.containerDefinitions ?? [];
  const cpu = d.cpu !== undefined && /^\d+$/.test(d.cpu) ? Number(d.cpu) : containers.reduce((n, c) => n + (c.cpu ?? 0), 0);
  const memory =
    d.memory !== undefined && /^\d+$/.test(d.memory)
      ? Number(d.memory)
      : containers.reduce((n, c) => n + (c.memoryReservation ?? c.memory ?? 0), 0);
  return { cpu, memory, attributes: (d.requiresAttributes ?? []).map((a) => a.name ?? '') };
}

/** Place one task of the deployment, or explain (in ECS's words) why no container instance fits. */
function placeTask(world: World, svc: ServiceRecord, deployment: DeploymentRecord, td: TaskDefinitionRecord, now: number): TaskRecord | string {
  const ecs = ecsState(world);
  let candidates = Object.values(ecs.containerInstances).filter(
    (ci) => ci.clusterArn === svc.clusterArn && ci.status === 'ACTIVE' && ci.agentConnected,
  );
  if (candidates.length === 0) return 'Reason: No Container Instances were found in your cluster.';
  // A capacity provider strategy: the provider this task goes to (base first, then by weight), and only
  // the container instances whose EC2 instance is in that provider's Auto Scaling group.
  const region = parseEcsArn(svc.serviceArn)!.region;
  const provider = svc.capacityProviderStrategy?.length ? chooseProvider(world, svc) : undefined;
  if (provider) {
    // Registered with that provider (its AmazonECSManaged instances) and still in its group.
    const members = providerInstances(world, region, provider);
    candidates = candidates.filter((ci) => ci.capacityProviderName === provider && members.has(ci.ec2InstanceId));
    if (candidates.length === 0) return `Reason: No Container Instances were found in your capacity provider.`;
  }
  if (svc.placementConstraints.some((c) => c?.type === 'distinctInstance')) {
    const busy = new Set(tasksOf(world, (t) => t.serviceArn === svc.serviceArn && isTaskActive(t)).map((t) => t.containerInstanceArn));
    const free = candidates.filter((ci) => !busy.has(ci.containerInstanceArn));
    if (free.length === 0) {
      return `The closest matching (container-instance ${arnId(candidates[0].containerInstanceArn)}) encountered error "DistinctInstance placement constraint unsatisfied."`;
    }
    candidates = free;
  }
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

  orderByPlacement(world, svc, fits);
  const { ci, bindings } = fits[0];

  const cluster = ecs.clusters[svc.clusterArn];
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
    containers: taskContainers(world, region, cluster.clusterName, taskId, td, bindings),
    version: 1,
    capacityProviderName: provider,
    tags: svc.propagateTags === 'SERVICE' ? svc.tags : svc.propagateTags === 'TASK_DEFINITION' ? td.tags : [],
  };
  ecs.tasks[taskArn] = task;
  taskRuntime(world)?.taskPlaced(task);
  return task;
}

/** Host port bindings per container, or undefined when a fixed host port is taken. */
/** A new task's containers, one per container definition, with the host ports it was given. */
export function taskContainers(world: World, region: string, clusterName: string, taskId: string, td: TaskDefinitionRecord, bindings: NetworkBinding[][]): TaskRecord['containers'] {
  return td.definition.containerDefinitions.map((c, i) => ({
    containerArn: ecsArn(world, region, `container/${clusterName}/${taskId}/${randomUUID()}`),
    name: c.name,
    image: c.image,
    networkBindings: bindings[i] ?? [],
    cpu: c.cpu ?? 0,
    memory: c.memory,
    memoryReservation: c.memoryReservation,
  }));
}

export function allocatePorts(td: TaskDefinitionRecord, usedTcp: Set<number>, usedUdp: Set<number>): NetworkBinding[][] | undefined {
  const tcp = new Set(usedTcp);
  const udp = new Set(usedUdp);
  const result: NetworkBinding[][] = [];
  for (const c of td.definition.containerDefinitions) {
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

// ---- Capacity providers and placement strategies ------------------------------------------------------

/** The strategy's provider for the next task: one whose base is not yet met, else the most under its weight. */
function chooseProvider(world: World, svc: ServiceRecord): string {
  const strategy = svc.capacityProviderStrategy!;
  const live = tasksOf(world, (t) => t.serviceArn === svc.serviceArn && t.desiredStatus === 'RUNNING');
  const count = (name: string) => live.filter((t) => t.capacityProviderName === name).length;
  const unmet = strategy.find((i) => i.base > 0 && count(i.capacityProvider) < i.base);
  if (unmet) return unmet.capacityProvider;
  const weighted = strategy.filter((i) => i.weight > 0);
  weighted.sort((a, b) => count(a.capacityProvider) / a.weight - count(b.capacityProvider) / b.weight);
  return (weighted[0] ?? strategy[0]).capacityProvider;
}

function attribute(ci: ContainerInstanceRecord, field: string): string {
  if (field === 'instanceId' || field === 'host') return ci.ec2InstanceId;
  const name = field.startsWith('attribute:') ? field.slice('attribute:'.length) : field;
  return ci.attributes.find((a) => a.name === name)?.value ?? '';
}

/**
 * Order the instances that fit by the service's placementStrategy, in order (spread: fewest of the
 * service's tasks sharing the field's value; binpack: least of cpu/memory left; random). Without a
 * strategy, spread over instances (ECS's default for services): fewest of this service's tasks, then
 * fewest tasks overall.
 */
function orderByPlacement(world: World, svc: ServiceRecord, fits: { ci: ContainerInstanceRecord }[]): void {
  const own = tasksOf(world, (t) => t.serviceArn === svc.serviceArn && isTaskActive(t));
  const ciByArn = new Map(Object.values(ecsState(world).containerInstances).map((ci) => [ci.containerInstanceArn, ci]));
  const strategies = (svc.placementStrategy as { type: string; field?: string }[]).length
    ? (svc.placementStrategy as { type: string; field?: string }[])
    : [{ type: 'spread', field: 'instanceId' }];
  const keys = new Map<ContainerInstanceRecord, number[]>();
  for (const { ci } of fits) {
    const key: number[] = [];
    for (const st of strategies) {
      if (st.type === 'spread') {
        const value = attribute(ci, st.field ?? 'instanceId');
        key.push(own.filter((t) => { const c = ciByArn.get(t.containerInstanceArn); return c !== undefined && attribute(c, st.field ?? 'instanceId') === value; }).length);
      } else if (st.type === 'binpack') {
        const free = remainingResources(world, ci);
        key.push(st.field === 'cpu' ? free.cpu : free.memory);
      } else {
        key.push(Math.random());
      }
    }
    if (!(svc.placementStrategy as unknown[]).length) {
      key.push(tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t)).length);
    }
    keys.set(ci, key);
  }
  fits.sort((a, b) => {
    const ka = keys.get(a.ci)!;
    const kb = keys.get(b.ci)!;
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
    return 0;
  });
}

// ---- Load balancers -------------------------------------------------------------------------------------

/** Where the service's load balancer config points a task: (target group, instance, host port). */
function targetsOf(world: World, svc: ServiceRecord, t: TaskRecord): { targetGroupArn: string; id: string; port: number }[] {
  const ci = ecsState(world).containerInstances[t.containerInstanceArn];
  if (!ci) return [];
  const out: { targetGroupArn: string; id: string; port: number }[] = [];
  for (const lb of svc.loadBalancers ?? []) {
    const c = t.containers.find((x) => x.name === lb.containerName);
    const binding = c?.networkBindings.find((b) => b.containerPort === lb.containerPort);
    if (binding) out.push({ targetGroupArn: lb.targetGroupArn, id: ci.ec2InstanceId, port: binding.hostPort });
  }
  return out;
}

/** A task counts as healthy once RUNNING and, with load balancers, healthy in each target group. */
function isHealthy(world: World, svc: ServiceRecord, t: TaskRecord, now: number): boolean {
  if (t.lastStatus !== 'RUNNING') return false;
  if (!svc.loadBalancers?.length) return true;
  const registered = t.registeredTargets ?? [];
  if (registered.length < svc.loadBalancers.length) return false;
  return registered.every((r) => targetHealth(world, r.targetGroupArn, r.id, r.port, now) === 'healthy');
}

/**
 * Register RUNNING service tasks in their target groups and deregister tasks that are stopping
 * (ELBv2 drains them for the target group's deregistration delay), with ECS's service events.
 */
export function syncTargets(world: World, now: number): boolean {
  let progressed = false;
  const ecs = ecsState(world);
  for (const t of Object.values(ecs.tasks)) {
    const svc = t.serviceArn ? ecs.services[t.serviceArn] : undefined;
    if (!svc) continue;
    if (t.desiredStatus === 'RUNNING' && t.lastStatus === 'RUNNING' && svc.loadBalancers?.length && !t.registeredTargets?.length) {
      const targets = targetsOf(world, svc, t).filter((x) => registerTarget(world, x.targetGroupArn, x.id, x.port, now));
      if (targets.length === 0) continue;
      t.registeredTargets = targets;
      for (const tg of new Set(targets.map((x) => x.targetGroupArn))) {
        addEvent(world, svc, now, `(service ${svc.serviceName}) registered ${targets.filter((x) => x.targetGroupArn === tg).length} targets in (target-group ${tg})`);
      }
      progressed = true;
    } else if (t.desiredStatus === 'STOPPED' && t.registeredTargets?.length) {
      const targets = t.registeredTargets;
      t.registeredTargets = [];
      for (const x of targets) deregisterTarget(world, x.targetGroupArn, x.id, x.port, now);
      for (const tg of new Set(targets.map((x) => x.targetGroupArn))) {
        addEvent(world, svc, now, `(service ${svc.serviceName}) deregistered ${targets.filter((x) => x.targetGroupArn === tg).length} targets in (target-group ${tg})`);
      }
      progressed = true;
    }
  }
  return progressed;
}
