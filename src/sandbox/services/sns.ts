/**
 * Amazon SNS (Query protocol, regional): topics, subscriptions, tags, and Publish, which records the
 * message (sns/topics.ts `published`) instead of delivering it. Email and HTTP(S) subscriptions stay
 * pending confirmation: nobody clicks the link in the sandbox. CloudWatch's alarm actions publish
 * here (sns/topics.ts publishToTopic).
 */
import type { ServiceModule } from '../types.js';
import { snsOperations } from './sns/operations.js';
import type { SnsState } from './sns/topics.js';

export type { PublishedMessage, SnsState } from './sns/topics.js';

export const sns: ServiceModule = {
  name: 'sns',
  protocol: 'query',
  apiVersion: '2010-03-31',
  xmlNamespace: 'http://sns.amazonaws.com/doc/2010-03-31/',
  initState: (): SnsState => ({ topics: {}, subscriptions: {}, published: [] }),
  operations: snsOperations,
};
