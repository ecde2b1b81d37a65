#!/usr/bin/env node
// Thin shim: the CLI lives in dist/ (built by `npm run build`, and by `prepare` on a git or local install).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`ecs-cwlogs needs Node.js 22.12 or later; this is ${process.version}: install it (in a clone, \`. .ci/node.sh\` fetches it without root; see docs/install.md).\n`);
  process.exit(1);
}
const { main } = await import('../dist/bundle/ecs-cwlogs.js');
process.exitCode = await main(process.argv);
