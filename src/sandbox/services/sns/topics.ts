/**
 * SNS's state (world.state.sns) and Publish's record, shared with CloudWatch's alarm actions (which
 * publish to a topic of the sandbox). Nothing is delivered: published messages are recorded in
 * `published` (the newest MAX_PUBLISHED), where tests read them.
 */
import { randomUUID } from 'node:crypto';
import { arrayOf, bool, num, object, optional, recordOf, str } from '../../shape.js';
import type { World } from '../../types.js';
import type { TagMap } from '../util.js';

export const MAX_PUBLISHED = 1000;

export interface SubscriptionRecord {
  arn: string;
  topicArn: string;
  protocol: string;
  endpoint: string;
  /** Email and HTTP(S) endpoints wait for the owner to confirm (never, in the sandbox). */
  confirmed: boolean;
}

export interface TopicRecord {
  arn: string;
  name: string;
  region: string;
  attributes: Record<string, string>;
  tags: TagMap;
  created: number;
}

export interface PublishedMessage {
  messageId: string;
  topicArn: string;
  subject?: string;
  message: string;
  timestamp: number;
}

export interface SnsState {
  /** By ARN. */
  topics: Record<string, TopicRecord>;
  /** By subscription ARN. */
  subscriptions: Record<string, SubscriptionRecord>;
  published: PublishedMessage[];
}

export function snsState(world: World): SnsState | undefined {
  return world.state.sns as SnsState | undefined;
}

/** Publish to a topic of the sandbox; the message id, or undefined when there is no such topic. */
export function publishToTopic(world: World, topicArn: string, subject: string | undefined, message: string, now: number): string | undefined {
  const state = snsState(world);
  if (!state || !state.topics[topicArn]) return undefined;
  const messageId = randomUUID();
  state.published.push({ messageId, topicArn, subject, message, timestamp: now });
  if (state.published.length > MAX_PUBLISHED) state.published.splice(0, state.published.length - MAX_PUBLISHED);
  return messageId;
}

/** The shape a saved state file's SNS part is checked against (../../shape.ts). */
export const snsStateShape = object({
  topics: recordOf(object({ arn: str, name: str, region: str, attributes: recordOf(str), tags: recordOf(str), created: num })),
  subscriptions: recordOf(object({ arn: str, topicArn: str, protocol: str, endpoint: str, confirmed: bool })),
  published: arrayOf(object({ messageId: str, topicArn: str, subject: optional(str), message: str, timestamp: num })),
});
