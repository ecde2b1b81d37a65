/**
 * Step: the SNS topic the alarms notify, with an email subscription, when --alarm-email is given
 * (topic ecs-cwlogs-<stack>-alarms, tagged). Without an address there is no topic: the alarms only
 * change state (and show on the dashboard); an address cleared with `--alarm-email ""` removes it.
 *
 * An email subscription waits for the address to confirm it (SNS mails a link; "Subscribe":
 * "the subscription ARN is pending confirmation"): ListSubscriptionsByTopic shows it as
 * "PendingConfirmation", and the step says so in its outputs and `up`'s summary. A pending
 * subscription cannot be deleted (Unsubscribe needs its ARN); SNS drops it after 3 days unconfirmed.
 * The topic is not encrypted: CloudWatch alarms cannot publish to a topic encrypted with the
 * AWS-managed key (alias/aws/sns), and an alarm's text carries no secret.
 */
import type { Subscription } from '@aws-sdk/client-sns';
import type { Context } from '../engine/context.js';
import { deleteOnce } from '../engine/ownership.js';
import { STACK_TAG, ownedBy } from '../core/context.js';
import { hasAwsCode } from '../core/errors.js';
import { isAbsent, type Absent, type DeclaredStep, type FieldDiff, type Plan, ABSENT } from '../core/step.js';
import { partitionOf } from './arns.js';
import { MONITORING, keyValueTags, tagRecord, topicName } from './monitoring.js';
import { tagsOf } from './inventory.js';
import { ownedTagsDiff, ownershipConflict } from './ownership.js';

export type SubscriptionState = 'confirmed' | 'pending confirmation';

export interface AlarmTopicOutputs {
  /** Absent without --alarm-email. */
  topicArn?: string;
  email?: string;
  subscription?: SubscriptionState;
}

declare module '../core/step.js' {
  interface StepOutputs {
    'alarm-topic': AlarmTopicOutputs;
  }
}

type Ctx = Pick<Context, 'sns' | 'tagging' | 'inventory' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'callerArn' | 'report'>;

export interface AlarmTopicObserved {
  /** No topic, and none is wanted (no --alarm-email): the step is in sync, not absent. */
  none?: true;
  arn: string;
  tags: Record<string, string>;
  owned: boolean;
  /** The topic's email subscriptions. */
  emails: { endpoint: string; state: SubscriptionState; arn?: string }[];
}

export interface AlarmTopicDesired {
  name: string;
  arn: string;
  email?: string;
  tags: Record<string, string>;
  adopt: boolean;
}

/** SNS answers a pending subscription's ARN as "PendingConfirmation" (or "pending confirmation" from Subscribe). */
function stateOf(arn: string | undefined): SubscriptionState {
  return !arn || /^pending ?confirmation$/i.test(arn) ? 'pending confirmation' : 'confirmed';
}

export async function readTopic(ctx: Pick<Context, 'sns' | 'stack' | 'tagging' | 'inventory'>, arn: string): Promise<AlarmTopicObserved | Absent> {
  try {
    await ctx.sns.getTopicAttributes({ TopicArn: arn });
    const tags = await tagsOf(ctx, arn, async () => tagRecord((await ctx.sns.listTagsForResource({ ResourceArn: arn })).Tags));
    const subs: Subscription[] = [];
    let NextToken: string | undefined;
    do {
      const res = await ctx.sns.listSubscriptionsByTopic({ TopicArn: arn, NextToken });
      subs.push(...(res.Subscriptions ?? []));
      NextToken = res.NextToken;
    } while (NextToken);
    const emails = subs.filter((s) => s.Protocol === 'email' && s.Endpoint).map((s) => ({ endpoint: s.Endpoint!, state: stateOf(s.SubscriptionArn), ...(stateOf(s.SubscriptionArn) === 'confirmed' ? { arn: s.SubscriptionArn } : {}) }));
    return { arn, tags, owned: ownedBy(tags, ctx.stack), emails };
  } catch (e) {
    if (hasAwsCode(e, 'NotFound', 'NotFoundException', 'ResourceNotFound', 'ResourceNotFoundException')) return ABSENT;
    throw e;
  }
}

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export const alarmTopicStep: DeclaredStep<Ctx, AlarmTopicObserved, AlarmTopicDesired, undefined, 'alarm-topic'> = {
  id: 'alarm-topic',
  title: 'Alarm topic (SNS)',
  dependsOn: [],
  command: {
    summary: 'Create the SNS topic the alarms notify and subscribe --alarm-email to it (the address confirms by email)',
    settings: ['alarmEmail', 'monitoring'],
    examples: ['ecs-cwlogs alarm-topic --alarm-email ops@example.com', 'ecs-cwlogs alarm-topic --alarm-email ""   # no topic: forget the address, delete the topic'],
  },
  ...MONITORING,
  tagged: [{ type: 'sns' }],

  async read(ctx) {
    // Read even without --alarm-email, when the run's Tagging API listing shows no topic: the
    // listing is eventually consistent, so a topic created moments ago (by an `up --alarm-email`
    // killed after CreateTopic) may not be listed yet, and an up that clears the address
    // (`--alarm-email ""`) must still find and delete it. One GetTopicAttributes; the topic's tags
    // come from the listing when it is there. (The sandbox's Tagging API lists at once: it models
    // no lag, so no test here could tell a skipped read from a kept one.)
    const t = await readTopic(ctx, topicArnOf(ctx));
    return isAbsent(t) && !ctx.config.alarmEmail ? { none: true, arn: topicArnOf(ctx), tags: {}, owned: false, emails: [] } : t;
  },

  desired: (ctx) => ({ name: topicName(ctx.stack), arn: topicArnOf(ctx), ...(ctx.config.alarmEmail ? { email: ctx.config.alarmEmail } : {}), tags: { ...ctx.tags }, adopt: ctx.flags.adopt }),

  plan(observed, desired): Plan {
    if (isAbsent(observed) || observed.none) return desired.email ? { action: 'create', summary: `${desired.name}, email to ${desired.email} (to be confirmed)` } : { action: 'noop', summary: 'none (no --alarm-email: the alarms notify no one)' };
    if (!observed.owned && !desired.email) return { action: 'noop', summary: `none (no --alarm-email; topic ${desired.name} is not this stack's)` };
    if (!observed.owned && !desired.adopt) return ownershipConflict('SNS topic', desired.name, observed.tags[STACK_TAG], 'alarm-topic');
    if (!desired.email) return { action: 'update', summary: `delete ${desired.name} (no --alarm-email)`, diffs: [{ field: 'email', from: observed.emails.map((e) => e.endpoint).join(', '), to: undefined }] };
    const diffs: FieldDiff[] = [...ownedTagsDiff(observed.tags, desired.tags)];
    const sub = observed.emails.find((e) => sameAddress(e.endpoint, desired.email!));
    if (!sub) diffs.push({ field: 'email', from: observed.emails.map((e) => e.endpoint).join(', ') || undefined, to: desired.email });
    const pending = sub?.state === 'pending confirmation' ? `${desired.email}: pending confirmation (follow the link SNS emailed)` : undefined;
    if (diffs.length === 0) return { action: 'noop', summary: `${desired.name}, email to ${desired.email}`, ...(pending ? { note: pending } : {}) };
    return { action: 'update', summary: diffs.map((d) => d.field.split('.')[0]).join(', '), diffs };
  },

  async apply(ctx, { observed, desired }) {
    if (!desired.email) {
      if (!isAbsent(observed) && !observed.none) await deleteOnce(() => ctx.sns.deleteTopic({ TopicArn: observed.arn }), ['NotFound', 'NotFoundException']);
      return {};
    }
    let arn = desired.arn;
    if (isAbsent(observed) || observed.none) {
      // CreateTopic is idempotent for a name with the same attributes and tags: it answers the ARN.
      arn = (await ctx.sns.createTopic({ Name: desired.name, Tags: keyValueTags(desired.tags) })).TopicArn ?? desired.arn;
    } else if (ownedTagsDiff(observed.tags, desired.tags).length) {
      await ctx.sns.tagResource({ ResourceArn: observed.arn, Tags: keyValueTags(desired.tags) });
    }
    const had = isAbsent(observed) || observed.none ? undefined : observed.emails.find((e) => sameAddress(e.endpoint, desired.email!));
    let state = had?.state;
    if (!had) {
      // Without ReturnSubscriptionArn, SNS answers "pending confirmation" for a subscription that
      // waits for its confirmation (with it, the ARN "in all cases", which would hide that).
      const res = await ctx.sns.subscribe({ TopicArn: arn, Protocol: 'email', Endpoint: desired.email });
      state = stateOf(res.SubscriptionArn);
      // Another address of ours, confirmed earlier, stops getting the alarms (a pending one cannot be removed).
      for (const old of isAbsent(observed) || observed.none ? [] : observed.emails.filter((e) => e.arn && !sameAddress(e.endpoint, desired.email!))) {
        await deleteOnce(() => ctx.sns.unsubscribe({ SubscriptionArn: old.arn! }), ['NotFound', 'NotFoundException']);
      }
    }
    if (state === 'pending confirmation') ctx.report(`${desired.email}: pending confirmation (follow the link SNS emailed to receive the alarms)`);
    return { topicArn: arn, email: desired.email, subscription: state ?? 'pending confirmation' };
  },

  preview(observed, desired) {
    if (!desired.email) return {};
    const sub = isAbsent(observed) ? undefined : observed.emails.find((e) => sameAddress(e.endpoint, desired.email!));
    return { topicArn: isAbsent(observed) || observed.none ? desired.arn : observed.arn, email: desired.email, subscription: sub?.state ?? 'pending confirmation' };
  },

  describe: (o): Record<string, string> => (o.none ? { topic: 'none (no --alarm-email)' } : { arn: o.arn, email: o.emails.map((e) => `${e.endpoint} (${e.state})`).join(', ') || 'none', owner: o.owned ? 'this stack' : (o.tags[STACK_TAG] ?? 'not ecs-cwlogs') }),

  ownership: {
    async find(ctx: Ctx) {
      const t = await readTopic(ctx, topicArnOf(ctx));
      if (isAbsent(t)) return { ours: [], kept: [] };
      return t.owned ? { ours: [t], kept: [] } : { ours: [], kept: [`SNS topic ${topicName(ctx.stack)} (not tagged as stack ${ctx.stack})`] };
    },
    preview: (t: AlarmTopicObserved) => `SNS topic ${t.arn.split(':').pop()} and its subscriptions`,
    deleted: (t: AlarmTopicObserved) => `SNS topic ${t.arn.split(':').pop()}`,
    delete: (ctx: Ctx, t: AlarmTopicObserved) => deleteOnce(() => ctx.sns.deleteTopic({ TopicArn: t.arn }), ['NotFound', 'NotFoundException']),
  },
};

/** A topic's ARN follows from its name: arn:<partition>:sns:<region>:<account>:<name>. */
export function topicArnOf(ctx: Pick<Context, 'config' | 'account' | 'callerArn' | 'stack'>): string {
  return `arn:${partitionOf(ctx.callerArn)}:sns:${ctx.config.region}:${ctx.account}:${topicName(ctx.stack)}`;
}
