/**
 * Benchmark of the lab itself: `up` end to end against the sandbox's `realistic` latency profile
 * (EC2 boot and ECS registration scaled to seconds), through the real binary. Prints figures; asserts
 * nothing about time.
 *
 *   npm run build && node dist/test/bench/up.js
 *
 * It reports the wall time of a fresh `up`, each step's own time, how much the dependency graph
 * overlapped (the time applying took against the critical path: the longest chain of step times
 * along the edges each step waited on), the calls made, then the same for a second `up`
 * (which must make zero mutating calls) and `down`, and the CLI's start-up time.
 */
import { performance } from 'node:perf_hooks';
import { startSandbox } from '../../src/sandbox/index.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

interface StepRow {
  id: string;
  action: string;
  ms: number;
  startMs?: number;
  waitedOn?: string[];
}

/**
 * The run's critical path: the longest chain of step times along the edges each step waited on
 * (what no scheduler can beat), and how long applying really took (first start to last end).
 */
function criticalPath(steps: readonly StepRow[]): { path: string[]; ms: number; applyMs: number } {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const memo = new Map<string, { ms: number; path: string[] }>();
  const finish = (id: string): { ms: number; path: string[] } => {
    const hit = memo.get(id);
    if (hit) return hit;
    const s = byId.get(id)!;
    let best = { ms: 0, path: [] as string[] };
    for (const d of s.waitedOn ?? []) if (byId.has(d) && finish(d).ms > best.ms) best = finish(d);
    const r = { ms: best.ms + s.ms, path: [...best.path, id] };
    memo.set(id, r);
    return r;
  };
  const end = steps.map((s) => finish(s.id)).sort((a, b) => b.ms - a.ms)[0] ?? { ms: 0, path: [] };
  const timed = steps.filter((s) => s.startMs !== undefined);
  const applyMs = timed.length ? Math.max(...timed.map((s) => s.startMs! + s.ms)) - Math.min(...timed.map((s) => s.startMs!)) : 0;
  return { ...end, applyMs };
}

async function timed(args: string[], env: NodeJS.ProcessEnv) {
  const t0 = performance.now();
  const r = await runCli(args, env, { timeoutMs: 600_000 });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${args[0]} failed (${r.code}): ${r.stderr}`);
  return { ms, r };
}

async function main(): Promise<void> {
  const sb = await startSandbox({ credentials: TEST_KEYS, port: 0, latency: 'realistic' });
  try {
    const env = cliEnv(tempConfigDir(), { ECS_CWLOGS_POLL_MS: '500' });
    const common = ['--endpoint-url', sb.url, '--region', 'us-east-1', '--yes', '--json'];
    const up = ['up', ...common, '--image', 'registry.example/cloudwatchlogs:1', '--allow-cidr', '203.0.113.7/32'];

    const help: number[] = [];
    for (let i = 0; i < 5; i++) help.push((await timed(['--help'], env)).ms);
    help.sort((a, b) => a - b);

    sb.clearRequestLog();
    const first = await timed(up, env);
    const calls1 = sb.requestLog();
    const steps = (JSON.parse(first.r.stdout).steps as StepRow[]).map((s) => ({ ...s }));
    const sum = steps.reduce((a, s) => a + s.ms, 0);

    sb.clearRequestLog();
    const second = await timed(up, env);
    const calls2 = sb.requestLog();

    sb.clearRequestLog();
    const down = await timed(['down', ...common, '--delete-logs'], env);
    const calls3 = sb.requestLog();

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log('ecs-cwlogs up against the sandbox (latency profile: realistic)');
    console.log(`  CLI start-up (--help), median of 5:  ${s(help[2]!)}`);
    console.log(`  fresh up, wall time:                 ${s(first.ms)}`);
    for (const st of steps) console.log(`    ${st.id.padEnd(10)} ${st.action.padEnd(7)} ${s(st.ms)}`);
    const cp = criticalPath(steps);
    console.log(`  sum of step times:                   ${s(sum)}`);
    console.log(`  critical path:                       ${s(cp.ms)}  (${cp.path.join(' -> ')})`);
    console.log(`  applying took:                       ${s(cp.applyMs)}  (${(cp.applyMs / cp.ms).toFixed(3)}x the critical path)`);
    console.log(`  before applying (start-up, validate, read, plan): ${s(first.ms - cp.applyMs)}`);
    console.log(`  AWS calls: ${calls1.length} (${calls1.filter((c) => c.mutating).length} mutating)`);
    console.log(`  second up (no change), wall time:    ${s(second.ms)}; AWS calls: ${calls2.length} (${calls2.filter((c) => c.mutating).length} mutating)`);
    console.log(`  down --delete-logs, wall time:       ${s(down.ms)}; AWS calls: ${calls3.length} (${calls3.filter((c) => c.mutating).length} mutating)`);
  } finally {
    await sb.close();
  }
}

await main();
