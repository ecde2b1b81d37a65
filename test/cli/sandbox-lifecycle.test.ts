/**
 * The sandbox as a process, through the real binary (issue 18 item 4, issue 19 items 2 and 3):
 * - a command that fails before it needs the sandbox starts none; one that started a sandbox for
 *   itself stops it at its end unless something lives in it (after `up` it stays);
 * - two sandboxes (two config directories, one stack name) make different ids, and are listed
 *   and stopped; `--stop` signals only a process that is still that sandbox;
 * - `ecs-cwlogs sandbox` prints the key to use; the AWS CLI with it works, with another is refused;
 * - what the tool writes is 0600, in 0700 directories.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { controlCall } from '../../src/cli/sandbox-mode.js';

const IMAGE = ['--image', 'example/cloudwatchlogs:latest'];

function record(dir: string, stack: string): { port: number; pid: number; accessKeyId: string; secretAccessKey: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'sandbox', `${stack}.json`), 'utf8'));
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const mode = (path: string) => statSync(path).mode & 0o777;

test('a command refused before it needs the sandbox starts none; one refused after stops the one it started', { timeout: 120_000 }, async () => {
  const dir = tempConfigDir();
  const env = cliEnv(dir);
  const bad = await runCli(['up', '--sandbox', '--yes', '--stack', 'refused', '--instances', 'abc'], env);
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(existsSync(join(dir, 'sandbox')), false, 'no sandbox was started for a flag that does not validate');

  // Refused once connected (no image to run): the sandbox it started is stopped, its state kept.
  const noImage = await runCli(['up', '--sandbox', '--yes', '--stack', 'refused'], env);
  assert.notEqual(noImage.code, 0);
  assert.match(noImage.stderr, /Stopped the sandbox of stack refused: nothing runs in it/);
  assert.equal(record(dir, 'refused'), undefined);
  assert.match(noImage.stderr, /Sandbox for stack refused started/);
  const listed = await runCli(['sandbox', '--list', '--json'], env);
  assert.deepEqual(JSON.parse(listed.stdout).sandboxes.filter((s: { configDir: string }) => s.configDir === dir), []);
});

test('two config directories, one stack name: different ids, listed, down in one leaves the other; status after down leaves none', { timeout: 240_000 }, async () => {
  const a = tempConfigDir();
  const b = tempConfigDir();
  const stack = `twin-${Date.now().toString(36)}`;
  const up = async (dir: string) => {
    // No credentials from the user: the CLI signs with the sandbox's own key.
    const r = await runCli(['up', '--sandbox', '--yes', '--json', '--stack', stack, ...IMAGE], { ...cliEnv(dir), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    assert.equal(r.code, 0, r.stderr);
    const steps = JSON.parse(r.stdout).steps as { id: string; outputs?: { instanceId?: string } }[];
    return steps.find((s) => s.id === 'instance')?.outputs?.instanceId;
  };
  try {
    const [idA, idB] = [await up(a), await up(b)];
    assert.match(idA ?? '', /^i-0[0-9a-f]{16}$/);
    assert.notEqual(idA, idB, 'each sandbox seeds its own ids');

    // After a successful up the sandbox stays: the instance lives there.
    const recA = record(a, stack)!;
    const recB = record(b, stack)!;
    assert.ok(alive(recA.pid) && alive(recB.pid));
    assert.notEqual(recA.secretAccessKey, recB.secretAccessKey, 'each sandbox has its own key');
    for (const f of [join(a, 'sandbox', `${stack}.json`), join(a, 'sandbox', `${stack}.state.json`), join(a, 'sandbox', `${stack}.log`), join(a, 'stacks', `${stack}.json`)]) {
      assert.equal(mode(f), 0o600, `${f} is 0600`);
    }
    for (const d of [a, join(a, 'sandbox'), join(a, 'stacks')]) assert.equal(mode(d), 0o700, `${d} is 0700`);

    // Listed from either directory (the other one's from its process), with its config directory.
    const list = await runCli(['sandbox', '--list', '--json'], cliEnv(a));
    const rows = JSON.parse(list.stdout).sandboxes as { stack: string; configDir: string; pid: number; port?: number; state: string }[];
    const mine = rows.filter((r) => r.stack === stack);
    assert.deepEqual(mine.map((r) => [r.configDir, r.pid, r.state]).sort(), [[a, recA.pid, 'running'], [b, recB.pid, 'running']].sort());
    const text = await runCli(['sandbox', '--list'], cliEnv(a));
    assert.match(text.stdout, /STACK\s+PORT\s+PID\s+STARTED\s+STATE\s+CONFIG DIRECTORY\s+STATE FILE/);

    // status and logs use the running sandbox with no credentials from the user.
    const noCreds = { ...cliEnv(a), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
    const status = await runCli(['status', '--sandbox', '--stack', stack], noCreds);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((await runCli(['logs', '--sandbox', '--stack', stack, '--since', '5m'], noCreds)).code, 0);

    const down = await runCli(['down', '--sandbox', '--yes', '--stack', stack], noCreds);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(alive(recA.pid), false, 'down stops its sandbox');
    assert.ok(alive(recB.pid), "the other directory's sandbox is untouched");

    const after = await runCli(['status', '--sandbox', '--stack', stack], noCreds);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(record(a, stack), undefined, 'status of an empty stack leaves no sandbox');

    const stopped = await runCli(['sandbox', '--stop', '--stack', stack], cliEnv(b));
    assert.equal(stopped.code, 0);
    assert.match(stopped.stdout, new RegExp(`Stopped the sandbox of stack ${stack}`));
    assert.equal(alive(recB.pid), false);
  } finally {
    for (const d of [a, b]) {
      const r = record(d, stack);
      if (r && alive(r.pid)) process.kill(r.pid, 'SIGKILL');
    }
  }
});

test('--stop signals only a process that is still the sandbox: a recorded PID now used by another program is left alone', { timeout: 60_000 }, async () => {
  const dir = tempConfigDir();
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    spawnSync('mkdir', ['-p', '-m', '700', join(dir, 'sandbox')]);
    // A stale record: the sandbox is gone and its PID now belongs to `sleep`.
    writeFileSync(join(dir, 'sandbox', 'stale.json'), JSON.stringify({ stack: 'stale', port: 9, pid: other.pid, startedAt: new Date().toISOString(), procStart: '1', statePath: join(dir, 'sandbox', 'stale.state.json'), accessKeyId: 'ASBXSTALE', secretAccessKey: 'x' }), { mode: 0o600 });
    const r = await runCli(['sandbox', '--stop', '--stack', 'stale'], cliEnv(dir));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /No sandbox was running for stack stale/);
    assert.ok(alive(other.pid!), 'the other program was not signalled');
    assert.equal(record(dir, 'stale'), undefined, 'the stale record is removed');
  } finally {
    other.kill('SIGKILL');
  }
});

const aws = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : spawnSync('sh', ['-c', 'command -v aws'], { encoding: 'utf8' }).stdout.trim() || undefined;

test('`ecs-cwlogs sandbox` prints the key to use: the AWS CLI with it works, with another secret or key it is refused', { skip: aws ? false : 'no AWS CLI', timeout: 120_000 }, async () => {
  const dir = tempConfigDir();
  const child = spawn(process.execPath, [BIN, 'sandbox', '--port', '0'], { env: cliEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    for (let i = 0; i < 200 && !/AWS_REGION/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const vars = Object.fromEntries([...out.matchAll(/export (AWS_[A-Z_]+)='?([^'\n]*)'?/g)].map((m) => [m[1], m[2]]));
    assert.match(vars.AWS_ACCESS_KEY_ID ?? '', /^ASBX[A-Z2-7]{16}$/, out);
    assert.equal(vars.AWS_SECRET_ACCESS_KEY?.length, 40);
    const call = (extra: Record<string, string>, ...args: string[]) =>
      spawnSync(aws!, ['--endpoint-url', vars.AWS_ENDPOINT_URL, '--region', 'us-east-1', '--output', 'json', ...args], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true', AWS_ACCESS_KEY_ID: vars.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: vars.AWS_SECRET_ACCESS_KEY, ...extra },
      });
    const ok = call({}, 'sts', 'get-caller-identity');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(JSON.parse(ok.stdout).Account, /^\d{12}$/);
    assert.match(call({ AWS_SECRET_ACCESS_KEY: 'wrong' }, 'sts', 'get-caller-identity').stderr, /\(SignatureDoesNotMatch\)/);
    assert.match(call({ AWS_ACCESS_KEY_ID: 'AKIDSOMEONEELSE00000' }, 'sts', 'get-caller-identity').stderr, /\(InvalidClientTokenId\)/);
    assert.match(call({ AWS_ACCESS_KEY_ID: 'AKIDSOMEONEELSE00000' }, 'logs', 'describe-log-groups').stderr, /\(UnrecognizedClientException\)/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
});

/** Whether something accepts connections on 127.0.0.1:port. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

test('--stop stops the sandbox whatever file is broken: the stack file, the sandbox record, a record naming a dead PID, the state file; the problem is said, the process and its port are gone', { timeout: 240_000 }, async () => {
  const deadPid = spawnSync('true').pid!;
  const cases: [string, (dir: string, stack: string) => void, RegExp | undefined][] = [
    ['stack file', (dir, stack) => writeFileSync(join(dir, 'stacks', `${stack}.json`), '{"broken'), /Cannot read the saved settings of stack "sbbroke-stack-file": .*is not a valid stack file.*Fix that file, or move it away/s],
    ['record', (dir, stack) => writeFileSync(join(dir, 'sandbox', `${stack}.json`), '{"pid": 12'), /The sandbox record .*sbbroke-record\.json cannot be read.*found the sandbox by its command line/s],
    ['dead pid', (dir, stack) => writeFileSync(join(dir, 'sandbox', `${stack}.json`), JSON.stringify({ ...record(dir, stack)!, pid: deadPid })), new RegExp(`names PID ${deadPid}, which is not that sandbox.*found the sandbox by its command line`, 's')],
    ['state file', (dir, stack) => writeFileSync(join(dir, 'sandbox', `${stack}.state.json`), '{"broken'), undefined],
  ];
  const pids: number[] = [];
  try {
    for (const [what, breakIt, said] of cases) {
      const dir = tempConfigDir();
      const stack = `sbbroke-${what.replace(/ /g, '-')}`;
      const env = { ...cliEnv(dir), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
      const up = await runCli(['up', '--sandbox', '--yes', '--stack', stack, ...IMAGE], env);
      assert.equal(up.code, 0, up.stderr);
      const rec = record(dir, stack)!;
      pids.push(rec.pid);
      assert.ok(alive(rec.pid) && (await portOpen(rec.port)), `${what}: the sandbox runs`);
      breakIt(dir, stack);
      const stop = await runCli(['sandbox', '--stop', '--stack', stack], env);
      assert.equal(stop.code, 0, `${what}: ${stop.stderr}`);
      assert.match(stop.stdout, new RegExp(`Stopped the sandbox of stack ${stack}`), what);
      if (said) assert.match(stop.stderr, said, what);
      assert.equal(alive(rec.pid), false, `${what}: the process is gone`);
      assert.equal(await portOpen(rec.port), false, `${what}: its port is closed`);
      assert.equal(record(dir, stack), undefined, `${what}: no record is left`);
    }
  } finally {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('a command with --sandbox whose sandbox record is broken stops the running sandbox before it starts one: one process per stack, never two on one state file', { timeout: 120_000 }, async () => {
  const dir = tempConfigDir();
  const stack = 'sbtwice';
  const env = { ...cliEnv(dir), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
  const ready = join(dir, 'sandbox', `${stack}.ready`);
  const running = () => spawnSync('pgrep', ['-f', ready], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  const pids: number[] = [];
  try {
    const up = await runCli(['up', '--sandbox', '--yes', '--stack', stack, ...IMAGE], env);
    assert.equal(up.code, 0, up.stderr);
    const first = record(dir, stack)!;
    pids.push(first.pid);
    writeFileSync(join(dir, 'sandbox', `${stack}.json`), '{"broken');
    const status = await runCli(['status', '--sandbox', '--stack', stack], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stderr, /The sandbox record .* cannot be read.*found the sandbox by its command line/s);
    assert.equal(alive(first.pid), false, 'the sandbox the broken record named is stopped');
    const now = running();
    pids.push(...now);
    assert.ok(now.length <= 1, `one sandbox process at most: ${now.join(', ')}`);
    // The stack's instances are still there: its state went from the old process to the new one.
    assert.match(status.stdout, /ECS service/);
  } finally {
    await runCli(['sandbox', '--stop', '--stack', stack], env);
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('a down --sandbox that fails says the sandbox still runs, what lives there, and how to finish or stop it; the next down finishes and stops it', { timeout: 180_000 }, async () => {
  const dir = tempConfigDir();
  const stack = `halfdown-${Date.now().toString(36)}`;
  const env = { ...cliEnv(dir), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
  try {
    assert.equal((await runCli(['up', '--sandbox', '--yes', '--stack', stack, ...IMAGE], env)).code, 0);
    const rec = record(dir, stack)!;
    // The caller may not delete the cluster: down fails late, with the cluster and the roles left.
    const deny = await controlCall(rec.port, rec, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ deny: ['ecs:DeleteCluster'] }) });
    assert.equal(deny.status, 200);
    const failed = await runCli(['down', '--sandbox', '--yes', '--stack', stack], env);
    assert.notEqual(failed.code, 0, failed.stderr);
    assert.ok(alive(rec.pid), 'what down did not delete lives in the sandbox: it keeps running');
    assert.match(failed.stderr, new RegExp(`sandbox of stack ${stack} still runs on http://127\\.0\\.0\\.1:${rec.port}`));
    assert.match(failed.stderr, new RegExp(`ecs-cwlogs down --sandbox --stack ${stack}\` again`));
    assert.match(failed.stderr, new RegExp(`ecs-cwlogs sandbox --stop --stack ${stack}\``));

    assert.equal((await controlCall(rec.port, rec, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ deny: [] }) })).status, 200);
    const again = await runCli(['down', '--sandbox', '--yes', '--stack', stack], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(alive(rec.pid), false, 'the down that finishes stops it');
    assert.doesNotMatch(again.stderr, /still runs/);
  } finally {
    const r = record(dir, stack);
    if (r && alive(r.pid)) process.kill(r.pid, 'SIGKILL');
  }
});
