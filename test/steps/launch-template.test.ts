/**
 * The `launch-template` step against a fake of the narrow EC2 interface (only the calls the step
 * makes): the data it wants, normalisation (what EC2 answers compares equal to what was sent), a
 * change as a new default version, a newer AMI as a note, ownership, idempotency tokens, destroy.
 * (Sandbox-backed runs come with the sandbox's launch templates.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestLaunchTemplateData } from '@aws-sdk/client-ec2';
import { stackTags } from '../../src/core/context.js';
import type { Context } from '../../src/engine/context.js';
import { ConflictError } from '../../src/core/errors.js';
import { resolveSettings } from '../../src/core/config.js';
import type { StackConfig } from '../../src/core/settings.js';
import { isAbsent, unknown, type DepOutputs, type Plan } from '../../src/core/step.js';
import { launchTemplateStep, normaliseData, NEW_VERSION_NOTE, type LaunchTemplatePrepared } from '../../src/steps/launch-template.js';
import { CLUSTER_TAG } from '../../src/steps/host.js';
import { destroyOf, destroyPreviewOf } from '../../src/engine/ownership.js';

const AMI = 'ami-0aaaaaaaaaaaaaaa1';
const NEWER = 'ami-0bbbbbbbbbbbbbbb2';
const PREPARED: LaunchTemplatePrepared = { ami: { amiId: AMI, rootDeviceName: '/dev/xvda', architecture: 'x86_64' } };

function awsError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: code });
}

interface FakeTemplate {
  id: string;
  name: string;
  tags: { Key: string; Value: string }[];
  versions: RequestLaunchTemplateData[];
  defaultVersion: number;
}

/** The launch template calls of EC2, in memory, answering as EC2 does (the response's data as it was sent). */
class FakeEc2 {
  templates = new Map<string, FakeTemplate>();
  tokens = new Map<string, unknown>();
  calls: string[] = [];
  private n = 0;

  private byId(id: string | undefined): FakeTemplate {
    const t = [...this.templates.values()].find((x) => x.id === id);
    if (!t) throw awsError('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${id}, does not exist.`);
    return t;
  }
  private shape(t: FakeTemplate) {
    return { LaunchTemplateId: t.id, LaunchTemplateName: t.name, DefaultVersionNumber: t.defaultVersion, LatestVersionNumber: t.versions.length, Tags: t.tags };
  }

  async createLaunchTemplate(i: { LaunchTemplateName?: string; LaunchTemplateData?: RequestLaunchTemplateData; TagSpecifications?: { Tags?: { Key?: string; Value?: string }[] }[]; ClientToken?: string }) {
    this.calls.push('CreateLaunchTemplate');
    if (i.ClientToken && this.tokens.has(i.ClientToken)) return this.tokens.get(i.ClientToken) as { LaunchTemplate: ReturnType<FakeEc2['shape']> };
    if (this.templates.has(i.LaunchTemplateName!)) throw awsError('InvalidLaunchTemplateName.AlreadyExistsException', `Launch template name already in use.`);
    const t: FakeTemplate = { id: `lt-0${String(++this.n).padStart(16, '0')}`, name: i.LaunchTemplateName!, tags: (i.TagSpecifications?.[0]?.Tags ?? []) as FakeTemplate['tags'], versions: [structuredClone(i.LaunchTemplateData!)], defaultVersion: 1 };
    this.templates.set(t.name, t);
    const res = { LaunchTemplate: this.shape(t) };
    if (i.ClientToken) this.tokens.set(i.ClientToken, res);
    return res;
  }
  async createLaunchTemplateVersion(i: { LaunchTemplateId?: string; LaunchTemplateData?: RequestLaunchTemplateData; ClientToken?: string }) {
    this.calls.push('CreateLaunchTemplateVersion');
    if (i.ClientToken && this.tokens.has(i.ClientToken)) return this.tokens.get(i.ClientToken) as { LaunchTemplateVersion: { VersionNumber: number } };
    const t = this.byId(i.LaunchTemplateId);
    t.versions.push(structuredClone(i.LaunchTemplateData!));
    const res = { LaunchTemplateVersion: { LaunchTemplateId: t.id, VersionNumber: t.versions.length } };
    if (i.ClientToken) this.tokens.set(i.ClientToken, res);
    return res;
  }
  async modifyLaunchTemplate(i: { LaunchTemplateId?: string; DefaultVersion?: string }) {
    this.calls.push('ModifyLaunchTemplate');
    const t = this.byId(i.LaunchTemplateId);
    t.defaultVersion = Number(i.DefaultVersion);
    return { LaunchTemplate: this.shape(t) };
  }
  async describeLaunchTemplates(i: { Filters?: { Name?: string; Values?: string[] }[]; LaunchTemplateNames?: string[] }) {
    let all = [...this.templates.values()];
    if (i.LaunchTemplateNames) {
      const missing = i.LaunchTemplateNames.find((n) => !this.templates.has(n));
      if (missing) throw awsError('InvalidLaunchTemplateName.NotFoundException', 'At least one of the launch templates specified in the request does not exist.');
      all = all.filter((t) => i.LaunchTemplateNames!.includes(t.name));
    }
    for (const f of i.Filters ?? []) {
      const key = f.Name!.replace(/^tag:/, '');
      all = all.filter((t) => t.tags.some((x) => x.Key === key && f.Values!.includes(x.Value)));
    }
    return { LaunchTemplates: all.map((t) => this.shape(t)) };
  }
  async describeLaunchTemplateVersions(i: { LaunchTemplateId?: string; Versions?: string[] }) {
    const t = this.byId(i.LaunchTemplateId);
    const n = i.Versions?.[0] === '$Default' ? t.defaultVersion : Number(i.Versions?.[0]);
    // As EC2 answers: the profile by ARN when it was given by name is not what EC2 does, but the name is.
    return { LaunchTemplateVersions: [{ LaunchTemplateId: t.id, VersionNumber: n, DefaultVersion: n === t.defaultVersion, LaunchTemplateData: structuredClone(t.versions[n - 1]) }] };
  }
  async deleteLaunchTemplate(i: { LaunchTemplateId?: string }) {
    this.calls.push('DeleteLaunchTemplate');
    const t = this.byId(i.LaunchTemplateId);
    this.templates.delete(t.name);
    return { LaunchTemplate: this.shape(t) };
  }
  async createTags(i: { Resources?: string[]; Tags?: { Key?: string; Value?: string }[] }) {
    this.calls.push('CreateTags');
    const t = this.byId(i.Resources?.[0]);
    for (const tag of i.Tags ?? []) {
      t.tags = t.tags.filter((x) => x.Key !== tag.Key);
      t.tags.push({ Key: tag.Key!, Value: tag.Value! });
    }
    return {};
  }
}

type Ctx = Parameters<NonNullable<typeof launchTemplateStep.prepare>>[0];

function context(ec2: FakeEc2, o: { stack?: string; config?: Partial<StackConfig>; adopt?: boolean; replaceInstance?: boolean; reports?: string[] } = {}): Ctx {
  const { config } = resolveSettings({ flags: {}, env: {} });
  const stack = o.stack ?? 'test';
  return {
    ec2: ec2 as unknown as Context['ec2'],
    ssm: {} as Context['ssm'],
    config: { ...config, region: 'us-east-1', instances: 2, ...o.config },
    tags: stackTags(stack),
    stack,
    account: '123456789012',
    flags: { adopt: Boolean(o.adopt), deleteLogs: false, intent: 'apply', ...(o.replaceInstance ? { replaceInstance: true } : {}) },
    report: (m: string) => o.reports?.push(m),
  };
}

const DEPS: DepOutputs = {
  iam: { policyArn: '', roleName: 'r', roleArn: 'arn:r', instanceProfileName: 'ECSCloudWatchLogs-us-east-1', instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/ecs-cwlogs/test/ECSCloudWatchLogs-us-east-1', taskRoleName: 't', taskRoleArn: 'arn:t' },
  cluster: { clusterName: 'ECSCloudWatchLogs', clusterArn: 'arn:c' },
  'security-group': { securityGroupId: 'sg-0123456789abcdef0', groupName: 'ECSCloudWatchLogs', vpcId: 'vpc-1' },
};

/** Read, desire, plan, apply: one run of the step. */
async function run(ctx: Ctx, deps: DepOutputs = DEPS, prepared: LaunchTemplatePrepared = PREPARED) {
  const observed = await launchTemplateStep.read(ctx, prepared);
  const desired = launchTemplateStep.desired(ctx, deps, prepared);
  const plan = launchTemplateStep.plan(observed, desired);
  if (plan.action === 'conflict') throw new ConflictError({ what: plan.what, why: plan.why, fix: plan.fix });
  const out = await launchTemplateStep.apply(ctx, { plan, observed, desired });
  return { observed, desired, plan, out };
}

test('launch-template: the data every instance launches with: the AMI, the profile, the security group, IMDSv2, encrypted gp3, standard credits, tags', () => {
  const ctx = context(new FakeEc2());
  const d = launchTemplateStep.desired(ctx, DEPS, PREPARED);
  assert.equal(d.name, 'ECSCloudWatchLogs-instances');
  assert.equal(d.data.ImageId, AMI);
  assert.equal(d.data.InstanceType, 't3.small');
  assert.deepEqual(d.data.IamInstanceProfile, { Name: 'ECSCloudWatchLogs-us-east-1' });
  assert.deepEqual(d.data.SecurityGroupIds, ['sg-0123456789abcdef0']);
  assert.equal(d.data.KeyName, undefined, 'no key pair, no SSH');
  assert.deepEqual(d.data.MetadataOptions, { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' });
  assert.deepEqual(d.data.BlockDeviceMappings, [{ DeviceName: '/dev/xvda', Ebs: { VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }]);
  assert.deepEqual(d.data.CreditSpecification, { CpuCredits: 'standard' });
  const userData = Buffer.from(d.data.UserData!, 'base64').toString('utf8');
  assert.match(userData, /^#!\/bin\/bash/);
  assert.match(userData, /^echo 'ECS_CLUSTER=ECSCloudWatchLogs' >> \/etc\/ecs\/ecs.config$/m);
  const tagsOf = (type: string) => Object.fromEntries((d.data.TagSpecifications?.find((t) => t.ResourceType === type)?.Tags ?? []).map((t) => [t.Key, t.Value]));
  assert.deepEqual(tagsOf('instance'), { ...stackTags('test'), Name: 'ecs-cwlogs-test', [CLUSTER_TAG]: 'ECSCloudWatchLogs' });
  assert.deepEqual(tagsOf('volume'), stackTags('test'));
  assert.equal(d.tags['ecs-cwlogs:stack'], 'test', 'the template itself carries the stack tag');

  // Not burstable: no credit option. A key pair: KeyName. Graviton: the arm64 AMI it was prepared with.
  const m5 = launchTemplateStep.desired(context(new FakeEc2(), { config: { instanceType: 'm7g.medium', keyName: 'k' } }), DEPS, { ami: { amiId: 'ami-arm', rootDeviceName: '/dev/xvda', architecture: 'arm64' } });
  assert.equal(m5.data.CreditSpecification, undefined);
  assert.equal(m5.data.KeyName, 'k');
  assert.equal(m5.architecture, 'arm64');
  assert.equal(m5.data.ImageId, 'ami-arm');
});

test('launch-template: normalisation: the profile by ARN or name, security groups in any order, user data decoded', () => {
  const base: RequestLaunchTemplateData = {
    ImageId: AMI,
    IamInstanceProfile: { Name: 'P' },
    SecurityGroupIds: ['sg-b', 'sg-a'],
    UserData: Buffer.from('#!/bin/bash\necho hi\n').toString('base64'),
  };
  const other = { ...base, IamInstanceProfile: { Arn: 'arn:aws:iam::1:instance-profile/ecs-cwlogs/test/P' }, SecurityGroupIds: ['sg-a', 'sg-b'] };
  assert.deepEqual(normaliseData(base), normaliseData(other));
  assert.equal(normaliseData(base).userData, '#!/bin/bash\necho hi\n');
  assert.notDeepEqual(normaliseData(base), normaliseData({ ...base, ImageId: 'ami-other' }));
});

test('launch-template: created once, tagged; a second run is a noop with no write', async () => {
  const ec2 = new FakeEc2();
  const first = await run(context(ec2));
  assert.equal(first.plan.action, 'create');
  assert.deepEqual(ec2.calls, ['CreateLaunchTemplate']);
  assert.match(String(first.out.launchTemplateId), /^lt-/);
  assert.equal(first.out.version, 1);
  assert.equal(first.out.amiId, AMI);
  const t = ec2.templates.get('ECSCloudWatchLogs-instances')!;
  assert.ok(t.tags.some((x) => x.Key === 'ecs-cwlogs:stack' && x.Value === 'test'));

  ec2.calls = [];
  const again = await run(context(ec2));
  assert.equal(again.plan.action, 'noop');
  assert.deepEqual(ec2.calls, [], 'a noop makes no call that writes');
  assert.equal(again.out.version, 1);
  // The preview says what is known without applying.
  assert.deepEqual(launchTemplateStep.preview(again.observed, again.desired).version, 1);
});

test('launch-template: a change is a new version made the default, with a note that running instances keep theirs', async () => {
  const ec2 = new FakeEc2();
  await run(context(ec2));
  ec2.calls = [];
  const reports: string[] = [];
  const moved = await run(context(ec2, { config: { instanceType: 't3.medium' }, reports }));
  const plan = moved.plan as Extract<Plan, { action: 'update' }>;
  assert.equal(plan.action, 'update');
  assert.ok(plan.diffs.some((d) => d.field === 'data.instanceType' && d.from === 't3.small' && d.to === 't3.medium'), JSON.stringify(plan.diffs));
  assert.match(plan.note ?? '', new RegExp(NEW_VERSION_NOTE));
  assert.match(plan.summary, /version 2 of ECSCloudWatchLogs-instances/);
  assert.deepEqual(ec2.calls, ['CreateLaunchTemplateVersion', 'ModifyLaunchTemplate']);
  assert.equal(moved.out.version, 2);
  const t = ec2.templates.get('ECSCloudWatchLogs-instances')!;
  assert.equal(t.defaultVersion, 2);
  assert.equal(t.versions[0]!.InstanceType, 't3.small', 'version 1 is kept (instances launched from it)');
  assert.match(reports.join('\n'), /version 2 is the default \(was 1\)/);
  // Preview of a change: the version is known after it is made.
  assert.deepEqual(launchTemplateStep.preview(moved.observed, moved.desired).version, unknown('new version'));

  // And now it is in sync.
  ec2.calls = [];
  assert.equal((await run(context(ec2, { config: { instanceType: 't3.medium' } }))).plan.action, 'noop');
  assert.deepEqual(ec2.calls, []);
});

test('launch-template: cut short between the new version and making it the default: the next run gets the same version back (ClientToken)', async () => {
  const ec2 = new FakeEc2();
  await run(context(ec2));
  const real = ec2.modifyLaunchTemplate.bind(ec2);
  ec2.modifyLaunchTemplate = async () => {
    throw new Error('killed');
  };
  await assert.rejects(run(context(ec2, { config: { instanceType: 't3.medium' } })), /killed/);
  const t = ec2.templates.get('ECSCloudWatchLogs-instances')!;
  assert.equal(t.versions.length, 2);
  assert.equal(t.defaultVersion, 1);
  ec2.modifyLaunchTemplate = real;
  const again = await run(context(ec2, { config: { instanceType: 't3.medium' } }));
  assert.equal(again.out.version, 2);
  assert.equal(t.versions.length, 2, 'no third version: the token returned version 2');
  assert.equal(t.defaultVersion, 2);
});

test('launch-template: a newer recommended AMI is a note, not drift; --replace-instance moves the template to it', async () => {
  const ec2 = new FakeEc2();
  await run(context(ec2));
  const newer: LaunchTemplatePrepared = { ami: { amiId: NEWER, rootDeviceName: '/dev/xvda', architecture: 'x86_64' } };
  ec2.calls = [];
  const noted = await run(context(ec2), DEPS, newer);
  assert.equal(noted.plan.action, 'noop');
  assert.equal(noted.plan.action === 'noop' ? noted.plan.note : '', `newer AMI available: ${NEWER} (running ${AMI})`);
  assert.deepEqual(ec2.calls, []);
  assert.equal(noted.out.amiId, AMI, 'the template keeps its AMI');

  // Another change without the flag: the new version keeps the AMI too.
  const keyed = await run(context(ec2, { config: { instanceType: 't3.medium' } }), DEPS, newer);
  assert.equal(keyed.plan.action, 'update');
  assert.equal(ec2.templates.get('ECSCloudWatchLogs-instances')!.versions[1]!.ImageId, AMI);

  const replaced = await run(context(ec2, { config: { instanceType: 't3.medium' }, replaceInstance: true }), DEPS, newer);
  assert.equal(replaced.plan.action, 'update');
  assert.ok(replaced.plan.action === 'update' && replaced.plan.diffs.some((d) => d.field === 'data.imageId' && d.to === NEWER));
  assert.equal(replaced.out.amiId, NEWER);
  assert.equal(replaced.out.version, 3);
});

test('launch-template: a template of that name not tagged for the stack is a conflict unless --adopt, which tags it', async () => {
  const ec2 = new FakeEc2();
  await ec2.createLaunchTemplate({ LaunchTemplateName: 'ECSCloudWatchLogs-instances', LaunchTemplateData: { ImageId: 'ami-x', InstanceType: 't3.micro' }, TagSpecifications: [{ Tags: [{ Key: 'team', Value: 'other' }] }] });
  ec2.calls = [];
  const observed = await launchTemplateStep.read(context(ec2), PREPARED);
  assert.ok(!isAbsent(observed) && !observed.owned);
  const plan = launchTemplateStep.plan(observed, launchTemplateStep.desired(context(ec2), DEPS, PREPARED));
  assert.equal(plan.action, 'conflict');
  assert.match(plan.action === 'conflict' ? plan.fix : '', /--adopt/);
  assert.deepEqual(ec2.calls, []);

  const adopted = await run(context(ec2, { adopt: true }));
  assert.equal(adopted.plan.action, 'update');
  assert.deepEqual(ec2.calls, ['CreateTags', 'CreateLaunchTemplateVersion', 'ModifyLaunchTemplate']);
  const t = ec2.templates.get('ECSCloudWatchLogs-instances')!;
  assert.ok(t.tags.some((x) => x.Key === 'ecs-cwlogs:stack' && x.Value === 'test'));
  assert.ok(t.tags.some((x) => x.Key === 'team'), 'tags others set are left alone');
  // Another stack's template of that name: found by name, a conflict for this one.
  const other = await launchTemplateStep.read(context(ec2, { stack: 'other' }), PREPARED);
  assert.ok(!isAbsent(other) && !other.owned);
});

test('launch-template: planned while the security group is created in the same run; apply refuses a pending group', async () => {
  const ec2 = new FakeEc2();
  const ctx = context(ec2);
  const deps = { ...DEPS, 'security-group': { securityGroupId: unknown('create'), groupName: 'ECSCloudWatchLogs', vpcId: 'vpc-1' } };
  const observed = await launchTemplateStep.read(ctx, PREPARED);
  const desired = launchTemplateStep.desired(ctx, deps, PREPARED);
  assert.equal(desired.securityGroupPending, true);
  const plan = launchTemplateStep.plan(observed, desired);
  assert.equal(plan.action, 'create');
  await assert.rejects(launchTemplateStep.apply(ctx, { plan, observed, desired }), /security group is not known/);
  assert.deepEqual(ec2.calls, []);
});

test('launch-template: destroy deletes the stack\'s templates, not another\'s of our name; a second destroy has nothing to do', async () => {
  const ec2 = new FakeEc2();
  await run(context(ec2));
  const preview = await destroyPreviewOf(launchTemplateStep, context(ec2));
  assert.equal(preview.deleted.length, 1);
  assert.match(preview.deleted[0]!, /launch template ECSCloudWatchLogs-instances \(lt-.*, 1 version\)/);
  const d = await destroyOf(launchTemplateStep, context(ec2));
  assert.equal(d.deleted.length, 1);
  assert.equal(ec2.templates.size, 0);
  ec2.calls = [];
  assert.deepEqual(await destroyOf(launchTemplateStep, context(ec2)), { deleted: [], kept: [] });
  assert.deepEqual(ec2.calls, []);

  // Created again with the same request: the first token answers with the deleted template, the next creates one.
  const gone = (await destroyPreviewOf(launchTemplateStep, context(ec2))).deleted;
  assert.deepEqual(gone, []);
  const again = await run(context(ec2));
  assert.equal(again.plan.action, 'create');
  assert.deepEqual(ec2.calls, ['CreateLaunchTemplate', 'CreateLaunchTemplate']);
  assert.equal(ec2.templates.size, 1);
  assert.equal(again.out.launchTemplateId, ec2.templates.get('ECSCloudWatchLogs-instances')!.id);
  await destroyOf(launchTemplateStep, context(ec2));

  // Someone else's template of our name: kept, and said so.
  await ec2.createLaunchTemplate({ LaunchTemplateName: 'ECSCloudWatchLogs-instances', LaunchTemplateData: {}, TagSpecifications: [] });
  const kept = await destroyOf(launchTemplateStep, context(ec2));
  assert.deepEqual(kept.deleted, []);
  assert.match(kept.kept[0] ?? '', /not tagged as stack test/);
  assert.equal(ec2.templates.size, 1);
});
