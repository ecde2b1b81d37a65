/**
 * Benchmark of `up --sandbox --local`: the time from an HTTP request to the app to its access line
 * being readable in the sandbox's CloudWatch Logs (FilterLogEvents, the call `ecs-cwlogs logs`
 * makes), median and p99 over 200 requests. Prints figures; asserts nothing about time.
 *
 *   npm run build && node dist/test/bench/local-latency.js [requests]
 *
 * Needs Docker and the CI base image (.ci/setup-docker.sh); builds (or reuses) the logging image
 * with the agent skipped and the httpd-like image, so the path measured is
 *   httpd -> logger -> rsyslog (TCP 514) -> file -> the sandbox's stand-in agent -> PutLogEvents.
 * Requests go one every 25 ms; the log group is polled every 50 ms (which adds up to 50 ms).
 * The stand-in flushes a stream's lines 1 s after the first of them was read
 * (ECS_CWLOGS_SANDBOX_FLUSH_MS), as the real agent's force_flush_interval does (docs/verify.md).
 */
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { dockerEnv } from '../docker/docker-helpers.js';
import { get, localStack } from '../docker/local-helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200);
  const env = await dockerEnv();
  if (typeof env === 'string') throw new Error(`cannot run: ${env}`);
  const s = await localStack(env, 'bench');
  const t0 = Date.now();
  const up = await s.cli(s.upArgs, 300_000);
  if (up.code !== 0) throw new Error(`up failed: ${up.stderr}`);
  const url: string = JSON.parse(up.stdout).summary.url;
  console.log(`up --sandbox --local: ${((Date.now() - t0) / 1000).toFixed(1)} s, app at ${url}`);
  const logs = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${s.record()!.port}`, credentials: { accessKeyId: s.record()!.accessKeyId, secretAccessKey: s.record()!.secretAccessKey } });
  const marker = `bench-${Date.now().toString(36)}`;
  const sent = new Map<number, number>();
  const seen = new Map<number, number>();
  let polling = true;
  const start = Date.now();
  const poller = (async () => {
    while (polling) {
      let token: string | undefined;
      do {
        const r = await logs.send(new FilterLogEventsCommand({ logGroupName: 'ecs', startTime: start - 1000, filterPattern: `"${marker}"`, nextToken: token }));
        const now = Date.now();
        for (const e of r.events ?? []) {
          const m = new RegExp(`${marker}-(\\d+) `).exec(e.message ?? '');
          if (m && !seen.has(Number(m[1]))) seen.set(Number(m[1]), now);
        }
        token = r.nextToken;
      } while (token);
      if (seen.size >= n) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  for (let i = 0; i < n; i++) {
    sent.set(i, Date.now());
    const status = await get(`${url}?${marker}-${i}`);
    if (status !== 200) throw new Error(`GET ${i}: ${status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const deadline = Date.now() + 30_000;
  while (seen.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  polling = false;
  await poller;
  const lat = [...seen].map(([i, t]) => t - sent.get(i)!).sort((a, b) => a - b);
  console.log(`requests: ${n}, lines seen: ${seen.size}${seen.size < n ? ` (${n - seen.size} missing after 30 s)` : ''}`);
  console.log(`request -> line in logs: median ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, min ${lat[0]} ms, max ${lat.at(-1)} ms`);
  logs.destroy();
  const down = await s.cli(['down', '--sandbox', '--yes', '--stack', s.stack]);
  if (down.code !== 0) throw new Error(`down failed: ${down.stderr}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
