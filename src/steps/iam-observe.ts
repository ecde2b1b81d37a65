/**
 * The stack's IAM as IAM shows it: the policy, the instance role and profile, the logging task's role,
 * their names in a region, and how each is read (a missing one is undefined, never an error).
 */
import type { Context } from '../engine/context.js';
import { ownedBy } from '../core/context.js';
import { hasAwsCode } from '../core/errors.js';
import { ABSENT, type Absent } from '../core/step.js';
import { iamPolicyArn, partitionOf } from './arns.js';
import { iamBaseNames, iamNameIn, iamPath, taskRoleBase, readOnce } from './inventory.js';

export type Ctx = Pick<Context, 'iam' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'callerArn' | 'clock' | 'timing' | 'signal' | 'report' | 'inventory'>;

/** IAM keeps at most 5 versions of a managed policy. */
export const MAX_POLICY_VERSIONS = 5;

export interface PolicyObserved {
  arn: string;
  defaultVersionId: string;
  document: unknown;
  attachmentCount: number;
  tags: Record<string, string>;
  owned: boolean;
}
export interface RoleObserved {
  name: string;
  arn: string;
  trustPolicy: unknown;
  attachedPolicyArns: string[];
  tags: Record<string, string>;
  owned: boolean;
}
export interface ProfileObserved {
  name: string;
  arn: string;
  roles: string[];
  tags: Record<string, string>;
  owned: boolean;
}

/** Each part may be missing; the whole is ABSENT only when none exists. */
export interface IamObserved {
  policy?: PolicyObserved;
  role?: RoleObserved;
  profile?: ProfileObserved;
  taskRole?: RoleObserved;
}

export interface IamDesired {
  /** The policy's, role's and profile's name: the base name and the region (IAM is global). */
  name: string;
  /** /ecs-cwlogs/<stack>/: how the stack's IAM resources are found whatever their names. */
  path: string;
  policyArn: string;
  policyDocument: unknown;
  trustPolicy: unknown;
  /** The managed policies the instance role must have: the ECS agent's. */
  attachPolicyArns: string[];
  /** Ours, which must not be on the instance role (an older stack attached it there). */
  detachPolicyArns: string[];
  /** The task role: its name, ARN (IAM ARNs follow from path and name), trust and policies. */
  taskRoleName: string;
  taskRoleArn: string;
  taskTrustPolicy: unknown;
  taskAttachPolicyArns: string[];
  tags: Record<string, string>;
  adopt: boolean;
}

/** IAM returns policy documents URL-encoded (RFC 3986). */
export function decodePolicyDocument(raw: string | undefined): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(decodeURIComponent(raw));
  } catch {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
}

export function tagMap(tags: { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

export async function notFoundAsUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (hasAwsCode(e, 'NoSuchEntity', 'NoSuchEntityException')) return undefined;
    throw e;
  }
}

export async function readPolicy(ctx: Pick<Ctx, 'iam' | 'stack'>, arn: string): Promise<PolicyObserved | undefined> {
  const res = await notFoundAsUndefined(ctx.iam.getPolicy({ PolicyArn: arn }));
  const p = res?.Policy;
  if (!p) return undefined;
  const versionId = p.DefaultVersionId ?? 'v1';
  const version = await notFoundAsUndefined(ctx.iam.getPolicyVersion({ PolicyArn: arn, VersionId: versionId }));
  const tags = tagMap(p.Tags);
  return {
    arn,
    defaultVersionId: versionId,
    document: decodePolicyDocument(version?.PolicyVersion?.Document),
    attachmentCount: p.AttachmentCount ?? 0,
    tags,
    owned: ownedBy(tags, ctx.stack),
  };
}

/** The managed policies attached to a role, page by page; undefined once the role is gone. */
export async function attachedPolicyArns(ctx: Pick<Ctx, 'iam'>, roleName: string): Promise<string[] | undefined> {
  const attached: string[] = [];
  let marker: string | undefined;
  do {
    const page = await notFoundAsUndefined(ctx.iam.listAttachedRolePolicies({ RoleName: roleName, Marker: marker }));
    if (!page) return undefined;
    for (const a of page.AttachedPolicies ?? []) if (a.PolicyArn) attached.push(a.PolicyArn);
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return attached;
}

export async function readRole(ctx: Pick<Ctx, 'iam' | 'stack'>, name: string): Promise<RoleObserved | undefined> {
  const res = await notFoundAsUndefined(ctx.iam.getRole({ RoleName: name }));
  const r = res?.Role;
  if (!r) return undefined;
  const attached = await attachedPolicyArns(ctx, name);
  if (!attached) return undefined;
  const tags = tagMap(r.Tags);
  return {
    name: r.RoleName ?? name,
    arn: r.Arn ?? '',
    trustPolicy: decodePolicyDocument(r.AssumeRolePolicyDocument),
    attachedPolicyArns: attached,
    tags,
    owned: ownedBy(tags, ctx.stack),
  };
}

export async function readProfile(ctx: Pick<Ctx, 'iam' | 'stack'>, name: string): Promise<ProfileObserved | undefined> {
  const res = await notFoundAsUndefined(ctx.iam.getInstanceProfile({ InstanceProfileName: name }));
  const ip = res?.InstanceProfile;
  if (!ip) return undefined;
  const tags = tagMap(ip.Tags);
  return {
    name: ip.InstanceProfileName ?? name,
    arn: ip.Arn ?? '',
    roles: (ip.Roles ?? []).map((r) => r.RoleName ?? ''),
    tags,
    owned: ownedBy(tags, ctx.stack),
  };
}

/** The IAM name in this region, for a base name (default: the configured one). */
export function nameFor(ctx: Pick<Ctx, 'config'>, base = ctx.config.iamName): string {
  return iamNameIn(base, ctx.config.region);
}

/** The task role's name in this region, for a base name. */
export function taskRoleNameFor(ctx: Pick<Ctx, 'config'>, base = ctx.config.iamName): string {
  return iamNameIn(taskRoleBase(base), ctx.config.region);
}

export function policyArnFor(ctx: Pick<Ctx, 'callerArn' | 'account' | 'config' | 'stack'>, base?: string): string {
  return iamPolicyArn(partitionOf(ctx.callerArn), ctx.account, `${iamPath(ctx.stack).slice(1)}${nameFor(ctx, base)}`);
}

export const shortArn = (arn: string) => arn.split('/').pop() ?? arn;

/** The policy, role and profile of a base name in this region. */
export async function readIam(ctx: Ctx, base: string): Promise<IamObserved | Absent> {
  const name = nameFor(ctx, base);
  const [policy, role, profile, taskRole] = await Promise.all([readPolicyNamed(ctx, base), readRole(ctx, name), readProfile(ctx, name), readRole(ctx, taskRoleNameFor(ctx, base))]);
  if (!policy && !role && !profile && !taskRole) return ABSENT;
  return { policy, role, profile, taskRole };
}

/**
 * The policy of that name: at the stack's path, or (IAM names are unique in an account whatever
 * the path) at the root path, where somebody else's of the same name would be.
 */
export async function readPolicyNamed(ctx: Ctx, base: string): Promise<PolicyObserved | undefined> {
  return (await readPolicy(ctx, policyArnFor(ctx, base))) ?? (await readPolicy(ctx, iamPolicyArn(partitionOf(ctx.callerArn), ctx.account, nameFor(ctx, base))));
}

/**
 * Whose each part of a base name's IAM set is, from its tags alone (one Get call a part): what
 * `down` lists before it asks. The documents, attachments and versions readIam also reads are
 * the apply's and the delete's business, not the list's.
 */
export async function readIamOwners(ctx: Ctx, base: string): Promise<{ profile?: boolean; role?: boolean; taskRole?: boolean; policy?: boolean }> {
  const name = nameFor(ctx, base);
  const owned = (tags: { Key?: string; Value?: string }[] | undefined) => ownedBy(tagMap(tags), ctx.stack);
  const role = async (n: string) => {
    const r = (await roleAtStart(ctx, n))?.Role;
    return r ? owned(r.Tags) : undefined;
  };
  const policyAt = async (arn: string) => {
    const p = (await policyAtStart(ctx, arn))?.Policy;
    return p ? owned(p.Tags) : undefined;
  };
  const [profile, instanceRole, taskRole, policy] = await Promise.all([
    profileAtStart(ctx, name).then((r) => (r?.InstanceProfile ? owned(r.InstanceProfile.Tags) : undefined)),
    role(name),
    role(taskRoleNameFor(ctx, base)),
    // As readPolicyNamed: at the stack's path, else somebody else's of that name at the root path.
    policyAt(policyArnFor(ctx, base)).then(async (p) => p ?? policyAt(iamPolicyArn(partitionOf(ctx.callerArn), ctx.account, name))),
  ]);
  return { profile, role: instanceRole, taskRole, policy };
}

/**
 * IAM's Get calls as the run's start saw them, read once where the context has the run's inventory:
 * `down`'s confirmation list (readIamOwners) and its deletes (iam.ts destroyOne) share them, so what
 * was confirmed as the stack's is what is deleted. `up` reads afresh (readRole, readPolicy, readProfile).
 */
function atStart<T>(ctx: Pick<Ctx, 'inventory'>, key: string, read: () => Promise<T>): Promise<T> {
  return readOnce(ctx, `iam:${key}`, read);
}
export const roleAtStart = (ctx: Pick<Ctx, 'iam' | 'inventory'>, name: string) => atStart(ctx, `role:${name}`, () => notFoundAsUndefined(ctx.iam.getRole({ RoleName: name })));
export const policyAtStart = (ctx: Pick<Ctx, 'iam' | 'inventory'>, arn: string) => atStart(ctx, `policy:${arn}`, () => notFoundAsUndefined(ctx.iam.getPolicy({ PolicyArn: arn })));
export const profileAtStart = (ctx: Pick<Ctx, 'iam' | 'inventory'>, name: string) => atStart(ctx, `profile:${name}`, () => notFoundAsUndefined(ctx.iam.getInstanceProfile({ InstanceProfileName: name })));

/** The configured base name and any other the stack's IAM path holds for this region. */
export async function stackBaseNames(ctx: Ctx): Promise<string[]> {
  return [...new Set([ctx.config.iamName, ...(await iamBaseNames(ctx, ctx.config.region))])];
}

export async function listVersions(ctx: Pick<Ctx, 'iam'>, arn: string) {
  const out: { VersionId: string; IsDefaultVersion: boolean; CreateDate?: Date }[] = [];
  let marker: string | undefined;
  do {
    const page = await notFoundAsUndefined(ctx.iam.listPolicyVersions({ PolicyArn: arn, Marker: marker }));
    for (const v of page?.Versions ?? []) {
      if (v.VersionId) out.push({ VersionId: v.VersionId, IsDefaultVersion: Boolean(v.IsDefaultVersion), CreateDate: v.CreateDate });
    }
    marker = page?.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return out;
}

/** A new default version with the document; makes room first when IAM's 5-version limit is reached. */
export async function putDefaultVersion(ctx: Pick<Ctx, 'iam' | 'report'>, arn: string, document: unknown): Promise<void> {
  const versions = await listVersions(ctx, arn);
  if (versions.length >= MAX_POLICY_VERSIONS) {
    const oldest = versions
      .filter((v) => !v.IsDefaultVersion)
      .sort((a, b) => (a.CreateDate?.getTime() ?? 0) - (b.CreateDate?.getTime() ?? 0) || versionNumber(a.VersionId) - versionNumber(b.VersionId))[0];
    if (oldest) {
      ctx.report(`deleting policy version ${oldest.VersionId} (IAM keeps at most ${MAX_POLICY_VERSIONS})`);
      await ignoreNotFound(ctx.iam.deletePolicyVersion({ PolicyArn: arn, VersionId: oldest.VersionId }));
    }
  }
  await ctx.iam.createPolicyVersion({ PolicyArn: arn, PolicyDocument: JSON.stringify(document), SetAsDefault: true });
}

export function versionNumber(id: string): number {
  return Number(id.replace(/^v/, '')) || 0;
}

export async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  await notFoundAsUndefined(p);
}
