/**
 * What the launch-template step reads (launch-template.ts): the stack's template (by the stack tag,
 * else by its name) and its default version's data in the normalised form plans compare. Apart so
 * that the group's launch checks (group-fit.ts) can read it too without a cycle.
 */
import type { LaunchTemplate } from '@aws-sdk/client-ec2';
import type { Context } from '../engine/context.js';
import { STACK_TAG, ownedBy } from '../core/context.js';
import { hasAwsCode } from '../core/errors.js';
import { ABSENT, type Absent } from '../core/step.js';
import { tagMap } from './host.js';
import { taggedResources } from './inventory.js';

type Ctx = Pick<Context, 'ec2' | 'stack'>;
/** A template's data in the form plans compare: what this step sets, nothing else. */
export interface TemplateData {
  imageId?: string;
  instanceType?: string;
  /** The instance profile's name (a template may hold its ARN instead: the name is its last part). */
  instanceProfile?: string;
  securityGroupIds: string[];
  keyName?: string;
  /** Decoded. */
  userData?: string;
  metadata: { httpTokens?: string; hopLimit?: number; httpEndpoint?: string };
  rootVolume?: { deviceName?: string; volumeType?: string; encrypted?: boolean; deleteOnTermination?: boolean };
  cpuCredits?: string;
  instanceTags: Record<string, string>;
  volumeTags: Record<string, string>;
}

export interface LaunchTemplateObserved {
  launchTemplateId: string;
  name: string;
  defaultVersion: number;
  latestVersion: number;
  tags: Record<string, string>;
  owned: boolean;
  /** The default version's data, normalised. */
  data: TemplateData;
  /** The other versions' data, newest first: one may already be what is desired (the default was changed by hand). */
  otherVersions?: { version: number; data: TemplateData }[];
  /** Other templates carrying the stack tag (a cluster renamed): deleted by destroy. */
  others?: { launchTemplateId: string; name: string }[];
}


// ---- normalisation ----------------------------------------------------------------------------------

/** What both the request and the response data of a template have (the SDK types differ in details). */
export interface DataLike {
  ImageId?: string;
  InstanceType?: string;
  IamInstanceProfile?: { Arn?: string; Name?: string };
  SecurityGroupIds?: string[];
  KeyName?: string;
  UserData?: string;
  MetadataOptions?: { HttpTokens?: string; HttpPutResponseHopLimit?: number; HttpEndpoint?: string };
  BlockDeviceMappings?: { DeviceName?: string; Ebs?: { VolumeType?: string; Encrypted?: boolean; DeleteOnTermination?: boolean } }[];
  CreditSpecification?: { CpuCredits?: string };
  TagSpecifications?: { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[];
}

function decode(b64: string | undefined): string | undefined {
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}

/** The normalised form of a template's data, request or response. */
export function normaliseData(d: DataLike | undefined): TemplateData {
  const root = d?.BlockDeviceMappings?.[0];
  const profile = d?.IamInstanceProfile?.Name ?? d?.IamInstanceProfile?.Arn?.split('/').pop();
  const tagsOf = (type: string) => tagMap(d?.TagSpecifications?.find((t) => t.ResourceType === type)?.Tags);
  const out: TemplateData = {
    securityGroupIds: [...(d?.SecurityGroupIds ?? [])].sort(),
    metadata: {},
    instanceTags: tagsOf('instance'),
    volumeTags: tagsOf('volume'),
  };
  if (d?.ImageId) out.imageId = d.ImageId;
  if (d?.InstanceType) out.instanceType = d.InstanceType;
  if (profile) out.instanceProfile = profile;
  if (d?.KeyName) out.keyName = d.KeyName;
  if (d?.UserData) out.userData = decode(d.UserData);
  const m = d?.MetadataOptions;
  if (m?.HttpTokens) out.metadata.httpTokens = m.HttpTokens;
  if (m?.HttpPutResponseHopLimit !== undefined) out.metadata.hopLimit = m.HttpPutResponseHopLimit;
  if (m?.HttpEndpoint) out.metadata.httpEndpoint = m.HttpEndpoint;
  if (root) {
    out.rootVolume = {
      ...(root.DeviceName ? { deviceName: root.DeviceName } : {}),
      ...(root.Ebs?.VolumeType ? { volumeType: root.Ebs.VolumeType } : {}),
      ...(root.Ebs?.Encrypted !== undefined ? { encrypted: root.Ebs.Encrypted } : {}),
      ...(root.Ebs?.DeleteOnTermination !== undefined ? { deleteOnTermination: root.Ebs.DeleteOnTermination } : {}),
    };
  }
  if (d?.CreditSpecification?.CpuCredits) out.cpuCredits = d.CreditSpecification.CpuCredits;
  return out;
}

// ---- read -------------------------------------------------------------------------------------------

export async function describeTemplates(ctx: Pick<Ctx, 'ec2'>, input: { Filters?: { Name: string; Values: string[] }[]; LaunchTemplateNames?: string[] }): Promise<LaunchTemplate[]> {
  const out: LaunchTemplate[] = [];
  let token: string | undefined;
  try {
    do {
      const res = await ctx.ec2.describeLaunchTemplates({ ...input, NextToken: token });
      out.push(...(res.LaunchTemplates ?? []));
      token = res.NextToken;
    } while (token);
  } catch (e) {
    if (hasAwsCode(e, 'InvalidLaunchTemplateName.NotFoundException', 'InvalidLaunchTemplateId.NotFound')) return [];
    throw e;
  }
  return out;
}

/** The stack's templates (by the stack tag). */
export function stackTemplates(ctx: Pick<Ctx, 'ec2' | 'stack'>): Promise<LaunchTemplate[]> {
  return describeTemplates(ctx, { Filters: [{ Name: `tag:${STACK_TAG}`, Values: [ctx.stack] }] });
}


async function defaultVersionData(ctx: Pick<Ctx, 'ec2'>, id: string): Promise<{ version: number; data: TemplateData } | undefined> {
  try {
    const res = await ctx.ec2.describeLaunchTemplateVersions({ LaunchTemplateId: id, Versions: ['$Default'] });
    const v = res.LaunchTemplateVersions?.[0];
    if (!v) return undefined;
    return { version: v.VersionNumber ?? 1, data: normaliseData(v.LaunchTemplateData as DataLike | undefined) };
  } catch (e) {
    if (hasAwsCode(e, 'InvalidLaunchTemplateId.NotFound', 'InvalidLaunchTemplateName.NotFoundException')) return undefined; // deleted meanwhile
    throw e;
  }
}

/** The template's versions other than the default (newest first; at most 200, one page). */
async function otherVersionsData(ctx: Pick<Ctx, 'ec2'>, id: string, defaultVersion: number): Promise<{ version: number; data: TemplateData }[]> {
  try {
    const res = await ctx.ec2.describeLaunchTemplateVersions({ LaunchTemplateId: id, MaxResults: 200 });
    return (res.LaunchTemplateVersions ?? [])
      .filter((v) => v.VersionNumber !== undefined && v.VersionNumber !== defaultVersion)
      .sort((a, b) => (b.VersionNumber ?? 0) - (a.VersionNumber ?? 0))
      .map((v) => ({ version: v.VersionNumber!, data: normaliseData(v.LaunchTemplateData as DataLike | undefined) }));
  } catch (e) {
    if (hasAwsCode(e, 'InvalidLaunchTemplateId.NotFound', 'InvalidLaunchTemplateName.NotFoundException')) return [];
    throw e;
  }
}

/** With the Tagging API and the run's inventory, the template the run's listing shows is read in one call. */
type ReadCtx = Pick<Ctx, 'ec2' | 'stack'> & Partial<Pick<Context, 'tagging' | 'inventory' | 'tagsFromServices'>>;

/**
 * The template of that name: where the run's Tagging API listing shows the stack's template of that
 * name (its Name tag), its versions by that id in one call (readListed); otherwise, or where that
 * answer does not settle it, the stack's templates by tag (else the one of that name), then the
 * default version's data and the others'.
 */
export async function readLaunchTemplate(ctx: ReadCtx, name: string): Promise<LaunchTemplateObserved | Absent> {
  const listed = await listedTemplate(ctx, name);
  const found = listed && (await readListed(ctx, name, listed));
  if (found) return found;
  const tagged = await stackTemplates(ctx);
  let t = tagged.find((x) => x.LaunchTemplateName === name);
  if (!t) t = (await describeTemplates(ctx, { LaunchTemplateNames: [name] }))[0];
  const others = tagged.filter((x) => x !== t && x.LaunchTemplateId).map((x) => ({ launchTemplateId: x.LaunchTemplateId!, name: x.LaunchTemplateName ?? '' }));
  if (!t?.LaunchTemplateId) return ABSENT;
  const v = await defaultVersionData(ctx, t.LaunchTemplateId);
  if (!v) return ABSENT;
  const tags = tagMap(t.Tags);
  const latest = t.LatestVersionNumber ?? v.version;
  const otherVersions = latest > 1 ? await otherVersionsData(ctx, t.LaunchTemplateId, v.version) : [];
  return {
    launchTemplateId: t.LaunchTemplateId,
    name: t.LaunchTemplateName ?? name,
    defaultVersion: v.version,
    latestVersion: t.LatestVersionNumber ?? v.version,
    tags,
    owned: ownedBy(tags, ctx.stack),
    data: v.data,
    ...(otherVersions.length ? { otherVersions } : {}),
    ...(others.length ? { others } : {}),
  };
}


/** The stack's template of that name as the run's Tagging API listing shows it (its id and tags), if it does. */
async function listedTemplate(ctx: ReadCtx, name: string): Promise<{ id: string; tags: Record<string, string> } | undefined> {
  if (!ctx.tagging || ctx.tagsFromServices) return undefined; // a run about to write: tags from EC2 (inventory.ts listedTags)
  const listed = await taggedResources({ tagging: ctx.tagging, stack: ctx.stack, inventory: ctx.inventory }).catch(() => undefined);
  const r = listed?.find((x) => x.arn.split(':')[2] === 'ec2' && x.arn.split(':')[5]?.startsWith('launch-template/') && x.tags.Name === name);
  return r ? { id: r.arn.split(':')[5]!.slice('launch-template/'.length), tags: r.tags } : undefined;
}

/**
 * The listed template's versions in one DescribeLaunchTemplateVersions (EC2 lists the newest first,
 * so the first page holds the latest): the answer proves the template exists and is the one of that
 * name; only then are its tags taken from the listing. Undefined where the answer does not settle it
 * (gone meanwhile: the listing is eventually consistent; another name; more than one page, or no
 * default among them): the caller reads it the usual way.
 */
async function readListed(ctx: Pick<Ctx, 'ec2' | 'stack'>, name: string, listed: { id: string; tags: Record<string, string> }): Promise<LaunchTemplateObserved | undefined> {
  let res;
  try {
    res = await ctx.ec2.describeLaunchTemplateVersions({ LaunchTemplateId: listed.id, MaxResults: 200 });
  } catch (e) {
    if (hasAwsCode(e, 'InvalidLaunchTemplateId.NotFound', 'InvalidLaunchTemplateId.Malformed', 'InvalidLaunchTemplateName.NotFoundException')) return undefined;
    throw e;
  }
  const versions = (res.LaunchTemplateVersions ?? []).filter((v) => v.VersionNumber !== undefined);
  const def = versions.find((v) => v.DefaultVersion);
  if (res.NextToken || !def || versions.some((v) => v.LaunchTemplateId !== listed.id || v.LaunchTemplateName !== name)) return undefined;
  const otherVersions = versions
    .filter((v) => v !== def)
    .sort((a, b) => b.VersionNumber! - a.VersionNumber!)
    .map((v) => ({ version: v.VersionNumber!, data: normaliseData(v.LaunchTemplateData as DataLike | undefined) }));
  return {
    launchTemplateId: listed.id,
    name,
    defaultVersion: def.VersionNumber!,
    latestVersion: Math.max(...versions.map((v) => v.VersionNumber!)),
    tags: listed.tags,
    owned: ownedBy(listed.tags, ctx.stack),
    data: normaliseData(def.LaunchTemplateData as DataLike | undefined),
    ...(otherVersions.length ? { otherVersions } : {}),
  };
}
