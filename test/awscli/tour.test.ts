/**
 * Runs test/awscli/tour.sh (every operation of every service, through the real AWS CLI) against a
 * sandbox on a random port. Uses Debian's /usr/bin/aws (what CI installs); falls back to `aws` on
 * PATH, and skips when there is no AWS CLI at all, or when SKIP_AWSCLI_TOUR=1 (the CLI takes a
 * second or two per call, so the tour takes minutes).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { newSandboxCredentials } from '../../src/cli/sandbox-mode.js';
import { startSandbox } from '../../src/sandbox/index.js';

// Compiled to dist/test/awscli/; the script stays in test/awscli/.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SCRIPT = resolve(ROOT, 'test/awscli/tour.sh');

function findAwsCli(): string | undefined {
  if (existsSync('/usr/bin/aws')) return '/usr/bin/aws';
  const which = spawnSync('sh', ['-c', 'command -v aws'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

const aws = findAwsCli();
const skip = process.env.SKIP_AWSCLI_TOUR === '1' ? 'SKIP_AWSCLI_TOUR=1' : aws ? false : 'no AWS CLI installed';

test('awscli tour: every operation of every service through the AWS CLI', { skip, timeout: 15 * 60_000 }, async (t) => {
  const version = spawnSync(aws!, ['--version'], { encoding: 'utf8' });
  t.diagnostic(`AWS CLI: ${aws} (${(version.stdout || version.stderr).trim()})`);

  // Signed, as a user of `ecs-cwlogs sandbox` would: the sandbox's own random key, nothing else.
  const key = newSandboxCredentials();
  const sb = await startSandbox({ port: 0, latency: 'fast', iamPropagationMs: 0, credentials: key });
  try {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((done) => {
      const child = spawn('bash', [SCRIPT], {
        env: { ...process.env, ENDPOINT: sb.url, AWS_BIN: aws!, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      child.on('close', (code) => done({ code, output }));
    });
    if (code !== 0) t.diagnostic(output);
    assert.equal(code, 0, `tour.sh failed:\n${output.split('\n').slice(-40).join('\n')}`);
    assert.match(output, /tour complete/);
  } finally {
    await sb.close();
  }
});
