/**
 * `ecs-cwlogs sandbox`: serve the local AWS emulator, for this tool or any AWS client; list and stop
 * the sandboxes that `--sandbox` started.
 *
 * The sandbox makes a random access key when it starts and accepts only requests signed with it
 * (it prints the key as environment variable lines); `--no-auth` serves anyone who can reach the
 * port, for other tools' tests.
 */
import { Command, Option } from 'commander';
import { UserInputError } from '../../core/errors.js';
import { listSandboxes, localDir, newSandboxCredentials, sandboxDir, stopSandbox, stopSandboxReport, writePrivate, type ReadyFile, type SandboxListing } from '../sandbox-mode.js';
import { action } from '../run.js';
import { examples } from './options.js';

/** What each service module (by its SigV4 signing name) is called in help; an unnamed one shows its signing name. */
export const SERVICE_TITLES: Record<string, string> = {
  ecs: 'ECS',
  ec2: 'EC2',
  iam: 'IAM',
  ssm: 'SSM',
  sts: 'STS',
  logs: 'CloudWatch Logs',
  ecr: 'ECR',
  tagging: 'Resource Groups Tagging',
  autoscaling: 'Auto Scaling',
  elasticloadbalancing: 'ELBv2 (Application Load Balancers)',
  monitoring: 'CloudWatch (metrics, alarms, dashboards)',
  sns: 'SNS',
};

let services: string[] | undefined;
/** The sandbox's registered services (src/sandbox/services/index.ts), for `sandbox --help`. */
export function useSandboxServices(names: string[]): void {
  services = names;
}

export function sandboxServicesText(names: string[]): string {
  return names.map((n) => SERVICE_TITLES[n] ?? n).join(', ');
}

export function sandboxCommand(): Command {
  const cmd = new Command('sandbox')
    .description('Serve the local AWS emulator (the AWS services this tool calls) for rehearsals and tests')
    .option('--port <port>', 'port on 127.0.0.1 (0 picks a free one)', '4566')
    .addOption(new Option('--latency <profile>', 'timing of lifecycles').choices(['none', 'fast', 'realistic']).default('fast'))
    .option('--throttle <rate>', 'fraction of calls answered with a throttling error (0-1)', '0')
    .option('--page-size <n>', 'force small pages on paginated calls (0 = service default)', '0')
    .option('--iam-propagation-ms <ms>', 'how long a new instance profile is rejected by RunInstances (default: 5000 with --latency realistic, else 0)')
    .option('--tagging-lag-ms <ms>', "how far behind the Tagging API's listing is (default: 10000 with --latency realistic, else 0)")
    .option('--state <file>', 'persist state in this file')
    .option('--stop', 'stop the sandbox that --sandbox started for this stack (with --all: every one listed by --list)')
    .option('--list', 'list the sandboxes that --sandbox started (stack, config directory, port, PID, start, state file)')
    .option('--all', 'with --stop: stop every sandbox of --list')
    .option('--no-auth', "serve requests without checking their signature (for other tools' tests: anyone who can reach the port can call it)")
    .option('--local', "run the tasks the simulated ECS agent places on the local Docker engine (DOCKER_HOST), and ship the logging container's files to the sandbox's CloudWatch Logs")
    .addOption(new Option('--local-dir <dir>', 'the stack directory of --local (default: in the config directory)').hideHelp())
    .addOption(new Option('--ready-file <file>').hideHelp())
    .addHelpText('after', () => (services ? `\nServices it serves: ${sandboxServicesText(services)}` : ''))
    .addHelpText(
      'after',
      examples([
        'ecs-cwlogs sandbox --port 4566 --state ./sandbox.json   # prints the AWS_* variables to use',
        'aws --endpoint-url http://127.0.0.1:4566 ecs list-clusters   # with those variables set',
        'ecs-cwlogs up --yes --endpoint-url http://127.0.0.1:4566 --region us-east-1',
        'ecs-cwlogs sandbox --list',
        'ecs-cwlogs sandbox --stop',
        'ecs-cwlogs sandbox --stop --all',
      ]),
    );
  cmd.action(
    action(async (rt) => {
      const o = rt.opts as Record<string, string | boolean | undefined>;
      if (o.all && !o.stop) throw new UserInputError({ what: '--all needs --stop', why: '--all stops every sandbox that --list shows', fix: 'Run `ecs-cwlogs sandbox --stop --all`.' });
      if (o.list) {
        const rows = await listSandboxes();
        rt.io.result({ ok: true, sandboxes: rows }, () => renderList(rows));
        return;
      }
      if (o.stop && o.all) {
        const rows = await listSandboxes();
        const stopped: SandboxListing[] = [];
        for (const r of rows) {
          const dir = `${r.configDir}/sandbox`;
          if (await stopSandbox(r.stack, false, dir)) stopped.push(r);
          else if (r.state !== 'gone' && r.port === undefined) {
            // A process without a record (its record was removed): --list found it by its command line.
            try {
              process.kill(r.pid, 'SIGTERM');
              stopped.push(r);
            } catch {
              /* gone */
            }
          }
        }
        rt.io.result({ ok: true, stopped: stopped.map((r) => ({ stack: r.stack, configDir: r.configDir, pid: r.pid })) }, () =>
          stopped.length ? stopped.map((r) => `Stopped the sandbox of stack ${r.stack} (${r.configDir}, PID ${r.pid}).`).join('\n') : 'No sandbox was running.',
        );
        return;
      }
      if (o.stop) {
        const { stopped, problems } = await stopSandboxReport(rt.stack, false);
        for (const text of problems) rt.io.emit({ type: 'message', level: 'warn', text: `${text}.` });
        rt.io.result({ ok: true, stopped, ...(problems.length ? { problems } : {}) }, () => (stopped ? `Stopped the sandbox of stack ${rt.stack}.` : `No sandbox was running for stack ${rt.stack} (in ${sandboxDir()}).`));
        return;
      }
      const num = (flag: string, raw: unknown, min: number, max: number) => {
        const n = Number(raw);
        if (!Number.isFinite(n) || n < min || n > max) throw new UserInputError({ what: `Invalid ${flag}`, why: `"${String(raw)}" is not a number from ${min} to ${max}` });
        return n;
      };
      // Loaded on demand: other commands never pay for the emulator's code.
      const { startSandbox, StateFileError } = await import('../../sandbox/index.js');
      const port = num('--port', o.port, 0, 65535);
      const statePath = o.state as string | undefined;
      // The random key callers sign with; --no-auth (commander: auth false) turns the check off.
      const noAuth = (rt.opts as { auth?: boolean }).auth === false;
      const credentials = newSandboxCredentials();
      let sb;
      try {
        sb = await startSandbox({
          credentials: noAuth ? 'none' : credentials,
          port,
          host: '127.0.0.1',
          latency: o.latency as 'none' | 'fast' | 'realistic',
          throttleRate: num('--throttle', o.throttle, 0, 1),
          pageSize: num('--page-size', o.pageSize, 0, 1000),
          // Unset: the latency profile's own IAM propagation delay (5 s for realistic).
          iamPropagationMs: o.iamPropagationMs === undefined ? undefined : num('--iam-propagation-ms', o.iamPropagationMs, 0, 3_600_000),
          // Unset: the latency profile's own listing lag (10 s for realistic).
          taggingLagMs: o.taggingLagMs === undefined ? undefined : num('--tagging-lag-ms', o.taggingLagMs, 0, 3_600_000),
          statePath,
        });
      } catch (err) {
        if (err instanceof StateFileError) {
          throw new UserInputError({
            what: `Cannot use the sandbox state file ${err.path}`,
            why: err.problem,
            fix: 'Repair the file, move it away to start with an empty sandbox, or pass another --state.',
          });
        }
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new UserInputError({
            what: `Port ${port} on 127.0.0.1 is in use`,
            why: 'another program (perhaps another sandbox) listens there',
            fix: 'Pass another --port, or --port 0 for a free one.',
          });
        }
        throw err;
      }
      let runner: { close(): Promise<void> } | undefined;
      if (o.local) {
        const { startLocalRunner } = await import('../../sandbox/local/index.js');
        try {
          runner = await startLocalRunner(sb, {
            stack: rt.stack,
            dir: String(o.localDir ?? localDir(rt.stack)),
            statePath: o.state as string | undefined,
            credentials,
            log: (line) => rt.io.emit({ type: 'message', level: 'info', text: `local: ${line}` }),
          });
        } catch (e) {
          await sb.close();
          throw new UserInputError({ what: 'Cannot run the tasks on the local Docker engine', why: (e as Error).message, fix: 'Start Docker, or set DOCKER_HOST to where your daemon listens.' });
        }
      }
      if (o.readyFile) {
        // Whole or not at all (whoever waits for the file may read it the moment it appears), and 0600:
        // it holds the secret.
        await writePrivate(String(o.readyFile), JSON.stringify({ port: sb.port, pid: process.pid, ...credentials } satisfies ReadyFile));
      }
      const env = noAuth
        ? []
        : [`export AWS_ENDPOINT_URL=${sb.url}`, `export AWS_ACCESS_KEY_ID=${credentials.accessKeyId}`, `export AWS_SECRET_ACCESS_KEY='${credentials.secretAccessKey}'`, 'export AWS_REGION=us-east-1'];
      rt.io.result({ ok: true, url: sb.url, port: sb.port, ...(noAuth ? { auth: false } : { credentials }) }, () =>
        [
          `Sandbox listening on ${sb.url}`,
          ...(noAuth
            ? ['  Authentication is off (--no-auth): anyone who can reach this port can call it.']
            : ['  It accepts only requests signed with this key (a new one each time it starts). For the SDK and the AWS CLI:', ...env.map((l) => `    ${l}`)]),
          '  Ctrl-C stops it.',
        ].join('\n'),
      );
      // A signal may have come while the sandbox was starting: an abort event that has already fired
      // would never reach a listener added now.
      await new Promise<void>((resolve) => {
        if (rt.signal.aborted) return resolve();
        rt.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await runner?.close();
      await sb.close();
    }, { savedSettings: 'unused' }),
  );
  return cmd;
}

function renderList(rows: SandboxListing[]): string {
  if (rows.length === 0) return 'No sandbox is running.';
  const table = [['STACK', 'PORT', 'PID', 'STARTED', 'STATE', 'CONFIG DIRECTORY', 'STATE FILE'], ...rows.map((r) => [r.stack, r.port ? String(r.port) : '-', String(r.pid), r.startedAt ?? '-', r.state, r.configDir, r.statePath ?? '-'])];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}
