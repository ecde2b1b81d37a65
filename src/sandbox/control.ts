/**
 * The sandbox's control endpoints (not AWS), under /_sandbox/: health (with what still lives here),
 * the request log, checkip, the state, and the settings a test may change while it runs.
 */
import { latencyProfile } from './latency.js';
import type { WireResponse } from './protocols/wire.js';
import type { RequestLogEntry, ServiceModule, World } from './types.js';
import type { SandboxWorld } from './world.js';

const SETTINGS_KEYS = ['throttleRate', 'pageSize', 'iamPropagationMs', 'taggingLagMs', 'latency', 'capacity', 'notOffered', 'deny'] as const;

/** What the control endpoints read and change of a running sandbox. */
export interface ControlledSandbox {
  world: SandboxWorld;
  modules: ServiceModule[];
  log(): RequestLogEntry[];
  clearLog(): void;
  /** Advance every module's lifecycles to now. */
  tick(): void;
  now(): number;
}

export function jsonReply(status: number, value: unknown): WireResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) + '\n' };
}

export function controlEndpoint(sandbox: ControlledSandbox, method: string, path: string, body: string): WireResponse {
  const key = `${method} ${path.replace(/\/+$/, '')}`;
  switch (key) {
    case 'GET /_sandbox/health':
      sandbox.tick();
      // pid: the CLI's handshake before it signals a recorded process; inUse: what still lives here.
      return jsonReply(200, { status: 'ok', services: sandbox.modules.map((m) => m.name), pid: process.pid, inUse: inUse(sandbox.world) });
    case 'GET /_sandbox/requests':
      return jsonReply(200, { requests: sandbox.log() });
    case 'DELETE /_sandbox/requests':
      sandbox.clearLog();
      return jsonReply(200, { requests: [] });
    case 'GET /_sandbox/checkip':
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: '127.0.0.1\n' };
    case 'GET /_sandbox/state':
      sandbox.tick();
      return jsonReply(200, sandbox.world.toFile(sandbox.now()));
    case 'GET /_sandbox/settings':
      return jsonReply(200, sandbox.world.settings);
    case 'POST /_sandbox/settings':
      return patchSettings(sandbox.world, body);
    default:
      return jsonReply(404, { error: `No sandbox control endpoint ${key}` });
  }
}

function patchSettings(world: World, body: string): WireResponse {
  let patch: Record<string, unknown>;
  try {
    patch = JSON.parse(body || '{}');
  } catch {
    return jsonReply(400, { error: 'Body must be a JSON object' });
  }
  const settings = world.settings;
  for (const [key, value] of Object.entries(patch)) {
    if (!(SETTINGS_KEYS as readonly string[]).includes(key)) {
      return jsonReply(400, { error: `Unknown setting "${key}" (expected one of ${SETTINGS_KEYS.join(', ')})` });
    }
    if (key === 'latency') {
      if (value !== 'none' && value !== 'fast' && value !== 'realistic') {
        return jsonReply(400, { error: 'latency must be none, fast or realistic' });
      }
      settings.latency = latencyProfile(value);
      continue;
    }
    if (key === 'deny') {
      // ["logs:StartLiveTail"]: the caller's policy denies these actions; null or [] allows all again.
      if (value !== null && !(Array.isArray(value) && value.every((x) => typeof x === 'string' && /^[a-z0-9-]+:[A-Za-z0-9]+$/.test(x)))) {
        return jsonReply(400, { error: 'deny must be a list of actions such as "logs:StartLiveTail"' });
      }
      const actions = value === null ? [] : (value as string[]);
      if (actions.length === 0) delete settings.deny;
      else settings.deny = [...actions];
      continue;
    }
    if (key === 'capacity' || key === 'notOffered') {
      // { "us-east-1a": 0 } / { "us-east-1a": ["t3.*"] }; null clears the setting.
      const ok =
        value === null ||
        (typeof value === 'object' &&
          !Array.isArray(value) &&
          Object.values(value as object).every((x) => (key === 'capacity' ? typeof x === 'number' && x >= 0 : Array.isArray(x) && x.every((t) => typeof t === 'string'))));
      if (!ok) return jsonReply(400, { error: key === 'capacity' ? 'capacity must map zone names to non-negative numbers' : 'notOffered must map zone names to lists of instance type patterns' });
      if (value === null) delete settings[key];
      else (settings as unknown as Record<string, unknown>)[key] = value;
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      return jsonReply(400, { error: `${key} must be a non-negative number` });
    }
    if (key === 'throttleRate' && value > 1) return jsonReply(400, { error: 'throttleRate must be between 0 and 1' });
    (settings as unknown as Record<string, number>)[key] = value;
  }
  return jsonReply(200, settings);
}

/**
 * What still lives in the sandbox and would be lost to a user if its process went away: instances not
 * terminated, Auto Scaling groups, load balancers, ECS services and tasks not stopped. A sandbox the
 * CLI started for one command is stopped at its end when all of these are zero.
 */
export function inUse(world: World): Record<string, number> {
  const values = (service: string, key: string): Record<string, unknown>[] => Object.values((world.state[service]?.[key] ?? {}) as Record<string, Record<string, unknown>>);
  return {
    instances: values('ec2', 'instances').filter((i) => i.state !== 'terminated').length,
    autoScalingGroups: values('autoscaling', 'groups').length,
    loadBalancers: values('elasticloadbalancing', 'loadBalancers').length,
    services: values('ecs', 'services').filter((x) => x.status !== 'INACTIVE').length,
    tasks: values('ecs', 'tasks').filter((t) => t.lastStatus !== 'STOPPED').length,
  };
}

