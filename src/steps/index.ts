/**
 * The lab's steps. The engine orders them by dependsOn (and `after`, among the steps of the run).
 * Which steps a run has is the topology's (src/core/topology.ts):
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
import type { StackConfig } from '../core/settings.js';
import type { AnyStep, DestroyResult, StepId } from '../core/step.js';
import { awsErrorCode, hasAwsCode } from '../core/errors.js';
import { stepsFor } from '../core/topology.js';
import type { Context } from '../engine/context.js';
import { destroyOf, destroyPreviewOf } from '../engine/ownership.js';
import { taggedResources, type TaggedResource } from './inventory.js';
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

const UNAVAILABLE = ['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'InvalidAction', 'UnknownOperationException', 'NotImplemented', 'UnsupportedOperation'];

/**
 * A step of the other topology, in a `down` or a move between shapes: where the caller may not read
 * that service at all (a policy written for one instance has no autoscaling:* or
 * elasticloadbalancing:*), or the endpoint does not have it, the stack cannot have made anything
 * there, so it says what it could not check instead of failing the teardown.
 */
function outsideItsShape<S extends AnyStep>(step: S): S {
  const guard = async (ctx: { config: StackConfig }, run: () => Promise<DestroyResult>): Promise<DestroyResult> => {
    try {
      return await run();
    } catch (e) {
      if (stepsFor(ctx.config).includes(step.id) || !hasAwsCode(e, ...UNAVAILABLE)) throw e;
      return { deleted: [], kept: [`${step.title}: not checked (${awsErrorCode(e)}); this stack's shape doesn't use it`] };
    }
  };
  return {
    ...step,
    destroy: (ctx: { config: StackConfig }) => guard(ctx, () => destroyOf(step, ctx)),
    destroyPreview: (ctx: { config: StackConfig }) => guard(ctx, () => destroyPreviewOf(step, ctx)),
  };
}

export const STEPS: readonly AnyStep[] = [
  imageStep,
  iamStep,
  clusterStep,
  logGroupStep,
  securityGroupStep,
  outsideItsShape(instanceStep),
  outsideItsShape(targetGroupStep),
  outsideItsShape(loadBalancerStep),
  outsideItsShape(launchTemplateStep),
  outsideItsShape(autoScalingGroupStep),
  outsideItsShape(capacityProviderStep),
  taskStep,
  serviceStep,
];

export interface LabStepOptions {
  image?: ImageStepOptions;
  /** Only the steps of this configuration's topology (absent: every step, as `down` needs). */
  topology?: Pick<StackConfig, 'instances' | 'loadBalancer'>;
}

/** The steps with per-run options (the image step takes build and push options). */
export function labSteps(opts: LabStepOptions = {}): AnyStep[] {
  const image = opts.image ? createImageStep(opts.image) : imageStep;
  const ids = opts.topology ? new Set(stepsFor(opts.topology)) : undefined;
  return STEPS.filter((s) => !ids || ids.has(s.id)).map((s) => (s.id === 'image' ? image : s));
}

/** The steps of the other topology (and the ALB's, without --load-balancer): what moving between them removes. */
export function retiredSteps(topology: Pick<StackConfig, 'instances' | 'loadBalancer'>): StepId[] {
  const ids = new Set(stepsFor(topology));
  return STEPS.filter((s) => !ids.has(s.id)).map((s) => s.id);
}

/** Which resource types (ARN parts, tags) show that a step of the other shape has something to remove. */
const LEFT_BEHIND: [StepId[], (r: TaggedResource) => boolean][] = [
  [['instance'], (r) => /:instance\//.test(r.arn) && !r.tags['aws:autoscaling:groupName']],
  [['launch-template', 'auto-scaling-group'], (r) => /:launch-template\//.test(r.arn)],
  [['capacity-provider', 'auto-scaling-group'], (r) => /:capacity-provider\//.test(r.arn)],
  [['auto-scaling-group'], (r) => /:instance\//.test(r.arn) && Boolean(r.tags['aws:autoscaling:groupName'])],
  [['load-balancer'], (r) => /:loadbalancer\/app\//.test(r.arn)],
  [['target-group'], (r) => /:targetgroup\//.test(r.arn)],
];

/**
 * The retired steps that may have something to remove, judged from the stack's tagged resources
 * (one Tagging API call, already made for the run): so a stack that never changed shape reads
 * nothing more. Without the Tagging API, every retired step is asked.
 */
export async function retiredStepsPresent(ctx: Pick<Context, 'tagging' | 'stack'>, topology: Pick<StackConfig, 'instances' | 'loadBalancer'>): Promise<StepId[]> {
  const retired = retiredSteps(topology);
  const tagged = await taggedResources(ctx);
  if (!tagged) return retired;
  const found = new Set<StepId>();
  for (const [ids, match] of LEFT_BEHIND) if (tagged.some(match)) ids.forEach((id) => found.add(id));
  return retired.filter((id) => found.has(id));
}

export function stepById(id: StepId): AnyStep {
  const s = STEPS.find((x) => x.id === id);
  if (!s) throw new Error(`Unknown step ${id}`);
  return s;
}
