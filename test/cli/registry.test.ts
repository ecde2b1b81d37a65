/**
 * The step is the only registry: a step added to the list in src/steps/index.ts, and nowhere else,
 * is a command of its own with its flags and examples, is named in the top-level help under its
 * shape, refuses to run in a stack of another shape, and takes its place in `down`'s order.
 *
 * Proved on a copy of the compiled tree (dist/src) where the only change is the registration: a
 * new file for the step, its import and its name in STEPS. The real CLI runs from that copy.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/version.js';
import { retiredStepsPresent, STEPS, TOPOLOGY_STEPS } from '../../src/steps/index.js';
import { cliEnv, tempConfigDir, type CliResult } from '../helpers/cli.js';
import { withSandbox } from '../helpers/sandbox-context.js';

const FAKE = `// A step of a group only, found by nothing, that depends on the cluster and comes before the service.
import { ABSENT } from '../core/step.js';

export const auditTrailStep = {
  id: 'audit-trail',
  title: 'Audit trail',
  dependsOn: ['cluster'],
  before: ['service'],
  command: {
    summary: 'Keep an audit trail of the stack (registered only in the step list)',
    settings: ['clusterName', 'retentionDays'],
    examples: ['ecs-cwlogs audit-trail --keep-days 30'],
    options: [{ flags: '--keep-days <n>', description: 'how long the trail is kept' }],
  },
  shapes: ['group'],
  tagged: [],
  read: async () => ABSENT,
  desired: () => ({}),
  plan: () => ({ action: 'create', summary: 'audit trail' }),
  apply: async () => ({}),
  preview: () => ({}),
  describe: () => ({}),
  destroy: async () => ({ deleted: [], kept: [] }),
  destroyPreview: async (ctx) => ({ deleted: ['audit trail of stack ' + ctx.stack], kept: [] }),
};
`;

let dir = '';
let cli = '';

before(() => {
  dir = mkdtempSync(join(PACKAGE_ROOT, 'dist', 'registry-proof-'));
  cpSync(join(PACKAGE_ROOT, 'dist', 'src'), join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src', 'steps', 'audit-trail.js'), FAKE);
  const index = join(dir, 'src', 'steps', 'index.js');
  const text = readFileSync(index, 'utf8');
  const lines = text.split('\n').filter((l) => /^export const STEPS = /.test(l));
  assert.equal(lines.length, 1, 'the registration is one line');
  writeFileSync(index, `import { auditTrailStep } from './audit-trail.js';\n${text.replace(/^(export const STEPS = [^\n[]*\[[^\n\]]*)\]/m, '$1, auditTrailStep]')}`);
  cli = join(dir, 'cli.js');
  writeFileSync(cli, `import { main } from './src/cli/main.js';\nprocess.exitCode = await main(process.argv);\n`);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The CLI of the copy, as test/helpers/cli.ts runs the real one. */
function run(args: string[], env = cliEnv(tempConfigDir())): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('the registration is one line of src/steps/index.ts naming every step', () => {
  const source = readFileSync(join(PACKAGE_ROOT, 'src', 'steps', 'index.ts'), 'utf8');
  const lines = source.split('\n').filter((l) => l.startsWith('export const STEPS'));
  assert.equal(lines.length, 1);
  const names = /\[(\w+(?:, \w+)*)\]/.exec(lines[0]!)?.[1]?.split(', ') ?? [];
  assert.equal(names.length, STEPS.length, `each registered step is named on that line: ${names.join(', ')}`);
});

test('a step registered only in the step list is a command, with its flags and examples, and in its shape in the help', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^ {2}audit-trail \[options\] +Keep an audit trail of the stack/m);
  assert.match(help.stdout, /a group:\s+target-group, load-balancer, launch-template, auto-scaling-group, capacity-provider, audit-trail\n/);
  assert.doesNotMatch(help.stdout, /(every shape|one instance):[^\n]*audit-trail/);

  const own = await run(['audit-trail', '--help']);
  assert.equal(own.code, 0, own.stderr);
  for (const flag of ['--cluster-name <name>', '--retention-days <days>', '--keep-days <n>', '--delete', '--adopt']) assert.ok(own.stdout.includes(flag), `${flag} in:\n${own.stdout}`);
  assert.match(own.stdout, /Examples:\n {2}\$ ecs-cwlogs audit-trail --keep-days 30/);

  const completion = await run(['completion', 'bash']);
  assert.match(completion.stdout, /'audit-trail'\)/);
  assert.match(completion.stdout, /--keep-days/);
});

test("a step registered only in the step list runs in its shape only, and `down` deletes it before what it depends on and after what it comes before", async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const base = ['--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'regproof', '--yes'];
    const alone = await run(['audit-trail', ...base, '--dry-run'], env);
    assert.equal(alone.code, 2, alone.stderr);
    assert.match(alone.stderr, /The audit-trail step is not part of this stack's shape/);

    const down = await run(['down', ...base, '--dry-run', '--json'], env);
    assert.equal(down.code, 0, down.stderr);
    const doc = JSON.parse(down.stdout) as { steps: { id: string; deleted?: string[] }[] };
    const order = doc.steps.map((s) => s.id);
    assert.deepEqual(doc.steps.find((s) => s.id === 'audit-trail')?.deleted, ['audit trail of stack regproof']);
    assert.equal(order.length, STEPS.length + 1, `down runs every step: ${order.join(', ')}`);
    assert.ok(order.indexOf('audit-trail') < order.indexOf('cluster'), `deleted before the cluster it depends on: ${order.join(', ')}`);
    assert.ok(order.indexOf('service') < order.indexOf('audit-trail'), `deleted after the service it comes before (its before): ${order.join(', ')}`);
  });
});

test("what a change of shape leaves behind is judged from the steps' declared Tagging API kinds", async () => {
  const arn = (type: string) => `arn:aws:${type}`;
  const found = async (topology: { instances: number; loadBalancer: boolean }, ...resources: { arn: string; tags?: Record<string, string> }[]) => {
    const list = resources.map((r) => ({ ResourceARN: r.arn, Tags: Object.entries(r.tags ?? {}).map(([Key, Value]) => ({ Key, Value })) }));
    const tagging = { getResources: async () => ({ ResourceTagMappingList: list }) } as unknown as Parameters<typeof retiredStepsPresent>[0]['tagging'];
    return retiredStepsPresent({ tagging, stack: 'leftovers' }, topology);
  };
  const one = { instances: 1, loadBalancer: false };
  const group = { instances: 3, loadBalancer: false };
  assert.deepEqual(await found(one), []);
  assert.deepEqual(await found(one, { arn: arn('ec2:us-east-1:1:instance/i-1'), tags: { 'aws:autoscaling:groupName': 'g' } }), ['auto-scaling-group']);
  assert.deepEqual(await found(one, { arn: arn('ec2:us-east-1:1:launch-template/lt-1') }), ['launch-template', 'auto-scaling-group']);
  assert.deepEqual(await found(one, { arn: arn('ecs:us-east-1:1:capacity-provider/cp-x') }), ['auto-scaling-group', 'capacity-provider']);
  assert.deepEqual(await found(one, { arn: arn('elasticloadbalancing:us-east-1:1:loadbalancer/net/x/1') }), [], 'a network load balancer is not the stack\'s ALB');
  assert.deepEqual(await found(one, { arn: arn('elasticloadbalancing:us-east-1:1:loadbalancer/app/x/1') }, { arn: arn('elasticloadbalancing:us-east-1:1:targetgroup/x/1') }), ['target-group', 'load-balancer']);
  assert.deepEqual(await found(group, { arn: arn('ec2:us-east-1:1:instance/i-1') }, { arn: arn('ecs:us-east-1:1:cluster/c') }), ['instance']);
  assert.deepEqual(await found(group, { arn: arn('ec2:us-east-1:1:instance/i-1'), tags: { 'aws:autoscaling:groupName': 'g' } }), []);
  // Monitoring (issue 21) is part of every shape unless --no-monitoring.
  assert.deepEqual(TOPOLOGY_STEPS.single, ['image', 'iam', 'cluster', 'log-group', 'security-group', 'instance', 'task', 'service', 'metric-filters', 'alarm-topic', 'alarms', 'dashboard', 'query-definitions']);
});
