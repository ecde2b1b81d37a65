/**
 * The lab's steps: the registry. Each step declares, in its own file, its id and title, its outputs
 * (core/step.ts StepOutputs), its command, the shapes it belongs to and how the Tagging API finds its
 * resources; everything else is derived from that list: the CLI's subcommands and help, the steps of
 * each shape, the Tagging API's resource types, what a change of shape leaves behind. Adding a step is
 * its file, its test, and its name in STEPS (one line, with its import).
 *
 * The engine orders them by dependsOn (and `after`, among the steps of the run):
 *
 *   one instance (the default)
 *     image ───────────────────────────────────┐
 *     iam ───────┐                             ├─ task ─┐
 *     cluster ───┼─ security-group ─ instance ─┼────────┼─ service
 *     log-group  │                             │        │
 *
 *   a group (--instances N, --load-balancer)
 *     target-group ─ load-balancer ─ security-group ─ launch-template ─ auto-scaling-group ─ capacity-provider ─ service
 *     (iam and cluster before the launch template; image, log-group, task as above)
 *
 * `down` runs every step, so whatever either topology left is deleted in the reverse order.
 */
import type { StackConfig, Topology } from '../core/settings.js';
import type { AnyDeclaredStep, DestroyResult, StepId, TaggedResource } from '../core/step.js';
import { awsErrorCode, hasAwsCode } from '../core/errors.js';
import { inShape, type StackShape } from '../core/topology.js';
import type { Context } from '../engine/context.js';
import { destroyOf, destroyPreviewOf } from '../engine/ownership.js';
import { stackGroupsAtStart, taggedResources, useResourceTypes } from './inventory.js';
import { autoScalingGroupStep } from './auto-scaling-group.js';
import { capacityProviderStep } from './capacity-provider.js';
import { clusterStep } from './cluster.js';
import { createImageStep, imageStep, type ImageStepOptions } from './image.js';
import { iamStep } from './iam.js';
import { logGroupStep } from './log-group.js';
import { instanceStep } from './instance.js';
import { launchTemplateStep } from './launch-template.js';
import { loadBalancerStep } from './load-balancer.js';
import { securityGroupStep } from './security-group.js';
import { targetGroupStep } from './target-group.js';
import { taskStep } from './task.js';
import { serviceStep } from './service.js';
import { metricFiltersStep } from './metric-filters.js';
import { alarmTopicStep } from './alarm-topic.js';
import { alarmsStep } from './alarms.js';
import { dashboardStep } from './dashboard.js';
import { queryDefinitionsStep } from './query-definitions.js';

// The steps the CLI reads a typed output of (`report.outputs[instanceStep.id]`), and their outputs' types.
export { alarmTopicStep, autoScalingGroupStep, dashboardStep, imageStep, instanceStep, loadBalancerStep, serviceStep };
export type { AutoScalingGroupOutputs } from './auto-scaling-group.js';
export type { InstanceOutputs } from './instance.js';

const UNAVAILABLE = ['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'InvalidAction', 'UnknownOperationException', 'NotImplemented', 'UnsupportedOperation'];

/** A step of every shape (one instance and a group alike). */
function everyShape(step: Pick<AnyDeclaredStep, 'shapes'>): boolean {
  return step.shapes.includes('single') && step.shapes.includes('group');
}

/**
 * A step of the other topology, in a `down` or a move between shapes: where the caller may not read
 * that service at all (a policy written for one instance has no autoscaling:* or
 * elasticloadbalancing:*), or the endpoint does not have it, the stack cannot have made anything
 * there, so it says what it could not check instead of failing the teardown.
 */
function outsideItsShape<S extends AnyDeclaredStep>(step: S): S {
  if (everyShape(step)) return step;
  const guard = async (ctx: { config: StackConfig }, run: () => Promise<DestroyResult>): Promise<DestroyResult> => {
    try {
      return await run();
    } catch (e) {
      if (inShape(step, ctx.config) || !hasAwsCode(e, ...UNAVAILABLE)) throw e;
      return { deleted: [], kept: [`${step.title}: not checked (${awsErrorCode(e)}); this stack's shape doesn't use it`] };
    }
  };
  return {
    ...step,
    destroy: (ctx: { config: StackConfig }) => guard(ctx, () => destroyOf(step, ctx)),
    destroyPreview: (ctx: { config: StackConfig }) => guard(ctx, () => destroyPreviewOf(step, ctx)),
  };
}

/** The registered steps as the engine runs them: a step's `before` becomes the other step's `after`. */
function registry(steps: readonly AnyDeclaredStep[]): AnyDeclaredStep[] {
  return steps.map((s) => {
    const before = steps.filter((o) => o.before?.includes(s.id)).map((o) => o.id);
    return outsideItsShape(before.length ? { ...s, after: [...(s.after ?? []), ...before] } : s);
  });
}

// The registration: the lab's steps, in the order of the command list (the engine orders them by their dependencies).
export const STEPS: readonly AnyDeclaredStep[] = registry([imageStep, iamStep, clusterStep, logGroupStep, securityGroupStep, instanceStep, targetGroupStep, loadBalancerStep, launchTemplateStep, autoScalingGroupStep, capacityProviderStep, taskStep, serviceStep, metricFiltersStep, alarmTopicStep, alarmsStep, dashboardStep, queryDefinitionsStep]);

/** The steps of a configuration's shape, from the steps' `shapes`. */
export function stepsFor(config: StackShape): StepId[] {
  return STEPS.filter((s) => inShape(s, config)).map((s) => s.id);
}

/** The steps each topology runs (a group's with --load-balancer). */
export const TOPOLOGY_STEPS: Record<Topology, readonly StepId[]> = {
  single: stepsFor({ instances: 1, loadBalancer: false }),
  group: stepsFor({ instances: 2, loadBalancer: true }),
};

/** Steps of the group topology that exist only with --load-balancer. */
export const LOAD_BALANCER_STEPS: readonly StepId[] = TOPOLOGY_STEPS.group.filter((id) => !stepsFor({ instances: 2, loadBalancer: false }).includes(id));

/** The top-level help's lists: the steps of every shape, of one instance only, of a group only. */
export function stepsByShape(steps: readonly AnyDeclaredStep[] = STEPS): { every: StepId[]; single: StepId[]; group: StepId[] } {
  const ids = (f: (s: AnyDeclaredStep) => boolean) => steps.filter(f).map((s) => s.id);
  return {
    every: ids(everyShape),
    single: ids((s) => !everyShape(s) && s.shapes.includes('single')),
    group: ids((s) => !everyShape(s) && !s.shapes.includes('single')),
  };
}

// The Tagging API is asked for every resource type a step is found by.
useResourceTypes([...new Set(STEPS.flatMap((s) => s.tagged.map((k) => k.type)))]);

export interface LabStepOptions {
  image?: ImageStepOptions;
  /** Only the steps of this configuration's topology (absent: every step, as `down` needs). */
  topology?: StackShape;
}

/** The steps with per-run options (the image step takes build and push options). */
export function labSteps(opts: LabStepOptions = {}): AnyDeclaredStep[] {
  const image = opts.image ? createImageStep(opts.image) : imageStep;
  const topology = opts.topology;
  return STEPS.filter((s) => !topology || inShape(s, topology)).map((s) => (s.id === imageStep.id ? { ...image, after: s.after } : s));
}

/** The steps of the other topology (and the ALB's, without --load-balancer): what moving between them removes. */
export function retiredSteps(topology: StackShape): StepId[] {
  return STEPS.filter((s) => !inShape(s, topology)).map((s) => s.id);
}

/** "arn:aws:ecs:r:a:task-definition/web:3" => "ecs:task-definition", as the Tagging API names types. */
function typeOf(arn: string): string {
  const parts = arn.split(':');
  return `${parts[2] ?? ''}:${parts.slice(5).join(':').split(/[/:]/)[0] ?? ''}`;
}

/** Whether a tagged resource shows that this step has something in the stack (its `tagged`). */
function shows(step: Pick<AnyDeclaredStep, 'tagged'>, r: TaggedResource): boolean {
  const type = typeOf(r.arn);
  const service = type.split(':')[0];
  // A kind named by its service alone ("sns": a topic's ARN names no type) is any resource of it.
  return step.tagged.some((k) => (k.type === type || k.type === service) && (k.is ? k.is(r) : true));
}

/**
 * The retired steps that may have something to remove, judged from the stack's tagged resources
 * (one Tagging API call, already made for the run): so a stack that never changed shape reads
 * nothing more. Without the Tagging API, every retired step is asked.
 */
export async function retiredStepsPresent(ctx: Pick<Context, 'tagging' | 'stack'> & Partial<Pick<Context, 'autoscaling' | 'inventory'>>, topology: StackShape, before?: StackShape): Promise<StepId[]> {
  const { present } = await retiredStepsFound(ctx, topology);
  if (!before) return present;
  // The listing lags the services (a resource made moments ago is not listed yet: docs/aws-behaviour.md,
  // "The Tagging API's listing answers tags, never ownership by absence"): the steps of the shape the
  // stack had before this run (its saved settings) are asked whatever it shows.
  const was = retiredSteps(topology).filter((id) => inShape(stepById(id), before) && !present.includes(id));
  return [...present, ...was];
}

/** retiredStepsPresent, and the retired steps that could not be judged (the read that would tell was refused: its code). */
async function retiredStepsFound(ctx: Pick<Context, 'tagging' | 'stack'> & Partial<Pick<Context, 'autoscaling' | 'inventory'>>, topology: StackShape): Promise<{ present: StepId[]; unchecked: Map<StepId, string> }> {
  const retired = retiredSteps(topology);
  const unchecked = new Map<StepId, string>();
  const tagged = await taggedResources(ctx);
  if (!tagged) return { present: retired, unchecked };
  // A step whose resources the Tagging API cannot show (metric filters, query definitions: AWS
  // cannot tag them) is asked: it reads its own, by name.
  const shown = retired.filter((id) => tagged.some((r) => shows(stepById(id), r)));
  const present = retired.filter((id) => shown.includes(id) || stepById(id).tagged.length === 0);
  // The steps of a facet (monitoring) go together: one shown by its tags is enough to ask them all
  // (the Tagging API may not list every kind, e.g. dashboards).
  const facets = new Set(shown.map((id) => stepById(id).facet).filter((f) => f !== undefined));
  for (const id of retired) {
    const facet = stepById(id).facet;
    if (facet && facets.has(facet) && !present.includes(id)) present.push(id);
  }
  // The Tagging API has no Auto Scaling groups: a group left with none of what shows it (no
  // instance, launch template or capacity provider) is found by its own tag, in one call.
  if (retired.includes(autoScalingGroupStep.id) && !present.includes(autoScalingGroupStep.id) && ctx.autoscaling) {
    const groups = await stackGroupsPresent({ autoscaling: ctx.autoscaling, stack: ctx.stack, inventory: ctx.inventory });
    if (groups === true) present.push(autoScalingGroupStep.id);
    else if (typeof groups === 'string') unchecked.set(autoScalingGroupStep.id, groups);
  }
  return { present, unchecked };
}

/**
 * Whether an Auto Scaling group carries the stack tag; where the caller may not ask (a policy
 * written for one instance) or the endpoint has no Auto Scaling, the error code instead.
 */
async function stackGroupsPresent(ctx: Pick<Context, 'autoscaling' | 'stack' | 'inventory'>): Promise<boolean | string> {
  try {
    return (await stackGroupsAtStart(ctx)).length > 0;
  } catch (e) {
    if (hasAwsCode(e, 'AccessDenied', 'AccessDeniedException', 'InvalidAction', 'UnknownOperationException') || awsErrorCode(e) === 'NotImplemented') return awsErrorCode(e) ?? 'NotImplemented';
    throw e;
  }
}

/**
 * The steps `down` runs: every step, but a step of the other shape that the stack's tagged resources
 * show nothing of (retiredStepsPresent) reads nothing and deletes nothing: a one-instance stack's
 * `down` reads no group, ALB, target group, launch template or capacity provider one by one. A step
 * that declares no Tagging API kind can't be judged that way and is read as before. One that could
 * not be judged (the read was refused) says so, as a step outside its shape does.
 */
export async function downSteps(ctx: Pick<Context, 'tagging' | 'autoscaling' | 'stack' | 'inventory'>, topology: StackShape, opts: LabStepOptions = {}): Promise<AnyDeclaredStep[]> {
  const { present, unchecked } = await retiredStepsFound(ctx, topology);
  const nothing = (s: AnyDeclaredStep) => async (): Promise<DestroyResult> => {
    const code = unchecked.get(s.id);
    return { deleted: [], kept: code ? [`${s.title}: not checked (${code}); this stack's shape doesn't use it`] : [] };
  };
  return labSteps({ ...opts, topology: undefined }).map((s) =>
    inShape(s, topology) || present.includes(s.id) || s.tagged.length === 0 ? s : { ...s, destroy: nothing(s), destroyPreview: nothing(s) },
  );
}

export function stepById(id: StepId): AnyDeclaredStep {
  const s = STEPS.find((x) => x.id === id);
  if (!s) throw new Error(`Unknown step ${id}`);
  return s;
}
