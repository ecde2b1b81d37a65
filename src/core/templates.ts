/**
 * templates/ holds the documents the lab is made of (IAM policy and trust documents, user data, the
 * task definition). They are package data: read once, cached, and rendered with {{name}} placeholders.
 * Rendering is pure, so steps' `desired` stays pure.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEMPLATES_DIR } from './version.js';

const cache = new Map<string, string>();

export function templateText(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(TEMPLATES_DIR, name), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/**
 * Replace every {{name}} with vars[name]. In JSON templates a value is inserted JSON-escaped
 * (without quotes: the template supplies them). A placeholder without a value is an error.
 */
export function render(name: string, vars: Readonly<Record<string, string | number>>): string {
  const json = name.endsWith('.json');
  return templateText(name).replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_, key: string) => {
    const v = vars[key];
    if (v === undefined) throw new Error(`Template ${name} needs a value for {{${key}}}`);
    return json ? JSON.stringify(String(v)).slice(1, -1) : String(v);
  });
}

export function renderJson<T = unknown>(name: string, vars: Readonly<Record<string, string | number>>): T {
  return JSON.parse(render(name, vars)) as T;
}
