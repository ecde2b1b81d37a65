/**
 * A small on-demand price table for the wizard's cost estimate: Linux, us-east-1, USD per hour, list
 * prices as published in 2025-2026. An estimate, not a quote: regions differ and prices change.
 */
const HOURLY: Record<string, number> = {
  't2.micro': 0.0116,
  't2.small': 0.023,
  't3.micro': 0.0104,
  't3.small': 0.0208,
  't3.medium': 0.0416,
  't3.large': 0.0832,
  't3a.small': 0.0188,
  't3a.medium': 0.0376,
  't4g.micro': 0.0084,
  't4g.small': 0.0168,
  't4g.medium': 0.0336,
  'm5.large': 0.096,
  'm6i.large': 0.096,
  'm7i.large': 0.1008,
  'm7i-flex.large': 0.0958,
  'm7g.large': 0.0816,
  'c6i.large': 0.085,
  'c7i.large': 0.0893,
  'c7g.large': 0.0725,
  'r6i.large': 0.126,
};

/** gp3: $0.08 per GB-month; the ECS-optimized AMI's 30 GB root volume. */
const VOLUME_MONTHLY = 30 * 0.08;
/** A public IPv4 address: $0.005 per hour. */
const IPV4_HOURLY = 0.005;
const HOURS_PER_MONTH = 730;

export function hourlyPrice(instanceType: string): number | undefined {
  return HOURLY[instanceType];
}

export function estimateMonthly(instanceType: string): { hourly: number; monthly: number } | undefined {
  const h = HOURLY[instanceType];
  if (h === undefined) return undefined;
  const hourly = h + IPV4_HOURLY + VOLUME_MONTHLY / HOURS_PER_MONTH;
  return { hourly, monthly: hourly * HOURS_PER_MONTH };
}

/** An Application Load Balancer: $0.0225 per hour plus LCUs ($0.008 each; a lab uses well under one). */
const ALB_HOURLY = 0.0225 + 0.008;

/** What an ALB adds per hour: the ALB (1 LCU) and its public IPv4 address in each zone. */
export function loadBalancerHourly(zones = 2): number {
  return ALB_HOURLY + zones * IPV4_HOURLY;
}

export interface StackCost {
  hourly: number;
  monthly: number;
  /** What the figure is made of, e.g. "3 × t3.small with volume and public IPv4", "the ALB (1 LCU)". */
  parts: string[];
}

/**
 * The stack's running cost: N instances (type, 30 GB gp3, public IPv4) and, with --load-balancer,
 * the ALB and its public IPv4 address in each zone. Undefined when the type has no price on file.
 */
export function estimateStack(c: { instanceType: string; instances: number; loadBalancer: boolean }, zones = 2): StackCost | undefined {
  const one = estimateMonthly(c.instanceType);
  if (!one) return undefined;
  const n = Math.max(1, c.instances);
  let hourly = n * one.hourly;
  const parts = [`${n === 1 ? 'the' : `${n} ×`} ${c.instanceType} instance${n === 1 ? '' : 's'}, ${n === 1 ? 'its' : 'their'} 30 GB gp3 volume${n === 1 ? '' : 's'} and public IPv4 address${n === 1 ? '' : 'es'}`];
  if (c.loadBalancer) {
    hourly += loadBalancerHourly(zones);
    parts.push(`the load balancer (1 LCU) and its ${zones} public IPv4 addresses`);
  }
  return { hourly, monthly: hourly * HOURS_PER_MONTH, parts };
}

/** What a rehearsal (--sandbox) costs: it runs on this machine, AWS bills nothing. */
export const REHEARSAL_COST = '$0 (a rehearsal: the sandbox runs on this machine, AWS bills nothing)';

/**
 * Monitoring's monthly list prices (us-east-1), from "Amazon CloudWatch pricing"
 * (https://aws.amazon.com/cloudwatch/pricing/) and "Amazon SNS pricing": a custom metric $0.30 (the
 * first 10,000), a standard-resolution alarm metric $0.10 (a metric-math alarm counts each metric it
 * reads), a dashboard $3.00, Logs Insights $0.005 per GB scanned, SNS email $2.00 per 100,000 after
 * the first 1,000 a month. The always-free tier: 10 custom metrics, 10 alarm metrics, 3 dashboards
 * of up to 50 metrics, 5 GB of logs data (ingested, stored and scanned together), 1,000 emails.
 * Metric filters and saved queries cost nothing themselves.
 */
export const MONITORING_PRICES = { metric: 0.3, alarmMetric: 0.1, dashboard: 3 } as const;
/** What the monitoring steps make: 5 metrics (no dimensions), 2 alarms reading 3 metrics, 1 dashboard. */
export const MONITORING_COUNTS = { metrics: 5, alarmMetrics: 3, dashboards: 1 } as const;

export function monitoringMonthly(): number {
  const p = MONITORING_PRICES;
  const n = MONITORING_COUNTS;
  return n.metrics * p.metric + n.alarmMetrics * p.alarmMetric + n.dashboards * p.dashboard;
}

/** The plan's words on monitoring's cost, free tier noted. */
export function monitoringCostSentence(alarmEmail: boolean): string {
  const n = MONITORING_COUNTS;
  const p = MONITORING_PRICES;
  return (
    `Monitoring: ${n.metrics} custom metrics ($${(n.metrics * p.metric).toFixed(2)}), 2 alarms reading ${n.alarmMetrics} metrics ($${(n.alarmMetrics * p.alarmMetric).toFixed(2)}) and 1 dashboard ($${p.dashboard.toFixed(2)}): ` +
    `~$${monitoringMonthly().toFixed(2)}/month at list prices, $0 within CloudWatch's free tier (10 custom metrics, 10 alarm metrics, 3 dashboards a month, if nothing else of the account uses it). ` +
    `The dashboard's two Logs Insights widgets scan the log group when viewed ($0.005/GB after the free 5 GB)${alarmEmail ? '; alarm emails are free up to 1,000 a month' : ''}; metric filters and saved queries cost nothing. --no-monitoring leaves it out.`
  );
}

/** The plan's cost line: the stack's estimate, or nothing for a rehearsal. */
export function costSentence(c: { instanceType: string; instances: number; loadBalancer: boolean; monitoring?: boolean; alarmEmail?: string }, zones: number, rehearsal: boolean): string {
  if (rehearsal) {
    // What the user rehearses for: the same stack's price on AWS.
    const onAws = estimateStack(c, zones);
    const monitoring = c.monitoring === false ? '' : `, and monitoring ~$${monitoringMonthly().toFixed(2)}/month before CloudWatch's free tier`;
    return `Estimated cost: ${REHEARSAL_COST}.${onAws ? ` On AWS, the same stack: ~$${onAws.hourly.toFixed(3)}/hour (~$${onAws.monthly.toFixed(0)}/month) for ${onAws.parts.join(', and ')}${monitoring}.` : ''}`;
  }
  const cost = estimateStack(c, zones);
  const stack = cost
    ? `Estimated cost: ~$${cost.hourly.toFixed(3)}/hour (~$${cost.monthly.toFixed(0)}/month) for ${cost.parts.join(', and ')}, on-demand us-east-1 list prices. An estimate: logs ingestion and storage are extra ($0.50/GB ingested).`
    : `Estimated cost: no price on file for ${c.instanceType}; see the EC2 pricing page.`;
  return c.monitoring === false ? stack : `${stack}
${monitoringCostSentence(Boolean(c.alarmEmail))}`;
}

/** The estimate as data (`--json`): USD, undefined where no price is on file. */
export interface CostEstimate {
  rehearsal: boolean;
  hourlyUsd?: number;
  monthlyUsd?: number;
  /** Monitoring's list price a month, before CloudWatch's free tier; absent with --no-monitoring. */
  monitoringMonthlyUsd?: number;
  /** A rehearsal's: what the same stack would cost on AWS. */
  onAws?: { hourlyUsd?: number; monthlyUsd?: number; monitoringMonthlyUsd?: number };
  text: string;
}

export function costEstimate(c: Parameters<typeof costSentence>[0], zones: number, rehearsal: boolean): CostEstimate {
  const text = costSentence(c, zones, rehearsal);
  const cost = estimateStack(c, zones);
  const round = (n: number) => Math.round(n * 10_000) / 10_000;
  const priced = {
    ...(cost ? { hourlyUsd: round(cost.hourly), monthlyUsd: round(cost.monthly) } : {}),
    ...(c.monitoring === false ? {} : { monitoringMonthlyUsd: round(monitoringMonthly()) }),
  };
  if (rehearsal) return { rehearsal, hourlyUsd: 0, monthlyUsd: 0, ...(c.monitoring === false ? {} : { monitoringMonthlyUsd: 0 }), onAws: priced, text };
  return { rehearsal, ...priced, text };
}

/** After a failure: what a running instance costs by the hour (nothing in a rehearsal). */
export function runningCostNote(instanceType: string, rehearsal: boolean): string {
  if (rehearsal) return ' (running in the sandbox: $0)';
  const p = hourlyPrice(instanceType);
  return p ? ` (running: ~$${p.toFixed(4)}/hour)` : ' (running: it costs money by the hour)';
}
