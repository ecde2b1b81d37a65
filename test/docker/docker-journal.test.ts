/**
 * Issue 17, 1.7: the user data forwards dockerd's journal (AL2023: journald only) to
 * /var/log/ecs-cwlogs/docker.log. The rendered user data runs (with the same stubs as user-data.test.ts
 * for iptables, curl, systemctl, dnf) in a container of the logging image (which has python3, as
 * AL2023 does); then the forwarder it installed runs against a fake journalctl on PATH that serves
 * journal entries (JSON, with cursors) from a file and follows it:
 *   - each entry becomes one short-iso line (time host dockerd[pid]: message), in order;
 *   - stopped (SIGTERM, as systemd stops it) and started again while entries keep coming, it resumes
 *     after the last entry it wrote (journalctl --after-cursor): none lost, none written twice;
 *   - the unit is installed and enabled, logrotate renames the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from '../../src/core/templates.js';
import { buildLoggingImage, dockerEnv, removeContainer, sh, waitFor, type DockerEnv } from './docker-helpers.js';

const setup = await dockerEnv();
const skip = typeof setup === 'string' ? setup : false;
if (skip) console.log(`# docker tests ${skip}`);

const STUBS: Record<string, string> = {
  iptables: '#!/bin/bash\necho "iptables $*" >> /calls\ncase "$*" in *--check*) exit 1 ;; esac\n',
  'iptables-save': '#!/bin/bash\necho "*filter"\n',
  curl: `#!/bin/bash
case "$*" in
  *"-X PUT"*api/token*) echo -n tok ;;
  *meta-data/instance-id) echo -n i-0123456789abcdef0 ;;
  *meta-data/local-hostname) echo -n ip-10-0-1-23.ec2.internal ;;
  *meta-data/local-ipv4) echo -n 10.0.1.23 ;;
  *) exit 22 ;;
esac
`,
  systemctl: '#!/bin/bash\necho "systemctl $*" >> /calls\n',
  dnf: '#!/bin/bash\nmkdir -p /usr/lib/systemd/system && touch /usr/lib/systemd/system/iptables.service\n',
  // journalctl -u docker.service -o json -f --no-tail --no-pager [--after-cursor C], from /j/journal.jsonl.
  journalctl: `#!/usr/bin/python3
import json, signal, sys, time
args = sys.argv[1:]
open('/j/journalctl.calls', 'a').write(' '.join(args) + '\\n')
after = args[args.index('--after-cursor') + 1] if '--after-cursor' in args else None
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
seen = 0
started = after is None
while True:
    lines = open('/j/journal.jsonl').read().splitlines()
    for raw in lines[seen:]:
        seen += 1
        if not started:
            started = json.loads(raw)['__CURSOR'] == after
            continue
        print(raw, flush=True)
    if '-f' not in args:
        break
    time.sleep(0.05)
`,
};

test('user data: dockerd\'s journal goes to /var/log/ecs-cwlogs/docker.log, once per entry across a restart of the forwarder', { skip, timeout: 300_000 }, async () => {
  const env = setup as DockerEnv;
  const image = await buildLoggingImage(env);
  const dir = mkdtempSync(join(tmpdir(), 'cwl-journal-'));
  const journalDir = mkdtempSync(join(tmpdir(), 'cwl-journal-j-'));
  chmodSync(journalDir, 0o777);
  writeFileSync(join(dir, 'user-data.sh'), render('user-data.sh', { clusterName: 'ECSCloudWatchLogs', stack: 'jtest' }));
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(join(dir, name), body);
    chmodSync(join(dir, name), 0o755);
  }
  const entry = (i: number) =>
    JSON.stringify({ __CURSOR: `s=abc;i=${i.toString(16)}`, __REALTIME_TIMESTAMP: String(1_796_000_000_000_000 + i * 1_000_000), _HOSTNAME: 'ip-10-0-1-23', SYSLOG_IDENTIFIER: 'dockerd', _PID: '2345', MESSAGE: `time="2026-12-07T10:00:00Z" level=info msg="docker entry ${i}"` });
  const feed = (from: number, to: number) => {
    let text = '';
    for (let i = from; i <= to; i++) text += `${entry(i)}\n`;
    return sh(env.docker, name, `printf '%s' '${text.replace(/'/g, "'\\''")}' >> /j/journal.jsonl`);
  };
  const name = `cwl-test-journal-${Date.now().toString(36)}`;
  await removeContainer(env.docker, name);
  const c = await env.docker.createContainer({ name, Image: image, Entrypoint: ['sleep', 'infinity'], Env: ['TZ=UTC'], HostConfig: { Binds: [`${dir}:/t:ro`, `${journalDir}:/j`], NetworkMode: 'none', Init: true } });
  await c.start();
  try {
    await sh(env.docker, name, 'cp /t/iptables /t/iptables-save /t/curl /t/systemctl /t/dnf /t/journalctl /usr/local/sbin/ && touch /j/journal.jsonl && mkdir -p /etc/systemd/system /etc/logrotate.d && bash /t/user-data.sh');
    const calls = await sh(env.docker, name, 'cat /calls');
    assert.match(calls, /^systemctl enable --now ecs-cwlogs-docker-journal\.service$/m);
    const unit = await sh(env.docker, name, 'cat /etc/systemd/system/ecs-cwlogs-docker-journal.service');
    assert.match(unit, /^ExecStart=\/usr\/local\/libexec\/ecs-cwlogs\/docker-journal$/m);
    assert.match(unit, /^Restart=always$/m);
    assert.match(await sh(env.docker, name, 'cat /etc/logrotate.d/ecs-cwlogs'), /^\/var\/log\/ecs-cwlogs\/docker\.log \{[\s\S]*nocreate/m);
    // logrotate accepts the file.
    await sh(env.docker, name, 'logrotate -d /etc/logrotate.d/ecs-cwlogs');

    const start = () => sh(env.docker, name, 'nohup /usr/local/libexec/ecs-cwlogs/docker-journal > /j/forwarder.out 2>&1 & echo $! > /j/forwarder.pid');
    const lines = async () => (await sh(env.docker, name, 'cat /var/log/ecs-cwlogs/docker.log 2>/dev/null || true')).split('\n').filter(Boolean);
    await feed(1, 5);
    await start();
    await waitFor('5 lines', async () => (await lines()).length === 5, 30_000);
    await feed(6, 8);
    await waitFor('8 lines', async () => (await lines()).length === 8, 30_000);
    // systemd stops the unit (SIGTERM), entries keep coming, it starts again.
    await sh(env.docker, name, 'kill -TERM $(cat /j/forwarder.pid); for i in $(seq 1 50); do kill -0 $(cat /j/forwarder.pid) 2>/dev/null || exit 0; sleep 0.1; done; exit 1');
    assert.equal((await sh(env.docker, name, 'cat /var/lib/ecs-cwlogs/docker-journal.cursor')).trim(), 's=abc;i=8');
    await feed(9, 12);
    await start();
    await waitFor('12 lines', async () => (await lines()).length >= 12, 30_000);
    await feed(13, 14);
    await waitFor('14 lines', async () => (await lines()).length >= 14, 30_000);
    const all = await lines();
    assert.equal(all.length, 14, all.join('\n'));
    all.forEach((l, k) => {
      const i = k + 1;
      const t = new Date((1_796_000_000 + i) * 1000).toISOString().replace(/\.000Z$/, '+0000');
      assert.equal(l, `${t} ip-10-0-1-23 dockerd[2345]: time="2026-12-07T10:00:00Z" level=info msg="docker entry ${i}"`);
    });
    const jcalls = (await sh(env.docker, name, 'cat /j/journalctl.calls')).split('\n').filter(Boolean);
    assert.deepEqual(jcalls, ['-u docker.service -o json -f --no-tail --no-pager', '-u docker.service -o json -f --no-tail --no-pager --after-cursor s=abc;i=8']);
  } finally {
    await removeContainer(env.docker, name);
  }
});
