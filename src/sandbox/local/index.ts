/**
 * `ecs-cwlogs sandbox --local`: the sandbox runs the tasks its simulated agent places on the local
 * Docker engine, and ships the logging container's files to its own CloudWatch Logs. See runner.ts.
 */
import type { RunningSandbox } from '../server.js';
import { saveWorld, type SandboxWorld } from '../world.js';
import { LocalRunner } from './runner.js';

export interface LocalModeOptions {
  stack: string;
  dir: string;
  statePath?: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  log?: (line: string) => void;
}

export async function startLocalRunner(sb: RunningSandbox, o: LocalModeOptions): Promise<LocalRunner> {
  const runner = new LocalRunner({
    stack: o.stack,
    dir: o.dir,
    world: sb.world,
    endpoint: sb.url,
    credentials: o.credentials,
    tick: () => sb.tick(),
    save: () => {
      if (o.statePath) saveWorld(sb.world as SandboxWorld, o.statePath, Date.now());
    },
    log: o.log,
    flushMs: Number(process.env.ECS_CWLOGS_SANDBOX_FLUSH_MS) || undefined,
  });
  await runner.start();
  return runner;
}

export { LocalRunner } from './runner.js';
