/**
 * What the runner keeps of a task it runs (TaskRun), what Docker last said of each container
 * (ContainerState), and when a container may start: after its links, and its dependsOn conditions
 * (START, COMPLETE, SUCCESS, HEALTHY) as Docker reports them.
 */
import type Docker from 'dockerode';
import type { ContainerPlan, HostDir } from './containers.js';

export interface TaskRun {
  taskArn: string;
  plans: ContainerPlan[];
  ids: Map<string, string>;
  started: Set<string>;
  /** Every container was started (the task may become RUNNING once its essential ones run). */
  allStarted: boolean;
  failed?: { reason: string; stopCode: string };
  starting?: Promise<void>;
  stopping?: Promise<void>;
  stoppingDone?: boolean;
  removing?: Promise<void>;
  removed?: boolean;
  /** name -> last Docker state seen. */
  state: Map<string, ContainerState>;
  /** Logging containers: name -> their /var/log on this machine. */
  logDirs: Map<string, { dir: string; env: Record<string, string>; hostDir?: HostDir }>;
  instanceId: string;
  hostRoot: string;
  network: string;
}

export interface ContainerState {
  status: string;
  running: boolean;
  /** Docker started it at some point (a look taken before its start says false). */
  everStarted: boolean;
  exitCode: number;
  oom: boolean;
  health?: string;
  error?: string;
}

/** Docker's inspection of a container, or undefined when it is gone (then: stopped, 137). */
export function containerState(info: Docker.ContainerInspectInfo | undefined): ContainerState {
  return info
    ? { status: info.State.Status, running: info.State.Running, everStarted: Boolean(info.State.StartedAt) && !info.State.StartedAt.startsWith('0001'), exitCode: info.State.ExitCode, oom: info.State.OOMKilled, health: info.State.Health?.Status, error: info.State.Error || undefined }
    : { status: 'removed', running: false, everStarted: true, exitCode: 137, oom: false, error: 'the container was removed' };
}

/** ok, wait, or why the container can never start. */
export function dependencyVerdict(run: Pick<TaskRun, 'started' | 'state'>, p: ContainerPlan): 'ok' | 'wait' | string {
  for (const link of p.links) if (!run.started.has(link)) return 'wait';
  for (const d of p.dependsOn) {
    if (!run.started.has(d.containerName ?? '')) return 'wait';
    const s = run.state.get(d.containerName ?? '');
    if (d.condition === 'START') continue;
    if (!s) return 'wait';
    if (d.condition === 'HEALTHY') {
      if (s.health === 'healthy') continue;
      if (!s.everStarted) return 'wait';
      if (!s.running || s.health === 'unhealthy') return `dependency ${d.containerName} of container ${p.name} did not become HEALTHY`;
      return 'wait';
    }
    if (s.running || !s.everStarted) return 'wait';
    if (d.condition === 'SUCCESS' && s.exitCode !== 0) return `dependency ${d.containerName} of container ${p.name} exited with ${s.exitCode}, not 0`;
  }
  return 'ok';
}
