/**
 * The one seam between the simulated ECS agent (../services/ecs/agent.ts) and the local runner (runner.ts): when a
 * runtime is attached to a world, tasks are really run (on the local Docker engine) and the runtime,
 * not the latency timers, moves them PROVISIONING -> PENDING -> RUNNING and STOPPING -> STOPPED.
 * Kept outside the world's JSON state: a runtime is a property of the sandbox process, not of the
 * persisted account.
 */
import type { TaskRecord } from '../services/ecs/state.js';
import type { World } from '../types.js';

export interface TaskRuntime {
  /** A task was just placed on a container instance (the agent would now pull and start it). */
  taskPlaced(task: TaskRecord): void;
}

const runtimes = new WeakMap<World, TaskRuntime>();

export function attachRuntime(world: World, runtime: TaskRuntime): void {
  runtimes.set(world, runtime);
}

export function detachRuntime(world: World): void {
  runtimes.delete(world);
}

/** The runtime running this world's tasks, if any (then the agent's phase timers do not apply). */
export function taskRuntime(world: World): TaskRuntime | undefined {
  return runtimes.get(world);
}
