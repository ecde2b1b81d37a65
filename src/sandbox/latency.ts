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

/**
 * Default lag (ms) of the Resource Groups Tagging API's listing per profile, unless startSandbox is
 * given taggingLagMs: GetResources, GetTagKeys and GetTagValues answer the tags as they were that long
 * ago (services/tagging-index.ts). AWS serves the listing from a tag index the services update after
 * the resource changes (aws/aws-sdk#302) and documents no figure: deleted resources have been seen
 * listed for 20 minutes and more (aws/aws-cli#4173, boto/boto3#3341). 10 s is the sandbox's choice, a
 * few times the "couple of seconds" EC2's eventual consistency page starts its backoff at.
 */
export const DEFAULT_TAGGING_LAG_MS: Record<LatencyProfileName, number> = {
  none: 0,
  fast: 0,
  realistic: 10_000,
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
