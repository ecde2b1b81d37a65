/**
 * A task definition's container, as the ECS agent would create it on Docker (bridge network mode):
 * image, entry point, command, environment, memory and CPU, health check, host volumes, port
 * mappings, links, labels. What differs here, and why:
 *   - every host port is published on 127.0.0.1 only, on a free port Docker picks (port 80 of the
 *     simulated instance is a fixed port of the rehearsal, not of this machine);
 *   - host volumes (`host.sourcePath`) live under the instance's stand-in directory (hostRoot), where
 *     the path would resolve on the instance: `..` stops at that root as it stops at `/` (confine.ts);
 *     a relative sourcePath, or a volume or container name that is not an ECS name, is refused with
 *     ConfinementError (the runner stops the task with CannotCreateContainerError, before any Docker
 *     call or directory);
 *   - volumes are given to Docker as `Mounts` of type bind (one field each, so no `:` in a path can
 *     change what `Binds`' "source:target:mode" string would mean);
 *   - the task gets its own user-defined network; links become aliases on it (as legacy links
 *     would name them), so two tasks never see each other's containers;
 *   - logConfiguration is ignored (the containers log to Docker's default driver).
 */
import type { ContainerDefinition, ContainerDependency, TaskDefinition, Volume } from '@aws-sdk/client-ecs';
import type Docker from 'dockerode';
import { join } from 'node:path';
import { ecsNameComponent, instancePathParts } from './confine.js';
import { CONTAINER_LABEL, SANDBOX_LABEL, STACK_LABEL, TASK_LABEL } from './labels.js';

export interface ContainerPlan {
  /** The definition's name. */
  name: string;
  /** The Docker container name. */
  dockerName: string;
  essential: boolean;
  image: string;
  /** As the definition gives them (RegisterTaskDefinition does not check them; ECS requires both members). */
  dependsOn: ContainerDependency[];
  links: string[];
  hasHealthCheck: boolean;
  stopTimeout: number;
  /** The host directories its volumes mount (the runner creates and checks them beneath `base`). */
  hostDirs: HostDir[];
  options: Docker.ContainerCreateOptions;
}

/** A directory on this machine: `path` is `base` joined with `parts`, none of them `..`. */
export interface HostDir {
  base: string;
  parts: string[];
  path: string;
}

export interface TaskContext {
  stack: string;
  /** The sandbox's identity (labels.ts sandboxIdentity): two sandboxes of one stack never share a name. */
  sandbox: string;
  taskArn: string;
  taskId: string;
  cluster: string;
  family: string;
  revision: number;
  network: string;
  /** The directory standing in for the instance's root, for host volumes. */
  hostRoot: string;
  /** A directory for the task's own (non-host) volumes. */
  taskRoot: string;
}

const SECONDS = 1_000_000_000;

export function dockerName(ctx: Pick<TaskContext, 'stack' | 'sandbox' | 'family' | 'revision' | 'taskId'>, name: string): string {
  return `ecs-cwlogs-${ctx.stack}-${ctx.sandbox.slice(0, 6)}-${ctx.family}-${ctx.revision}-${name}-${ctx.taskId.slice(0, 12)}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/**
 * Where a task volume is on this machine: a host volume's sourcePath beneath the instance's stand-in
 * root, where it would resolve on the instance; any other volume in the task's own directory.
 * Throws ConfinementError for a path or name that cannot be placed there.
 */
export function volumeDir(ctx: Pick<TaskContext, 'hostRoot' | 'taskRoot'>, volumes: Volume[], name: string | undefined): HostDir | undefined {
  const v = volumes.find((x) => x.name === name);
  if (!v) return undefined;
  const source: unknown = v.host?.sourcePath;
  if (typeof source === 'string' && source !== '') {
    const parts = instancePathParts(source);
    return { base: ctx.hostRoot, parts, path: join(ctx.hostRoot, ...parts) };
  }
  const parts = ['volumes', ecsNameComponent('volume', name)];
  return { base: ctx.taskRoot, parts, path: join(ctx.taskRoot, ...parts) };
}

/** Every volume's directory, checked (the task is refused before anything is created if one is bad). */
export function volumeDirs(ctx: Pick<TaskContext, 'hostRoot' | 'taskRoot'>, volumes: Volume[]): HostDir[] {
  return volumes.map((v) => {
    ecsNameComponent('volume', v?.name);
    return volumeDir(ctx, volumes, v.name)!;
  });
}

/**
 * The containers of a task definition as DescribeTaskDefinition returns it. RegisterTaskDefinition
 * (../services/ecs/task-definitions.ts) has made sure every container has a name and an image.
 */
export function planContainers(ctx: TaskContext, definition: TaskDefinition): ContainerPlan[] {
  const defs: (ContainerDefinition & { name: string; image: string })[] = (definition.containerDefinitions ?? []).map((c) => ({ ...c, name: c.name!, image: c.image! }));
  const volumes: Volume[] = definition.volumes ?? [];
  const names = new Map(defs.map((c) => [c.name, dockerName(ctx, c.name)]));
  volumeDirs(ctx, volumes);
  return defs.map((c) => {
    ecsNameComponent('container', c.name);
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const pm of c.portMappings ?? []) {
      const key = `${pm.containerPort}/${pm.protocol ?? 'tcp'}`;
      exposed[key] = {};
      bindings[key] = [{ HostIp: '127.0.0.1', HostPort: '' }];
    }
    const mounts: Docker.MountSettings[] = [];
    const hostDirs: HostDir[] = [];
    for (const mp of c.mountPoints ?? []) {
      const dir = volumeDir(ctx, volumes, mp.sourceVolume);
      if (!dir) continue;
      hostDirs.push(dir);
      mounts.push({ Type: 'bind', Source: dir.path, Target: String(mp.containerPath), ReadOnly: Boolean(mp.readOnly) });
    }
    const links: string[] = (c.links ?? []).map(String);
    const hc = c.healthCheck;
    const labels: Record<string, string> = {
      ...(c.dockerLabels ?? {}),
      [STACK_LABEL]: ctx.stack,
      [SANDBOX_LABEL]: ctx.sandbox,
      [TASK_LABEL]: ctx.taskArn,
      [CONTAINER_LABEL]: c.name,
      'com.amazonaws.ecs.cluster': ctx.cluster,
      'com.amazonaws.ecs.container-name': c.name,
      'com.amazonaws.ecs.task-arn': ctx.taskArn,
      'com.amazonaws.ecs.task-definition-family': ctx.family,
      'com.amazonaws.ecs.task-definition-version': String(ctx.revision),
    };
    const options: Docker.ContainerCreateOptions = {
      name: names.get(c.name),
      Image: c.image,
      ...(c.entryPoint ? { Entrypoint: c.entryPoint } : {}),
      ...(c.command ? { Cmd: c.command } : {}),
      ...(c.workingDirectory ? { WorkingDir: c.workingDirectory } : {}),
      ...(c.user ? { User: c.user } : {}),
      ...(c.hostname ? { Hostname: c.hostname } : {}),
      Env: (c.environment ?? []).map((e) => `${e.name}=${e.value}`),
      Labels: labels,
      ExposedPorts: exposed,
      ...(hc
        ? {
            Healthcheck: {
              Test: hc.command,
              Interval: (hc.interval ?? 30) * SECONDS,
              Timeout: (hc.timeout ?? 5) * SECONDS,
              Retries: hc.retries ?? 3,
              StartPeriod: (hc.startPeriod ?? 0) * SECONDS,
            },
          }
        : {}),
      HostConfig: {
        NetworkMode: ctx.network,
        PortBindings: bindings,
        Mounts: mounts,
        ...(c.memory ? { Memory: c.memory * 1024 * 1024 } : {}),
        ...(c.memoryReservation ? { MemoryReservation: c.memoryReservation * 1024 * 1024 } : {}),
        ...(c.cpu ? { CpuShares: Math.max(2, c.cpu) } : {}),
        ...(c.readonlyRootFilesystem ? { ReadonlyRootfs: true } : {}),
        ...(c.ulimits ? { Ulimits: c.ulimits.map((u) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit })) } : {}),
        ...(c.extraHosts ? { ExtraHosts: c.extraHosts.map((h) => `${h.hostname}:${h.ipAddress}`) } : {}),
        // Legacy links, by the linked container's Docker name; on a user-defined network they are aliases.
        Links: links.map((l) => {
          const [target, alias] = l.split(':');
          return `${names.get(target!) ?? target}:${alias ?? target}`;
        }),
      },
      NetworkingConfig: { EndpointsConfig: { [ctx.network]: { Aliases: [c.name] } } },
    };
    return {
      name: c.name,
      dockerName: names.get(c.name)!,
      essential: c.essential !== false,
      image: c.image,
      dependsOn: c.dependsOn ?? [],
      links: links.map((l) => l.split(':')[0]!),
      hasHealthCheck: Boolean(hc),
      stopTimeout: c.stopTimeout ?? 30,
      hostDirs,
      options,
    };
  });
}
