#!/usr/bin/env node
// Thin shim: the compiled CLI lives in dist/ (npm run build).
// On Node 20 the AWS SDK prints a multi-line notice on every run; the README's "Node.js" section
// says the same once, so keep the terminal quiet unless the user asked for the SDK's own words.
if (process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv);
