/**
 * Step: the Application Load Balancer (group topology with --load-balancer), with
 *   - its own security group: HTTP (80) from --allow-cidr (your IP/32 by default) and nothing else;
 *     the instances' group lets only this group in, on the tasks' dynamic host ports;
 *   - the ALB: internet-facing, in one public subnet per Availability Zone of the group;
 *   - one listener: HTTP 80, forwarding to the target group ECS registers the tasks in.
 * Its DNS name is the app's URL.
 *
 * Every part is read and compared on its own, so a run killed between two of them converges: the
 * ALB is found by name (CreateLoadBalancer with the same name and settings is idempotent anyway),
 * the listener by port.
 */
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { IpPermission } from '@aws-sdk/client-ec2';
import { deleteOnce, deleteOwned } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { awsTags, ownedBy, STACK_TAG } from '../core/context.js';
import { diff } from '../core/diff.js';
import { hasAwsCode } from '../core/errors.js';
import { isAbsent, known, showValue, unknown, type Absent, type Discovered, type FieldDiff, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { groupNames } from '../core/topology.js';
import { pollUntil, within } from '../core/wait.js';
import { ownedTagsDiff, ownershipConflict } from './ownership.js';
import { elbTags } from './target-group.js';
import { allowedCidr, readSecurityGroup, readSecurityGroupAtStart } from './security-group.js';
import { groupNetwork, vpcOf, type GroupNetwork } from './zones.js';

/** The ALB, its own security group (HTTP from --allow-cidr) and its listener on port 80. */
export interface LoadBalancerOutputs { loadBalancerArn: Later<string>; loadBalancerName: string; dnsName: Later<string>; securityGroupId: Later<string>; listenerArn: Later<string> }

declare module '../core/step.js' {
  interface StepOutputs {
    'load-balancer': LoadBalancerOutputs;
  }
}

type Ctx = Pick<Context, 'elbv2' | 'ec2' | 'autoscaling' | 'tagging' | 'inventory' | 'config' | 'tags' | 'stack' | 'flags' | 'clock' | 'timing' | 'signal' | 'report' | 'endpoint'>;

export interface LoadBalancerPrepared extends GroupNetwork {
  allowCidr?: string | Discovered<string>;
}

interface GroupObserved {
  groupId: string;
  vpcId: string;
  ingress: string[];
  tags: Record<string, string>;
  owned: boolean;
}

interface AlbObserved {
  arn: string;
  dnsName: string;
  state: string;
  subnets: string[];
  securityGroups: string[];
  scheme: string;
  tags: Record<string, string>;
  owned: boolean;
}

export interface LoadBalancerObserved {
  group?: GroupObserved;
  alb?: AlbObserved;
  listener?: { arn: string; targetGroupArn?: string };
}

export interface LoadBalancerDesired {
  name: string;
  groupName: string;
  vpcId: string;
  subnets: string[];
  /** "tcp:80:203.0.113.7/32" */
  ingress: string[];
  targetGroupArn: string;
  tags: Record<string, string>;
  adopt: boolean;
  pending?: string;
}

const cidrValue = (c: LoadBalancerPrepared['allowCidr']) => (c === undefined ? undefined : typeof c === 'string' ? c : c.value);
const tagMap = (t: { Key?: string; Value?: string }[] | undefined) => Object.fromEntries((t ?? []).map((x) => [x.Key ?? '', x.Value ?? '']));

/** The ALB's security group, as the security-group step reads groups; its CIDR rules as "tcp:80:<cidr>". */
/** The ALB's group; at plan time (`atStart`) from the stack's tagged groups read once for the run, where it is there. */
async function readGroup(ctx: Pick<Context, 'ec2' | 'stack' | 'inventory'>, name: string, vpcId: string | undefined, atStart = false): Promise<GroupObserved | undefined> {
  const g = atStart ? await readSecurityGroupAtStart(ctx, name, vpcId) : await readSecurityGroup(ctx, name, vpcId);
  if (!g) return undefined;
  const ingress = g.ingress.filter((r) => r.cidr && !r.ipv6).map((r) => `${r.protocol}:${r.fromPort}:${r.cidr}`).sort();
  return { groupId: g.groupId, vpcId: g.vpcId, ingress, tags: g.tags, owned: g.owned };
}

function albShape(lb: LoadBalancer, tags: Record<string, string>, stack: string): AlbObserved {
  return {
    arn: lb.LoadBalancerArn ?? '',
    dnsName: lb.DNSName ?? '',
    state: lb.State?.Code ?? 'unknown',
    subnets: (lb.AvailabilityZones ?? []).map((z) => z.SubnetId ?? '').filter(Boolean).sort(),
    securityGroups: [...(lb.SecurityGroups ?? [])].sort(),
    scheme: lb.Scheme ?? '',
    tags,
    owned: ownedBy(tags, stack),
  };
}

async function readAlb(ctx: Pick<Context, 'elbv2' | 'stack'> & Partial<Pick<Context, 'tagging' | 'inventory'>>, name: string): Promise<AlbObserved | undefined> {
  try {
    const lb = (await ctx.elbv2.describeLoadBalancers({ Names: [name] })).LoadBalancers?.[0];
    if (!lb?.LoadBalancerArn) return undefined;
    return albShape(lb, (await elbTags(ctx, [lb.LoadBalancerArn])).get(lb.LoadBalancerArn) ?? {}, ctx.stack);
  } catch (e) {
    if (hasAwsCode(e, 'LoadBalancerNotFound')) return undefined;
    throw e;
  }
}

async function readListener(ctx: Pick<Context, 'elbv2'>, albArn: string): Promise<LoadBalancerObserved['listener']> {
  const res = await ctx.elbv2.describeListeners({ LoadBalancerArn: albArn });
  const l = (res.Listeners ?? []).find((x) => x.Port === 80);
  if (!l?.ListenerArn) return undefined;
  const forward = l.DefaultActions?.find((a) => a.Type === 'forward');
  return { arn: l.ListenerArn, targetGroupArn: forward?.TargetGroupArn ?? forward?.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn };
}

export const loadBalancerStep: DeclaredStep<Ctx, LoadBalancerObserved, LoadBalancerDesired, LoadBalancerPrepared, 'load-balancer'> = {
  id: 'load-balancer',
  title: 'Load balancer',
  dependsOn: ['target-group'],
  command: {
    summary: 'Create the Application Load Balancer: its security group (HTTP from --allow-cidr only), the ALB across zones, the HTTP 80 listener',
    settings: ['clusterName', 'securityGroupName', 'allowCidr', 'vpcId', 'instanceType', 'instances', 'loadBalancer'],
    examples: [
      'ecs-cwlogs load-balancer --load-balancer',
      'ecs-cwlogs load-balancer --allow-cidr 203.0.113.7/32 --dry-run',
      'ecs-cwlogs load-balancer --delete --yes',
    ],
  },
  shapes: ['group-with-alb'],
  tagged: [{ type: 'elasticloadbalancing:loadbalancer', is: (r) => /:loadbalancer\/app\//.test(r.arn) }],

  async prepare(ctx) {
    const [network, allowCidr] = await Promise.all([groupNetwork(ctx), allowedCidr(ctx)]);
    return { ...network, allowCidr };
  },

  async read(ctx, prepared): Promise<LoadBalancerObserved | Absent> {
    const names = groupNames(ctx.config);
    const [group, alb] = await Promise.all([readGroup(ctx, names.loadBalancerSecurityGroup, prepared ? vpcOf(prepared) : undefined, true), readAlb(ctx, names.loadBalancer)]);
    const listener = alb ? await readListener(ctx, alb.arn) : undefined;
    if (!group && !alb) return { status: 'absent' };
    return { group, alb, listener };
  },

  desired(ctx, deps, prepared): LoadBalancerDesired {
    const names = groupNames(ctx.config);
    const tg = deps['target-group']?.targetGroupArn;
    const cidr = cidrValue(prepared.allowCidr);
    return {
      name: names.loadBalancer,
      groupName: names.loadBalancerSecurityGroup,
      vpcId: vpcOf(prepared),
      subnets: [...prepared.subnets],
      ingress: cidr ? [`tcp:80:${cidr}`] : [],
      targetGroupArn: known(tg) ?? showValue(tg),
      ...(known(tg) === undefined ? { pending: `the target group (${showValue(tg)})` } : {}),
      tags: { ...ctx.tags },
      adopt: ctx.flags.adopt,
    };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.name}: internet-facing, ${desired.subnets.length} zones, HTTP 80 from ${desired.ingress.map((r) => r.split(':')[2]).join(', ') || '(your IP)'}` };
    for (const [kind, name, part] of [['Security group', desired.groupName, observed.group], ['Load balancer', desired.name, observed.alb]] as const) {
      if (part && !part.owned && !desired.adopt) return ownershipConflict(kind, name, part.tags[STACK_TAG], 'up');
    }
    const diffs: FieldDiff[] = [];
    if (!observed.group) diffs.push({ field: 'securityGroup', from: undefined, to: desired.groupName });
    else {
      if (desired.ingress.length) diffs.push(...diff({ ingress: observed.group.ingress }, { ingress: desired.ingress }));
      diffs.push(...ownedTagsDiff(observed.group.tags, desired.tags).map((d) => ({ ...d, field: `securityGroup.${d.field}` })));
    }
    if (!observed.alb) diffs.push({ field: 'loadBalancer', from: undefined, to: desired.name });
    else {
      if (observed.alb.scheme && observed.alb.scheme !== 'internet-facing') {
        return { action: 'conflict', what: `Load balancer ${desired.name} is ${observed.alb.scheme}`, why: "the app needs an internet-facing one, and an ALB's scheme can't change", fix: 'Run `ecs-cwlogs down` (logs are kept), then `ecs-cwlogs up`.' };
      }
      diffs.push(...diff({ subnets: observed.alb.subnets }, { subnets: desired.subnets }));
      if (observed.group && !observed.alb.securityGroups.includes(observed.group.groupId)) diffs.push({ field: 'securityGroups', from: observed.alb.securityGroups, to: [observed.group.groupId] });
      diffs.push(...ownedTagsDiff(observed.alb.tags, desired.tags));
    }
    if (!observed.listener) diffs.push({ field: 'listener', from: undefined, to: 'HTTP 80 → target group' });
    else if (observed.listener.targetGroupArn !== desired.targetGroupArn && !desired.pending) diffs.push({ field: 'listener.targetGroup', from: observed.listener.targetGroupArn, to: desired.targetGroupArn });
    return diffs.length ? { action: 'update', summary: [...new Set(diffs.map((d) => d.field.split('.')[0]))].join(', '), diffs } : { action: 'noop', summary: observed.alb?.dnsName };
  },

  async apply(ctx, { observed, desired }) {
    const o = isAbsent(observed) ? {} : observed;
    const group = await ensureGroup(ctx, o.group, desired);
    let alb = o.alb;
    if (!alb) {
      ctx.report(`creating ${desired.name}`);
      const res = await ctx.elbv2.createLoadBalancer({
        Name: desired.name,
        Type: 'application',
        Scheme: 'internet-facing',
        IpAddressType: 'ipv4',
        Subnets: desired.subnets,
        SecurityGroups: [group.groupId],
        Tags: awsTags(desired.tags),
      });
      const lb = res.LoadBalancers?.[0];
      alb = albShape(lb ?? {}, desired.tags, ctx.stack);
    } else {
      if (alb.subnets.join() !== desired.subnets.join()) await ctx.elbv2.setSubnets({ LoadBalancerArn: alb.arn, Subnets: desired.subnets });
      if (!alb.securityGroups.includes(group.groupId)) await ctx.elbv2.setSecurityGroups({ LoadBalancerArn: alb.arn, SecurityGroups: [group.groupId] });
      if (ownedTagsDiff(alb.tags, desired.tags).length) await ctx.elbv2.addTags({ ResourceArns: [alb.arn], Tags: awsTags(desired.tags) });
    }
    let listener = o.listener;
    if (!listener) {
      const res = await ctx.elbv2.createListener({ LoadBalancerArn: alb.arn, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: desired.targetGroupArn }], Tags: awsTags(desired.tags) });
      listener = { arn: res.Listeners?.[0]?.ListenerArn ?? '', targetGroupArn: desired.targetGroupArn };
    } else if (listener.targetGroupArn !== desired.targetGroupArn) {
      await ctx.elbv2.modifyListener({ ListenerArn: listener.arn, DefaultActions: [{ Type: 'forward', TargetGroupArn: desired.targetGroupArn }] });
    }
    if (alb.state !== 'active') alb = await waitActive(ctx, desired.name);
    return { loadBalancerArn: alb.arn, loadBalancerName: desired.name, dnsName: alb.dnsName, securityGroupId: group.groupId, listenerArn: listener.arn };
  },

  preview(observed, desired) {
    const o = isAbsent(observed) ? {} : observed;
    return {
      loadBalancerArn: o.alb?.arn ?? unknown('create'),
      loadBalancerName: desired.name,
      dnsName: o.alb?.dnsName ?? unknown('create'),
      securityGroupId: o.group?.groupId ?? unknown('create'),
      listenerArn: o.listener?.arn ?? unknown('create'),
    };
  },

  describe: (o) => ({
    ...(o.alb ? { dns: o.alb.dnsName, state: o.alb.state, zones: String(o.alb.subnets.length) } : {}),
    ...(o.group ? { securityGroup: o.group.groupId } : {}),
    ...(o.listener ? { listener: 'HTTP 80' } : {}),
  }),

  async destroy(ctx) {
    const { albs, groups, kept } = await stackParts(ctx);
    const deleted: string[] = [];
    for (const a of albs) {
      ctx.report(`deleting ${a.name}`);
      await deleteOnce(() => ctx.elbv2.deleteLoadBalancer({ LoadBalancerArn: a.arn }), ['LoadBalancerNotFound']); // its listeners go with it
      await pollUntil(async () => ((await readAlb(ctx, a.name)) ? undefined : true), { ...within(ctx, 10), intervalMs: ctx.timing.pollMs, what: `load balancer ${a.name} to be deleted` });
      deleted.push(`load balancer ${a.name} (and its listener)`);
    }
    for (const g of groups) {
      // The ALB's network interfaces outlive it for a while: DependencyViolation until they are gone.
      await deleteOwned(ctx, () => ctx.ec2.deleteSecurityGroup({ GroupId: g.groupId }), { gone: ['InvalidGroup.NotFound'], busy: ['DependencyViolation'], minutes: 10, maxDelayMs: 10 * ctx.timing.retryMs });
      deleted.push(`security group ${g.name} (${g.groupId})`);
    }
    return { deleted, kept };
  },

  async destroyPreview(ctx) {
    const { albs, groups, kept } = await stackParts(ctx);
    return { deleted: [...albs.map((a) => `load balancer ${a.name} (${a.dnsName}) and its listener`), ...groups.map((g) => `security group ${g.name} (${g.groupId})`)], kept };
  },
};

/** The stack's ALBs and ALB security groups: by name, and any other with the stack tag. */
async function stackParts(ctx: Ctx): Promise<{ albs: { arn: string; name: string; dnsName: string }[]; groups: { groupId: string; name: string }[]; kept: string[] }> {
  const names = groupNames(ctx.config);
  const all: LoadBalancer[] = [];
  let marker: string | undefined;
  do {
    const res = await ctx.elbv2.describeLoadBalancers({ Marker: marker, PageSize: 400 });
    all.push(...(res.LoadBalancers ?? []));
    marker = res.NextMarker;
  } while (marker);
  const tags = await elbTags(ctx, all.map((l) => l.LoadBalancerArn ?? '').filter(Boolean));
  const kept: string[] = [];
  const albs = all
    .filter((l) => {
      const mine = ownedBy(tags.get(l.LoadBalancerArn ?? '') ?? {}, ctx.stack);
      if (!mine && l.LoadBalancerName === names.loadBalancer) kept.push(`load balancer ${names.loadBalancer} (not tagged as stack ${ctx.stack})`);
      return mine;
    })
    .map((l) => ({ arn: l.LoadBalancerArn!, name: l.LoadBalancerName ?? '', dnsName: l.DNSName ?? '' }));
  const sg = await ctx.ec2.describeSecurityGroups({ Filters: [{ Name: 'group-name', Values: [names.loadBalancerSecurityGroup] }] });
  const groups: { groupId: string; name: string }[] = [];
  for (const g of sg.SecurityGroups ?? []) {
    if (ownedBy(tagMap(g.Tags), ctx.stack)) groups.push({ groupId: g.GroupId ?? '', name: g.GroupName ?? '' });
    else kept.push(`security group ${g.GroupName} ${g.GroupId} (not tagged as stack ${ctx.stack})`);
  }
  return { albs, groups, kept };
}

async function ensureGroup(ctx: Ctx, observed: GroupObserved | undefined, d: LoadBalancerDesired): Promise<GroupObserved> {
  let g = observed;
  if (!g) {
    try {
      const res = await ctx.ec2.createSecurityGroup({
        GroupName: d.groupName,
        Description: `ecs-cwlogs ${ctx.stack}: the load balancer, HTTP from the allowed CIDR only`,
        VpcId: d.vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: awsTags(d.tags) }],
      });
      g = { groupId: res.GroupId ?? '', vpcId: d.vpcId, ingress: [], tags: d.tags, owned: true };
    } catch (e) {
      // Created by a run that was killed before it could be read back.
      if (!hasAwsCode(e, 'InvalidGroup.Duplicate')) throw e;
      g = await readGroup(ctx, d.groupName, d.vpcId);
      if (!g) throw e;
    }
  } else if (ownedTagsDiff(g.tags, d.tags).length) {
    await ctx.ec2.createTags({ Resources: [g.groupId], Tags: awsTags(d.tags) });
  }
  const wanted = new Set(d.ingress);
  const have = new Set(g.ingress);
  const perm = (r: string): IpPermission => {
    const [proto, port, cidr] = r.split(':');
    return { IpProtocol: proto, FromPort: Number(port), ToPort: Number(port), IpRanges: [{ CidrIp: cidr, Description: 'HTTP to the load balancer' }] };
  };
  const add = [...wanted].filter((r) => !have.has(r));
  const remove = [...have].filter((r) => !wanted.has(r));
  if (add.length) await ctx.ec2.authorizeSecurityGroupIngress({ GroupId: g.groupId, IpPermissions: add.map(perm) }).catch((e) => { if (!hasAwsCode(e, 'InvalidPermission.Duplicate')) throw e; });
  if (remove.length) await ctx.ec2.revokeSecurityGroupIngress({ GroupId: g.groupId, IpPermissions: remove.map((r) => { const p = perm(r); return { ...p, IpRanges: p.IpRanges!.map(({ CidrIp }) => ({ CidrIp })) }; }) });
  return { ...g, ingress: [...wanted].sort() };
}

async function waitActive(ctx: Ctx, name: string): Promise<AlbObserved> {
  ctx.report('provisioning');
  return pollUntil(
    async () => {
      const a = await readAlb(ctx, name);
      if (a?.state === 'failed') throw new Error(`load balancer ${name} failed to provision`);
      return a?.state === 'active' ? a : undefined;
    },
    { ...within(ctx, 10), intervalMs: ctx.timing.pollMs, what: `load balancer ${name} to become active` },
  );
}
