/**
 * Test helpers: a started sandbox and a step Context wired to it through the real SDK clients.
 */
import { createAwsClients } from '../../src/aws/clients.js';
import { resolveSettings } from '../../src/core/config.js';
import { realClock, SANDBOX_TIMING, stackTags } from '../../src/core/context.js';
import type { Context } from '../../src/engine/context.js';
import type { StackConfig } from '../../src/core/settings.js';
import { RecordingIoHost } from '../../src/io/recording.js';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/index.js';
import { controlCall } from '../../src/cli/sandbox-mode.js';

// The SDK's Node 20 notice would repeat in every test's output (the README explains it once).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDSANDBOXTEST00000', secretAccessKey: 'test-secret' };
/** The keys the tests' clients sign with: a test sandbox accepts these (and nothing else) unless told otherwise. */
export const TEST_KEYS = [TEST_CREDENTIALS, { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' }];

/** A /_sandbox/ control call signed with TEST_CREDENTIALS (as the CLI signs its own). */
export function control(sb: { port: number }, path: string, init: { method?: string; body?: string } = {}): Promise<Response> {
  return controlCall(sb.port, TEST_CREDENTIALS, path, { ...init, timeoutMs: 10_000 });
}

/** SandboxOptions for a test: credentials default to TEST_KEYS. */
export type TestSandboxOptions = Omit<SandboxOptions, 'credentials'> & Partial<Pick<SandboxOptions, 'credentials'>>;

export async function withSandbox<T>(opts: TestSandboxOptions, fn: (sb: RunningSandbox) => Promise<T>): Promise<T> {
  const sb = await startSandbox({ port: 0, latency: 'fast', credentials: TEST_KEYS, ...opts });
  try {
    return await fn(sb);
  } finally {
    await sb.close();
  }
}

export interface TestContextOptions {
  stack?: string;
  config?: Partial<StackConfig>;
  adopt?: boolean;
  deleteLogs?: boolean;
  io?: RecordingIoHost;
  signal?: AbortSignal;
  maxAttempts?: number;
  /** Use this config object itself, filling only the region. */
  configRef?: StackConfig;
  intent?: 'apply' | 'inspect';
  /** Progress messages (ctx.report), e.g. to see a fallback to another zone. */
  report?: (message: string) => void;
  /** --replace-instance */
  replaceInstance?: boolean;
}

/** A Context as the CLI builds it, against the sandbox, with defaults for every setting. */
export async function sandboxContext(sb: RunningSandbox, o: TestContextOptions = {}): Promise<Context & { io: RecordingIoHost }> {
  const stack = o.stack ?? 'test';
  const { config } = resolveSettings({ flags: {}, env: {} });
  const full: StackConfig = o.configRef
    ? Object.assign(o.configRef, { region: o.configRef.region ?? 'us-east-1' })
    : { ...config, region: 'us-east-1', allowCidr: '203.0.113.7/32', image: 'registry.example/cloudwatchlogs:1', ...o.config };
  const aws = createAwsClients({ region: full.region, endpoint: sb.url, credentials: TEST_CREDENTIALS, maxAttempts: o.maxAttempts });
  const id = await aws.sts.getCallerIdentity({});
  const io = o.io ?? new RecordingIoHost();
  const ctx = Object.create(aws, {
    stack: { value: stack },
    target: { value: { kind: 'endpoint', endpoint: sb.url, account: id.Account ?? '', region: full.region } },
    account: { value: id.Account ?? '' },
    callerArn: { value: id.Arn ?? '' },
    endpoint: { value: sb.url },
    config: { value: full },
    tags: { value: stackTags(stack) },
    io: { value: io },
    flags: { value: { adopt: Boolean(o.adopt), deleteLogs: Boolean(o.deleteLogs), intent: o.intent ?? 'apply', ...(o.replaceInstance ? { replaceInstance: true } : {}) } },
    clock: { value: realClock },
    timing: { value: { ...SANDBOX_TIMING, pollMs: 50, retryMs: 50 } },
    signal: { value: o.signal ?? new AbortController().signal },
    report: { value: o.report ?? (() => undefined) },
  }) as Context & { io: RecordingIoHost };
  return ctx;
}

/** Mutating calls recorded since `since` (a request log length). */
export function mutatingCalls(sb: RunningSandbox, since = 0): string[] {
  return sb
    .requestLog()
    .slice(since)
    .filter((r) => r.mutating)
    .map((r) => `${r.service}:${r.operation}`);
}

/**
 * The same context, but its process "dies" at one EC2 operation: before the call is made, or once
 * it has returned (its answer lost), by throwing "SIGKILL".
 */
export function crashingAt<C extends Pick<Context, 'ec2'>>(base: C, operation: string, when: 'before' | 'after'): C {
  const ec2 = new Proxy(base.ec2, {
    get(target, prop, recv) {
      const f = Reflect.get(target, prop, recv);
      if (prop !== operation) return typeof f === 'function' ? f.bind(target) : f;
      return async (...args: unknown[]) => {
        if (when === 'after') await (f as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        throw new Error('SIGKILL');
      };
    },
  });
  return Object.create(base, { ec2: { value: ec2 } }) as C;
}
