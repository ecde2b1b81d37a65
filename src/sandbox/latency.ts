/**
 * Latency profiles: how long simulated things take.
 *   none       unit tests: everything is instantaneous.
 *   fast       integration tests: lifecycles take a few hundred milliseconds.
 *   realistic  benchmarks: EC2 boot and ECS registration take seconds, every request ~30-80 ms.
 */
import type { LatencyProfile, LatencyProfileName } from './types.js';

export const LATENCY_PROFILES: Record<LatencyProfileName, LatencyProfile> = {
  none: {
    name: 'none',
    requestDelayMs: 0,
    requestJitterMs: 0,
    perOperationMs: {},
    instanceBootMs: 0,
    instanceTerminateMs: 0,
    agentRegisterMs: 0,
    taskPhaseMs: 0,
    taskStopMs: 0,
  },
  fast: {
    name: 'fast',
    requestDelayMs: 0,
    requestJitterMs: 0,
    perOperationMs: {},
    instanceBootMs: 300,
    instanceTerminateMs: 150,
    agentRegisterMs: 300,
    taskPhaseMs: 150,
    taskStopMs: 150,
  },
  realistic: {
    name: 'realistic',
    requestDelayMs: 30,
    requestJitterMs: 50,
    perOperationMs: {
      'ec2:RunInstances': 400,
      'ec2:TerminateInstances': 200,
      'ecs:CreateCluster': 150,
      'ecs:CreateService': 200,
      'ecs:RegisterTaskDefinition': 100,
      'iam:CreateRole': 120,
      'iam:CreateInstanceProfile': 120,
      'logs:CreateLogGroup': 80,
    },
    instanceBootMs: 8000,
    instanceTerminateMs: 5000,
    agentRegisterMs: 5000,
    taskPhaseMs: 2000,
    taskStopMs: 2000,
  },
};

/** Default IAM propagation delay (ms) per profile, unless startSandbox is given iamPropagationMs. */
export const DEFAULT_IAM_PROPAGATION_MS: Record<LatencyProfileName, number> = {
  none: 0,
  fast: 0,
  realistic: 5000,
};

export function latencyProfile(name: LatencyProfileName): LatencyProfile {
  const profile = LATENCY_PROFILES[name];
  if (!profile) throw new Error(`Unknown latency profile "${name}" (expected none, fast or realistic)`);
  return structuredClone(profile);
}

/** The delay to add before answering one request. */
export function requestDelay(profile: LatencyProfile, service: string, operation: string, random: () => number): number {
  const base = profile.requestDelayMs + (profile.perOperationMs[`${service}:${operation}`] ?? 0);
  const jitter = profile.requestJitterMs ? Math.floor(random() * profile.requestJitterMs) : 0;
  return base + jitter;
}
