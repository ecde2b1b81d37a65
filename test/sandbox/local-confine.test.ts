/**
 * Issue 19, item 1: what `--local` mounts or creates stays beneath the stack's directory
 * (src/sandbox/local/confine.ts, containers.ts). Paths of a task definition resolve inside the
 * instance's stand-in root as they would on the instance; names that are not ECS names and relative
 * paths are refused; a link planted on the way is refused, and nothing is created outside.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Volume } from '@aws-sdk/client-ecs';
import { appendBeneath, checkDirBeneath, ConfinementError, ensureDirBeneath, instancePathParts } from '../../src/sandbox/local/confine.js';
import { planContainers, type TaskContext } from '../../src/sandbox/local/containers.js';

const ctx = (dir: string): TaskContext => ({
  stack: 's',
  sandbox: '0123456789ab',
  taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef0123456789abcdef',
  taskId: '0123456789abcdef0123456789abcdef',
  cluster: 'c',
  family: 'f',
  revision: 1,
  network: 'n',
  hostRoot: join(dir, 'instances', 'i-0abc', 'root'),
  taskRoot: join(dir, 'tasks', '0123456789abcdef0123456789abcdef'),
});

const def = (volumes: Volume[], name = 'app') => ({
  containerDefinitions: [{ name, image: 'x', mountPoints: volumes.map((v) => ({ sourceVolume: v.name, containerPath: '/mnt' })) }],
  volumes,
});

test('a sourcePath full of .. resolves inside the instance root, as / stops .. on the instance', () => {
  assert.deepEqual(instancePathParts('/../../../../../../../../tmp/x'), ['tmp', 'x']);
  assert.deepEqual(instancePathParts('/var/log/../log/./ecs//'), ['var', 'log', 'ecs']);
  assert.deepEqual(instancePathParts('/..'), []);
  const c = ctx('/stack');
  const [plan] = planContainers(c, def([{ name: 'v', host: { sourcePath: '/../../../../../../../../tmp/escape' } }]));
  assert.deepEqual(plan!.options.HostConfig!.Mounts, [{ Type: 'bind', Source: join(c.hostRoot, 'tmp', 'escape'), Target: '/mnt', ReadOnly: false }]);
  assert.equal(plan!.options.HostConfig!.Binds, undefined, 'no "source:target" strings');
});

test('a relative sourcePath, a volume name with / and a container name with .. are refused', () => {
  const c = ctx('/stack');
  assert.throws(() => planContainers(c, def([{ name: 'v', host: { sourcePath: 'tmp/x' } }])), ConfinementError);
  assert.throws(() => planContainers(c, def([{ name: '../../../../tmp/v' }])), /volume name "..\/..\/..\/..\/tmp\/v" is not 1 to 255 letters/);
  assert.throws(() => planContainers(c, def([{ name: 'a/b', host: { sourcePath: '/ok' } }])), /volume name "a\/b"/);
  assert.throws(() => planContainers(c, def([], '../x')), /container name "..\/x"/);
  assert.throws(() => instancePathParts('/a\0b'), /NUL/);
});

test('ensureDirBeneath creates inside, refuses a link on the way, and creates nothing outside', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-confine-'));
  const outside = mkdtempSync(join(tmpdir(), 'cwl-outside-'));
  const made = ensureDirBeneath(dir, ['instances', 'i-0abc', 'root', 'var', 'log']);
  assert.equal(made, join(dir, 'instances', 'i-0abc', 'root', 'var', 'log'));
  assert.ok(lstatSync(made).isDirectory());
  symlinkSync(outside, join(made, 'planted'));
  assert.throws(() => ensureDirBeneath(dir, ['instances', 'i-0abc', 'root', 'var', 'log', 'planted', 'sub']), (e: Error) => e instanceof ConfinementError && /planted is a symbolic link \(to /.test(e.message));
  assert.equal(existsSync(join(outside, 'sub')), false, 'nothing created outside');
  assert.throws(() => checkDirBeneath(dir, ['instances', 'i-0abc', 'root', 'var', 'log', 'planted']), ConfinementError);
  writeFileSync(join(made, 'file'), '');
  assert.throws(() => ensureDirBeneath(dir, ['instances', 'i-0abc', 'root', 'var', 'log', 'file', 'x']), /not a directory/);
});

test('appendBeneath writes the agent log beneath the root, never through a planted link', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-confine-'));
  const outside = mkdtempSync(join(tmpdir(), 'cwl-outside-'));
  const target = join(outside, 'bashrc');
  writeFileSync(target, 'original\n');
  appendBeneath(dir, ['var', 'log', 'ecs', 'ecs-agent.log'], 'one\n');
  assert.equal(readFileSync(join(dir, 'var', 'log', 'ecs', 'ecs-agent.log'), 'utf8'), 'one\n');
  assert.equal(lstatSync(join(dir, 'var', 'log', 'ecs', 'ecs-agent.log')).mode & 0o777, 0o600);
  symlinkSync(target, join(dir, 'var', 'log', 'ecs', 'ecs-init.log'));
  assert.throws(() => appendBeneath(dir, ['var', 'log', 'ecs', 'ecs-init.log'], 'two\n'), /a symbolic link/);
  mkdirSync(join(outside, 'ecs'));
  symlinkSync(outside, join(dir, 'var', 'lnk'));
  assert.throws(() => appendBeneath(dir, ['var', 'lnk', 'ecs', 'x.log'], 'three\n'), ConfinementError);
  assert.equal(readFileSync(target, 'utf8'), 'original\n');
  assert.equal(existsSync(join(outside, 'ecs', 'x.log')), false);
});
