/**
 * What the log shipper follows for the tasks the runner runs: each logging container's files
 * (httpd-access.log, httpd-error.log, syslog) and, once per instance, the host's ecs-agent.log,
 * ecs-init.log and dockerd's journal, named as the CloudWatch agent's configuration names them.
 */
import { join } from 'node:path';
import type { Ec2StateView, World } from '../types.js';
import type { LogSource } from './log-shipper.js';
import type { TaskRun } from './task-run.js';

export function logSources(world: World, runs: Iterable<TaskRun>): LogSource[] {
  const instances = (world.state.ec2 as Ec2StateView | undefined)?.instances ?? {};
  const out: LogSource[] = [];
  const hostFiles = new Set<string>();
  for (const run of runs) {
    if (run.removed) continue;
    const inst = instances[run.instanceId];
    const ip = inst?.privateIpAddress ?? '127.0.0.1';
    const region = inst?.region ?? world.settings.defaultRegion;
    const hostname = `ip-${ip.replace(/\./g, '-')}.${region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`}`;
    for (const { dir, env } of run.logDirs.values()) {
      const prefix = (env.LOG_STREAM_PREFIX || '{instance_id}-{hostname}-{ip_address}')
        .replace(/\{instance_id\}/g, run.instanceId)
        .replace(/\{hostname\}/g, hostname)
        .replace(/\{ip_address\}/g, ip);
      const base = { region: env.AWS_REGION || env.AWS_DEFAULT_REGION || region, logGroup: env.LOG_GROUP || 'ecs' };
      // Each file is read beneath its own directory, through no link (log-shipper.ts).
      for (const f of ['httpd-access.log', 'httpd-error.log', 'syslog']) out.push({ ...base, root: dir, path: join(dir, f), logStream: `${prefix}-${f}` });
      // The host's files, each shipped once per instance (docker/.../ecs-cwlogs-agent: one holder).
      const ecsDir = join(run.hostRoot, 'var', 'log', 'ecs');
      const toolDir = join(run.hostRoot, 'var', 'log', 'ecs-cwlogs');
      for (const [path, stream] of [[join(ecsDir, 'ecs-agent.log'), 'ecs-agent.log'], [join(ecsDir, 'ecs-init.log'), 'ecs-init.log'], [join(toolDir, 'docker.log'), 'docker']] as const) {
        if (hostFiles.has(path)) continue;
        hostFiles.add(path);
        out.push({ ...base, root: run.hostRoot, path, logStream: `${prefix}-${stream}` });
      }
    }
  }
  return out;
}
