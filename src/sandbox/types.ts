/**
 * The sandbox's internal contract: the protocol layers (protocols/*.ts) turn an HTTP request into a
 * SandboxRequest, find the ServiceModule by SigV4 signing name, call the operation's handler, and
 * serialise what it returns (or the ServiceError it throws) the way that protocol does on the wire.
 *
 * All state lives in one JSON-serialisable World, so it can be persisted to a file and shared by
 * every service (EC2 checks IAM instance profiles, the simulated ECS agent reads EC2 instances, ...).
 */

export type Protocol = 'json' | 'query' | 'ec2';

export interface SandboxRequest {
  /** SigV4 signing name: ecs, iam, ec2, ssm, sts, logs, ecr. */
  service: string;
  operation: string;
  /**
   * json protocol: the parsed JSON body.
   * query / ec2 protocols: the flat form parameters ("Tags.member.1.Key" => "k"), minus Action and Version.
   * Use unflatten() from protocols/query.ts to get lists and structures.
   */
  params: Record<string, any>;
  region: string;
  /** Access key id from the SigV4 credential scope. Any key is accepted. */
  accessKeyId: string;
  requestId: string;
  /** Milliseconds on the sandbox clock when the request arrived. */
  now: number;
  /** The protocol the request came in (a queryCompatible JSON module also takes Query requests). */
  protocol?: Protocol;
}

/** An AWS error as the service would return it. The protocol layer serialises it. */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Query protocol <Type>: Sender (client fault) or Receiver (server fault). */
    readonly fault: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
    /**
     * awsQueryCompatible JSON services (CloudWatch): the error's shape name, sent as the JSON __type
     * while `code` (the Query code) goes in the x-amzn-query-error header and in Query responses.
     */
    readonly shape?: string,
    /** Modelled members of the error beyond its message (CloudWatch's dashboardValidationMessages). */
    readonly fields?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export type Handler = (req: SandboxRequest, world: World) => unknown | Promise<unknown>;

/** Where a streaming response writes (protocols/event-stream.ts frames), and when the client left. */
export interface ResponseStream {
  write(chunk: Uint8Array): void;
  /** Aborts when the client closes the connection (or the sandbox closes). */
  readonly closed: AbortSignal;
  /** The sandbox clock. */
  now(): number;
}

/**
 * What a handler returns for an operation whose response is a stream (StartLiveTail): the server
 * answers 200 with this content type at once and hands `run` the open response, which ends when
 * `run` resolves. Validation errors are thrown before, as usual.
 */
export class StreamingResult {
  constructor(
    readonly contentType: string,
    readonly run: (out: ResponseStream) => Promise<void>,
  ) {}
}

export interface Operation {
  /** Whether the operation changes state (recorded in the request log; tests assert on it). */
  mutating: boolean;
  handler: Handler;
}

export interface ServiceModule {
  /** SigV4 signing name, e.g. 'ecs', 'iam', 'ec2', 'ssm', 'sts', 'logs', 'ecr'. */
  name: string;
  protocol: Protocol;
  /** json: X-Amz-Target prefix, e.g. 'AmazonEC2ContainerServiceV20141113'. */
  targetPrefix?: string;
  /** json: the JSON protocol version (default 1.1; CloudWatch's SDK speaks 1.0). */
  jsonVersion?: '1.0' | '1.1';
  /**
   * json: the service is awsQueryCompatible (CloudWatch): it also takes Query (form) requests, from
   * clients built on its older Query model (Debian's awscli 2.9), and its JSON errors carry the Query
   * code in the x-amzn-query-error header. apiVersion and xmlNamespace serve the Query side.
   */
  queryCompatible?: boolean;
  /**
   * query / ec2: the API Version parameter, e.g. '2010-05-08'. Optional; used to pick the module (and
   * so the error format) for unsigned requests, whose credential scope cannot name the service.
   */
  apiVersion?: string;
  /** query / ec2: XML namespace of responses, e.g. 'https://iam.amazonaws.com/doc/2010-05-08/'. */
  xmlNamespace?: string;
  operations: Record<string, Operation>;
  /**
   * The error the service throttles with, where it is not the protocol's usual one (JSON:
   * ThrottlingException; the Tagging API models ThrottledException).
   */
  throttling?: () => ServiceError;
  /** Create this service's empty state in world.state[name]. */
  initState(): unknown;
  /**
   * Advance lifecycles (instances booting, tasks starting, services draining) to `now`.
   * Called before every request, so time-based state is computed lazily and survives persistence.
   */
  tick?(world: World, now: number): void;
}

export type LatencyProfileName = 'none' | 'fast' | 'realistic';

export interface LatencyProfile {
  name: LatencyProfileName;
  /** Extra delay added to every response, in ms (per operation overrides by "service:Operation"). */
  requestDelayMs: number;
  perOperationMs: Record<string, number>;
  /** EC2: pending -> running. */
  instanceBootMs: number;
  /** EC2: shutting-down -> terminated. */
  instanceTerminateMs: number;
  /** ECS agent: running instance -> registered container instance. */
  agentRegisterMs: number;
  /** ECS tasks: PROVISIONING -> PENDING -> RUNNING, each phase. */
  taskPhaseMs: number;
  /** ECS tasks: stopping duration; services: DRAINING -> INACTIVE. */
  taskStopMs: number;
  /** Random extra delay, 0..requestJitterMs, added to requestDelayMs (realistic profile). */
  requestJitterMs?: number;
}

export interface SandboxSettings {
  latency: LatencyProfile;
  /** Fraction (0..1) of requests answered with the protocol's throttling error. */
  throttleRate: number;
  /** Page size forced on every paginated operation (callers must follow NextToken). 0 = the service's default. */
  pageSize: number;
  /** How long after AddRoleToInstanceProfile RunInstances rejects the profile (IAM eventual consistency). */
  iamPropagationMs: number;
  /**
   * How far behind the Tagging API's listing is (services/tagging-index.ts): GetResources answers the
   * tags as they were this long ago. 0: the tags as they are now.
   */
  taggingLagMs: number;
  accountId: string;
  defaultRegion: string;
  /** EC2: availability zone -> instance type patterns (* and ?) it does not offer (services/ec2/ec2-offerings.ts). */
  notOffered?: Record<string, string[]>;
  /** EC2: availability zone -> instances it can still launch; 0 gives InsufficientInstanceCapacity. Absent: unlimited. */
  capacity?: Record<string, number>;
  /**
   * Actions the caller's policy denies, as `service:Operation` (`logs:StartLiveTail`): answered with
   * the protocol's access-denied error before the handler runs (a test's stand-in for an IAM policy).
   */
  deny?: string[];
}

export interface World {
  /** Per-service state, keyed by ServiceModule.name. JSON-serialisable. */
  state: Record<string, any>;
  settings: SandboxSettings;
  /**
   * Monotonic id generator shared by all services (deterministic ids make tests readable).
   * `prefix` is prepended verbatim, so include the dash: nextId('i-') => 'i-0f3a9c...' (17 hex digits by
   * default, the first one '0' like current EC2 ids); nextId('', 32) => 32 hex digits (ECS task ids).
   */
  nextId(prefix: string, hexLength?: number): string;
}

export interface RequestLogEntry {
  seq: number;
  /** ISO time. */
  time: string;
  service: string;
  operation: string;
  mutating: boolean;
  status: number;
  errorCode?: string;
  requestId: string;
}

/**
 * An EC2 instance as services/ec2/ stores it in world.state.ec2.instances (keyed by instanceId).
 * The simulated ECS agent (agent.ts) reads these records; it never writes them.
 */
export interface Ec2InstanceRecord {
  instanceId: string;
  imageId: string;
  instanceType: string;
  state: 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
  /** Milliseconds on the sandbox clock. */
  launchTime: number;
  /** When `state` last changed (ms); for a running instance, when it finished booting. */
  stateChangedAt: number;
  /** User data as decoded text (not base64). */
  userData?: string;
  iamInstanceProfile?: { arn: string; name: string };
  publicIpAddress?: string;
  privateIpAddress: string;
  subnetId: string;
  vpcId: string;
  securityGroupIds: string[];
  tags: Record<string, string>;
  /** Region the instance was launched in; the agent assumes settings.defaultRegion when absent. */
  region?: string;
}

/** The part of world.state.ec2 the ECS agent relies on. May be absent when no EC2 module is registered. */
export interface Ec2StateView {
  instances?: Record<string, Ec2InstanceRecord>;
}
