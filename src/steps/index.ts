/**
 * The lab's steps, in the order the lab takes them. The engine orders them by dependsOn anyway.
 */
import type { AnyStep, StepId } from '../core/step.js';
import { clusterStep } from './cluster.js';
import { iamStep } from './iam.js';
import { logGroupStep } from './log-group.js';
import { instanceStep } from './instance.js';

export const STEPS: readonly AnyStep[] = [iamStep, clusterStep, logGroupStep, instanceStep];

export function stepById(id: StepId): AnyStep {
  const s = STEPS.find((x) => x.id === id);
  if (!s) throw new Error(`Unknown step ${id}`);
  return s;
}
