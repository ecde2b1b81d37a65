/**
 * The one idempotency token of the stack's create calls (RunInstances, CreateLaunchTemplate(Version),
 * CreateService): derived from who asks (account, region, stack), what is asked, and the n-th attempt.
 * The same request after a crash gets the same token, so AWS returns what it already made instead of
 * making a second one; a token used up (its instance terminated, its service deleted) moves to the next n
 * or to what the request is made of.
 *
 * Lengths: EC2 takes up to 64 characters, ECS's CreateService up to 36
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html, clientToken).
 */
import { createHash } from 'node:crypto';

export interface TokenScope {
  readonly account: string;
  readonly region: string;
  readonly stack: string;
}

export function clientToken(scope: TokenScope, request: unknown, n = 0, maxLength = 64): string {
  const h = createHash('sha256').update(JSON.stringify([scope.account, scope.region, scope.stack, request])).digest('hex');
  const prefix = 'ecs-cwlogs-';
  const tail = `-${n}`;
  return `${prefix}${h.slice(0, Math.min(40, maxLength - prefix.length - tail.length))}${tail}`;
}

/** CreateService's token: at most 36 characters. */
export const ECS_TOKEN_LENGTH = 36;
