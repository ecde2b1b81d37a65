/**
 * The CloudWatch agent configuration the logging container generates at start
 * (docker/rootfs/usr/local/bin/ecs-cwlogs-agent-config, run here with the host's bash), validated
 * against the agent's own JSON schema (draft-04).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentSchemaValidator, schemaErrors, schemaSkip } from './agent-schema.js';
import { PACKAGE_ROOT } from '../../src/core/version.js';

const SCRIPT = join(PACKAGE_ROOT, 'docker', 'rootfs', 'usr', 'local', 'bin', 'ecs-cwlogs-agent-config');

interface CollectEntry {
  file_path: string;
  log_group_name: string;
  log_stream_name: string;
  retention_in_days?: number;
  publish_multi_logs?: boolean;
}
interface AgentConfig {
  agent: { region?: string; run_as_user?: string };
  logs: { logs_collected: { files: { collect_list: CollectEntry[] } } };
}

function generate(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, ECS_CWLOGS_IMDS: 'off' };
  const r = spawnSync('bash', [SCRIPT], { env: { ...base, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the generated agent configuration validates against the CloudWatch agent schema', { skip: schemaSkip() }, () => {
  const validate = agentSchemaValidator();
  for (const env of [{} as Record<string, string>, { AWS_REGION: 'eu-west-1', LOG_GROUP: '/ecs/logs-demo' }, { AWS_DEFAULT_REGION: 'us-gov-west-1' }]) {
    const r = generate(env);
    assert.equal(r.status, 0, r.stderr);
    const cfg = JSON.parse(r.stdout) as AgentConfig;
    assert.deepEqual(validate(cfg), [], JSON.stringify(env));
  }
});

test('it collects the httpd files, one stream per app file, and the host ECS logs, with the lab stream names', () => {
  const r = generate({ AWS_REGION: 'us-east-1', LOG_GROUP: 'ecs', LOG_RETENTION_DAYS: '30' /* ignored: the log-group step owns retention */ });
  const cfg = JSON.parse(r.stdout) as AgentConfig;
  assert.equal(cfg.agent.region, 'us-east-1');
  assert.equal(cfg.agent.run_as_user, 'root');
  const list = cfg.logs.logs_collected.files.collect_list;
  const byPath = Object.fromEntries(list.map((e) => [e.file_path, e]));
  const p = '{instance_id}-{hostname}-{ip_address}';
  assert.equal(byPath['/var/log/httpd-access.log']?.log_stream_name, `${p}-httpd-access.log`);
  assert.equal(byPath['/var/log/httpd-error.log']?.log_stream_name, `${p}-httpd-error.log`);
  assert.equal(byPath['/mnt/ecs_instance_logs/ecs-agent.log']?.log_stream_name, `${p}-ecs-agent.log`);
  assert.equal(byPath['/mnt/ecs_instance_logs/ecs-init.log']?.log_stream_name, `${p}-ecs-init.log`);
  assert.equal(byPath['/var/log/apps/*.log']?.publish_multi_logs, true);
  for (const e of list) {
    assert.equal(e.log_group_name, 'ecs');
    // No retention: the agent would call DescribeLogGroups and PutRetentionPolicy (issue 17, 1.4).
    assert.equal(e.retention_in_days, undefined);
  }
});

test('the placeholders resolve from EC2 instance metadata (IMDSv2), naming the instance rather than the container', async (t) => {
  const server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      assert.equal(req.headers['x-aws-ec2-metadata-token-ttl-seconds'], '60');
      res.end('tok-123');
      return;
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== 'tok-123') {
      res.statusCode = 401;
      res.end();
      return;
    }
    const v: Record<string, string> = {
      '/latest/meta-data/instance-id': 'i-0123456789abcdef0',
      '/latest/meta-data/local-hostname': 'ip-10-0-1-23.ec2.internal',
      '/latest/meta-data/local-ipv4': '10.0.1.23',
    };
    res.statusCode = v[req.url ?? ''] ? 200 : 404;
    res.end(v[req.url ?? ''] ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      // Async spawn: the fake metadata server answers from this same process.
      import('node:child_process').then(({ execFile }) => {
        execFile('bash', [SCRIPT], { env: { PATH: process.env.PATH, ECS_CWLOGS_IMDS: 'auto', ECS_CWLOGS_IMDS_ENDPOINT: `http://127.0.0.1:${port}` }, timeout: 20_000 }, (err, stdout, stderr) =>
          resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    });
    assert.equal(r.status, 0, r.stderr);
    const cfg = JSON.parse(r.stdout) as AgentConfig;
    const names = cfg.logs.logs_collected.files.collect_list.map((e) => e.log_stream_name);
    assert.ok(names.includes('i-0123456789abcdef0-ip-10-0-1-23.ec2.internal-10.0.1.23-httpd-access.log'), names.join(', '));
    assert.ok(names.includes('i-0123456789abcdef0-ip-10-0-1-23.ec2.internal-10.0.1.23-ecs-agent.log'));
    assert.deepEqual(schemaErrors(t, cfg), []);
  } finally {
    server.close();
  }
});

test('the placeholders resolve from the host facts file the user data writes, without asking IMDS; a bad value is left to the agent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwl-facts-'));
  const facts = join(dir, 'facts');
  writeFileSync(facts, 'instance_id=i-0fedcba9876543210\nhostname=ip-10-0-2-7.ec2.internal\nip_address=10.0.2.7\n');
  // An IMDS that must not be asked: the file is there.
  let asked = 0;
  const server = createServer((_req, res) => {
    asked += 1;
    res.end('tok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const run = (env: Record<string, string>) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        import('node:child_process').then(({ execFile }) => {
          execFile('bash', [SCRIPT], { env: { PATH: process.env.PATH, ECS_CWLOGS_IMDS: 'auto', ECS_CWLOGS_IMDS_ENDPOINT: `http://127.0.0.1:${port}`, ...env }, timeout: 20_000 }, (err, stdout, stderr) =>
            resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          );
        });
      });
    const r = await run({ ECS_CWLOGS_HOST_FACTS: facts });
    assert.equal(r.status, 0, r.stderr);
    const names = (JSON.parse(r.stdout) as AgentConfig).logs.logs_collected.files.collect_list.map((e) => e.log_stream_name);
    assert.ok(names.includes('i-0fedcba9876543210-ip-10-0-2-7.ec2.internal-10.0.2.7-httpd-access.log'), names.join(', '));
    assert.ok(names.includes('i-0fedcba9876543210-ip-10-0-2-7.ec2.internal-10.0.2.7-ecs-agent.log'));
    assert.equal(asked, 0, 'IMDS was not asked: the facts file is there');

    // A value that is not a plain name is not substituted (parsed, never sourced).
    writeFileSync(facts, 'instance_id=i-1;touch /tmp/pwned\nhostname=$(id)\nip_address=10.0.2.7\n');
    const bad = await run({ ECS_CWLOGS_HOST_FACTS: facts });
    assert.equal(bad.status, 0, bad.stderr);
    const badNames = (JSON.parse(bad.stdout) as AgentConfig).logs.logs_collected.files.collect_list.map((e) => e.log_stream_name);
    assert.ok(badNames.includes('{instance_id}-{hostname}-10.0.2.7-syslog'), badNames.join(', '));
  } finally {
    server.close();
  }
});

test('bad settings stop the container with a clear message instead of a broken configuration', () => {
  for (const [env, word] of [
    [{ LOG_GROUP: 'bad"group' }, 'LOG_GROUP'],
    [{ AWS_REGION: 'not a region' }, 'AWS_REGION'],
  ] as const) {
    const r = generate(env);
    assert.equal(r.status, 64, JSON.stringify(env));
    assert.match(r.stderr, new RegExp(word));
    assert.equal(r.stdout, '');
  }
});
