/**
 * Help is generated from what is registered: the top-level help names every step command (each
 * shape's, from the steps' declared shapes), and `sandbox --help` every service the sandbox serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../src/cli/main.js';
import { SERVICE_TITLES } from '../../src/cli/commands/sandbox.js';
import { TOPOLOGY_STEPS } from '../../src/steps/index.js';
import { defaultServices } from '../../src/sandbox/services/index.js';
import { invokedAs, stackFlags } from '../../src/cli/invocation.js';
import { inServiceText, plural } from '../../src/core/plural.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { whatExists } from '../../src/cli/run.js';
import type { RunReport } from '../../src/engine/engine.js';

test('top-level help lists every registered step command, under the shape that runs it', async () => {
  const r = await runCli(['--help'], cliEnv(tempConfigDir()));
  assert.equal(r.code, 0);
  const registered = buildProgram().commands.map((c) => c.name());
  const steps = [...new Set([...TOPOLOGY_STEPS.single, ...TOPOLOGY_STEPS.group])];
  for (const id of steps) {
    assert.ok(registered.includes(id), `step ${id} is a command`);
    assert.match(r.stdout, new RegExp(`(:|,)\\s+([a-z-]+, )*${id}(,|\\n)`), `help names ${id} in its list`);
  }
  assert.match(r.stdout, /a group:\s+target-group, load-balancer, launch-template, auto-scaling-group, capacity-provider/);
});

test('sandbox --help lists every service of the sandbox registry, by name', async () => {
  const r = await runCli(['sandbox', '--help'], cliEnv(tempConfigDir()));
  assert.equal(r.code, 0);
  const line = /Services it serves: (.*)/.exec(r.stdout)?.[1] ?? '';
  for (const m of defaultServices) {
    assert.ok(SERVICE_TITLES[m.name], `service ${m.name} has a title for help`);
    assert.ok(line.includes(SERVICE_TITLES[m.name]!), `${m.name} is listed: ${line}`);
  }
  assert.match(line, /Auto Scaling/);
  assert.match(line, /ELBv2/);
});

test('--platform help says what the code does: the instance type decides', async () => {
  const r = await runCli(['image', '--help'], cliEnv(tempConfigDir()));
  assert.doesNotMatch(r.stdout.replace(/\s+/g, ' '), /Docker daemon's\)/);
  assert.match(r.stdout.replace(/\s+/g, ' '), /--platform <os\/arch> .*default: the instance type's architecture/);
});

test('printed commands: how the tool was invoked, and the flags that pick the stack', () => {
  assert.equal(invokedAs({ env: { npm_command: 'exec' }, script: '/x/bin/ecs-cwlogs.js', cwd: '/' }), 'npx ecs-cwlogs');
  assert.match(invokedAs({ env: { PATH: '' }, script: process.argv[1]!, cwd: '/' }), /^\//, 'outside the clone, not on PATH: the absolute path');
  assert.deepEqual(stackFlags({ stack: 'demo', sandbox: true, region: 'eu-west-1' }, {}), { prefix: '', flags: ' --sandbox --stack demo --region eu-west-1' });
  assert.deepEqual(stackFlags({ stack: 'ecs-cwlogs' }, { ECS_CWLOGS_CONFIG_DIR: '/tmp/my dir' }), { prefix: "ECS_CWLOGS_CONFIG_DIR='/tmp/my dir' ", flags: '' });
});

test('plurals, and a group with more in service than wanted reads as what it is', () => {
  assert.equal(plural(1, 'task'), '1 task');
  assert.equal(plural(3, 'task'), '3 tasks');
  assert.equal(plural(2, 'address'), '2 addresses');
  assert.equal(inServiceText(2, 2), '2 instances in service');
  assert.equal(inServiceText(1, 3), '1 of 3 instances in service');
  assert.match(inServiceText(3, 2), /^3 instances in service, 2 wanted: 1 to leave once ECS has moved its tasks/);
});

test('what exists after a failure or a Ctrl-C: what may run and its hourly cost; in the sandbox, nothing costs money', () => {
  const report = {
    ok: false,
    dryRun: false,
    outputs: {},
    steps: [
      { id: 'cluster', title: 'ECS cluster', action: 'create', ms: 1, outputs: { clusterName: 'C' } },
      { id: 'load-balancer', title: 'Application Load Balancer', action: 'create', ms: 1, outputs: { loadBalancerName: 'C-alb' } },
      { id: 'auto-scaling-group', title: 'Auto Scaling group', action: 'interrupted', ms: 1, plan: { action: 'create', summary: '' } },
    ],
  } as unknown as RunReport;
  const cmds = { resume: 'npx ecs-cwlogs up', remove: 'npx ecs-cwlogs down' };
  const text = whatExists(report, cmds, { instanceType: 't3.small', instances: 3 }) ?? '';
  assert.match(text, /created\s+Application Load Balancer C-alb \(running: ~\$0\.0405\/hour\)/);
  assert.match(text, /interrupted\s+Auto Scaling group \(may be running, launched before it stopped: 3 instances × ~\$0\.0208\/hour\)/);
  assert.match(text, /Running now: about ~\$0\.1029\/hour/);
  const free = whatExists(report, cmds, { instanceType: 't3.small', instances: 3 }, true) ?? '';
  assert.doesNotMatch(free, /\$/);
  assert.match(free, /In the sandbox: nothing of it costs money/);
});
