/**
 * The lab's steps, in the order the lab takes them. The engine orders them by dependsOn anyway:
 *
 *   image ──────────────────────────────────┐
 *   iam ──────┐                              ├─ task ─┐
 *   cluster ──┼──────────────── instance ────────────┼─ service        (single topology)
 *   log-group │  security-group ┘                    │
 *             └─ security-group ── launch-template ──…                 (group topology: + ASG,
 *                (after load-balancer)                                  capacity provider, ALB)
 *
 * Which of them a run takes is the topology's (src/core/topology.ts: stepsFor); `down` takes them all.
 */
import type { AnyStep, StepId } from '../core/step.js';
import { clusterStep } from './cluster.js';
import { createImageStep, imageStep, type ImageStepOptions } from './image.js';
import { iamStep } from './iam.js';
import { logGroupStep } from './log-group.js';
import { instanceStep } from './instance.js';
import { launchTemplateStep } from './launch-template.js';
import { securityGroupStep } from './security-group.js';
import { taskStep } from './task.js';
import { serviceStep } from './service.js';

export const STEPS: readonly AnyStep[] = [imageStep, iamStep, clusterStep, logGroupStep, securityGroupStep, instanceStep, launchTemplateStep, taskStep, serviceStep];

export interface LabStepOptions {
  image?: ImageStepOptions;
}

/** The steps with per-run options (the image step takes build and push options). */
export function labSteps(opts: LabStepOptions = {}): AnyStep[] {
  const image = opts.image ? createImageStep(opts.image) : imageStep;
  return STEPS.map((s) => (s.id === 'image' ? image : s));
}

export function stepById(id: StepId): AnyStep {
  const s = STEPS.find((x) => x.id === id);
  if (!s) throw new Error(`Unknown step ${id}`);
  return s;
}
