/** EC2 security groups and their ingress rules. */
import { unflatten } from '../../protocols/query.js';
import { ServiceError, type Operation, type SandboxRequest, type World } from '../../types.js';
import { int, list, type TagMap } from '../util.js';
import { applyFilters, dryRun, inRegion, invalidValue, missing, page, requiredParam, strings, tagSet, tagSpecifications } from './common.js';
import { defaultVpc, getVpc } from './network.js';
import { regional, state } from './state.js';

export interface RuleRecord {
  ruleId: string;
  /** 'tcp' | 'udp' | 'icmp' | '-1' (all) or a protocol number. */
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidrIp?: string;
  /** Source security group (instead of cidrIp). */
  groupId?: string;
  description?: string;
}

export interface SecurityGroupRecord {
  groupId: string;
  region: string;
  groupName: string;
  description: string;
  vpcId: string;
  ingress: RuleRecord[];
  egress: RuleRecord[];
  tags: TagMap;
}

export function getSecurityGroup(world: World, region: string, groupId: string): SecurityGroupRecord {
  const group = state(world).securityGroups[groupId];
  if (!group || group.region !== region) {
    throw new ServiceError('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`, 400);
  }
  return group;
}

/** By GroupId, or by GroupName in the default VPC (as EC2 resolves names). */
export function groupFromParams(world: World, region: string, p: Record<string, any>): SecurityGroupRecord {
  if (p.GroupId) return getSecurityGroup(world, region, String(p.GroupId));
  if (p.GroupName) {
    const vpc = defaultVpc(world, region);
    const group = inRegion(state(world).securityGroups, region).find(
      (g) => g.groupName === p.GroupName && g.vpcId === vpc?.vpcId,
    );
    if (!group) {
      throw new ServiceError(
        'InvalidGroup.NotFound',
        `The security group '${p.GroupName}' does not exist in default VPC '${vpc?.vpcId ?? 'none'}'`,
        400,
      );
    }
    return group;
  }
  throw missing('GroupId');
}

export function createSecurityGroup(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const groupName = requiredParam(p.GroupName, 'GroupName');
  const description = requiredParam(p.GroupDescription, 'GroupDescription');
  if (groupName.length > 255) throw invalidValue(`Invalid value '${groupName}' for groupName. Length exceeds maximum of 255.`);
  if (description.length > 255) throw invalidValue(`Invalid value for GroupDescription. Length exceeds maximum of 255.`);
  if (groupName.toLowerCase().startsWith('sg-')) throw invalidValue(`Group names may not be in the format sg-*.`);
  const vpcId = p.VpcId ? getVpc(world, req.region, String(p.VpcId)).vpcId : defaultVpc(world, req.region)?.vpcId;
  if (!vpcId) throw new ServiceError('VPCIdNotSpecified', 'No default VPC for this user', 400);
  const tags = tagSpecifications(p, ['security-group'])['security-group'] ?? {};
  const groups = inRegion(state(world).securityGroups, req.region);
  if (groups.some((g) => g.vpcId === vpcId && g.groupName === groupName)) {
    throw new ServiceError('InvalidGroup.Duplicate', `The security group '${groupName}' already exists for VPC '${vpcId}'`, 400);
  }
  const group: SecurityGroupRecord = {
    groupId: world.nextId('sg-'),
    region: req.region,
    groupName,
    description,
    vpcId,
    ingress: [],
    egress: [{ ruleId: world.nextId('sgr-'), ipProtocol: '-1', cidrIp: '0.0.0.0/0' }],
    tags,
  };
  state(world).securityGroups[group.groupId] = group;
  return {
    groupId: group.groupId,
    securityGroupArn: `arn:aws:ec2:${req.region}:${world.settings.accountId}:security-group/${group.groupId}`,
    tagSet: Object.keys(tags).length ? tagSet(tags) : undefined,
  };
}

/** Rules grouped the way DescribeSecurityGroups shows them: one IpPermission per protocol and port range. */
export function ipPermissions(rules: RuleRecord[], world: World) {
  const byRange = new Map<string, RuleRecord[]>();
  for (const r of rules) {
    const key = `${r.ipProtocol}/${r.fromPort ?? ''}/${r.toPort ?? ''}`;
    byRange.set(key, [...(byRange.get(key) ?? []), r]);
  }
  return [...byRange.values()].map((group) => {
    const first = group[0];
    return {
      ipProtocol: first.ipProtocol,
      fromPort: first.fromPort,
      toPort: first.toPort,
      groups: group
        .filter((r) => r.groupId)
        .map((r) => ({ groupId: r.groupId, userId: world.settings.accountId, description: r.description })),
      ipRanges: group.filter((r) => r.cidrIp).map((r) => ({ cidrIp: r.cidrIp, description: r.description })),
      ipv6Ranges: [],
      prefixListIds: [],
    };
  });
}

export function describeSecurityGroups(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  let groups = inRegion(state(world).securityGroups, req.region);
  const ids = strings(p.GroupId);
  const names = strings(p.GroupName);
  for (const id of ids) getSecurityGroup(world, req.region, id);
  if (names.length) {
    const vpc = defaultVpc(world, req.region);
    for (const name of names) {
      if (!groups.some((g) => g.groupName === name && g.vpcId === vpc?.vpcId)) {
        throw new ServiceError(
          'InvalidGroup.NotFound',
          `The security group '${name}' does not exist in default VPC '${vpc?.vpcId ?? 'none'}'`,
          400,
        );
      }
    }
  }
  if (ids.length || names.length) {
    const vpcId = defaultVpc(world, req.region)?.vpcId;
    groups = groups.filter((g) => ids.includes(g.groupId) || (names.includes(g.groupName) && g.vpcId === vpcId));
  }
  groups = applyFilters(groups, p, {
    'group-id': (g) => [g.groupId],
    'group-name': (g) => [g.groupName],
    'vpc-id': (g) => [g.vpcId],
    description: (g) => [g.description],
    'owner-id': () => [world.settings.accountId],
    'ip-permission.cidr': (g) => g.ingress.map((r) => r.cidrIp),
    'ip-permission.from-port': (g) => g.ingress.map((r) => r.fromPort),
    'ip-permission.to-port': (g) => g.ingress.map((r) => r.toPort),
    'ip-permission.protocol': (g) => g.ingress.map((r) => r.ipProtocol),
  });
  const result = page(world, groups, p);
  return {
    securityGroupInfo: result.items.map((g) => ({
      ownerId: world.settings.accountId,
      groupId: g.groupId,
      groupName: g.groupName,
      groupDescription: g.description,
      vpcId: g.vpcId,
      securityGroupArn: `arn:aws:ec2:${g.region}:${world.settings.accountId}:security-group/${g.groupId}`,
      ipPermissions: ipPermissions(g.ingress, world),
      ipPermissionsEgress: ipPermissions(g.egress, world),
      tagSet: Object.keys(g.tags).length ? tagSet(g.tags) : undefined,
    })),
    nextToken: result.nextToken,
  };
}

export function deleteSecurityGroup(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const group = groupFromParams(world, req.region, p);
  if (group.groupName === 'default') {
    throw new ServiceError(
      'CannotDelete',
      `the specified group: "${group.groupId}" name: "default" cannot be deleted by a user`,
      400,
    );
  }
  const inUse = Object.values(state(world).instances).some(
    (i) => i.state !== 'terminated' && i.securityGroupIds.includes(group.groupId),
  );
  const referenced = Object.values(state(world).securityGroups).some(
    (g) => g.groupId !== group.groupId && [...g.ingress, ...g.egress].some((r) => r.groupId === group.groupId),
  );
  if (inUse || referenced) {
    throw new ServiceError('DependencyViolation', `resource ${group.groupId} has a dependent object`, 400);
  }
  delete state(world).securityGroups[group.groupId];
  return { return: true, groupId: group.groupId };
}

/** The rules an Authorize/Revoke request names, from IpPermissions.N or the legacy top-level fields. */
export function requestedRules(world: World, region: string, p: Record<string, any>): Omit<RuleRecord, 'ruleId'>[] {
  const permissions = list(p.IpPermissions);
  if (permissions.length === 0 && (p.IpProtocol || p.CidrIp)) {
    permissions.push({
      IpProtocol: p.IpProtocol,
      FromPort: p.FromPort,
      ToPort: p.ToPort,
      IpRanges: p.CidrIp ? [{ CidrIp: p.CidrIp }] : [],
      Groups: p.SourceSecurityGroupName ? [{ GroupName: p.SourceSecurityGroupName }] : [],
    });
  }
  if (permissions.length === 0) throw missing('IpPermissions');
  const rules: Omit<RuleRecord, 'ruleId'>[] = [];
  for (const perm of permissions) {
    const ipProtocol = normaliseProtocol(perm.IpProtocol);
    let fromPort: number | undefined;
    let toPort: number | undefined;
    if (ipProtocol !== '-1') {
      fromPort = int(perm.FromPort);
      toPort = int(perm.ToPort);
      if (fromPort === undefined || toPort === undefined || Number.isNaN(fromPort) || Number.isNaN(toPort)) {
        throw new ServiceError('InvalidParameterValue', `Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.`, 400);
      }
      if ((ipProtocol === 'tcp' || ipProtocol === 'udp') && (fromPort < 0 || toPort > 65535 || fromPort > toPort)) {
        throw invalidValue(`Invalid TCP/UDP port range: ${fromPort}-${toPort}`);
      }
    }
    const ranges = list(perm.IpRanges);
    const pairs = list(perm.Groups);
    if (ranges.length === 0 && pairs.length === 0) {
      throw new ServiceError('InvalidParameterValue', 'Invalid value: a rule must name at least one source (IpRanges or Groups).', 400);
    }
    for (const range of ranges) {
      const cidrIp = requiredParam(range?.CidrIp, 'CidrIp');
      if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidrIp)) {
        throw invalidValue(`CIDR block ${cidrIp} is malformed`);
      }
      rules.push({ ipProtocol, fromPort, toPort, cidrIp, description: range.Description });
    }
    for (const pair of pairs) {
      const source = pair.GroupId
        ? getSecurityGroup(world, region, String(pair.GroupId))
        : groupFromParams(world, region, { GroupName: pair.GroupName });
      rules.push({ ipProtocol, fromPort, toPort, groupId: source.groupId, description: pair.Description });
    }
  }
  return rules;
}

export function normaliseProtocol(value: unknown): string {
  const v = String(value ?? '').toLowerCase();
  const named: Record<string, string> = { '-1': '-1', all: '-1', tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', icmp: 'icmp', '1': 'icmp', icmpv6: 'icmpv6', '58': 'icmpv6' };
  if (named[v]) return named[v];
  if (/^\d+$/.test(v) && Number(v) <= 255) return v;
  if (v === '') throw missing('IpProtocol');
  throw invalidValue(`Invalid value '${value}' for IP protocol. Unknown protocol.`);
}

export function sameRule(a: Omit<RuleRecord, 'ruleId'>, b: Omit<RuleRecord, 'ruleId'>): boolean {
  return (
    a.ipProtocol === b.ipProtocol &&
    a.fromPort === b.fromPort &&
    a.toPort === b.toPort &&
    a.cidrIp === b.cidrIp &&
    a.groupId === b.groupId
  );
}

export function describeRule(r: Omit<RuleRecord, 'ruleId'>): string {
  const proto = r.ipProtocol === '-1' ? 'ALL' : r.ipProtocol.toUpperCase();
  const ports = r.ipProtocol === '-1' ? '' : `, from port: ${r.fromPort}, to port: ${r.toPort}`;
  return `peer: ${r.cidrIp ?? r.groupId}, ${proto}${ports}, ALLOW`;
}

export function authorizeIngress(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const group = groupFromParams(world, req.region, p);
  const rules = requestedRules(world, req.region, p);
  for (const rule of rules) {
    if (group.ingress.some((existing) => sameRule(existing, rule))) {
      throw new ServiceError('InvalidPermission.Duplicate', `the specified rule "${describeRule(rule)}" already exists`, 400);
    }
  }
  const added = rules.map((r) => ({ ...r, ruleId: world.nextId('sgr-') }));
  group.ingress.push(...added);
  return {
    return: true,
    securityGroupRuleSet: added.map((r) => ({
      securityGroupRuleId: r.ruleId,
      groupId: group.groupId,
      groupOwnerId: world.settings.accountId,
      isEgress: false,
      ipProtocol: r.ipProtocol,
      fromPort: r.fromPort ?? -1,
      toPort: r.toPort ?? -1,
      cidrIpv4: r.cidrIp,
      referencedGroupInfo: r.groupId ? { groupId: r.groupId, userId: world.settings.accountId } : undefined,
      description: r.description,
    })),
  };
}

export function revokeIngress(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  dryRun(p);
  const group = groupFromParams(world, req.region, p);
  const ruleIds = strings(p.SecurityGroupRuleId);
  if (ruleIds.length) {
    for (const id of ruleIds) {
      if (!group.ingress.some((r) => r.ruleId === id)) {
        throw new ServiceError('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist`, 400);
      }
    }
    group.ingress = group.ingress.filter((r) => !ruleIds.includes(r.ruleId));
    return { return: true };
  }
  const rules = requestedRules(world, req.region, p);
  for (const rule of rules) {
    if (!group.ingress.some((existing) => sameRule(existing, rule))) {
      throw new ServiceError('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.', 400);
    }
  }
  group.ingress = group.ingress.filter((existing) => !rules.some((r) => sameRule(existing, r)));
  return { return: true };
}

export const operations: Record<string, Operation> = {
  CreateSecurityGroup: { mutating: true, handler: regional(createSecurityGroup) },
  DescribeSecurityGroups: { mutating: false, handler: regional(describeSecurityGroups) },
  DeleteSecurityGroup: { mutating: true, handler: regional(deleteSecurityGroup) },
  AuthorizeSecurityGroupIngress: { mutating: true, handler: regional(authorizeIngress) },
  RevokeSecurityGroupIngress: { mutating: true, handler: regional(revokeIngress) },
};
