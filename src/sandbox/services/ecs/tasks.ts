/** ECS tasks: RunTask, ListTasks, DescribeTasks, StopTask, and the task phase timer. */
import type {
  Failure,
  RunTaskRequest,
  RunTaskResponse,
  DescribeTasksRequest,
  DescribeTasksResponse,
  ListTasksRequest,
  ListTasksResponse,
  StopTaskRequest,
  StopTaskResponse,
  Task,
} from '@aws-sdk/client-ecs';
import { jsonBody, typedOperation } from '../../typed.js';
import { findContainerInstance } from './container-instances.js';
import { UNPULLABLE_REGISTRY, allocatePorts, requirements, taskContainers } from './scheduler.js';
import type { Operation } from '../../types.js';
import { taskRuntime } from '../../local/hooks.js';
import { paginate } from '../../paginate.js';
import { type World } from '../../types.js';
import { taskFailedToStart } from './scheduler.js';
import { type ClusterRecord, type ContainerInstanceRecord, type EcsTag, type NetworkBinding, type ServiceRecord, type TaskRecord, arnId, findTaskDefinition, isTaskActive, remainingResources, date, ecsArn, ecsState, findService, finishStop, includes, invalidParameter, clientError, optString, optStringList, pageRequest, parseEcsArn, reqString, requireActiveCluster, serviceNotFound, stopTask, tasksOf } from './state.js';

/** The zone of the task's container instance (its agent's ecs.availability-zone attribute). */
function taskZone(world: World, t: TaskRecord): string {
  const ci = ecsState(world).containerInstances[t.containerInstanceArn];
  const zone = ci?.attributes.find((a) => a.name === 'ecs.availability-zone')?.value;
  return zone ?? `${parseEcsArn(t.taskArn)?.region ?? 'us-east-1'}a`;
}

function taskView(world: World, t: TaskRecord, p: { include?: string[] }): Task {
  const containerStatus = t.lastStatus === 'PROVISIONING' ? 'PENDING' : t.lastStatus === 'STOPPING' ? 'RUNNING' : t.lastStatus;
  return {
    attachments: [],
    attributes: [],
    availabilityZone: taskZone(world, t),
    capacityProviderName: t.capacityProviderName,
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
    stopCode: t.stopCode as Task['stopCode'],
    stoppedAt: date(t.stoppedAt),
    stoppedReason: t.stoppedReason,
    stoppingAt: date(t.stoppingAt),
    tags: includes(p, 'TAGS') ? t.tags : [],
    taskArn: t.taskArn,
    taskDefinitionArn: t.taskDefinitionArn,
    version: t.version,
  };
}

function findTask(world: World, cluster: ClusterRecord, ref: string): TaskRecord | undefined {
  const id = ref.startsWith('arn:') ? arnId(ref) : ref;
  return tasksOf(world, (t) => t.clusterArn === cluster.clusterArn && arnId(t.taskArn) === id)[0];
}

const listTasks = typedOperation<ListTasksRequest, ListTasksResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
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
  },
});

const describeTasks = typedOperation<DescribeTasksRequest, DescribeTasksResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const refs = optStringList(p, 'tasks');
    if (!refs || refs.length === 0) throw invalidParameter('Tasks cannot be empty.');
    if (refs.length > 100) throw invalidParameter('tasks can have at most 100 items.');
    const tasks = [];
    const failures = [];
    for (const ref of refs) {
      const t = findTask(world, cluster, ref);
      if (t) tasks.push(taskView(world, t, p));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : ecsArn(world, region, `task/${cluster.clusterName}/${ref}`), reason: 'MISSING' });
    }
    return { tasks, failures };
  },
});

const stopTaskOp = typedOperation<StopTaskRequest, StopTaskResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const t = findTask(world, cluster, reqString(p, 'task', invalidParameter));
    if (!t) throw invalidParameter('The referenced task was not found.');
    if (t.desiredStatus !== 'STOPPED') {
      stopTask(t, now, optString(p, 'reason') ?? 'Task stopped by user', 'UserInitiated');
      if (t.serviceArn) {
        const svc = ecsState(world).services[t.serviceArn];
        if (svc) svc.steady = false;
      }
    }
    return { task: taskView(world, t, {}) };
  },
});

/**
 * RunTask (EC2 launch type): each of `count` tasks is placed as ECS places a standalone task -- on an
 * ACTIVE container instance of the cluster whose agent is connected, with the CPU, memory, host ports and
 * attributes the task definition needs (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement.html);
 * placementStrategy is honoured (spread over the task's group, binpack, random); there is no default
 * constraint. A task that fits nowhere is not an error: it is a `failures` entry naming the closest
 * container instance and why, RESOURCE:CPU / RESOURCE:MEMORY / RESOURCE:PORTS / ATTRIBUTE / AGENT
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html). A cluster
 * with no container instance at all is an InvalidParameterException ("No Container Instances were
 * found in your cluster.", as aws/amazon-ecs-cli#1122 shows). Fargate is not modelled: refused.
 */
const runTask = typedOperation<RunTaskRequest, RunTaskResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (p, { world, region, now }) => {
    const cluster = requireActiveCluster(world, region, p.cluster);
    if (!p.taskDefinition) throw invalidParameter('TaskDefinition can not be blank.');
    const count = p.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 10) throw invalidParameter('count must be between 1 and 10.');
    if (p.launchType && p.capacityProviderStrategy?.length) throw invalidParameter('Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.');
    if (p.launchType && p.launchType !== 'EC2') throw invalidParameter(`Task definition does not support launch_type ${p.launchType}.`);
    if (p.capacityProviderStrategy?.length) throw invalidParameter('The sandbox places RunTask tasks by launch type EC2 only: give --launch-type EC2.');
    const td = findTaskDefinition(world, region, p.taskDefinition);
    if (!td) throw clientError('Unable to describe task definition.');
    if (td.status !== 'ACTIVE') throw clientError(`TaskDefinition is inactive`);
    const group = p.group ?? `family:${td.family}`;
    const all = Object.values(ecsState(world).containerInstances).filter((ci) => ci.clusterArn === cluster.clusterArn && ci.status === 'ACTIVE');
    if (all.length === 0) throw invalidParameter('No Container Instances were found in your cluster.');
    const req = requirements(td);
    const tags: EcsTag[] = (p.tags ?? []).map((t) => ({ key: t.key ?? '', value: t.value ?? '' }));
    const tasks: Task[] = [];
    const failures: Failure[] = [];
    for (let n = 0; n < count; n++) {
      const fits: { ci: ContainerInstanceRecord; bindings: NetworkBinding[][] }[] = [];
      let closest: Failure | undefined;
      for (const ci of all) {
        const free = remainingResources(world, ci);
        const names = new Set(ci.attributes.map((a) => a.name));
        let reason: string | undefined;
        if (!ci.agentConnected) reason = 'AGENT';
        else if (req.attributes.some((a) => !names.has(a))) reason = 'ATTRIBUTE';
        else if (free.cpu < req.cpu) reason = 'RESOURCE:CPU';
        else if (free.memory < req.memory) reason = 'RESOURCE:MEMORY';
        const bindings = reason || td.definition.networkMode === 'awsvpc' ? [] : allocatePorts(td, free.tcpPorts, free.udpPorts);
        if (!reason && !bindings) reason = 'RESOURCE:PORTS';
        if (reason) closest ??= { arn: ci.containerInstanceArn, reason };
        else fits.push({ ci, bindings: bindings ?? [] });
      }
      if (fits.length === 0) {
        failures.push(closest!);
        continue;
      }
      const { ci, bindings } = orderForRunTask(world, group, p.placementStrategy ?? [], fits)[0]!;
      const taskId = world.nextId('', 32);
      const task: TaskRecord = {
        taskArn: ecsArn(world, region, `task/${cluster.clusterName}/${taskId}`),
        clusterArn: cluster.clusterArn,
        taskDefinitionArn: td.taskDefinitionArn,
        containerInstanceArn: ci.containerInstanceArn,
        group,
        startedBy: p.startedBy,
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        createdAt: now,
        statusChangedAt: now,
        cpu: req.cpu,
        memory: req.memory,
        containers: taskContainers(world, region, cluster.clusterName, taskId, td, bindings),
        version: 1,
        tags: p.propagateTags === 'TASK_DEFINITION' ? [...td.tags, ...tags] : tags,
      };
      ecsState(world).tasks[task.taskArn] = task;
      taskRuntime(world)?.taskPlaced(task);
      tasks.push(taskView(world, task, { include: ['TAGS'] }));
    }
    return { tasks, failures };
  },
});

/** The container instances that fit, best first by the strategy (spread counts the task's group). */
function orderForRunTask<T extends { ci: ContainerInstanceRecord }>(world: World, group: string, strategy: { type?: string; field?: string }[], fits: T[]): T[] {
  const groupTasks = tasksOf(world, (t) => t.group === group && isTaskActive(t));
  const key = (ci: ContainerInstanceRecord): number[] =>
    strategy.map((st) => {
      if (st.type === 'binpack') {
        const free = remainingResources(world, ci);
        return st.field === 'cpu' ? free.cpu : free.memory;
      }
      if (st.type === 'random') return Math.random();
      const field = st.field ?? 'instanceId';
      const valueOf = (c: ContainerInstanceRecord | undefined) =>
        !c ? undefined : field === 'instanceId' || field === 'host' ? c.ec2InstanceId : c.attributes.find((a) => a.name === field.replace(/^attribute:/, ''))?.value;
      const ciOf = (arn: string) => ecsState(world).containerInstances[arn];
      return groupTasks.filter((t) => valueOf(ciOf(t.containerInstanceArn)) === valueOf(ci)).length;
    });
  return [...fits].sort((a, b) => {
    const ka = key(a.ci);
    const kb = key(b.ci);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return 0;
  });
}

// ---- Phases ----

export const NEXT_PHASE: Partial<Record<TaskRecord['lastStatus'], TaskRecord['lastStatus']>> = {
  PROVISIONING: 'PENDING',
  PENDING: 'RUNNING',
};

/** Move every task through its phases up to `now`. */
export function advanceTasks(world: World, now: number): boolean {
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

export const operations: Record<string, Operation> = {
  RunTask: runTask,
  ListTasks: listTasks,
  DescribeTasks: describeTasks,
  StopTask: stopTaskOp,
};
