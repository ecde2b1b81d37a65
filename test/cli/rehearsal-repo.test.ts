/**
 * Issue 18, item 3: a rehearsal never pushes outside this machine. `up --sandbox --repo user/...`
 * (Docker Hub) is refused before anything is written, naming --ecr (the sandbox's loopback registry).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';

test('up --sandbox with a --repo outside loopback is refused, exit 2, nothing created', { timeout: 120_000 }, async () => {
  const env = cliEnv(tempConfigDir());
  const stack = `rrepo-${Date.now().toString(36)}`;
  try {
    const r = await runCli(['up', '--sandbox', '--yes', '--json', '--stack', stack, '--repo', 'user/cloudwatchlogs'], env);
    assert.equal(r.code, 2, r.stderr);
    const err = JSON.parse(r.stdout);
    assert.match(JSON.stringify(err), /A rehearsal does not push to docker\.io/);
    assert.match(JSON.stringify(err), /--ecr/);
    const status = await runCli(['status', '--sandbox', '--json', '--stack', stack], env);
    const doc = JSON.parse(status.stdout);
    // Nothing exists (the alarm topic, with no --alarm-email, is in sync with none).
    const exists = doc.steps.filter((s: { action: string; details?: { topic?: string } }) => s.action === 'noop' && !s.details?.topic?.startsWith('none'));
    assert.deepEqual(exists, [], 'nothing exists');
  } finally {
    await runCli(['sandbox', '--stop', '--stack', stack], env);
  }
});
