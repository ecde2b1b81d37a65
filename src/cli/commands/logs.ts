/**
 * `ecs-cwlogs logs`: print the log group's events (httpd access/error, the ECS agent) in timestamp
 * order across streams, once or following. The events are the command's result, so they go to
 * stdout; notices and errors go to stderr. The logic lives in src/logs/tail.ts.
 *
 * --json here means JSON Lines: one object per event per line ({"timestamp","stream","message"}),
 * not the one document other commands print (a follow has no end to wait for before printing one
 * document). An error is one more line, {"ok":false,"error":{…}}. Notices (the fallback to polling)
 * go to stderr only.
 *
 * --follow goes through Live Tail (src/logs/live-tail.ts) unless --poll is given or Live Tail is not
 * usable (denied, not offered by the endpoint): then it polls FilterLogEvents, saying so once.
 * --until stops a read, or a follow, at that time.
 *
 * Exit codes: 0 when done (a follow that reached --until, or whose reader closed stdout: `| head`);
 * 130 on Ctrl-C (a follow included: the read did not end by itself); 1 when reading fails (e.g. no
 * such log group); 2 for bad flags.
 */
import { Command, Option } from 'commander';
import { Chalk, type ChalkInstance } from 'chalk';
import { ExitCode, InterruptedError, UserInputError, isCliError } from '../../core/errors.js';
import { parseSince, parseUntil, StreamNames, tailLogs, type LogLine, type TailResult } from '../../logs/tail.js';
import { followLiveTail, logGroupArn } from '../../logs/live-tail.js';
import { forTerminal, jsonLine } from '../../logs/sanitize.js';
import { colorLevel } from '../../io/terminal.js';
import { action, reportError, type Runtime } from '../run.js';
import { addSettingOptions, examples } from './options.js';

interface LogsFlags {
  follow?: boolean;
  since: string;
  until?: string;
  poll?: boolean;
  stream?: string[];
  filter?: string;
  json?: boolean;
  format: 'detailed' | 'short';
}

/** Poll at most this often against AWS (FilterLogEvents allows a few calls a second per account). */
const AWS_POLL_MS = 2000;

const PALETTE = ['cyan', 'magenta', 'yellow', 'green', 'blue', 'red'] as const;

export function logsCommand(): Command {
  const cmd = new Command('logs').description(
    "Print the log group's events (httpd access and error logs, the ECS agent's) in time order across streams; --follow keeps printing new ones",
  );
  cmd
    .option('-f, --follow', 'keep printing new events (through Live Tail) until Ctrl-C or --until')
    .addOption(new Option('--since <when>', 'start at this long ago (30s, 10m, 1h, 2d, 1w) or at an ISO-8601 time').default('10m'))
    .option('--until <when>', 'stop at this time: a duration ago (5m), an ISO-8601 time, now, or +10m (from now, with --follow)')
    .option('--poll', 'with --follow: poll FilterLogEvents every 2s instead of a Live Tail session (which is billed per minute)')
    .option(
      '--stream <part>',
      'only streams whose name contains this, e.g. httpd-access, httpd-error, ecs-agent, or an instance id (repeatable)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--filter <pattern>', 'CloudWatch Logs filter pattern, e.g. ERROR, "?WARN ?ERROR", \'"GET /" -200\'');
  cmd.addOption(new Option('--format <format>', 'detailed: time, stream and message; short: time and message (as `aws logs tail --format`)').choices(['detailed', 'short']).default('detailed'));
  addSettingOptions(cmd, ['logGroup']);
  cmd.option('--json', 'JSON Lines: one {"timestamp","stream","message"} object per event per line (not one document)');
  cmd.addHelpText(
    'after',
    `\nLines read "HH:MM:SS stream message" (UTC; "YYYY-MM-DD HH:MM:SS" when the events span more than one day);\n` +
      `an ISO-8601 --since/--until without an offset is UTC too (2024-05-01T10:00 is 10:00 UTC).\n` +
      `the stream is shown without its instance-host-ip prefix. --format short leaves the stream out.\n` +
      `--follow opens a Live Tail session (StartLiveTail); without that permission, or on an endpoint\n` +
      `without it, it polls FilterLogEvents instead and says so. Events the agent ships late still show,\n` +
      `possibly after newer ones. See docs/commands.md (logs).\n` +
      examples([
        'ecs-cwlogs logs',
        'ecs-cwlogs logs --follow --stream httpd-access',
        'ecs-cwlogs logs --follow --stream httpd-error --filter error --until +30m',
        'ecs-cwlogs logs --since 2h --until 1h --stream httpd-error',
        'ecs-cwlogs logs --since 2h --stream httpd-error --filter error',
        'ecs-cwlogs logs --since 2024-05-01T10:00:00Z --json | jq -r .message',
        'ecs-cwlogs logs --log-group /ecs/demo --stack demo --follow',
      ]),
  );
  cmd.action(
    action(async (rt) => {
      const f = rt.opts as unknown as LogsFlags;
      // Errors in JSON Lines mode: stderr for people plus one compact line on stdout, never a
      // pretty-printed document in the middle of the lines.
      const fail = (e: unknown): number => {
        const quiet = Object.create(rt.io, { json: { value: false } });
        const code = reportError(e, quiet, Boolean(rt.opts.verbose));
        if (f.json) {
          const err = isCliError(e) ? e.toJSON() : { kind: 'internal', exitCode: code, what: 'Unexpected error', why: e instanceof Error ? e.message : String(e) };
          process.stdout.write(`${JSON.stringify({ ok: false, error: err })}\n`);
        }
        return code;
      };

      try {
        return await run(rt, f, fail);
      } catch (e) {
        return fail(e);
      }
    }),
  );
  return cmd;
}

async function run(rt: Runtime, f: LogsFlags, fail: (e: unknown) => number): Promise<number> {
  const now = Date.now();
  const startTime = parseSince(f.since, now);
  const until = f.until === undefined ? undefined : parseUntil(f.until, now);
  if (until !== undefined && until <= startTime) {
    throw new UserInputError({
      what: `--until ${f.until} is not after --since ${f.since}`,
      why: `it would read from ${new Date(startTime).toISOString()} to ${new Date(until).toISOString()}`,
      fix: 'Give an --until later than --since (e.g. --since 2h --until 1h), or leave --until out.',
    });
  }
  if (f.poll && !f.follow) throw new UserInputError({ what: '--poll needs --follow', why: 'it chooses how a follow finds new events', fix: 'Add --follow, or leave --poll out.' });
  const session = await rt.session();
  const ctx = rt.context(session, 'inspect');
  const level = Math.min(colorLevel(process.stdout, rt.opts.color === false ? false : undefined), 1);
  const print = printer(Boolean(f.json), new Chalk({ level: level as 0 | 1 }), { format: f.format, startTime, now: Math.min(until ?? now, now) });
  const stackFlag = rt.stack === 'ecs-cwlogs' ? '' : ` --stack ${rt.stack}`;
  const streams = f.stream ?? [];
  const quoted = streams.map((s) => `"${s}"`).join(' or ');
  // A follow whose --until has passed is a read up to it.
  const follow = Boolean(f.follow) && (until === undefined || until > now);

  // `logs | head` closes stdout: stop quietly (the Live Tail session is closed with the signal).
  const local = new AbortController();
  const onOutError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') local.abort(e);
  };
  process.stdout.on('error', onOutError);

  const notice = (text: string, level: 'info' | 'warn') => rt.io.emit({ type: 'message', level, text });
  if (follow) {
    const what = streams.length ? ` (streams containing ${quoted})` : '';
    const stop = until === undefined ? 'Ctrl-C to stop' : `until ${new Date(until).toISOString()} or Ctrl-C`;
    notice(`Following log group ${ctx.config.logGroup}${what}; ${stop}.`, 'info');
  }
  const options = {
    logGroup: ctx.config.logGroup,
    region: ctx.config.region,
    createCommand: `ecs-cwlogs up${stackFlag}`,
    startTime,
    endTime: until,
    streams,
    filterPattern: f.filter,
    follow,
    pollMs: Math.min(ctx.timing.pollMs, AWS_POLL_MS),
    signal: AbortSignal.any([ctx.signal, local.signal]),
  };
  const sink = {
    events: (lines: LogLine[]) => {
      if (!local.signal.aborted) process.stdout.write(print(lines));
    },
    notice,
  };
  try {
    let res: TailResult | undefined;
    if (follow && !f.poll) {
      const arn = logGroupArn(session.conn.callerArn, ctx.config.region, session.conn.account, ctx.config.logGroup);
      const live = await followLiveTail(ctx.logs, { ...options, logGroupArn: arn, until }, sink);
      if (live.kind === 'done') res = live.result;
      else notice(`Live Tail is not available: ${live.reason}. Following by polling FilterLogEvents every ${options.pollMs / 1000}s instead.`, 'warn');
    }
    res ??= await tailLogs(ctx.logs, options, sink);
    if (local.signal.aborted) return ExitCode.Ok;
    if (res.interrupted) {
      // A follow ends with Ctrl-C unless --until ends it: 130, quietly. A one-shot read cut short says so.
      if (follow) return ExitCode.Interrupted;
      return fail(new InterruptedError({ what: 'Interrupted', why: 'Ctrl-C before all events were read' }));
    }
    if (!follow && res.count === 0) {
      const window = `since ${new Date(startTime).toISOString()}${until === undefined ? '' : ` until ${new Date(until).toISOString()}`}`;
      const text =
        res.streams && res.streams.length === 0
          ? `No stream in log group ${ctx.config.logGroup} matches ${quoted}.`
          : `No events in log group ${ctx.config.logGroup}${res.streams ? ` (${res.streams.length} stream${res.streams.length === 1 ? '' : 's'} matching ${quoted})` : ''} ${window}${f.filter ? ` matching ${JSON.stringify(f.filter)}` : ''}.`;
      notice(text, 'info');
    }
    return ExitCode.Ok;
  } catch (e) {
    if (local.signal.aborted) return ExitCode.Ok;
    throw e;
  } finally {
    process.stdout.off('error', onOutError);
  }
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Formats a batch of events: JSON Lines, or "HH:MM:SS stream message" with the stream in colour
 * (--format short: no stream). The time carries the date once the events span more than one UTC day:
 * from the start when the window [since, until] does (until: --until, or now if sooner), or from the first
 * event of a later day (a follow past midnight).
 */
export function printer(json: boolean, c: ChalkInstance, opts: { format?: 'detailed' | 'short'; startTime: number; now: number }): (lines: LogLine[]) => string {
  if (json) {
    return (lines) => lines.map((e) => `${jsonLine({ timestamp: new Date(e.timestamp).toISOString(), stream: e.stream, message: e.message })}\n`).join('');
  }
  const names = new StreamNames();
  const colours = new Map<string, (typeof PALETTE)[number]>();
  let width = 0;
  const firstDay = utcDay(opts.startTime);
  let withDate = utcDay(opts.now) !== firstDay;
  const line = (e: LogLine): string => {
    if (!withDate && utcDay(e.timestamp) !== firstDay) withDate = true;
    const iso = new Date(e.timestamp).toISOString();
    const time = withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso.slice(11, 19);
    const message = forTerminal(e.message);
    if (opts.format === 'short') return `${c.dim(time)} ${message}\n`;
    const short = forTerminal(names.short(e.stream));
    width = Math.max(width, Math.min(short.length, 40));
    let colour = colours.get(short);
    if (!colour) {
      colour = PALETTE[colours.size % PALETTE.length];
      colours.set(short, colour);
    }
    return `${c.dim(time)} ${c[colour](short.padEnd(width))} ${message}\n`;
  };
  return (lines) => {
    names.observe(lines.map((e) => e.stream));
    return lines.map(line).join('');
  };
}
