/**
 * A rehearsal builds the logging image only from an image this machine has. On a Docker host without
 * the Dockerfile's default base (debian:bookworm-slim; CI's has only the imported
 * ecs-cwlogs-base:bookworm), the wizard offers the Debian images the host has, instead of asking every
 * question and then stopping at the plan's check; the plan then builds from the one chosen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { BIN, cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { Terminal } from './terminal.js';

const docker = (args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) => execFile('docker', args, (err, out) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out })));

test('wizard under --sandbox: the default base image is not on the Docker host, so it offers the Debian images there; the plan builds from the one chosen; "No" creates nothing', { timeout: 240_000 }, async () => {
  const hasDefault = (await docker(['image', 'inspect', 'debian:bookworm-slim'])).code === 0;
  const images = (await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])).out.split('\n').filter((r) => /debian|bookworm|trixie|bullseye/i.test(r) && !r.endsWith(':<none>'));
  assert.ok(hasDefault || images.length > 0, 'the Docker host has a Debian image (CI imports ecs-cwlogs-base:bookworm)');
  const dir = tempConfigDir();
  const stack = `base-${Date.now().toString(36)}`;
  const env = cliEnv(dir, { NO_COLOR: undefined });
  const term = await Terminal.start('cwl-base-image', env, `node ${BIN} up --sandbox --stack ${stack}`);
  try {
    await term.answer(/ECS cluster name/, 'Enter');
    await term.answer(/Where should the logging image be pushed\?/, 'Enter'); // the sandbox's ECR: a build
    let chosen: string | undefined;
    if (!hasDefault) {
      const screen = await term.waitFor(/\? Build the logging image from \(debian:bookworm-slim is not on this Docker host\)/);
      for (const ref of images.slice(0, 3)) assert.ok(screen.includes(ref), `${ref} is offered:\n${screen}`);
      chosen = images[0];
      await term.keys('Enter');
    }
    for (const q of [/App image/, /Instance type/, /How many instances/, /Key pair for SSH/, /VPC/, /Subnet/, /Allow HTTP/, /CloudWatch Logs log group/, /Keep logs for/]) await term.answer(q, 'Enter');
    const summary = await term.waitFor(/\? Create these resources\?/);
    if (chosen) assert.ok(summary.includes(`logging image    built from ${chosen} and pushed to ECR`), summary);
    else assert.match(summary, /logging image {4}built and pushed to ECR/);
    assert.doesNotMatch(summary, /Cannot build the logging image/);
    await term.keys('n', 'Enter');
    const done = await term.waitFor(/EXIT=\d+/, 60_000);
    assert.match(done, /EXIT=1/, done);
  } finally {
    await term.kill();
    await runCli(['sandbox', '--stop', '--stack', stack], env);
  }
});
