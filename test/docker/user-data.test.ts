/**
 * The instance's user data (templates/user-data.sh, rendered as the instance step renders it) run for
 * real with bash in a Debian container, twice (as on a re-run of cloud-init's scripts), with iptables,
 * iptables-save, curl (IMDSv2), systemctl and dnf stubbed by scripts that record their arguments:
 * the docker bridge is blocked from IMDS with the ECS guide's rule, once; the rules are saved for
 * reboots; the host facts are written from IMDSv2; ecs.config joins the cluster with task roles on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from '../../src/core/templates.js';
import { dockerEnv, type DockerEnv } from './docker-helpers.js';

const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);

const STUBS: Record<string, string> = {
  iptables: `#!/bin/bash
echo "iptables $*" >> /calls
case "$*" in
  *--check*) grep -q -- '--insert DOCKER-USER 1 --in-interface docker+ --destination 169.254.169.254/32 --jump DROP' /calls.rules 2>/dev/null ;;
  *--insert*) echo "$*" >> /calls.rules ;;
esac
`,
  'iptables-save': `#!/bin/bash
echo "iptables-save $*" >> /calls
echo '*filter'
echo ':DOCKER-USER - [0:0]'
sed 's/^--insert DOCKER-USER 1 --in-interface docker+ --destination 169.254.169.254\\/32 --jump DROP$/-A DOCKER-USER -d 169.254.169.254\\/32 -i docker+ -j DROP/' /calls.rules
echo COMMIT
`,
  curl: `#!/bin/bash
echo "curl $*" >> /calls
case "$*" in
  *"-X PUT"*api/token*) echo -n imds-token ;;
  *"X-aws-ec2-metadata-token: imds-token"*meta-data/instance-id) echo -n i-0123456789abcdef0 ;;
  *"X-aws-ec2-metadata-token: imds-token"*meta-data/local-hostname) echo -n ip-10-0-1-23.ec2.internal ;;
  *"X-aws-ec2-metadata-token: imds-token"*meta-data/local-ipv4) echo -n 10.0.1.23 ;;
  *) exit 22 ;;
esac
`,
  systemctl: `#!/bin/bash
echo "systemctl $*" >> /calls
`,
  dnf: `#!/bin/bash
echo "dnf $*" >> /calls
mkdir -p /usr/lib/systemd/system && touch /usr/lib/systemd/system/iptables.service
`,
};

test('user data: blocks the docker bridge from IMDS (once, saved for reboots), writes the host facts from IMDSv2, joins the cluster with task roles', { skip, timeout: 120_000 }, async () => {
  const env = setup as DockerEnv;
  const dir = mkdtempSync(join(tmpdir(), 'cwl-userdata-'));
  writeFileSync(join(dir, 'user-data.sh'), render('user-data.sh', { clusterName: 'ECSCloudWatchLogs', stack: 'udtest' }));
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(join(dir, name), body);
    chmodSync(join(dir, name), 0o755);
  }
  writeFileSync(
    join(dir, 'run.sh'),
    `set -e
cp /t/iptables /t/iptables-save /t/curl /t/systemctl /t/dnf /usr/local/sbin/
bash /t/user-data.sh
bash /t/user-data.sh
echo '--- calls'; cat /calls
echo '--- saved'; cat /etc/sysconfig/iptables
echo '--- facts'; cat /var/lib/ecs-cwlogs/host/facts; stat -c %a /var/lib/ecs-cwlogs/host/facts
echo '--- ecs.config'; cat /etc/ecs/ecs.config
`,
  );
  const out = await new Promise<string>((resolve, reject) =>
    execFile('docker', ['run', '--rm', '--network', 'none', '-v', `${dir}:/t:ro`, env.baseImage, 'bash', '/t/run.sh'], { timeout: 100_000 }, (e, stdout, stderr) =>
      e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const section = (name: string) => out.split(`--- ${name}\n`)[1]!.split('\n--- ')[0]!;
  const calls = section('calls').split('\n');
  const inserts = calls.filter((c) => c.startsWith('iptables --insert'));
  assert.deepEqual(inserts, ['iptables --insert DOCKER-USER 1 --in-interface docker+ --destination 169.254.169.254/32 --jump DROP'], 'inserted once over two runs');
  assert.ok(calls.indexOf(inserts[0]!) < calls.findIndex((c) => c.includes('meta-data/instance-id')), 'the block comes first');
  assert.match(section('saved'), /^-A DOCKER-USER -d 169\.254\.169\.254\/32 -i docker\+ -j DROP$/m);
  assert.ok(calls.includes('systemctl enable --now iptables'));
  assert.equal(calls.filter((c) => c === 'dnf install -y iptables-services').length, 1, 'iptables-services installed once');
  assert.ok(calls.some((c) => /^curl .*-X PUT .*X-aws-ec2-metadata-token-ttl-seconds: 300.*\/latest\/api\/token$/.test(c)), 'IMDSv2: a session token first');
  assert.equal(section('facts'), 'instance_id=i-0123456789abcdef0\nhostname=ip-10-0-1-23.ec2.internal\nip_address=10.0.1.23\n644');
  assert.equal(section('ecs.config'), 'ECS_CLUSTER=ECSCloudWatchLogs\nECS_ENABLE_TASK_IAM_ROLE=true\n');
});
