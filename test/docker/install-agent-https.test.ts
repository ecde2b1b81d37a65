/**
 * Issue 19, item 4: docker/rootfs/usr/local/lib/ecs-cwlogs/install-agent.sh downloads the agent, its
 * signature and AWS's key over HTTPS only, redirects included. Run with /bin/sh on this machine, with
 * `dpkg` and `curl` replaced by stubs on PATH (no network): the stub curl records its arguments and
 * fails, so the script stops at its first download.
 *   - an https:// URL: curl gets --proto =https and --proto-redir =https;
 *   - a plain http:// URL to another host, or a URL with user info: refused before curl runs;
 *   - http:// on loopback (the offline signature test's fake server): allowed, redirects HTTPS only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/core/version.js';

const SCRIPT = join(PACKAGE_ROOT, 'docker', 'rootfs', 'usr', 'local', 'lib', 'ecs-cwlogs', 'install-agent.sh');

function runScript(baseUrl: string): { code: number | null; stderr: string; curl?: string[] } {
  const bin = mkdtempSync(join(tmpdir(), 'cwl-install-agent-'));
  const record = join(bin, 'curl-args');
  writeFileSync(join(bin, 'dpkg'), '#!/bin/sh\necho amd64\n');
  writeFileSync(join(bin, 'curl'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${record}'\nexit 22\n`);
  chmodSync(join(bin, 'dpkg'), 0o755);
  chmodSync(join(bin, 'curl'), 0o755);
  const r = spawnSync('/bin/sh', [SCRIPT], {
    encoding: 'utf8',
    env: {
      PATH: `${bin}:/usr/bin:/bin`,
      AGENT_VERSION: '1.300072.0b1766',
      AGENT_BASE_URL: baseUrl,
      AGENT_KEY_URL: 'https://example.invalid/key.gpg',
      AGENT_KEY_FINGERPRINT: '937616F3450B7D806CBD9725D58167303B789C72',
    },
  });
  return { code: r.status, stderr: r.stderr, curl: existsSync(record) ? readFileSync(record, 'utf8').trimEnd().split('\n') : undefined };
}

const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];

test('an https:// URL is fetched with --proto =https and --proto-redir =https', () => {
  const r = runScript('https://amazoncloudwatch-agent.s3.amazonaws.com');
  assert.notEqual(r.code, 0);
  assert.ok(r.curl, r.stderr);
  assert.equal(flag(r.curl, '--proto'), '=https');
  assert.equal(flag(r.curl, '--proto-redir'), '=https');
  assert.equal(r.curl.at(-1), 'https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/1.300072.0b1766/amazon-cloudwatch-agent.deb');
});

for (const url of ['http://amazoncloudwatch-agent.s3.amazonaws.com', 'http://127.0.0.1.example.com', 'http://localhost:80@example.com', 'ftp://example.com']) {
  test(`${url} is refused before anything is downloaded`, () => {
    const r = runScript(url);
    assert.equal(r.code, 1);
    assert.equal(r.curl, undefined, 'curl never ran');
    assert.match(r.stderr, /is not an https:\/\/ URL; the agent, its signature and AWS's key are downloaded over HTTPS only/);
  });
}

test('http:// on loopback (the offline test server) is allowed, and may redirect to HTTPS only', () => {
  const r = runScript('http://127.0.0.1:8080/pkgs');
  assert.ok(r.curl, r.stderr);
  assert.equal(flag(r.curl, '--proto'), '=http,https');
  assert.equal(flag(r.curl, '--proto-redir'), '=https');
});
