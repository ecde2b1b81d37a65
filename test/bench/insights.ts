/**
 * Benchmark of the sandbox's Logs Insights engine (issue 21, item 8: "an Insights query over one
 * million events in the sandbox"): one million generated lab access lines (%D last), then
 *   stats count(*) by status                      (after a parse of the status)
 *   stats pct(duration, 99) by bin(1m)            (after a parse of %D)
 * and the named `latency` query (src/logs/queries.ts). Each runs 3 times; the best and the median
 * are printed with the engine's statistics. Prints figures; asserts nothing about time. Not yet in
 * test/bench/run.ts.
 *
 *   npx tsc -p tsconfig.json && node dist/test/bench/insights.js [events]
 */
import { namedQuery } from '../../src/logs/queries.js';
import { runQuery, type LogEvent } from '../../src/sandbox/insights/query.js';
import { accessEvent } from '../insights/access-lines.js';

const n = Number(process.argv[2] ?? 1_000_000);
const T0 = Date.UTC(2026, 11, 7, 18, 0, 0);
const STATUS = [200, 200, 200, 200, 200, 200, 200, 304, 404, 501];

let t = process.hrtime.bigint();
const events: LogEvent[] = new Array(n);
for (let i = 0; i < n; i++) {
  // one hour of traffic, ~278 lines a second, durations 0.1-50 ms with a long tail
  const durationUs = 100 + ((i * 7919) % 50_000) + (i % 997 === 0 ? 2_000_000 : 0);
  events[i] = accessEvent({ at: T0 + Math.floor((i * 3_600_000) / n), path: `/p${i % 50}`, status: STATUS[i % 10], bytes: 100 + (i % 5000), durationUs });
}
const genMs = Number(process.hrtime.bigint() - t) / 1e6;
const mb = events.reduce((s, e) => s + Buffer.byteLength(e.message), 0) / 1e6;
console.log(`generated ${n} access lines (${mb.toFixed(1)} MB of messages) in ${genMs.toFixed(0)} ms; node ${process.version}`);

const queries: [string, string][] = [
  ['stats count(*) by status', 'parse @message /" (?<status>\\d{3}) \\S+ "/ | stats count(*) by status'],
  ['pct(duration, 99) by bin(1m)', 'parse @message / (?<duration>\\d+)$/ | stats pct(duration, 99) by bin(1m)'],
  ['named query latency (p50/p90/p99 by bin(1m))', namedQuery('latency').query],
];
for (const [label, q] of queries) {
  const times: number[] = [];
  let last;
  for (let r = 0; r < 3; r++) {
    t = process.hrtime.bigint();
    last = runQuery(q, events);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  const s = last!.statistics;
  console.log(
    `${label.padEnd(46)} best ${times[0].toFixed(0)} ms, median ${times[1].toFixed(0)} ms (${((n / times[1]) * 1000 / 1e6).toFixed(2)} M events/s); ` +
      `${last!.results.length} rows, recordsMatched ${s.recordsMatched}, recordsScanned ${s.recordsScanned}, bytesScanned ${s.bytesScanned}`,
  );
}
