/**
 * Issue 19, item 3: a log line is written by whatever runs in the containers (and by anyone who can
 * reach httpd), so `logs` must not pass terminal control sequences to the operator's terminal. The
 * real binary against a sandbox whose events were put through the SDK: text output holds no C0
 * (but tab), DEL or C1 character; --json holds none raw either, and parses back to the exact message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliEnv, runCli, tempConfigDir } from '../helpers/cli.js';
import { withSandbox } from '../sandbox/support.js';
import { forTerminal, jsonLine } from '../../src/logs/sanitize.js';
import { createStream, PREFIX_A, putEvent, sdkClient } from './seed.js';
import { CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';

const OSC = '\x1b]0;pwned\x07';
const LINES = [
  `title ${OSC} after`,
  'csi \x1b[2J\x1b[H cleared',
  'c1 \u009b31m eight-bit csi \u009d0;osc\u009c',
  'del \x7f and nul \x00 and bs \x08x',
  'tab\tstays',
];
// Every control character the text output must not hold (tab is allowed).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

test('forTerminal drops C0 (but tab), DEL and C1; jsonLine escapes them and parses back', () => {
  assert.equal(forTerminal(`a${OSC}b`), 'a]0;pwnedb');
  assert.equal(forTerminal('x\u009b1my\tz\u0085'), 'x1my\tz');
  const doc = jsonLine({ m: 'a\u0085\u009b\x7f\x1b' });
  assert.doesNotMatch(doc, CONTROL);
  assert.match(doc, /\\u0085\\u009b\\u007f\\u001b/);
  assert.deepEqual(JSON.parse(doc), { m: 'a\u0085\u009b\x7f\x1b' });
});

test('logs on a line holding ESC ] 0 ; pwned BEL prints no escape character; --json escapes and keeps it', async () => {
  await withSandbox({}, async (sb) => {
    const client = sdkClient(sb);
    await client.send(new CreateLogGroupCommand({ logGroupName: 'ecs' }));
    client.destroy();
    const stream = `${PREFIX_A}-\x1b[31mhttpd-access.log`;
    await createStream(sb, stream);
    const t0 = Date.now() - 10_000;
    for (const [i, m] of LINES.entries()) await putEvent(sb, stream, m, t0 + i);
    const env = cliEnv(tempConfigDir());
    const base = ['logs', '--endpoint-url', sb.url, '--region', 'us-east-1', '--since', '5m'];

    for (const format of ['detailed', 'short']) {
      const r = await runCli([...base, '--format', format], env);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.equal(lines.length, LINES.length, r.stdout);
      for (const l of lines) assert.doesNotMatch(l, CONTROL, `${format}: ${JSON.stringify(l)}`);
      assert.ok(!r.stdout.includes('\x1b') && !r.stdout.includes('\x07') && !r.stdout.includes('\u009b'));
      assert.match(lines[0]!, /title \]0;pwned after$/);
      assert.match(lines[4]!, /tab\tstays$/);
    }

    const j = await runCli([...base, '--json'], env);
    assert.equal(j.code, 0, j.stderr);
    assert.doesNotMatch(j.stdout.replace(/\n/g, ''), CONTROL, 'no raw control character in the JSON Lines');
    const docs = j.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { stream: string; message: string });
    assert.deepEqual(docs.map((d) => d.message), LINES, 'the messages come back whole');
    assert.equal(docs[0]!.stream, stream);
  });
});
