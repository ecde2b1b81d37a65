/**
 * Issue 19, acceptance 1 and 2, through the real binary, Debian's awscli and the real Docker engine:
 * `up --sandbox --local`, then
 *   1b. the logging container plants `ln -sf <a 0600 host file> /var/log/syslog`: `logs --sandbox`
 *       never prints that file, and the sandbox's log names the link and says why it is not shipped;
 *   1.  a task definition whose host volume's sourcePath is `/../../../..` followed by a host
 *       directory, put in place with UpdateService: the task runs, its mount is inside the instance's
 *       stand-in root (where the path resolves on an instance), what the root container writes lands
 *       there, and the host directory is never created;
 *   1'. a volume named with `/` and `..`: the task is refused at placement (STOPPED, TaskFailedToStart,
 *       CannotCreateContainerError naming the volume), nothing is created outside;
 *   1". a link planted by a running container in its host volume, then used as a sourcePath: refused
 *       the same way, nothing is created where the link points.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ECS } from '@aws-sdk/client-ecs';
import { CONTAINER_LABEL } from '../../src/sandbox/local/labels.js';
import { dockerEnv, waitFor, type DockerEnv } from './docker-helpers.js';
import { labelledNow, localStack, NOTHING, readLogs, tearDownStack, type LocalStack } from './local-helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const setup = await dockerEnv();
const aws = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : undefined;
const skip = typeof setup === 'string' ? setup : aws ? false : 'no /usr/bin/aws';
if (skip) console.log(`# docker tests ${skip}`);
const env = setup as DockerEnv;

const CLUSTER = 'ECSCloudWatchLogs';
const SERVICE = 'cloudwatchlogs';
const run = Date.now().toString(36);
// Never created: the sourcePath names it, the mount must not reach it.
const scratch = mkdtempSync(join(tmpdir(), 'cwl-escape-'));
const outside = join(scratch, 'target');
/** The sandbox's own key (its record), as `ecs-cwlogs sandbox` prints it to a user. */
let CREDENTIALS = { accessKeyId: '', secretAccessKey: '' };

let s: LocalStack;
let port = 0;
let instanceId = '';
let ecs: ECS;

/** Debian's awscli against the stack's sandbox. */
function awscli(args: string[]): unknown {
  const r = spawnSync(aws!, [...args, '--endpoint-url', `http://127.0.0.1:${port}`, '--region', 'us-east-1', '--output', 'json'], {
    encoding: 'utf8',
    env: { ...process.env, AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '' },
  });
  assert.equal(r.status, 0, `aws ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
}

function deploy(family: string, volumes: unknown[], command: string): void {
  const td = {
    family,
    networkMode: 'bridge',
    requiresCompatibilities: ['EC2'],
    volumes,
    containerDefinitions: [
      {
        name: 'app',
        image: env.baseImage,
        essential: true,
        memory: 32,
        command: ['sh', '-c', command],
        mountPoints: (volumes as { name: string }[]).map((v) => ({ sourceVolume: v.name, containerPath: '/mnt/x' })),
      },
    ],
  };
  awscli(['ecs', 'register-task-definition', '--cli-input-json', JSON.stringify(td)]);
  awscli(['ecs', 'update-service', '--cluster', CLUSTER, '--service', SERVICE, '--task-definition', family]);
}

async function stoppedReason(family: string): Promise<string> {
  return waitFor(
    `a stopped task of ${family}`,
    async () => {
      const arns = (await ecs.listTasks({ cluster: CLUSTER, family, desiredStatus: 'STOPPED' })).taskArns ?? [];
      if (!arns.length) return undefined;
      const t = (await ecs.describeTasks({ cluster: CLUSTER, tasks: arns })).tasks![0]!;
      assert.equal(t.stopCode, 'TaskFailedToStart');
      return t.stoppedReason;
    },
    60_000,
    250,
  );
}

const stackDir = () => join(s.configDir, 'sandbox', `${s.stack}.local`);
const instanceRoot = () => join(stackDir(), 'instances', instanceId, 'root');

before(async () => {
  if (skip) return;
  s = await localStack(env, 'conf');
  const r = await s.cli(s.upArgs, 240_000);
  assert.equal(r.code, 0, r.stderr);
  instanceId = JSON.parse(r.stdout).outputs.instance.instanceId;
  port = s.record()!.port;
  CREDENTIALS = { accessKeyId: s.record()!.accessKeyId, secretAccessKey: s.record()!.secretAccessKey };
  ecs = new ECS({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, credentials: CREDENTIALS });
});

// Cleanup whatever failed before (a failed assertion in `before`, a timeout): down, then every
// sandbox process of the stack (by its command line, not only its record) and its containers; then
// the file asserts that nothing of it remains, and that `down` alone left nothing.
after(async () => {
  if (skip || !s) return;
  ecs?.destroy();
  try {
    const { afterDown, remaining } = await tearDownStack(env.docker, s);
    assert.deepEqual(remaining, NOTHING, 'no container of the stack and no sandbox process of it remain');
    assert.deepEqual(afterDown, NOTHING, '`down --sandbox` left no container of the stack and no sandbox process');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('1b. a link planted by the logging container in its /var/log is not shipped; the sandbox says why', { skip, timeout: 120_000 }, async () => {
  const secret = join(scratch, 'secret');
  const marker = `SECRET-${run}-0600`;
  writeFileSync(secret, `${marker}\n`, { mode: 0o600 });
  chmodSync(secret, 0o600);
  const logging = (await labelledNow(env.docker, s.stack)).containers.find((c) => /-cloudwatchlogs-[0-9a-f]{12}$/.test(c.name) && c.state === 'running');
  assert.ok(logging, 'the logging container runs');
  const exec = await env.docker.getContainer(logging.id).exec({ Cmd: ['sh', '-c', `ln -sf ${secret} /var/log/syslog`], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  await new Promise((r) => stream.on('end', r).resume());
  assert.equal((await exec.inspect()).ExitCode, 0);
  const logFile = join(s.configDir, 'sandbox', `${s.stack}.log`);
  const warning = await waitFor('the warning in the sandbox log', async () => readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('not shipping') && l.includes('syslog')), 15_000, 250);
  console.log(`# ${warning.trim()}`);
  assert.match(warning, /\/var\/log\/syslog: .*is a symbolic link \(to .*secret\)/);
  await new Promise((r) => setTimeout(r, 2000)); // a shipped line would be there by now
  const events = await readLogs(s);
  assert.ok(events.length > 0, 'other lines are shipped');
  assert.equal(events.filter((e) => e.message.includes(marker)).length, 0, 'the 0600 file is not in the log group');
  const text = await s.cli(['logs', '--since', '5m', '--sandbox', '--stack', s.stack], 60_000);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(!text.stdout.includes(marker));
});

test('1. a sourcePath full of .. (UpdateService): the mount stays inside the instance root, nothing is created outside', { skip, timeout: 180_000 }, async () => {
  const family = `escape-${run}`;
  const sourcePath = `/../../../../../../../..${outside}`;
  deploy(family, [{ name: 'v', host: { sourcePath } }], 'echo written-by-root > /mnt/x/proof && sleep 600');
  const inside = join(instanceRoot(), outside);
  const c = await waitFor(
    'the task of the new task definition to run',
    async () => {
      const found = (await labelledNow(env.docker, s.stack)).containers.find((x) => x.name.includes(`-${family}-`) && x.state === 'running');
      return found && existsSync(join(inside, 'proof')) ? found : undefined;
    },
    90_000,
    250,
  );
  const info = await env.docker.getContainer(c.id).inspect();
  assert.equal(info.Config.Labels[CONTAINER_LABEL], 'app');
  const mount = info.Mounts.find((m) => m.Destination === '/mnt/x')!;
  assert.equal(mount.Source, inside);
  assert.ok(!relative(stackDir(), mount.Source).startsWith('..'), `${mount.Source} is inside ${stackDir()}`);
  assert.equal(readFileSync(join(inside, 'proof'), 'utf8'), 'written-by-root\n');
  assert.equal(existsSync(outside), false, `${outside} is not created`);
});

test("1'. a volume named with / and .. is refused at placement; nothing is created outside", { skip, timeout: 120_000 }, async () => {
  const family = `badname-${run}`;
  const name = `../../../../../..${outside}-byname`;
  deploy(family, [{ name }], 'sleep 600');
  const reason = await stoppedReason(family);
  assert.match(reason, /^CannotCreateContainerError: the volume name ".*" is not 1 to 255 letters, numbers, hyphens and underscores/);
  assert.equal(existsSync(`${outside}-byname`), false);
  assert.equal(existsSync(outside), false);
});

test('1". a link a running container planted in its host volume is refused as a sourcePath; nothing is created where it points', { skip, timeout: 120_000 }, async () => {
  const target = join(scratch, 'linked', 'there');
  const c = (await labelledNow(env.docker, s.stack)).containers.find((x) => x.name.includes(`-escape-${run}-`) && x.state === 'running');
  assert.ok(c, 'the escape task still runs');
  const exec = await env.docker.getContainer(c.id).exec({ Cmd: ['ln', '-s', target, '/mnt/x/link'] });
  await new Promise((r) => exec.start({}).then((st) => st.on('end', r).resume()));
  const family = `linked-${run}`;
  deploy(family, [{ name: 'v', host: { sourcePath: `${outside}/link/sub` } }], 'sleep 600');
  const reason = await stoppedReason(family);
  assert.match(reason, /^CannotCreateContainerError: .*\/link is a symbolic link \(to .*there\)/);
  assert.equal(existsSync(target), false, `${target} is not created`);
  assert.equal(existsSync(outside), false);
});
