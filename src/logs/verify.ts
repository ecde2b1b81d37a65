/**
 * Proof that the lines flow (the logic behind `ecs-cwlogs verify` and the end of `up`), with no
 * terminal in sight. In order, stopping at the first break:
 *
 *  1. a running task: ListTasks (the service, desiredStatus RUNNING) and DescribeTasks, lastStatus
 *     RUNNING; the instances they run on (DescribeContainerInstances' ec2InstanceId), since every
 *     stream of the lab is named {instance_id}-{hostname}-{ip_address}-<file>;
 *  2. the canary: one GET of the app's URL with a query string no other request has,
 *     `/?ecs-cwlogs-canary=<id>`: httpd answers it 200 (the path is `/`, so no 404 and no error line
 *     that the error-line alarm would count), and its access line carries the id in `%r`. The
 *     request is retried until the app answers (an ALB's targets may still be registering);
 *  3. the line in CloudWatch Logs: FilterLogEvents over the group with the id as a quoted term,
 *     from a minute before the request (clock skew), every pollMs, until an event of an
 *     `-httpd-access.log` stream carries it. The end-to-end latency is the time from the request's
 *     answer to the poll that found it (what a user waiting for it sees; at most pollMs late);
 *  4. each current instance's streams: their last event (GetLogEvents, limit 1, from the end: AWS
 *     says DescribeLogStreams' lastEventTimestamp "updates on an eventual consistency basis. It
 *     typically updates in less than an hour from ingestion", API_LogStream.html, so it cannot tell
 *     the age). The ECS agent's stream (`-ecs-agent.log`) must exist and have an event newer than
 *     silentAfterMs: the agent logs on every task transition, and the ACS connection it re-opens
 *     periodically logs too, so an hour of silence means the stream is no longer shipped.
 *
 * Nothing here writes to AWS (only List/Describe/Get/Filter calls). The canary is an HTTP request to
 * the app; `canary: false` (the CLI's --dry-run) leaves it out and checks 1 and 4 only.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EcsApi, LogsApi } from '../aws/clients.js';
import { toCliError } from '../aws/errors.js';
import { InterruptedError, hasAwsCode } from '../core/errors.js';
import { abortableSleep, isMissingGroup } from './tail.js';

export type BreakPoint = 'check-failed' | 'no-running-task' | 'app-unreachable' | 'no-access-line' | 'agent-stream-missing' | 'agent-stream-silent';

export interface Broken {
  where: BreakPoint;
  what: string;
  why: string;
  fix: string;
}

export interface StreamAge {
  stream: string;
  /** The file part: httpd-access.log, ecs-agent.log… */
  file: string;
  instanceId: string;
  lastEventAt?: string;
  ageMs?: number;
}

export interface Canary {
  url: string;
  id: string;
  status?: number;
  sentAt: string;
  /** From the app's answer to the poll that found the line, ms. */
  latencyMs?: number;
  /** The access stream that holds it. */
  stream?: string;
  /** The event's ingestion time minus the request's answer (AWS's clock against ours), ms. */
  ingestedAfterMs?: number;
}

export interface VerifyReport {
  ok: boolean;
  broken?: Broken;
  tasks: { running: number; instances: string[] };
  canary?: Canary;
  /** Why no canary was sent, when none was. */
  canarySkipped?: string;
  streams: StreamAge[];
}

export interface VerifyOptions {
  cluster: string;
  service: string;
  logGroup: string;
  /** The app's URL; undefined: no canary (canarySkipped says why). */
  url?: string;
  noUrlReason?: string;
  canary: boolean;
  /** For the canary's line (and the app to answer). */
  timeoutMs: number;
  pollMs: number;
  silentAfterMs: number;
  signal?: AbortSignal;
  /** The command to run for a missing stack. */
  upCommand?: string;
  userAgent?: string;
  /** Tests may pass fakes. */
  get?: (url: string, o: { timeoutMs: number; userAgent: string; signal?: AbortSignal }) => Promise<number>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /** Progress for people (stderr). */
  notice?: (text: string) => void;
}

const ACCESS = /-httpd-access\.log$/;
const AGENT = /-ecs-agent\.log$/;

export const canaryId = (): string => randomBytes(8).toString('hex');

/** One GET, one connection, the status code (the body is drained). */
export function httpGet(url: string, o: { timeoutMs: number; userAgent: string; signal?: AbortSignal }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method: 'GET', agent: false, headers: { 'user-agent': o.userAgent }, signal: o.signal }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs, () => req.destroy(new Error(`no answer in ${o.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The running tasks of the service and the EC2 instances they run on. */
export async function runningTasks(ecs: EcsApi, cluster: string, service: string, signal?: AbortSignal): Promise<{ running: number; instances: string[] }> {
  try {
    const arns = (await ecs.listTasks({ cluster, serviceName: service, desiredStatus: 'RUNNING' }, { abortSignal: signal })).taskArns ?? [];
    if (!arns.length) return { running: 0, instances: [] };
    const tasks = ((await ecs.describeTasks({ cluster, tasks: arns.slice(0, 100) }, { abortSignal: signal })).tasks ?? []).filter((t) => t.lastStatus === 'RUNNING');
    const cis = [...new Set(tasks.map((t) => t.containerInstanceArn).filter((x): x is string => Boolean(x)))];
    const instances = cis.length
      ? ((await ecs.describeContainerInstances({ cluster, containerInstances: cis }, { abortSignal: signal })).containerInstances ?? []).map((c) => c.ec2InstanceId).filter((x): x is string => Boolean(x))
      : [];
    return { running: tasks.length, instances: [...new Set(instances)].sort() };
  } catch (e) {
    if (hasAwsCode(e, 'ClusterNotFoundException', 'ServiceNotFoundException')) return { running: 0, instances: [] };
    throw toCliError(e, `Reading the tasks of service ${service}`);
  }
}

/** The last event of every stream of these instances (the newest streams first, at most 50 read). */
export async function streamAges(logs: LogsApi, logGroup: string, instances: readonly string[], now: number, signal?: AbortSignal): Promise<StreamAge[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const res = await logs.describeLogStreams({ logGroupName: logGroup, nextToken }, { abortSignal: signal });
      for (const s of res.logStreams ?? []) if (s.logStreamName && instances.some((i) => s.logStreamName!.startsWith(`${i}-`))) names.push(s.logStreamName);
      nextToken = res.nextToken;
    } while (nextToken && names.length < 50);
  } catch (e) {
    if (isMissingGroup(e)) return [];
    throw toCliError(e, `Listing the streams of ${logGroup}`);
  }
  const out: StreamAge[] = [];
  for (const stream of names.sort()) {
    const instanceId = instances.find((i) => stream.startsWith(`${i}-`))!;
    const file = /-(\d{1,3}(?:\.\d{1,3}){3})-(.+)$/.exec(stream)?.[2] ?? stream.slice(instanceId.length + 1);
    try {
      const res = await logs.getLogEvents({ logGroupName: logGroup, logStreamName: stream, startFromHead: false, limit: 1 }, { abortSignal: signal });
      const last = res.events?.[res.events.length - 1]?.timestamp;
      out.push({ stream, file, instanceId, ...(last !== undefined ? { lastEventAt: new Date(last).toISOString(), ageMs: Math.max(0, now - last) } : {}) });
    } catch (e) {
      if (hasAwsCode(e, 'ResourceNotFoundException')) continue;
      throw toCliError(e, `Reading the last event of ${stream}`);
    }
  }
  return out;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;

/** Run the checks; a break is a report with ok=false, not an exception (AWS failures are). */
export async function verifyPipeline(aws: { ecs: EcsApi; logs: LogsApi }, o: VerifyOptions): Promise<VerifyReport> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? abortableSleep;
  const get = o.get ?? httpGet;
  const up = o.upCommand ?? 'ecs-cwlogs up';
  const tasks = await runningTasks(aws.ecs, o.cluster, o.service, o.signal);
  const report: VerifyReport = { ok: false, tasks, streams: [] };
  if (tasks.running === 0) {
    report.broken = {
      where: 'no-running-task',
      what: `No running task of service ${o.service} in cluster ${o.cluster}`,
      why: 'nothing runs httpd or the logging container, so no line can be written',
      fix: `Run \`${up}\` (it starts the service), then \`ecs-cwlogs logs --stream ecs-agent\` for why a task stopped.`,
    };
    return report;
  }

  if (!o.canary || !o.url) {
    report.canarySkipped = !o.canary ? 'a dry run sends no request' : (o.noUrlReason ?? 'the app has no URL');
  } else {
    const id = canaryId();
    const url = `${o.url}${o.url.includes('?') ? '&' : o.url.endsWith('/') ? '?' : '/?'}ecs-cwlogs-canary=${id}`;
    const started = now();
    const deadline = started + o.timeoutMs;
    let status: number | undefined;
    let lastError = '';
    while (status === undefined) {
      try {
        status = await get(url, { timeoutMs: Math.min(10_000, Math.max(1000, deadline - now())), userAgent: o.userAgent ?? 'ecs-cwlogs-verify', signal: o.signal });
      } catch (e) {
        if (o.signal?.aborted) throw new InterruptedError({ what: 'Interrupted', why: 'Ctrl-C before the app answered the canary', cause: e });
        lastError = e instanceof Error ? e.message : String(e);
        if (now() >= deadline) break;
        await sleep(Math.min(1000, o.pollMs * 4), o.signal);
      }
    }
    const answered = now();
    const canary: Canary = { url, id, ...(status !== undefined ? { status } : {}), sentAt: new Date(answered).toISOString() };
    report.canary = canary;
    if (status === undefined) {
      report.broken = {
        where: 'app-unreachable',
        what: `The app at ${o.url} did not answer`,
        why: `${lastError} (tried for ${seconds(o.timeoutMs)}); no request, no access line`,
        fix: 'Check that your IP is the one allowed in (--allow-cidr), and `ecs-cwlogs status` for the service and instance.',
      };
      return report;
    }
    o.notice?.(`Canary sent (${status}); waiting for its access line in ${o.logGroup}…`);
    for (;;) {
      if (o.signal?.aborted) throw new InterruptedError({ what: 'Interrupted', why: "Ctrl-C before the canary's line arrived" });
      let found: { stream: string; ingestionTime?: number } | undefined;
      try {
        const res = await aws.logs.filterLogEvents({ logGroupName: o.logGroup, startTime: answered - 60_000, filterPattern: `"${id}"` }, { abortSignal: o.signal });
        const e = (res.events ?? []).find((x) => ACCESS.test(x.logStreamName ?? '') && (x.message ?? '').includes(id));
        if (e) found = { stream: e.logStreamName!, ingestionTime: e.ingestionTime };
      } catch (e) {
        if (o.signal?.aborted) continue;
        if (!isMissingGroup(e)) throw toCliError(e, `Looking for the canary's line in ${o.logGroup}`);
      }
      const t = now();
      if (found) {
        canary.latencyMs = t - answered;
        canary.stream = found.stream;
        if (found.ingestionTime !== undefined) canary.ingestedAfterMs = found.ingestionTime - answered;
        break;
      }
      if (t - answered >= o.timeoutMs) {
        report.broken = {
          where: 'no-access-line',
          what: `The canary's access line did not arrive in ${o.logGroup} within ${seconds(o.timeoutMs)}`,
          why: `the app answered ${status} to ${url}, but no -httpd-access.log stream holds "${id}": httpd's piped logger, rsyslog or the CloudWatch agent in the logging container is not passing lines on`,
          fix: 'Run `ecs-cwlogs logs --stream ecs-agent --since 15m` for the logging container\'s state and `ecs-cwlogs status`; a longer --timeout if the agent has just started.',
        };
        break;
      }
      await sleep(o.pollMs, o.signal);
    }
  }

  report.streams = await streamAges(aws.logs, o.logGroup, tasks.instances, now(), o.signal);
  if (!report.broken) {
    for (const i of tasks.instances) {
      const agent = report.streams.find((s) => s.instanceId === i && AGENT.test(s.stream));
      if (!agent || agent.ageMs === undefined) {
        report.broken = {
          where: 'agent-stream-missing',
          what: `Instance ${i} has no ECS agent stream in ${o.logGroup}`,
          why: "the CloudWatch agent in the logging container ships the instance's /var/log/ecs/ecs-agent.log, and no event of it arrived",
          fix: "Check the logging container's mount of /var/log/ecs and its agent (`ecs-cwlogs logs --stream httpd-error`), then run `" + up + '` again.',
        };
        break;
      }
      if (agent.ageMs > o.silentAfterMs) {
        report.broken = {
          where: 'agent-stream-silent',
          what: `The ECS agent stream of instance ${i} has gone silent`,
          why: `its last event is ${seconds(agent.ageMs)} old (${agent.lastEventAt}), more than ${seconds(o.silentAfterMs)}: the stream is not being shipped any more`,
          fix: 'Check that the logging container runs on that instance (`ecs-cwlogs status`); --silent-after sets the limit.',
        };
        break;
      }
    }
  }
  report.ok = !report.broken;
  return report;
}
