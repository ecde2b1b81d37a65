/**
 * EC2 launch templates: CreateLaunchTemplate, CreateLaunchTemplateVersion, ModifyLaunchTemplate,
 * DescribeLaunchTemplates, DescribeLaunchTemplateVersions, DeleteLaunchTemplate,
 * DeleteLaunchTemplateVersions, typed with the SDK's request and response types (codec.ts maps
 * EC2's wire names).
 *
 * A template keeps its versions (1, 2, ...) with the RequestLaunchTemplateData each was created with;
 * the default version is 1 until ModifyLaunchTemplate changes it. Template data is checked as
 * RunInstances would check it at launch (the AMI, instance type, key pair, security groups and
 * instance profile must exist), so a bad template fails at creation rather than at launch.
 * RunInstances (launch.ts) resolves LaunchTemplate { Id | Name, Version } with findTemplate() and
 * resolveVersion() (lookups.ts): the version's data, overridden by the request's own parameters.
 */
import { createHash } from 'node:crypto';
import {
  CreateLaunchTemplateRequest$,
  CreateLaunchTemplateResult$,
  CreateLaunchTemplateVersionRequest$,
  CreateLaunchTemplateVersionResult$,
  DeleteLaunchTemplateRequest$,
  DeleteLaunchTemplateResult$,
  DeleteLaunchTemplateVersionsRequest$,
  DeleteLaunchTemplateVersionsResult$,
  DescribeLaunchTemplatesRequest$,
  DescribeLaunchTemplatesResult$,
  DescribeLaunchTemplateVersionsRequest$,
  DescribeLaunchTemplateVersionsResult$,
  ModifyLaunchTemplateRequest$,
  ModifyLaunchTemplateResult$,
  type CreateLaunchTemplateRequest,
  type CreateLaunchTemplateResult,
  type CreateLaunchTemplateVersionRequest,
  type CreateLaunchTemplateVersionResult,
  type DeleteLaunchTemplateRequest,
  type DeleteLaunchTemplateResult,
  type DeleteLaunchTemplateVersionsRequest,
  type DeleteLaunchTemplateVersionsResult,
  type DescribeLaunchTemplatesRequest,
  type DescribeLaunchTemplatesResult,
  type DescribeLaunchTemplateVersionsRequest,
  type DescribeLaunchTemplateVersionsResult,
  type LaunchTemplate,
  type LaunchTemplateVersion,
  type ModifyLaunchTemplateRequest,
  type ModifyLaunchTemplateResult,
  type RequestLaunchTemplateData,
  type ResponseLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { findInstanceProfile } from '../iam.js';
import type { TagMap } from '../util.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { filterItems, inRegion, invalidValue, missing, pageOf, tagsFromList, type FilterFields } from './common.js';
import { INSTANCE_TYPES } from './ec2-data.js';
import { TEMPLATE_ID_PATTERN, findAmi, findTemplate, getSubnet, idNotFound, keyPairByName, malformedId, resolveVersion, someNotFound } from './lookups.js';
import type { LaunchTemplateRecord, LaunchTemplateVersionRecord } from './records.js';
import { seeded, state } from './state.js';

const NAME_PATTERN = /^[a-zA-Z0-9().\-/_]{3,128}$/;

function checkName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new ServiceError(
      'InvalidLaunchTemplateName.MalformedException',
      "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.'",
      400,
    );
  }
}

function dryRun(input: { DryRun?: boolean }): void {
  if (input.DryRun) throw new ServiceError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
}

/** Fingerprint for ClientToken idempotency: the input without the token and DryRun. */
function fingerprint(input: object): string {
  const { ClientToken: _t, DryRun: _d, ...rest } = input as Record<string, unknown>;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

function idempotentMismatch(): ServiceError {
  return new ServiceError('IdempotentParameterMismatch', 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).', 400);
}

// ---- Validation ------------------------------------------------------------------------------------

/** What RunInstances would refuse at launch: unknown AMI, type, key pair, groups, subnets or profile. */
function validateData(world: World, region: string, data: RequestLaunchTemplateData | undefined): RequestLaunchTemplateData {
  if (!data) throw missing('LaunchTemplateData');
  if (data.ImageId) findAmi(world, region, data.ImageId);
  if (data.InstanceType && !INSTANCE_TYPES.has(data.InstanceType)) throw invalidValue(`Invalid value '${data.InstanceType}' for InstanceType.`);
  if (data.KeyName && !keyPairByName(world, region, data.KeyName)) {
    throw new ServiceError('InvalidKeyPair.NotFound', `The key pair '${data.KeyName}' does not exist`, 400);
  }
  const groups = state(world).securityGroups;
  for (const id of [...(data.SecurityGroupIds ?? []), ...(data.NetworkInterfaces ?? []).flatMap((n) => n.Groups ?? [])]) {
    if (groups[id]?.region !== region) throw new ServiceError('InvalidGroup.NotFound', `The security group '${id}' does not exist`, 400);
  }
  for (const nic of data.NetworkInterfaces ?? []) if (nic.SubnetId) getSubnet(world, region, nic.SubnetId);
  const profile = data.IamInstanceProfile;
  if (profile && (profile.Name || profile.Arn)) {
    const ref = (profile.Name ?? profile.Arn)!;
    if (!findInstanceProfile(world, ref)) {
      throw invalidValue(
        profile.Name
          ? `Value (${ref}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`
          : `Value (${ref}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN`,
      );
    }
  }
  if (data.UserData !== undefined) {
    const text = data.UserData.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw invalidValue('Invalid BASE64 encoding of user data.');
  }
  for (const spec of data.TagSpecifications ?? []) {
    if (!spec.ResourceType) throw missing('LaunchTemplateData.TagSpecification.ResourceType');
    if (!['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu'].includes(spec.ResourceType)) {
      throw invalidValue(`'${spec.ResourceType}' is not a valid taggable resource type for this operation.`);
    }
    tagsFromList(spec.Tags ?? []);
  }
  return data;
}

function templateTags(specs: { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[] | undefined): TagMap {
  let tags: TagMap = {};
  for (const spec of specs ?? []) {
    if (!spec.ResourceType) throw missing('TagSpecification.ResourceType');
    if (spec.ResourceType !== 'launch-template') {
      throw invalidValue(`'${spec.ResourceType}' is not a valid taggable resource type for this operation.`);
    }
    tags = { ...tags, ...tagsFromList(spec.Tags ?? []) };
  }
  return tags;
}

// ---- Shapes ----------------------------------------------------------------------------------------

function templateShape(t: LaunchTemplateRecord): LaunchTemplate {
  return {
    LaunchTemplateId: t.launchTemplateId,
    LaunchTemplateName: t.launchTemplateName,
    CreateTime: new Date(t.createTime),
    CreatedBy: t.createdBy,
    DefaultVersionNumber: t.defaultVersion,
    LatestVersionNumber: t.latestVersion,
    Tags: Object.keys(t.tags).length ? Object.entries(t.tags).map(([Key, Value]) => ({ Key, Value })) : undefined,
  };
}

function versionShape(t: LaunchTemplateRecord, v: LaunchTemplateVersionRecord): LaunchTemplateVersion {
  return {
    LaunchTemplateId: t.launchTemplateId,
    LaunchTemplateName: t.launchTemplateName,
    VersionNumber: v.versionNumber,
    VersionDescription: v.versionDescription,
    CreateTime: new Date(v.createTime),
    CreatedBy: t.createdBy,
    DefaultVersion: v.versionNumber === t.defaultVersion,
    // The request and response data share their members (TagSpecifications, NetworkInterfaces, ...).
    LaunchTemplateData: v.data as unknown as ResponseLaunchTemplateData,
  };
}

// ---- Handlers --------------------------------------------------------------------------------------

function createLaunchTemplate(input: CreateLaunchTemplateRequest, { world, region, now }: Call): CreateLaunchTemplateResult {
  const name = input.LaunchTemplateName;
  if (!name) throw missing('LaunchTemplateName');
  checkName(name);
  const s = state(world);
  const hash = fingerprint(input);
  if (input.ClientToken) {
    const previous = inRegion(s.launchTemplates, region).find((t) => t.clientToken === input.ClientToken);
    if (previous) {
      if (previous.requestHash !== hash) throw idempotentMismatch();
      return { LaunchTemplate: templateShape(previous) };
    }
  }
  const data = validateData(world, region, input.LaunchTemplateData);
  const tags = templateTags(input.TagSpecifications);
  if (input.VersionDescription && input.VersionDescription.length > 255) throw invalidValue('The version description must be 255 characters or less.');
  dryRun(input);
  if (inRegion(s.launchTemplates, region).some((t) => t.launchTemplateName === name)) {
    throw new ServiceError('InvalidLaunchTemplateName.AlreadyExistsException', 'Launch template name already in use.', 400);
  }
  const t: LaunchTemplateRecord = {
    launchTemplateId: world.nextId('lt-'),
    launchTemplateName: name,
    region,
    createTime: now,
    createdBy: `arn:aws:iam::${world.settings.accountId}:root`,
    defaultVersion: 1,
    latestVersion: 1,
    tags,
    versions: { '1': { versionNumber: 1, versionDescription: input.VersionDescription, createTime: now, data } },
    clientToken: input.ClientToken,
    requestHash: input.ClientToken ? hash : undefined,
  };
  s.launchTemplates[t.launchTemplateId] = t;
  return { LaunchTemplate: templateShape(t) };
}

function createLaunchTemplateVersion(input: CreateLaunchTemplateVersionRequest, { world, region, now }: Call): CreateLaunchTemplateVersionResult {
  const t = findTemplate(world, region, input);
  const hash = fingerprint(input);
  if (input.ClientToken) {
    const previous = Object.values(t.versions).find((v) => v.clientToken === input.ClientToken);
    if (previous) {
      if (previous.requestHash !== hash) throw idempotentMismatch();
      return { LaunchTemplateVersion: versionShape(t, previous) };
    }
  }
  let base: RequestLaunchTemplateData = {};
  if (input.SourceVersion !== undefined) base = resolveVersion(t, input.SourceVersion).data;
  // With SourceVersion, the new data is the source's with the request's members replacing its own.
  const data = validateData(world, region, { ...base, ...(input.LaunchTemplateData ?? missingData()) });
  dryRun(input);
  const versionNumber = t.latestVersion + 1;
  const v: LaunchTemplateVersionRecord = {
    versionNumber,
    versionDescription: input.VersionDescription,
    createTime: now,
    data,
    clientToken: input.ClientToken,
    requestHash: input.ClientToken ? hash : undefined,
  };
  t.versions[String(versionNumber)] = v;
  t.latestVersion = versionNumber;
  return { LaunchTemplateVersion: versionShape(t, v) };
}

function missingData(): never {
  throw missing('LaunchTemplateData');
}

function modifyLaunchTemplate(input: ModifyLaunchTemplateRequest, { world, region }: Call): ModifyLaunchTemplateResult {
  const t = findTemplate(world, region, input);
  if (input.DefaultVersion !== undefined) {
    const v = resolveVersion(t, input.DefaultVersion);
    dryRun(input);
    t.defaultVersion = v.versionNumber;
  } else {
    dryRun(input);
  }
  return { LaunchTemplate: templateShape(t) };
}

const TEMPLATE_FILTERS: FilterFields<LaunchTemplateRecord> = {
  'create-time': (t) => [new Date(t.createTime).toISOString()],
  'launch-template-name': (t) => [t.launchTemplateName],
};

function describeLaunchTemplates(input: DescribeLaunchTemplatesRequest, { world, region }: Call): DescribeLaunchTemplatesResult {
  let templates = inRegion(state(world).launchTemplates, region).sort((a, b) => a.createTime - b.createTime || a.launchTemplateId.localeCompare(b.launchTemplateId));
  const ids = input.LaunchTemplateIds ?? [];
  const names = input.LaunchTemplateNames ?? [];
  for (const id of ids) {
    if (!TEMPLATE_ID_PATTERN.test(id)) throw malformedId(id);
    if (!templates.some((t) => t.launchTemplateId === id)) throw idNotFound(id);
  }
  for (const name of names) if (!templates.some((t) => t.launchTemplateName === name)) throw someNotFound();
  if (ids.length || names.length) templates = templates.filter((t) => ids.includes(t.launchTemplateId) || names.includes(t.launchTemplateName));
  templates = filterItems(templates, input.Filters, TEMPLATE_FILTERS);
  const page = pageOf(world, templates, input.MaxResults, input.NextToken, { min: 1, max: 200 });
  dryRun(input);
  return { LaunchTemplates: page.items.map(templateShape), NextToken: page.nextToken };
}

type VersionRow = LaunchTemplateVersionRecord & { template: LaunchTemplateRecord; tags: TagMap };

const VERSION_FILTERS: FilterFields<VersionRow> = {
  'create-time': (v) => [new Date(v.createTime).toISOString()],
  'ebs-optimized': (v) => [v.data.EbsOptimized ?? false],
  'iam-instance-profile': (v) => [v.data.IamInstanceProfile?.Arn ?? v.data.IamInstanceProfile?.Name],
  'image-id': (v) => [v.data.ImageId],
  'instance-type': (v) => [v.data.InstanceType],
  'is-default-version': (v) => [v.versionNumber === v.template.defaultVersion],
  'kernel-id': (v) => [v.data.KernelId],
  'ram-disk-id': (v) => [v.data.RamDiskId],
};

function describeLaunchTemplateVersions(input: DescribeLaunchTemplateVersionsRequest, { world, region }: Call): DescribeLaunchTemplateVersionsResult {
  const versions = input.Versions ?? [];
  let rows: VersionRow[];
  if (!input.LaunchTemplateId && !input.LaunchTemplateName) {
    // Across templates, only $Latest and $Default can be asked for.
    if (!versions.length || versions.some((v) => v !== '$Latest' && v !== '$Default')) {
      throw missing('LaunchTemplateId or LaunchTemplateName');
    }
    rows = inRegion(state(world).launchTemplates, region).flatMap((t) =>
      Object.values(t.versions)
        .filter((v) => (versions.includes('$Latest') && v.versionNumber === t.latestVersion) || (versions.includes('$Default') && v.versionNumber === t.defaultVersion))
        .map((v) => ({ ...v, template: t, tags: {} })),
    );
  } else {
    const t = findTemplate(world, region, input);
    let chosen: LaunchTemplateVersionRecord[];
    if (versions.length) {
      chosen = [...new Set(versions.map((v) => resolveVersion(t, v)))];
    } else {
      const min = input.MinVersion !== undefined ? Number(input.MinVersion) : -Infinity;
      const max = input.MaxVersion !== undefined ? Number(input.MaxVersion) : Infinity;
      if (Number.isNaN(min) || Number.isNaN(max)) throw invalidValue('The version number must be a positive integer.');
      chosen = Object.values(t.versions).filter((v) => v.versionNumber >= min && v.versionNumber <= max);
    }
    // EC2 lists the newest version first.
    rows = chosen.sort((a, b) => b.versionNumber - a.versionNumber).map((v) => ({ ...v, template: t, tags: {} }));
  }
  rows = filterItems(rows, input.Filters, VERSION_FILTERS);
  const page = pageOf(world, rows, input.MaxResults, input.NextToken, { min: 1, max: 200 });
  dryRun(input);
  return { LaunchTemplateVersions: page.items.map((r) => versionShape(r.template, r)), NextToken: page.nextToken };
}

function deleteLaunchTemplate(input: DeleteLaunchTemplateRequest, { world, region }: Call): DeleteLaunchTemplateResult {
  const t = findTemplate(world, region, input);
  dryRun(input);
  delete state(world).launchTemplates[t.launchTemplateId];
  return { LaunchTemplate: templateShape(t) };
}

function deleteLaunchTemplateVersions(input: DeleteLaunchTemplateVersionsRequest, { world, region }: Call): DeleteLaunchTemplateVersionsResult {
  const t = findTemplate(world, region, input);
  const versions = input.Versions ?? [];
  if (!versions.length) throw missing('LaunchTemplateVersion');
  if (versions.length > 200) throw invalidValue('You can specify up to 200 launch template version numbers.');
  dryRun(input);
  const ok: DeleteLaunchTemplateVersionsResult['SuccessfullyDeletedLaunchTemplateVersions'] = [];
  const failed: DeleteLaunchTemplateVersionsResult['UnsuccessfullyDeletedLaunchTemplateVersions'] = [];
  for (const raw of versions) {
    const n = Number(raw);
    const base = { LaunchTemplateId: t.launchTemplateId, LaunchTemplateName: t.launchTemplateName, VersionNumber: Number.isInteger(n) ? n : undefined };
    if (!Number.isInteger(n) || !t.versions[String(n)]) {
      failed.push({ ...base, ResponseError: { Code: 'launchTemplateVersionDoesNotExist', Message: 'The specified launch template version does not exist.' } });
    } else if (n === t.defaultVersion) {
      failed.push({ ...base, ResponseError: { Code: 'unexpectedError', Message: 'Cannot delete the default version of a launch template.' } });
    } else {
      delete t.versions[String(n)];
      ok.push(base);
    }
  }
  // The latest version number stays where it was: new versions keep counting up.
  return { SuccessfullyDeletedLaunchTemplateVersions: ok, UnsuccessfullyDeletedLaunchTemplateVersions: failed };
}

export const operations: Record<string, Operation> = {
  CreateLaunchTemplate: typedOperation<CreateLaunchTemplateRequest, CreateLaunchTemplateResult>({
    mutating: true,
    decode: ec2Decoder(CreateLaunchTemplateRequest$),
    encode: ec2Encoder(CreateLaunchTemplateResult$),
    handler: seeded(createLaunchTemplate),
  }),
  CreateLaunchTemplateVersion: typedOperation<CreateLaunchTemplateVersionRequest, CreateLaunchTemplateVersionResult>({
    mutating: true,
    decode: ec2Decoder(CreateLaunchTemplateVersionRequest$),
    encode: ec2Encoder(CreateLaunchTemplateVersionResult$),
    handler: seeded(createLaunchTemplateVersion),
  }),
  ModifyLaunchTemplate: typedOperation<ModifyLaunchTemplateRequest, ModifyLaunchTemplateResult>({
    mutating: true,
    decode: ec2Decoder(ModifyLaunchTemplateRequest$),
    encode: ec2Encoder(ModifyLaunchTemplateResult$),
    handler: seeded(modifyLaunchTemplate),
  }),
  DescribeLaunchTemplates: typedOperation<DescribeLaunchTemplatesRequest, DescribeLaunchTemplatesResult>({
    mutating: false,
    decode: ec2Decoder(DescribeLaunchTemplatesRequest$),
    encode: ec2Encoder(DescribeLaunchTemplatesResult$),
    handler: seeded(describeLaunchTemplates),
  }),
  DescribeLaunchTemplateVersions: typedOperation<DescribeLaunchTemplateVersionsRequest, DescribeLaunchTemplateVersionsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeLaunchTemplateVersionsRequest$),
    encode: ec2Encoder(DescribeLaunchTemplateVersionsResult$),
    handler: seeded(describeLaunchTemplateVersions),
  }),
  DeleteLaunchTemplate: typedOperation<DeleteLaunchTemplateRequest, DeleteLaunchTemplateResult>({
    mutating: true,
    decode: ec2Decoder(DeleteLaunchTemplateRequest$),
    encode: ec2Encoder(DeleteLaunchTemplateResult$),
    handler: seeded(deleteLaunchTemplate),
  }),
  DeleteLaunchTemplateVersions: typedOperation<DeleteLaunchTemplateVersionsRequest, DeleteLaunchTemplateVersionsResult>({
    mutating: true,
    decode: ec2Decoder(DeleteLaunchTemplateVersionsRequest$),
    encode: ec2Encoder(DeleteLaunchTemplateVersionsResult$),
    handler: seeded(deleteLaunchTemplateVersions),
  }),
};
