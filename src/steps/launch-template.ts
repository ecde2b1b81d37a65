/**
 * Step: the launch template of the group topology: what every instance of the Auto Scaling group is
 * launched with. The same host as the single topology's instance (host.ts): the recommended
 * ECS-optimized AMI for the type's architecture, the instance profile, the security group, the user
 * data that joins the cluster, IMDSv2 with hop limit 1, an encrypted gp3 root volume, standard CPU
 * credits for burstable types, the stack's tags on the instances and their volumes.
 *
 *   prepare  the instance type (EC2 must know it), the key pair (must exist), the AMI from SSM
 *   read     the template carrying the stack tag (else one of its name: not ours is a conflict unless
 *            --adopt), and its default version's data
 *   plan     the default version's data, normalised, against the desired: equal is a noop; otherwise
 *            a new version made the default (instances keep the version they were launched from
 *            until they are replaced). A newer recommended AMI is a note, not drift, unless
 *            --replace-instance.
 *   destroy  the stack's templates (all versions go with them); not found counts as success
 */
import type { _InstanceType, CreateLaunchTemplateRequest, LaunchTemplate, RequestLaunchTemplateData, ResourceType } from '@aws-sdk/client-ec2';
import { deleteOnce } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { STACK_TAG, awsTags, ownedBy } from '../core/context.js';
import { diff } from '../core/diff.js';
import { ConflictError, hasAwsCode } from '../core/errors.js';
import { isAbsent, isUnknown, showValue, unknown, type Absent, type DepOutputs, type FieldDiff, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { groupNames } from '../core/topology.js';
import { CLUSTER_TAG, METADATA_OPTIONS, amiNoteFor, architectureByName, cpuCreditsFor, hostUserData, prepareInstanceType, prepareKeyPair, resolveAmi, tagMap, type AmiInfo } from './host.js';
import { clientToken } from './tokens.js';
import { iamNameIn } from './inventory.js';
import { ownershipConflict, ownedTagsDiff } from './ownership.js';
import { DEFAULT_ROOT_DEVICE, groupAsAsked, templateKey } from './group-fit.js';
import { oncePerPlan } from '../engine/run.js';
import { describeTemplates, normaliseData, readLaunchTemplate, stackTemplates, type DataLike, type LaunchTemplateObserved } from './launch-template-observe.js';

export { normaliseData, readLaunchTemplate, type LaunchTemplateObserved, type TemplateData } from './launch-template-observe.js';

/** What every instance of the group is launched with (AMI, user data, IMDSv2, encrypted gp3, profile, credits). */
export interface LaunchTemplateOutputs { launchTemplateId: Later<string>; launchTemplateName: string; version: Later<number>; amiId: string; architecture: 'x86_64' | 'arm64'; instanceType: string }

declare module '../core/step.js' {
  interface StepOutputs {
    'launch-template': LaunchTemplateOutputs;
  }
}

type Ctx = Pick<Context, 'ec2' | 'ssm' | 'config' | 'tags' | 'stack' | 'flags' | 'account' | 'report'> & Partial<Pick<Context, 'autoscaling' | 'inventory' | 'planReads'>>;

/** The running instances keep theirs: said with every new version. */
export const NEW_VERSION_NOTE = 'running instances keep the version they were launched from until they are replaced';

export interface LaunchTemplatePrepared {
  ami?: AmiInfo;
}

export interface LaunchTemplateDesired {
  name: string;
  /** The request data with the recommended AMI (undefined ImageId when it is not known: status). */
  data: RequestLaunchTemplateData;
  /** The security group is created in this run: known only once it is. */
  securityGroupPending: boolean;
  architecture: 'x86_64' | 'arm64';
  instanceType: string;
  replaceInstance: boolean;
  /** The template's own tags. */
  tags: Record<string, string>;
  adopt: boolean;
  stack: string;
}

/**
 * The data a new version would carry: the desired, but on the AMI the template has unless
 * --replace-instance (or unless the recommended one is not known).
 */
export function effectiveData(observed: LaunchTemplateObserved | Absent, d: LaunchTemplateDesired): RequestLaunchTemplateData {
  if (isAbsent(observed)) return d.data;
  const keep = observed.data.imageId && (!d.replaceInstance || !d.data.ImageId);
  return keep ? { ...d.data, ImageId: observed.data.imageId } : d.data;
}

/** An endpoint without launch templates (an emulator) holds none of ours: nothing to delete there. */
const NO_LAUNCH_TEMPLATES = ['InvalidAction', 'NotImplemented', 'UnsupportedOperation'];

async function orNone<T>(p: Promise<T[]>): Promise<T[]> {
  try {
    return await p;
  } catch (e) {
    if (hasAwsCode(e, ...NO_LAUNCH_TEMPLATES)) return [];
    throw e;
  }
}

// ---- the step ---------------------------------------------------------------------------------------

function dataDiffs(observed: LaunchTemplateObserved, d: LaunchTemplateDesired): FieldDiff[] {
  return diff(observed.data, normaliseData(effectiveData(observed, d) as DataLike), 'data');
}

/**
 * A version other than the default that already holds what is desired: the default was changed by
 * hand (ModifyLaunchTemplate --default-version). Setting the default back is the one call needed; a
 * new version would only pile up copies (a template keeps at most 10,000 versions).
 */
function matchingVersion(observed: LaunchTemplateObserved, d: LaunchTemplateDesired): number | undefined {
  if (dataDiffs(observed, d).length === 0) return undefined;
  return observed.otherVersions?.find((v) => dataDiffs({ ...observed, data: v.data }, d).length === 0)?.version;
}

function pendingGuard(d: LaunchTemplateDesired): void {
  if (d.securityGroupPending) throw new Error('launch-template: the security group is not known yet (the security-group step did not run)');
  if (!d.data.ImageId) throw new Error('launch-template: the AMI is not known (prepare did not run)');
}

export const launchTemplateStep: DeclaredStep<Ctx, LaunchTemplateObserved, LaunchTemplateDesired, LaunchTemplatePrepared, 'launch-template'> = {
  id: 'launch-template',
  title: 'Launch template',
  dependsOn: ['iam', 'cluster', 'security-group'],
  command: {
    summary: 'Create the launch template every instance of the Auto Scaling group starts from: the ECS-optimized AMI, the instance profile, the security group, IMDSv2, an encrypted gp3 volume; a change is a new default version',
    settings: ['instanceType', 'keyName', 'clusterName', 'iamName', 'securityGroupName', 'instances', 'loadBalancer'],
    examples: [
      'ecs-cwlogs launch-template --instances 2',
      'ecs-cwlogs launch-template --instance-type t4g.small --dry-run',
      'ecs-cwlogs launch-template --replace-instance   # a new default version on the newest AMI',
      'ecs-cwlogs launch-template --delete --yes',
    ],
    options: [
      { flags: '--replace-instance', description: 'move the template to the newest recommended AMI (a new default version; instances keep theirs until replaced)' },
    ],
  },
  shapes: ['group'],
  tagged: [{ type: 'ec2:launch-template' }],

  async prepare(ctx): Promise<LaunchTemplatePrepared> {
    const orNote = (e: unknown) => {
      if (ctx.flags.intent === 'inspect') return undefined;
      throw e;
    };
    // The group and this template already are what the settings ask for: EC2 launches this type
    // here with this key pair, so only the AMI's id is looked up, for the "newer AMI" note (its
    // root device is the AL2023 AMIs' own, which the template holds: group-fit.ts).
    if (await groupAsAsked(ctx)) return { ami: await resolveAmi(ctx, { idOnly: true }).catch(orNote) };
    const [, , ami] = await Promise.all([
      prepareInstanceType(ctx),
      prepareKeyPair(ctx),
      resolveAmi(ctx).catch(orNote),
    ]);
    return { ami };
  },

  read(ctx) {
    // Shared with the launch checks of this plan (group-fit.ts).
    const name = groupNames(ctx.config).launchTemplate;
    return oncePerPlan(ctx, templateKey(name), () => readLaunchTemplate(ctx, name));
  },

  desired(ctx, deps: DepOutputs, prepared): LaunchTemplateDesired {
    const c = ctx.config;
    const clusterName = deps.cluster?.clusterName || c.clusterName;
    const sg = deps['security-group']?.securityGroupId;
    const ami = prepared?.ami;
    const credits = cpuCreditsFor(c.instanceType);
    const instanceTags = { ...ctx.tags, Name: `ecs-cwlogs-${ctx.stack}`, [CLUSTER_TAG]: clusterName };
    const data: RequestLaunchTemplateData = {
      ...(ami ? { ImageId: ami.amiId } : {}),
      InstanceType: c.instanceType as _InstanceType,
      IamInstanceProfile: { Name: deps.iam?.instanceProfileName || iamNameIn(c.iamName, c.region) },
      SecurityGroupIds: [sg === undefined ? '(the security group)' : showValue(sg)],
      ...(c.keyName ? { KeyName: c.keyName } : {}),
      UserData: Buffer.from(hostUserData(clusterName, ctx.stack), 'utf8').toString('base64'),
      MetadataOptions: { ...METADATA_OPTIONS },
      BlockDeviceMappings: [{ DeviceName: ami?.rootDeviceName ?? DEFAULT_ROOT_DEVICE, Ebs: { VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
      ...(credits ? { CreditSpecification: { CpuCredits: credits } } : {}),
      TagSpecifications: [
        { ResourceType: 'instance' as ResourceType, Tags: awsTags(instanceTags) },
        { ResourceType: 'volume' as ResourceType, Tags: awsTags({ ...ctx.tags }) },
      ],
    };
    return {
      name: groupNames(c).launchTemplate,
      data,
      securityGroupPending: sg === undefined || isUnknown(sg),
      architecture: ami?.architecture ?? architectureByName(c.instanceType),
      instanceType: c.instanceType,
      replaceInstance: Boolean(ctx.flags.replaceInstance),
      tags: { ...ctx.tags, Name: groupNames(c).launchTemplate },
      adopt: ctx.flags.adopt,
      stack: ctx.stack,
    };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) {
      return {
        action: 'create',
        summary: `launch template ${desired.name}: ${desired.instanceType} (${desired.architecture}) on ${desired.data.ImageId ?? 'the ECS-optimized AMI'}, profile ${desired.data.IamInstanceProfile?.Name}, IMDSv2, encrypted gp3`,
      };
    }
    if (!observed.owned && !desired.adopt) return ownershipConflict('Launch template', desired.name, observed.tags[STACK_TAG], 'launch-template');
    const note = desired.replaceInstance ? undefined : amiNoteFor(observed.data.imageId, desired.data.ImageId);
    const noted = note ? { note } : {};
    const data = dataDiffs(observed, desired);
    const tags = ownedTagsDiff(observed.tags, desired.tags);
    if (data.length === 0 && tags.length === 0) return { action: 'noop', summary: `${observed.launchTemplateId} version ${observed.defaultVersion}`, ...noted };
    if (data.length === 0) return { action: 'update', summary: `repair the tags of ${observed.launchTemplateId}`, diffs: tags };
    const back = matchingVersion(observed, desired);
    if (back !== undefined) {
      return {
        action: 'update',
        summary: `make version ${back} of ${observed.name} the default again (it is ${observed.defaultVersion})${tags.length ? '; repair its tags' : ''}`,
        diffs: [{ field: 'defaultVersion', from: observed.defaultVersion, to: back }, ...tags],
        ...noted,
      };
    }
    const fields = [...new Set(data.map((d) => d.field.split('.')[1]))].join(', ');
    return {
      action: 'update',
      summary: `version ${observed.latestVersion + 1} of ${observed.name} (${fields}) made the default${tags.length ? '; repair its tags' : ''}`,
      diffs: [...data, ...tags],
      note: [NEW_VERSION_NOTE, note].filter(Boolean).join('; '),
    };
  },

  async apply(ctx, { plan, observed, desired }) {
    if ((plan.action === 'noop' || plan.action === 'update') && plan.note) ctx.report(plan.note);
    let o = observed;
    if (isAbsent(o)) {
      pendingGuard(desired);
      const request = {
        LaunchTemplateName: desired.name,
        VersionDescription: `ecs-cwlogs stack ${desired.stack}`,
        LaunchTemplateData: desired.data,
        TagSpecifications: [{ ResourceType: 'launch-template' as ResourceType, Tags: awsTags(desired.tags) }],
      };
      try {
        const t = await createTemplate(ctx, request);
        ctx.report(`created launch template ${desired.name} (${t.LaunchTemplateId ?? '?'}), version ${t.DefaultVersionNumber ?? 1}`);
        return outputs(t.LaunchTemplateId ?? '', desired.name, t.DefaultVersionNumber ?? 1, desired.data, desired);
      } catch (e) {
        if (!hasAwsCode(e, 'InvalidLaunchTemplateName.AlreadyExistsException')) throw e;
        // Created meanwhile (another run, or one cut short whose token expired): compare with that one.
        o = await readLaunchTemplate(ctx, desired.name);
        if (isAbsent(o)) throw e;
        if (!o.owned && !desired.adopt) {
          const c = ownershipConflict('Launch template', desired.name, o.tags[STACK_TAG], 'launch-template');
          if (c.action === 'conflict') throw new ConflictError({ what: c.what, why: c.why, fix: c.fix });
        }
      }
    }
    if (ownedTagsDiff(o.tags, desired.tags).length) {
      await ctx.ec2.createTags({ Resources: [o.launchTemplateId], Tags: awsTags(desired.tags) });
    }
    const data = effectiveData(o, desired);
    if (dataDiffs(o, desired).length === 0) return outputs(o.launchTemplateId, o.name, o.defaultVersion, data, desired);
    const back = matchingVersion(o, desired);
    if (back !== undefined) {
      await ctx.ec2.modifyLaunchTemplate({ LaunchTemplateId: o.launchTemplateId, DefaultVersion: String(back) });
      ctx.report(`${o.name}: version ${back} is the default again (was ${o.defaultVersion})`);
      const v = o.otherVersions!.find((x) => x.version === back)!;
      return outputs(o.launchTemplateId, o.name, back, effectiveData({ ...o, data: v.data }, desired), desired);
    }
    pendingGuard(desired);
    // A new version, then made the default. The token is the request's: a run cut short between
    // the two gets the same version back, and makes it the default.
    const request = { LaunchTemplateId: o.launchTemplateId, VersionDescription: `ecs-cwlogs stack ${desired.stack}`, LaunchTemplateData: data };
    const res = await ctx.ec2.createLaunchTemplateVersion({ ...request, ClientToken: clientToken({ account: ctx.account, region: ctx.config.region, stack: ctx.stack }, request, 0) });
    const version = res.LaunchTemplateVersion?.VersionNumber;
    if (version === undefined) throw new Error('CreateLaunchTemplateVersion returned no version');
    await ctx.ec2.modifyLaunchTemplate({ LaunchTemplateId: o.launchTemplateId, DefaultVersion: String(version) });
    ctx.report(`${o.name}: version ${version} is the default (was ${o.defaultVersion}); ${NEW_VERSION_NOTE}`);
    return outputs(o.launchTemplateId, o.name, version, data, desired);
  },

  preview(observed, desired) {
    if (isAbsent(observed)) {
      return {
        launchTemplateId: unknown('create'),
        launchTemplateName: desired.name,
        version: 1,
        amiId: desired.data.ImageId ?? '',
        architecture: desired.architecture,
        instanceType: desired.instanceType,
      };
    }
    const back = matchingVersion(observed, desired);
    const data = effectiveData(back === undefined ? observed : { ...observed, data: observed.otherVersions!.find((x) => x.version === back)!.data }, desired);
    const changes = back === undefined && dataDiffs(observed, desired).length > 0;
    return {
      launchTemplateId: observed.launchTemplateId,
      launchTemplateName: observed.name,
      version: back ?? (changes ? unknown('new version') : observed.defaultVersion),
      amiId: data.ImageId ?? observed.data.imageId ?? '',
      architecture: desired.architecture,
      instanceType: desired.instanceType,
    };
  },

  describe(o) {
    return {
      launchTemplate: `${o.launchTemplateId} (${o.name}, default version ${o.defaultVersion} of ${o.latestVersion})`,
      ami: o.data.imageId ?? '',
      instanceType: o.data.instanceType ?? '',
    };
  },

  ownership: {
    async find(ctx) {
      const [ours, kept] = await Promise.all([orNone(stackTemplates(ctx)), keptSameName(ctx)]);
      return { ours: ours.filter((t) => t.LaunchTemplateId), kept };
    },
    preview: (t: LaunchTemplate) => `launch template ${t.LaunchTemplateName ?? ''} (${t.LaunchTemplateId}, ${t.LatestVersionNumber ?? 1} version${(t.LatestVersionNumber ?? 1) === 1 ? '' : 's'})`,
    deleted: (t: LaunchTemplate) => `launch template ${t.LaunchTemplateName ?? ''} (${t.LaunchTemplateId})`,
    delete: (ctx, t: LaunchTemplate) =>
      deleteOnce(() => ctx.ec2.deleteLaunchTemplate({ LaunchTemplateId: t.LaunchTemplateId }), ['InvalidLaunchTemplateId.NotFound', 'InvalidLaunchTemplateName.NotFoundException']),
  },
};

/**
 * CreateLaunchTemplate with a ClientToken derived from the request: a run cut short after the call
 * gets the same template back. A token whose template has since been deleted (the same request after
 * `--delete`) is used up: the next one is tried.
 */
async function createTemplate(ctx: Pick<Ctx, 'ec2' | 'account' | 'config' | 'stack'>, request: Omit<CreateLaunchTemplateRequest, 'ClientToken'>): Promise<LaunchTemplate> {
  for (let n = 0; n < 10; n++) {
    const res = await ctx.ec2.createLaunchTemplate({ ...request, ClientToken: clientToken({ account: ctx.account, region: ctx.config.region, stack: ctx.stack }, request, n) });
    const t = res.LaunchTemplate;
    if (!t?.LaunchTemplateId) throw new Error('CreateLaunchTemplate returned no template');
    const still = await describeTemplates(ctx, { LaunchTemplateNames: [request.LaunchTemplateName ?? ''] });
    if (still.some((x) => x.LaunchTemplateId === t.LaunchTemplateId)) return t;
    // The token answered with an earlier template of this request, since deleted: try the next one.
  }
  throw new Error('launch-template: 10 ClientTokens of this request are used up');
}

/** A template of our name that is not the stack's: left alone, and said so. */
async function keptSameName(ctx: Pick<Ctx, 'ec2' | 'stack' | 'config'>): Promise<string[]> {
  const name = groupNames(ctx.config).launchTemplate;
  const t = (await orNone(describeTemplates(ctx, { LaunchTemplateNames: [name] })))[0];
  return t && !ownedBy(tagMap(t.Tags), ctx.stack) ? [`launch template ${name} (${t.LaunchTemplateId}, not tagged as stack ${ctx.stack})`] : [];
}

function outputs(id: string, name: string, version: number, data: RequestLaunchTemplateData, d: LaunchTemplateDesired) {
  return { launchTemplateId: id, launchTemplateName: name, version, amiId: data.ImageId ?? '', architecture: d.architecture, instanceType: d.instanceType };
}
