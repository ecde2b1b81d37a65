/**
 * The settling pace (core/wait.ts settlingPace), shared by the termination and the drain waits:
 * how many reads a wait of a given length makes, on a virtual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil, settlingPace } from '../../src/core/wait.js';
import type { Clock } from '../../src/core/context.js';

function virtualClock(): Clock {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

/** The reads a wait makes until something AWS settles `doneAfterMs` after the request is seen done. */
async function reads(doneAfterMs: number, pollMs: number): Promise<number[]> {
  const clock = virtualClock();
  const at: number[] = [];
  const ctx = { clock, signal: new AbortController().signal, timing: { pollMs, retryMs: pollMs, timeoutScale: 1 } };
  await pollUntil(async () => (at.push(clock.now()), clock.now() >= doneAfterMs ? true : undefined), settlingPace(ctx, 10, 'x'));
  return at;
}

test('settling pace: the first read 2 poll intervals after the request, then one every 3 (15 s against AWS, as its waiters)', async () => {
  // Against AWS (5 s polls): an instance terminated in 45 s is read at 10, 25, 40, 55 s.
  assert.deepEqual(await reads(45_000, 5000), [10_000, 25_000, 40_000, 55_000]);
  // The benchmark's realistic profile (0.5 s polls): a drain of 2 s takes 2 reads, a termination of 5 s 4.
  assert.equal((await reads(2000, 500)).length, 2);
  assert.equal((await reads(5000, 500)).length, 4);
});
