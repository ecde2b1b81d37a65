/**
 * The local runner: with `--local`, the sandbox's simulated ECS agent really runs the tasks it
 * places, on the local Docker engine (DOCKER_HOST), as the ECS agent would on the instance:
 *
 *   placed (PROVISIONING) -> PENDING: images present or pulled, the task's network and containers
 *     created, then started in dependency order (links first; dependsOn START, COMPLETE, SUCCESS,
 *     HEALTHY, as Docker reports them)
 *   -> RUNNING: every essential container runs
 *   -> STOPPING (an essential container exited, failed its health check, or the scheduler stopped the
 *     task) -> STOPPED once every container has stopped, with each container's exit code and reason;
 *     the service scheduler then starts a replacement, as ECS does.
 *
 * The instance's file system is a directory per stack (dir/instances/<instance-id>/root), where host
 * volumes live (/var/log/ecs: the simulated agent writes its ecs-agent.log and ecs-init.log there).
 * The logging container's /var/log is bind-mounted from dir/tasks/<task-id>/<container>/var/log,
 * which the log shipper (log-shipper.ts) follows in place of the CloudWatch agent.
 *
 * Every directory the runner creates or mounts, and every file it appends to or ships, lies beneath
 * the stack's directory and is reached through no symbolic link (confine.ts): a host volume's
 * sourcePath resolves inside the instance's stand-in root as it would on the instance, a task whose
 * paths or names cannot be placed there stops with CannotCreateContainerError before anything is
 * created, and the directories are checked again just before each container starts (the moment
 * Docker resolves its mounts).
 *
 * Everything on Docker carries the stack's label (labels.ts). At start the runner adopts the
 * containers of the tasks it still knows as active and removes every other labelled container, so a
 * sandbox killed with SIGKILL leaves no orphan after its next start.
 *
 * Beside this file: task-run.ts (what is kept of a running task, when a container may start),
 * containers.ts (a definition's containers as Docker options), pull.ts (images), instance-files.ts
 * (the instances' stand-in roots and the agent's, ecs-init's and dockerd's lines there),
 * log-sources.ts (what the log shipper follows).
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import type Docker from 'dockerode';
import { addEvent, arnId, ecsState, findTaskDefinition, parseEcsArn, stopTask, type TaskRecord } from '../services/ecs/state.js';
import type { World } from '../types.js';
import { checkDirBeneath, ConfinementError, ensureDirBeneath } from './confine.js';
import { planContainers, volumeDirs, type ContainerPlan, type HostDir, type TaskContext } from './containers.js';
import { attachRuntime, detachRuntime, type TaskRuntime } from './hooks.js';
import { InstanceFiles } from './instance-files.js';
import { labelled, localDocker, removeLabelled, sandboxIdentity, CONTAINER_LABEL, SANDBOX_LABEL, STACK_LABEL, TASK_LABEL, type Owner } from './labels.js';
import { logSources } from './log-sources.js';
import { LogShipper } from './log-shipper.js';
import { ensureImage } from './pull.js';
import { containerState, dependencyVerdict, type TaskRun } from './task-run.js';

export interface LocalRunnerOptions {
  stack: string;
  /** The stack's local directory (instances' stand-in roots, tasks' log directories, offsets). */
  dir: string;
  world: World;
  /** The sandbox's own URL: the shipper calls PutLogEvents there. */
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Bring the world up to now (the scheduler reacts to what the runner changed). */
  tick(): void;
  /** Persist the world (after the runner changed it). */
  save(): void;
  docker?: Docker;
  pollMs?: number;
  flushMs?: number;
  log?: (line: string) => void;
}



const LOGGING_ENTRYPOINT = 'ecs-cwlogs-entrypoint';
const DEPENDENCY_TIMEOUT_MS = 5 * 60_000;

export class LocalRunner implements TaskRuntime {
  private readonly docker: Docker;
  private readonly runs = new Map<string, TaskRun>();
  private readonly shipper: LogShipper;
  private timer?: NodeJS.Timeout;
  private reconciling = false;
  private closed = false;
  private readonly files: InstanceFiles;

  constructor(private readonly o: LocalRunnerOptions) {
    this.docker = o.docker ?? localDocker();
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    this.files = new InstanceFiles(o.dir, o.world, (line) => this.log(line));
    this.shipper = new LogShipper({
      endpoint: o.endpoint,
      credentials: o.credentials,
      offsetsFile: join(o.dir, 'offsets.json'),
      flushMs: o.flushMs,
      onError: (m) => this.log(`log shipper: ${m}`),
    });
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  /** This sandbox's containers: the stack's, with this sandbox's identity (labels.ts). */
  private get owner(): Required<Owner> {
    return { stack: this.o.stack, sandbox: sandboxIdentity(this.o.dir) };
  }

  /** Adopt or remove what a previous sandbox process left, then reconcile every pollMs. */
  async start(): Promise<void> {
    await this.docker.ping();
    const ecs = ecsState(this.o.world);
    const found = await labelled(this.docker, this.owner);
    const keep = new Set<string>();
    for (const c of found.containers) {
      const t = ecs.tasks[c.taskArn];
      if (t && t.lastStatus !== 'STOPPED') keep.add(c.taskArn);
    }
    const removed = await removeLabelled(this.docker, this.owner, keep);
    if (removed.containers.length) this.log(`removed ${removed.containers.length} container(s) of tasks this sandbox no longer runs: ${removed.containers.join(', ')}`);
    for (const arn of keep) await this.adopt(ecs.tasks[arn]!);
    attachRuntime(this.o.world, this);
    this.timer = setInterval(() => void this.reconcile(), this.o.pollMs ?? 250);
    await this.reconcile();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    detachRuntime(this.o.world);
    await this.shipper.flush().catch(() => undefined);
    this.shipper.close();
  }

  taskPlaced(task: TaskRecord): void {
    // Started on the next reconcile pass (placement happens inside a request's tick; Docker is async).
    this.files.agentLog(task, 'info', 'New task placed', `task="${arnId(task.taskArn)}"`);
  }

  // ---- Reconcile ------------------------------------------------------------------------------

  async reconcile(): Promise<void> {
    if (this.reconciling || this.closed) return;
    this.reconciling = true;
    try {
      this.o.tick();
      let changed = this.files.noteInstances();
      const ecs = ecsState(this.o.world);
      for (const t of Object.values(ecs.tasks)) {
        changed = (await this.reconcileTask(t)) || changed;
      }
      if (changed) {
        this.o.tick();
        this.o.save();
      }
      this.shipper.setSources(logSources(this.o.world, this.runs.values()));
      await this.shipper.poll();
    } catch (e) {
      this.log(`reconcile: ${(e as Error).message}`);
    } finally {
      this.reconciling = false;
    }
  }

  private async reconcileTask(t: TaskRecord): Promise<boolean> {
    const now = Date.now();
    let run = this.runs.get(t.taskArn);
    if (t.lastStatus === 'STOPPED') {
      if (run && !run.removing) {
        const r = run;
        r.removing = (r.stopping ?? (r.starting ?? Promise.resolve()).then(() => this.stopAll(r))).then(() => this.removeRun(r));
      }
      return false;
    }
    if (!run) {
      if (t.desiredStatus !== 'RUNNING') {
        this.finishStop(t, now);
        return true;
      }
      if (t.lastStatus !== 'PROVISIONING' && t.lastStatus !== 'PENDING') {
        // Started by an earlier sandbox process, and its containers are gone from Docker since.
        stopTask(t, now, 'Essential container in task exited', 'EssentialContainerExited');
        this.finishStop(t, now);
        const svc = t.serviceArn ? ecsState(this.o.world).services[t.serviceArn] : undefined;
        if (svc) addEvent(this.o.world, svc, now, `(service ${svc.serviceName}) (task ${arnId(t.taskArn)}) has stopped: its containers are gone from the Docker engine.`);
        return true;
      }
      run = this.begin(t);
      return true;
    }
    let changed = await this.inspect(t, run);
    const svc = t.serviceArn ? ecsState(this.o.world).services[t.serviceArn] : undefined;
    const stop = (reason: string, code: string) => {
      stopTask(t, now, reason, code);
      this.files.agentLog(t, 'info', 'Stopping task', `task="${arnId(t.taskArn)}" reason="${reason}"`);
      if (svc) addEvent(this.o.world, svc, now, `(service ${svc.serviceName}) (task ${arnId(t.taskArn)}) has stopped: ${reason}.`);
      changed = true;
    };
    if (t.desiredStatus === 'RUNNING') {
      const exited = (name: string) => {
        const st = run!.state.get(name);
        return run!.started.has(name) && st !== undefined && st.everStarted && !st.running;
      };
      const essentialExited = run.plans.find((p) => p.essential && exited(p.name));
      const unhealthy = run.plans.find((p) => p.essential && run!.state.get(p.name)?.health === 'unhealthy');
      if (run.failed) stop(run.failed.reason, run.failed.stopCode);
      else if (essentialExited) stop('Essential container in task exited', 'EssentialContainerExited');
      else if (unhealthy) stop('Task failed container health checks', 'TaskFailedToStart');
      else if (t.lastStatus === 'PENDING' && run.allStarted && run.plans.every((p) => !p.essential || run!.state.get(p.name)?.running)) {
        t.lastStatus = 'RUNNING';
        t.statusChangedAt = now;
        t.startedAt = now;
        t.version += 1;
        this.files.agentLog(t, 'info', 'Task transitioned to RUNNING', `task="${arnId(t.taskArn)}"`);
        changed = true;
      }
    }
    if (t.desiredStatus === 'STOPPED') {
      run.stopping ??= (run.starting ?? Promise.resolve()).then(() => this.stopAll(run!));
      const anyRunning = [...run.state.values()].some((s) => s.running);
      if (run.stoppingDone && !anyRunning) {
        await this.inspect(t, run);
        this.finishStop(t, now);
        this.files.agentLog(t, 'info', 'Task stopped', `task="${arnId(t.taskArn)}"`);
        changed = true;
      }
    }
    return changed;
  }

  private finishStop(t: TaskRecord, at: number): void {
    t.lastStatus = 'STOPPED';
    t.statusChangedAt = at;
    t.stoppedAt = at;
    t.version += 1;
  }

  /** Docker's view of the task's containers, copied onto the task. */
  private async inspect(t: TaskRecord, run: TaskRun): Promise<boolean> {
    let changed = false;
    for (const p of run.plans) {
      const id = run.ids.get(p.name);
      if (!id) continue;
      const info = await this.docker
        .getContainer(id)
        .inspect()
        .catch(() => undefined);
      const s = containerState(info);
      run.state.set(p.name, s);
      const c = t.containers.find((x) => x.name === p.name);
      if (!c) continue;
      const lastStatus = s.running ? 'RUNNING' : s.everStarted ? 'STOPPED' : 'PENDING';
      const health = s.health === 'healthy' ? 'HEALTHY' : s.health === 'unhealthy' ? 'UNHEALTHY' : 'UNKNOWN';
      const exitCode = lastStatus === 'STOPPED' ? s.exitCode : undefined;
      const reason = lastStatus === 'STOPPED' ? (s.oom ? 'OutOfMemoryError: Container killed due to memory usage' : s.error) : undefined;
      if (c.lastStatus !== lastStatus || c.healthStatus !== health || c.exitCode !== exitCode || c.reason !== reason || c.runtimeId !== id) {
        Object.assign(c, { lastStatus, healthStatus: health, exitCode, reason, runtimeId: id });
        if (lastStatus === 'STOPPED') this.files.agentLog(t, 'info', 'Container stopped', `task="${arnId(t.taskArn)}" container="${p.name}" exitCode=${s.exitCode}`);
        changed = true;
      }
    }
    const checked = run.plans.filter((p) => p.essential && p.hasHealthCheck).map((p) => run.state.get(p.name)?.health);
    const health = checked.length === 0 ? 'UNKNOWN' : checked.some((h) => h === 'unhealthy') ? 'UNHEALTHY' : checked.every((h) => h === 'healthy') ? 'HEALTHY' : 'UNKNOWN';
    if (t.healthStatus !== health) {
      t.healthStatus = health;
      changed = true;
    }
    if (changed) t.version += 1;
    return changed;
  }

  // ---- Starting ---------------------------------------------------------------------------------

  private context(t: TaskRecord): { ctx: TaskContext; instanceId: string; definition: TaskDefinition } | undefined {
    const world = this.o.world;
    const region = parseEcsArn(t.taskArn)!.region;
    const td = findTaskDefinition(world, region, t.taskDefinitionArn);
    if (!td) return undefined;
    const ci = ecsState(world).containerInstances[t.containerInstanceArn];
    const instanceId = ci?.ec2InstanceId ?? 'i-unknown';
    const taskId = arnId(t.taskArn);
    const cluster = ecsState(world).clusters[t.clusterArn]?.clusterName ?? 'default';
    const ctx: TaskContext = {
      stack: this.o.stack,
      sandbox: this.owner.sandbox,
      taskArn: t.taskArn,
      taskId,
      cluster,
      family: td.family,
      revision: td.revision,
      network: `ecs-cwlogs-${this.o.stack}-${this.owner.sandbox.slice(0, 6)}-${taskId.slice(0, 12)}`,
      hostRoot: this.files.hostRoot(instanceId),
      taskRoot: join(this.o.dir, 'tasks', taskId),
    };
    // The ECS module keeps the definition as DescribeTaskDefinition returns it.
    return { ctx, instanceId, definition: td.definition as TaskDefinition };
  }


  private newRun(t: TaskRecord, plans: ContainerPlan[], ctx: TaskContext, instanceId: string): TaskRun {
    const run: TaskRun = {
      taskArn: t.taskArn,
      plans,
      ids: new Map(),
      started: new Set(),
      allStarted: false,
      state: new Map(),
      logDirs: new Map(),
      instanceId,
      hostRoot: ctx.hostRoot,
      network: ctx.network,
    };
    this.runs.set(t.taskArn, run);
    return run;
  }

  private begin(t: TaskRecord): TaskRun {
    const c = this.context(t);
    let plans: ContainerPlan[] = [];
    let refused: string | undefined;
    try {
      plans = c ? planContainers(c.ctx, c.definition) : [];
    } catch (e) {
      if (!(e instanceof ConfinementError)) throw e;
      refused = e.message;
    }
    const run = this.newRun(t, plans, c?.ctx ?? ({} as TaskContext), c?.instanceId ?? '');
    if (!c) {
      run.failed = { reason: 'Task definition not found', stopCode: 'TaskFailedToStart' };
      return run;
    }
    if (refused) {
      // Refused where the instance would refuse it, before any directory or container is made.
      run.failed = { reason: `CannotCreateContainerError: ${refused}`, stopCode: 'TaskFailedToStart' };
      this.files.agentLog(t, 'error', 'Error creating container', `task="${c.ctx.taskId}" error="${refused.replace(/"/g, "'")}"`);
      return run;
    }
    const now = Date.now();
    t.lastStatus = 'PENDING';
    t.statusChangedAt = now;
    t.pullStartedAt = now;
    t.version += 1;
    this.files.agentLog(t, 'info', 'Task transitioned to PENDING', `task="${c.ctx.taskId}"`);
    run.starting = this.startTask(t, run, c.ctx, c.definition).catch((e) => {
      const kind = e instanceof ConfinementError ? 'CannotCreateContainerError' : 'CannotStartContainerError';
      run.failed ??= { reason: `${kind}: ${(e as Error).message}`, stopCode: 'TaskFailedToStart' };
    });
    return run;
  }

  private async startTask(t: TaskRecord, run: TaskRun, ctx: TaskContext, definition: TaskDefinition): Promise<void> {
    // Images first: a task whose image cannot be had stops, as on ECS, with CannotPullContainerError.
    for (const image of new Set(run.plans.map((p) => p.image))) {
      const problem = await ensureImage(this.docker, image);
      if (problem) {
        run.failed = { reason: `CannotPullContainerError: ${problem}`, stopCode: 'TaskFailedToStart' };
        this.files.agentLog(t, 'error', 'Error pulling image', `image="${image}" error="${problem.replace(/"/g, "'")}"`);
        return;
      }
    }
    t.pullStoppedAt = Date.now();
    // Every directory beneath the stack's, each created inside one just verified, none through a link.
    this.files.ensureStackDir(ctx.taskRoot);
    this.files.ensureStackDir(ctx.hostRoot);
    for (const d of volumeDirs(ctx, definition.volumes ?? [])) ensureDirBeneath(this.o.dir, this.files.stackParts(d));
    await this.docker.createNetwork({ Name: ctx.network, Driver: 'bridge', Labels: { [STACK_LABEL]: ctx.stack, [SANDBOX_LABEL]: ctx.sandbox, [TASK_LABEL]: ctx.taskArn } });
    for (const p of run.plans) {
      const image = await this.docker.getImage(p.image).inspect();
      const entry = [...(image.Config?.Entrypoint ?? [])].join(' ');
      if (entry.includes(LOGGING_ENTRYPOINT)) {
        // The logging container: its /var/log on this machine, for the stand-in to follow. The
        // CloudWatch agent, if the image has one, would call AWS itself without credentials: off.
        const hostDir: HostDir = { base: ctx.taskRoot, parts: [p.name, 'var', 'log'], path: join(ctx.taskRoot, p.name, 'var', 'log') };
        const dir = ensureDirBeneath(this.o.dir, this.files.stackParts(hostDir));
        ensureDirBeneath(dir, ['apps']);
        p.hostDirs.push(hostDir);
        p.options.HostConfig!.Mounts = [...(p.options.HostConfig!.Mounts ?? []), { Type: 'bind', Source: dir, Target: '/var/log' }];
        p.options.Env = [...(p.options.Env ?? []), 'ECS_CWLOGS_AGENT=off', 'ECS_CWLOGS_IMDS=off'];
        const env = Object.fromEntries((p.options.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
        run.logDirs.set(p.name, { dir, env, hostDir });
      }
      const created = await this.docker.createContainer(p.options);
      run.ids.set(p.name, created.id);
    }
    // Start in dependency order.
    const deadline = Date.now() + DEPENDENCY_TIMEOUT_MS;
    while (run.started.size < run.plans.length) {
      if (t.desiredStatus !== 'RUNNING' || this.closed) return;
      let progressed = false;
      for (const p of run.plans) {
        if (run.started.has(p.name)) continue;
        const verdict = dependencyVerdict(run, p);
        if (verdict === 'wait') continue;
        if (verdict !== 'ok') {
          run.failed = { reason: verdict, stopCode: 'TaskFailedToStart' };
          return;
        }
        // Docker resolves the mounts now: what a running container of the task changed since they
        // were created must still lead nowhere else.
        for (const d of p.hostDirs) checkDirBeneath(this.o.dir, this.files.stackParts(d));
        await this.docker.getContainer(run.ids.get(p.name)!).start();
        run.started.add(p.name);
        run.state.delete(p.name); // what Docker said before the start no longer holds
        this.files.agentLog(t, 'info', 'Container started', `task="${ctx.taskId}" container="${p.name}"`);
        this.files.dockerdLog(run.instanceId, 'info', 'container started', `container=${run.ids.get(p.name)} module=libcontainerd namespace=moby`);
        progressed = true;
      }
      if (run.started.size === run.plans.length) break;
      if (Date.now() > deadline) {
        run.failed = { reason: 'Container dependencies were not satisfied in time', stopCode: 'TaskFailedToStart' };
        return;
      }
      if (!progressed) await new Promise((r) => setTimeout(r, 200));
      await this.inspect(t, run);
    }
    run.allStarted = true;
  }



  /** Rebuild what a previous sandbox process was running from the labelled containers. */
  private async adopt(t: TaskRecord): Promise<void> {
    const c = this.context(t);
    if (!c) return;
    let plans: ContainerPlan[] = [];
    let refused: string | undefined;
    try {
      plans = planContainers(c.ctx, c.definition);
    } catch (e) {
      if (!(e instanceof ConfinementError)) throw e;
      refused = e.message; // started by an older version that did not check: stopped below
    }
    const run = this.newRun(t, plans, c.ctx, c.instanceId);
    const filters = JSON.stringify({ label: [`${TASK_LABEL}=${t.taskArn}`, `${SANDBOX_LABEL}=${this.owner.sandbox}`] });
    for (const x of await this.docker.listContainers({ all: true, filters })) {
      const name = x.Labels[CONTAINER_LABEL];
      if (!name) continue;
      run.ids.set(name, x.Id);
      const info = await this.docker.getContainer(x.Id).inspect();
      if (info.State.StartedAt && !info.State.StartedAt.startsWith('0001')) run.started.add(name);
      const mount = info.Mounts.find((m) => m.Destination === '/var/log');
      // Only a log directory of this stack's tasks is followed (the walk gave Docker real paths).
      const tasks = join(this.o.dir, 'tasks');
      const inside = mount ? relative(existsSync(tasks) ? realpathSync(tasks) : tasks, mount.Source) : '..';
      if (mount && !inside.startsWith('..') && !inside.startsWith(sep)) {
        const env = Object.fromEntries((info.Config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
        run.logDirs.set(name, { dir: mount.Source, env });
      }
    }
    run.allStarted = run.started.size === run.plans.length;
    // A task whose start was cut short cannot resume it: it stops, and the service replaces it.
    if (!run.allStarted) run.failed = { reason: 'The sandbox stopped while the task was starting', stopCode: 'TaskFailedToStart' };
    if (refused) run.failed = { reason: `CannotCreateContainerError: ${refused}`, stopCode: 'TaskFailedToStart' };
    this.log(`adopted task ${arnId(t.taskArn)} (${run.ids.size} container(s))`);
  }

  // ---- Stopping -------------------------------------------------------------------------------

  private async stopAll(run: TaskRun): Promise<void> {
    await Promise.all(
      [...run.ids].map(async ([name, id]) => {
        const p = run.plans.find((x) => x.name === name);
        await this.docker
          .getContainer(id)
          .stop({ t: p?.stopTimeout ?? 30 })
          .catch(() => undefined);
      }),
    );
    run.stoppingDone = true;
  }

  private async removeRun(run: TaskRun): Promise<void> {
    // Ship the last lines of the task's files before they go.
    await this.shipper.poll(true).catch(() => undefined);
    for (const id of run.ids.values()) {
      await this.docker
        .getContainer(id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    }
    if (run.network) await this.docker.getNetwork(run.network).remove().catch(() => undefined);
    run.removed = true;
  }

  /** Events shipped so far. */
  get shipped(): number {
    return this.shipper.shipped;
  }
}
