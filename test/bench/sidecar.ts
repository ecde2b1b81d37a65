/**
 * Benchmark of the logging sidecar: syslog lines per second over TCP 514 with no loss (lines sent
 * against lines written), and the container's memory. Prints figures; asserts no timing.
 *
 *   npm run build && node dist/test/bench/sidecar.js [lines] [connections]
 *
 * Needs Docker and the CI base image (.ci/setup-docker.sh). The image is built from docker/ with
 * the agent skipped, so the figures are rsyslog + supervisord; the agent adds its own RSS on ECS.
 * Traffic goes only to the container's port published on 127.0.0.1.
 */
import { connect, type Socket } from 'node:net';
import type Docker from 'dockerode';
import { buildLoggingImage, dockerEnv, exec, hostPort, removeContainer, sh, waitFor } from '../docker/docker-helpers.js';

interface MemSample {
  usageMiB: number;
  /** usage less page cache: what the memory limit effectively charges for the processes. */
  workingSetMiB: number;
}

async function memory(docker: Docker, name: string): Promise<MemSample> {
  const s = (await docker.getContainer(name).stats({ stream: false })) as unknown as { memory_stats?: { usage?: number; stats?: Record<string, number> } };
  const usage = s.memory_stats?.usage ?? 0;
  const st = s.memory_stats?.stats ?? {};
  const cache = st.inactive_file ?? st.total_inactive_file ?? st.cache ?? 0;
  return { usageMiB: usage / 2 ** 20, workingSetMiB: Math.max(0, usage - cache) / 2 ** 20 };
}

async function rssByProcess(docker: Docker, name: string): Promise<Record<string, number>> {
  const out = await sh(docker, name, 'for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null) || continue; r=$(awk \'/^VmRSS/ {print $2}\' $p/status 2>/dev/null); [ -n "$r" ] && echo "$c $r"; done; true');
  const rss: Record<string, number> = {};
  for (const line of out.trim().split('\n')) {
    const [comm, kb] = line.split(' ');
    if (!comm || !kb || comm === 'bash' || comm === 'awk' || comm === 'cat') continue;
    rss[comm] = (rss[comm] ?? 0) + Number(kb) / 1024;
  }
  return rss;
}

async function lineCount(docker: Docker, name: string, file: string): Promise<number> {
  const r = await exec(docker, name, ['bash', '-c', `wc -l < ${file} 2>/dev/null || echo 0`]);
  return Number(r.stdout.trim() || '0');
}

function send(port: number, from: number, count: number, pad: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect({ host: '127.0.0.1', port }, async () => {
      try {
        const batch = 500;
        for (let i = from; i < from + count; i += batch) {
          let chunk = '';
          for (let j = i; j < Math.min(i + batch, from + count); j++) chunk += `<14>bench[1]: line ${j} ${pad}\n`;
          if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
        }
        sock.end(resolve);
      } catch (e) {
        reject(e as Error);
      }
    });
    sock.on('error', reject);
  });
}

async function main(): Promise<void> {
  if (process.env.NODE_TEST_CONTEXT) return; // picked up by `node --test dist/test/`: not a test
  const lines = Number(process.argv[2] ?? process.env.BENCH_LINES ?? 200_000);
  const conns = Number(process.argv[3] ?? process.env.BENCH_CONNECTIONS ?? 4);
  const env = await dockerEnv();
  if (typeof env === 'string') {
    console.log(`sidecar benchmark ${env}`);
    return;
  }
  const { docker } = env;
  const t0 = Date.now();
  const image = await buildLoggingImage(env, 'ecs-cwlogs-bench');
  console.log(`image ${image} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const name = `cwl-bench-${Date.now().toString(36)}`;
  try {
    const c = await docker.createContainer({
      name,
      Image: image,
      Env: ['ECS_CWLOGS_IMDS=off', 'AWS_REGION=us-east-1'],
      ExposedPorts: { '514/tcp': {} },
      HostConfig: { PortBindings: { '514/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, Memory: 512 * 2 ** 20 },
    });
    await c.start();
    const port = await hostPort(docker, name, '514/tcp');
    await waitFor('rsyslog on 514', async () => (await exec(docker, name, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/514'])).code === 0);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = await memory(docker, name);
    const idleRss = await rssByProcess(docker, name);

    const pad = 'x'.repeat(80); // ~100-byte lines, like a combined access log line
    let peak = idle;
    let peakRss = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = await memory(docker, name).catch(() => idle);
        if (m.workingSetMiB > peak.workingSetMiB) peak = m;
        const r = await rssByProcess(docker, name).catch(() => ({}) as Record<string, number>);
        peakRss = Math.max(peakRss, Object.values(r).reduce((a, b) => a + b, 0));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const start = Date.now();
    const per = Math.ceil(lines / conns);
    await Promise.all(Array.from({ length: conns }, (_, k) => send(port, k * per, Math.max(0, Math.min(per, lines - k * per)), pad)));
    const sentAt = Date.now();
    const file = '/var/log/apps/bench.log';
    let written = 0;
    let lastChange = Date.now();
    while (written < lines && Date.now() - lastChange < 10_000) {
      const n = await lineCount(docker, name, file);
      if (n !== written) lastChange = Date.now();
      written = n;
      if (written < lines) await new Promise((r) => setTimeout(r, 100));
    }
    const doneAt = Date.now();
    sampling = false;
    await sampler;
    const afterRss = await rssByProcess(docker, name);
    const distinct = Number((await sh(docker, name, `awk '{print $5}' ${file} | sort -u | wc -l`)).trim());

    const secs = (doneAt - start) / 1000;
    const fmt = (r: Record<string, number>) =>
      Object.entries(r)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k} ${v.toFixed(1)} MiB`)
        .join(', ');
    const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    console.log('');
    console.log('ecs-cwlogs sidecar benchmark (TCP 514, rsyslog -> /var/log/apps/bench.log)');
    console.log(`  lines sent        ${lines} over ${conns} connection(s), ~${pad.length + 20} bytes each`);
    console.log(`  lines written     ${written} (${distinct} distinct), lost ${lines - written}`);
    console.log(`  send time         ${((sentAt - start) / 1000).toFixed(2)} s`);
    console.log(`  all written after ${secs.toFixed(2)} s`);
    console.log(`  throughput        ${Math.round(written / secs)} lines/s (written, end to end)`);
    console.log(`  memory idle       ${idle.workingSetMiB.toFixed(1)} MiB working set (${idle.usageMiB.toFixed(1)} MiB with page cache)`);
    console.log(`  memory peak       ${peak.workingSetMiB.toFixed(1)} MiB working set (${peak.usageMiB.toFixed(1)} MiB with page cache; the working set still counts the log file's recently written pages)`);
    console.log(`  RSS idle          ${total(idleRss).toFixed(1)} MiB: ${fmt(idleRss)}`);
    console.log(`  RSS peak (sampled) ${peakRss.toFixed(1)} MiB, all processes`);
    console.log(`  RSS after burst   ${total(afterRss).toFixed(1)} MiB: ${fmt(afterRss)}`);
    console.log('  (agent skipped in this build; the CloudWatch agent adds its own RSS on ECS)');
    if (written !== lines) process.exitCode = 1;
  } finally {
    await removeContainer(docker, name);
  }
}

await main();
