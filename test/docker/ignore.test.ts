import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerignoreMatcher } from '../../src/docker/ignore.js';
import { listContextFiles, readBuildContext } from '../../src/docker/build-context.js';
import { PACKAGE_ROOT } from '../../src/core/version.js';

test('dockerignore: plain names exclude a directory and everything under it', () => {
  const m = dockerignoreMatcher('node_modules\n# comment\n\n  build/  \n');
  assert.equal(m('node_modules'), true);
  assert.equal(m('node_modules/a/b.js'), true);
  assert.equal(m('build/out.txt'), true);
  assert.equal(m('src/node_modules'), false, 'a pattern is anchored at the context root');
  assert.equal(m('buildx'), false);
});

test('dockerignore: * and ? stop at /, ** spans directories', () => {
  const m = dockerignoreMatcher('*.log\n**/*.tmp\ndocs/**\na?c\n');
  assert.equal(m('x.log'), true);
  assert.equal(m('dir/x.log'), false, '* does not cross /');
  assert.equal(m('x.tmp'), true, '**/ matches zero directories');
  assert.equal(m('a/b/c/x.tmp'), true);
  assert.equal(m('docs/a/b.md'), true);
  assert.equal(m('abc'), true);
  assert.equal(m('abbc'), false);
  assert.equal(m('a/c'), false, '? does not match /');
});

test('dockerignore: ! re-includes, the last match wins, leading / and ./ are dropped', () => {
  const m = dockerignoreMatcher('*\n!Dockerfile\n!rootfs/\nrootfs/**/*.orig\n!rootfs/keep.orig\n/secret\n');
  assert.equal(m('README.md'), true);
  assert.equal(m('Dockerfile'), false);
  assert.equal(m('rootfs/etc/rsyslog.conf'), false, 'a re-included directory brings its files back');
  assert.equal(m('rootfs/etc/rsyslog.conf.orig'), true);
  assert.equal(m('rootfs/keep.orig'), false);
  assert.equal(m('./secret'), true);
});

test('dockerignore: special characters are literal, classes and escapes work', () => {
  const m = dockerignoreMatcher('file(1).txt\n[abc].md\n[^x]y\nweird\\*name\na+b\n');
  assert.equal(m('file(1).txt'), true);
  assert.equal(m('fileX1Ytxt'), false);
  assert.equal(m('b.md'), true);
  assert.equal(m('d.md'), false);
  assert.equal(m('zy'), true);
  assert.equal(m('xy'), false);
  assert.equal(m('weird*name'), true);
  assert.equal(m('weirdXname'), false);
  assert.equal(m('a+b'), true);
  assert.equal(m('aab'), false);
});

test('build context: .dockerignore filters the files; the Dockerfile is always sent; the hash follows content, modes and args', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-ctx-'));
  mkdirSync(join(dir, 'rootfs', 'etc'), { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(dir, '.dockerignore'), '*\n!rootfs\n');
  writeFileSync(join(dir, 'rootfs', 'etc', 'a.conf'), 'a\n');
  writeFileSync(join(dir, 'notes.txt'), 'not sent\n');
  assert.deepEqual(listContextFiles(dir), ['.dockerignore', 'Dockerfile', 'rootfs/etc/a.conf']);
  const h1 = readBuildContext(dir).tag;
  assert.match(h1, /^[0-9a-f]{16}$/);
  writeFileSync(join(dir, 'notes.txt'), 'ignored change\n');
  assert.equal(readBuildContext(dir).tag, h1, 'an ignored file does not change the tag');
  writeFileSync(join(dir, 'rootfs', 'etc', 'a.conf'), 'b\n');
  const h2 = readBuildContext(dir).tag;
  assert.notEqual(h2, h1);
  chmodSync(join(dir, 'rootfs', 'etc', 'a.conf'), 0o755);
  const h3 = readBuildContext(dir).tag;
  assert.notEqual(h3, h2, 'the executable bit is part of the content');
  assert.notEqual(readBuildContext(dir, { buildArgs: { SKIP_CLOUDWATCH_AGENT: 'true' } }).tag, h3);
  assert.notEqual(readBuildContext(dir, { platform: 'linux/arm64' }).tag, h3);
  assert.equal(readBuildContext(dir, { buildArgs: { A: '1', B: '2' } }).tag, readBuildContext(dir, { buildArgs: { B: '2', A: '1' } }).tag);
});

test("the project's docker/ context holds just the Dockerfile, .dockerignore and rootfs/", () => {
  const files = listContextFiles(join(PACKAGE_ROOT, 'docker'));
  assert.ok(files.includes('Dockerfile'));
  assert.ok(files.includes('rootfs/etc/rsyslog.conf'));
  assert.ok(files.includes('rootfs/usr/local/bin/ecs-cwlogs-entrypoint'));
  assert.ok(files.every((f) => f === 'Dockerfile' || f === '.dockerignore' || f.startsWith('rootfs/')), files.join(', '));
});
