/**
 * `ecs-cwlogs verify`, and the same check at the end of `up`: a canary request to the app, timed until
 * its access line is in CloudWatch Logs, and the age of each stream's last event (src/logs/verify.ts).
 *
 * Where the app is: --url; with --sandbox --local the app's container on this machine; otherwise the
 * URL `up` prints (the instance's public address, or the ALB's DNS name), read from the stack as
 * `status` reads it. A rehearsal without --local runs no app: verify refuses (exit 2), and `up`
 * leaves it out.
 *
 * --dry-run: verify writes nothing to AWS in any case (it only reads); a dry run also sends no canary
 * request (the app would log it: a line in the logs is a write of a kind), so it checks the running
 * task and the streams' ages only, and says so.
 *
 * Exit codes: 0 the pipeline works; 1 it is broken (the report says where: no running task, the app
 * unreachable, no access line within --timeout, an ECS agent stream missing or silent), or a call
 * failed; 2 bad flags; 130 Ctrl-C.
 *
 * At the end of `up` (after a run that applied without a failure, not --dry-run, not --no-verify):
 * the report is part of up's result (`verify` in its JSON document, a few lines after the summary),
 * and a broken pipeline makes `up` exit 1 after printing everything: the resources are there (a
 * second `up` changes nothing), but the lab's purpose, logs in CloudWatch Logs, is not met, and a
 * script running `up` should notice. `up --no-verify` leaves the check out.
 */
import { Command, Option } from 'commander';
import type { Context } from '../../engine/context.js';
import { inspectSteps } from '../../engine/engine.js';
import { UserInputError } from '../../core/errors.js';
import { VERSION } from '../../core/version.js';
import { verifyPipeline, type VerifyReport } from '../../logs/verify.js';
import { labSteps } from '../../steps/index.js';
import { action, type Runtime, type Session } from '../run.js';
import { upSummary } from '../summary.js';
import { imageBuildOptions } from './image.js';
import { addSettingOptions, examples } from './options.js';

interface VerifyFlags {
  url?: string;
  timeout: string;
  silentAfter: string;
}

/** Against AWS: FilterLogEvents at most once a second (an account-wide 5 TPS quota shared with `logs`). */
const AWS_POLL_MS = 1000;
const HOUR = 3_600_000;

export function verifyCommand(): Command {
  const cmd = new Command('verify')
    .description("Prove the logs flow: a canary request to the app, timed until its access line is in CloudWatch Logs, and each stream's last event")
    .option('--url <url>', "the app's URL (default: the one `up` prints)")
    .addOption(new Option('--timeout <duration>', 'how long to wait for the app to answer and for the access line').default('60s'))
    .addOption(new Option('--silent-after <duration>', 'an ECS agent stream with no event for this long has gone silent').default('1h'));
  addSettingOptions(cmd, ['clusterName', 'serviceName', 'logGroup']);
  cmd.addHelpText(
    'after',
    `\nThe canary is GET <url>?ecs-cwlogs-canary=<random id>: httpd answers 200 and logs it, nothing else.\n` +
      `Exit 1 when the pipeline is broken, saying where. --dry-run sends no request (checks the task and streams).\n` +
      examples(['ecs-cwlogs verify', 'ecs-cwlogs verify --json | jq .canary.latencyMs', 'ecs-cwlogs verify --timeout 3m', 'ecs-cwlogs verify --sandbox --local']),
  );
  cmd.action(
    action(async (rt) => {
      const f = rt.opts as unknown as VerifyFlags;
      const timeoutMs = durationMs('--timeout', f.timeout);
      const silentAfterMs = durationMs('--silent-after', f.silentAfter);
      if (f.url) checkUrl(rt, f.url);
      const s = await rt.session();
      const ctx = rt.context(s, 'inspect');
      const where = f.url ? { url: f.url } : await appUrl(rt, s, ctx);
      const report = await runVerify(rt, ctx, { ...where, timeoutMs, silentAfterMs });
      rt.io.result({ command: 'verify', stack: rt.stack, ...report }, () => renderVerify(report));
      if (report.broken) rt.io.error(`Pipeline broken: ${report.broken.what}: ${report.broken.why}. ${report.broken.fix}`);
      return report.ok ? 0 : 1;
    }),
  );
  return cmd;
}

/** `90s`, `5m`, `1h`, `500ms`: ms. */
export function durationMs(flag: string, v: string): number {
  const m = /^(\d+)\s*(ms|s|m|h)?$/.exec(v.trim());
  if (!m || Number(m[1]) <= 0) throw new UserInputError({ what: `Invalid ${flag} "${v}"`, why: 'it is not a duration', fix: `Use e.g. ${flag} 90s, 5m or 1h.` });
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: HOUR }[m[2] ?? 's']!;
}

/** Under --sandbox nothing outside loopback is contacted. */
function checkUrl(rt: Runtime, url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserInputError({ what: `Invalid --url "${url}"`, why: 'it is not a URL', fix: 'Pass e.g. --url http://203.0.113.7/.' });
  }
  if (!/^https?:$/.test(u.protocol)) throw new UserInputError({ what: `Invalid --url "${url}"`, why: 'only http and https are requested', fix: 'Pass an http:// or https:// URL.' });
  if (rt.opts.sandbox && !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname)) {
    throw new UserInputError({ what: `--url ${url} with --sandbox`, why: 'a rehearsal contacts no host outside this machine', fix: 'Use --sandbox --local (the app runs on 127.0.0.1), or leave --sandbox out.' });
  }
}

/** The app's URL as `up` reports it: the local container's, or the instance's / ALB's. */
async function appUrl(rt: Runtime, s: Session, ctx: Context): Promise<{ url?: string; noUrlReason?: string }> {
  if (rt.opts.sandbox) {
    const local = await import('../local-mode.js');
    if (!local.isLocal(rt.opts, rt.stack)) {
      throw new UserInputError({
        what: 'Nothing to verify in a rehearsal without --local',
        why: '--sandbox alone simulates the instance: no app answers and no line is written',
        fix: 'Run `up --sandbox --local` (the task runs on this machine\'s Docker), then `verify --sandbox --local`.',
      });
    }
    const url = await local.localUrl(rt.stack);
    return url ? { url } : { noUrlReason: 'no running container publishes port 80' };
  }
  const report = await inspectSteps(labSteps({ image: imageBuildOptions(rt, s.resolved), topology: ctx.config }), ctx);
  const url = upSummary({ ...ctx, target: ctx.target }, report).url;
  return url ? { url } : { noUrlReason: 'the instance has no public address' };
}

/** The check, with this run's timing and flags (shared by `verify` and the end of `up`). */
export async function runVerify(rt: Runtime, ctx: Context, o: { url?: string; noUrlReason?: string; timeoutMs: number; silentAfterMs?: number }): Promise<VerifyReport> {
  const stackFlag = rt.stack === 'ecs-cwlogs' ? '' : ` --stack ${rt.stack}`;
  return verifyPipeline(
    { ecs: ctx.ecs, logs: ctx.logs },
    {
      cluster: ctx.config.clusterName,
      service: ctx.config.serviceName,
      logGroup: ctx.config.logGroup,
      url: o.url,
      noUrlReason: o.noUrlReason,
      canary: !rt.opts.dryRun,
      timeoutMs: o.timeoutMs,
      pollMs: Math.min(ctx.timing.pollMs, AWS_POLL_MS),
      silentAfterMs: o.silentAfterMs ?? HOUR,
      signal: ctx.signal,
      upCommand: `ecs-cwlogs up${rt.opts.sandbox ? ' --sandbox' : ''}${stackFlag}`,
      userAgent: `ecs-cwlogs-verify/${VERSION}`,
      notice: (text) => rt.io.emit({ type: 'message', level: 'info', text }),
    },
  );
}

const age = (ms: number | undefined) => (ms === undefined ? 'no event' : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s ago` : ms < HOUR ? `${Math.round(ms / 60_000)}m ago` : `${(ms / HOUR).toFixed(1)}h ago`);

export function renderVerify(r: VerifyReport): string {
  const lines = [r.ok ? 'Pipeline OK' : `Pipeline BROKEN (${r.broken!.where}): ${r.broken!.what}`];
  lines.push(`  Tasks:    ${r.tasks.running} running${r.tasks.instances.length ? ` on ${r.tasks.instances.join(', ')}` : ''}`);
  if (r.canary) {
    const c = r.canary;
    const got = c.latencyMs !== undefined ? `its access line in CloudWatch Logs after ${(c.latencyMs / 1000).toFixed(2)}s` : c.status !== undefined ? 'its access line did not arrive' : 'no answer';
    lines.push(`  Canary:   GET ${c.url}${c.status !== undefined ? ` -> ${c.status}` : ''}, ${got}`);
  } else if (r.canarySkipped) lines.push(`  Canary:   not sent (${r.canarySkipped})`);
  if (r.streams.length) {
    lines.push('  Streams (last event):');
    const w = Math.max(...r.streams.map((s) => s.file.length));
    const many = new Set(r.streams.map((s) => s.instanceId)).size > 1;
    for (const s of r.streams) lines.push(`    ${many ? `${s.instanceId}  ` : ''}${s.file.padEnd(w)}  ${age(s.ageMs)}`);
  }
  return lines.join('\n');
}
