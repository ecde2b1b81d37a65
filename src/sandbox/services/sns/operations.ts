/**
 * SNS operations (Query protocol, as both the SDK and awscli speak it), typed with the SDK's types.
 * Sources: the Amazon SNS API reference of each action (docs.aws.amazon.com/sns/latest/api/API_<Action>.html):
 *   - CreateTopic "is idempotent, so if the requester already owns a topic with the specified name,
 *     that topic's ARN is returned without creating a new topic"; with other attributes or tags it is
 *     refused (InvalidParameter);
 *   - Subscribe: "If the endpoint type is HTTP/S or email, or if the endpoint and the topic are not in
 *     the same Amazon Web Services account, the endpoint owner must run the ConfirmSubscription
 *     action"; the response's SubscriptionArn is then "pending confirmation" (unless
 *     ReturnSubscriptionArn), and ListSubscriptionsByTopic shows "PendingConfirmation";
 *   - DeleteTopic: "Deleting a topic that doesn't exist does not result in an error";
 *   - Publish: a topic that does not exist is NotFound.
 */
import {
  CreateTopicInput$,
  DeleteTopicInput$,
  GetTopicAttributesInput$,
  ListSubscriptionsByTopicInput$,
  ListTagsForResourceRequest$,
  ListTopicsInput$,
  PublishInput$,
  SubscribeInput$,
  TagResourceRequest$,
  UnsubscribeInput$,
  UntagResourceRequest$,
  type CreateTopicInput,
  type CreateTopicResponse,
  type DeleteTopicInput,
  type GetTopicAttributesInput,
  type GetTopicAttributesResponse,
  type ListSubscriptionsByTopicInput,
  type ListSubscriptionsByTopicResponse,
  type ListTagsForResourceRequest,
  type ListTagsForResourceResponse,
  type ListTopicsInput,
  type ListTopicsResponse,
  type PublishInput,
  type PublishResponse,
  type SubscribeInput,
  type SubscribeResponse,
  type TagResourceRequest,
  type UnsubscribeInput,
  type UntagResourceRequest,
} from '@aws-sdk/client-sns';
import { randomUUID } from 'node:crypto';
import { queryDecoder, type Schema } from '../../protocols/schema.js';
import { xmlList } from '../../protocols/xml.js';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { arrayToTagMap, keyValueTags } from '../util.js';
import { publishToTopic, snsState, type SnsState, type TopicRecord } from './topics.js';

type Empty = Record<string, never>;

function op<I, O>(mutating: boolean, schema: Schema, handler: (input: I, call: Call) => O, encode?: (out: O) => unknown): Operation {
  return typedOperation<I, O>({ mutating, decode: queryDecoder<I>(schema), handler, encode });
}

const invalidParameter = (m: string) => new ServiceError('InvalidParameter', `Invalid parameter: ${m}`, 400);
const notFound = (m: string) => new ServiceError('NotFound', m, 404);
const state = (world: World): SnsState => snsState(world)!;

/** A map as the Query protocol writes it: <entry><key/><value/></entry>. */
const xmlMap = (m: Record<string, string>) => xmlList(Object.entries(m).map(([key, value]) => ({ key, value })), { itemName: 'entry' });

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
const TOPIC_ARN = /^arn:aws:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_.-]+)$/;
/** Topic attributes CreateTopic and SetTopicAttributes take (API_CreateTopic, Attributes). */
const TOPIC_ATTRIBUTES = ['DeliveryPolicy', 'DisplayName', 'FifoTopic', 'Policy', 'SignatureVersion', 'TracingConfig', 'KmsMasterKeyId', 'ContentBasedDeduplication', 'ArchivePolicy', 'FifoThroughputScope'];
const PROTOCOLS = ['http', 'https', 'email', 'email-json', 'sms', 'sqs', 'application', 'lambda', 'firehose'];
const PENDING = ['http', 'https', 'email', 'email-json'];

function topic(world: World, arn: string | undefined, member = 'TopicArn'): TopicRecord {
  if (!arn) throw invalidParameter(`${member}`);
  if (!TOPIC_ARN.test(arn)) throw invalidParameter(`${member} Reason: An ARN must have at least 6 elements, not ${arn.split(':').length}`);
  const t = state(world).topics[arn];
  if (!t) throw notFound('Topic does not exist');
  return t;
}

function defaultPolicy(arn: string, account: string): string {
  return JSON.stringify({
    Version: '2008-10-17',
    Id: '__default_policy_ID',
    Statement: [{ Sid: '__default_statement_ID', Effect: 'Allow', Principal: { AWS: '*' }, Action: ['SNS:Publish', 'SNS:Subscribe', 'SNS:GetTopicAttributes'], Resource: arn, Condition: { StringEquals: { 'AWS:SourceOwner': account } } }],
  });
}

const createTopic = op<CreateTopicInput, CreateTopicResponse>(true, CreateTopicInput$, (p, { world, region, now }) => {
  const name = p.Name ?? '';
  const fifo = p.Attributes?.FifoTopic === 'true';
  const base = fifo ? name.replace(/\.fifo$/, '') : name;
  if (!TOPIC_NAME.test(base) || (fifo && !name.endsWith('.fifo')) || (!fifo && name.endsWith('.fifo'))) {
    throw invalidParameter('Topic Name');
  }
  const attributes = p.Attributes ?? {};
  for (const k of Object.keys(attributes)) if (!TOPIC_ATTRIBUTES.includes(k)) throw invalidParameter(`Attributes Reason: Unknown attribute ${k}`);
  const arn = `arn:aws:sns:${region}:${world.settings.accountId}:${name}`;
  const tags = arrayToTagMap(p.Tags ?? []);
  const existing = state(world).topics[arn];
  if (existing) {
    const same = (a: Record<string, string>, b: Record<string, string>) => Object.entries(b).every(([k, v]) => a[k] === v);
    if (!same(existing.attributes, attributes)) throw invalidParameter('Attributes Reason: Topic already exists with different attributes');
    if (p.Tags && !same(existing.tags, tags)) throw invalidParameter('Tags Reason: Topic already exists with different tags');
    return { TopicArn: arn };
  }
  if (Object.keys(tags).length > 50) throw new ServiceError('TagLimitExceeded', 'Could not complete request: tag quota of per resource exceeded', 400);
  state(world).topics[arn] = { arn, name, region, attributes: { ...attributes }, tags, created: now };
  return { TopicArn: arn };
});

const deleteTopic = op<DeleteTopicInput, Empty>(true, DeleteTopicInput$, (p, { world }) => {
  if (!p.TopicArn) throw invalidParameter('TopicArn');
  const s = state(world);
  delete s.topics[p.TopicArn];
  for (const [arn, sub] of Object.entries(s.subscriptions)) if (sub.topicArn === p.TopicArn) delete s.subscriptions[arn];
  return {};
});

const listTopics = op<ListTopicsInput, ListTopicsResponse>(false, ListTopicsInput$, (p, { world, region }) => {
  const arns = Object.values(state(world).topics)
    .filter((t) => t.region === region)
    .map((t) => t.arn)
    .sort();
  const start = p.NextToken ? arns.indexOf(p.NextToken) : 0;
  if (start < 0) throw invalidParameter('NextToken');
  const items = arns.slice(start, start + 100);
  return { Topics: items.map((TopicArn) => ({ TopicArn })), NextToken: arns[start + 100] };
});

const getTopicAttributes = op<GetTopicAttributesInput, GetTopicAttributesResponse>(
  false,
  GetTopicAttributesInput$,
  (p, { world }) => {
    const t = topic(world, p.TopicArn);
    const subs = Object.values(state(world).subscriptions).filter((s) => s.topicArn === t.arn);
    return {
      Attributes: {
        TopicArn: t.arn,
        Owner: world.settings.accountId,
        Policy: defaultPolicy(t.arn, world.settings.accountId),
        DisplayName: '',
        SubscriptionsConfirmed: String(subs.filter((s) => s.confirmed).length),
        SubscriptionsPending: String(subs.filter((s) => !s.confirmed).length),
        SubscriptionsDeleted: '0',
        EffectiveDeliveryPolicy: JSON.stringify({ http: { defaultHealthyRetryPolicy: { minDelayTarget: 20, maxDelayTarget: 20, numRetries: 3, numMaxDelayRetries: 0, numNoDelayRetries: 0, numMinDelayRetries: 0, backoffFunction: 'linear' }, disableSubscriptionOverrides: false } }),
        ...t.attributes,
      },
    };
  },
  (out) => ({ Attributes: xmlMap(out.Attributes ?? {}) }),
);

const subscribe = op<SubscribeInput, SubscribeResponse>(true, SubscribeInput$, (p, { world }) => {
  const t = topic(world, p.TopicArn);
  const protocol = p.Protocol ?? '';
  if (!PROTOCOLS.includes(protocol)) throw invalidParameter(`Invalid protocol type: ${protocol}`);
  const endpoint = p.Endpoint ?? '';
  if ((protocol === 'email' || protocol === 'email-json') && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(endpoint)) throw invalidParameter('Email address');
  if ((protocol === 'http' || protocol === 'https') && !endpoint.startsWith(`${protocol}://`)) throw invalidParameter(`Endpoint Reason: must start with ${protocol}://`);
  if (!endpoint) throw invalidParameter('Endpoint');
  const s = state(world);
  let sub = Object.values(s.subscriptions).find((x) => x.topicArn === t.arn && x.protocol === protocol && x.endpoint === endpoint);
  if (!sub) {
    const arn = `${t.arn}:${randomUUID()}`;
    sub = s.subscriptions[arn] = { arn, topicArn: t.arn, protocol, endpoint, confirmed: !PENDING.includes(protocol) };
  }
  return { SubscriptionArn: sub.confirmed || p.ReturnSubscriptionArn ? sub.arn : 'pending confirmation' };
});

const listSubscriptionsByTopic = op<ListSubscriptionsByTopicInput, ListSubscriptionsByTopicResponse>(false, ListSubscriptionsByTopicInput$, (p, { world }) => {
  const t = topic(world, p.TopicArn);
  const subs = Object.values(state(world).subscriptions).filter((s) => s.topicArn === t.arn);
  const start = p.NextToken ? Number(p.NextToken) : 0;
  if (!Number.isInteger(start) || start < 0) throw invalidParameter('NextToken');
  const items = subs.slice(start, start + 100);
  return {
    Subscriptions: items.map((s) => ({ SubscriptionArn: s.confirmed ? s.arn : 'PendingConfirmation', Owner: world.settings.accountId, Protocol: s.protocol, Endpoint: s.endpoint, TopicArn: s.topicArn })),
    NextToken: start + 100 < subs.length ? String(start + 100) : undefined,
  };
});

const unsubscribe = op<UnsubscribeInput, Empty>(true, UnsubscribeInput$, (p, { world }) => {
  const arn = p.SubscriptionArn ?? '';
  if (!/^arn:aws:sns:/.test(arn)) throw invalidParameter('SubscriptionArn');
  const s = state(world);
  if (!s.subscriptions[arn]) throw notFound('Subscription does not exist');
  delete s.subscriptions[arn];
  return {};
});

/** "The maximum message size is 256 KB" (API_Publish, Message). */
const MAX_MESSAGE = 262_144;

const publish = op<PublishInput, PublishResponse>(true, PublishInput$, (p, { world, now }) => {
  const arn = p.TopicArn ?? p.TargetArn;
  if (!arn) throw invalidParameter('TopicArn or TargetArn Reason: no value for required parameter');
  if (p.Message === undefined || p.Message === '') throw invalidParameter('Empty message');
  if (Buffer.byteLength(p.Message) > MAX_MESSAGE) throw invalidParameter('Message too long');
  if (p.Subject !== undefined && (p.Subject.length > 100 || /[\r\n]/.test(p.Subject))) throw invalidParameter('Subject');
  topic(world, arn, p.TopicArn ? 'TopicArn' : 'TargetArn');
  return { MessageId: publishToTopic(world, arn, p.Subject, p.Message, now) ?? randomUUID() };
});

function taggedTopic(world: World, arn: string | undefined): TopicRecord {
  const t = arn ? state(world).topics[arn] : undefined;
  if (!t) throw new ServiceError('ResourceNotFound', 'Resource does not exist', 404);
  return t;
}

const tagResource = op<TagResourceRequest, Empty>(true, TagResourceRequest$, (p, { world }) => {
  const t = taggedTopic(world, p.ResourceArn);
  const merged = { ...t.tags, ...arrayToTagMap(p.Tags ?? []) };
  if (Object.keys(merged).length > 50) throw new ServiceError('TagLimitExceeded', 'Could not complete request: tag quota of per resource exceeded', 400);
  t.tags = merged;
  return {};
});

const untagResource = op<UntagResourceRequest, Empty>(true, UntagResourceRequest$, (p, { world }) => {
  const t = taggedTopic(world, p.ResourceArn);
  for (const k of p.TagKeys ?? []) delete t.tags[k];
  return {};
});

const listTagsForResource = op<ListTagsForResourceRequest, ListTagsForResourceResponse>(false, ListTagsForResourceRequest$, (p, { world }) => ({
  Tags: keyValueTags(taggedTopic(world, p.ResourceArn).tags),
}));

export const snsOperations: Record<string, Operation> = {
  CreateTopic: createTopic,
  DeleteTopic: deleteTopic,
  ListTopics: listTopics,
  GetTopicAttributes: getTopicAttributes,
  Subscribe: subscribe,
  ListSubscriptionsByTopic: listSubscriptionsByTopic,
  Unsubscribe: unsubscribe,
  Publish: publish,
  TagResource: tagResource,
  UntagResource: untagResource,
  ListTagsForResource: listTagsForResource,
};
