/**
 * The README is a first screen, not a manual: at most 200 lines, the two commands a new user runs
 * near its top, every command of the binary listed, and every relative link in it (and in docs/*.md)
 * resolving to a file of the repository, anchors included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';

const README = join(PACKAGE_ROOT, 'README.md');
const DOCS = join(PACKAGE_ROOT, 'docs');
const MAX_LINES = 200;

/** Markdown without fenced code blocks and inline code spans (links there are text, not links). */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Link and image targets: [text](target) and ![alt](target), with an optional "title". */
export function linkTargets(markdown: string): string[] {
  const out: string[] = [];
  const re = /!?\[(?:[^\]\n]|\][^(])*?\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
  for (const m of prose(markdown).matchAll(re)) out.push(m[1]!);
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** What is wrong with each relative link of a Markdown file (empty when every one resolves). */
function brokenLinks(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const problems: string[] = [];
  const where = relative(PACKAGE_ROOT, file);
  for (const target of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
    const inRepo = relative(PACKAGE_ROOT, path);
    if (inRepo.startsWith('..') || inRepo.split(sep).some((p) => p === 'node_modules' || p === 'dist')) {
      problems.push(`${where}: ${target} points outside the repository's own files`);
      continue;
    }
    if (!existsSync(path)) {
      problems.push(`${where}: ${target}: no such file (${inRepo})`);
      continue;
    }
    if (anchor !== undefined) {
      if (!path.endsWith('.md') || !statSync(path).isFile()) {
        problems.push(`${where}: ${target}: an anchor into something that is not a Markdown file`);
      } else if (!anchors(readFileSync(path, 'utf8')).has(anchor)) {
        problems.push(`${where}: ${target}: no heading #${anchor} in ${inRepo}`);
      }
    }
  }
  return problems;
}

function docsPages(): string[] {
  return readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(DOCS, f));
}

test('the helpers see links, images, anchors and code as GitHub does', () => {
  const md = '# A title, with `code`\n\n## Repeat\n## Repeat\n\nSee [x](a.md#b) and ![pic](docs/up.png "t").\n`[not](a link)`\n```\n[no](link)\n```\n';
  assert.deepEqual(linkTargets(md), ['a.md#b', 'docs/up.png']);
  assert.deepEqual([...anchors(md)], ['a-title-with-code', 'repeat', 'repeat-1']);
});

test(`README.md has at most ${MAX_LINES} lines`, () => {
  const lines = readFileSync(README, 'utf8').replace(/\n$/, '').split('\n').length;
  assert.ok(lines <= MAX_LINES, `README.md has ${lines} lines; move topics to docs/ (at most ${MAX_LINES})`);
});

test("the README's first screen has the two commands, and they exist", () => {
  const first = readFileSync(README, 'utf8').split('\n').slice(0, 40).join('\n');
  assert.match(first, /^bash scripts\/try\.sh\b/m, 'the rehearsal command is on the first screen');
  assert.match(first, /^bash \.ci\/run\b/m, 'the test command is on the first screen');
  assert.ok(existsSync(join(PACKAGE_ROOT, 'scripts', 'try.sh')));
  assert.ok(existsSync(join(PACKAGE_ROOT, '.ci', 'run')));
});

test('the README shows a picture that is in the repository', () => {
  const images = [...prose(readFileSync(README, 'utf8')).matchAll(/!\[[^\]]*\]\(([^)\s]+)/g)].map((m) => m[1]!);
  assert.ok(images.length > 0, 'no picture');
  for (const src of images) {
    assert.doesNotMatch(src, /^[a-z]+:/i, `${src}: link the picture relatively`);
    assert.ok(existsSync(join(PACKAGE_ROOT, src)), `${src}: no such file`);
  }
});

test('every relative link in README.md and docs/*.md resolves to a file of the repository', () => {
  const pages = [README, ...docsPages()];
  assert.ok(pages.length > 5, 'the topics are in docs/');
  const problems = pages.flatMap(brokenLinks);
  assert.deepEqual(problems, []);
});

test('every docs/*.md page is linked from the README', () => {
  const linked = new Set(
    linkTargets(readFileSync(README, 'utf8'))
      .map((t) => t.split('#')[0]!)
      .filter((t) => t.startsWith('docs/')),
  );
  const missing = docsPages()
    .map((f) => relative(PACKAGE_ROOT, f).split(sep).join('/'))
    .filter((f) => !linked.has(f));
  assert.deepEqual(missing, [], 'pages nobody can find from the README');
});

test("the README's command list names every command of the binary", async () => {
  const help = await runCli(['--help'], cliEnv(tempConfigDir()));
  assert.equal(help.code, 0, help.stderr);
  const section = help.stdout.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  const commands = [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  assert.ok(commands.length > 10, `commands read from --help: ${commands.join(', ')}`);
  const readme = readFileSync(README, 'utf8');
  const list = readme.split(/^## Commands$/m)[1]?.split(/^## /m)[0] ?? '';
  const missing = commands.filter((c) => !new RegExp(`^${c}\\s`, 'm').test(list));
  assert.deepEqual(missing, [], `commands missing from the README's list (${BIN} --help has them)`);
});
