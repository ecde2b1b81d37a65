/**
 * Benchmark of `verify` under `up --sandbox --local`: its end-to-end latency (the canary's answer to
 * the poll that finds its access line in the sandbox's CloudWatch Logs) over N canaries, for each
 * flush interval of the local stand-in (ECS_CWLOGS_SANDBOX_FLUSH_MS, the agent's
 * force_flush_interval in ms). Prints figures; asserts nothing about time.
 *
 *   npm run build && node dist/test/bench/verify.js [canaries=20] [flush ms…=1000 2000 5000]
 *
 * Needs Docker and the CI base image (.ci/setup-docker.sh). The path measured is
 *   httpd -> logger -> rsyslog (TCP 514) -> file -> the stand-in agent -> PutLogEvents,
 * seen through the real binary (`verify --sandbox --json`), which polls FilterLogEvents every 50 ms
 * (ECS_CWLOGS_POLL_MS), so a figure is at most 50 ms late. One stack per interval, torn down after.
 */
import { dockerEnv } from '../docker/docker-helpers.js';
import { localStack } from '../docker/local-helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function one(flushMs: number, n: number): Promise<void> {
  const env = await dockerEnv();
  if (typeof env === 'string') throw new Error(`cannot run: ${env}`);
  const s = await localStack(env, `bv${flushMs}`);
  s.env.ECS_CWLOGS_SANDBOX_FLUSH_MS = String(flushMs);
  try {
    const up = await s.cli(s.upArgs, 300_000);
    if (up.code !== 0) throw new Error(`up failed: ${up.stderr}`);
    const lat: number[] = [];
    const failed: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await s.cli(['verify', '--sandbox', '--json', '--stack', s.stack, '--timeout', '30s'], 120_000);
      const doc = JSON.parse(r.stdout) as { ok: boolean; canary?: { latencyMs?: number }; broken?: { where: string } };
      if (doc.canary?.latencyMs !== undefined) lat.push(doc.canary.latencyMs);
      else failed.push(doc.broken?.where ?? `exit ${r.code}`);
    }
    lat.sort((a, b) => a - b);
    const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(
      `flush ${flushMs} ms: ${lat.length}/${n} canaries, verify's end-to-end latency median ${f(pct(lat, 50))}, p90 ${f(pct(lat, 90))}, min ${f(lat[0]!)}, max ${f(lat.at(-1)!)}${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
    );
  } finally {
    await s.cli(['down', '--sandbox', '--yes', '--stack', s.stack], 120_000);
  }
}

async function main(): Promise<void> {
  const [n = '20', ...flush] = process.argv.slice(2);
  for (const ms of flush.length ? flush.map(Number) : [1000, 2000, 5000]) await one(ms, Number(n));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
