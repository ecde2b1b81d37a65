/** ECS tasks: ListTasks, DescribeTasks, StopTask, and the task phase timer. */
import type {
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
import { UNPULLABLE_REGISTRY } from './scheduler.js';
import type { Operation } from '../../types.js';
import { taskRuntime } from '../../local/hooks.js';
import { paginate } from '../../paginate.js';
import { type World } from '../../types.js';
import { taskFailedToStart } from './scheduler.js';
import { type ClusterRecord, type ServiceRecord, type TaskRecord, arnId, date, ecsArn, ecsState, findService, finishStop, includes, invalidParameter, optString, optStringList, pageRequest, parseEcsArn, reqString, requireActiveCluster, serviceNotFound, stopTask, tasksOf } from './state.js';

/** The zone of the task's container instance (its agent's ecs.availability-zone attribute). */
function taskZone(world: World, t: TaskRecord): string {
  const ci = ecsState(world).containerInstances[t.containerInstanceArn];
  const zone = ci?.attributes.find((a) => a.name === 'ecs.availability-zone')?.value;
  return zone ?? `${parseEcsArn(t.taskArn)?.region ?? 'us-east-1'}a`;
}

function taskView(world: World, t: TaskRecord, p: Record<string, any>): Task {
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
    const p = input as Record<string, any>;
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
    const p = input as Record<string, any>;
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
    const p = input as Record<string, any>;
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
  ListTasks: listTasks,
  DescribeTasks: describeTasks,
  StopTask: stopTaskOp,
};
