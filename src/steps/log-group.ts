/**
 * Step: the CloudWatch Logs log group the logging container writes to (lab: log group "ecs"), with a
 * retention period. An existing group of that name is adopted only with --adopt; the group (and the
 * logs in it) is never deleted unless asked: `down` keeps it without --delete-logs and says so.
 */
import { deleteOnce } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { STACK_TAG, ownedBy } from '../core/context.js';
import { diff } from '../core/diff.js';
import { hasAwsCode } from '../core/errors.js';
import { ABSENT, isAbsent, type Absent, type FieldDiff, type Plan, type DeclaredStep } from '../core/step.js';
import { logGroupArn, partitionOf } from './arns.js';
import { ownedTagsDiff } from './ownership.js';
import { namesOf, taggedResources, tagsOf } from './inventory.js';

export interface LogGroupOutputs { logGroup: string; logGroupArn: string; retentionDays: number }

declare module '../core/step.js' {
  interface StepOutputs {
    'log-group': LogGroupOutputs;
  }
}

type Ctx = Pick<Context, 'logs' | 'tagging' | 'inventory' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'callerArn' | 'report'>;

export interface LogGroupObserved {
  name: string;
  /** Without the trailing ":*". */
  arn: string;
  /** Undefined: never expire. */
  retentionDays?: number;
  storedBytes?: number;
  tags: Record<string, string>;
  owned: boolean;
}

export interface LogGroupDesired {
  name: string;
  arn: string;
  retentionDays: number;
  tags: Record<string, string>;
  adopt: boolean;
}

/**
 * The log group of exactly that name (DescribeLogGroups matches by prefix, and pages). Its tags come
 * from the run's Tagging API listing when the group is there (the listing's ARN is the group's
 * logGroupArn, without ":*"), else from ListTagsForResource (a group created moments ago, or not the
 * stack's: the listing is eventually consistent and never decides that a group is someone else's).
 */
export async function readLogGroup(ctx: Pick<Context, 'logs' | 'stack'> & Partial<Pick<Context, 'tagging' | 'inventory'>>, name: string): Promise<LogGroupObserved | Absent> {
  let nextToken: string | undefined;
  do {
    const res = await ctx.logs.describeLogGroups({ logGroupNamePrefix: name, nextToken });
    const g = res.logGroups?.find((x) => x.logGroupName === name);
    if (g) {
      const arn = g.logGroupArn ?? (g.arn ?? '').replace(/:\*$/, '');
      let tags: Record<string, string>;
      try {
        tags = await tagsOf(ctx, arn, async () => (await ctx.logs.listTagsForResource({ resourceArn: arn })).tags ?? {});
      } catch (e) {
        if (!hasAwsCode(e, 'ResourceNotFoundException')) throw e;
        return ABSENT; // deleted between the two calls
      }
      return {
        name,
        arn,
        retentionDays: g.retentionInDays,
        storedBytes: g.storedBytes,
        tags,
        owned: ownedBy(tags, ctx.stack),
      };
    }
    nextToken = res.nextToken;
  } while (nextToken);
  return ABSENT;
}

export const logGroupStep: DeclaredStep<Ctx, LogGroupObserved, LogGroupDesired, undefined, 'log-group'> = {
  id: 'log-group',
  title: 'CloudWatch Logs log group',
  dependsOn: [],
  command: {
    summary: 'Create the CloudWatch Logs log group with a retention period (an existing one only with --adopt)',
    settings: ['logGroup', 'retentionDays'],
    examples: [
      'ecs-cwlogs log-group',
      'ecs-cwlogs log-group --log-group ecs --retention-days 90',
      'ecs-cwlogs log-group --log-group existing-group --adopt',
      'ecs-cwlogs log-group --delete --delete-logs --yes',
    ],
    options: [
      { flags: '--delete-logs', description: 'with --delete: delete the log group and every log in it (kept otherwise)' },
    ],
  },
  shapes: ['single', 'group'],
  tagged: [{ type: 'logs:log-group' }],

  read: (ctx) => readLogGroup(ctx, ctx.config.logGroup),

  desired: (ctx) => ({
    name: ctx.config.logGroup,
    arn: logGroupArn(partitionOf(ctx.callerArn), ctx.config.region, ctx.account, ctx.config.logGroup),
    retentionDays: ctx.config.retentionDays,
    tags: { ...ctx.tags },
    adopt: ctx.flags.adopt,
  }),

  plan(observed, desired): Plan {
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.name}, retention ${desired.retentionDays} days` };
    if (!observed.owned && !desired.adopt) {
      const other = observed.tags[STACK_TAG];
      return {
        action: 'conflict',
        what: `Log group ${desired.name} already exists and is not part of this stack`,
        why: other ? `it is tagged as stack "${other}"` : 'it does not carry the ecs-cwlogs:stack tag',
        fix:
          'Choose another name with --log-group, or pass --adopt to `ecs-cwlogs log-group` (or `up`) to use it: it will be tagged and its ' +
          'retention set; `down` still keeps it (and its logs) unless you pass --delete-logs.',
      };
    }
    const diffs: FieldDiff[] = [
      ...diff(observed.retentionDays ?? 'never expire', desired.retentionDays, 'retentionDays'),
      ...ownedTagsDiff(observed.tags, desired.tags),
    ];
    if (diffs.length === 0) return { action: 'noop', summary: desired.name };
    const adopting = !observed.owned ? ' (adopting an existing group)' : '';
    return { action: 'update', summary: `${diffs.map((d) => d.field.split('.')[0]).filter(unique).join(', ')}${adopting}`, diffs };
  },

  async apply(ctx, { plan, observed, desired }) {
    let arn = desired.arn;
    let retention = isAbsent(observed) ? undefined : observed.retentionDays;
    if (plan.action === 'create') {
      try {
        await ctx.logs.createLogGroup({ logGroupName: desired.name, tags: desired.tags });
      } catch (e) {
        // Created by an earlier run that died before we saw it: carry on only if it is ours.
        if (!hasAwsCode(e, 'ResourceAlreadyExistsException')) throw e;
        const again = await readLogGroup(ctx, desired.name);
        if (isAbsent(again)) throw e;
        const p = logGroupStep.plan(again, desired);
        if (p.action === 'conflict') throw e;
        if (!again.owned) await ctx.logs.tagResource({ resourceArn: again.arn, tags: desired.tags });
        retention = again.retentionDays;
        arn = again.arn;
      }
    } else if (!isAbsent(observed)) {
      arn = observed.arn;
      if (plan.action === 'update' && ownedTagsDiff(observed.tags, desired.tags).length > 0) {
        await ctx.logs.tagResource({ resourceArn: observed.arn, tags: desired.tags });
      }
    }
    if (retention !== desired.retentionDays) {
      await ctx.logs.putRetentionPolicy({ logGroupName: desired.name, retentionInDays: desired.retentionDays });
    }
    return { logGroup: desired.name, logGroupArn: arn, retentionDays: desired.retentionDays };
  },

  preview: (observed, desired) => ({
    logGroup: desired.name,
    logGroupArn: isAbsent(observed) ? desired.arn : observed.arn,
    retentionDays: desired.retentionDays,
  }),

  describe: (o) => ({
    arn: o.arn,
    retention: o.retentionDays === undefined ? 'never expire' : `${o.retentionDays} days`,
    ...(o.storedBytes !== undefined ? { storedBytes: String(o.storedBytes) } : {}),
    owner: o.owned ? 'this stack' : (o.tags[STACK_TAG] ?? 'not ecs-cwlogs'),
  }),

  ownership: {
    find: stackLogGroups,
    keepAll: (ctx) => !ctx.flags.deleteLogs,
    preview: (g: LogGroupObserved) => `log group ${g.name} and all its logs`,
    deleted: (g: LogGroupObserved) => `log group ${g.name}`,
    delete: async (ctx, g: LogGroupObserved) => {
      await deleteOnce(() => ctx.logs.deleteLogGroup({ logGroupName: g.name }), ['ResourceNotFoundException']);
    },
  },
};

/** The stack's log groups (the configured one and any other with the stack tag), and what is kept. */
async function stackLogGroups(ctx: Ctx): Promise<{ ours: LogGroupObserved[]; kept: string[] }> {
  const tagged = await taggedResources(ctx);
  const names = [...new Set([ctx.config.logGroup, ...(tagged ? namesOf(tagged).logGroups : [])])];
  const seen = (await Promise.all(names.map((n) => readLogGroup(ctx, n)))).filter((g): g is LogGroupObserved => !isAbsent(g));
  const ours = seen.filter((g) => g.owned);
  const kept = seen.filter((g) => !g.owned).map((g) => `log group ${g.name} (not tagged as stack ${ctx.stack})`);
  if (!ctx.flags.deleteLogs) kept.push(...ours.map((g) => `log group ${g.name} and its logs (kept; pass --delete-logs to delete it)`));
  return { ours, kept };
}

function unique<T>(v: T, i: number, a: T[]): boolean {
  return a.indexOf(v) === i;
}
