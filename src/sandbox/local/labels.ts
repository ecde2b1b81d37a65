/**
 * Labels on everything the local runner creates on the Docker engine, and clean-up by label. Used by
 * the sandbox process (runner.ts) and by the CLI (`down`, and `up` after a killed sandbox), which
 * needs no sandbox to find what a stack left behind.
 *
 * Everything carries the stack's name and the sandbox's identity (a hash of its stack directory,
 * which lives in its config directory): two sandboxes of one stack name on one Docker engine, from
 * two config directories, never adopt or remove each other's containers.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import Docker from 'dockerode';
import { daemonLocation } from '../../docker/engine.js';

export const STACK_LABEL = 'ecs-cwlogs.stack';
export const SANDBOX_LABEL = 'ecs-cwlogs.sandbox';
export const TASK_LABEL = 'ecs-cwlogs.task-arn';
export const CONTAINER_LABEL = 'ecs-cwlogs.container-name';

export function localDocker(env: NodeJS.ProcessEnv = process.env): Docker {
  return new Docker(daemonLocation(env).options);
}

/** A sandbox's identity on Docker: 12 hex digits of the sha256 of its stack directory's absolute path. */
export function sandboxIdentity(dir: string): string {
  return createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12);
}

/** Whose containers: a stack, in one sandbox (its identity) or, without one, in any. */
export interface Owner {
  stack: string;
  sandbox?: string;
}

function ownerLabels(owner: string | Owner): string[] {
  const o = typeof owner === 'string' ? { stack: owner } : owner;
  return [`${STACK_LABEL}=${o.stack}`, ...(o.sandbox ? [`${SANDBOX_LABEL}=${o.sandbox}`] : [])];
}

export interface Leftovers {
  containers: { id: string; name: string; taskArn: string; state: string }[];
  networks: { id: string; name: string }[];
}

/** What carries the owner's labels: containers (any state) and networks. */
export async function labelled(docker: Docker, owner: string | Owner): Promise<Leftovers> {
  const filters = JSON.stringify({ label: ownerLabels(owner) });
  const [containers, networks] = await Promise.all([docker.listContainers({ all: true, filters }), docker.listNetworks({ filters })]);
  return {
    containers: containers.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), taskArn: c.Labels[TASK_LABEL] ?? '', state: c.State })),
    networks: networks.map((n) => ({ id: n.Id, name: n.Name })),
  };
}

/**
 * Remove the stack's containers (and their anonymous volumes) and networks, except those of `keepTasks`.
 * Returns what was removed.
 */
export async function removeLabelled(docker: Docker, owner: string | Owner, keepTasks: ReadonlySet<string> = new Set()): Promise<{ containers: string[]; networks: string[] }> {
  const found = await labelled(docker, owner);
  const containers = found.containers.filter((c) => !keepTasks.has(c.taskArn));
  await Promise.all(containers.map((c) => docker.getContainer(c.id).remove({ force: true, v: true }).catch(ignoreMissing)));
  const left = new Set((await labelled(docker, owner)).containers.map((c) => c.taskArn));
  const networks: string[] = [];
  for (const n of found.networks) {
    const info = await docker.getNetwork(n.id).inspect().catch(() => undefined);
    const task = info?.Labels?.[TASK_LABEL] ?? '';
    if (keepTasks.has(task) || left.has(task)) continue;
    await docker.getNetwork(n.id).remove().catch(ignoreMissing);
    networks.push(n.name);
  }
  return { containers: containers.map((c) => c.name), networks };
}

function ignoreMissing(e: unknown): void {
  const code = (e as { statusCode?: number }).statusCode;
  if (code !== 404 && code !== 409) throw e;
}

/** http://127.0.0.1:<port>/ of the owner's running container publishing port 80, if any. */
export async function localAppUrl(docker: Docker, owner: string | Owner): Promise<string | undefined> {
  const filters = JSON.stringify({ label: ownerLabels(owner), status: ['running'] });
  const list = await docker.listContainers({ filters });
  for (const c of list.sort((a, b) => b.Created - a.Created)) {
    const p = c.Ports.find((x) => x.PrivatePort === 80 && x.Type === 'tcp' && x.PublicPort);
    if (p) return `http://127.0.0.1:${p.PublicPort}/`;
  }
  return undefined;
}
