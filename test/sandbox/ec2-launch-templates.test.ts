/**
 * EC2 launch templates (services/ec2/launch-templates.ts) through the real SDK: versions, default
 * version, describe filters and paging, errors, ClientToken, RunInstances from a template, and the
 * legacy filter names EC2 still accepts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateCommand,
  DeleteLaunchTemplateVersionsCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { builtinNetwork, ec2 as ec2Module } from '../../src/sandbox/services/ec2/index.js';
import { iam as iamModule } from '../../src/sandbox/services/iam.js';
import { ssm as ssmModule } from '../../src/sandbox/services/ssm.js';
import { clientConfig, rejects } from './support.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

const net = builtinNetwork('us-east-1');
let sb: RunningSandbox;
let ec2: EC2Client;
let ami: string;

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, latency: 'none', services: [ec2Module, ssmModule, iamModule], iamPropagationMs: 0 });
  ec2 = new EC2Client(clientConfig(sb, { maxAttempts: 1 }));
  const ssm = new SSMClient(clientConfig(sb));
  ami = (await ssm.send(new GetParameterCommand({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id' }))).Parameter!.Value!;
  ssm.destroy();
});

after(async () => {
  ec2.destroy();
  await sb.close();
});

const userData = Buffer.from('#!/bin/bash\necho ECS_CLUSTER=lab >> /etc/ecs/ecs.config\n').toString('base64');

test('CreateLaunchTemplate, versions, $Latest/$Default, ModifyLaunchTemplate, DeleteLaunchTemplateVersions', async () => {
  const created = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'lt-basic',
      VersionDescription: 'first',
      LaunchTemplateData: {
        ImageId: ami,
        InstanceType: 't3.small',
        UserData: userData,
        SecurityGroupIds: [net.defaultSecurityGroupId],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'role', Value: 'ecs' }] }],
      },
      TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: 'team', Value: 'lab' }] }],
    }),
  );
  const t = created.LaunchTemplate!;
  assert.match(t.LaunchTemplateId!, /^lt-[0-9a-f]{17}$/);
  assert.equal(t.DefaultVersionNumber, 1);
  assert.equal(t.LatestVersionNumber, 1);
  assert.deepEqual(t.Tags, [{ Key: 'team', Value: 'lab' }]);
  assert.ok(t.CreateTime instanceof Date);

  await rejects(
    ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'lt-basic', LaunchTemplateData: { ImageId: ami } })),
    'InvalidLaunchTemplateName.AlreadyExistsException',
    /already in use/,
  );

  const v2 = await ec2.send(
    new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: t.LaunchTemplateId, SourceVersion: '1', VersionDescription: 'bigger', LaunchTemplateData: { InstanceType: 't3.medium' } }),
  );
  assert.equal(v2.LaunchTemplateVersion!.VersionNumber, 2);
  assert.equal(v2.LaunchTemplateVersion!.DefaultVersion, false);
  assert.equal(v2.LaunchTemplateVersion!.LaunchTemplateData!.InstanceType, 't3.medium');
  assert.equal(v2.LaunchTemplateVersion!.LaunchTemplateData!.ImageId, ami, 'SourceVersion data carried over');
  assert.deepEqual(v2.LaunchTemplateVersion!.LaunchTemplateData!.SecurityGroupIds, [net.defaultSecurityGroupId]);
  assert.deepEqual(v2.LaunchTemplateVersion!.LaunchTemplateData!.TagSpecifications, [{ ResourceType: 'instance', Tags: [{ Key: 'role', Value: 'ecs' }] }]);

  const latest = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'lt-basic', Versions: ['$Latest'] }));
  assert.deepEqual(latest.LaunchTemplateVersions!.map((v) => v.VersionNumber), [2]);
  const def = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'lt-basic', Versions: ['$Default'] }));
  assert.deepEqual(def.LaunchTemplateVersions!.map((v) => [v.VersionNumber, v.DefaultVersion]), [[1, true]]);
  await rejects(
    ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: t.LaunchTemplateId, Versions: ['7'] })),
    'InvalidLaunchTemplateId.VersionNotFound',
    new RegExp(`version 7 for the launch template with ID ${t.LaunchTemplateId}`),
  );

  const modified = await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: t.LaunchTemplateId, DefaultVersion: '2' }));
  assert.equal(modified.LaunchTemplate!.DefaultVersionNumber, 2);
  await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateName: 'lt-basic', LaunchTemplateData: { ImageId: ami, InstanceType: 't3.large' } }));
  const range = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'lt-basic', MinVersion: '2', MaxVersion: '3' }));
  assert.deepEqual(range.LaunchTemplateVersions!.map((v) => v.VersionNumber), [3, 2]);

  const deleted = await ec2.send(new DeleteLaunchTemplateVersionsCommand({ LaunchTemplateName: 'lt-basic', Versions: ['1', '2', '9'] }));
  assert.deepEqual(deleted.SuccessfullyDeletedLaunchTemplateVersions!.map((v) => v.VersionNumber), [1]);
  assert.deepEqual(
    deleted.UnsuccessfullyDeletedLaunchTemplateVersions!.map((v) => [v.VersionNumber, v.ResponseError!.Code]),
    [
      [2, 'unexpectedError'],
      [9, 'launchTemplateVersionDoesNotExist'],
    ],
  );

  const gone = await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateName: 'lt-basic' }));
  assert.equal(gone.LaunchTemplate!.LaunchTemplateId, t.LaunchTemplateId);
  await rejects(ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [t.LaunchTemplateId!] })), 'InvalidLaunchTemplateId.NotFound');
});

test('DescribeLaunchTemplates: names, tag filters, paging; errors for unknown, malformed and bad data', async () => {
  for (const [name, env] of [
    ['lt-page-a', 'prod'],
    ['lt-page-b', 'dev'],
    ['lt-page-c', 'prod'],
  ]) {
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: name,
        LaunchTemplateData: { ImageId: ami },
        TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: 'env', Value: env }] }],
      }),
    );
  }
  const prod = await ec2.send(new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'tag:env', Values: ['prod'] }] }));
  assert.deepEqual(prod.LaunchTemplates!.map((t) => t.LaunchTemplateName).sort(), ['lt-page-a', 'lt-page-c']);
  const keyed = await ec2.send(new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'tag-key', Values: ['env'] }, { Name: 'launch-template-name', Values: ['lt-page-*'] }] }));
  assert.equal(keyed.LaunchTemplates!.length, 3);

  const first = await ec2.send(new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'launch-template-name', Values: ['lt-page-*'] }], MaxResults: 2 }));
  assert.equal(first.LaunchTemplates!.length, 2);
  assert.ok(first.NextToken);
  const second = await ec2.send(new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'launch-template-name', Values: ['lt-page-*'] }], MaxResults: 2, NextToken: first.NextToken }));
  assert.deepEqual(second.LaunchTemplates!.map((t) => t.LaunchTemplateName), ['lt-page-c']);

  await rejects(ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ['nope'] })), 'InvalidLaunchTemplateName.NotFoundException');
  await rejects(ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: ['lt-1'] })), 'InvalidLaunchTemplateId.Malformed');
  await rejects(ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateName: 'nope' })), 'InvalidLaunchTemplateName.NotFoundException', /template name nope/);
  await rejects(
    ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'lt-bad-ami', LaunchTemplateData: { ImageId: 'ami-0123456789abcdef0' } })),
    'InvalidAMIID.NotFound',
  );
  await rejects(
    ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'lt-bad-profile', LaunchTemplateData: { ImageId: ami, IamInstanceProfile: { Name: 'missing' } } })),
    'InvalidParameterValue',
    /iamInstanceProfile\.name/,
  );
  await rejects(
    ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'lt-bad-sg', LaunchTemplateData: { ImageId: ami, SecurityGroupIds: ['sg-0123456789abcdef0'] } })),
    'InvalidGroup.NotFound',
  );
  await rejects(ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'x', LaunchTemplateData: { ImageId: ami } })), 'InvalidLaunchTemplateName.MalformedException');
});

test('CreateLaunchTemplate: ClientToken returns the first template; different arguments are a mismatch', async () => {
  const input = { LaunchTemplateName: 'lt-token', ClientToken: 'tok-1', LaunchTemplateData: { ImageId: ami } };
  const a = await ec2.send(new CreateLaunchTemplateCommand(input));
  const b = await ec2.send(new CreateLaunchTemplateCommand(input));
  assert.equal(b.LaunchTemplate!.LaunchTemplateId, a.LaunchTemplate!.LaunchTemplateId);
  await rejects(ec2.send(new CreateLaunchTemplateCommand({ ...input, LaunchTemplateData: { ImageId: ami, InstanceType: 't3.micro' } })), 'IdempotentParameterMismatch');
});

test('RunInstances from a launch template: template data, request overrides, template tags and user data', async () => {
  const t = (
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'lt-run',
        LaunchTemplateData: {
          ImageId: ami,
          InstanceType: 't3.small',
          UserData: userData,
          TagSpecifications: [
            { ResourceType: 'instance', Tags: [{ Key: 'role', Value: 'ecs' }, { Key: 'Name', Value: 'from-template' }] },
            { ResourceType: 'volume', Tags: [{ Key: 'disk', Value: 'root' }] },
          ],
        },
      }),
    )
  ).LaunchTemplate!;
  const run = await ec2.send(
    new RunInstancesCommand({
      MinCount: 1,
      MaxCount: 1,
      LaunchTemplate: { LaunchTemplateId: t.LaunchTemplateId, Version: '$Latest' },
      InstanceType: 't3.micro',
      SubnetId: net.defaultSubnetIds[1],
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'from-request' }] }],
    }),
  );
  const inst = run.Instances![0]!;
  assert.equal(inst.ImageId, ami);
  assert.equal(inst.InstanceType, 't3.micro', 'the request overrides the template');
  assert.equal(inst.SubnetId, net.defaultSubnetIds[1]);
  const tags = Object.fromEntries(inst.Tags!.map((x) => [x.Key, x.Value]));
  assert.deepEqual(tags, {
    role: 'ecs',
    Name: 'from-request',
    'aws:ec2launchtemplate:id': t.LaunchTemplateId,
    'aws:ec2launchtemplate:version': '1',
  });
  const record = (sb.world.state.ec2 as any).instances[inst.InstanceId!];
  assert.match(record.userData, /ECS_CLUSTER=lab/);
  const volume = (sb.world.state.ec2 as any).volumes[record.blockDevices[0].volumeId];
  assert.deepEqual(volume.tags, { disk: 'root' });

  await rejects(
    ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateName: 'lt-run', Version: '4' } })),
    'InvalidLaunchTemplateId.VersionNotFound',
  );
  await rejects(ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateName: 'lt-none' } })), 'InvalidLaunchTemplateName.NotFoundException');
  const described = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:aws:ec2launchtemplate:id', Values: [t.LaunchTemplateId!] }] }));
  assert.equal(described.Reservations!.flatMap((r) => r.Instances!).length, 1);
});

test('legacy filter names EC2 still accepts: isDefault, defaultForAz, availabilityZone, group-name, instance.group-name', async () => {
  const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
  assert.deepEqual(vpcs.Vpcs!.map((v) => v.VpcId), [net.defaultVpcId]);
  const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'defaultForAz', Values: ['true'] }, { Name: 'availabilityZone', Values: ['us-east-1b'] }] }));
  assert.deepEqual(subnets.Subnets!.map((s) => s.SubnetId), [net.defaultSubnetIds[1]]);
  const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }, { Name: 'vpc-id', Values: [net.defaultVpcId] }] }));
  assert.deepEqual(groups.SecurityGroups!.map((g) => g.GroupId), [net.defaultSecurityGroupId]);
  const byGroupName = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance.group-name', Values: ['default'] }, { Name: 'availability-zone', Values: ['us-east-1b'] }] }));
  const found = byGroupName.Reservations!.flatMap((r) => r.Instances!);
  assert.ok(found.length >= 1);
  assert.ok(found.every((i) => i.Placement!.AvailabilityZone === 'us-east-1b'));
  const legacyGroupName = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'group-name', Values: ['no-such-group'] }] }));
  assert.equal(legacyGroupName.Reservations!.length, 0);
  await rejects(ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })), 'InvalidParameterValue', /The filter 'no-such-filter' is invalid/);
});
