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

export async function readLaunchTemplate(ctx: Pick<Ctx, 'ec2' | 'stack'>, name: string): Promise<LaunchTemplateObserved | Absent> {
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

