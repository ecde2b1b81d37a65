/**
 * Step: the stack's two CloudWatch alarms, on the metric filters' metrics (tagged with the stack):
 *
 *   ecs-cwlogs-<stack>-5xx-rate     100 * Status5xx / Requests over 5 minutes (metric math) above
 *                                   --alarm-5xx-percent (default 5): a site answering 1 request in
 *                                   20 with a server error is broken for its users, while one 5xx
 *                                   among a busy minute's requests is not worth a mail
 *   ecs-cwlogs-<stack>-error-lines  httpd's error lines over 5 minutes at or above
 *                                   --alarm-error-lines (default 10): a lab's httpd logs a few
 *                                   (a missing favicon, a scanner's probe); 10 in 5 minutes is a
 *                                   pattern, not a stray request
 *
 * One period of 5 minutes, 1 datapoint to alarm; missing data is "not breaching" (no traffic is no
 * error). With --alarm-email, both notify the alarm topic on ALARM and on OK.
 *
 * PutMetricAlarm creates or replaces an alarm of that name; its Tags apply only when it creates one
 * ("If you are using this operation to update an existing alarm, any tags you specify in this
 * parameter are ignored"), so an adopted alarm is tagged with TagResource.
 */
import type { MetricAlarm, MetricDataQuery, PutMetricAlarmInput } from '@aws-sdk/client-cloudwatch';
import type { Context } from '../engine/context.js';
import { deleteOnce } from '../engine/ownership.js';
import { STACK_TAG, ownedBy } from '../core/context.js';
import { diff, normalise } from '../core/diff.js';
import { isAbsent, ABSENT, type Absent, type DeclaredStep, type FieldDiff, type Plan } from '../core/step.js';
import { METRICS, MONITORING, alarmNames, keyValueTags, metricNamespace, tagRecord } from './monitoring.js';
import { tagsOf } from './inventory.js';
import { ownedTagsDiff, ownershipConflict } from './ownership.js';
import { topicArnOf } from './alarm-topic.js';

export interface AlarmsOutputs {
  alarms: string[];
  /** Where they notify (none without --alarm-email). */
  notify?: string;
}

declare module '../core/step.js' {
  interface StepOutputs {
    alarms: AlarmsOutputs;
  }
}

type Ctx = Pick<Context, 'cloudwatch' | 'tagging' | 'inventory' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'callerArn' | 'report'>;

export interface ObservedAlarm {
  alarm: MetricAlarm;
  tags: Record<string, string>;
  owned: boolean;
}

export interface AlarmsObserved {
  alarms: ObservedAlarm[];
}

export interface AlarmsDesired {
  alarms: PutMetricAlarmInput[];
  tags: Record<string, string>;
  adopt: boolean;
}

const PERIOD = 300;

export function alarmInputs(stack: string, config: { alarm5xxPercent: number; alarmErrorLines: number }, topicArn: string | undefined): PutMetricAlarmInput[] {
  const ns = metricNamespace(stack);
  const names = alarmNames(stack);
  const actions = topicArn ? { AlarmActions: [topicArn], OKActions: [topicArn] } : { AlarmActions: [], OKActions: [] };
  const sum = (id: string, metric: string): MetricDataQuery => ({ Id: id, MetricStat: { Metric: { Namespace: ns, MetricName: metric }, Period: PERIOD, Stat: 'Sum' }, ReturnData: false });
  return [
    {
      AlarmName: names.rate5xx,
      AlarmDescription: `More than ${config.alarm5xxPercent}% of the requests of 5 minutes answered 5xx (stack ${stack}; ecs-cwlogs)`,
      ActionsEnabled: true,
      ...actions,
      Metrics: [sum('requests', METRICS.requests), sum('errors5xx', METRICS.status5xx), { Id: 'rate', Expression: '100 * errors5xx / requests', Label: '5xx rate (%)', ReturnData: true }],
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: config.alarm5xxPercent,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    {
      AlarmName: names.errorLines,
      AlarmDescription: `${config.alarmErrorLines} or more httpd error lines in 5 minutes (stack ${stack}; ecs-cwlogs)`,
      ActionsEnabled: true,
      ...actions,
      Namespace: ns,
      MetricName: METRICS.errorLines,
      Statistic: 'Sum',
      Period: PERIOD,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: config.alarmErrorLines,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    },
  ];
}

/** The fields PutMetricAlarm sets, as DescribeAlarms answers them. */
function comparable(a: PutMetricAlarmInput | MetricAlarm): unknown {
  const metrics = a.Metrics?.map((m) => ({ ...m, ReturnData: m.ReturnData ?? true }));
  return normalise({
    description: a.AlarmDescription,
    actionsEnabled: a.ActionsEnabled ?? true,
    alarmActions: [...(a.AlarmActions ?? [])].sort(),
    okActions: [...(a.OKActions ?? [])].sort(),
    namespace: a.Namespace,
    metricName: a.MetricName,
    statistic: a.Statistic,
    period: a.Period,
    metrics,
    evaluationPeriods: a.EvaluationPeriods,
    datapointsToAlarm: a.DatapointsToAlarm,
    threshold: a.Threshold,
    comparison: a.ComparisonOperator,
    missing: a.TreatMissingData ?? 'missing',
  });
}

export async function readAlarms(ctx: Pick<Context, 'cloudwatch' | 'stack' | 'tagging' | 'inventory'>): Promise<ObservedAlarm[]> {
  const ours = Object.values(alarmNames(ctx.stack));
  const res = await ctx.cloudwatch.describeAlarms({ AlarmNames: ours, AlarmTypes: ['MetricAlarm'] });
  const alarms = (res.MetricAlarms ?? []).filter((a) => a.AlarmName && ours.includes(a.AlarmName));
  return Promise.all(
    alarms.map(async (alarm) => {
      const arn = alarm.AlarmArn;
      const tags = arn ? await tagsOf(ctx, arn, async () => tagRecord((await ctx.cloudwatch.listTagsForResource({ ResourceARN: arn })).Tags)) : {};
      return { alarm, tags, owned: ownedBy(tags, ctx.stack) };
    }),
  );
}

function changes(observed: AlarmsObserved | Absent, desired: AlarmsDesired): { put: PutMetricAlarmInput[]; tag: ObservedAlarm[]; diffs: FieldDiff[] } {
  const have = new Map((isAbsent(observed) ? [] : observed.alarms).map((a) => [a.alarm.AlarmName!, a]));
  const put: PutMetricAlarmInput[] = [];
  const tag: ObservedAlarm[] = [];
  const diffs: FieldDiff[] = [];
  for (const want of desired.alarms) {
    const o = have.get(want.AlarmName!);
    if (!o) {
      put.push(want);
      diffs.push({ field: want.AlarmName!, from: undefined, to: 'created' });
      continue;
    }
    const d = diff(comparable(o.alarm), comparable(want), want.AlarmName);
    if (d.length) put.push(want);
    diffs.push(...d);
    const t = ownedTagsDiff(o.tags, desired.tags);
    if (t.length) {
      tag.push(o);
      diffs.push(...t.map((x) => ({ ...x, field: `${want.AlarmName}.${x.field}` })));
    }
  }
  return { put, tag, diffs };
}

export const alarmsStep: DeclaredStep<Ctx, AlarmsObserved, AlarmsDesired, undefined, 'alarms'> = {
  id: 'alarms',
  title: 'CloudWatch alarms',
  dependsOn: ['metric-filters'],
  after: ['alarm-topic'],
  command: {
    summary: 'Create the alarms on the 5xx rate and on httpd error lines (they notify --alarm-email, if given)',
    settings: ['alarm5xxPercent', 'alarmErrorLines', 'alarmEmail', 'monitoring'],
    examples: ['ecs-cwlogs alarms', 'ecs-cwlogs alarms --alarm-5xx-percent 2 --alarm-error-lines 25', 'ecs-cwlogs alarms --delete --yes'],
  },
  ...MONITORING,
  tagged: [{ type: 'cloudwatch:alarm' }],

  async read(ctx) {
    const alarms = await readAlarms(ctx);
    return alarms.length ? { alarms } : ABSENT;
  },

  // The topic's ARN follows from its name, so `ecs-cwlogs alarms` alone (the topic step not in the
  // run) keeps the alarms' actions: with --alarm-email they notify the stack's topic.
  desired: (ctx) => ({ alarms: alarmInputs(ctx.stack, ctx.config, ctx.config.alarmEmail ? topicArnOf(ctx) : undefined), tags: { ...ctx.tags }, adopt: ctx.flags.adopt }),

  plan(observed, desired): Plan {
    const names = desired.alarms.map((a) => a.AlarmName).join(', ');
    if (isAbsent(observed)) return { action: 'create', summary: names };
    const foreign = observed.alarms.find((a) => !a.owned);
    if (foreign && !desired.adopt) return ownershipConflict('Alarm', foreign.alarm.AlarmName!, foreign.tags[STACK_TAG], 'alarms');
    const { put, tag, diffs } = changes(observed, desired);
    if (put.length === 0 && tag.length === 0) return { action: 'noop', summary: names };
    const missing = put.filter((p) => !observed.alarms.some((a) => a.alarm.AlarmName === p.AlarmName));
    return missing.length === desired.alarms.length ? { action: 'create', summary: names } : { action: 'update', summary: [...new Set([...put, ...tag.map((t) => t.alarm)].map((a) => a.AlarmName))].join(', '), diffs };
  },

  async apply(ctx, { observed, desired }) {
    const { put, tag } = changes(observed, desired);
    for (const a of put) await ctx.cloudwatch.putMetricAlarm({ ...a, Tags: keyValueTags(desired.tags) });
    for (const o of tag) if (o.alarm.AlarmArn) await ctx.cloudwatch.tagResource({ ResourceARN: o.alarm.AlarmArn, Tags: keyValueTags(desired.tags) });
    return outputsOf(desired);
  },

  preview: (_o, desired) => outputsOf(desired),

  describe: (o) => Object.fromEntries(o.alarms.map((a) => [a.alarm.AlarmName!, `${a.alarm.StateValue ?? 'INSUFFICIENT_DATA'}${a.owned ? '' : ' (not ours)'}`])),

  ownership: {
    async find(ctx: Ctx) {
      const all = await readAlarms(ctx);
      return { ours: all.filter((a) => a.owned), kept: all.filter((a) => !a.owned).map((a) => `alarm ${a.alarm.AlarmName} (not tagged as stack ${ctx.stack})`) };
    },
    preview: (a: ObservedAlarm) => `alarm ${a.alarm.AlarmName}`,
    deleted: (a: ObservedAlarm) => `alarm ${a.alarm.AlarmName}`,
    delete: (ctx: Ctx, a: ObservedAlarm) => deleteOnce(() => ctx.cloudwatch.deleteAlarms({ AlarmNames: [a.alarm.AlarmName!] }), GONE),
    deleteAll: deleteAlarms,
  },
};

const GONE = ['ResourceNotFound', 'ResourceNotFoundException'];

/**
 * All of them in one DeleteAlarms (up to 100 names a call). AWS's pages differ on a name that no
 * longer exists (the API reference: "the alarms you specify with correct names are still deleted";
 * older references: "no alarms are deleted"), so on ResourceNotFound the names are read again and
 * what is left is deleted; what was gone meanwhile is not listed as deleted.
 */
async function deleteAlarms(ctx: Ctx, alarms: ObservedAlarm[]): Promise<ObservedAlarm[]> {
  const deleted: ObservedAlarm[] = [];
  for (let i = 0; i < alarms.length; i += 100) {
    const chunk = alarms.slice(i, i + 100);
    const names = chunk.map((a) => a.alarm.AlarmName!);
    if (await deleteOnce(() => ctx.cloudwatch.deleteAlarms({ AlarmNames: names }), GONE)) {
      deleted.push(...chunk);
      continue;
    }
    const left = new Set(((await ctx.cloudwatch.describeAlarms({ AlarmNames: names, AlarmTypes: ['MetricAlarm'] })).MetricAlarms ?? []).map((a) => a.AlarmName));
    const still = chunk.filter((a) => left.has(a.alarm.AlarmName));
    if (still.length && (await deleteOnce(() => ctx.cloudwatch.deleteAlarms({ AlarmNames: still.map((a) => a.alarm.AlarmName!) }), GONE))) deleted.push(...still);
  }
  return deleted;
}

function outputsOf(d: AlarmsDesired): AlarmsOutputs {
  const notify = d.alarms[0]?.AlarmActions?.[0];
  return { alarms: d.alarms.map((a) => a.AlarmName!), ...(notify ? { notify } : {}) };
}
