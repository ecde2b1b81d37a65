/**
 * The stack's directory seen from the simulated instances: each instance's stand-in root
 * (dir/instances/<instance-id>/root), and the lines the simulated ECS agent, ecs-init and dockerd
 * write beneath it (/var/log/ecs, /var/log/ecs-cwlogs), as they write them on the instance. Every
 * directory is made beneath the stack's, through no symbolic link (confine.ts).
 */
import { join, relative } from 'node:path';
import { arnId, ecsState, type TaskRecord } from '../services/ecs/state.js';
import type { Ec2StateView, World } from '../types.js';
import { appendBeneath, ConfinementError, ensureDirBeneath, relativeParts } from './confine.js';
import type { HostDir } from './containers.js';

export class InstanceFiles {
  private readonly noted = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly world: World,
    private readonly log: (line: string) => void,
  ) {}

  hostRoot(instanceId: string): string {
    return join(this.dir, 'instances', instanceId, 'root');
  }

  /** Lines of the simulated agent in the instance's /var/log/ecs, as the ECS agent writes them. */
  agentLog(t: TaskRecord | string, level: string, msg: string, fields = ''): void {
    const instanceId = typeof t === 'string' ? t : ecsState(this.world).containerInstances[t.containerInstanceArn]?.ec2InstanceId;
    if (!instanceId) return;
    this.appendHostLog(instanceId, 'ecs-agent.log', `level=${level} time=${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} msg="${msg}"${fields ? ` ${fields}` : ''}`);
  }

  appendHostLog(instanceId: string, file: string, line: string, dir: string[] = ['var', 'log', 'ecs']): void {
    // A task with a host volume on / or /var/log can put a link where the agent's log is: the line
    // is appended to the file beneath the instance's root, or not at all.
    try {
      appendBeneath(this.ensureStackDir(this.hostRoot(instanceId)), [...dir, file], `${line}\n`);
    } catch (e) {
      if (!(e instanceof ConfinementError)) throw e;
      this.warnOnce(`agent log: ${e.message}; the line is not written`);
    }
  }

  /** A host directory's components from the stack's directory down (every walk starts there). */
  stackParts(d: HostDir): string[] {
    return [...relativeParts(relative(this.dir, d.base)), ...d.parts];
  }

  /** A directory of the stack's own (an instance's root, a task's directory), made beneath `dir`. */
  ensureStackDir(path: string): string {
    return ensureDirBeneath(this.dir, relativeParts(relative(this.dir, path)));
  }

  private readonly warned = new Set<string>();

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.log(`warning: ${message}`);
  }

  /**
   * dockerd's journal as the instance's user data forwards it to /var/log/ecs-cwlogs/docker.log
   * (templates/user-data.sh: journalctl's short-iso lines), which the logging task ships as <prefix>-docker.
   */
  dockerdLog(instanceId: string, level: string, msg: string, fields = ''): void {
    const inst = (this.world.state.ec2 as Ec2StateView | undefined)?.instances?.[instanceId];
    const host = `ip-${(inst?.privateIpAddress ?? '127.0.0.1').replace(/\./g, '-')}`;
    const now = new Date().toISOString();
    const line = `${now.replace(/\.\d+Z$/, '+0000')} ${host} dockerd[2345]: time="${now}" level=${level} msg="${msg}"${fields ? ` ${fields}` : ''}`;
    this.appendHostLog(instanceId, 'docker.log', line, ['var', 'log', 'ecs-cwlogs']);
  }

  /** First sight of an ACTIVE container instance: ecs-init and agent start-up lines. */
  noteInstances(): boolean {
    for (const ci of Object.values(ecsState(this.world).containerInstances)) {
      if (ci.status !== 'ACTIVE' || this.noted.has(ci.ec2InstanceId)) continue;
      this.noted.add(ci.ec2InstanceId);
      const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      this.appendHostLog(ci.ec2InstanceId, 'ecs-init.log', `level=info time=${time} msg="ecs-init (sandbox): the ECS agent runs in the ecs-cwlogs sandbox"`);
      this.dockerdLog(ci.ec2InstanceId, 'info', 'Daemon has completed initialization');
      this.agentLog(ci.ec2InstanceId, 'info', 'Registered container instance with cluster', `containerInstance="${arnId(ci.containerInstanceArn)}"`);
    }
    return false;
  }
}
