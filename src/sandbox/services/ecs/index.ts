/**
 * Amazon ECS (AWS JSON 1.1, target prefix AmazonEC2ContainerServiceV20141113).
 * The simulated ECS container agent and service scheduler, run from the ECS module's tick() before
 * every request. State is advanced lazily from timestamps, so it survives persistence and works the
 * same with a ManualClock.
 */
import { NEXT_PHASE } from './tasks.js';
import { capacityProviderTick, operations as capacityProviders } from './capacity-providers.js';
import { operations as clusters } from './clusters.js';
import { operations as containerInstances } from './container-instances.js';
import { operations as taskDefinitions } from './task-definitions.js';
import { operations as services } from './services.js';
import { operations as tasks } from './tasks.js';
import { operations as tags } from './tags.js';
import type { ServiceModule } from '../../types.js';
import { initEcsState } from './state.js';
import { taskRuntime } from '../../local/hooks.js';
import { type Ec2StateView, type World } from '../../types.js';
import { syncAgents } from './agent.js';
import { scheduleServices, syncTargets } from './scheduler.js';
import { ecsState, isTaskActive, tasksOf } from './state.js';
import { advanceTasks } from './tasks.js';

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
  capacityProviderTick(world, now);
  purge(world, now);
}

function step(world: World, at: number): void {
  syncAgents(world, at);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const progressed = advanceTasks(world, at) || syncTargets(world, at) || scheduleServices(world, at);
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

export const ecsService: ServiceModule = {
  name: 'ecs',
  protocol: 'json',
  targetPrefix: 'AmazonEC2ContainerServiceV20141113',
  initState: initEcsState,
  tick: ecsTick,
  operations: {
    ...clusters,
    ...capacityProviders,
    ...containerInstances,
    ...taskDefinitions,
    ...services,
    ...tasks,
    ...tags,
  },
};
