/**
 * Benchmark of what confinement costs the `--local` log shipper per file and poll (issue 19, item
 * 1b): opening a log file through the descriptor walk (confine.ts: one O_PATH|O_NOFOLLOW open per
 * directory beneath the root, then O_NOFOLLOW|O_NONBLOCK, fstat, lstat) against the former
 * statSync + openSync, at the depth the shipper uses (the instance's var/log/ecs/ecs-agent.log).
 * Prints figures; asserts nothing about time.
 *
 *   npm run build && node dist/test/bench/confine-open.js [iterations]
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileBeneath } from '../../src/sandbox/local/confine.js';

const n = Number(process.argv[2] ?? 20_000);
const root = mkdtempSync(join(tmpdir(), 'cwl-bench-confine-'));
mkdirSync(join(root, 'var', 'log', 'ecs'), { recursive: true });
const file = join(root, 'var', 'log', 'ecs', 'ecs-agent.log');
writeFileSync(file, 'line\n'.repeat(1000));

function time(label: string, fn: () => void): number {
  for (let i = 0; i < 1000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`${label.padEnd(44)} ${us.toFixed(2)} µs per open (${n} iterations)`);
  return us;
}

const plain = time('statSync + openSync (before)', () => {
  statSync(file);
  closeSync(openSync(file, 'r'));
});
const walked = time('openFileBeneath root var/log/ecs/file (now)', () => {
  closeSync(openFileBeneath(root, ['var', 'log', 'ecs', 'ecs-agent.log'])!.fd);
});
// The shipper follows 5 files per logging container and polls every 250 ms.
console.log(`per poll of 5 files: ${(5 * plain).toFixed(0)} µs before, ${(5 * walked).toFixed(0)} µs now (${((5 * walked) / 250_000 * 100).toFixed(3)}% of a 250 ms poll interval)`);
