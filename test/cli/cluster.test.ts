import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { mutatingCalls, TEST_CREDENTIALS, withSandbox } from '../helpers/sandbox-context.js';

const args = (url: string, ...rest: string[]) => ['cluster', '--endpoint-url', url, '--region', 'us-east-1', '--yes', ...rest];

test('cluster: created once, then in sync with zero mutating calls; --json is one JSON document', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const first = await runCli(args(sb.url), env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /ECS cluster: created/);
    assert.deepEqual(mutatingCalls(sb), ['ssm:PutParameter', 'ecs:CreateCluster', 'ssm:DeleteParameter'], 'the cluster, inside the lock');

    const before = sb.requestLog().length;
    const second = await runCli(args(sb.url, '--json'), env);
    assert.equal(second.code, 0, second.stderr);
    const doc = JSON.parse(second.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.steps[0].action, 'noop');
    assert.match(doc.outputs.cluster.clusterArn, /^arn:aws:ecs:us-east-1:\d{12}:cluster\/ECSCloudWatchLogs$/);
    assert.deepEqual(mutatingCalls(sb, before), [], 'the second run made no mutating call');
    assert.ok(sb.requestLog().slice(before).some((r) => r.operation === 'DescribeClusters'), 'it did read the real state');
  });
});

test('cluster --dry-run on a fresh sandbox shows "create" and makes no mutating call', async () => {
  await withSandbox({}, async (sb) => {
    const r = await runCli(args(sb.url, '--dry-run'), cliEnv(tempConfigDir()));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /would create/);
    assert.match(r.stderr, /\+ create ECS cluster/);
    assert.deepEqual(mutatingCalls(sb), []);
  });
});

test('cluster --delete removes only a cluster carrying the stack tag; --adopt takes over an untagged one', async () => {
  await withSandbox({}, async (sb) => {
    const env = cliEnv(tempConfigDir());
    const { createAwsClients } = await import('../../src/aws/clients.js');
    const aws = createAwsClients({ region: 'us-east-1', endpoint: sb.url, credentials: TEST_CREDENTIALS });
    await aws.ecs.createCluster({ clusterName: 'Theirs' });

    const conflict = await runCli(args(sb.url, '--cluster-name', 'Theirs'), env);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /already exists and is not part of this stack.*--adopt/s);

    const del = await runCli(args(sb.url, '--cluster-name', 'Theirs', '--delete'), env);
    assert.equal(del.code, 0, del.stderr);
    const still = await aws.ecs.describeClusters({ clusters: ['Theirs'] });
    assert.equal(still.clusters?.[0]?.status, 'ACTIVE', 'an untagged cluster survives --delete');

    const adopt = await runCli(args(sb.url, '--cluster-name', 'Theirs', '--adopt'), env);
    assert.equal(adopt.code, 0, adopt.stderr);
    const tagged = await aws.ecs.describeClusters({ clusters: ['Theirs'], include: ['TAGS'] });
    assert.ok(tagged.clusters?.[0]?.tags?.some((t) => t.key === 'ecs-cwlogs:stack' && t.value === 'ecs-cwlogs'));

    const gone = await runCli(args(sb.url, '--cluster-name', 'Theirs', '--delete'), env);
    assert.equal(gone.code, 0, gone.stderr);
    const after = await aws.ecs.describeClusters({ clusters: ['Theirs'] });
    assert.notEqual(after.clusters?.[0]?.status, 'ACTIVE');
  });
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('bad input: one-line error, non-zero exit, nothing created', async () => {
  await withSandbox({}, async (sb) => {
    const dir = tempConfigDir();
    const cases: { name: string; args: string[]; env?: Record<string, string | undefined>; code: number; message: RegExp }[] = [
      { name: 'invalid cluster name', args: args(sb.url, '--cluster-name', 'no spaces allowed'), code: 2, message: /not a valid cluster name/ },
      { name: 'cluster name too long', args: args(sb.url, '--cluster-name', 'x'.repeat(256)), code: 2, message: /not a valid cluster name/ },
      { name: 'bad region', args: ['cluster', '--endpoint-url', sb.url, '--region', 'us-middle-earth', '--yes'], code: 2, message: /not an AWS region name/ },
      { name: 'bad endpoint', args: ['cluster', '--endpoint-url', 'not a url', '--region', 'us-east-1', '--yes'], code: 2, message: /not an endpoint URL/ },
      {
        name: 'no credentials',
        args: ['cluster', '--region', 'us-east-1', '--yes'],
        env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, HOME: dir, AWS_CONFIG_FILE: `${dir}/none`, AWS_SHARED_CREDENTIALS_FILE: `${dir}/none` },
        code: 2, // the user's setup, not a failure (issue 18): exit 2, offering the rehearsal
        message: /No AWS credentials found.*--profile.*ecs-cwlogs up --sandbox/,
      },
      { name: 'closed port', args: ['cluster', '--endpoint-url', `http://127.0.0.1:${await closedPort()}`, '--region', 'us-east-1', '--yes'], code: 1, message: /Cannot reach http:\/\/127\.0\.0\.1:\d+ \(from --endpoint-url\) .*ECONNREFUSED/ },
    ];
    for (const c of cases) {
      const r = await runCli(c.args, cliEnv(dir, c.env ?? {}));
      assert.equal(r.code, c.code, `${c.name}: exit code (stderr: ${r.stderr})`);
      assert.match(r.stderr, c.message, c.name);
      const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('✖'));
      assert.equal(errorLines.length, 1, `${c.name}: one error line`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${c.name}: no stack trace without --verbose`);
    }
    assert.deepEqual(mutatingCalls(sb), [], 'nothing was created');
  });
});

test('--help lists the commands and unknown options exit 2', async () => {
  const env = cliEnv(tempConfigDir());
  const help = await runCli(['--help'], env);
  assert.equal(help.code, 0);
  for (const c of ['cluster', 'sandbox']) assert.match(help.stdout, new RegExp(`^\\s+${c}\\b`, 'm'));
  const bad = await runCli(['cluster', '--no-such-flag'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option/);
});
