/**
 * Benchmark of a Logs Insights query over one million events through the sandbox's wire (issue 21,
 * item 8): the SDK puts one million lab access lines (%D last) into one log group (100 streams of
 * 10,000, the sandbox's per-stream cap), then runs each query through StartQuery and polls
 * GetQueryResults until Complete, 3 times; prints the median and best wall time from StartQuery to the
 * Complete answer, with the statistics. test/bench/insights.ts measures the engine alone. Prints
 * figures; asserts nothing about time.
 *
 *   npx tsc -p tsconfig.json && node dist/test/bench/insights-wire.js [events]
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, GetQueryResultsCommand, PutLogEventsCommand, StartQueryCommand } from '@aws-sdk/client-cloudwatch-logs';
import { namedQuery } from '../../src/logs/queries.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { TEST_CREDENTIALS, TEST_KEYS } from '../helpers/sandbox-context.js';
import { accessLine, ACCESS_STREAM } from '../insights/access-lines.js';

const n = Number(process.argv[2] ?? 1_000_000);
const STREAM_CAP = 10_000;
const BATCH = 4_000; // ~4,000 lab lines stay under PutLogEvents' 1 MB
const STATUS = [200, 200, 200, 200, 200, 200, 200, 304, 404, 501];

const sb = await startSandbox({ credentials: TEST_KEYS, port: 0, latency: 'none' });
const logs = new CloudWatchLogsClient({ endpoint: sb.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
const group = '/bench/insights';
const now = Date.now();
const start = now - 3_600_000;
try {
  await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
  const streams = Math.ceil(n / STREAM_CAP);
  let t = process.hrtime.bigint();
  let bytes = 0;
  for (let s = 0; s < streams; s++) {
    const stream = ACCESS_STREAM.replace('i-0abc', `i-${String(s).padStart(4, '0')}`);
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
    for (let off = 0; off < STREAM_CAP && s * STREAM_CAP + off < n; off += BATCH) {
      const logEvents = [];
      for (let j = off; j < Math.min(off + BATCH, STREAM_CAP) && s * STREAM_CAP + j < n; j++) {
        const i = s * STREAM_CAP + j;
        const at = start + Math.floor((j * 3_600_000) / STREAM_CAP);
        const message = accessLine({ at, path: `/p${i % 50}`, status: STATUS[i % 10], bytes: 100 + (i % 5000), durationUs: 100 + ((i * 7919) % 50_000) + (i % 997 === 0 ? 2_000_000 : 0) });
        bytes += Buffer.byteLength(message);
        logEvents.push({ timestamp: at, message });
      }
      await logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents }));
    }
  }
  const putMs = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(`put ${n} access lines (${(bytes / 1e6).toFixed(1)} MB) in ${streams} streams through PutLogEvents in ${(putMs / 1000).toFixed(1)} s (${Math.round((n / putMs) * 1000).toLocaleString('en-US')} events/s); node ${process.version}`);

  const queries: [string, string][] = [
    ['stats count(*) by status', 'parse @message /" (?<status>\\d{3}) \\S+ "/ | stats count(*) by status'],
    ['named query status', namedQuery('status').query],
    ['named query latency (p50/p90/p99 by bin(1m))', namedQuery('latency').query],
    ['named query top-paths', namedQuery('top-paths').query],
  ];
  for (const [label, queryString] of queries) {
    const times: number[] = [];
    let last;
    for (let r = 0; r < 3; r++) {
      t = process.hrtime.bigint();
      const { queryId } = await logs.send(new StartQueryCommand({ logGroupName: group, startTime: Math.floor(start / 1000), endTime: Math.ceil(now / 1000), queryString }));
      do last = await logs.send(new GetQueryResultsCommand({ queryId }));
      while (last.status === 'Scheduled' || last.status === 'Running');
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    const s = last!.statistics!;
    console.log(
      `${label.padEnd(46)} median ${times[1].toFixed(0)} ms, best ${times[0].toFixed(0)} ms (${((n / times[1]) * 1000 / 1e6).toFixed(2)} M events/s); ` +
        `${last!.status}, ${last!.results!.length} rows, recordsMatched ${s.recordsMatched}, recordsScanned ${s.recordsScanned}, bytesScanned ${s.bytesScanned}`,
    );
  }
} finally {
  logs.destroy();
  await sb.close();
}
