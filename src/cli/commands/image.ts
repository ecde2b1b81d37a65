/**
 * `ecs-cwlogs image`: build the logging image from docker/ and push it (Docker Hub, any registry, or
 * ECR). Prints the pushed reference by digest. Only --ecr needs AWS; a registry push needs Docker.
 */
import { Command } from 'commander';
import type { AwsClients } from '../../aws/clients.js';
import { applySteps } from '../../engine/engine.js';
import { InternalError, UserInputError } from '../../core/errors.js';
import type { Context } from '../../engine/context.js';
import { imageStep, labSteps } from '../../steps/index.js';
import { resolveSettings, type ResolvedConfig } from '../../core/config.js';
import { known, type AnyDeclaredStep } from '../../core/step.js';
import type { ImageStepOptions } from '../../steps/image.js';
import { renderApply } from '../render.js';
import { action, type Runtime } from '../run.js';
import { buildContext, type Connection } from '../runtime.js';
import { addSettingOptions, stepHelp } from './options.js';

/** How to build and where to push the logging image: flags shared by `image`, `up`, `status` and `down`. */
interface ImageBuildFlags {
  ecr?: boolean;
  baseImage?: string;
  skipAgent?: boolean;
  platform?: string;
}

interface ImageFlags extends ImageBuildFlags {
  username?: string;
  passwordStdin?: boolean;
}

export function addImageBuildOptions(cmd: Command): Command {
  return cmd
    .option('--ecr', 'push the logging image to Amazon ECR in this account and region (creates the repository, tagged, if missing)')
    .option('--base-image <ref>', "the logging image's BASE_IMAGE build argument (default: the Dockerfile's, a slim Debian)")
    .option('--skip-agent', 'build the logging image without the CloudWatch agent (offline builds; the container then only writes files)')
    .option('--platform <os/arch>', "build the logging image for this platform, linux/amd64 or linux/arm64 (default: the instance type's architecture, linux/arm64 for Graviton types; a --platform that disagrees with it is refused)");
}

/**
 * The image step's options from those flags (and `--repo ecr`). A rehearsal (--sandbox) builds
 * without the CloudWatch agent: its download is from an AWS host, and in the sandbox nothing would
 * run it (with --local the sandbox ships the container's files itself).
 */
export function imageBuildOptions(rt: Runtime, resolved: ResolvedConfig): ImageStepOptions {
  const f = rt.opts as unknown as ImageBuildFlags;
  return { ecr: resolved.config.imageRepo === 'ecr', baseImage: f.baseImage, skipAgent: Boolean(f.skipAgent) || Boolean(rt.opts.sandbox), platform: f.platform };
}

/** The command of a step that builds and pushes (the logging image): its build's flags instead of --delete and --adopt. */
export function imageCommand(step: AnyDeclaredStep = imageStep): Command {
  const cmd = new Command(step.id).description(step.command.summary);
  addSettingOptions(cmd, step.command.settings);
  addImageBuildOptions(cmd)
    .option('--username <name>', 'registry user (with --password-stdin, or asked for in a terminal)')
    .option('--password-stdin', 'read the registry password or token from standard input');
  for (const o of step.command.options ?? []) cmd.option(o.flags, o.description);
  cmd.addHelpText('after', stepHelp(step.command));
  cmd.action(
    action(async (rt) => {
      const credentials = await readCredentials(rt, rt.opts as unknown as ImageFlags);
      // A registry push needs no AWS: skip the identity check and hand the step no AWS clients.
      const local = resolveSettings({ flags: rt.validated.flags, env: process.env });
      const ecr = local.config.imageRepo === 'ecr';
      const session = ecr ? await rt.session() : undefined;
      const resolved = session?.resolved ?? local;
      const options: ImageStepOptions = { ...imageBuildOptions(rt, resolved), credentials };
      const steps = labSteps({ image: options });
      const ctx = session ? rt.context(session) : localContext(rt, resolved);
      if (!rt.opts.dryRun) await rt.lock(step.id);
      const report = await applySteps(steps, ctx, { targets: [step.id], dryRun: Boolean(rt.opts.dryRun) });
      const ref = known(report.outputs[imageStep.id]?.imageRef);
      rt.io.result({ ...report, stack: rt.stack, imageRef: ref }, () => {
        const text = renderApply(report);
        return ref ? `${text}\n${ref}` : text;
      });
    }),
  );
  return cmd;
}

async function readCredentials(rt: Runtime, f: ImageFlags): Promise<ImageStepOptions['credentials']> {
  if (f.passwordStdin && !f.username) {
    throw new UserInputError({ what: '--password-stdin needs --username', fix: 'Pass --username <name> too.' });
  }
  if (!f.username) return undefined;
  let password: string;
  if (f.passwordStdin) {
    if (process.stdin.isTTY) {
      throw new UserInputError({ what: '--password-stdin reads from a pipe', why: 'standard input is a terminal', fix: 'Pipe the password in (echo "$TOKEN" | ecs-cwlogs image ...), or drop --password-stdin to be asked.' });
    }
    password = (await readAll(process.stdin)).replace(/\r?\n$/, '');
  } else if (rt.io.interactive) {
    password = await rt.io.ask<string>({ flag: '--password-stdin', message: `Password for ${f.username}`, default: '', kind: 'password' });
  } else {
    throw new UserInputError({ what: `No password for --username ${f.username}`, why: 'there is no terminal to ask in', fix: 'Pipe it in with --password-stdin.' });
  }
  if (!password) throw new UserInputError({ what: 'Empty registry password', fix: 'Give the password or access token on standard input.' });
  return { username: f.username, password };
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (s += d));
    stream.on('end', () => resolve(s));
    stream.on('error', reject);
  });
}

/** A context without AWS: every AWS client throws if a step ever reaches for one. */
function localContext(rt: Runtime, resolved: ResolvedConfig): Context {
  const noAws = new Proxy({} as AwsClients, {
    get(_t, key) {
      if (typeof key === 'symbol' || key === 'then' || key === 'toJSON') return undefined;
      throw new InternalError({ what: `AWS client "${key}" used by a command that runs without AWS` });
    },
  });
  const region = resolved.config.region ?? '';
  const conn: Connection = { region, sandbox: false, aws: noAws, account: '', callerArn: '', target: { kind: 'aws', account: '', region } };
  return buildContext({ opts: rt.opts, io: rt.io, stack: rt.stack, resolved, conn, signal: rt.signal, intent: 'apply' });
}
