/**
 * What `up` ends with, and what `status` shows.
 */
import type { Context } from '../engine/context.js';
import type { RunReport } from '../engine/engine.js';
import { known } from '../core/step.js';
import { alarmTopicStep, autoScalingGroupStep, dashboardStep, loadBalancerStep } from '../steps/index.js';
import { commandFor, type CommandFor } from './invocation.js';

export interface UpSummary {
  url?: string;
  /** A group without an ALB: every instance's address. */
  urls?: string[];
  /** The group topology: the Auto Scaling group, and how many instances in which zones. */
  group?: { name: string; instances: number; zones: string[] };
  loadBalancer?: string;
  cluster: string;
  instanceId?: string;
  logGroup: string;
  logStreams: string[];
  /** The CloudWatch console's page of the log group (not in a rehearsal: it would be AWS's). */
  consoleUrl?: string;
  /** A rehearsal (--sandbox): nothing it shows is in AWS. */
  rehearsal?: boolean;
  image?: string;
  /** Monitoring: the dashboard (its console URL, not in a rehearsal) and where the alarms notify. */
  dashboard?: { name: string; url?: string };
  alarmEmail?: { address: string; subscription: string };
  next: string[];
}

export function consoleLogsUrl(region: string, logGroup: string): string {
  // The console double-encodes the group name inside its fragment ($252F is "/").
  const enc = encodeURIComponent(encodeURIComponent(logGroup)).replace(/%/g, '$');
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${enc}`;
}

/**
 * `run`: a follow-up command as the user can type it here (cli/invocation.ts: the tool as invoked, and
 * the stack's flags). In a rehearsal (the target is the sandbox) nothing points at AWS: no console
 * link, and no URL of the simulated instance or load balancer (an address that answers nothing);
 * `up --sandbox --local` sets the local URL.
 */
export function upSummary(ctx: Pick<Context, 'config' | 'stack'> & Partial<Pick<Context, 'target'>>, report: RunReport, run: CommandFor = commandFor({ stack: ctx.stack })): UpSummary {
  const o = report.outputs;
  const rehearsal = ctx.target?.kind === 'sandbox';
  const url = rehearsal ? undefined : known(o.service?.url);
  const id = known(o.instance?.instanceId);
  const asg = o[autoScalingGroupStep.id];
  const alb = o[loadBalancerStep.id];
  const urls = rehearsal ? undefined : o.service?.urls;
  return {
    url,
    ...(urls && urls.length > 1 ? { urls } : {}),
    ...(asg ? { group: { name: asg.groupName, instances: asg.desired, zones: asg.zones } } : {}),
    ...(alb ? { loadBalancer: alb.loadBalancerName } : {}),
    cluster: ctx.config.clusterName,
    instanceId: id,
    logGroup: ctx.config.logGroup,
    logStreams: ['httpd-access.log', 'httpd-error.log', 'ecs-agent.log', 'ecs-init.log', 'docker'],
    ...(rehearsal ? { rehearsal: true } : { consoleUrl: consoleLogsUrl(ctx.config.region, ctx.config.logGroup) }),
    image: known(o.image?.imageRef),
    ...monitoringSummary(o, rehearsal),
    next: [run('logs --follow'), run('status'), run('down')],
  };
}

function monitoringSummary(o: RunReport['outputs'], rehearsal: boolean): Pick<UpSummary, 'dashboard' | 'alarmEmail'> {
  const d = o[dashboardStep.id];
  const t = o[alarmTopicStep.id];
  return {
    ...(d ? { dashboard: { name: d.dashboardName, ...(rehearsal ? {} : { url: d.consoleUrl }) } } : {}),
    ...(t?.email && t.subscription ? { alarmEmail: { address: t.email, subscription: t.subscription } } : {}),
  };
}

export function renderUpSummary(s: UpSummary, report: RunReport): string {
  if (report.dryRun) {
    const lines = report.steps.map((r) => `  ${r.action === 'noop' ? 'no change' : `would ${r.action}`.padEnd(9)} ${r.title}${r.plan && 'summary' in r.plan && r.plan.summary ? ` (${r.plan.summary})` : ''}`);
    return ['Plan (dry run, nothing changed):', ...lines].join('\n');
  }
  const noUrl = s.rehearsal
    ? 'App:        (a rehearsal: nothing answers; `up --sandbox --local` runs the app on this machine)'
    : 'App:        (no URL yet: the instance has no public IP)';
  const where = [
    s.url ? `App:        ${s.url}${s.loadBalancer ? ` (load balancer ${s.loadBalancer})` : ''}` : noUrl,
    ...(s.urls ?? []).slice(1).map((u) => `            ${u}`),
    `Cluster:    ${s.cluster}`,
    ...(s.group ? [`Instances:  ${s.group.instances} in Auto Scaling group ${s.group.name} (${s.group.zones.join(', ')})`] : []),
    ...(s.instanceId ? [`Instance:   ${s.instanceId}`] : []),
    `Log group:  ${s.logGroup}`,
    `Streams:    {instance_id}-{hostname}-{ip}-${s.logStreams.join(', …-')}`,
    ...(s.consoleUrl ? [`Console:    ${s.consoleUrl}`] : []),
    ...(s.dashboard ? [`Dashboard:  ${s.dashboard.url ?? `${s.dashboard.name} (in the sandbox)`}`] : []),
    ...(s.alarmEmail
      ? [`Alarms to:  ${s.alarmEmail.address}${s.alarmEmail.subscription === 'pending confirmation' ? ' (pending confirmation: follow the link SNS emailed, or no alarm reaches you)' : ''}`]
      : []),
  ];
  const next = [`Tail logs:  ${s.next[0]}`, `Status:     ${s.next[1]}`, `Tear down:  ${s.next[2]}`];
  return ['', ...where, '', ...next].join('\n');
}

const STATE: Record<string, string> = {
  absent: 'absent',
  noop: 'in sync',
  update: 'drifted',
  replace: 'drifted',
  create: 'absent',
  conflict: 'not ours',
  failed: 'error',
  unconfigured: 'not set up',
};

/** A step's state as `status` shows it: absent, in sync, drifted, not ours, error, not set up. */
export function stateOf(action: string): string {
  return STATE[action] ?? action;
}

/** `status --json`: what it is (a read of the stack, not a plan), where it read, and each step's state. */
export function statusDocument(stack: string, target: { kind: string; account: string; region: string; endpoint?: string }, report: RunReport) {
  const { dryRun: _read, ...rest } = report;
  return {
    command: 'status' as const,
    stack,
    region: target.region,
    account: target.account,
    target,
    ...rest,
    steps: report.steps.map((s) => ({ ...s, state: stateOf(s.action).replace(/ /g, '-') })),
  };
}

/** The line that says where `status` read: the account and region (and the sandbox or endpoint). */
export function statusWhere(target: { kind: string; account: string; region: string; endpoint?: string }): string {
  const where = target.kind === 'sandbox' ? ' (the sandbox)' : target.kind === 'endpoint' ? ` (endpoint ${target.endpoint})` : '';
  return `Account ${target.account}, region ${target.region}${where}`;
}

export function renderStatus(stack: string, report: RunReport, where?: string): string {
  const rows = report.steps.map((s) => {
    const state = stateOf(s.action);
    const ids = Object.entries(s.details ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('  ');
    const drift = s.plan?.action === 'update' || s.plan?.action === 'replace' ? `(${s.plan.diffs.map((d) => d.field).join(', ')})` : '';
    const note = s.plan && 'note' in s.plan && s.plan.note ? `note: ${s.plan.note}` : '';
    return [s.title, state, [ids, drift, note, s.error ?? ''].filter(Boolean).join('  ')];
  });
  const w0 = Math.max(4, ...rows.map((r) => r[0]!.length));
  const w1 = Math.max(5, ...rows.map((r) => r[1]!.length));
  return [`Stack ${stack}${where ? ` · ${where}` : ''}`, `${'STEP'.padEnd(w0)}  ${'STATE'.padEnd(w1)}  DETAILS`, ...rows.map((r) => `${r[0]!.padEnd(w0)}  ${r[1]!.padEnd(w1)}  ${r[2]}`)].join('\n');
}
