/** Shared setup for the sandbox's own tests: a started sandbox and SDK client configuration. */
import assert from 'node:assert/strict';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { TEST_KEYS, type TestSandboxOptions } from '../helpers/sandbox-context.js';

export const CREDENTIALS = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' };

export function clientConfig(sb: RunningSandbox, extra: Record<string, unknown> = {}) {
  return { endpoint: sb.url, region: 'us-east-1', credentials: CREDENTIALS, ...extra };
}

/** Run `fn` against a fresh sandbox (latency 'none' unless given) and always close it. */
export async function withSandbox<T>(opts: TestSandboxOptions, fn: (sb: RunningSandbox) => Promise<T>): Promise<T> {
  const sb = await startSandbox({ latency: 'none', credentials: TEST_KEYS, ...opts });
  try {
    return await fn(sb);
  } finally {
    await sb.close();
  }
}

/** Assert an SDK call fails with this AWS error code, HTTP 400, and (optionally) a matching message. */
export async function rejects(call: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(call, (err: any) => {
    assert.equal(err.name, code, `expected ${code}, got ${err.name}: ${err.message}`);
    assert.equal(err.$metadata?.httpStatusCode, 400);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** The error an SDK call rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** A minimal valid EC2-launch-type task definition input. */
export function taskDefinitionInput(family: string, extra: Record<string, unknown> = {}) {
  return {
    family,
    containerDefinitions: [{ name: 'app', image: 'nginx:1.27', memory: 128, essential: true }],
    ...extra,
  };
}

/** SDK clients for the Auto Scaling tests (EC2 for the instances behind a group). */
export async function autoScalingClients(sb: { url: string }) {
  const { AutoScalingClient } = await import('@aws-sdk/client-auto-scaling');
  const { EC2Client } = await import('@aws-sdk/client-ec2');
  const config = { endpoint: sb.url, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 };
  return { autoscaling: new AutoScalingClient(config), ec2: new EC2Client(config) };
}

/** Assert an SDK call fails with this Query-protocol error code (e.g. ValidationError, AlreadyExists), HTTP 400. */
export async function rejectsCode(call: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(call, (err: any) => {
    const got = err.Error?.Code ?? err.Code ?? err.name;
    assert.equal(got, code, `expected ${code}, got ${got} (${err.name}): ${err.message}`);
    assert.equal(err.$metadata?.httpStatusCode, 400);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** An ELBv2 client against the sandbox. */
export async function elbv2Client(sb: RunningSandbox, extra: Record<string, unknown> = {}) {
  const { ElasticLoadBalancingV2 } = await import('@aws-sdk/client-elastic-load-balancing-v2');
  return new ElasticLoadBalancingV2(clientConfig(sb, extra));
}
