/**
 * `.dockerignore`, as the Docker CLI reads it (moby/patternmatcher):
 *   - one pattern a line; blank lines and lines starting with # are ignored; surrounding spaces trimmed;
 *   - a leading ! re-includes what earlier patterns excluded; the last matching pattern wins;
 *   - patterns are cleaned paths relative to the context root (a leading / is dropped);
 *   - * matches any run of characters but /, ? one character but /, [..] a class, \ escapes;
 *     ** matches any number of directories, zero included;
 *   - a pattern also matches a path when it matches the path's parent directory of the same depth
 *     ("build" excludes build/a/b), so excluding a directory excludes everything under it.
 */
import { posix } from 'node:path';

export interface IgnorePattern {
  readonly source: string;
  readonly exclusion: boolean;
  readonly regex: RegExp;
  /** Number of path components: the depth of the parent directory it is tried against. */
  readonly depth: number;
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let exclusion = false;
    if (line.startsWith('!')) {
      exclusion = true;
      line = line.slice(1).trim();
    }
    let p = posix.normalize(line);
    p = p.replace(/^\/+/, '').replace(/\/+$/, '');
    if (p === '' || p === '.') continue;
    out.push({ source: raw, exclusion, regex: compile(p), depth: p.split('/').length });
  }
  return out;
}

const SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

function compile(pattern: string): RegExp {
  let re = '^';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (inClass) {
      if (ch === ']') inClass = false;
      if (ch === '\\' && i + 1 < pattern.length) {
        re += `\\${pattern[++i]}`;
        continue;
      }
      re += ch;
      continue;
    }
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        // "**" at the end matches everything; elsewhere any number of directories (even none).
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '[') {
      inClass = true;
      re += '[';
      if (pattern[i + 1] === '!' || pattern[i + 1] === '^') {
        re += '^';
        i++;
      }
    } else if (ch === '\\') {
      if (i + 1 < pattern.length) re += escapeChar(pattern[++i]!);
      else re += '\\\\';
    } else {
      re += escapeChar(ch);
    }
  }
  if (inClass) throw new Error(`bad .dockerignore pattern "${pattern}": unterminated [`);
  return new RegExp(`${re}$`, 's');
}

function escapeChar(ch: string): string {
  return SPECIAL.has(ch) || ch === '\\' || ch === '[' || ch === ']' || ch === '*' || ch === '?' ? `\\${ch}` : ch;
}

/** Is this path (relative, / separated) excluded from the build context? */
export function isIgnored(patterns: readonly IgnorePattern[], path: string): boolean {
  const file = posix.normalize(path).replace(/^\.\/+/, '');
  const parts = file.split('/');
  let matched = false;
  for (const p of patterns) {
    let m = p.regex.test(file);
    if (!m && parts.length > 1 && p.depth < parts.length) {
      m = p.regex.test(parts.slice(0, p.depth).join('/'));
    }
    if (m) matched = !p.exclusion;
  }
  return matched;
}

/** A matcher for a pattern list (the file's text). */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const patterns = parseDockerignore(text);
  return (path) => isIgnored(patterns, path);
}
