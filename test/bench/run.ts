/**
 * `npm run bench`: every benchmark in turn, each in its own process. Prints figures; asserts nothing.
 *
 *   npm run bench                 start-up, then up/down against the realistic sandbox, the calls each run makes, then the group for N = 1, 3, 10
 *   npm run bench -- --sidecar    also the logging container's throughput (needs Docker, see sidecar.ts)
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const benches = ['startup.js', 'up.js', 'calls.js', 'group.js', ...(process.argv.includes('--sidecar') ? ['sidecar.js'] : [])];
let failed = 0;
for (const b of benches) {
  console.log(`\n== ${b.replace(/\.js$/, '')}`);
  const r = spawnSync(process.execPath, [join(here, b)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
