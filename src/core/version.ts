import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The package root: dist/src/core -> ../../.. (works from the compiled tree and a packed install). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const VERSION: string = (
  JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** Where templates/ and docker/ live. */
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');
export const DOCKER_DIR = join(PACKAGE_ROOT, 'docker');
