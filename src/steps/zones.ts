/**
 * Where the group topology runs: one public subnet in each Availability Zone of the VPC that offers
 * the instance type. The Auto Scaling group launches into all of them (and balances the zones), and
 * the ALB needs subnets in at least two zones. Chosen the same way every run, so a re-run plans the
 * same group; a group that already is what the settings ask for keeps its own (group-fit.ts), and
 * none of this is looked up. Read-only; a result of the run, never saved.
 */
import type { Context } from '../engine/context.js';
import { UserInputError } from '../core/errors.js';
import { offeredZones, resolveVpc } from './host.js';
import { groupAsAsked, type GroupNetwork } from './group-fit.js';

export type { GroupNetwork } from './group-fit.js';

type Ctx = Pick<Context, 'ec2' | 'autoscaling' | 'config' | 'stack' | 'flags' | 'inventory' | 'planReads'>;

const memo = new WeakMap<object, Promise<GroupNetwork>>();

/** The group's VPC and subnets (cached per run: the group, the ALB and the target group all ask). */
export function groupNetwork(ctx: Ctx): Promise<GroupNetwork> {
  let p = memo.get(ctx.config);
  if (!p) {
    p = groupAsAsked(ctx).then((own) => own ?? findGroupNetwork(ctx));
    memo.set(ctx.config, p);
    p.catch(() => memo.delete(ctx.config));
  }
  return p;
}

export const vpcOf = (n: GroupNetwork): string => (typeof n.vpcId === 'string' ? n.vpcId : n.vpcId.value);

async function findGroupNetwork(ctx: Ctx): Promise<GroupNetwork> {
  const c = ctx.config;
  if (c.subnetId) {
    throw new UserInputError({
      what: `--subnet ${c.subnetId} can't be used with ${c.instances > 1 ? `--instances ${c.instances}` : '--load-balancer'}`,
      why: 'an Auto Scaling group spreads its instances over a public subnet in each Availability Zone of the VPC',
      fix: 'Leave --subnet out (pass --vpc to pick the VPC), or use --instances 1 without --load-balancer for one instance in that subnet.',
    });
  }
  const offeredP = offeredZones(ctx, c.instanceType);
  offeredP.catch(() => undefined);
  const { vpcId } = await resolveVpc(ctx);
  const vpc = typeof vpcId === 'string' ? vpcId : vpcId.value;
  const all: { SubnetId?: string; AvailabilityZone?: string; MapPublicIpOnLaunch?: boolean; DefaultForAz?: boolean; State?: string }[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ec2.describeSubnets({ Filters: [{ Name: 'vpc-id', Values: [vpc] }], NextToken: token });
    all.push(...(res.Subnets ?? []));
    token = res.NextToken;
  } while (token);
  const offered = await offeredP;
  const pub = all
    .filter((s) => s.SubnetId && s.AvailabilityZone && s.MapPublicIpOnLaunch && (s.State ?? 'available') === 'available')
    .filter((s) => !offered || offered.has(s.AvailabilityZone!))
    .sort((a, b) => a.AvailabilityZone!.localeCompare(b.AvailabilityZone!) || Number(Boolean(b.DefaultForAz)) - Number(Boolean(a.DefaultForAz)) || a.SubnetId!.localeCompare(b.SubnetId!));
  const byZone = new Map<string, string>();
  for (const s of pub) if (!byZone.has(s.AvailabilityZone!)) byZone.set(s.AvailabilityZone!, s.SubnetId!);
  const subnets = [...byZone].map(([zone, subnetId]) => ({ zone, subnetId }));
  const needed = c.loadBalancer ? 2 : 1;
  if (subnets.length < needed) {
    throw new UserInputError({
      what: subnets.length ? `VPC ${vpc} has public subnets in only one Availability Zone (${subnets[0]!.zone}) that offers ${c.instanceType}` : `VPC ${vpc} has no public subnet in a zone that offers ${c.instanceType}`,
      why: c.loadBalancer ? 'an Application Load Balancer needs subnets in at least two zones' : 'the group launches its instances into public subnets (instances get a public IP)',
      fix: `Pass --vpc with a VPC that has public subnets in two or more zones, or pick another --instance-type${c.loadBalancer ? ', or leave --load-balancer out' : ''}.`,
    });
  }
  return { vpcId, subnets: subnets.map((s) => s.subnetId).sort(), zones: subnets.map((s) => s.zone) };
}
