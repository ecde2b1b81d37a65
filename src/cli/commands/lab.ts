/**
 * The whole-lab commands: `up`, `status` and `down`. Thin: flags and questions in, the engine runs
 * the steps, a summary out. `up` goes Validate -> Ask -> Plan -> Confirm -> Execute; `down` reads
 * what the stack owns, shows it, confirms, deletes.
 */
import { Command } from 'commander';
import { announceDryRun, destroySteps, executePlan, inspectSteps, planReport, planRun, previewDestroy, type RunPlan, type RunReport } from '../../engine/engine.js';
import type { FoundByStep } from '../../engine/ownership.js';
import { forWrites } from '../../engine/run.js';

import { SETTING_LIST, SETTINGS, type SettingKey } from '../../core/settings.js';
import { InterruptedError, UserInputError } from '../../core/errors.js';
import { notAppliedText } from '../../core/config.js';
import { topologyOf, type StackShape } from '../../core/topology.js';
import { givenSettings } from '../../core/resolve.js';
import { downSteps, labSteps, retiredStepsPresent, type LabStepOptions } from '../../steps/index.js';
import type { StackConfig } from '../../core/settings.js';
import { renderDestroy, renderDestroyPreview } from '../render.js';
import { action, type Runtime, type Session } from '../run.js';
import { confirmOrCancel } from './steps.js';
import { addSettingOptions, examples } from './options.js';
import { addImageBuildOptions, imageBuildOptions } from './image.js';
import { renderStatus, renderUpSummary, statusDocument, statusWhere, upSummary } from '../summary.js';
import { commandFor } from '../invocation.js';
import { askMissing, confirmPlan, createPendingKeyPair, planCost } from '../wizard.js';
import { durationMs, renderVerify, runVerify } from './verify.js';
import { statusTraffic } from './query.js';
import type { VerifyReport } from '../../logs/verify.js';
import type { Context } from '../../engine/context.js';
import { deleteLeftAccountLock, describeLeftLock, leftAccountLock, lockParameterName, staleAfterSeconds, type LeftLock } from '../../core/account-lock.js';
import { parameterListed } from '../../steps/inventory.js';

const ALL_SETTINGS = SETTING_LIST.map((s) => s.key).filter((k) => k !== 'region' && k !== 'profile') as SettingKey[];

export function stepOptions(rt: Runtime, s: Session, topology?: Pick<StackConfig, 'instances' | 'loadBalancer'>, baseImage?: string): LabStepOptions {
  const image = imageBuildOptions(rt, s.resolved);
  return { image: baseImage ? { ...image, baseImage } : image, ...(topology ? { topology } : {}) };
}

/**
 * The stack's shape as its saved settings give it: what this machine's last run of the stack made (a
 * run saves them before it writes). Its steps are asked when the shape changes, whatever the lagging
 * Tagging API's listing shows. Nothing saved, or unreadable values: the shape now (the listing alone judges).
 */
function savedShape(s: Session, now: StackShape): StackShape {
  // Nothing saved: this machine never ran the stack (its first run has no shape before it).
  if (!s.inputs.saved || Object.keys(s.inputs.saved).length === 0) return now;
  try {
    const v = givenSettings({ flags: {}, env: {}, saved: s.inputs.saved }).values;
    return { instances: v.instances ?? SETTINGS.instances.default ?? 1, loadBalancer: v.loadBalancer ?? SETTINGS.loadBalancer.default ?? false, monitoring: v.monitoring ?? SETTINGS.monitoring.default ?? now.monitoring };
  } catch {
    return now;
  }
}

export function upCommand(): Command {
  const cmd = new Command('up').description('Create everything, step by step, and print the app URL and where the logs are');
  addSettingOptions(cmd, ALL_SETTINGS);
  addImageBuildOptions(cmd);
  cmd.option('--adopt', 'take over existing resources of the same names that are not tagged for this stack');
  cmd.option('--replace-instance', 'replace the instance where only a new one can change things (a newer AMI, another type, subnet or key pair): launch the new one, then terminate the old');
  cmd.option('--no-verify', "skip the check at the end (a canary request timed until its access line is in CloudWatch Logs; see `verify`)");
  cmd.option('--verify-timeout <duration>', 'how long the check at the end waits for the app and the line (default 3m against AWS, 60s with --sandbox --local)');
  cmd.addHelpText(
    'after',
    examples([
      'ecs-cwlogs up                                  # the wizard asks what it needs',
      'ecs-cwlogs up --replace-instance               # move to the newest ECS-optimized AMI',
      'ecs-cwlogs up --yes --repo user/cloudwatchlogs # no questions: defaults and saved answers',
      'ecs-cwlogs up --yes --image user/cloudwatchlogs@sha256:… --allow-cidr 203.0.113.7/32',
      'ecs-cwlogs up --sandbox                        # rehearse with no AWS account',
      'ecs-cwlogs up --dry-run                        # show the plan and its cost only',
    ]),
  );
  cmd.action(
    action(async (rt) => {
      const dryRun = Boolean(rt.opts.dryRun);
      const verifyTimeout = (rt.opts as { verifyTimeout?: string }).verifyTimeout;
      if (verifyTimeout) durationMs('--verify-timeout', verifyTimeout); // a bad value stops here, before anything
      let s = await rt.session();
      if (!dryRun) await rt.lock('up');
      // Ask: only what is missing, only here. The answers are one more input of the one resolution.
      const asked = await askMissing(rt, s);
      if (asked.any) s = rt.settle(s, { answers: asked.answers }, asked.keyPair);
      // A saved one-instance setting the chosen shape ignores (the subnet, for a group): said in the plan.
      const ignored = notAppliedText(s.resolved);
      if (ignored) rt.io.emit({ type: 'message', level: 'info', text: ignored });
      // Plan: every step prepared, read and planned; any conflict or failed check stops here, with
      // nothing written. Values from a failed check are never saved.
      const local = await localMode(rt);
      const wanted = s.resolved.config;
      if (local && topologyOf(wanted) === 'group') {
        throw new UserInputError({
          what: '--local rehearses one instance, not a group',
          why: `the containers run on this machine's Docker, which stands for one instance; --instances ${wanted.instances}${wanted.loadBalancer ? ' --load-balancer' : ''} needs an Auto Scaling group and an ALB`,
          fix: 'Rehearse the group with --sandbox alone (no --local), or drop --instances/--load-balancer for the local rehearsal.',
        });
      }
      // --local: the images are on this machine, or an httpd-like app image is to be built from
      // --base-image (its ref, a content hash, is what the task runs; never saved).
      const appImage = local ? (await local.checkLocalImages(localImages(s.resolved, { baseImage: (rt.opts as { baseImage?: string }).baseImage ?? asked.baseImage }))).appImage : undefined;
      if (appImage) s = rt.settle(s, { built: { appImage: appImage.ref } });
      const ctx = rt.context(s);
      const steps = labSteps(stepOptions(rt, s, ctx.config, asked.baseImage));
      let plan = await planRun(steps, ctx);
      // Moving between topologies: what the other one left (the lone instance, or the group, or the
      // ALB) goes once the new shape runs the service. Read now, so the plan shows it.
      const retired = await retiredStepsPresent(ctx, ctx.config, savedShape(s, ctx.config));
      const every = labSteps(stepOptions(rt, s, undefined, asked.baseImage));
      const retiring = retired.length ? await previewDestroy(every, ctx, { targets: retired }) : { steps: [] };
      const leaving = retiring.steps.flatMap((x) => x.deleted ?? []);
      const removal = removalWording(retiring, every);
      if (dryRun) {
        announceDryRun(plan, ctx);
        for (const text of removal.dryRun) rt.io.emit({ type: 'message', level: 'info', text });
        const report = planReport(plan);
        const summary = upSummary(ctx, report, commandFor(rt.opts));
        const cost = planCost(ctx, plan);
        rt.io.result({ ...report, stack: rt.stack, summary, notApplied: s.resolved.notApplied ?? [], estimatedCost: cost }, () => `${renderUpSummary(summary, report)}\n\n${cost.text}`);
        return;
      }
      // Another run holding the stack's lock in the account stops this one here, before anything is
      // written (its plan was read from a stack that run is changing). Only a run that writes takes it.
      const writes = plan.changes.length > 0 || leaving.length > 0 || Boolean(asked.keyPair);
      await rt.checkAccountLock(ctx, writes);
      // Confirm, where a question is due.
      for (const text of removal.announce) rt.io.emit({ type: 'message', level: 'info', text });
      if (asked.any && !(await confirmPlan(rt, ctx, plan, asked))) return cancelled(rt, 'Nothing was created.');
      if (leaving.length && !(await confirmOrCancel(rt, removal.question))) return cancelled(rt, 'Nothing was created.');
      // Execute: the lock first, then the plan made again under it (what another run did between
      // this run's reads and its lock is seen), then the answers are saved, so an interrupted run
      // resumes with no questions.
      if (writes) {
        await rt.lockAccount(ctx, 'up');
        const fresh = await planRun(steps, forWrites(ctx));
        if (!(await samePlanOrConfirmed(rt, plan, fresh, asked.any))) return cancelled(rt, 'Nothing was created.');
        plan = fresh;
      }
      await rt.save(s);
      // Without the wizard's confirmation (which shows it), the cost is said before anything is made.
      if (!asked.any && plan.changes.length) rt.io.emit({ type: 'message', level: 'info', text: planCost(ctx, plan).text });
      if (asked.keyPair) await createPendingKeyPair(ctx, rt.io, asked.keyPair);
      await appImage?.build(rt.io, rt.signal);
      const report: RunReport = await executePlan(plan, ctx, { announcePlan: !asked.any && !leaving.length });
      if (leaving.length) {
        const removed = await destroySteps(every, forWrites(ctx), { targets: retired });
        report.steps.push(...removed.steps);
      }
      const summary = upSummary(ctx, report, commandFor(rt.opts));
      // The app as it runs on this machine, not the simulated instance's address.
      if (local) summary.url = (await local.localUrl(rt.stack)) ?? summary.url;
      // The proof that the lines flow (verify.ts says when it runs and why a broken pipeline is exit 1).
      const verified = await verifyAfterUp(rt, ctx, summary.url, Boolean(local));
      rt.io.result({ ...report, stack: rt.stack, summary, notApplied: s.resolved.notApplied ?? [], ...(verified ? { verify: verified } : {}) }, () =>
        renderUpSummary(summary, report) + (verified ? `\n\n${renderVerify(verified)}` : ''),
      );
      if (verified?.broken) rt.io.error(`Pipeline broken: ${verified.broken.what}: ${verified.broken.why}. ${verified.broken.fix}`);
      return verified && !verified.ok ? 1 : undefined;
    }),
  );
  return cmd;
}

/**
 * How `up` tells what it removes beside its plan: the other shape's resources (moving between one
 * instance and a group, or dropping the ALB) go once the new shape runs the service; a facet turned
 * off (--no-monitoring) takes its resources (alarms, dashboard, topic, metric filters, queries) with it.
 */
function removalWording(retiring: Pick<RunReport, 'steps'>, every: readonly { id: string; facet?: string }[]): { dryRun: string[]; announce: string[]; question: string } {
  const monitoringStep = (id: string) => every.find((s) => s.id === id)?.facet === 'monitoring';
  const shape = retiring.steps.filter((x) => !monitoringStep(x.id)).flatMap((x) => x.deleted ?? []);
  const monitoring = retiring.steps.filter((x) => monitoringStep(x.id)).flatMap((x) => x.deleted ?? []);
  const list = (items: string[]) => items.map((d) => `  - ${d}`).join('\n');
  const dryRun: string[] = [];
  const announce: string[] = [];
  if (shape.length) {
    dryRun.push(`Then, the stack's other shape would be removed:\n${list(shape)}`);
    announce.push(`Once the service runs on the new shape, this goes:\n${list(shape)}`);
  }
  if (monitoring.length) {
    dryRun.push(`Then, the stack's monitoring would be removed (monitoring is off: --no-monitoring):\n${list(monitoring)}`);
    announce.push(`Monitoring is off for this stack (--no-monitoring): its alarms, dashboard and the rest go:\n${list(monitoring)}`);
  }
  const all = [...shape, ...monitoring];
  const what = all.length === 1 ? all[0] : `these ${all.length} resources`;
  const question = !monitoring.length
    ? `Remove ${what} once the new shape runs?`
    : !shape.length
      ? `Remove ${what} (the stack's monitoring)?`
      : `Remove ${what} (the other shape's once the new shape runs, and the monitoring)?`;
  return { dryRun, announce, question };
}

/**
 * `verify` after an `up` that applied: against AWS, and with --sandbox --local (where the app runs on
 * this machine). Not in a rehearsal without --local (no app answers) nor against another endpoint
 * (--endpoint-url, AWS_ENDPOINT_URL*: the URL it reports need not answer, or be one to contact from
 * here), nor with --no-verify. A check that
 * could not run (a failed call) is a broken result too: up then exits 1; Ctrl-C is 130 as ever.
 */
async function verifyAfterUp(rt: Runtime, ctx: Context, url: string | undefined, local: boolean): Promise<VerifyReport | undefined> {
  const f = rt.opts as { verify?: boolean; verifyTimeout?: string };
  // Any endpoint override (--endpoint-url, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>) means the
  // addresses the stack reports are not AWS's: the app's URL need not answer, or be one to contact.
  const overridden = Boolean(rt.opts.endpointUrl) || Object.keys(process.env).some((k) => k.startsWith('AWS_ENDPOINT_URL') && process.env[k]);
  if (f.verify === false || (!local && (ctx.target.kind !== 'aws' || overridden))) return undefined;
  const timeoutMs = f.verifyTimeout ? durationMs('--verify-timeout', f.verifyTimeout) : local ? 60_000 : 180_000;
  rt.io.emit({ type: 'message', level: 'info', text: 'Verifying that the logs flow (a canary request; --no-verify skips it)…' });
  try {
    return await runVerify(rt, ctx, { url, noUrlReason: url ? undefined : 'the instance has no public address', timeoutMs });
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, tasks: { running: 0, instances: [] }, streams: [], broken: { where: 'check-failed', what: 'The check could not run', why, fix: 'Run `ecs-cwlogs verify` once the cause is fixed.' } };
  }
}

/** The --local helpers when this command's sandbox runs tasks on Docker (loaded only then). */
async function localMode(rt: Runtime): Promise<typeof import('../local-mode.js') | undefined> {
  const mod = rt.opts.sandbox ? await import('../local-mode.js') : undefined;
  return mod?.isLocal(rt.opts, rt.stack) ? mod : undefined;
}

/** The images the task will run: the app's, and the logging image when it is given (not built). */
function localImages(r: Session['resolved'], flags: { baseImage?: string }): import('../local-mode.js').LocalImagesInput {
  const source = r.sources.appImage;
  return { appImage: r.config.appImage, appImageChosen: source !== undefined && source !== 'default', image: r.config.image, baseImage: flags.baseImage };
}

/**
 * The plan made under the lock is the one that runs. Where it differs from the one confirmed (another
 * run changed the stack meanwhile), it is shown, and asked again when a question was due.
 */
async function samePlanOrConfirmed(rt: Runtime, before: RunPlan, after: RunPlan, asked: boolean): Promise<boolean> {
  const actions = (p: RunPlan) => p.steps.map((x) => `${x.step.id}:${x.plan.action}`).join(' ');
  if (actions(before) === actions(after)) return true;
  const lines = after.changes.map((x) => `  - ${x.step.title}: ${x.plan.action}${x.plan.action !== 'conflict' && x.plan.summary ? ` (${x.plan.summary})` : ''}`);
  rt.io.emit({
    type: 'message',
    level: 'warn',
    text: [`The stack changed since it was read (another run?); the plan is now:`, ...(lines.length ? lines : ['  nothing to change'])].join('\n'),
  });
  return asked ? confirmOrCancel(rt, 'Go on with this plan?') : true;
}

/** "No" at a confirmation: exit 1 in every command, nothing changed. */
export function cancelled(rt: Runtime, what: string): number {
  rt.io.result({ ok: false, stack: rt.stack, cancelled: true }, () => `Cancelled: ${what.charAt(0).toLowerCase()}${what.slice(1)}`);
  return 1;
}

export function statusCommand(): Command {
  const cmd = new Command('status').description("Show each step's state: absent, in sync or drifted, with ids");
  addSettingOptions(cmd, ALL_SETTINGS);
  addImageBuildOptions(cmd);
  cmd.addHelpText('after', examples(['ecs-cwlogs status', 'ecs-cwlogs status --json | jq .steps', 'ecs-cwlogs status --stack demo']));
  cmd.action(
    action(async (rt) => {
      const s = await rt.session();
      const ctx = rt.context(s, 'inspect');
      // The traffic picture is read beside the steps (query.ts: a few seconds at most, left out when empty).
      const picture = statusTraffic(rt, ctx);
      const report = await inspectSteps(labSteps(stepOptions(rt, s, ctx.config)), ctx);
      const local = await localMode(rt);
      const url = local ? await local.localUrl(rt.stack) : undefined;
      const chart = await picture;
      rt.io.result({ ...statusDocument(rt.stack, ctx.target, report), ...(local ? { localUrl: url ?? null } : {}), ...(chart ? { traffic: chart.points } : {}) }, () =>
        renderStatus(rt.stack, report, statusWhere(ctx.target)) + (local ? `\nApp (local): ${url ?? '(no running container publishes port 80)'}` : '') + (chart ? `\n\nTraffic, last hour:\n${chart.text}` : ''),
      );
    }),
  );
  return cmd;
}

function lockStore(ctx: Context, stack: string) {
  return { store: ctx.ssm, stack, staleAfterSeconds: staleAfterSeconds() };
}

/** The stack's lock a stopped run left, where the run's listing shows it (or there is no listing). */
async function leftLock(ctx: Context, stack: string): Promise<LeftLock | undefined> {
  if ((await parameterListed(ctx, lockParameterName(stack)).catch(() => undefined)) === false) return undefined;
  return leftAccountLock(lockStore(ctx, stack));
}

export function downCommand(): Command {
  const cmd = new Command('down').description('Delete everything this stack created, in reverse order (keeps the log group unless --delete-logs)');
  addSettingOptions(cmd, ALL_SETTINGS);
  addImageBuildOptions(cmd);
  cmd.option('--delete-logs', 'also delete the log group and its logs');
  cmd.addHelpText('after', examples(['ecs-cwlogs down', 'ecs-cwlogs down --yes', 'ecs-cwlogs down --yes --delete-logs', 'ecs-cwlogs down --dry-run   # list what would be deleted']));
  cmd.action(
    action(async (rt) => {
      // A stack whose sandbox never ran owns nothing: no sandbox is started to say so.
      if (rt.opts.sandbox && !(await import('../sandbox-mode.js')).sandboxUsed(rt.stack)) {
        rt.io.result({ ok: true, stack: rt.stack, steps: [], deleted: [] }, () => `Nothing to delete: stack ${rt.stack} has never used its sandbox.`);
        return;
      }
      const s = await rt.session();
      if (!rt.opts.dryRun) await rt.lock('down');
      // Everything down finds it deletes: its tags are read from each service (engine/run.ts forWrites).
      const ctx = forWrites(rt.context(s));
      const steps = await downSteps(ctx, ctx.config, stepOptions(rt, s));
      // What the preview finds is what is deleted once confirmed: read once (engine/ownership.ts).
      const found: FoundByStep = new Map();
      const preview = await previewDestroy(steps, ctx, { found });
      const doomed = preview.steps.flatMap((x) => x.deleted ?? []);
      if (doomed.length === 0) {
        // Only a lock may be left: a down killed after its last delete (a live run's stops this one).
        const left = await leftLock(ctx, rt.stack);
        const removed = left && !rt.opts.dryRun ? await deleteLeftAccountLock(lockStore(ctx, rt.stack), left) : false;
        if (rt.opts.sandbox && !rt.opts.dryRun) await (await import('../local-mode.js')).finishSandboxDown(rt.stack, rt.io);
        const lockLine = !left ? [] : rt.opts.dryRun ? [`  would delete ${describeLeftLock(left)}`] : removed ? [`Deleted ${describeLeftLock(left)}.`] : [];
        rt.io.result({ ...preview, stack: rt.stack, deleted: removed && left ? [left.name] : [], ...(left ? { leftLock: { name: left.name, why: left.why, deleted: removed } } : {}) }, () =>
          [`Nothing ${left ? 'else ' : ''}to delete: stack ${rt.stack} has no resources in ${ctx.config.region}.`, ...lockLine, ...preview.steps.flatMap((x) => (x.kept ?? []).map((k) => `  kept ${k}`))].join('\n'),
        );
        return;
      }
      if (rt.opts.dryRun) {
        rt.io.result({ ...preview, stack: rt.stack }, () => renderDestroyPreview(rt.stack, ctx.config.region, preview));
        return;
      }
      await rt.checkAccountLock(ctx, true);
      rt.io.emit({ type: 'message', level: 'info', text: renderDestroyPreview(rt.stack, ctx.config.region, preview, false) });
      if (!(await confirmOrCancel(rt, `Delete what stack ${rt.stack} owns (only resources tagged ecs-cwlogs:stack=${rt.stack})?`))) return cancelled(rt, 'Nothing was deleted.');
      const report = await destroySteps(steps, rt.lockOnFirstWrite(ctx, 'down'), { found });
      // The sandbox's state is in its file: its process (and, with --local, the containers and the
      // stack's directory) can go.
      await rt.unlockAccount(); // (in the sandbox that stops next)
      if (rt.opts.sandbox) await (await import('../local-mode.js')).finishSandboxDown(rt.stack, rt.io);
      rt.io.result({ ...report, stack: rt.stack }, () => renderDestroy(report));
    }),
  );
  return cmd;
}

