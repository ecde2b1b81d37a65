/**
 * Step: the instances' security group (lab step 4).
 *
 *   prepare  the VPC (the default VPC unless given, or that of --subnet) and who may connect: --allow-cidr,
 *            else the caller's public IP (/32)
 *   read     the security group by name in the VPC (ours carries the stack tag)
 *   desired  by topology: one instance, or a group without a load balancer: HTTP 80 from the allowed
 *            CIDR (the task's host port is 80). A group behind the ALB: the tasks' dynamic host ports,
 *            32768-65535, from the ALB's security group only (bridge mode with hostPort 0 picks a port
 *            of the instance's ephemeral range, /proc/sys/net/ipv4/ip_local_port_range, 32768-60999 on
 *            Amazon Linux, 49153-65535 where the kernel does not say: the range AWS recommends opening
 *            covers both). SSH 22 from the allowed CIDR when a key pair is given, in both.
 *   apply    created (tagged), then its ingress made exactly that: missing rules authorised, others revoked
 *   drift    tags and rules are repaired
 *   destroy  the stack's security groups (by tag, whatever their name; not the ALB's, which its step
 *            deletes), retried while EC2 still reports a DependencyViolation (instances terminating)
 */
import type { IpPermission, SecurityGroup } from '@aws-sdk/client-ec2';
import { callerIpEndpoint } from '../aws/endpoints.js';
import { deleteOwned } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { STACK_TAG, awsTags, ownedBy } from '../core/context.js';
import { diff } from '../core/diff.js';
import { ConflictError, hasAwsCode } from '../core/errors.js';
import { ABSENT, discovered, isAbsent, isUnknown, known, unknown, type Absent, type DepOutputs, type Discovered, type FieldDiff, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { groupNames, topologyOf, type Topology } from '../core/topology.js';
import { inputError, resolveVpc, tagMap, valueOf } from './host.js';
import { ownershipConflict, ownedTagsDiff } from './ownership.js';
import { stackSecurityGroupsAtStart } from './inventory.js';

/** The instances' security group: HTTP from --allow-cidr (one instance, or a group without ALB) or from the ALB's group. */
export interface SecurityGroupOutputs { securityGroupId: Later<string>; groupName: string; vpcId: string }

declare module '../core/step.js' {
  interface StepOutputs {
    'security-group': SecurityGroupOutputs;
  }
}

type Ctx = Pick<Context, 'ec2' | 'config' | 'tags' | 'stack' | 'flags' | 'clock' | 'timing' | 'signal' | 'report' | 'endpoint' | 'inventory'>;

/** The tasks' dynamic host ports behind the ALB (bridge mode, hostPort 0): the range AWS recommends opening. */
export const DYNAMIC_PORTS = { from: 32768, to: 65535 } as const;

/** One ingress rule: from a CIDR, or from another security group (the ALB's). */
export interface IngressRule {
  protocol: string;
  fromPort: number;
  toPort: number;
  cidr?: string;
  ipv6?: boolean;
  /** The source security group (UserIdGroupPairs), instead of a CIDR. */
  sourceGroupId?: string;
  /** The source group is not known before the step that creates it applies: the rule is only planned. */
  pending?: boolean;
  description?: string;
}

export interface SecurityGroupObserved {
  groupId: string;
  name: string;
  vpcId: string;
  ingress: IngressRule[];
  tags: Record<string, string>;
  owned: boolean;
}

export interface SecurityGroupPrepared {
  vpcId: string | Discovered<string>;
  /** Undefined when only inspecting (status): the rules are then not compared. */
  allowCidr?: string | Discovered<string>;
}

export interface SecurityGroupDesired {
  name: string;
  vpcId?: string;
  topology: Topology;
  /** HTTP comes from the ALB's security group (group topology with --load-balancer). */
  behindLoadBalancer: boolean;
  /** Undefined when what the rules are made of is not known (status without prepare): not compared. */
  ingress?: IngressRule[];
  allowCidr?: string;
  keyName?: string;
  tags: Record<string, string>;
  /** How the VPC and the allowed CIDR were chosen, for the plan ("discovered: the default VPC"). */
  found: string[];
  adopt: boolean;
  stack: string;
}

// ---- prepare: the caller's IP -----------------------------------------------------------------------

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

async function fetchIp(url: string, timeoutMs: number): Promise<{ ip?: string; status?: number; error?: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { status: res.status, error: `${url} answered HTTP ${res.status}` };
    const text = (await res.text()).trim();
    const m = IPV4.exec(text);
    if (!m || m.slice(1).some((o) => Number(o) > 255)) return { error: `${url} did not answer with an IPv4 address` };
    return { ip: text };
  } catch (e) {
    return { error: `${url}: ${(e as Error).name === 'TimeoutError' ? 'no answer within 3 s' : (e as Error).message}` };
  }
}

const isLoopback = (url: string) => /^https?:\/\/(127\.|localhost|\[::1\])/.test(url);

/**
 * The caller's public IPv4 address: https://checkip.amazonaws.com, or the sandbox's /_sandbox/checkip
 * when the AWS endpoint is a sandbox. Undefined (and why) when it can't be found.
 */
export async function detectPublicIp(endpoint: string | undefined, timeoutMs = 3000): Promise<{ ip?: string; why?: string }> {
  if (endpoint) {
    const r = await fetchIp(`${endpoint.replace(/\/+$/, '')}/_sandbox/checkip`, timeoutMs);
    if (r.ip) return { ip: r.ip };
    // A local endpoint that is no sandbox: a test setup where a public IP means nothing. Don't go out.
    if (isLoopback(endpoint)) return { why: r.error };
  }
  const r = await fetchIp('https://checkip.amazonaws.com', timeoutMs);
  return r.ip ? { ip: r.ip } : { why: r.error };
}

async function prepareAllowCidr(ctx: Ctx): Promise<SecurityGroupPrepared['allowCidr']> {
  // Behind the ALB with no key pair, the instances take nothing from the caller: no IP needed.
  if (!ctx.config.allowCidr && topologyOf(ctx.config) === 'group' && ctx.config.loadBalancer && !ctx.config.keyName) return undefined;
  return allowedCidr(ctx, `HTTP${ctx.config.keyName ? ' and SSH' : ''}`);
}

const cidrLookups = new WeakMap<object, Promise<string | Discovered<string> | undefined>>();

/**
 * Who may reach the app (and SSH): --allow-cidr, else the caller's public IP/32, found once per run
 * (the instances' and the load balancer's groups both ask). Status (intent inspect) needs none.
 */
export function allowedCidr(ctx: Pick<Context, 'config' | 'flags' | 'endpoint' | 'ec2'>, what = 'HTTP'): Promise<string | Discovered<string> | undefined> {
  if (ctx.config.allowCidr) return Promise.resolve(ctx.config.allowCidr);
  if (ctx.flags.intent === 'inspect') return Promise.resolve(undefined);
  let p = cidrLookups.get(ctx.config);
  if (!p) {
    p = (async () => {
      const found = await detectPublicIp(await callerIpEndpoint(ctx));
      if (found.ip) return discovered(`${found.ip}/32`, 'your public IP');
      throw inputError('Cannot detect your public IP address', `${found.why ?? 'no answer'}; it is needed to allow ${what} from your address only`, 'Pass --allow-cidr with your address, e.g. --allow-cidr 203.0.113.7/32.');
    })();
    cidrLookups.set(ctx.config, p);
    p.catch(() => cidrLookups.delete(ctx.config));
  }
  return p;
}

// ---- read -------------------------------------------------------------------------------------------

function rulesOf(perms: IpPermission[] | undefined): IngressRule[] {
  const out: IngressRule[] = [];
  for (const p of perms ?? []) {
    const base = { protocol: p.IpProtocol ?? '-1', fromPort: p.FromPort ?? -1, toPort: p.ToPort ?? -1 };
    for (const r of p.IpRanges ?? []) if (r.CidrIp) out.push({ ...base, cidr: r.CidrIp, description: r.Description });
    for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) out.push({ ...base, cidr: r.CidrIpv6, ipv6: true, description: r.Description });
    for (const g of p.UserIdGroupPairs ?? []) if (g.GroupId) out.push({ ...base, sourceGroupId: g.GroupId, description: g.Description });
  }
  return out;
}

/** How a rule compares (and reads in plans and status): protocol, ports, source. */
export const ruleKey = (r: IngressRule) => `${r.protocol}:${r.fromPort}-${r.toPort}:${r.sourceGroupId ?? r.cidr}`;

function observedGroup(g: SecurityGroup, name: string, stack: string): SecurityGroupObserved {
  const tags = tagMap(g.Tags);
  return { groupId: g.GroupId ?? '', name: g.GroupName ?? name, vpcId: g.VpcId ?? '', ingress: rulesOf(g.IpPermissions), tags, owned: ownedBy(tags, stack) };
}

export async function readSecurityGroup(
  ctx: Pick<Ctx, 'ec2' | 'stack'>,
  name: string,
  vpcId: string | undefined,
): Promise<SecurityGroupObserved | undefined> {
  const filters = [{ Name: 'group-name', Values: [name] }, ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : [])];
  const groups: SecurityGroupObserved[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ec2.describeSecurityGroups({ Filters: filters, NextToken: token });
    for (const g of res.SecurityGroups ?? []) groups.push(observedGroup(g, name, ctx.stack));
    token = res.NextToken;
  } while (token);
  // Without a VPC (status before prepare), prefer ours among same-named groups of other VPCs.
  return groups.find((g) => g.owned) ?? groups[0];
}

/**
 * A group's plan-time read: the stack's tagged groups, read once for the run, answer it where a group
 * of this name in this VPC is there (a group's name is unique in its VPC, so it is the only one);
 * otherwise (not tagged: someone else's, or not there) DescribeSecurityGroups by name. Used by this
 * step's read and by the load balancer's for its own group; never after a write of the run.
 */
export async function readSecurityGroupAtStart(ctx: Pick<Ctx, 'ec2' | 'stack' | 'inventory'>, name: string, vpcId: string | undefined): Promise<SecurityGroupObserved | undefined> {
  const tagged = vpcId ? (await stackSecurityGroupsAtStart(ctx)).find((g) => g.GroupName === name && g.VpcId === vpcId) : undefined;
  return tagged ? observedGroup(tagged, name, ctx.stack) : readSecurityGroup(ctx, name, vpcId);
}

/** Groups of our name (in the VPC, when known) that are not the stack's: listed as kept, never deleted. */
async function notOursNamed(ctx: Pick<Ctx, 'ec2' | 'stack'>, name: string, vpcId: string | undefined): Promise<OwnedGroup[]> {
  const filters = [{ Name: 'group-name', Values: [name] }, ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : [])];
  const out: OwnedGroup[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.ec2.describeSecurityGroups({ Filters: filters, NextToken: token });
    out.push(...(res.SecurityGroups ?? []).filter((g) => !ownedBy(tagMap(g.Tags), ctx.stack)));
    token = res.NextToken;
  } while (token);
  return out;
}

/** The stack's security groups this step owns: every one carrying the stack tag but the ALB's. */
type OwnedGroup = { GroupId?: string; GroupName?: string };

async function stackSecurityGroups(ctx: Pick<Ctx, 'ec2' | 'stack' | 'config' | 'inventory'>): Promise<OwnedGroup[]> {
  const albGroup = groupNames(ctx.config).loadBalancerSecurityGroup;
  // As the run found them at its start (down deletes what its confirmation list showed).
  return (await stackSecurityGroupsAtStart(ctx)).filter((g) => g.GroupName !== albGroup);
}

// ---- desired and plan -------------------------------------------------------------------------------

/** The rules the topology wants; undefined when a source is not known (status without the caller's IP). */
export function desiredIngress(
  topology: Topology,
  loadBalancer: boolean,
  allowCidr: string | undefined,
  keyName: string | undefined,
  albGroupId: string | { unknown: true; after: string } | undefined,
): IngressRule[] | undefined {
  const ssh = (cidr: string): IngressRule[] => (keyName ? [{ protocol: 'tcp', fromPort: 22, toPort: 22, cidr, description: 'SSH (ecs-cwlogs)' }] : []);
  if (topology === 'group' && loadBalancer) {
    if (albGroupId === undefined) return undefined;
    if (keyName && !allowCidr) return undefined;
    const pending = isUnknown(albGroupId);
    return [
      {
        protocol: 'tcp',
        fromPort: DYNAMIC_PORTS.from,
        toPort: DYNAMIC_PORTS.to,
        sourceGroupId: pending ? `(the load balancer's group, known after ${albGroupId.after})` : albGroupId,
        ...(pending ? { pending: true } : {}),
        description: "the tasks' host ports, from the load balancer (ecs-cwlogs)",
      },
      ...(allowCidr ? ssh(allowCidr) : []),
    ];
  }
  if (!allowCidr) return undefined;
  return [{ protocol: 'tcp', fromPort: 80, toPort: 80, cidr: allowCidr, description: 'HTTP (ecs-cwlogs)' }, ...ssh(allowCidr)];
}

function ingressDiffs(observed: IngressRule[], desired: IngressRule[] | undefined): FieldDiff[] {
  if (!desired) return [];
  const from = observed.map(ruleKey).sort();
  const to = desired.map(ruleKey).sort();
  return diff(from.join(', ') || undefined, to.join(', '), 'ingress');
}

/** "HTTP, SSH from 203.0.113.7/32" or "ports 32768-65535 from the load balancer; SSH from …". */
function rulesSummary(d: SecurityGroupDesired): string {
  if (d.behindLoadBalancer) {
    return `ports ${DYNAMIC_PORTS.from}-${DYNAMIC_PORTS.to} from the load balancer's security group${d.keyName ? `, SSH from ${d.allowCidr ?? 'your IP'}` : ''}`;
  }
  return `HTTP${d.keyName ? ', SSH' : ''} from ${d.allowCidr ?? 'your IP'}`;
}

// ---- apply helpers ----------------------------------------------------------------------------------

function permissions(rules: IngressRule[], withDescription: boolean): IpPermission[] {
  return rules.map((r) => {
    const description = withDescription && r.description ? { Description: r.description } : {};
    return {
      IpProtocol: r.protocol,
      ...(r.protocol === '-1' ? {} : { FromPort: r.fromPort, ToPort: r.toPort }),
      ...(r.sourceGroupId
        ? { UserIdGroupPairs: [{ GroupId: r.sourceGroupId, ...description }] }
        : r.ipv6
          ? { Ipv6Ranges: [{ CidrIpv6: r.cidr, ...description }] }
          : { IpRanges: [{ CidrIp: r.cidr, ...description }] }),
    };
  });
}

async function ensureSecurityGroup(ctx: Ctx, observed: SecurityGroupObserved | undefined, d: SecurityGroupDesired): Promise<SecurityGroupObserved> {
  if (d.ingress?.some((r) => r.pending)) throw new Error("security-group: the load balancer's security group is not known yet");
  let sg = observed;
  if (!sg) {
    if (!d.vpcId) throw new Error('security-group: the VPC is not known (prepare did not run)');
    try {
      const res = await ctx.ec2.createSecurityGroup({
        GroupName: d.name,
        Description: d.behindLoadBalancer
          ? `ecs-cwlogs stack ${d.stack}: the tasks' host ports from the load balancer only${d.keyName ? ', SSH from the allowed CIDR' : ''}`
          : `ecs-cwlogs stack ${d.stack}: HTTP${d.keyName ? ' and SSH' : ''} from the allowed CIDR only`,
        VpcId: d.vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: awsTags(d.tags) }],
      });
      sg = { groupId: res.GroupId ?? '', name: d.name, vpcId: d.vpcId, ingress: [], tags: d.tags, owned: true };
    } catch (e) {
      if (!hasAwsCode(e, 'InvalidGroup.Duplicate')) throw e;
      sg = await readSecurityGroup(ctx, d.name, d.vpcId);
      if (!sg) throw e;
      if (!sg.owned && !d.adopt) {
        const c = ownershipConflict('Security group', d.name, sg.tags[STACK_TAG], 'security-group');
        if (c.action === 'conflict') throw new ConflictError({ what: c.what, why: c.why, fix: c.fix });
      }
    }
  }
  if (ownedTagsDiff(sg.tags, d.tags).length) {
    await ctx.ec2.createTags({ Resources: [sg.groupId], Tags: awsTags(d.tags) });
  }
  if (d.ingress) {
    const want = new Set(d.ingress.map(ruleKey));
    const have = new Set(sg.ingress.map(ruleKey));
    const missing = d.ingress.filter((r) => !have.has(ruleKey(r)));
    const extra = sg.ingress.filter((r) => !want.has(ruleKey(r)));
    if (missing.length) {
      try {
        await ctx.ec2.authorizeSecurityGroupIngress({ GroupId: sg.groupId, IpPermissions: permissions(missing, true) });
      } catch (e) {
        if (!hasAwsCode(e, 'InvalidPermission.Duplicate')) throw e;
      }
    }
    if (extra.length) {
      try {
        await ctx.ec2.revokeSecurityGroupIngress({ GroupId: sg.groupId, IpPermissions: permissions(extra, false) });
      } catch (e) {
        if (!hasAwsCode(e, 'InvalidPermission.NotFound')) throw e;
      }
    }
    sg = { ...sg, ingress: d.ingress };
  }
  return sg;
}


// ---- the step ---------------------------------------------------------------------------------------

export const securityGroupStep: DeclaredStep<Ctx, SecurityGroupObserved, SecurityGroupDesired, SecurityGroupPrepared, 'security-group'> = {
  id: 'security-group',
  title: 'Security group',
  dependsOn: [],
  after: ['load-balancer'],
  command: {
    summary: 'Create the instances\' security group (lab step 4): HTTP from --allow-cidr (your IP by default), SSH too with a key pair; behind a load balancer, the tasks\' host ports from its security group only',
    settings: ['securityGroupName', 'allowCidr', 'vpcId', 'subnetId', 'keyName', 'instances', 'loadBalancer'],
    examples: [
      'ecs-cwlogs security-group',
      'ecs-cwlogs security-group --allow-cidr 203.0.113.7/32 --key-name my-key',
      'ecs-cwlogs security-group --security-group-name existing-sg --adopt',
      'ecs-cwlogs security-group --delete --yes',
    ],
  },
  shapes: ['single', 'group'],
  tagged: [{ type: 'ec2:security-group' }],

  async prepare(ctx): Promise<SecurityGroupPrepared> {
    const [{ vpcId }, allowCidr] = await Promise.all([resolveVpc(ctx), prepareAllowCidr(ctx)]);
    return { vpcId, allowCidr };
  },

  async read(ctx, prepared): Promise<SecurityGroupObserved | Absent> {
    const name = ctx.config.securityGroupName;
    const vpcId = valueOf(prepared?.vpcId) ?? ctx.config.vpcId;
    return (await readSecurityGroupAtStart(ctx, name, vpcId)) ?? ABSENT;
  },

  desired(ctx, deps: DepOutputs, prepared): SecurityGroupDesired {
    const c = ctx.config;
    const topology = topologyOf(c);
    const behindLoadBalancer = topology === 'group' && c.loadBalancer;
    const allowCidr = valueOf(prepared?.allowCidr);
    const keyName = c.keyName || undefined;
    const alb = deps['load-balancer']?.securityGroupId;
    return {
      name: c.securityGroupName,
      vpcId: valueOf(prepared?.vpcId) ?? c.vpcId,
      topology,
      behindLoadBalancer,
      ingress: desiredIngress(topology, c.loadBalancer, allowCidr, keyName, alb),
      ...(allowCidr ? { allowCidr } : {}),
      ...(keyName ? { keyName } : {}),
      tags: { ...ctx.tags, Name: c.securityGroupName },
      found: [prepared?.vpcId, prepared?.allowCidr]
        .filter((x): x is Discovered<string> => typeof x === 'object' && x !== null && x.source === 'discovered')
        .map((x) => `${x.value} (${x.how})`),
      adopt: ctx.flags.adopt,
      stack: ctx.stack,
    };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) {
      return {
        action: 'create',
        summary: `security group ${desired.name} (${rulesSummary(desired)}) in ${desired.vpcId ?? '?'}${desired.found.length ? `; discovered: ${desired.found.join(', ')}` : ''}`,
      };
    }
    if (!observed.owned && !desired.adopt) return ownershipConflict('Security group', desired.name, observed.tags[STACK_TAG], 'security-group');
    const diffs: FieldDiff[] = [...ownedTagsDiff(observed.tags, desired.tags), ...ingressDiffs(observed.ingress, desired.ingress)];
    if (diffs.length === 0) return { action: 'noop', summary: `${observed.groupId} (${rulesSummary(desired)})` };
    const what = [...new Set(diffs.map((d) => d.field.split('.')[0]))].join(', ');
    return { action: 'update', summary: `repair ${what} of ${observed.groupId}${observed.owned ? '' : ' (adopted: tagged for this stack)'}`, diffs };
  },

  async apply(ctx, { observed, desired }) {
    const sg = await ensureSecurityGroup(ctx, isAbsent(observed) ? undefined : observed, desired);
    return { securityGroupId: sg.groupId, groupName: sg.name, vpcId: sg.vpcId };
  },

  preview(observed, desired) {
    return isAbsent(observed)
      ? { securityGroupId: unknown('create'), groupName: desired.name, vpcId: desired.vpcId ?? '' }
      : { securityGroupId: observed.groupId, groupName: observed.name, vpcId: observed.vpcId };
  },

  describe(g) {
    return { securityGroup: `${g.groupId} (${g.ingress.map(ruleKey).join(', ') || 'no ingress'})`, vpc: g.vpcId };
  },

  ownership: {
    async find(ctx) {
      const [ours, sameName] = await Promise.all([stackSecurityGroups(ctx), notOursNamed(ctx, ctx.config.securityGroupName, ctx.config.vpcId)]);
      return { ours: ours.filter((g) => g.GroupId), kept: sameName.map((g) => `security group ${g.GroupName} (${g.GroupId}, not tagged as stack ${ctx.stack})`) };
    },
    preview: (g: OwnedGroup) => `security group ${g.GroupName} (${g.GroupId})`,
    deleted: (g: OwnedGroup) => `security group ${g.GroupName ?? ''} (${g.GroupId})`.replace('  ', ' '),
    delete: async (ctx, g: OwnedGroup) => {
      await deleteOwned(ctx, () => ctx.ec2.deleteSecurityGroup({ GroupId: g.GroupId }), {
        gone: ['InvalidGroup.NotFound'],
        busy: ['DependencyViolation'],
        minutes: 5,
        maxDelayMs: Math.max(ctx.timing.retryMs, 15_000),
        waiting: `security group ${g.GroupId} still in use (DependencyViolation)`,
      });
    },
  },
};

/** The security group id a dependent step launches with, once known. */
export function securityGroupIdOf(deps: DepOutputs): string | undefined {
  return known(deps['security-group']?.securityGroupId);
}
