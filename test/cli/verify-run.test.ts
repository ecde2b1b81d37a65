/**
 * verify's logic against small fakes (ECS, Logs, the app): where a broken pipeline broke, and the
 * latency and ages it reports when it works. The real thing runs in test/docker/verify-local.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EcsApi, LogsApi } from '../../src/aws/clients.js';
import { verifyPipeline, type VerifyOptions } from '../../src/logs/verify.js';

const I = 'i-0123456789abcdef0';
const prefix = `${I}-ip-10-0-0-5.ec2.internal-10.0.0.5-`;

function fakes(o: { running?: number; arrives?: boolean; agentAgeMs?: number | null; clock: { t: number } }): { ecs: EcsApi; logs: LogsApi; filters: string[] } {
  const filters: string[] = [];
  const ecs = {
    async listTasks() {
      return { taskArns: Array.from({ length: o.running ?? 1 }, (_, i) => `arn:task/${i}`) };
    },
    async describeTasks() {
      return { tasks: Array.from({ length: o.running ?? 1 }, () => ({ lastStatus: 'RUNNING', containerInstanceArn: 'arn:ci/1' })) };
    },
    async describeContainerInstances() {
      return { containerInstances: [{ ec2InstanceId: I }] };
    },
  } as unknown as EcsApi;
  let polls = 0;
  const logs = {
    async filterLogEvents(p: { filterPattern: string }) {
      filters.push(p.filterPattern);
      polls++;
      const id = p.filterPattern.replace(/"/g, '');
      return { events: o.arrives && polls >= 3 ? [{ logStreamName: `${prefix}httpd-access.log`, message: `"GET /?ecs-cwlogs-canary=${id} HTTP/1.1" 200 45 "-" "x" 812`, ingestionTime: o.clock.t }] : [] };
    },
    async describeLogStreams() {
      const names = ['httpd-access.log', ...(o.agentAgeMs === null ? [] : ['ecs-agent.log'])];
      return { logStreams: [...names.map((n) => ({ logStreamName: `${prefix}${n}` })), { logStreamName: 'i-other-host-10.0.0.9-ecs-agent.log' }] };
    },
    async getLogEvents(p: { logStreamName: string }) {
      const age = p.logStreamName.endsWith('ecs-agent.log') ? (o.agentAgeMs ?? 0) : 100;
      return { events: [{ timestamp: o.clock.t - age, message: 'x' }] };
    },
  } as unknown as LogsApi;
  return { ecs, logs, filters };
}

function opts(clock: { t: number }, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    cluster: 'c',
    service: 's',
    logGroup: 'ecs',
    url: 'http://127.0.0.1:8080/',
    canary: true,
    timeoutMs: 5000,
    pollMs: 250,
    silentAfterMs: 3_600_000,
    get: async () => 200,
    sleep: async (ms) => {
      clock.t += ms;
    },
    now: () => clock.t,
    ...extra,
  };
}

test('a working pipeline: the canary line found, its latency, each current stream with its age', async () => {
  const clock = { t: 1_000_000 };
  const f = fakes({ arrives: true, agentAgeMs: 30_000, clock });
  const r = await verifyPipeline(f, opts(clock));
  assert.equal(r.ok, true, JSON.stringify(r.broken));
  assert.equal(r.canary?.latencyMs, 500, 'found on the third poll, 250 ms apart');
  assert.match(r.canary!.url, /^http:\/\/127\.0\.0\.1:8080\/\?ecs-cwlogs-canary=[0-9a-f]{16}$/);
  assert.equal(f.filters[0], `"${r.canary!.id}"`, 'the id as a quoted term');
  assert.deepEqual(r.streams.map((s) => [s.file, s.ageMs]), [['ecs-agent.log', 30_000], ['httpd-access.log', 100]], "only the running instance's streams");
});

test('no running task: broken there, no canary sent', async () => {
  const clock = { t: 0 };
  let sent = 0;
  const r = await verifyPipeline(fakes({ running: 0, clock }), opts(clock, { get: async () => (sent++, 200) }));
  assert.equal(r.broken?.where, 'no-running-task');
  assert.equal(sent, 0);
});

test('the access line never arrives: broken at no-access-line after the timeout', async () => {
  const clock = { t: 0 };
  const r = await verifyPipeline(fakes({ arrives: false, clock }), opts(clock));
  assert.equal(r.ok, false);
  assert.equal(r.broken?.where, 'no-access-line');
  assert.match(r.broken!.what, /did not arrive in ecs within 5\.0s/);
});

test('the ECS agent stream silent for longer than --silent-after, or missing', async () => {
  const clock = { t: 10_000_000 };
  const silent = await verifyPipeline(fakes({ arrives: true, agentAgeMs: 2 * 3_600_000, clock }), opts(clock));
  assert.equal(silent.broken?.where, 'agent-stream-silent');
  const missing = await verifyPipeline(fakes({ arrives: true, agentAgeMs: null, clock }), opts(clock));
  assert.equal(missing.broken?.where, 'agent-stream-missing');
});

test('--dry-run sends no canary and still checks the task and the streams', async () => {
  const clock = { t: 0 };
  let sent = 0;
  const r = await verifyPipeline(fakes({ arrives: true, agentAgeMs: 10, clock }), opts(clock, { canary: false, get: async () => (sent++, 200) }));
  assert.equal(sent, 0);
  assert.equal(r.canary, undefined);
  assert.match(r.canarySkipped!, /dry run/);
  assert.equal(r.ok, true);
});

test('an app that never answers: broken at app-unreachable', async () => {
  const clock = { t: 0 };
  const r = await verifyPipeline(fakes({ clock }), opts(clock, { get: async () => { clock.t += 1000; throw new Error('connect ECONNREFUSED'); } }));
  assert.equal(r.broken?.where, 'app-unreachable');
  assert.match(r.broken!.why, /ECONNREFUSED/);
});

test("the local stand-in flushes at the agent's force_flush_interval (the same semantics, the same figure)", async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { PACKAGE_ROOT } = await import('../../src/core/version.js');
  const { DEFAULT_FLUSH_MS } = await import('../../src/sandbox/local/log-shipper.js');
  const script = readFileSync(join(PACKAGE_ROOT, 'docker', 'rootfs', 'usr', 'local', 'bin', 'ecs-cwlogs-agent-config'), 'utf8');
  const m = /"force_flush_interval": (\d+),/.exec(script);
  assert.ok(m, 'force_flush_interval in the agent configuration');
  assert.equal(Number(m[1]) * 1000, DEFAULT_FLUSH_MS);
  assert.ok(Number(m[1]) >= 1, "the schema's minimum is 1 (seconds)");
});
