/**
 * Ownership rules shared by every step: a resource is ours when it carries the stack tag with our
 * stack's name. One of the same name without it is never silently adopted.
 */
import { diff } from '../core/diff.js';
import type { FieldDiff, Plan } from '../core/step.js';

export function ownershipConflict(kind: string, name: string, taggedStack: string | undefined, command: string): Plan {
  return {
    action: 'conflict',
    what: `${kind} ${name} already exists and is not part of this stack`,
    why: taggedStack ? `it is tagged as stack "${taggedStack}"` : 'it does not carry the ecs-cwlogs:stack tag',
    fix: `Choose another name, or pass --adopt to \`ecs-cwlogs ${command}\` (or \`up\`) to take it over: it will be tagged and managed (and deleted by \`down\`).`,
  };
}

/** Differences in the tags we manage; tags others put on the resource are left alone. */
export function ownedTagsDiff(observed: Record<string, string>, desired: Record<string, string>): FieldDiff[] {
  const mine = Object.fromEntries(Object.keys(desired).map((k) => [k, observed[k]]));
  return diff(mine, desired, 'tags');
}
