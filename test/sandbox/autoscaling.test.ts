/**
 * The sandbox's Auto Scaling module (services/autoscaling/) through the real SDK clients: groups from
 * launch templates kept at desired capacity across zones, the EC2 health check, scale-in protection
 * and the default termination policy, instance operations, tags, activities, deletion, and errors.
 * A ManualClock drives the lifecycles (latency 'fast': EC2 boots in 600 ms, terminates in 150 ms).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateAutoScalingGroupCommand,
  CreateOrUpdateTagsCommand,
  DeleteAutoScalingGroupCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeScalingActivitiesCommand,
  DescribeTagsCommand,
  SetInstanceProtectionCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ManualClock, type RunningSandbox } from '../../src/sandbox/index.js';
import { STATE_SHAPES } from '../../src/sandbox/state-shapes.js';
import type { AutoScalingView } from '../../src/sandbox/views.js';
import { amisIn } from '../../src/sandbox/services/ec2/ec2-data.js';
import { builtinNetwork } from '../../src/sandbox/services/ec2/index.js';
import { autoScalingClients, rejectsCode, withSandbox } from './support.js';

const net = builtinNetwork('us-east-1');
const SUBNETS = net.defaultSubnetIds.join(',');
const userData = Buffer.from('#!/bin/bash\necho ECS_CLUSTER=asg-lab >> /etc/ecs/ecs.config\n').toString('base64');

interface Ctx {
  sb: RunningSandbox;
  clock: ManualClock;
  asg: AutoScalingClient;
  ec2: EC2Client;
  templateId: string;
}

async function withAsg(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock, iamPropagationMs: 0 }, async (sb) => {
    const { autoscaling: asg, ec2 } = await autoScalingClients(sb);
    try {
      const images = amisIn(sb.world, 'us-east-1');
      const t = await ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: 'asg-lt',
          LaunchTemplateData: {
            ImageId: images.find((a) => a.architecture === 'x86_64')!.imageId,
            InstanceType: 't3.small',
            UserData: userData,
            TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'from', Value: 'template' }] }],
          },
        }),
      );
      await fn({ sb, clock, asg, ec2, templateId: t.LaunchTemplate!.LaunchTemplateId! });
    } finally {
      asg.destroy();
      ec2.destroy();
    }
  });
}

async function group(asg: AutoScalingClient, name: string) {
  const res = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  return res.AutoScalingGroups![0];
}

const create = (c: Ctx, name: string, extra: Record<string, unknown> = {}) =>
  c.asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateId: c.templateId, Version: '$Latest' },
      MinSize: 0,
      MaxSize: 6,
      DesiredCapacity: 3,
      VPCZoneIdentifier: SUBNETS,
      Tags: [
        { Key: 'team', Value: 'lab', PropagateAtLaunch: true },
        { Key: 'billing', Value: 'x', PropagateAtLaunch: false },
      ],
      ...extra,
    }),
  );

test('CreateAutoScalingGroup: instances across the zones, Pending then InService, tags and user data on the instances', async () => {
  await withAsg(async (c) => {
    await create(c, 'web');
    let g = (await group(c.asg, 'web'))!;
    assert.match(g.AutoScalingGroupARN!, /^arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:[0-9a-f-]{36}:autoScalingGroupName\/web$/);
    assert.equal(g.Instances!.length, 3);
    assert.deepEqual(g.Instances!.map((i) => i.AvailabilityZone).sort(), ['us-east-1a', 'us-east-1b', 'us-east-1c']);
    assert.ok(g.Instances!.every((i) => i.LifecycleState === 'Pending' && i.HealthStatus === 'Healthy'));
    assert.equal(g.HealthCheckType, 'EC2');
    assert.deepEqual(g.AvailabilityZones, ['us-east-1a', 'us-east-1b', 'us-east-1c']);
    c.clock.advance(600);
    g = (await group(c.asg, 'web'))!;
    assert.ok(g.Instances!.every((i) => i.LifecycleState === 'InService'), JSON.stringify(g.Instances));

    const ids = g.Instances!.map((i) => i.InstanceId!);
    const ec2Res = await c.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    for (const inst of ec2Res.Reservations!.flatMap((r) => r.Instances!)) {
      const tags = Object.fromEntries(inst.Tags!.map((t) => [t.Key, t.Value]));
      assert.equal(tags['aws:autoscaling:groupName'], 'web');
      assert.equal(tags.team, 'lab');
      assert.equal(tags.from, 'template');
      assert.equal(tags.billing, undefined, 'PropagateAtLaunch false stays on the group');
      assert.equal(inst.State!.Name, 'running');
    }
    const record = (c.sb.world.state.ec2 as any).instances[ids[0]!];
    assert.match(record.userData, /ECS_CLUSTER=asg-lab/);

    const acts = await c.asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'web' }));
    assert.equal(acts.Activities!.length, 3);
    assert.ok(acts.Activities!.every((a) => a.StatusCode === 'Successful' && /^Launching a new EC2 instance: i-/.test(a.Description!)));
    assert.match(acts.Activities![0]!.Cause!, /a user request created an AutoScalingGroup changing the desired capacity from 0 to 3\.  At .* an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 3\./);

    const inst = await c.asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [ids[0]!] }));
    assert.equal(inst.AutoScalingInstances![0]!.HealthStatus, 'HEALTHY');
    assert.equal(inst.AutoScalingInstances![0]!.AutoScalingGroupName, 'web');
    assert.equal(inst.AutoScalingInstances![0]!.LaunchTemplate!.LaunchTemplateId, c.templateId);
  });
});

test('errors: AlreadyExists, ValidationError for sizes, templates and subnets, unknown groups', async () => {
  await withAsg(async (c) => {
    await create(c, 'dup', { DesiredCapacity: 0 });
    await rejectsCode(create(c, 'dup'), 'AlreadyExists', /A group with the name dup already exists/);
    await rejectsCode(create(c, 'sizes', { MinSize: 3, MaxSize: 1, DesiredCapacity: 1 }), 'ValidationError', /Max bound, 1, must be greater than or equal to min bound, 3/);
    await rejectsCode(create(c, 'desired', { MinSize: 1, MaxSize: 2, DesiredCapacity: 5 }), 'ValidationError', /Desired capacity:5 must be between the specified min size:1 and max size:2/);
    await rejectsCode(create(c, 'no-lt', { LaunchTemplate: { LaunchTemplateName: 'missing', Version: '$Latest' } }), 'ValidationError', /template name missing, does not exist/);
    await rejectsCode(create(c, 'bad-version', { LaunchTemplate: { LaunchTemplateId: c.templateId, Version: '9' } }), 'ValidationError', /version 9/);
    await rejectsCode(create(c, 'no-subnet', { VPCZoneIdentifier: 'subnet-0123456789abcdef0' }), 'ValidationError', /subnet-0123456789abcdef0/);
    await rejectsCode(create(c, 'no-net', { VPCZoneIdentifier: undefined }), 'ValidationError', /At least one Availability Zone or VPC Subnet is required/);
    await rejectsCode(c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'nope', DesiredCapacity: 1 })), 'ValidationError', /AutoScalingGroup name not found/);
    await rejectsCode(c.asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'nope' })), 'ValidationError', /AutoScalingGroup name not found/);
    await rejectsCode(
      c.asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: 'i-0123456789abcdef0', ShouldDecrementDesiredCapacity: false })),
      'ValidationError',
      /No managed instance found for instance ID: i-0123456789abcdef0/,
    );
  });
});

test('EC2 health check: an instance terminated or stopped out of band is replaced', async () => {
  await withAsg(async (c) => {
    await create(c, 'heal', { DesiredCapacity: 2 });
    c.clock.advance(600);
    const [a, b] = (await group(c.asg, 'heal'))!.Instances!.map((i) => i.InstanceId!);
    await c.ec2.send(new TerminateInstancesCommand({ InstanceIds: [a!] }));
    await c.ec2.send(new StopInstancesCommand({ InstanceIds: [b!] }));
    let g = (await group(c.asg, 'heal'))!;
    const byId = Object.fromEntries(g.Instances!.map((i) => [i.InstanceId, i]));
    assert.equal(byId[a!]!.LifecycleState, 'Terminating');
    assert.equal(byId[a!]!.HealthStatus, 'Unhealthy');
    assert.equal(byId[b!]!.LifecycleState, 'Terminating');
    assert.equal(g.Instances!.filter((i) => i.LifecycleState === 'Pending').length, 2, 'replacements launched');
    c.clock.advance(600);
    g = (await group(c.asg, 'heal'))!;
    assert.equal(g.Instances!.length, 2);
    assert.ok(g.Instances!.every((i) => i.LifecycleState === 'InService' && i.InstanceId !== a && i.InstanceId !== b));
    const acts = (await c.asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'heal' }))).Activities!;
    const term = acts.find((x) => x.Description === `Terminating EC2 instance: ${a}`)!;
    assert.match(term.Cause!, /an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped\./);
    assert.equal(term.StatusCode, 'Successful');
  });
});

test('scale-in waits while every instance is protected; unprotected ones go first, zones kept balanced', async () => {
  await withAsg(async (c) => {
    await create(c, 'prot', { DesiredCapacity: 3, NewInstancesProtectedFromScaleIn: true });
    c.clock.advance(600);
    const ids = (await group(c.asg, 'prot'))!.Instances!.map((i) => i.InstanceId!);
    await c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'prot', DesiredCapacity: 1 }));
    let g = (await group(c.asg, 'prot'))!;
    assert.equal(g.DesiredCapacity, 1);
    assert.ok(g.Instances!.every((i) => i.LifecycleState === 'InService' && i.ProtectedFromScaleIn), 'all protected: the group waits');
    await c.asg.send(new SetInstanceProtectionCommand({ AutoScalingGroupName: 'prot', InstanceIds: [ids[1]!], ProtectedFromScaleIn: false }));
    g = (await group(c.asg, 'prot'))!;
    assert.equal(g.Instances!.find((i) => i.InstanceId === ids[1])!.LifecycleState, 'Terminating');
    assert.equal(g.Instances!.filter((i) => i.LifecycleState === 'InService').length, 2);
    await rejectsCode(
      c.asg.send(new SetInstanceProtectionCommand({ AutoScalingGroupName: 'prot', InstanceIds: ['i-0123456789abcdef0'], ProtectedFromScaleIn: false })),
      'ValidationError',
      /not part of Auto Scaling group prot/,
    );
    c.clock.advance(150);
    g = (await group(c.asg, 'prot'))!;
    assert.equal(g.Instances!.length, 2);
    const acts = (await c.asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'prot' }))).Activities!;
    assert.match(acts[0]!.Cause!, /min: 0, max: 6, desired: 1 changing the desired capacity from 3 to 1\.  At .* shrinking the capacity from 3 to 1\./);

    // Unprotected group: scaling in from 3 to 1 keeps one instance, from whichever zone.
    await create(c, 'free', { DesiredCapacity: 4 });
    c.clock.advance(600);
    await c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'free', DesiredCapacity: 2 }));
    g = (await group(c.asg, 'free'))!;
    const left = g.Instances!.filter((i) => i.LifecycleState === 'InService');
    assert.equal(left.length, 2);
    assert.equal(new Set(left.map((i) => i.AvailabilityZone)).size, 2, 'the zone with two instances gave one up first');
  });
});

test('TerminateInstanceInAutoScalingGroup: with and without decrementing the desired capacity', async () => {
  await withAsg(async (c) => {
    await create(c, 'term', { MinSize: 1, DesiredCapacity: 2 });
    c.clock.advance(600);
    const [a, b] = (await group(c.asg, 'term'))!.Instances!.map((i) => i.InstanceId!);
    const res = await c.asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: a, ShouldDecrementDesiredCapacity: true }));
    assert.equal(res.Activity!.Description, `Terminating EC2 instance: ${a}`);
    assert.equal(res.Activity!.StatusCode, 'InProgress');
    assert.match(res.Activity!.Cause!, /shrinking the capacity from 2 to 1/);
    assert.equal((await group(c.asg, 'term'))!.DesiredCapacity, 1);
    await rejectsCode(
      c.asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: b, ShouldDecrementDesiredCapacity: true })),
      'ValidationError',
      /desiredSize equals minSize \(1\)/,
    );
    await c.asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: b, ShouldDecrementDesiredCapacity: false }));
    const g = (await group(c.asg, 'term'))!;
    assert.equal(g.DesiredCapacity, 1);
    assert.equal(g.Instances!.filter((i) => i.LifecycleState === 'Pending').length, 1, 'a replacement for b');
  });
});

test('tags: CreateOrUpdateTags, DeleteTags, DescribeTags filters, DescribeAutoScalingGroups tag filters and paging', async () => {
  await withAsg(async (c) => {
    for (const name of ['t-a', 't-b', 't-c']) await create(c, name, { DesiredCapacity: 0 });
    await c.asg.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          { ResourceId: 't-b', ResourceType: 'auto-scaling-group', Key: 'env', Value: 'prod', PropagateAtLaunch: true },
          { ResourceId: 't-c', ResourceType: 'auto-scaling-group', Key: 'env', Value: 'dev', PropagateAtLaunch: false },
        ],
      }),
    );
    const prod = await c.asg.send(new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag:env', Values: ['prod'] }] }));
    assert.deepEqual(prod.AutoScalingGroups!.map((g) => g.AutoScalingGroupName), ['t-b']);
    const keyed = await c.asg.send(new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag-key', Values: ['env'] }] }));
    assert.deepEqual(keyed.AutoScalingGroups!.map((g) => g.AutoScalingGroupName), ['t-b', 't-c']);
    const byValue = await c.asg.send(new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: 'tag-value', Values: ['dev'] }] }));
    assert.deepEqual(byValue.AutoScalingGroups!.map((g) => g.AutoScalingGroupName), ['t-c']);

    const p1 = await c.asg.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 2 }));
    assert.equal(p1.AutoScalingGroups!.length, 2);
    const p2 = await c.asg.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 2, NextToken: p1.NextToken }));
    assert.deepEqual(p2.AutoScalingGroups!.map((g) => g.AutoScalingGroupName), ['t-c']);
    assert.equal(p2.NextToken, undefined);

    const propagating = await c.asg.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['env'] }, { Name: 'propagate-at-launch', Values: ['true'] }] }));
    assert.deepEqual(propagating.Tags!.map((t) => [t.ResourceId, t.Value]), [['t-b', 'prod']]);
    const ofGroup = await c.asg.send(new DescribeTagsCommand({ Filters: [{ Name: 'auto-scaling-group', Values: ['t-a'] }] }));
    assert.deepEqual(ofGroup.Tags!.map((t) => t.Key), ['billing', 'team']);

    await c.asg.send(new DeleteTagsCommand({ Tags: [{ ResourceId: 't-b', ResourceType: 'auto-scaling-group', Key: 'env' }] }));
    const after = await c.asg.send(new DescribeTagsCommand({ Filters: [{ Name: 'value', Values: ['prod'] }] }));
    assert.equal(after.Tags!.length, 0);
    await rejectsCode(c.asg.send(new DescribeTagsCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })), 'ValidationError');
    await rejectsCode(
      c.asg.send(new CreateOrUpdateTagsCommand({ Tags: [{ ResourceId: 'nope', ResourceType: 'auto-scaling-group', Key: 'k', Value: 'v' }] })),
      'ValidationError',
      /not found/,
    );
  });
});

test('DeleteAutoScalingGroup: ResourceInUse and ScalingActivityInProgress without ForceDelete; ForceDelete drains then removes', async () => {
  await withAsg(async (c) => {
    await create(c, 'del', { DesiredCapacity: 2 });
    await group(c.asg, 'del'); // launches: activities in progress until the instances run
    await rejectsCode(c.asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'del' })), 'ScalingActivityInProgress', /scaling activities in progress/);
    c.clock.advance(600);
    await rejectsCode(c.asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'del' })), 'ResourceInUse', /instances or pending Spot instance request/);
    await c.asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'del', ForceDelete: true }));
    const g = (await group(c.asg, 'del'))!;
    assert.equal(g.Status, 'Delete in progress');
    const view = (c.sb.world.state.autoscaling as AutoScalingView).groups!['us-east-1/del']!;
    assert.equal(view.status, 'Delete in progress', 'AsgGroupView.status, as views.ts documents it');
    assert.equal(view.desiredCapacity, 0);
    assert.ok(g.Instances!.every((i) => i.LifecycleState === 'Terminating'));
    await rejectsCode(c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'del', DesiredCapacity: 1 })), 'ValidationError', /pending delete/);
    c.clock.advance(150);
    assert.equal(await group(c.asg, 'del'), undefined);

    await create(c, 'empty', { DesiredCapacity: 0 });
    await c.asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'empty' }));
    assert.equal(await group(c.asg, 'empty'), undefined);
  });
});

test('launch failures: a zone without capacity is skipped; no capacity anywhere records a Failed activity', async () => {
  await withAsg(async (c) => {
    c.sb.world.settings.capacity = { 'us-east-1a': 0 };
    await create(c, 'cap', { DesiredCapacity: 3 });
    let g = (await group(c.asg, 'cap'))!;
    assert.equal(g.Instances!.length, 3);
    assert.ok(g.Instances!.every((i) => i.AvailabilityZone !== 'us-east-1a'));

    c.sb.world.settings.capacity = { 'us-east-1a': 0, 'us-east-1b': 0, 'us-east-1c': 0 };
    await create(c, 'none', { DesiredCapacity: 1 });
    g = (await group(c.asg, 'none'))!;
    assert.equal(g.Instances!.length, 0);
    const acts = (await c.asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'none' }))).Activities!;
    assert.equal(acts[0]!.StatusCode, 'Failed');
    assert.match(acts[0]!.StatusMessage!, /sufficient t3.small capacity/);
    assert.match(acts[0]!.Description!, /^Launching a new EC2 instance\.  Status Reason: .* Launching EC2 instance failed\.$/);
  });
});

test('the persisted state of EC2 (with launch templates) and Auto Scaling matches state-shapes.ts', async () => {
  await withAsg(async (c) => {
    await create(c, 'persist', { DesiredCapacity: 2 });
    c.clock.advance(600);
    await c.asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: (await group(c.asg, 'persist'))!.Instances![0]!.InstanceId, ShouldDecrementDesiredCapacity: false }));
    const saved = JSON.parse(JSON.stringify(c.sb.world.state));
    assert.equal(STATE_SHAPES.ec2!(saved.ec2, 'ec2'), undefined);
    assert.equal(STATE_SHAPES.autoscaling!(saved.autoscaling, 'autoscaling'), undefined);
    assert.ok(Object.keys(saved.ec2.launchTemplates).length === 1);
    saved.autoscaling.groups['us-east-1/persist'].instances[0].lifecycleState = 'Sleeping';
    assert.match(STATE_SHAPES.autoscaling!(saved.autoscaling, 'autoscaling')!, /lifecycleState must be one of/);
    delete saved.ec2.launchTemplates;
    assert.equal(STATE_SHAPES.ec2!(saved.ec2, 'ec2'), undefined, 'files from before launch templates still load');
  });
});

test('CreateAutoScalingGroup and UpdateAutoScalingGroup refuse a template whose instance profile IAM has not propagated yet (ValidationError, AWS\'s message), and accept it once it has', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock, iamPropagationMs: 5000 }, async (sb) => {
    const { autoscaling: asg, ec2 } = await autoScalingClients(sb);
    const { IAMClient, CreateInstanceProfileCommand } = await import('@aws-sdk/client-iam');
    const { clientConfig } = await import('./support.js');
    const iam = new IAMClient(clientConfig(sb));
    try {
      await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'fresh-profile' }));
      const image = amisIn(sb.world, 'us-east-1').find((a) => a.architecture === 'x86_64')!.imageId;
      const plain = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'plain-lt', LaunchTemplateData: { ImageId: image, InstanceType: 't3.small' } }));
      const named = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'profile-lt', LaunchTemplateData: { ImageId: image, InstanceType: 't3.small', IamInstanceProfile: { Name: 'fresh-profile' } } }));
      const spec = { LaunchTemplateId: named.LaunchTemplate!.LaunchTemplateId!, Version: '$Default' };
      const input = { AutoScalingGroupName: 'prop', MinSize: 0, MaxSize: 1, VPCZoneIdentifier: SUBNETS };
      await rejectsCode(asg.send(new CreateAutoScalingGroupCommand({ ...input, LaunchTemplate: spec })), 'ValidationError', /fully-formed launch template.*iamInstanceProfile\.name is invalid\. Invalid IAM Instance Profile name/);
      await asg.send(new CreateAutoScalingGroupCommand({ ...input, LaunchTemplate: { LaunchTemplateId: plain.LaunchTemplate!.LaunchTemplateId!, Version: '$Default' } }));
      await rejectsCode(asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'prop', LaunchTemplate: spec })), 'ValidationError', /Invalid IAM Instance Profile name/);
      clock.advance(5000);
      await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'prop', LaunchTemplate: spec }));
      assert.equal((await group(asg, 'prop')).LaunchTemplate?.LaunchTemplateName, 'profile-lt');
    } finally {
      iam.destroy();
      asg.destroy();
      ec2.destroy();
    }
  });
});
