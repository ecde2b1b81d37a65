/** EC2 security groups and their ingress rules. */
import {
  AuthorizeSecurityGroupIngressRequest$,
  AuthorizeSecurityGroupIngressResult$,
  CreateSecurityGroupRequest$,
  CreateSecurityGroupResult$,
  DeleteSecurityGroupRequest$,
  DeleteSecurityGroupResult$,
  DescribeSecurityGroupsRequest$,
  DescribeSecurityGroupsResult$,
  RevokeSecurityGroupIngressRequest$,
  RevokeSecurityGroupIngressResult$,
  type AuthorizeSecurityGroupIngressRequest,
  type AuthorizeSecurityGroupIngressResult,
  type CreateSecurityGroupRequest,
  type CreateSecurityGroupResult,
  type DeleteSecurityGroupRequest,
  type DeleteSecurityGroupResult,
  type DescribeSecurityGroupsRequest,
  type DescribeSecurityGroupsResult,
  type IpPermission,
  type RevokeSecurityGroupIngressRequest,
  type RevokeSecurityGroupIngressResult,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { int } from '../util.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { dryRun, filterItems, inRegion, invalidValue, missing, pageOf, requiredParam, sdkTags, sdkTagSpecifications } from './common.js';
import { defaultVpc, getSecurityGroup, getVpc, groupFromParams } from './lookups.js';
import type { RuleRecord, SecurityGroupRecord } from './records.js';
import { seeded, state } from './state.js';

export function createSecurityGroup(p: CreateSecurityGroupRequest, { world, region }: Call): CreateSecurityGroupResult {
  const req = { region };
  dryRun(p);
  const groupName = requiredParam(p.GroupName, 'GroupName');
  const description = requiredParam(p.Description, 'GroupDescription');
  if (groupName.length > 255) throw invalidValue(`Invalid value '${groupName}' for groupName. Length exceeds maximum of 255.`);
  if (description.length > 255) throw invalidValue(`Invalid value for GroupDescription. Length exceeds maximum of 255.`);
  if (groupName.toLowerCase().startsWith('sg-')) throw invalidValue(`Group names may not be in the format sg-*.`);
  const vpcId = p.VpcId ? getVpc(world, req.region, String(p.VpcId)).vpcId : defaultVpc(world, req.region)?.vpcId;
  if (!vpcId) throw new ServiceError('VPCIdNotSpecified', 'No default VPC for this user', 400);
  const tags = sdkTagSpecifications(p.TagSpecifications, ['security-group'])['security-group'] ?? {};
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
    GroupId: group.groupId,
    SecurityGroupArn: `arn:aws:ec2:${req.region}:${world.settings.accountId}:security-group/${group.groupId}`,
    Tags: sdkTags(tags),
  };
}

/** Rules grouped the way DescribeSecurityGroups shows them: one IpPermission per protocol and port range. */
export function ipPermissions(rules: RuleRecord[], world: World): IpPermission[] {
  const byRange = new Map<string, RuleRecord[]>();
  for (const r of rules) {
    const key = `${r.ipProtocol}/${r.fromPort ?? ''}/${r.toPort ?? ''}`;
    byRange.set(key, [...(byRange.get(key) ?? []), r]);
  }
  return [...byRange.values()].map((group) => {
    const first = group[0];
    return {
      IpProtocol: first.ipProtocol,
      FromPort: first.fromPort,
      ToPort: first.toPort,
      UserIdGroupPairs: group
        .filter((r) => r.groupId)
        .map((r) => ({ GroupId: r.groupId, UserId: world.settings.accountId, Description: r.description })),
      IpRanges: group.filter((r) => r.cidrIp).map((r) => ({ CidrIp: r.cidrIp, Description: r.description })),
      Ipv6Ranges: [],
      PrefixListIds: [],
    };
  });
}

export function describeSecurityGroups(p: DescribeSecurityGroupsRequest, { world, region }: Call): DescribeSecurityGroupsResult {
  const req = { region };
  let groups = inRegion(state(world).securityGroups, req.region);
  const ids = p.GroupIds ?? [];
  const names = p.GroupNames ?? [];
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
  groups = filterItems(groups, p.Filters, {
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
  const result = pageOf(world, groups, p.MaxResults, p.NextToken);
  return {
    SecurityGroups: result.items.map((g) => ({
      OwnerId: world.settings.accountId,
      GroupId: g.groupId,
      GroupName: g.groupName,
      Description: g.description,
      VpcId: g.vpcId,
      SecurityGroupArn: `arn:aws:ec2:${g.region}:${world.settings.accountId}:security-group/${g.groupId}`,
      IpPermissions: ipPermissions(g.ingress, world),
      IpPermissionsEgress: ipPermissions(g.egress, world),
      Tags: sdkTags(g.tags),
    })),
    NextToken: result.nextToken,
  };
}

export function deleteSecurityGroup(p: DeleteSecurityGroupRequest, { world, region }: Call): DeleteSecurityGroupResult {
  const req = { region };
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
  return { Return: true, GroupId: group.groupId };
}

/** The rules an Authorize/Revoke request names, from IpPermissions.N or the legacy top-level fields. */
export function requestedRules(world: World, region: string, p: AuthorizeSecurityGroupIngressRequest): Omit<RuleRecord, 'ruleId'>[] {
  const permissions: IpPermission[] = [...(p.IpPermissions ?? [])];
  if (permissions.length === 0 && (p.IpProtocol || p.CidrIp)) {
    permissions.push({
      IpProtocol: p.IpProtocol,
      FromPort: p.FromPort,
      ToPort: p.ToPort,
      IpRanges: p.CidrIp ? [{ CidrIp: p.CidrIp }] : [],
      UserIdGroupPairs: p.SourceSecurityGroupName ? [{ GroupName: p.SourceSecurityGroupName }] : [],
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
    const ranges = perm.IpRanges ?? [];
    const pairs = perm.UserIdGroupPairs ?? [];
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

export function authorizeIngress(p: AuthorizeSecurityGroupIngressRequest, { world, region }: Call): AuthorizeSecurityGroupIngressResult {
  const req = { region };
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
    Return: true,
    SecurityGroupRules: added.map((r) => ({
      SecurityGroupRuleId: r.ruleId,
      GroupId: group.groupId,
      GroupOwnerId: world.settings.accountId,
      IsEgress: false,
      IpProtocol: r.ipProtocol,
      FromPort: r.fromPort ?? -1,
      ToPort: r.toPort ?? -1,
      CidrIpv4: r.cidrIp,
      ReferencedGroupInfo: r.groupId ? { GroupId: r.groupId, UserId: world.settings.accountId } : undefined,
      Description: r.description,
    })),
  };
}

export function revokeIngress(p: RevokeSecurityGroupIngressRequest, { world, region }: Call): RevokeSecurityGroupIngressResult {
  const req = { region };
  dryRun(p);
  const group = groupFromParams(world, req.region, p);
  const ruleIds = p.SecurityGroupRuleIds ?? [];
  if (ruleIds.length) {
    for (const id of ruleIds) {
      if (!group.ingress.some((r) => r.ruleId === id)) {
        throw new ServiceError('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist`, 400);
      }
    }
    group.ingress = group.ingress.filter((r) => !ruleIds.includes(r.ruleId));
    return { Return: true };
  }
  const rules = requestedRules(world, req.region, p);
  for (const rule of rules) {
    if (!group.ingress.some((existing) => sameRule(existing, rule))) {
      throw new ServiceError('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.', 400);
    }
  }
  group.ingress = group.ingress.filter((existing) => !rules.some((r) => sameRule(existing, r)));
  return { Return: true };
}

export const operations: Record<string, Operation> = {
  CreateSecurityGroup: typedOperation<CreateSecurityGroupRequest, CreateSecurityGroupResult>({
    mutating: true,
    decode: ec2Decoder(CreateSecurityGroupRequest$),
    encode: ec2Encoder(CreateSecurityGroupResult$),
    handler: seeded(createSecurityGroup),
  }),
  DescribeSecurityGroups: typedOperation<DescribeSecurityGroupsRequest, DescribeSecurityGroupsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeSecurityGroupsRequest$),
    encode: ec2Encoder(DescribeSecurityGroupsResult$),
    handler: seeded(describeSecurityGroups),
  }),
  DeleteSecurityGroup: typedOperation<DeleteSecurityGroupRequest, DeleteSecurityGroupResult>({
    mutating: true,
    decode: ec2Decoder(DeleteSecurityGroupRequest$),
    encode: ec2Encoder(DeleteSecurityGroupResult$),
    handler: seeded(deleteSecurityGroup),
  }),
  AuthorizeSecurityGroupIngress: typedOperation<AuthorizeSecurityGroupIngressRequest, AuthorizeSecurityGroupIngressResult>({
    mutating: true,
    decode: ec2Decoder(AuthorizeSecurityGroupIngressRequest$),
    encode: ec2Encoder(AuthorizeSecurityGroupIngressResult$),
    handler: seeded(authorizeIngress),
  }),
  RevokeSecurityGroupIngress: typedOperation<RevokeSecurityGroupIngressRequest, RevokeSecurityGroupIngressResult>({
    mutating: true,
    decode: ec2Decoder(RevokeSecurityGroupIngressRequest$),
    encode: ec2Encoder(RevokeSecurityGroupIngressResult$),
    handler: seeded(revokeIngress),
  }),
};
