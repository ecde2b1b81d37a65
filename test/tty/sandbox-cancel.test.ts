/**
 * Issue 18, item 4, in a real terminal (tmux): a wizard cancelled with Ctrl-C leaves no sandbox
 * process of its stack behind (the command started one for itself; nothing lives in it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cliEnv, tempConfigDir } from '../helpers/cli.js';
import { sandboxProcesses } from '../helpers/sandbox-processes.js';

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(cmd, args, (err, out, stderr) => (err ? reject(new Error(`${cmd}: ${stderr || err.message}`)) : resolve(out))));
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const hasTmux = await sh('tmux', ['-V']).then(
  () => true,
  () => false,
);


test('a wizard cancelled with Ctrl-C leaves no sandbox of its stack', { skip: hasTmux ? false : 'no tmux', timeout: 120_000 }, async () => {
  const dir = tempConfigDir();
  const stack = `cancel-${Date.now().toString(36)}`;
  const env = cliEnv(dir);
  const name = `ecs-cwlogs-sec-${process.pid}`;
  const exports = Object.entries(env)
    .filter(([k]) => /^(AWS_|ECS_CWLOGS_|NO_COLOR|PATH$|HOME$)/.test(k))
    .map(([k, v]) => `${k}=${shellQuote(v ?? '')}`)
    .join(' ');
  await sh('tmux', ['new-session', '-d', '-s', name, '-x', '110', '-y', '48', `env TERM=xterm-256color ${exports} ${shellQuote(process.execPath)} ${shellQuote(BIN)} up --sandbox --stack ${stack}; echo "EXIT=$?"; sleep 600`]);
  try {
    let screen = '';
    for (let i = 0; i < 400 && !/\? /.test(screen); i++) {
      await new Promise((r) => setTimeout(r, 150));
      screen = await sh('tmux', ['capture-pane', '-p', '-t', name]);
    }
    assert.match(screen, /\? /, `the wizard asks a question:\n${screen}`);
    // The wizard runs against the sandbox it started: it is there now.
    assert.equal(sandboxProcesses(dir, stack).length, 1, 'the wizard runs against a sandbox of its own');
    await sh('tmux', ['send-keys', '-t', name, 'C-c']);
    for (let i = 0; i < 200 && !/EXIT=\d+/.test(screen); i++) {
      await new Promise((r) => setTimeout(r, 150));
      screen = await sh('tmux', ['capture-pane', '-p', '-t', name]);
    }
    assert.match(screen, /EXIT=130/, screen);
    assert.deepEqual(sandboxProcesses(dir, stack), [], `no sandbox process of stack ${stack} remains:\n${screen}`);
    assert.equal(existsSync(join(dir, 'sandbox', `${stack}.json`)), false, 'and no record of one');
  } finally {
    await sh('tmux', ['kill-session', '-t', name]).catch(() => undefined);
    for (const pid of sandboxProcesses(dir, stack)) process.kill(pid, 'SIGKILL');
  }
});
