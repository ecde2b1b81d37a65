/**
 * The launch template's read (src/steps/launch-template-observe.ts): the stack's template the run's
 * Tagging API listing shows is read in one DescribeLaunchTemplateVersions by its id, its tags taken
 * from the listing only once that answer has found it; anything the answer does not settle (gone
 * meanwhile, another name, more than a page) and a template the listing lacks (someone else's, or
 * one tagged a moment ago) are read the usual way, with their tags from EC2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '../../src/engine/context.js';
import { readLaunchTemplate } from '../../src/steps/launch-template-observe.js';
import { isAbsent } from '../../src/core/step.js';

const NAME = 'ECSCloudWatchLogs-instances';
const ID = 'lt-0aaaaaaaaaaaaaaa1';
const STACK = 'readtest';
const OURS = { 'ecs-cwlogs:stack': STACK, 'ecs-cwlogs:managed-by': 'ecs-cwlogs', Name: NAME };
const ARN = `arn:aws:ec2:us-east-1:123456789012:launch-template/${ID}`;

function awsError(code: string): Error {
  return Object.assign(new Error(code), { name: code });
}

interface World {
  /** What DescribeLaunchTemplateVersions by id answers (or throws). */
  versions: () => { LaunchTemplateVersions: object[]; NextToken?: string };
  /** What DescribeLaunchTemplates answers: the templates EC2 has, with their tags. */
  templates: { LaunchTemplateId: string; LaunchTemplateName: string; DefaultVersionNumber: number; LatestVersionNumber: number; Tags: { Key: string; Value: string }[] }[];
  listed: { ResourceARN: string; Tags: { Key: string; Value: string }[] }[];
}

function context(w: World) {
  const calls: string[] = [];
  const ec2 = {
    async describeLaunchTemplateVersions(i: { LaunchTemplateId?: string; Versions?: string[] }) {
      calls.push(`DescribeLaunchTemplateVersions${i.Versions ? ` ${i.Versions.join(',')}` : ''}`);
      if (i.Versions?.[0] === '$Default') {
        const t = w.templates.find((x) => x.LaunchTemplateId === i.LaunchTemplateId);
        if (!t) throw awsError('InvalidLaunchTemplateId.NotFound');
        return { LaunchTemplateVersions: [{ LaunchTemplateId: t.LaunchTemplateId, LaunchTemplateName: t.LaunchTemplateName, VersionNumber: t.DefaultVersionNumber, DefaultVersion: true, LaunchTemplateData: { InstanceType: 't3.small' } }] };
      }
      return w.versions();
    },
    async describeLaunchTemplates(i: { Filters?: { Name: string; Values: string[] }[]; LaunchTemplateNames?: string[] }) {
      calls.push('DescribeLaunchTemplates');
      let all = w.templates;
      if (i.LaunchTemplateNames) {
        all = all.filter((t) => i.LaunchTemplateNames!.includes(t.LaunchTemplateName));
        if (!all.length) throw awsError('InvalidLaunchTemplateName.NotFoundException');
      }
      for (const f of i.Filters ?? []) all = all.filter((t) => t.Tags.some((x) => `tag:${x.Key}` === f.Name && f.Values.includes(x.Value)));
      return { LaunchTemplates: all };
    },
  };
  const tagging = {
    async getResources() {
      calls.push('GetResources');
      return { ResourceTagMappingList: w.listed };
    },
  };
  const ctx = { ec2: ec2 as unknown as Context['ec2'], tagging: tagging as unknown as Context['tagging'], stack: STACK };
  return { ctx, calls };
}

const tags = (m: Record<string, string>) => Object.entries(m).map(([Key, Value]) => ({ Key, Value }));
const version = (n: number, type: string, isDefault: boolean, name = NAME) => ({ LaunchTemplateId: ID, LaunchTemplateName: name, VersionNumber: n, DefaultVersion: isDefault, LaunchTemplateData: { InstanceType: type } });
const template = (t: Record<string, string>) => ({ LaunchTemplateId: ID, LaunchTemplateName: NAME, DefaultVersionNumber: 1, LatestVersionNumber: 1, Tags: tags(t) });

test('the listed template: one DescribeLaunchTemplateVersions (newest first), the default and the others from it, its tags from the listing', async () => {
  const { ctx, calls } = context({
    versions: () => ({ LaunchTemplateVersions: [version(3, 't3.micro', false), version(2, 't3.small', true), version(1, 't3.nano', false)] }),
    templates: [],
    listed: [{ ResourceARN: ARN, Tags: tags(OURS) }],
  });
  const o = await readLaunchTemplate(ctx, NAME);
  assert.ok(!isAbsent(o));
  assert.deepEqual(calls, ['GetResources', 'DescribeLaunchTemplateVersions']);
  assert.equal(o.launchTemplateId, ID);
  assert.equal(o.defaultVersion, 2);
  assert.equal(o.latestVersion, 3);
  assert.equal(o.data.instanceType, 't3.small');
  assert.deepEqual(o.otherVersions?.map((v) => [v.version, v.data.instanceType]), [[3, 't3.micro'], [1, 't3.nano']]);
  assert.deepEqual(o.tags, OURS);
  assert.equal(o.owned, true);
});

test('the listing proves nothing: a listed template gone meanwhile is looked for the usual way (absent when EC2 has none)', async () => {
  const { ctx, calls } = context({
    versions: () => {
      throw awsError('InvalidLaunchTemplateId.NotFound');
    },
    templates: [],
    listed: [{ ResourceARN: ARN, Tags: tags(OURS) }],
  });
  assert.ok(isAbsent(await readLaunchTemplate(ctx, NAME)));
  assert.deepEqual(calls, ['GetResources', 'DescribeLaunchTemplateVersions', 'DescribeLaunchTemplates', 'DescribeLaunchTemplates']);
});

test('an answer that does not settle it (more than a page, or another name) is read the usual way, its tags from EC2', async () => {
  for (const versions of [() => ({ LaunchTemplateVersions: [version(2, 't3.small', false)], NextToken: 'more' }), () => ({ LaunchTemplateVersions: [version(1, 't3.small', true, 'other-name')] })]) {
    const { ctx, calls } = context({ versions, templates: [template(OURS)], listed: [{ ResourceARN: ARN, Tags: tags({ ...OURS, stale: 'yes' }) }] });
    const o = await readLaunchTemplate(ctx, NAME);
    assert.ok(!isAbsent(o));
    assert.deepEqual(o.tags, OURS, 'the tags EC2 answers, not the listing');
    assert.ok(calls.includes('DescribeLaunchTemplates'), calls.join(', '));
  }
});

test("a template of that name the listing lacks (someone else's) is read from EC2, its tags too: not ours", async () => {
  const { ctx, calls } = context({
    versions: () => ({ LaunchTemplateVersions: [] }),
    templates: [template({ Name: NAME, team: 'other' })],
    listed: [],
  });
  const o = await readLaunchTemplate(ctx, NAME);
  assert.ok(!isAbsent(o));
  assert.equal(o.owned, false);
  assert.deepEqual(o.tags, { Name: NAME, team: 'other' });
  assert.deepEqual(calls, ['GetResources', 'DescribeLaunchTemplates', 'DescribeLaunchTemplates', 'DescribeLaunchTemplateVersions $Default']);
});
