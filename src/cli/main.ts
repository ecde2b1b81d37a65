/**
 * The command line: global options and the commands that exist. No stubs: a command is registered
 * only when it works.
 */
import { Command, CommanderError, Option } from 'commander';
import { ExitCode } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import type { AnyDeclaredStep, StepCommand } from '../core/step.js';
import { STEPS, stepsByShape } from '../steps/index.js';
import { stepCommand } from './commands/steps.js';
import { downCommand, statusCommand, upCommand } from './commands/lab.js';
import { sandboxCommand, useSandboxServices } from './commands/sandbox.js';
import { imageCommand } from './commands/image.js';
import { logsCommand } from './commands/logs.js';
import { queryCommand } from './commands/query.js';
import { verifyCommand } from './commands/verify.js';
import { completionCommand } from './commands/completion.js';
import { takeExitCode } from './run.js';
import { exitQuietlyOnEpipe } from '../io/terminal.js';

/** How each kind of step command is built (a step's declaration says its kind). */
const COMMAND_KINDS: Record<NonNullable<StepCommand['kind']>, (step: AnyDeclaredStep) => Command> = {
  resource: stepCommand,
  artifact: imageCommand,
};

/** The program, with one subcommand per registered step (`steps`: the registry, src/steps/index.ts). */
export function buildProgram(steps: readonly AnyDeclaredStep[] = STEPS): Command {
  const program: Command = new Command('ecs-cwlogs')
    .description('Centralise container logs on Amazon ECS: rsyslog + the CloudWatch agent in a logging container, in one command.')
    .version(VERSION, '-V, --version')
    .option('--region <region>', 'AWS region (default: AWS_REGION, then the profile)')
    .option('--profile <name>', 'AWS shared config profile')
    .option('--endpoint-url <url>', 'send AWS calls to this endpoint (AWS_ENDPOINT_URL is honoured too)')
    .addOption(new Option('--stack <name>', 'stack name: the ecs-cwlogs:stack tag value that marks what this tool owns').default('ecs-cwlogs').env('ECS_CWLOGS_STACK'))
    .option('--sandbox', 'use a local AWS sandbox kept for this stack (no account needed)')
    .option('--local', "with --sandbox: run the stack's tasks on the local Docker engine (real httpd, real logs in the sandbox's CloudWatch Logs)")
    .option('-y, --yes', 'never prompt: take defaults, fail naming any missing flag')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--dry-run', 'show the plan, change nothing')
    .option('--verbose', 'more detail, stack traces on errors')
    .option('--no-color', 'no colour (NO_COLOR is honoured too)')
    .addHelpText('after', () => topLevelHelp(program, steps))
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  for (const cmd of [
    upCommand(),
    statusCommand(),
    downCommand(),
    logsCommand(),
    queryCommand(),
    verifyCommand(),
    ...steps.map((step) => COMMAND_KINDS[step.command.kind ?? 'resource'](step)),
    sandboxCommand(),
    completionCommand(() => program),
  ]) program.addCommand(cmd);
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  return program;
}

/**
 * The text after the command list, from what is registered: the lab's steps by the shapes they
 * declare, each one a command of its own.
 */
export function topLevelHelp(program: Command, steps: readonly AnyDeclaredStep[] = STEPS): string {
  const registered = new Set(program.commands.map((c) => c.name()));
  const list = (ids: readonly string[]) => ids.filter((id) => registered.has(id)).join(', ');
  const { every: both, single, group } = stepsByShape(steps);
  return `
Examples:
  $ ecs-cwlogs up                        # the wizard: asks what it needs, shows the plan and cost, runs it
  $ ecs-cwlogs up --sandbox              # rehearse the whole lab on the built-in sandbox (no AWS account)
  $ ecs-cwlogs up --instances 3 --load-balancer   # an Auto Scaling group behind an ALB
  $ ecs-cwlogs status
  $ ecs-cwlogs logs --follow --stream httpd-access
  $ ecs-cwlogs down

Each lab step is also a command of its own, idempotent and tagged with the stack:
  every shape:   ${list(both)}
  one instance:  ${list(single)}
  a group:       ${list(group)}
\`ecs-cwlogs <command> --help\` has examples.
`;
}

export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnEpipe();
  const program = buildProgram();
  // `sandbox --help` lists the services the sandbox serves, from its registry (loaded only for that).
  const words = argv.slice(2);
  if (words.includes('sandbox') && (words.includes('--help') || words.includes('-h') || words[0] === 'help')) {
    useSandboxServices((await import('../sandbox/services/index.js')).defaultServices.map((m) => m.name));
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.Ok;
      return ExitCode.Usage;
    }
    throw e;
  }
  return takeExitCode();
}
