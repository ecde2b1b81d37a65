/**
 * Against a real dockerd and an authenticated registry on 127.0.0.1 (see .ci/setup-docker.sh):
 *   - `ecs-cwlogs image` builds docker/ from the debootstrap base (agent skipped) and pushes it,
 *     with the login from a docker config file; prints the reference by digest;
 *   - a second run neither builds nor pushes; a changed config file gives a new tag;
 *   - the data path: the logging container and an Apache container linked to it as
 *     cloudwatchlogs, logging through `logger` exactly as the lab's task definition does.
 * Under CI these never skip: a missing daemon or registry fails the run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBuildContext } from '../../src/docker/build-context.js';
import { manifestDigest } from '../../src/docker/registry.js';
import { runCli, cliEnv, tempConfigDir } from '../helpers/cli.js';
import { schemaErrors } from './agent-schema.js';
import {
  buildAux,
  copyOfDockerDir,
  countIn,
  dockerConfigDir,
  dockerEnv,
  exec,
  hostPort,
  removeContainer,
  sh,
  waitFor,
  type DockerEnv,
} from './docker-helpers.js';

const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

const run = `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const LOGGING = `cwl-test-logging-${run}`;
const HTTPD = `cwl-test-httpd-${run}`;
let repo = '';
let pushed: { imageRef: string; tag: string; repository: string } | undefined;
let dockerConfig = '';
const configDir = tempConfigDir();

function imageArgs(extra: string[] = []): string[] {
  return ['image', '--repo', repo, '--base-image', env.baseImage, '--skip-agent', '--yes', '--json', ...extra];
}

before(() => {
  if (skip) return;
  repo = `${env.registry}/${run}/cloudwatchlogs`;
  dockerConfig = dockerConfigDir(env);
});

after(async () => {
  if (skip) return;
  await removeContainer(env.docker, HTTPD);
  await removeContainer(env.docker, LOGGING);
});

interface JsonReport {
  ok: boolean;
  imageRef?: string;
  steps: { id: string; action: string; outputs?: Record<string, string> }[];
}

test('image: builds docker/ from the debootstrap base and pushes it to an authenticated registry, printing it by digest', { skip, timeout: 600_000 }, async () => {
  const t0 = Date.now();
  const r = await runCli(imageArgs(), cliEnv(configDir, { DOCKER_CONFIG: dockerConfig }), { timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  const step = report.steps.find((s) => s.id === 'image')!;
  assert.equal(step.action, 'create');
  assert.equal(step.outputs?.built, true);
  assert.equal(step.outputs?.pushed, true);
  assert.match(report.imageRef ?? '', new RegExp(`^${repo.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
  assert.match(r.stderr, /Step \d+\/\d+ : RUN/, 'the build output streams as progress');
  assert.doesNotMatch(r.stderr + r.stdout, new RegExp(env.password), 'the password is never printed');
  pushed = { imageRef: report.imageRef!, tag: step.outputs!.tag!, repository: step.outputs!.repository! };
  // The registry itself has it, under that digest.
  const creds = { serverAddress: env.registry, username: env.user, password: env.password, source: 'test' };
  assert.equal(await manifestDigest(`${repo}:${pushed.tag}`, creds), report.imageRef!.split('@')[1]);
  assert.equal(await manifestDigest(`${repo}:latest`, creds), report.imageRef!.split('@')[1]);
  console.log(`# build + push: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('image: a second run with nothing changed neither builds nor pushes', { skip, timeout: 120_000 }, async () => {
  assert.ok(pushed, 'the first run pushed');
  const t0 = Date.now();
  const r = await runCli(imageArgs(), cliEnv(configDir, { DOCKER_CONFIG: dockerConfig }));
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  const step = report.steps.find((s) => s.id === 'image')!;
  assert.equal(step.action, 'noop');
  assert.equal(step.outputs?.built, false);
  assert.equal(step.outputs?.pushed, false);
  assert.equal(report.imageRef, pushed.imageRef);
  assert.doesNotMatch(r.stderr, /Step \d+\/\d+/, 'no build ran');
  console.log(`# unchanged re-run: ${Date.now() - t0} ms`);
});

test('image: changing one config file in docker/ gives a new tag', { skip }, () => {
  assert.ok(pushed);
  const dir = copyOfDockerDir();
  // The CLI builds for the default instance type, t3.small: linux/amd64.
  const args = { BASE_IMAGE: env.baseImage, SKIP_CLOUDWATCH_AGENT: 'true' };
  assert.equal(readBuildContext(dir, { buildArgs: args, platform: 'linux/amd64' }).tag, pushed.tag, 'a copy hashes the same');
  const conf = join(dir, 'rootfs', 'etc', 'rsyslog.conf');
  writeFileSync(conf, `${readFileSync(conf, 'utf8')}# changed\n`);
  assert.notEqual(readBuildContext(dir, { buildArgs: args, platform: 'linux/amd64' }).tag, pushed.tag);
});

test('image: wrong registry credentials are a clear error, and the password is not echoed', { skip, timeout: 120_000 }, async () => {
  const secret = `not-the-password-${run}`;
  const r = await runCli(['image', '--repo', repo, '--base-image', env.baseImage, '--skip-agent', '--yes', '--username', env.user, '--password-stdin'], cliEnv(configDir), {
    input: `${secret}\n`,
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /refused the credentials/);
  assert.doesNotMatch(r.stderr + r.stdout, new RegExp(secret));
});

test('image: no repository and no daemon needed for --image alone', { skip }, async () => {
  const r = await runCli(['image', '--image', 'registry.example/x@sha256:' + 'c'.repeat(64), '--yes', '--json'], cliEnv(configDir, { DOCKER_HOST: 'unix:///nonexistent.sock' }));
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as JsonReport).imageRef, 'registry.example/x@sha256:' + 'c'.repeat(64));
});

test('image: an unreachable Docker daemon says how to start it or set DOCKER_HOST', { skip }, async () => {
  const r = await runCli(['image', '--repo', `${env.registry}/nothing-${run}/x`, '--base-image', env.baseImage, '--yes'], cliEnv(configDir, { DOCKER_HOST: 'unix:///nonexistent.sock', DOCKER_CONFIG: dockerConfig }));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Docker is not reachable/);
  assert.match(r.stderr, /DOCKER_HOST/);
});

const APACHE_SITE = `<VirtualHost *:80>
  DocumentRoot /var/www/html
  LogLevel warn core:info
  CustomLog "| /usr/bin/logger -t httpd -p local6.info -n cloudwatchlogs -P 514" combined
</VirtualHost>
`;

const APACHE_DOCKERFILE = `ARG BASE_IMAGE
FROM \${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends apache2 && rm -rf /var/lib/apt/lists/* \\
 && a2disconf other-vhosts-access-log \\
 && sed -i 's#^ErrorLog .*#ErrorLog "| /usr/bin/logger -t httpd -p local7.info -n cloudwatchlogs -P 514"#' /etc/apache2/apache2.conf \\
 && grep -q 'logger -t httpd -p local7.info' /etc/apache2/apache2.conf \\
 && echo 'ServerName localhost' > /etc/apache2/conf-enabled/servername.conf \\
 && echo ok > /var/www/html/index.html
COPY 000-default.conf /etc/apache2/sites-available/000-default.conf
EXPOSE 80
CMD ["apache2ctl", "-D", "FOREGROUND"]
`;

test('data path: Apache linked as cloudwatchlogs; access and error logs, app tags over TCP and UDP, counted', { skip, timeout: 600_000 }, async () => {
  assert.ok(pushed);
  const { docker } = env;
  const image = `${pushed.repository}:${pushed.tag}`;
  const apache = await buildAux(env, 'httpd', { Dockerfile: APACHE_DOCKERFILE, '000-default.conf': APACHE_SITE });

  // The image declares the ports and the health check.
  const info = await docker.getImage(image).inspect();
  assert.deepEqual(Object.keys(info.Config.ExposedPorts ?? {}).sort(), ['514/tcp', '514/udp']);
  assert.ok((info.Config as { Healthcheck?: { Test?: string[] } }).Healthcheck?.Test?.join(' ').includes('/dev/tcp/127.0.0.1/514'));

  await removeContainer(docker, LOGGING);
  const logging = await docker.createContainer({
    name: LOGGING,
    Image: image,
    Env: ['AWS_REGION=us-east-1', 'LOG_GROUP=ecs', 'ECS_CWLOGS_IMDS=off'],
    // Same check as the image's, run every second so the test sees it pass.
    Healthcheck: { Interval: 1_000_000_000, Timeout: 3_000_000_000, Retries: 3, StartPeriod: 0 } as never,
  });
  await logging.start();
  await waitFor('rsyslog to listen', async () => (await exec(docker, LOGGING, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/514'])).code === 0);
  await waitFor('the health check to pass', async () => (await logging.inspect()).State.Health?.Status === 'healthy', 30_000, 500);

  await removeContainer(docker, HTTPD);
  const httpd = await docker.createContainer({
    name: HTTPD,
    Image: apache,
    ExposedPorts: { '80/tcp': {} },
    HostConfig: { Links: [`${LOGGING}:cloudwatchlogs`], PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  await httpd.start();
  const port = await hostPort(docker, HTTPD, '80/tcp');
  await waitFor('Apache to answer', async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.status === 200);

  const N = 25;
  const okMarker = `ok-${run}`;
  const errMarker = `missing-${run}`;
  for (let i = 0; i < N; i++) {
    assert.equal((await fetch(`http://127.0.0.1:${port}/index.html?${okMarker}-${i}`)).status, 200);
  }
  const E = 7;
  for (let i = 0; i < E; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/${errMarker}-${i}`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  }
  // logger in the app container: N lines over TCP (-T), N over UDP (-d), tagged myapp.
  const tcpMarker = `tcp-${run}`;
  const udpMarker = `udp-${run}`;
  await sh(docker, HTTPD, `for i in $(seq 1 ${N}); do logger -n cloudwatchlogs -P 514 -T -t myapp "${tcpMarker} $i"; done`);
  await sh(docker, HTTPD, `for i in $(seq 1 ${N}); do logger -n cloudwatchlogs -P 514 -d -t myapp "${udpMarker} $i"; done`);

  const access = '/var/log/httpd-access.log';
  const error = '/var/log/httpd-error.log';
  const app = '/var/log/apps/myapp.log';
  await waitFor('every line to be written', async () => {
    const counts = await Promise.all([countIn(docker, LOGGING, access, okMarker), countIn(docker, LOGGING, error, errMarker), countIn(docker, LOGGING, app, tcpMarker), countIn(docker, LOGGING, app, udpMarker)]);
    return counts.every((c, i) => c >= [N, E, N, N][i]!) ? counts : undefined;
  });
  await new Promise((r) => setTimeout(r, 1000)); // anything extra would have arrived by now
  assert.equal(await countIn(docker, LOGGING, access, okMarker), N, 'N requests give N access lines');
  assert.equal(await countIn(docker, LOGGING, access, errMarker), E, 'the 404s are access lines too');
  assert.equal(await countIn(docker, LOGGING, error, errMarker), E, 'each error request gives one error line');
  assert.equal(await countIn(docker, LOGGING, app, tcpMarker), N, 'TCP: N lines');
  assert.equal(await countIn(docker, LOGGING, app, udpMarker), N, 'UDP: N lines');
  // Nothing duplicated into the general syslog file, or into another file.
  for (const m of [okMarker, errMarker, tcpMarker, udpMarker]) {
    assert.equal(await countIn(docker, LOGGING, '/var/log/syslog', m), 0, `${m} not in syslog`);
  }
  assert.equal(await countIn(docker, LOGGING, error, okMarker), 0);
  assert.equal(Number((await sh(docker, LOGGING, `cat /var/log/apps/*.log | grep -c -F -e '${okMarker}' -e '${errMarker}' || true`)).trim()), 0, 'httpd lines are not in apps/');
  const sample = (await sh(docker, LOGGING, `grep -m1 -F '${okMarker}-0' ${access}`)).trim();
  assert.match(sample, /^\S+ \S+ httpd(\[\d+\])?:? .*"GET \/index\.html\?ok-\S+-0 HTTP\/1\.1" 200 /, sample);
});

test('data path: tags unsafe as file names stay inside /var/log/apps', { skip, timeout: 60_000 }, async () => {
  const { docker } = env;
  const m = `evil-${run}`;
  await sh(docker, HTTPD, `logger -n cloudwatchlogs -P 514 -T -t '../../etc/x' "${m} 1"; logger -n cloudwatchlogs -P 514 -T -t '.hidden' "${m} 2"; logger -n cloudwatchlogs -P 514 -T -t 'a$b' "${m} 3"`);
  await waitFor('the unsafe tags', async () => (await countIn(docker, LOGGING, '/var/log/apps/_invalid-tag.log', m)) === 3);
  const files = (await sh(docker, LOGGING, 'ls -A /var/log/apps')).split('\n').filter(Boolean);
  assert.ok(!files.some((f) => f.startsWith('.') || f.startsWith('a$') || f === 'x.log'), files.join(', '));
  assert.equal((await sh(docker, LOGGING, 'for f in /etc/x /etc/x.log /var/log/x.log /var/log/apps/.hidden.log; do [ -e "$f" ] && echo "$f"; done; true')).trim(), '');
});

test('the agent configuration the container wrote validates against the agent schema', { skip }, async (t) => {
  const text = await sh(env.docker, LOGGING, 'cat /etc/ecs-cwlogs/amazon-cloudwatch-agent.json');
  const cfg = JSON.parse(text) as { agent: { region?: string }; logs: { logs_collected: { files: { collect_list: { file_path: string; log_stream_name: string }[] } } } };
  assert.deepEqual(schemaErrors(t, cfg), []);
  assert.equal(cfg.agent.region, 'us-east-1');
  const streams = cfg.logs.logs_collected.files.collect_list.map((e) => e.log_stream_name);
  assert.ok(streams.includes('{instance_id}-{hostname}-{ip_address}-httpd-access.log'), streams.join(', '));
  // Agent skipped in this image: the container says so and keeps running rsyslog.
  const logs = (await env.docker.getContainer(LOGGING).logs({ stdout: true, stderr: true })).toString('utf8');
  assert.match(logs, /no CloudWatch agent/);
});

test('when rsyslogd dies the container says so, and it comes back', { skip, timeout: 60_000 }, async () => {
  const { docker } = env;
  await sh(docker, LOGGING, 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = rsyslogd ] && kill -9 ${p#/proc/}; done; true');
  await waitFor('the report', async () => /rsyslogd died unexpectedly/.test((await docker.getContainer(LOGGING).logs({ stdout: true, stderr: true })).toString('utf8')));
  await waitFor('rsyslog back on 514', async () => (await exec(docker, LOGGING, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/514'])).code === 0, 30_000, 500);
  const m = `after-restart-${run}`;
  await sh(docker, HTTPD, `logger -n cloudwatchlogs -P 514 -T -t myapp "${m}"`);
  await waitFor('a line after the restart', async () => (await countIn(docker, LOGGING, '/var/log/apps/myapp.log', m)) === 1);
});
