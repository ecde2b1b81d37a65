/**
 * The command line: global options and the commands that exist. No stubs: a command is registered
 * only when it works.
 */
import { Command, CommanderError, Option } from 'commander';
import { ExitCode } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { clusterCommand, serviceCommand, taskCommand } from './commands/steps.js';
import { downCommand, statusCommand, upCommand } from './commands/lab.js';
import { sandboxCommand } from './commands/sandbox.js';
import { imageCommand } from './commands/image.js';
import { iamCommand, instanceCommand, launchTemplateCommand, logGroupCommand, securityGroupCommand } from './commands/lab-steps.js';
import { autoScalingGroupCommand, capacityProviderCommand, loadBalancerCommand, targetGroupCommand } from './commands/group-steps.js';
import { logsCommand } from './commands/logs.js';
import { completionCommand } from './commands/completion.js';
import { takeExitCode } from './run.js';
import { exitQuietlyOnEpipe } from '../io/terminal.js';

export function buildProgram(): Command {
  const program = new Command('ecs-cwlogs')
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
    .addHelpText(
      'after',
      `
Examples:
  $ ecs-cwlogs up                        # the wizard: asks what it needs, shows the plan and cost, runs it
  $ ecs-cwlogs up --sandbox --yes --image example/cloudwatchlogs:latest   # rehearse with no AWS account
  $ ecs-cwlogs status
  $ ecs-cwlogs logs --follow --stream httpd-access
  $ ecs-cwlogs down

Each lab step is also a command of its own (image, cluster, iam, instance, log-group, task, service),
idempotent and tagged with the stack; \`ecs-cwlogs <command> --help\` has examples.
`,
    )
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  for (const cmd of [
    upCommand(),
    statusCommand(),
    downCommand(),
    logsCommand(),
    imageCommand(),
    clusterCommand(),
    iamCommand(),
    logGroupCommand(),
    securityGroupCommand(),
    instanceCommand(),
    targetGroupCommand(),
    loadBalancerCommand(),
    launchTemplateCommand(),
    autoScalingGroupCommand(),
    capacityProviderCommand(),
    taskCommand(),
    serviceCommand(),
    sandboxCommand(),
    completionCommand(() => program),
  ]) program.addCommand(cmd);
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnEpipe();
  const program = buildProgram();
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
