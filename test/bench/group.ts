/**
 * Benchmark of the group topology: `up --instances N --load-balancer` for N = 1, 3 and 10 against
 * the sandbox's `realistic` latency profile, through the real binary, each from nothing and torn down
 * after. Prints the wall time, the AWS calls (and mutating ones) of the fresh `up`, of a second `up`
 * (which must make none), and of `down`, so the growth with N is visible. Asserts nothing about time.
 *
 *   npm run build && node dist/test/bench/group.js [N ...]
 */
import { performance } from 'node:perf_hooks';
import { startSandbox } from '../../src/sandbox/index.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

async function timed(args: string[], env: NodeJS.ProcessEnv) {
  const t0 = performance.now();
  const r = await runCli(args, env, { timeoutMs: 1_200_000 });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${args[0]} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return ms;
}

const counts = process.argv.slice(2).map(Number).filter((n) => n > 0);
const sizes = counts.length ? counts : [1, 3, 10];
const sb = await startSandbox({ credentials: TEST_KEYS, port: 0, latency: 'realistic' });
const rows: string[] = [];
try {
  for (const n of sizes) {
    const env = cliEnv(tempConfigDir(), { ECS_CWLOGS_POLL_MS: '500' });
    const common = ['--endpoint-url', sb.url, '--region', 'us-east-1', '--yes', '--json', '--stack', `bench${n}`];
    const up = ['up', ...common, '--image', 'registry.example/cloudwatchlogs:1', '--allow-cidr', '203.0.113.7/32', '--instances', String(n), '--load-balancer'];
    const calls = () => {
      const log = sb.requestLog();
      sb.clearRequestLog();
      return `${String(log.length).padStart(4)} calls (${String(log.filter((c) => c.mutating).length).padStart(3)} mutating)`;
    };
    sb.clearRequestLog();
    const first = await timed(up, env);
    const c1 = calls();
    const second = await timed(up, env);
    const c2 = calls();
    const down = await timed(['down', ...common, '--delete-logs'], env);
    const c3 = calls();
    const s = (ms: number) => `${(ms / 1000).toFixed(1).padStart(6)} s`;
    rows.push(`  N=${String(n).padEnd(3)} up ${s(first)} ${c1}   second up ${s(second)} ${c2}   down ${s(down)} ${c3}`);
    console.log(rows[rows.length - 1]);
  }
} finally {
  await sb.close();
}
console.log('\nup --instances N --load-balancer against the sandbox (latency profile: realistic)');
for (const r of rows) console.log(r);
