/**
 * The AWS calls a run makes, from the sandbox's recording of every request, against the `realistic`
 * latency profile, through the real binary. Prints counts (and, with --ops, each run's operations);
 * asserts nothing. Issue 20's targets are printed beside the figures:
 *
 *   one instance:          second `up` <= 16, `status` as many as a second `up`, `down` <= 50
 *   a group with an ALB:   second `up` <= 24
 *
 * The realistic profile's Tagging API listing lags the services (taggingLagMs, 10 s): a run right
 * after a fresh `up` would not see its resources listed and read their tags one by one. Users do not
 * run the second `up` within seconds, so after a run that wrote, the bench waits the lag out before
 * the next (said in its output), and its figures stay those of a settled listing.
 *
 *   npm run build && node dist/test/bench/calls.js [--ops]
 */
import { startSandbox } from '../../src/sandbox/index.js';
import type { RequestLogEntry } from '../../src/sandbox/types.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

const showOps = process.argv.includes('--ops');

interface Row {
  what: string;
  calls: number;
  mutating: number;
  target?: number;
  ops: string;
}

function summary(log: readonly RequestLogEntry[]): string {
  const by = new Map<string, number>();
  for (const c of log) by.set(`${c.service}:${c.operation}`, (by.get(`${c.service}:${c.operation}`) ?? 0) + 1);
  return [...by].map(([op, n]) => (n > 1 ? `${op} x${n}` : op)).join(', ');
}

const sb = await startSandbox({ credentials: TEST_KEYS, port: 0, latency: 'realistic' });
const lag = sb.world.settings.taggingLagMs;
const rows: Row[] = [];
try {
  const shapes: { name: string; stack: string; extra: string[]; secondUp?: number; down?: number }[] = [
    { name: 'one instance', stack: 'callsone', extra: [], secondUp: 16, down: 50 },
    { name: 'group of 2 with an ALB', stack: 'callsalb', extra: ['--instances', '2', '--load-balancer'], secondUp: 24 },
  ];
  for (const shape of shapes) {
    const env = cliEnv(tempConfigDir(), { ECS_CWLOGS_POLL_MS: '500' });
    const common = ['--endpoint-url', sb.url, '--region', 'us-east-1', '--yes', '--json', '--stack', shape.stack];
    const up = ['up', ...common, '--image', 'registry.example/cloudwatchlogs:1', '--allow-cidr', '203.0.113.7/32', ...shape.extra];
    let wrote = false;
    const run = async (what: string, args: string[], target?: number) => {
      // The listing settles (what the last run wrote is listed, what it deleted is not) before the next.
      if (wrote) await new Promise((r) => setTimeout(r, lag + 500));
      sb.clearRequestLog();
      const r = await runCli(args, env, { timeoutMs: 1_200_000 });
      if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.slice(-2000)}`);
      const log = sb.requestLog();
      wrote = log.some((c) => c.mutating);
      rows.push({ what: `${shape.name}: ${what}`, calls: log.length, mutating: log.filter((c) => c.mutating).length, target, ops: summary(log) });
    };
    await run('fresh up', up);
    await run('second up', up, shape.secondUp);
    await run('status', ['status', ...common], shape.secondUp);
    await run('down', ['down', ...common, '--delete-logs'], shape.down);
  }
} finally {
  await sb.close();
}
console.log('AWS calls per run, from the sandbox\'s request log (latency profile: realistic)');
console.log(`  (after a run that wrote, each waits the Tagging API listing's lag, ${lag / 1000} s, as a user would)`);
for (const r of rows) {
  const target = r.target === undefined ? '' : `  (target <= ${r.target}${r.calls <= r.target ? '' : ', OVER'})`;
  console.log(`  ${r.what.padEnd(36)} ${String(r.calls).padStart(4)} calls (${String(r.mutating).padStart(3)} mutating)${target}`);
  if (showOps) console.log(`      ${r.ops}`);
}
