/**
 * Start-up benchmark: how long the real binary takes for `--help` and for `status --sandbox` (which
 * loads the SDK clients and makes the status calls against a warm sandbox), against `node -e 0`, the
 * floor of any Node program. Prints figures; asserts nothing about time.
 *
 *   npm run build && node dist/test/bench/startup.js [runs]
 *
 * ECS_CWLOGS_BENCH_BIN measures another copy of the binary, e.g. one installed with
 * `npm install -g --prefix /tmp/p ecs-cwlogs-*.tgz` (/tmp/p/bin/ecs-cwlogs).
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { BIN, cliEnv, tempConfigDir } from '../helpers/cli.js';

const runs = Number(process.argv[2] ?? 9);
const bin = process.env.ECS_CWLOGS_BENCH_BIN ?? BIN;
const env = cliEnv(tempConfigDir());

function once(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(args: string[]): { median: number; min: number } {
  once(args); // warm the file cache
  const t = Array.from({ length: runs }, () => once(args)).sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)]!, min: t[0]! };
}

const cases: [string, string[]][] = [
  ['node -e 0', ['-e', '0']],
  ['ecs-cwlogs --help', [bin, '--help']],
  ['ecs-cwlogs status --sandbox', [bin, 'status', '--sandbox', '--yes']],
];
try {
  console.log(`Start-up on Node ${process.versions.node}, ${bin}, median (min) of ${runs} runs:`);
  for (const [name, args] of cases) {
    const r = median(args);
    console.log(`  ${name.padEnd(30)} ${Math.round(r.median).toString().padStart(5)} ms  (${Math.round(r.min)} ms)`);
  }
} finally {
  spawnSync(process.execPath, [bin, 'sandbox', '--stop'], { env, stdio: 'ignore' });
}
