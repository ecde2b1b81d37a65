/**
 * scripts/architecture.mjs: the pictures of docs/architecture.md are generated from the code, and its
 * --check is the layering guard CI runs. Here it runs on this repository (it must pass) and on tiny
 * copies of the layout in a temp directory, where an upward import, a sideways one, an import cycle
 * (type-only too), a folder on no floor, a stale picture and a build without steps must each fail it,
 * naming what is wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/version.js';

const SCRIPT = join(PACKAGE_ROOT, 'scripts', 'architecture.mjs');

function run(...args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

const step = (id: string, dependsOn: string[], after: string[] = []) =>
  `export const ${id}Step = { id: '${id}', title: '${id}', dependsOn: ${JSON.stringify(dependsOn)}, after: ${JSON.stringify(after)}, plan() { return { action: 'noop' }; } };\n`;

/** A tree with the repository's layout: core < aws, io < engine < steps < cli, and two built steps. */
function tinyTree(): { root: string; write: (path: string, text: string) => void; check: () => { code: number | null; stderr: string } } {
  const root = mkdtempSync(join(tmpdir(), 'ecs-cwlogs-architecture-'));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('package.json', '{ "type": "module" }\n');
  write('src/core/errors.ts', 'export class Oops extends Error {}\n');
  write('src/core/step.ts', "import { Oops } from './errors.js';\nexport interface Step { id: string }\nexport const fail = () => new Oops();\n");
  write('src/aws/clients.ts', "import { Oops } from '../core/errors.js';\nexport const client = () => Oops;\n");
  write('src/io/host.ts', "import type { Step } from '../core/step.js';\nexport type Host = (s: Step) => void;\n");
  write('src/engine/engine.ts', "import type { Step } from '../core/step.js';\nimport { client } from '../aws/clients.js';\nimport type { Host } from '../io/host.js';\nexport const run = (s: Step, h: Host) => { h(s); return client(); };\n");
  write('src/steps/a.ts', "import type { Step } from '../core/step.js';\nexport const a: Step = { id: 'a' };\n");
  write('src/steps/b.ts', "import { run } from '../engine/engine.js';\nexport const b = run;\n");
  write('src/cli/main.ts', "import { a } from '../steps/a.js';\nexport const main = async () => (await import('../steps/b.js')).b ?? a;\n");
  write('dist/src/steps/a.js', step('a', []));
  write('dist/src/steps/b.js', step('b', ['a']));
  return { root, write, check: () => run('--check', '--root', root) };
}

test('this repository: the layers hold, no new import cycle, the committed pictures are current', () => {
  const r = run('--check');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /the layers hold/);
});

test('a tiny tree that keeps the rules passes; its pictures are written, deterministic, and current', (t) => {
  const tree = tinyTree();
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  const none = tree.check();
  assert.equal(none.code, 1, 'no pictures committed yet: --check fails');
  assert.match(none.stderr, /docs\/architecture-layers\.svg is missing/);
  const w = run('--root', tree.root);
  assert.equal(w.code, 0, w.stderr);
  const first = readFileSync(join(tree.root, 'docs/architecture-layers.svg'), 'utf8');
  const steps = readFileSync(join(tree.root, 'docs/architecture-steps.svg'), 'utf8');
  assert.match(first, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(first, /<title>cli\/ imports steps\/<\/title>/);
  assert.match(first, /<title>io\/ imports core\/ \(types only\)<\/title>/);
  assert.doesNotMatch(first, /#c62828" stroke-width="2\.2/, 'no red arrow in a tree that keeps the rules');
  assert.match(steps, /<title>b dependsOn a<\/title>/);
  const again = run('--root', tree.root);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(readFileSync(join(tree.root, 'docs/architecture-layers.svg'), 'utf8'), first, 'the same code draws the same picture');
  const ok = tree.check();
  assert.equal(ok.code, 0, ok.stderr);
});

test('an import up a floor fails the check, type-only too, naming both files; the picture draws it red', (t) => {
  const tree = tinyTree();
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  run('--root', tree.root);
  tree.write('src/core/errors.ts', "import type { Host } from '../io/host.js';\nexport class Oops extends Error {}\nexport type H = Host;\n");
  const r = tree.check();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /src\/core\/errors\.ts imports src\/io\/host\.ts \(type only\): core\/ may not import io\/ \(up a floor/);
  assert.match(r.stderr, /docs\/architecture-layers\.svg is stale/);
  run('--root', tree.root);
  const svg = readFileSync(join(tree.root, 'docs/architecture-layers.svg'), 'utf8');
  assert.match(svg, /stroke="#c62828"[^>]*><title>core\/ imports io\/ \(types only\): against the layers<\/title>/);
  assert.equal(tree.check().code, 1, 'a current picture does not excuse the import');
});

test('an import sideways, between two folders of one floor, fails the check', (t) => {
  const tree = tinyTree();
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  run('--root', tree.root);
  tree.write('src/aws/clients.ts', "import { Oops } from '../core/errors.js';\nimport type { Host } from '../io/host.js';\nexport const client = (h?: Host) => h ?? Oops;\n");
  const r = tree.check();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /src\/aws\/clients\.ts imports src\/io\/host\.ts \(type only\): aws\/ may not import io\/ \(sideways/);
});

test('an import cycle inside one folder fails the check, with its files, even of types and dynamic imports', (t) => {
  const tree = tinyTree();
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  run('--root', tree.root);
  tree.write('src/core/errors.ts', "export class Oops extends Error {}\nexport type S = import('./step.js').Step;\n");
  const r = tree.check();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /import cycle of 2 files: src\/core\/errors\.ts, src\/core\/step\.ts/);
  tree.write('src/core/errors.ts', 'export class Oops extends Error {}\n');
  tree.write('src/cli/run.ts', "export const go = () => import('./main.js');\n");
  tree.write('src/cli/main.ts', "import { go } from './run.js';\nimport { a } from '../steps/a.js';\nexport const main = () => go ?? a;\n");
  const r2 = tree.check();
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /import cycle of 2 files: src\/cli\/main\.ts, src\/cli\/run\.ts/);
});

test('a new folder of src/ must be placed on a floor', (t) => {
  const tree = tinyTree();
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  tree.write('src/extra/thing.ts', "import { Oops } from '../core/errors.js';\nexport const x = Oops;\n");
  run('--root', tree.root);
  const r = tree.check();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /src\/extra\/ is on no floor: add it to LAYERS/);
});

test("a change to the steps' graph makes the committed picture stale", (t) => {
  const tree = tinyTree();
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  run('--root', tree.root);
  tree.write('dist/src/steps/c.js', step('c', ['a'], ['b']));
  const r = tree.check();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /docs\/architecture-steps\.svg is stale/);
});

test('a build where no step is found fails loudly instead of drawing an empty graph', (t) => {
  const tree = tinyTree();
  t.after(() => rmSync(tree.root, { recursive: true, force: true }));
  tree.write('dist/src/steps/a.js', 'export const a = { name: "a" };\n');
  tree.write('dist/src/steps/b.js', 'export const b = 1;\n');
  const r = run('--root', tree.root);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no step found in dist\/src\/steps\/\*\.js/);
});
