import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CreateSecurityGroupCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DeregisterTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateInstanceProfileCommand, CreatePolicyCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  GetResourcesCommand,
  GetTagKeysCommand,
  GetTagValuesCommand,
  ResourceGroupsTaggingAPIClient,
  paginateGetResources,
  type GetResourcesCommandInput,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { clientConfig, rejects, taskDefinitionInput, withSandbox } from './support.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';

const ACCOUNT = '123456789012';
const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
const STACK = [{ key: 'ecs-cwlogs:stack', value: 'lab' }];

/** A sandbox with a tagged stack in us-east-1 (and one resource of another stack). */
async function withStack(fn: (sb: RunningSandbox, tagging: ResourceGroupsTaggingAPIClient) => Promise<void>): Promise<void> {
  await withSandbox({}, async (sb) => {
    const cfg = clientConfig(sb, { maxAttempts: 1 });
    const ecs = new ECSClient(cfg);
    const ec2 = new EC2Client(cfg);
    const logs = new CloudWatchLogsClient(cfg);
    const iam = new IAMClient(cfg);
    const tagging = new ResourceGroupsTaggingAPIClient(cfg);
    try {
      await ecs.send(new CreateClusterCommand({ clusterName: 'lab', tags: STACK }));
      await ecs.send(new CreateClusterCommand({ clusterName: 'other', tags: [{ key: 'ecs-cwlogs:stack', value: 'other' }] }));
      await ecs.send(new CreateClusterCommand({ clusterName: 'untagged' }));
      await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('lab-web', { tags: [...STACK, { key: 'role', value: 'web' }] })));
      await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('lab-web', { tags: STACK })));
      await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'lab-web:1' }));
      await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: 'lab-sg',
          Description: 'lab',
          TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'ecs-cwlogs:stack', Value: 'lab' }] }],
        }),
      );
      await logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/lab', tags: { 'ecs-cwlogs:stack': 'lab' } }));
      const iamTags = [{ Key: 'ecs-cwlogs:stack', Value: 'lab' }];
      await iam.send(new CreateRoleCommand({ RoleName: 'lab-role', AssumeRolePolicyDocument: TRUST, Tags: iamTags }));
      await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'lab-profile', Path: '/ecs-cwlogs/', Tags: iamTags }));
      await iam.send(
        new CreatePolicyCommand({
          PolicyName: 'lab-policy',
          PolicyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}',
          Tags: iamTags,
        }),
      );
      await fn(sb, tagging);
    } finally {
      for (const c of [ecs, ec2, logs, iam, tagging]) c.destroy();
    }
  });
}

async function arns(tagging: ResourceGroupsTaggingAPIClient, input: GetResourcesCommandInput): Promise<string[]> {
  const out = await tagging.send(new GetResourcesCommand(input));
  assert.equal(out.PaginationToken, '', 'a complete answer has PaginationToken ""');
  return (out.ResourceTagMappingList ?? []).map((m) => m.ResourceARN!);
}

test('GetResources: tag filters AND, values OR; INACTIVE task definitions kept; IAM roles never returned', async () => {
  await withStack(async (_sb, tagging) => {
    const lab = await arns(tagging, { TagFilters: [{ Key: 'ecs-cwlogs:stack', Values: ['lab'] }] });
    assert.deepEqual(lab, [
      `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/${lab.find((a) => a.includes('security-group/'))!.split('/')[1]}`,
      `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/lab`,
      `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/lab-web:1`,
      `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/lab-web:2`,
      `arn:aws:iam::${ACCOUNT}:instance-profile/ecs-cwlogs/lab-profile`,
      `arn:aws:iam::${ACCOUNT}:policy/lab-policy`,
      `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/ecs/lab`,
    ]);
    assert.ok(!lab.some((a) => a.includes(':role/')), 'GetResources does not support IAM roles');

    // Values OR within one filter; several filters AND.
    const both = await arns(tagging, { TagFilters: [{ Key: 'ecs-cwlogs:stack', Values: ['lab', 'other'] }], ResourceTypeFilters: ['ecs:cluster'] });
    assert.deepEqual(both, [`arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/lab`, `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/other`]);
    const web = await arns(tagging, { TagFilters: [{ Key: 'ecs-cwlogs:stack', Values: ['lab'] }, { Key: 'role' }] });
    assert.deepEqual(web, [`arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/lab-web:1`]);
    // A key without values matches any value; an untagged cluster is never returned.
    const anyStack = await arns(tagging, { TagFilters: [{ Key: 'ecs-cwlogs:stack' }], ResourceTypeFilters: ['ecs'] });
    assert.equal(anyStack.length, 4);
    assert.ok(!anyStack.some((a) => a.endsWith('/untagged')));

    // Type filters: service:type and service alone.
    assert.deepEqual(await arns(tagging, { ResourceTypeFilters: ['logs:log-group', 'iam:instance-profile'] }), [
      `arn:aws:iam::${ACCOUNT}:instance-profile/ecs-cwlogs/lab-profile`,
      `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/ecs/lab`,
    ]);
    assert.equal((await arns(tagging, { ResourceTypeFilters: ['ecs:task-definition'] })).length, 2);
    assert.equal((await arns(tagging, { ResourceTypeFilters: ['ec2:instance'] })).length, 0);

    // Tags come back whole.
    const td = await tagging.send(new GetResourcesCommand({ ResourceARNList: [`arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/lab-web:1`] }));
    assert.deepEqual(td.ResourceTagMappingList?.[0].Tags, [
      { Key: 'ecs-cwlogs:stack', Value: 'lab' },
      { Key: 'role', Value: 'web' },
    ]);
  });
});

test('GetResources: regional, and a deleted cluster is gone', async () => {
  await withStack(async (sb, tagging) => {
    const west = new ResourceGroupsTaggingAPIClient(clientConfig(sb, { region: 'eu-west-1', maxAttempts: 1 }));
    try {
      // IAM is global and reported in us-east-1 only; nothing else exists in eu-west-1.
      assert.deepEqual((await west.send(new GetResourcesCommand({}))).ResourceTagMappingList, []);
    } finally {
      west.destroy();
    }
    const ecs = new ECSClient(clientConfig(sb, { maxAttempts: 1 }));
    try {
      await ecs.send(new DeleteClusterCommand({ cluster: 'other' }));
    } finally {
      ecs.destroy();
    }
    assert.deepEqual(await arns(tagging, { ResourceTypeFilters: ['ecs:cluster'] }), [`arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/lab`]);
  });
});

test('GetResources paginates with ResourcesPerPage and with the sandbox page size 1', async () => {
  await withStack(async (sb, tagging) => {
    const all = await arns(tagging, {});
    // The stack's 7 and the 'other' cluster, plus the built-in VPC and subnet tagged Name=sandbox-other*.
    assert.equal(all.length, 10);
    assert.ok(all.some((a) => a.includes(':vpc/')) && all.some((a) => a.includes(':subnet/')));

    const first = await tagging.send(new GetResourcesCommand({ ResourcesPerPage: 3 }));
    assert.equal(first.ResourceTagMappingList?.length, 3);
    assert.notEqual(first.PaginationToken, '');

    sb.world.settings.pageSize = 1;
    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateGetResources({ client: tagging }, {})) {
      pages += 1;
      assert.ok((page.ResourceTagMappingList?.length ?? 0) <= 1);
      seen.push(...(page.ResourceTagMappingList ?? []).map((m) => m.ResourceARN!));
    }
    assert.equal(pages, all.length);
    assert.deepEqual(seen, all);
  });
});

test('GetResources errors: out-of-range page sizes, ResourceARNList with filters, bad tokens', async () => {
  await withStack(async (_sb, tagging) => {
    await rejects(tagging.send(new GetResourcesCommand({ ResourcesPerPage: 0 })), 'InvalidParameterException');
    await rejects(tagging.send(new GetResourcesCommand({ ResourcesPerPage: 101 })), 'InvalidParameterException');
    await rejects(tagging.send(new GetResourcesCommand({ TagsPerPage: 50 })), 'InvalidParameterException');
    await rejects(
      tagging.send(new GetResourcesCommand({ ResourceARNList: ['arn:aws:ecs:us-east-1:123456789012:cluster/lab'], ResourceTypeFilters: ['ecs'] })),
      'InvalidParameterException',
    );
    await rejects(tagging.send(new GetResourcesCommand({ TagFilters: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}` })) })), 'InvalidParameterException');
    await rejects(tagging.send(new GetResourcesCommand({ PaginationToken: 'not-a-token' })), 'PaginationTokenExpiredException');
    await rejects(tagging.send(new GetResourcesCommand({ ResourceTypeFilters: ['not a type'] })), 'InvalidParameterException');
  });
});

test('GetTagKeys and GetTagValues', async () => {
  await withStack(async (_sb, tagging) => {
    const keys = await tagging.send(new GetTagKeysCommand({}));
    assert.deepEqual(keys.TagKeys, ['Name', 'ecs-cwlogs:stack', 'role']);
    const values = await tagging.send(new GetTagValuesCommand({ Key: 'ecs-cwlogs:stack' }));
    assert.deepEqual(values.TagValues, ['lab', 'other']);
    assert.equal(values.PaginationToken, '');
  });
});

test('throttled calls fail with the ThrottledException the Tagging API models', async () => {
  await withSandbox({ throttleRate: 1 }, async (sb) => {
    const tagging = new ResourceGroupsTaggingAPIClient(clientConfig(sb, { maxAttempts: 1 }));
    try {
      await rejects(tagging.send(new GetResourcesCommand({})), 'ThrottledException', /Rate exceeded/);
    } finally {
      tagging.destroy();
    }
  });
});

test('GetResources: ELBv2 load balancers and target groups, ECS capacity providers, EC2 launch templates', async () => {
  await withSandbox({}, async (sb) => {
    const cfg = clientConfig(sb, { maxAttempts: 1 });
    const { DescribeSubnetsCommand } = await import('@aws-sdk/client-ec2');
    const { ElasticLoadBalancingV2 } = await import('@aws-sdk/client-elastic-load-balancing-v2');
    const { ECS } = await import('@aws-sdk/client-ecs');
    const ec2 = new EC2Client(cfg);
    const elb = new ElasticLoadBalancingV2(cfg);
    const ecs = new ECS(cfg);
    const tagging = new ResourceGroupsTaggingAPIClient(cfg);
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets!;
    const tags = [{ Key: 'ecs-cwlogs:stack', Value: 'lab' }];
    const lb = (await elb.createLoadBalancer({ Name: 'lab', Subnets: subnets.slice(0, 2).map((s) => s.SubnetId!), Tags: tags })).LoadBalancers![0];
    const tg = (await elb.createTargetGroup({ Name: 'lab', Protocol: 'HTTP', Port: 80, VpcId: subnets[0].VpcId!, Tags: tags })).TargetGroups![0];
    await elb.createTargetGroup({ Name: 'untagged', Protocol: 'HTTP', Port: 80, VpcId: subnets[0].VpcId! });
    sb.world.state.autoscaling = {
      groups: {
        'us-east-1/lab': {
          autoScalingGroupName: 'lab',
          autoScalingGroupArn: 'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:11111111-2222-4333-8444-555555555555:autoScalingGroupName/lab',
          region: 'us-east-1', minSize: 0, maxSize: 0, desiredCapacity: 0, newInstancesProtectedFromScaleIn: false, instances: [], tags: { 'ecs-cwlogs:stack': 'lab' },
        },
      },
    };
    const cp = (await ecs.createCapacityProvider({ name: 'lab', autoScalingGroupProvider: { autoScalingGroupArn: 'lab' }, tags: STACK })).capacityProvider!;
    // Launch templates belong to the EC2 module; seeded here as views.ts's LaunchTemplateView.
    sb.world.state.ec2.launchTemplates ??= {};
    sb.world.state.ec2.launchTemplates['lt-0123456789abcdef0'] = {
      launchTemplateId: 'lt-0123456789abcdef0', launchTemplateName: 'lab', region: 'us-east-1', defaultVersion: 1, latestVersion: 1, tags: { 'ecs-cwlogs:stack': 'lab' },
    };
    try {
      const found = await arns(tagging, { TagFilters: [{ Key: 'ecs-cwlogs:stack', Values: ['lab'] }] });
      assert.deepEqual(found, [
        `arn:aws:ec2:us-east-1:${ACCOUNT}:launch-template/lt-0123456789abcdef0`,
        cp.capacityProviderArn!,
        lb.LoadBalancerArn!,
        tg.TargetGroupArn!,
      ].sort());
      assert.ok(!found.some((a) => a.includes(':autoscaling:')), 'Auto Scaling groups are not returned by GetResources');
      assert.deepEqual(await arns(tagging, { ResourceTypeFilters: ['elasticloadbalancing:targetgroup'] }), [tg.TargetGroupArn]);
      assert.deepEqual(await arns(tagging, { ResourceTypeFilters: ['ecs:capacity-provider'] }), [cp.capacityProviderArn]);
    } finally {
      for (const c of [ec2, elb, ecs, tagging]) c.destroy();
    }
  });
});
