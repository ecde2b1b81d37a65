/**
 * A task definition's container, as the ECS agent would create it on Docker (bridge network mode):
 * image, entry point, command, environment, memory and CPU, health check, host volumes, port
 * mappings, links, labels. What differs here, and why:
 *   - every host port is published on 127.0.0.1 only, on a free port Docker picks (port 80 of the
 *     simulated instance is a fixed port of the rehearsal, not of this machine);
 *   - host volumes (`host.sourcePath`) live under the instance's stand-in directory (hostRoot);
 *   - the task gets its own user-defined network; links become aliases on it (as legacy links
 *     would name them), so two tasks never see each other's containers;
 *   - logConfiguration is ignored (the containers log to Docker's default driver).
 */
import type Docker from 'dockerode';
import { join } from 'node:path';
import { CONTAINER_LABEL, SANDBOX_LABEL, STACK_LABEL, TASK_LABEL } from './labels.js';

export interface ContainerPlan {
  /** The definition's name. */
  name: string;
  /** The Docker container name. */
  dockerName: string;
  essential: boolean;
  image: string;
  dependsOn: { containerName: string; condition: 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY' }[];
  links: string[];
  hasHealthCheck: boolean;
  stopTimeout: number;
  options: Docker.ContainerCreateOptions;
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

/** Where a task volume is on this machine. */
export function volumePath(ctx: TaskContext, volumes: any[], name: string): string | undefined {
  const v = volumes.find((x) => x.name === name);
  if (!v) return undefined;
  const source: string | undefined = v.host?.sourcePath;
  return source ? join(ctx.hostRoot, source) : join(ctx.taskRoot, 'volumes', name);
}

export function planContainers(ctx: TaskContext, definition: Record<string, any>): ContainerPlan[] {
  const defs: any[] = definition.containerDefinitions ?? [];
  const volumes: any[] = definition.volumes ?? [];
  const names = new Map(defs.map((c) => [c.name as string, dockerName(ctx, c.name)]));
  return defs.map((c) => {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const pm of c.portMappings ?? []) {
      const key = `${pm.containerPort}/${pm.protocol ?? 'tcp'}`;
      exposed[key] = {};
      bindings[key] = [{ HostIp: '127.0.0.1', HostPort: '' }];
    }
    const binds: string[] = [];
    for (const mp of c.mountPoints ?? []) {
      const path = volumePath(ctx, volumes, mp.sourceVolume);
      if (path) binds.push(`${path}:${mp.containerPath}${mp.readOnly ? ':ro' : ''}`);
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
      Env: (c.environment ?? []).map((e: { name: string; value: string }) => `${e.name}=${e.value}`),
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
        Binds: binds,
        ...(c.memory ? { Memory: c.memory * 1024 * 1024 } : {}),
        ...(c.memoryReservation ? { MemoryReservation: c.memoryReservation * 1024 * 1024 } : {}),
        ...(c.cpu ? { CpuShares: Math.max(2, c.cpu) } : {}),
        ...(c.readonlyRootFilesystem ? { ReadonlyRootfs: true } : {}),
        ...(c.ulimits ? { Ulimits: c.ulimits.map((u: any) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit })) } : {}),
        ...(c.extraHosts ? { ExtraHosts: c.extraHosts.map((h: any) => `${h.hostname}:${h.ipAddress}`) } : {}),
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
      options,
    };
  });
}
