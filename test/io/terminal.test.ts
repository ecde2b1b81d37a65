/** The terminal layer's pure parts: durations, colour levels, control-sequence stripping, heartbeats. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Chalk } from 'chalk';
import { colorLevel, createTerminalHost, fmtMs, stripAnsi } from '../../src/io/terminal.js';
import { printer } from '../../src/cli/commands/logs.js';

test('fmtMs rounds once: no 1m60s', () => {
  assert.equal(fmtMs(950), '950ms');
  assert.equal(fmtMs(12_340), '12.3s');
  assert.equal(fmtMs(59_960), '1m00s');
  assert.equal(fmtMs(119_600), '2m00s');
  assert.equal(fmtMs(61_000), '1m01s');
  assert.equal(fmtMs(3_725_000), '1h02m');
});

test('stripAnsi removes colours, cursor moves and OSC-8 links', () => {
  assert.equal(stripAnsi('\u001b[31mred\u001b[39m \u001b[2K\u001b[1Gline \u001b]8;;https://x.example\u0007link\u001b]8;;\u0007'), 'red line link');
});

test('colour level: --no-color, then FORCE_COLOR, then NO_COLOR, then the terminal', () => {
  const tty = { isTTY: true, getColorDepth: () => 24 };
  const pipe = { isTTY: false };
  assert.equal(colorLevel(tty, undefined, {}), 3);
  assert.equal(colorLevel(tty, false, { FORCE_COLOR: '3' }), 0);
  assert.equal(colorLevel(pipe, undefined, { FORCE_COLOR: '2' }), 2);
  assert.equal(colorLevel(pipe, undefined, { FORCE_COLOR: '' }), 1);
  assert.equal(colorLevel(tty, undefined, { FORCE_COLOR: '0' }), 0);
  assert.equal(colorLevel(tty, undefined, { FORCE_COLOR: '1', NO_COLOR: '1' }), 1);
  assert.equal(colorLevel(tty, undefined, { NO_COLOR: '1' }), 0);
  assert.equal(colorLevel(tty, undefined, { NO_COLOR: '' }), 3);
  assert.equal(colorLevel(tty, undefined, { TERM: 'dumb' }), 0);
  assert.equal(colorLevel(pipe, undefined, {}), 0);
});

test('a non-TTY wait prints a heartbeat at most every 15 s, saying what, how long and the limit', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 0 });
  const err = new PassThrough();
  let text = '';
  err.on('data', (d) => (text += d));
  const io = createTerminalHost({ json: false, yes: true, verbose: false, color: false, stderr: err as unknown as NodeJS.WriteStream, stdout: new PassThrough() as unknown as NodeJS.WriteStream });
  const beat = (ms: number, done = false) => {
    t.mock.timers.setTime(ms);
    io.emit({ type: 'waiting', what: 'the instance to register', elapsedMs: ms, limitMs: 900_000, done });
  };
  for (let ms = 0; ms <= 40_000; ms += 5000) beat(ms);
  beat(41_000, true);
  const lines = text.split('\n').filter(Boolean);
  assert.equal(lines.length, 2, text);
  assert.match(lines[0]!, /still waiting for the instance to register: 15\.0s of at most 15m00s/);
  assert.match(lines[1]!, /30\.0s of at most 15m00s/);
});

test('logs lines carry the date when the window spans more than one day; --format short drops the stream', () => {
  const day = Date.UTC(2026, 0, 2, 10, 0, 0);
  const ev = { eventId: 'e1', timestamp: day, stream: 'i-1-host-10.0.0.1-httpd-access.log', message: 'GET /' };
  const c = new Chalk({ level: 0 });
  assert.match(printer(false, c, { startTime: day - 600_000, now: day })([ev]), /^10:00:00 /);
  assert.match(printer(false, c, { startTime: day - 2 * 86_400_000, now: day })([ev]), /^2026-01-02 10:00:00 /);
  // A window that starts the day before: from the first event of the new day on.
  const p = printer(false, c, { startTime: Date.UTC(2026, 0, 1, 23, 59), now: Date.UTC(2026, 0, 1, 23, 59, 30) });
  assert.match(p([{ ...ev, timestamp: Date.UTC(2026, 0, 1, 23, 59, 40) }]), /^23:59:40 /);
  assert.match(p([{ ...ev, timestamp: day }]), /^2026-01-02 10:00:00 /);
  assert.equal(printer(false, c, { format: 'short', startTime: day - 1000, now: day })([ev]), '10:00:00 GET /\n');
});
