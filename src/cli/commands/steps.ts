/**
 * The generic step command: one subcommand per registered step (src/steps/index.ts), built from the
 * step's declaration (its command: summary, settings as flags, options, examples). Thin: flags in,
 * engine call, result out.
 */
import { Command } from 'commander';
import { announceDryRun, destroySteps, executePlan, planReport, planRun, previewDestroy } from '../../engine/engine.js';
import { forWrites } from '../../engine/run.js';
import { UserInputError } from '../../core/errors.js';
import { addSettingOptions, stepHelp } from './options.js';
import type { AnyDeclaredStep } from '../../core/step.js';
import { labSteps } from '../../steps/index.js';
import { topologyOf } from '../../core/topology.js';
import { renderApply, renderDestroy, renderDestroyPreview } from '../render.js';
import { action, type Runtime } from '../run.js';
import { imageBuildOptions } from './image.js';

/**
 * Ask before deleting, as `down` does: --yes skips the question; with no terminal to ask in and no
 * --yes, nothing is deleted (exit 2). False: the user said no.
 */
export async function confirmOrCancel(rt: Runtime, message: string): Promise<boolean> {
  if (rt.opts.yes) return true;
  if (!rt.io.interactive) {
    throw new UserInputError({ what: 'Not deleting without confirmation', why: 'there is no terminal to ask in', fix: 'Pass --yes to delete (or --dry-run to see what would be deleted).' });
  }
  return rt.io.ask({ flag: '--yes', kind: 'confirm', message, default: false });
}

/** A step of the other topology, run on its own: it would build what this stack's shape doesn't use. */
function outsideTopology(step: Pick<AnyDeclaredStep, 'id' | 'shapes' | 'facet'>, c: { instances: number; loadBalancer: boolean; monitoring?: boolean }): UserInputError {
  const group = topologyOf(c) === 'group';
  const id = step.id;
  if (step.facet === 'monitoring' && c.monitoring === false) {
    return new UserInputError({
      what: `The ${id} step is not part of this stack: monitoring is off`,
      why: 'the stack was set up with --no-monitoring (saved)',
      fix: `Pass --monitoring (to \`ecs-cwlogs ${id}\` or \`up\`) to turn it on again, or --delete to remove a left-over ${id}.`,
    });
  }
  return new UserInputError({
    what: `The ${id} step is not part of this stack's shape`,
    why: group
      ? `the stack runs an Auto Scaling group (--instances ${c.instances}${c.loadBalancer ? ' --load-balancer' : ''}), not ${step.shapes.includes('single') ? 'a single instance' : `a ${id}`}`
      : `the stack runs one instance (--instances 1${c.loadBalancer ? '' : ', no --load-balancer'}); ${id} belongs to the group topology`,
    fix: group
      ? `Pass --instances 1 --no-load-balancer to \`ecs-cwlogs up\` to move to one instance, or --delete to remove a left-over ${id}.`
      : `Pass --instances N or --load-balancer to \`ecs-cwlogs up\` (the group and its steps come with it), or --delete to remove a left-over ${id}.`,
  });
}

export function stepCommand(step: AnyDeclaredStep): Command {
  const spec = { name: step.id, ...step.command };
  const cmd = new Command(spec.name).description(spec.summary);
  addSettingOptions(cmd, spec.settings);
  cmd.option('--delete', `delete what this step created for the stack (only what carries the stack tag)`);
  cmd.option('--adopt', 'take over an existing resource of the same name that is not tagged for this stack');
  for (const o of spec.options ?? []) cmd.option(o.flags, o.description);
  cmd.addHelpText('after', stepHelp(spec));
  cmd.action(
    action(async (rt) => {
      const s = await rt.session();
      const dryRun = Boolean(rt.opts.dryRun);
      if (!dryRun) await rt.lock(`${spec.name}${rt.opts.delete ? ' --delete' : ''}`);
      // --delete deletes what it finds: its tags are read from each service (engine/run.ts forWrites).
      const ctx = rt.opts.delete ? forWrites(rt.context(s)) : rt.context(s);
      const image = imageBuildOptions(rt, s.resolved);
      const steps = labSteps({ image, ...(rt.opts.delete ? {} : { topology: ctx.config }) });
      if (!rt.opts.delete && !steps.some((x) => x.id === spec.name)) throw outsideTopology(step, ctx.config);
      if (rt.opts.delete) {
        const preview = await previewDestroy(steps, ctx, { targets: [spec.name] });
        const doomed = preview.steps.flatMap((x) => x.deleted ?? []);
        if (dryRun || doomed.length === 0) {
          rt.io.result({ ...preview, stack: rt.stack }, () => renderDestroyPreview(rt.stack, ctx.config.region, preview));
          return;
        }
        await rt.checkAccountLock(ctx, true);
        rt.io.emit({ type: 'message', level: 'info', text: renderDestroyPreview(rt.stack, ctx.config.region, preview, false) });
        if (!(await confirmOrCancel(rt, `Delete ${doomed.length === 1 ? doomed[0] : `these ${doomed.length} resources`} of stack ${rt.stack}?`))) {
          rt.io.result({ ok: false, stack: rt.stack, cancelled: true }, () => 'Cancelled: nothing was deleted.');
          return 1;
        }
        const report = await destroySteps(steps, rt.lockOnFirstWrite(ctx, `${spec.name} --delete`), { targets: [spec.name] });
        rt.io.result({ ...report, stack: rt.stack }, () => renderDestroy(report));
        return;
      }
      let plan = await planRun(steps, ctx, { targets: [spec.name], withAfter: true });
      let report;
      if (dryRun) {
        announceDryRun(plan, ctx);
        report = planReport(plan);
      } else {
        await rt.checkAccountLock(ctx, plan.changes.length > 0);
        if (plan.changes.length > 0) {
          // The lock in the account, then the plan again under it (what another run did meanwhile).
          await rt.lockAccount(ctx, spec.name);
          plan = await planRun(steps, forWrites(ctx), { targets: [spec.name], withAfter: true });
        }
        await rt.save(s);
        report = await executePlan(plan, ctx);
      }
      rt.io.result({ ...report, stack: rt.stack }, () => renderApply(report));
    }),
  );
  return cmd;
}
