import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * The package root: the nearest directory above this file with templates/ and package.json (the
 * compiled tree dist/src/core, and the bundle's dist/bundle/chunks, in a clone or an install).
 */
export const PACKAGE_ROOT = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'templates'))) return dir;
  }
  return join(here, '..', '..', '..');
})();

export const VERSION: string = (
  JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** Where templates/ and docker/ live. */
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');
export const DOCKER_DIR = join(PACKAGE_ROOT, 'docker');
