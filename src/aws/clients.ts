/**
 * The AWS client factory and the interfaces steps depend on (after the CDK CLI's SDK provider): each
 * client's operations, the real thing being the SDK client pointed at AWS or at the sandbox, created
 * on first use. A step's context names the clients it uses.
 *
 * Credentials: the SDK's standard chain (environment, shared config and credentials files with
 * --profile, SSO, web identity, ECS/EC2 metadata), one provider for all clients. Region: the one
 * decided by core/resolve.ts regionOf (the profile's `region` is read here and handed back to it).
 * Endpoint: --endpoint-url, or AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> / a profile's
 * endpoint_url, which the SDK honours by itself. Proxies: HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
 * Retries: AWS_MAX_ATTEMPTS / AWS_RETRY_MODE or the profile's. See conventions.ts and proxy.ts.
 */
import type { ECS } from '@aws-sdk/client-ecs';
import type { IAM } from '@aws-sdk/client-iam';
import type { EC2 } from '@aws-sdk/client-ec2';
import type { SSM } from '@aws-sdk/client-ssm';
import type { STS } from '@aws-sdk/client-sts';
import type { ECR } from '@aws-sdk/client-ecr';
import type { CloudWatchLogs } from '@aws-sdk/client-cloudwatch-logs';
import type { CloudWatch } from '@aws-sdk/client-cloudwatch';
import type { SNS } from '@aws-sdk/client-sns';
import type { ResourceGroupsTaggingAPI } from '@aws-sdk/client-resource-groups-tagging-api';
import type { AutoScaling } from '@aws-sdk/client-auto-scaling';
import type { ElasticLoadBalancingV2 } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { lazyObject } from '../core/lazy.js';
import { VERSION } from '../core/version.js';

/**
 * A client's operations: the SDK's aggregated client without its plumbing (config, send, destroy,
 * middlewareStack). A step names the clients it uses in its context (`Pick<Context, 'ecs' | ...>`)
 * and calls what it needs; there is no list of operations to keep beside it.
 */
export type Operations<T> = Omit<T, 'config' | 'send' | 'destroy' | 'middlewareStack'>;

export type EcsApi = Operations<ECS>;
export type IamApi = Operations<IAM>;
export type Ec2Api = Operations<EC2>;
/** The group topology: the Auto Scaling group behind the capacity provider. */
export type AutoScalingApi = Operations<AutoScaling>;
/** The optional Application Load Balancer, its target group and listener. */
export type Elbv2Api = Operations<ElasticLoadBalancingV2>;
/** The ECS-optimized AMI's public parameters, and the stack's lock in the account (core/account-lock.ts). */
export type SsmApi = Operations<SSM>;
export type StsApi = Operations<STS>;
export type EcrApi = Operations<ECR>;
export type LogsApi = Operations<CloudWatchLogs>;
/** Monitoring: the alarms and the dashboard. */
export type CloudWatchApi = Operations<CloudWatch>;
/** Monitoring: the alarms' topic and its email subscription (--alarm-email). */
export type SnsApi = Operations<SNS>;
/** Finding the stack's resources by its tag, whatever their names. */
export type TaggingApi = Operations<ResourceGroupsTaggingAPI>;

export interface AwsClients {
  readonly ecs: EcsApi;
  readonly iam: IamApi;
  readonly ec2: Ec2Api;
  readonly ssm: SsmApi;
  readonly sts: StsApi;
  readonly ecr: EcrApi;
  readonly logs: LogsApi;
  readonly tagging: TaggingApi;
  readonly autoscaling: AutoScalingApi;
  readonly elbv2: Elbv2Api;
  readonly cloudwatch: CloudWatchApi;
  readonly sns: SnsApi;
}

/** The clients' names: every AWS service the tool calls (a run's write guard wraps each). */
export const CLIENT_NAMES = ['ecs', 'iam', 'ec2', 'ssm', 'sts', 'ecr', 'logs', 'tagging', 'autoscaling', 'elbv2', 'cloudwatch', 'sns'] as const satisfies readonly (keyof AwsClients)[];
// Every client is named: a service added to AwsClients and not here fails to compile.
const _everyClient: Exclude<keyof AwsClients, (typeof CLIENT_NAMES)[number]> extends never ? true : never = true;
void _everyClient;

export interface ClientOptions {
  region: string;
  profile?: string;
  endpoint?: string;
  /** Static credentials (sandbox mode), or one provider shared by every client of the run. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | AwsCredentialIdentityProvider;
  maxAttempts?: number;
  retryMode?: 'standard' | 'adaptive';
  /** The SDK's HTTP handler, shared by all clients (proxy agents); the SDK's default when absent. */
  requestHandler?: unknown;
}

/**
 * Clients are created on first use, and each SDK package is loaded only then: a command that only
 * touches ECS never loads EC2's (large) client.
 */
export function createAwsClients(opts: ClientOptions): AwsClients {
  const common = {
    region: opts.region,
    profile: opts.profile,
    endpoint: opts.endpoint,
    credentials: opts.credentials,
    retryMode: opts.retryMode ?? 'adaptive',
    maxAttempts: opts.maxAttempts ?? 10,
    customUserAgent: [['ecs-cwlogs', VERSION]] as [string, string][],
    ...(opts.requestHandler ? { requestHandler: opts.requestHandler as never } : {}),
  };
  return {
    ecs: lazyObject(async () => new (await import('@aws-sdk/client-ecs')).ECS(common)),
    // IAM is global; the SDK sends it to the partition's global endpoint.
    iam: lazyObject(async () => new (await import('@aws-sdk/client-iam')).IAM(common)),
    ec2: lazyObject(async () => withoutCapacityRetries(new (await import('@aws-sdk/client-ec2')).EC2(common))),
    ssm: lazyObject(async () => new (await import('@aws-sdk/client-ssm')).SSM(common)),
    sts: lazyObject(async () => new (await import('@aws-sdk/client-sts')).STS(common)),
    ecr: lazyObject(async () => new (await import('@aws-sdk/client-ecr')).ECR(common)),
    // StartLiveTail goes to the `stream-` host prefix of the endpoint (the model's endpoint trait): on
    // an explicit endpoint (the sandbox, --endpoint-url) that would be `stream-127.0.0.1`, a name
    // looked up in DNS. The endpoint given is where every call goes, Live Tail's included.
    logs: lazyObject(async () => new (await import('@aws-sdk/client-cloudwatch-logs')).CloudWatchLogs({ ...common, ...(opts.endpoint ? { disableHostPrefix: true } : {}) })),
    tagging: lazyObject(async () => new (await import('@aws-sdk/client-resource-groups-tagging-api')).ResourceGroupsTaggingAPI(common)),
    autoscaling: lazyObject(async () => new (await import('@aws-sdk/client-auto-scaling')).AutoScaling(common)),
    elbv2: lazyObject(async () => new (await import('@aws-sdk/client-elastic-load-balancing-v2')).ElasticLoadBalancingV2(common)),
    cloudwatch: lazyObject(async () => new (await import('@aws-sdk/client-cloudwatch')).CloudWatch(common)),
    sns: lazyObject(async () => new (await import('@aws-sdk/client-sns')).SNS(common)),
  };
}

export interface SessionInput {
  /** The region, as core/resolve.ts regionOf decided it (checked here against the SDK's partitions). */
  region?: string;
  /** Where that region came from, for the message when it is no region ("--region", "AWS_REGION"). */
  regionFrom?: string;
  profile?: string;
  endpoint?: string;
  /** The tool's own local sandbox: static credentials, no profile needed, no proxy, us-east-1 by default. */
  sandbox?: { credentials: { accessKeyId: string; secretAccessKey: string } };
  env?: NodeJS.ProcessEnv;
  /** Used when no region is given (e.g. to ask STS who the caller is). */
  fallbackRegion?: string;
}

export interface Session {
  region: string;
  /** The profile the clients read (not for the sandbox): where a configured endpoint can come from. */
  profile?: { name: string; settings: Record<string, string | undefined> };
  /** The `region` of the profile the clients read (one of the region's sources, core/resolve.ts regionOf). */
  profileRegion?: string;
  profileName: string;
  /** Clients sharing one credential provider and one HTTP handler. */
  clients(overrides?: { maxAttempts?: number }): AwsClients;
}

/**
 * Profile, region, retries, credentials and proxies as the AWS CLI reads them (see conventions.ts),
 * ready to make clients. Throws UserInputError for an unknown profile, an invalid region, or none.
 */
export async function openSession(input: SessionInput): Promise<Session> {
  const env = input.env ?? process.env;
  const { checkRegion, resolveProfile, retrySettings, sharedCredentialProvider } = await import('./conventions.js');
  const profile = input.sandbox
    ? await resolveProfile(undefined, { ...env, AWS_PROFILE: undefined }).catch(() => ({ name: 'default', explicit: false, settings: {} }))
    : await resolveProfile(input.profile, env);
  if (input.region) await checkRegion(input.region, input.regionFrom);
  const region = input.region ?? input.fallbackRegion ?? 'us-east-1';
  const retry = retrySettings(profile, { maxAttempts: 10, retryMode: 'adaptive' }, env);
  const credentials = input.sandbox ? input.sandbox.credentials : sharedCredentialProvider(profile, input.profile);
  let requestHandler: unknown;
  const { proxyConfigured, proxyRequestHandler } = await import('./proxy.js');
  if (!input.sandbox && proxyConfigured(env)) requestHandler = await proxyRequestHandler(env);
  const profileName = input.sandbox ? undefined : input.profile;
  return {
    region,
    ...(input.sandbox ? {} : { profile: { name: profile.name, settings: profile.settings } }),
    profileRegion: (profile.settings as Record<string, string | undefined>).region?.trim() || undefined,
    profileName: profile.name,
    clients: (overrides = {}) =>
      createAwsClients({
        region,
        profile: profileName,
        endpoint: input.endpoint,
        credentials,
        retryMode: retry.retryMode,
        // The user's own max_attempts wins over the tool's choice for a call (the preflight's 3).
        maxAttempts: retry.fromUser ? retry.maxAttempts : (overrides.maxAttempts ?? retry.maxAttempts),
        requestHandler,
      }),
  };
}

interface RetryStrategyLike {
  acquireInitialRetryToken(scope: string): Promise<unknown>;
  refreshRetryTokenForRetry(token: unknown, info: { error?: { name?: string } }): Promise<unknown>;
  recordSuccess(token: unknown): void;
}

/**
 * EC2 answers InsufficientInstanceCapacity with HTTP 500, which the SDK retries as a server error
 * (10 attempts, about 10 s). A zone's capacity does not come back in seconds: the instance step
 * moves to the next zone instead, so that one error is handed back at once.
 */
function withoutCapacityRetries<T extends object>(client: T): T {
  const config = (client as unknown as { config: { retryStrategy: () => Promise<unknown> } }).config;
  const base = config.retryStrategy;
  let wrapped: RetryStrategyLike | undefined;
  config.retryStrategy = async () => {
    const s = (await base()) as RetryStrategyLike;
    if (typeof s.refreshRetryTokenForRetry !== 'function') return s;
    return (wrapped ??= {
      acquireInitialRetryToken: (scope) => s.acquireInitialRetryToken(scope),
      refreshRetryTokenForRetry: async (token, info) => {
        if (info?.error?.name === 'InsufficientInstanceCapacity') throw info.error;
        return s.refreshRetryTokenForRetry(token, info);
      },
      recordSuccess: (token) => s.recordSuccess(token),
    });
  };
  return client;
}
