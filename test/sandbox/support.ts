/** Shared setup for the sandbox's own tests: a started sandbox and SDK client configuration. */
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/index.js';

export const CREDENTIALS = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' };

export function clientConfig(sb: RunningSandbox, extra: Record<string, unknown> = {}) {
  return { endpoint: sb.url, region: 'us-east-1', credentials: CREDENTIALS, ...extra };
}

/** Run `fn` against a fresh sandbox (latency 'none' unless given) and always close it. */
export async function withSandbox<T>(opts: SandboxOptions, fn: (sb: RunningSandbox) => Promise<T>): Promise<T> {
  const sb = await startSandbox({ latency: 'none', ...opts });
  try {
    return await fn(sb);
  } finally {
    await sb.close();
  }
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
