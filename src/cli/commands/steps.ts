/**
 * One subcommand per lab step (`cluster`, `iam`, `instance`, ...). Thin: flags in, engine call, result out.
 */
import { Command, Option } from 'commander';
import { applySteps, destroySteps } from '../../core/engine.js';
import { SETTINGS, type SettingKey } from '../../core/settings.js';
import type { StepId } from '../../core/step.js';
import { STEPS } from '../../steps/index.js';
import { renderApply, renderDestroy } from '../render.js';
import { action } from '../run.js';

export interface StepCommandSpec {
  name: StepId;
  summary: string;
  /** Settings this step's command accepts as flags. */
  settings: SettingKey[];
  examples: string[];
  /** Extra work before the engine, e.g. discovering the default VPC. */
  prepare?: Parameters<typeof action>[0];
}

export function addSettingOptions(cmd: Command, keys: readonly SettingKey[]): Command {
  for (const k of keys) {
    const s = SETTINGS[k];
    const def = s.default !== undefined ? ` (default: ${s.default})` : '';
    cmd.addOption(new Option(s.flag, `${s.description}${def}`));
  }
  return cmd;
}

export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

export function stepCommand(spec: StepCommandSpec): Command {
  const cmd = new Command(spec.name).description(spec.summary);
  addSettingOptions(cmd, spec.settings);
  cmd.option('--delete', `delete what this step created for the stack (only what carries the stack tag)`);
  cmd.option('--adopt', 'take over an existing resource of the same name that is not tagged for this stack');
  cmd.addHelpText('after', examples(spec.examples));
  cmd.action(
    action(async (rt) => {
      const ctx = await rt.context();
      if (rt.opts.delete) {
        const report = await destroySteps(STEPS, ctx, { targets: [spec.name] });
        rt.io.result({ ...report, stack: rt.stack }, () => renderDestroy(report));
        return;
      }
      const report = await applySteps(STEPS, ctx, { targets: [spec.name], dryRun: Boolean(rt.opts.dryRun) });
      rt.io.result({ ...report, stack: rt.stack }, () => renderApply(report));
    }),
  );
  return cmd;
}

export const clusterCommand = () =>
  stepCommand({
    name: 'cluster',
    summary: 'Create the ECS cluster (lab step 7), tagged with the stack',
    settings: ['clusterName'],
    examples: ['ecs-cwlogs cluster', 'ecs-cwlogs cluster --cluster-name logs-demo --dry-run', 'ecs-cwlogs cluster --delete --yes'],
  });

export const taskCommand = () =>
  stepCommand({
    name: 'task',
    summary: 'Register the task definition (lab step 13): the logging container and httpd, linked; a new revision only when it changed',
    settings: ['taskFamily', 'image', 'appImage', 'logGroup', 'retentionDays'],
    examples: ['ecs-cwlogs task --image user/cloudwatchlogs@sha256:…', 'ecs-cwlogs task --app-image httpd:2.4 --dry-run', 'ecs-cwlogs task --delete --yes'],
  });

export const serviceCommand = () =>
  stepCommand({
    name: 'service',
    summary: 'Create or update the ECS service (lab step 14) and wait for a steady state; prints the app URL',
    settings: ['serviceName', 'clusterName', 'taskFamily'],
    examples: ['ecs-cwlogs service', 'ecs-cwlogs service --dry-run', 'ecs-cwlogs service --delete --yes'],
  });
