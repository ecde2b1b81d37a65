/** Finding a stack's sandbox processes from a test, whatever records say. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * This user's sandbox processes of a stack in a config directory, found by their command line (the
 * `--ready-file <config>/sandbox/<stack>.ready` that `--sandbox` starts them with), whether or not a
 * record names them: a run killed before it wrote the record, or a record removed while its process
 * was still stopping, leaves one that only this finds.
 */
export function sandboxProcesses(configDir: string, stack: string): number[] {
  const ready = join(configDir, 'sandbox', `${stack}.ready`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (cmd.includes('sandbox') && cmd[cmd.indexOf('--ready-file') + 1] === ready) pids.push(Number(entry));
  }
  return pids;
}
