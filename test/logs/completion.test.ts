/**
 * `ecs-cwlogs completion`: scripts generated from the program, checked against the program.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { buildProgram } from '../../src/cli/main.js';
import { completionScript, completionTree } from '../../src/cli/commands/completion.js';

const program = buildProgram();
const commands = program.commands.map((c) => c.name());

function bashComplete(script: string, words: string[]): string[] {
  // COMP_WORDS as bash splits a command line: the word being completed is last (maybe empty).
  const shellWords = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const out = execFileSync(
    'bash',
    ['--norc', '--noprofile', '-c', `eval "$SCRIPT"; COMP_WORDS=(ecs-cwlogs ${shellWords}); COMP_CWORD=${words.length}; _ecs_cwlogs; printf '%s\\n' "\${COMPREPLY[@]}"`],
    { env: { ...process.env, SCRIPT: script }, encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

test('completion bash (the real binary): subcommands, options, option values, nested words', async () => {
  const r = await runCli(['completion', 'bash'], cliEnv(tempConfigDir()));
  assert.equal(r.code, 0, r.stderr);
  const script = r.stdout;
  assert.ok(commands.includes('logs') && commands.includes('completion') && commands.includes('status'));

  assert.ok(bashComplete(script, ['st']).includes('status'), 'st -> status');
  assert.deepEqual(bashComplete(script, ['lo']).sort(), ['load-balancer', 'log-group', 'logs']);
  assert.deepEqual(bashComplete(script, ['']).sort(), [...commands, 'help'].sort(), 'every command (and help) at the top');
  assert.deepEqual(bashComplete(script, ['logs', '--fol']), ['--follow']);
  assert.deepEqual(bashComplete(script, ['--region', 'us-east-1', 'logs', '--str']), ['--stream'], 'global options and their values are skipped');
  assert.ok(bashComplete(script, ['logs', '--']).includes('--stack'), 'global options are offered after a subcommand');
  assert.deepEqual(bashComplete(script, ['sandbox', '--latency', '']), ['none', 'fast', 'realistic'], 'option choices');
  assert.deepEqual(bashComplete(script, ['completion', '']), ['bash', 'zsh', 'fish'], 'argument choices');
  assert.deepEqual(bashComplete(script, ['logs', '--since', '']), [], 'a free value: nothing to offer');
  assert.deepEqual(bashComplete(script, ['help', 'sta']), ['status']);

  // The exact call the docs give.
  const direct = spawnSync('bash', ['-c', `source <(${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} completion bash); COMP_WORDS=(ecs-cwlogs st); COMP_CWORD=1; _ecs_cwlogs; echo "\${COMPREPLY[@]}"`], {
    env: cliEnv(tempConfigDir()),
    encoding: 'utf8',
  });
  assert.equal(direct.status, 0, direct.stderr);
  assert.match(direct.stdout, /\bstatus\b/);
});

test('completion zsh and fish: every command and every option of it is in the script', () => {
  const tree = completionTree(program);
  for (const shell of ['zsh', 'fish'] as const) {
    const script = completionScript(program, shell);
    for (const name of commands) assert.ok(script.includes(`'${name}`), `${shell} mentions ${name}`);
    for (const node of tree) {
      for (const o of node.options) {
        const long = o.names.find((n) => n.startsWith('--'));
        if (long) assert.ok(shell === 'zsh' ? script.includes(`'${long}:`) : script.includes(`-l ${long.slice(2)}`), `${shell}: ${node.path.join(' ')} ${long}`);
      }
    }
  }
  const zsh = completionScript(program, 'zsh');
  assert.match(zsh, /^#compdef ecs-cwlogs\n/);
  assert.match(zsh, /'--latency'\) compadd -- 'none' 'fast' 'realistic'|--latency\) compadd -- 'none' 'fast' 'realistic'/);
  const fish = completionScript(program, 'fish');
  assert.match(fish, /complete -c ecs-cwlogs -n '__ecs_cwlogs_path logs' -l follow -s f /);
  assert.match(fish, /-n '__ecs_cwlogs_path completion' -a 'bash zsh fish'/);

  const hasZsh = spawnSync('zsh', ['--version']).status === 0;
  if (hasZsh) {
    const check = spawnSync('zsh', ['-n'], { input: zsh, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  }
  const hasFish = spawnSync('fish', ['--version']).status === 0;
  if (hasFish) {
    const check = spawnSync('fish', ['--no-execute'], { input: fish, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  }
});

test('the tree follows the program: hidden options are left out, logs has its own options plus the globals', () => {
  const tree = completionTree(program);
  const sandbox = tree.find((n) => n.path.join(' ') === 'sandbox')!;
  assert.ok(!sandbox.options.some((o) => o.names.includes('--ready-file')), 'hidden option not offered');
  assert.ok(sandbox.options.find((o) => o.names.includes('--state'))?.file, '--state <file> completes files');
  const logs = tree.find((n) => n.path.join(' ') === 'logs')!;
  const names = logs.options.flatMap((o) => o.names);
  for (const n of ['--follow', '-f', '--since', '--stream', '--filter', '--log-group', '--json', '--region', '--endpoint-url', '--stack', '--help']) assert.ok(names.includes(n), n);
  assert.equal(names.filter((n) => n === '--json').length, 1, 'the global --json is not listed twice');
  assert.ok(!names.includes('--version'), '--version belongs to the program only');
});

test('completion with an unknown shell: exit 2 and a clear message', async () => {
  const r = await runCli(['completion', 'tcsh'], cliEnv(tempConfigDir()));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown shell "tcsh": ecs-cwlogs completion supports bash, zsh and fish/);
  assert.equal(r.stdout, '');
});
