/**
 * The whole-lab commands: `up`, `status` and `down`. Thin: flags and questions in, the engine runs
 * the steps, a summary out.
 */
import { Command } from 'commander';
import { saveStack, toSaved } from '../../core/config.js';
import type { Context } from '../../core/context.js';
import { applySteps, destroySteps, EngineError, inspectSteps, observeSteps, type RunReport } from '../../core/engine.js';
import { UserInputError } from '../../core/errors.js';
import { SETTING_LIST, type SettingKey } from '../../core/settings.js';
import { labSteps, type LabStepOptions } from '../../steps/index.js';
import { renderDestroy } from '../render.js';
import { action, type Runtime } from '../run.js';
import { addSettingOptions, examples } from './steps.js';
import { addImageBuildOptions, imageBuildOptions } from './image.js';
import { renderStatus, renderUpSummary, upSummary } from '../summary.js';
import { runWizard } from '../wizard.js';

const ALL_SETTINGS = SETTING_LIST.map((s) => s.key).filter((k) => k !== 'region' && k !== 'profile') as SettingKey[];

export function stepOptions(rt: Runtime): LabStepOptions {
  return { image: imageBuildOptions(rt) };
}

async function save(rt: Runtime, ctx?: Context): Promise<void> {
  const config = ctx?.config ?? rt.resolved.config;
  await saveStack(toSaved(rt.stack, config, rt.saved));
}

export function upCommand(): Command {
  const cmd = new Command('up').description('Create everything, step by step, and print the app URL and where the logs are');
  addSettingOptions(cmd, ALL_SETTINGS);
  addImageBuildOptions(cmd);
  cmd.option('--adopt', 'take over existing resources of the same names that are not tagged for this stack');
  cmd.addHelpText(
    'after',
    examples([
      'ecs-cwlogs up                                  # the wizard asks what it needs',
      'ecs-cwlogs up --yes --repo user/cloudwatchlogs # no questions: defaults and saved answers',
      'ecs-cwlogs up --yes --image user/cloudwatchlogs@sha256:… --allow-cidr 203.0.113.7/32',
      'ecs-cwlogs up --sandbox                        # rehearse with no AWS account',
      'ecs-cwlogs up --dry-run                        # show the plan only',
    ]),
  );
  cmd.action(
    action(async (rt) => {
      // Validate (done: every flag, env and saved value) -> Ask -> Execute.
      const ctx = await runWizard(rt, () => rt.context());
      const steps = labSteps(stepOptions(rt));
      let report: RunReport;
      // Even a failed or interrupted run keeps the answers (written atomically) so `up` resumes with no
      // questions; input that failed validation is never saved.
      let keep = !rt.opts.dryRun;
      try {
        // When the wizard asked, it has shown the whole plan and had it confirmed: don't repeat it.
        const shown = Object.values(rt.resolved.sources).includes('prompt');
        report = await applySteps(steps, ctx, { dryRun: Boolean(rt.opts.dryRun), announcePlan: !shown });
      } catch (e) {
        if (e instanceof UserInputError || (e instanceof EngineError && e.error instanceof UserInputError)) keep = false;
        throw e;
      } finally {
        if (keep) await save(rt, ctx);
      }
      const summary = upSummary(ctx, report, rt.opts.sandbox ? ' --sandbox' : '');
      rt.io.result({ ...report, stack: rt.stack, summary }, () => renderUpSummary(summary, report));
    }),
  );
  return cmd;
}

export function statusCommand(): Command {
  const cmd = new Command('status').description("Show each step's state: absent, in sync or drifted, with ids");
  addSettingOptions(cmd, ALL_SETTINGS);
  addImageBuildOptions(cmd);
  cmd.addHelpText('after', examples(['ecs-cwlogs status', 'ecs-cwlogs status --json | jq .steps', 'ecs-cwlogs status --stack demo']));
  cmd.action(
    action(async (rt) => {
      const ctx = await rt.context();
      ctx.flags.readOnly = true;
      const report = await inspectSteps(labSteps(stepOptions(rt)), ctx, { prepare: true });
      rt.io.result({ ...report, stack: rt.stack }, () => renderStatus(rt.stack, report));
    }),
  );
  return cmd;
}

export function downCommand(): Command {
  const cmd = new Command('down').description('Delete everything this stack created, in reverse order (keeps the log group unless --delete-logs)');
  addSettingOptions(cmd, ALL_SETTINGS);
  addImageBuildOptions(cmd);
  cmd.option('--delete-logs', 'also delete the log group and its logs');
  cmd.addHelpText('after', examples(['ecs-cwlogs down', 'ecs-cwlogs down --yes', 'ecs-cwlogs down --yes --delete-logs']));
  cmd.action(
    action(async (rt) => {
      const ctx = await rt.context();
      const steps = labSteps(stepOptions(rt));
      // The image is never deleted (registries keep it), so its state doesn't matter here.
      const found = await observeSteps(steps.filter((s) => s.id !== 'image'), ctx);
      const existing = found.filter((s) => s.present && (s.id !== 'log-group' || rt.opts.deleteLogs));
      if (existing.length === 0) {
        rt.io.result({ ok: true, stack: rt.stack, deleted: [] }, () => `Nothing to delete: stack ${rt.stack} has no resources in ${ctx.config.region}.`);
        return;
      }
      rt.io.emit({ type: 'message', level: 'info', text: `Stack ${rt.stack} in ${ctx.config.region}: ${existing.map((s) => s.title).join(', ')} exist.` });
      if (!rt.opts.deleteLogs) rt.io.emit({ type: 'message', level: 'info', text: `The log group ${ctx.config.logGroup} is kept (pass --delete-logs to delete it).` });
      if (!rt.opts.yes) {
        if (!rt.io.interactive) {
          throw new UserInputError({ what: 'Not deleting without confirmation', why: 'there is no terminal to ask in', fix: 'Pass --yes to delete.' });
        }
        const ok = await rt.io.ask({ flag: '--yes', kind: 'confirm', message: `Delete what stack ${rt.stack} owns (only resources tagged ecs-cwlogs:stack=${rt.stack})?`, default: false });
        if (!ok) {
          rt.io.result({ ok: false, stack: rt.stack, cancelled: true }, () => 'Cancelled: nothing was deleted.');
          return 1;
        }
      }
      const report = await destroySteps(steps, ctx);
      rt.io.result({ ...report, stack: rt.stack }, () => renderDestroy(report));
    }),
  );
  return cmd;
}
