// The shipped CLI: one esbuild bundle of dist/src (tsc's output) and its dependencies, in ESM chunks so
// each SDK client is still loaded only when first used. dockerode stays external (its ssh2 and
// cpu-features are native or optional, and it is loaded only for `image`). No source maps: the
// package doesn't ship the sources they would point at.
//
//   node scripts/bundle.mjs      (npm run build runs it after tsc)
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist/bundle', { recursive: true, force: true });
const result = await build({
  entryPoints: { 'ecs-cwlogs': 'dist/src/cli/main.js' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external: ['dockerode'],
  mainFields: ['module', 'main'],
  conditions: ['module'],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies call require() for Node's built-ins; ESM output has no require of its own.
  banner: { js: "import { createRequire as __ecsCwlogsRequire } from 'node:module'; const require = __ecsCwlogsRequire(import.meta.url);" },
});
const bytes = Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
console.log(`bundle: dist/bundle, ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
