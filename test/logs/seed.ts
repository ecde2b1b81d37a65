/**
 * Seeding a sandbox's CloudWatch Logs with the lab's streams, through the real SDK.
 */
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { createAwsClients, type LogsApi } from '../../src/aws/clients.js';

export const CREDENTIALS = { accessKeyId: 'AKIDSANDBOXTEST00000', secretAccessKey: 'test-secret' };

export const PREFIX_A = 'i-0abc-ip-10-0-0-1-10.0.0.1';
export const PREFIX_B = 'i-0def-ip-10-0-0-2.ec2.internal-10.0.0.2';
export const FILES = ['httpd-access.log', 'httpd-error.log', 'ecs-agent.log'] as const;

export function sdkClient(sb: RunningSandbox): CloudWatchLogsClient {
  return new CloudWatchLogsClient({ region: 'us-east-1', endpoint: sb.url, credentials: CREDENTIALS, maxAttempts: 1 });
}

/** The narrow interface the tool uses, over the same SDK. */
export function logsApi(sb: RunningSandbox, maxAttempts = 1): LogsApi {
  return createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: CREDENTIALS, maxAttempts }).logs;
}

export interface Seeded {
  /** Every event put, sorted by timestamp. */
  events: { timestamp: number; stream: string; message: string }[];
  streams: string[];
}

/**
 * Log group `group` with the three lab streams on two instances; `perStream` events each, 1 s
 * apart, instance B's half a second after A's, so streams interleave. The newest event is `ageMs`
 * old.
 */
export async function seedLab(sb: RunningSandbox, o: { group?: string; perStream?: number; ageMs?: number } = {}): Promise<Seeded> {
  const group = o.group ?? 'ecs';
  const per = o.perStream ?? 3;
  const client = sdkClient(sb);
  const base = Date.now() - (o.ageMs ?? 60_000) - per * 1000;
  const events: Seeded['events'] = [];
  const streams: string[] = [];
  try {
    await client.send(new CreateLogGroupCommand({ logGroupName: group }));
    for (const [p, prefix] of [PREFIX_A, PREFIX_B].entries()) {
      for (const [f, file] of FILES.entries()) {
        const stream = `${prefix}-${file}`;
        streams.push(stream);
        await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
        const batch = Array.from({ length: per }, (_, i) => ({
          timestamp: base + i * 1000 + p * 500 + f * 100,
          message: `${file} ${prefix.slice(0, 6)} #${i}`,
        }));
        await client.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: batch }));
        events.push(...batch.map((e) => ({ ...e, stream })));
      }
    }
  } finally {
    client.destroy();
  }
  events.sort((a, b) => a.timestamp - b.timestamp);
  return { events, streams };
}

export async function putEvent(sb: RunningSandbox, stream: string, message: string, timestamp = Date.now(), group = 'ecs'): Promise<void> {
  const client = sdkClient(sb);
  try {
    await client.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: [{ timestamp, message }] }));
  } finally {
    client.destroy();
  }
}

export async function createStream(sb: RunningSandbox, stream: string, group = 'ecs'): Promise<void> {
  const client = sdkClient(sb);
  try {
    await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
  } finally {
    client.destroy();
  }
}
