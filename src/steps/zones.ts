/**
 * Where the group topology runs: one public subnet in each Availability Zone of the VPC that offers
 * the instance type. The Auto Scaling group launches into all of them (and balances the zones), and
 * the ALB needs subnets in at least two zones. Chosen the same way every run, so a re-run plans the
 * same group. Read-only; a result of the run, never saved.
 */
import type { Context } from '../core/context.js';
import { UserInputError, hasAwsCode } from '../core/errors.js';
import { discovered, type Discovered } from '../core/step.js';
import { callerIpEndpoint } from '../aws/endpoints.js';
import { detectPublicIp, offeredZones } from './instance.js';

export interface ZoneSubnet {
  subnetId: string;
  zone: string;
}

export interface GroupNetwork {
  vpcId: string | Discovered<string>;
  /** One subnet per zone, sorted by zone. */
  subnets: ZoneSubnet[];
}

type Ctx = Pick<Context, 'ec2' | 'config'>;

const memo = new WeakMap<object, Promise<GroupNetwork>>();

/** The group's VPC and subnets (cached per run: the group, the ALB and the security group all ask). */
export function groupNetwork(ctx: Ctx): Promise<GroupNetwork> {
  let p = memo.get(ctx.config);
  if (!p) {
    p = findGroupNetwork(ctx);
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
  let vpcId: string | Discovered<string>;
  if (c.vpcId) {
    let found = false;
    try {
      found = Boolean((await ctx.ec2.describeVpcs({ VpcIds: [c.vpcId] })).Vpcs?.length);
    } catch (e) {
      if (!hasAwsCode(e, 'InvalidVpcID.NotFound', 'InvalidVpcID.Malformed')) throw e;
    }
    if (!found) throw new UserInputError({ what: `VPC ${c.vpcId} not found`, why: `there is no such VPC in ${c.region}`, fix: 'Pass --vpc with a VPC of this region, or leave it out to use the default VPC.' });
    vpcId = c.vpcId;
  } else {
    const vpc = (await ctx.ec2.describeVpcs({ Filters: [{ Name: 'is-default', Values: ['true'] }] })).Vpcs?.[0];
    if (!vpc?.VpcId) {
      throw new UserInputError({ what: `No default VPC in ${c.region}`, why: 'the account has no default VPC in this region', fix: 'Pass --vpc with a VPC that has public subnets in two or more zones, or create a default VPC: aws ec2 create-default-vpc.' });
    }
    vpcId = discovered(vpc.VpcId, 'the default VPC');
  }
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
  return { vpcId, subnets };
}

const cidrMemo = new WeakMap<object, Promise<string | Discovered<string> | undefined>>();

/**
 * Who may reach the app: --allow-cidr, else the caller's public IP/32 (found once per run). Status
 * (intent inspect) needs none.
 */
export function allowedCidr(ctx: Pick<Context, 'config' | 'flags' | 'endpoint' | 'ec2'>): Promise<string | Discovered<string> | undefined> {
  if (ctx.config.allowCidr) return Promise.resolve(ctx.config.allowCidr);
  if (ctx.flags.intent === 'inspect') return Promise.resolve(undefined);
  let p = cidrMemo.get(ctx.config);
  if (!p) {
    p = (async () => {
      const found = await detectPublicIp(await callerIpEndpoint(ctx));
      if (found.ip) return discovered(`${found.ip}/32`, 'your public IP');
      throw new UserInputError({
        what: 'Cannot detect your public IP address',
        why: `${found.why ?? 'no answer'}; it is needed to allow HTTP from your address only`,
        fix: 'Pass --allow-cidr with your address, e.g. --allow-cidr 203.0.113.7/32.',
      });
    })();
    cidrMemo.set(ctx.config, p);
    p.catch(() => cidrMemo.delete(ctx.config));
  }
  return p;
}
