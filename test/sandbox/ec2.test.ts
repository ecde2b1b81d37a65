import assert from 'node:assert/strict';
import { rejects } from './support.js';
import { after, before, test } from 'node:test';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { ManualClock, startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { builtinNetwork, ec2 as ec2Module } from '../../src/sandbox/services/ec2/index.js';
import { iam as iamModule } from '../../src/sandbox/services/iam.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

const clock = new ManualClock();
const PROPAGATION_MS = 10_000;
const net = builtinNetwork('us-east-1');
let sb: RunningSandbox;
let ec2: EC2Client;
let iam: IAMClient;
let amiX86: string;

const config = () => ({
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' },
  maxAttempts: 1,
});

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, services: [iamModule, ec2Module], clock, latency: 'fast', iamPropagationMs: PROPAGATION_MS });
  ec2 = new EC2Client({ ...config(), endpoint: sb.url });
  iam = new IAMClient({ ...config(), endpoint: sb.url });
  const images = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['amazon'],
      Filters: [
        { Name: 'name', Values: ['al2023-ami-ecs-hvm-*'] },
        { Name: 'architecture', Values: ['x86_64'] },
      ],
    }),
  );
  assert.equal(images.Images?.length, 1);
  amiX86 = images.Images![0].ImageId!;
});

after(async () => {
  ec2.destroy();
  iam.destroy();
  await sb.close();
});


function launch(extra: Partial<RunInstancesCommandInput> = {}) {
  return ec2.send(new RunInstancesCommand({ ImageId: amiX86, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, ...extra }));
}

test('default network: a default VPC with public subnets, and another VPC', async () => {
  const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
  assert.equal(vpcs.Vpcs?.length, 1);
  assert.equal(vpcs.Vpcs?.[0].VpcId, net.defaultVpcId);
  assert.equal(vpcs.Vpcs?.[0].CidrBlock, '172.31.0.0/16');

  const subnets = await ec2.send(
    new DescribeSubnetsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [net.defaultVpcId] },
        { Name: 'default-for-az', Values: ['true'] },
      ],
    }),
  );
  assert.deepEqual(subnets.Subnets?.map((s) => s.AvailabilityZone).sort(), ['us-east-1a', 'us-east-1b', 'us-east-1c']);
  assert.ok(subnets.Subnets?.every((s) => s.MapPublicIpOnLaunch && s.DefaultForAz));

  const other = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [net.otherSubnetId] }));
  assert.equal(other.Subnets?.[0].VpcId, net.otherVpcId);
  assert.equal(other.Subnets?.[0].MapPublicIpOnLaunch, false);

  await rejects(ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0123456789abcdef0'] })), 'InvalidSubnetID.NotFound');
  await rejects(ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-0123456789abcdef0'] })), 'InvalidVpcID.NotFound');
});

test('filter names EC2 still accepts from older documentation: isDefault, vpcId, cidrBlock, availabilityZone', async () => {
  const legacy = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
  assert.deepEqual(legacy.Vpcs?.map((v) => v.VpcId), [net.defaultVpcId]);
  const notDefault = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['false'] }] }));
  assert.deepEqual(notDefault.Vpcs?.map((v) => v.VpcId), [net.otherVpcId]);
  const byCidr = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'cidrBlock', Values: ['10.0.0.0/16'] }, { Name: 'vpcId', Values: [net.otherVpcId] }] }));
  assert.equal(byCidr.Vpcs?.length, 1);
  const subnets = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'vpcId', Values: [net.defaultVpcId] }, { Name: 'availabilityZone', Values: ['us-east-1b'] }, { Name: 'defaultForAz', Values: ['true'] }] }),
  );
  assert.equal(subnets.Subnets?.length, 1);
  assert.equal((await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidrBlock', Values: ['10.0.1.0/24'] }] }))).Subnets?.[0].SubnetId, net.otherSubnetId);
  // A name EC2 never had is still refused.
  await rejects(ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isdefault', Values: ['true'] }] })), 'InvalidParameterValue', /The filter 'isdefault' is invalid/);
});

test('key pairs: create returns key material, duplicate and not found errors', async () => {
  const key = await ec2.send(new CreateKeyPairCommand({ KeyName: 'sandbox-key' }));
  assert.match(key.KeyMaterial ?? '', /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.match(key.KeyPairId ?? '', /^key-0[0-9a-f]{16}$/);
  await rejects(ec2.send(new CreateKeyPairCommand({ KeyName: 'sandbox-key' })), 'InvalidKeyPair.Duplicate');
  const described = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['sandbox-key'] }));
  assert.equal(described.KeyPairs?.[0].KeyFingerprint, key.KeyFingerprint);
  await rejects(ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['nope'] })), 'InvalidKeyPair.NotFound');
  await ec2.send(new DeleteKeyPairCommand({ KeyName: 'sandbox-key' }));
  await rejects(ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['sandbox-key'] })), 'InvalidKeyPair.NotFound');
});

test('security groups: duplicate, rules, filters, not found', async () => {
  const { GroupId } = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: 'web',
      Description: 'web',
      VpcId: net.defaultVpcId,
      TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'stack', Value: 'sg-test' }] }],
    }),
  );
  assert.match(GroupId ?? '', /^sg-0[0-9a-f]{16}$/);
  await rejects(
    ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web', VpcId: net.defaultVpcId })),
    'InvalidGroup.Duplicate',
  );
  // The same name in another VPC is fine.
  await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web', VpcId: net.otherVpcId }));

  const rule = { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '203.0.113.7/32', Description: 'me' }] };
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [rule] }));
  await rejects(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [rule] })), 'InvalidPermission.Duplicate');

  const byTag = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:stack', Values: ['sg-test'] }] }));
  assert.deepEqual(byTag.SecurityGroups?.map((g) => g.GroupId), [GroupId]);
  const perms = byTag.SecurityGroups?.[0].IpPermissions;
  assert.deepEqual(perms?.[0].IpRanges, [{ CidrIp: '203.0.113.7/32', Description: 'me' }]);
  assert.equal(perms?.[0].FromPort, 80);

  const byName = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: ['web'] },
        { Name: 'vpc-id', Values: [net.otherVpcId] },
      ],
    }),
  );
  assert.equal(byName.SecurityGroups?.length, 1);
  assert.notEqual(byName.SecurityGroups?.[0].GroupId, GroupId);

  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId, IpPermissions: [rule] }));
  await rejects(ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId, IpPermissions: [rule] })), 'InvalidPermission.NotFound');
  await rejects(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-0123456789abcdef0'] })), 'InvalidGroup.NotFound');
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId }));
  await rejects(ec2.send(new DeleteSecurityGroupCommand({ GroupId })), 'InvalidGroup.NotFound');
});

test('RunInstances: pending, then running with a public IP after the boot time', async () => {
  const userData = '#!/bin/bash\necho ECS_CLUSTER=demo >> /etc/ecs/ecs.config\n';
  const run = await launch({
    UserData: Buffer.from(userData).toString('base64'),
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled' },
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 40, VolumeType: 'gp3', Encrypted: true } }],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'boot-test' }] },
      { ResourceType: 'volume', Tags: [{ Key: 'Name', Value: 'boot-test-root' }] },
    ],
  });
  const instance = run.Instances![0];
  assert.equal(instance.State?.Name, 'pending');
  assert.equal(instance.PublicIpAddress, undefined);
  assert.match(instance.PrivateIpAddress ?? '', /^172\.31\./);
  assert.equal(instance.MetadataOptions?.HttpTokens, 'required');
  const record = sb.world.state.ec2.instances[instance.InstanceId!];
  assert.equal(record.userData, userData);

  clock.advance(300);
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.InstanceId!] }));
  const now = described.Reservations![0].Instances![0];
  assert.equal(now.State?.Name, 'running');
  assert.match(now.PublicIpAddress ?? '', /^\d+\.\d+\.\d+\.\d+$/);
  assert.equal(now.Tags?.find((t) => t.Key === 'Name')?.Value, 'boot-test');
  assert.equal(described.Reservations![0].ReservationId, run.ReservationId);

  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance.InstanceId!] }));
});

test('RunInstances: validation errors', async () => {
  await rejects(launch({ ImageId: 'ami-0123456789abcdef0' }), 'InvalidAMIID.NotFound');
  await rejects(launch({ ImageId: 'not-an-ami' }), 'InvalidAMIID.Malformed');
  await rejects(launch({ InstanceType: 't3.gigantic' as any }), 'InvalidParameterValue', /Invalid value 't3.gigantic' for InstanceType/);
  await rejects(launch({ InstanceType: 't4g.small' }), 'InvalidParameterValue', /architecture/);
  await rejects(launch({ KeyName: 'nope' }), 'InvalidKeyPair.NotFound');
  await rejects(launch({ SubnetId: 'subnet-0123456789abcdef0' }), 'InvalidSubnetID.NotFound');
  await rejects(launch({ UserData: 'not base64!' }), 'InvalidParameterValue');
  const { GroupId } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'elsewhere', Description: 'x', VpcId: net.otherVpcId }),
  );
  await rejects(launch({ SubnetId: net.defaultSubnetIds[0], SecurityGroupIds: [GroupId!] }), 'InvalidParameter', /different networks/);
  await rejects(launch({ IamInstanceProfile: { Name: 'nope' } }), 'InvalidParameterValue', /iamInstanceProfile\.name/);
});

test('RunInstances: ClientToken makes the call idempotent', async () => {
  const first = await launch({ ClientToken: 'token-1' });
  const again = await launch({ ClientToken: 'token-1' });
  assert.equal(again.ReservationId, first.ReservationId);
  assert.equal(again.Instances?.[0].InstanceId, first.Instances?.[0].InstanceId);
  await rejects(launch({ ClientToken: 'token-1', InstanceType: 't3.medium' }), 'IdempotentParameterMismatch');
  const byToken = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: ['token-1'] }] }));
  assert.equal(byToken.Reservations?.flatMap((r) => r.Instances ?? []).length, 1);
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [first.Instances![0].InstanceId!] }));
});

test('RunInstances: a new instance profile is rejected until IAM has propagated', async () => {
  const trust = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
  });
  await iam.send(new CreateRoleCommand({ RoleName: 'ecs-instance', AssumeRolePolicyDocument: trust }));
  const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'ecs-instance' }));
  await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'ecs-instance', RoleName: 'ecs-instance' }));

  await rejects(
    launch({ IamInstanceProfile: { Name: 'ecs-instance' } }),
    'InvalidParameterValue',
    /^Value \(ecs-instance\) for parameter iamInstanceProfile\.name is invalid\. Invalid IAM Instance Profile name$/,
  );
  await rejects(launch({ IamInstanceProfile: { Arn: profile.InstanceProfile!.Arn } }), 'InvalidParameterValue', /iamInstanceProfile\.arn/);

  clock.advance(PROPAGATION_MS);
  const run = await launch({ IamInstanceProfile: { Name: 'ecs-instance' } });
  assert.equal(run.Instances?.[0].IamInstanceProfile?.Arn, profile.InstanceProfile?.Arn);
  assert.equal(run.Instances?.[0].IamInstanceProfile?.Id, profile.InstanceProfile?.InstanceProfileId);
  assert.deepEqual(sb.world.state.ec2.instances[run.Instances![0].InstanceId!].iamInstanceProfile, {
    arn: profile.InstanceProfile?.Arn,
    name: 'ecs-instance',
  });
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [run.Instances![0].InstanceId!] }));
});

test('security group in use: DependencyViolation until the instance is terminated', async () => {
  const { GroupId } = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'in-use', Description: 'x' }));
  const run = await launch({ SecurityGroupIds: [GroupId!], SubnetId: net.defaultSubnetIds[1] });
  const id = run.Instances![0].InstanceId!;
  assert.equal(run.Instances![0].Placement?.AvailabilityZone, 'us-east-1b');
  await rejects(ec2.send(new DeleteSecurityGroupCommand({ GroupId })), 'DependencyViolation');

  const terminating = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  assert.equal(terminating.TerminatingInstances?.[0].CurrentState?.Name, 'shutting-down');
  await rejects(ec2.send(new DeleteSecurityGroupCommand({ GroupId })), 'DependencyViolation');

  clock.advance(150);
  const gone = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  assert.equal(gone.Reservations?.[0].Instances?.[0].State?.Name, 'terminated');
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId }));
});

test('DescribeInstances: pagination with pageSize 1, filters, id errors', async () => {
  const run = await launch({ MinCount: 3, MaxCount: 3 });
  const ids = run.Instances!.map((i) => i.InstanceId!);
  await ec2.send(new CreateTagsCommand({ Resources: ids, Tags: [{ Key: 'batch', Value: 'paging' }] }));

  sb.world.settings.pageSize = 1;
  try {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'tag:batch', Values: ['paging'] }], NextToken: token, MaxResults: 5 }),
      );
      pages++;
      seen.push(...(page.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!));
      token = page.NextToken;
    } while (token);
    assert.deepEqual(seen, ids);
    assert.equal(pages, 3);
  } finally {
    sb.world.settings.pageSize = 0;
  }

  const running = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: 'instance-state-name', Values: ['pending', 'running'] },
        { Name: 'tag-key', Values: ['batch'] },
      ],
    }),
  );
  assert.equal(running.Reservations?.[0].Instances?.length, 3);

  await rejects(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })), 'InvalidInstanceID.NotFound');
  await rejects(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-xyz'] })), 'InvalidInstanceID.Malformed');
  await rejects(ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })), 'InvalidInstanceID.NotFound');
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
});
