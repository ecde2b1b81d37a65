/**
 * Benchmark of PutLogEvents through the sandbox's wire with metric filters applied (issue 21, item 8:
 * "PutLogEvents throughput with the metric filters applied"). The SDK client puts batches of lab
 * access lines (%D last) into one log group, first with no metric filter, then with the five the
 * monitoring steps create (requests, 4xx, 5xx and duration from the access line, error lines by
 * term), and prints events/s and MB/s for each and the ratio. Each configuration runs 3 times (the
 * median is printed), twice, alternating with the other. Prints figures; asserts nothing about time.
 *
 *   npx tsc -p tsconfig.json && node dist/test/bench/logs-ingest.js [events per run] [batch size]
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, DeleteLogGroupCommand, PutLogEventsCommand, PutMetricFilterCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startSandbox } from '../../src/sandbox/index.js';
import { setMetricSink } from '../../src/sandbox/metrics.js';
import { TEST_CREDENTIALS, TEST_KEYS } from '../helpers/sandbox-context.js';
import { accessLine } from '../insights/access-lines.js';

const total = Number(process.argv[2] ?? 200_000);
const batch = Number(process.argv[3] ?? 1_000);
const STATUS = [200, 200, 200, 200, 200, 200, 200, 304, 404, 501];
// rsyslog's framing comes first, so the pattern counts its fields from the end
const ACCESS = '[..., request, status, bytes, referer, agent, duration]';
const FILTERS: [string, string, string][] = [
  ['requests', ACCESS, '1'],
  ['4xx', ACCESS.replace('status,', 'status = 4*,'), '1'],
  ['5xx', ACCESS.replace('status,', 'status = 5*,'), '1'],
  ['duration', ACCESS, '$duration'],
  ['errors', '?error ?crit ?alert ?emerg', '1'], // matches no access line: the cost of a miss
];

// Where the data goes: the CloudWatch service's store once it is registered; here a counter, so the
// figure is the logs side (matching, extraction, the datum) and not a store's.
let data = 0;
setMetricSink(() => { data++; });

const sb = await startSandbox({ credentials: TEST_KEYS, port: 0, latency: 'none' });
const logs = new CloudWatchLogsClient({ endpoint: sb.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
const now = Date.now();
const batches = Array.from({ length: Math.ceil(total / batch) }, (_, b) =>
  Array.from({ length: Math.min(batch, total - b * batch) }, (_, j) => {
    const i = b * batch + j;
    const at = now - 3_600_000 + Math.floor((i * 3_600_000) / total);
    return { timestamp: at, message: accessLine({ at, path: `/p${i % 50}`, status: STATUS[i % 10], bytes: 100 + (i % 5000), durationUs: 100 + ((i * 7919) % 50_000) }) };
  }),
);
const mb = batches.flat().reduce((s, e) => s + Buffer.byteLength(e.message), 0) / 1e6;
console.log(`${total} access lines (${mb.toFixed(1)} MB) in batches of ${batch}, through the SDK to the sandbox (latency none); node ${process.version}`);

async function run(filters: number): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const g = `/bench/ingest-${filters}-${r}`;
    await logs.send(new CreateLogGroupCommand({ logGroupName: g }));
    for (const [name, pattern, value] of FILTERS.slice(0, filters)) {
      await logs.send(new PutMetricFilterCommand({ logGroupName: g, filterName: name, filterPattern: pattern, metricTransformations: [{ metricName: name, metricNamespace: 'Bench', metricValue: value }] }));
    }
    const streams = 10;
    for (let s = 0; s < streams; s++) await logs.send(new CreateLogStreamCommand({ logGroupName: g, logStreamName: `s${s}` }));
    data = 0;
    const t = process.hrtime.bigint();
    for (let b = 0; b < batches.length; b++) {
      await logs.send(new PutLogEventsCommand({ logGroupName: g, logStreamName: `s${b % streams}`, logEvents: batches[b] }));
    }
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    await logs.send(new DeleteLogGroupCommand({ logGroupName: g }));
  }
  times.sort((a, b) => a - b);
  const ms = times[1];
  console.log(
    `${String(filters).padStart(2)} metric filters: median ${ms.toFixed(0)} ms (best ${times[0].toFixed(0)}), ` +
      `${Math.round((total / ms) * 1000).toLocaleString('en-US')} events/s, ${((mb / ms) * 1000).toFixed(1)} MB/s, ${data} data points emitted`,
  );
  return ms;
}

try {
  // Alternated, so a load that comes and goes on a shared machine weighs on both alike.
  const none: number[] = [];
  const five: number[] = [];
  for (let r = 0; r < 2; r++) {
    none.push(await run(0));
    five.push(await run(5));
  }
  const best = (xs: number[]) => Math.min(...xs);
  console.log(`5 metric filters cost ${(best(five) / best(none)).toFixed(2)}x the time of none (best medians)`);
} finally {
  logs.destroy();
  await sb.close();
}
