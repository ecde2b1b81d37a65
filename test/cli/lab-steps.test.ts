/**
 * The `iam`, `log-group`, `security-group` and `instance` subcommands through the real binary against the sandbox:
 * bad input exits 2 before any mutating call; a step run creates, a second run changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinNetwork } from '../../src/sandbox/services/ec2/index.js';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { control, mutatingCalls, withSandbox } from '../helpers/sandbox-context.js';

const args = (cmd: string, url: string, ...rest: string[]) => [cmd, '--endpoint-url', url, '--region', 'us-east-1', '--stack', 'steps', '--yes', ...rest];

test('cli: bad input to iam, log-group, security-group and instance exits 2 before any mutating call', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const net = builtinNetwork('us-east-1');
    const cases: [string[], RegExp][] = [
      [args('iam', sb.url, '--iam-name', 'no spaces allowed'), /--iam-name/],
      [args('log-group', sb.url, '--retention-days', '31'), /--retention-days/],
      [args('log-group', sb.url, '--log-group', 'bad:name'), /--log-group/],
      [args('security-group', sb.url, '--allow-cidr', '203.0.113.7/33'), /--allow-cidr/],
      [args('instance', sb.url, '--instance-type', 'banana'), /--instance-type/],
      [args('instance', sb.url, '--instance-type', 'm5.nano'), /Unknown instance type m5\.nano/],
      [args('instance', sb.url, '--key-name', 'nope'), /Key pair nope not found/],
      [args('instance', sb.url, '--vpc', net.defaultVpcId, '--subnet', net.otherSubnetId), /is not in VPC/],
      [args('security-group', sb.url, '--security-group-name', 'sg-looks-like-an-id', '--allow-cidr', '203.0.113.7/32'), /security group name/],
      [args('security-group', sb.url, '--vpc', 'vpc-0123456789abcdef0', '--allow-cidr', '203.0.113.7/32'), /VPC vpc-0123456789abcdef0 not found/],
    ];
    for (const [argv, pattern] of cases) {
      const since = sb.requestLog().length;
      const r = await runCli(argv, env);
      assert.equal(r.code, 2, `${argv.join(' ')}\n${r.stderr}`);
      assert.match(r.stderr, pattern, argv.join(' '));
      assert.deepEqual(mutatingCalls(sb, since), [], argv.join(' '));
    }
  });
});

test('cli: iam, log-group, cluster, security-group, instance one by one; a second round makes zero mutating calls', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const round = async () => {
      for (const cmd of ['iam', 'log-group', 'cluster', 'security-group', 'instance']) {
        const r = await runCli(args(cmd, sb.url), env);
        assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
      }
    };
    // instance before iam/cluster: a clear error naming the command that creates them.
    const early = await runCli(args('instance', sb.url), env);
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /ecs-cwlogs (iam|cluster|security-group)/);

    await round();
    const since = sb.requestLog().length;
    await round();
    assert.deepEqual(mutatingCalls(sb, since), []);

    // --delete of the instance step: terminates and deletes what carries the tag; the log group is kept by its own --delete.
    const del = await runCli(args('instance', sb.url, '--delete'), env);
    assert.equal(del.code, 0, del.stderr);
    const lg = await runCli(args('log-group', sb.url, '--delete', '--json'), env);
    assert.equal(lg.code, 0, lg.stderr);
    assert.match(lg.stdout, /kept; pass --delete-logs/);
    const lg2 = await runCli(args('log-group', sb.url, '--delete', '--delete-logs', '--json'), env);
    assert.equal(lg2.code, 0, lg2.stderr);
    assert.match(lg2.stdout, /log group ecs/);
  });
});

test('the service starts only once its log group exists: with logs:CreateLogGroup denied, up creates no service (the agent may not create the group) and says why', { timeout: 120_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    assert.equal((await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ deny: ['logs:CreateLogGroup'] }) })).status, 200);
    const r = await runCli(['up', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'nogroup', '--yes', '--image', 'example/cloudwatchlogs:latest', '--no-monitoring'], env);
    assert.notEqual(r.code, 0, r.stderr);
    assert.deepEqual(sb.requestLog().filter((e) => e.operation === 'CreateService'), [], 'no service without its log group');
    assert.match(r.stderr, /ECS service skipped: log-group did not complete/);
    // The same with `service` alone: the group is read first, and its absence named with the command that makes it.
    const alone = await runCli(['service', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'nogroup', '--yes'], env);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /ecs-cwlogs log-group/);
  });
});

test('the plan says what it costs: up --dry-run (text and --json) and up --yes, before anything is created; a rehearsal costs $0', { timeout: 120_000 }, async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const base = ['up', '--endpoint-url', sb.url, '--region', 'us-east-1', '--stack', 'costs', '--image', 'example/cloudwatchlogs:latest', '--instance-type', 't3.small'];
    const dry = await runCli([...base, '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Estimated cost: ~\$0\.0\d\d\/hour \(~\$\d+\/month\) for the t3\.small instance/);
    assert.match(dry.stdout, /Monitoring: 5 custom metrics/);
    const json = await runCli([...base, '--dry-run', '--json'], env);
    const cost = JSON.parse(json.stdout).estimatedCost as { hourlyUsd: number; monthlyUsd: number; monitoringMonthlyUsd: number; rehearsal: boolean };
    assert.ok(cost.hourlyUsd > 0.02 && cost.hourlyUsd < 0.05, String(cost.hourlyUsd));
    assert.equal(Math.round(cost.monthlyUsd), Math.round(cost.hourlyUsd * 730));
    assert.ok(cost.monitoringMonthlyUsd > 0);
    assert.equal(cost.rehearsal, false);

    const up = await runCli([...base, '--yes', '--no-monitoring'], env);
    assert.equal(up.code, 0, up.stderr);
    const said = up.stderr.indexOf('Estimated cost: ~$');
    assert.ok(said >= 0, up.stderr);
    assert.ok(said < up.stderr.indexOf('+ create'), 'the cost comes before the first create');
    assert.doesNotMatch(up.stderr, /Monitoring: 5 custom metrics/, 'no monitoring, no monitoring cost');
    // Nothing to change: no cost line (the plan writes nothing).
    const again = await runCli([...base, '--yes', '--no-monitoring'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /Estimated cost/);
  });
  const rehearsal = await runCli(['up', '--sandbox', '--dry-run', '--stack', 'costs-rehearsal', '--image', 'example/cloudwatchlogs:latest'], cliEnv(tempConfigDir()));
  assert.equal(rehearsal.code, 0, rehearsal.stderr);
  assert.match(rehearsal.stdout, /Estimated cost: \$0 \(a rehearsal[^\n]*\. On AWS, the same stack: ~\$0\.0\d\d\/hour/);
  const rehearsalJson = await runCli(['up', '--sandbox', '--dry-run', '--json', '--stack', 'costs-rehearsal', '--image', 'example/cloudwatchlogs:latest'], cliEnv(tempConfigDir()));
  const est = JSON.parse(rehearsalJson.stdout).estimatedCost as { hourlyUsd: number; onAws: { hourlyUsd: number } };
  assert.equal(est.hourlyUsd, 0);
  assert.ok(est.onAws.hourlyUsd > 0.02, JSON.stringify(est));
});
