/**
 * templates/httpd-command.sh, exactly as the task definition renders it (entryPoint + command of
 * the httpd container), in an image laid out like the official httpd:2.4 (templates/httpd-like,
 * Debian's Apache at /usr/local/apache2 with httpd-foreground), linked as `cloudwatchlogs` to the
 * logging container built from docker/ (agent skipped). The content server's name points at a
 * black-holed address (192.0.2.1, TEST-NET-1), so the background fetch hangs until its timeout.
 *   - port 80 answers within 5 s of the container's start (the time is printed);
 *   - N requests give exactly N lines in httpd-access.log, errors land in httpd-error.log, and
 *     nothing is written to the container's stdout/stderr (no duplicate CustomLog);
 *   - across `supervisorctl restart rsyslogd` in the logging container, requests keep being
 *     logged; what is lost is printed (not asserted), lines sent after the restart all arrive.
 * Both images are tagged by the content hash of their build context, so a re-run builds nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { readBuildContext } from '../../src/docker/build-context.js';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { resolveSettings } from '../../src/core/config.js';
import { renderTaskDefinition } from '../../src/steps/task.js';
import { ACCESS_LINE } from '../../src/logs/queries.js';
import { ACCESS_PATTERN, ERROR_PATTERN } from '../../src/steps/metric-filters.js';
import { compileFilterPattern } from '../../src/sandbox/insights/filter-pattern.js';
import { buildLoggingImage, countIn, dockerEnv, exec, hostPort, removeContainer, sh, waitFor, type DockerEnv } from './docker-helpers.js';

const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

const run = `h${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const LOGGING = `cwl-test-hlog-${run}`;
const HTTPD = `cwl-test-hhttpd-${run}`;
const ACCESS = '/var/log/httpd-access.log';
const ERROR = '/var/log/httpd-error.log';
let port = 0;

async function buildHttpdLike(e: DockerEnv): Promise<string> {
  const buildArgs = { BASE_IMAGE: e.baseImage };
  const ctx = readBuildContext(join(PACKAGE_ROOT, 'templates', 'httpd-like'), { buildArgs });
  const ref = `ecs-cwlogs-test-httpd-like:${ctx.tag}`;
  if (!(await e.engine.inspectImage(ref))) await e.engine.build({ context: ctx, tag: ref, buildArgs });
  return ref;
}

/** GET over node:http, one connection each (undici's fetch can hang on a half-ready docker-proxy port with nothing keeping the event loop alive). */
function request(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(3000, () => req.destroy(new Error(`GET ${path}: no answer in 3 s`)));
    req.on('error', reject);
  });
}
const get = async (path: string): Promise<number> => (await request(path)).status;

before(async () => {
  if (skip) return;
  const [logging, httpd] = await Promise.all([buildLoggingImage(env), buildHttpdLike(env)]);
  await removeContainer(env.docker, LOGGING);
  await (await env.docker.createContainer({ name: LOGGING, Image: logging, Env: ['AWS_REGION=us-east-1', 'ECS_CWLOGS_IMDS=off'] })).start();
  await waitFor('rsyslog to listen', async () => (await exec(env.docker, LOGGING, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/514'])).code === 0, 30_000, 100);
  // The httpd container as the task definition has it.
  const def = renderTaskDefinition({ ...resolveSettings({ flags: {}, env: {} }).config, region: 'us-east-1' }, 'logging-image', 'arn:aws:iam::123456789012:role/ecs-cwlogs/test/ecs-cwlogs-task-us-east-1');
  const c = def.containerDefinitions!.find((x) => x.name === 'httpd')!;
  assert.deepEqual(c.links, ['cloudwatchlogs']);
  await removeContainer(env.docker, HTTPD);
  const container = await env.docker.createContainer({
    name: HTTPD,
    Image: httpd,
    Entrypoint: c.entryPoint,
    Cmd: c.command,
    ExposedPorts: { '80/tcp': {} },
    HostConfig: {
      Links: [`${LOGGING}:cloudwatchlogs`],
      ExtraHosts: ['docs.aws.amazon.com:192.0.2.1'],
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    },
  });
  const t0 = Date.now();
  await container.start();
  port = await hostPort(env.docker, HTTPD, '80/tcp');
  await waitFor('httpd to answer', async () => (await get('/').catch(() => 0)) === 200, 30_000, 25);
  const ms = Date.now() - t0;
  console.log(`# httpd: first answer ${ms} ms after the container was started`);
  assert.ok(ms < 5000, `port 80 answered after ${ms} ms`);
});

after(async () => {
  if (skip || process.env.ECS_CWLOGS_TEST_KEEP) return;
  await removeContainer(env.docker, HTTPD);
  await removeContainer(env.docker, LOGGING);
});

test('httpd serves the local index page at once, the content fetch runs in the background', { skip }, async () => {
  const page = (await request('/')).body;
  assert.match(page, /ecs-cwlogs/);
  // The fetch is still waiting on the black-holed address (or gave up): no partial page is served.
  assert.equal(await get('/Welcome.html'), 404);
});

test('N requests give exactly N access lines, errors give error lines, nothing goes to stdout', { skip, timeout: 60_000 }, async () => {
  const { docker } = env;
  const N = 20;
  const E = 3;
  const ok = `ok-${run}`;
  const bad = `ht-${run}`;
  for (let i = 0; i < N; i++) assert.equal(await get(`/index.html?${ok}-${i}`), 200);
  // .ht* files are denied by httpd.conf: a 403 and an [authz_core:error] line each.
  for (let i = 0; i < E; i++) assert.equal(await get(`/.${bad}-${i}`), 403);
  await waitFor('the lines', async () => (await countIn(docker, LOGGING, ACCESS, ok)) >= N && (await countIn(docker, LOGGING, ERROR, bad)) >= E);
  await new Promise((r) => setTimeout(r, 500)); // a duplicate would have arrived by now
  assert.equal(await countIn(docker, LOGGING, ACCESS, ok), N);
  assert.equal(await countIn(docker, LOGGING, ACCESS, bad), E, 'the 403s are access lines too');
  assert.equal(await countIn(docker, LOGGING, ERROR, bad), E);
  assert.equal(await countIn(docker, LOGGING, ERROR, ok), 0);
  assert.equal(await countIn(docker, LOGGING, '/var/log/syslog', ok), 0);
  const sample = (await sh(docker, LOGGING, `grep -m1 -F '${ok}-0' ${ACCESS}`)).trim();
  assert.match(sample, / httpd(\[\d+\])?:? \S+ \S+ - - \[[^\]]+\] "GET \/index\.html\?ok-\S+-0 HTTP\/1\.1" 200 \d+ "-" "[^"]*" \d+$/, sample);
  // The access line as src/logs/queries.ts (the Insights queries) and the metric filters read it: %D last, in microseconds.
  const fields = ACCESS_LINE.exec(sample)?.groups;
  assert.ok(fields, `queries.ts's ACCESS_LINE reads the line: ${sample}`);
  assert.equal(fields.status, '200');
  assert.match(fields.request, /^GET \/index\.html\?ok-\S+-0 HTTP\/1\.1$/);
  const micros = Number(fields.duration);
  assert.ok(Number.isInteger(micros) && micros > 0 && micros < 3_000_000, `%D is the time taken in microseconds (under the client's 3 s timeout): ${fields.duration}`);
  assert.ok(compileFilterPattern(ACCESS_PATTERN).matches(sample), `the requests metric filter's pattern matches the access line: ${sample}`);
  const err = (await sh(docker, LOGGING, `grep -m1 -F '${bad}-0' ${ERROR}`)).trim();
  assert.match(err, /\[authz_core:error\] .*\[client [0-9.]+:\d+\] AH01630/, err);
  assert.ok(compileFilterPattern(ERROR_PATTERN).matches(err), `the error-lines metric filter's pattern matches the error line: ${err}`);
  assert.ok(!compileFilterPattern(ERROR_PATTERN).matches(sample), 'and not the access line');
  assert.ok(!compileFilterPattern(ACCESS_PATTERN).matches(err), "the requests filter's pattern does not match the error line");
  const out = (await docker.getContainer(HTTPD).logs({ stdout: true, stderr: true })).toString('utf8');
  assert.ok(!out.includes(ok) && !out.includes(bad), `httpd's own output has no log lines:\n${out}`);
});

test('across an rsyslog restart in the logging container, requests keep being logged (loss measured)', { skip, timeout: 60_000 }, async () => {
  const { docker } = env;
  const m = `rs-${run}`;
  let sent = 0;
  let streaming = true;
  // Requests every 20 ms, before, during and after the restart.
  const stream = (async () => {
    while (streaming) {
      await get(`/?${m}=${sent++}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await new Promise((r) => setTimeout(r, 1000));
  const restart = await exec(docker, LOGGING, ['supervisorctl', 'restart', 'rsyslogd']);
  assert.equal(restart.code, 0, restart.stdout + restart.stderr);
  await waitFor('rsyslog back on 514', async () => (await exec(docker, LOGGING, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/514'])).code === 0, 30_000, 100);
  await new Promise((r) => setTimeout(r, 1000));
  streaming = false;
  await stream;
  // Lines sent once rsyslog is back all arrive: access lines, and error lines.
  const K = 10;
  const post = `post-${run}`;
  for (let i = 0; i < K; i++) await get(`/index.html?${post}-${i}`);
  for (let i = 0; i < 3; i++) assert.equal(await get(`/.ht-${post}-e${i}`), 403);
  await waitFor('the lines sent after the restart', async () => (await countIn(docker, LOGGING, ACCESS, `${post}-`)) >= K + 3 && (await countIn(docker, LOGGING, ERROR, `${post}-e2`)) === 1, 20_000);
  const got = await countIn(docker, LOGGING, ACCESS, `${m}=`);
  const errors = await countIn(docker, LOGGING, ERROR, `${post}-e`);
  assert.equal(await countIn(docker, LOGGING, ACCESS, `${post}-`), K + 3);
  console.log(`# rsyslog restart: ${sent - got} of ${sent} access lines lost (sent every ~20 ms across the restart); ${3 - errors} of 3 error lines sent after it lost`);
  assert.ok(got > 0 && got <= sent);
  // The error logger was idle across the restart: its first line goes into the closed connection.
  assert.ok(errors >= 2, `${errors} of 3 error lines after the restart`);
});
