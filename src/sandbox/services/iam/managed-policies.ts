/**
 * The AWS managed policies the sandbox's IAM knows (the ones ecs-cwlogs attaches), with their
 * documents as AWS publishes them: a data table, created in every new world by initState.
 */
import type { PolicyRecord } from './records.js';

/** The AWS managed policies the sandbox knows (the ones ecs-cwlogs attaches). */
export const AWS_MANAGED_POLICIES: Record<string, { path: string; description: string; document: object }> = {
  AmazonEC2ContainerServiceforEC2Role: {
    path: '/service-role/',
    description: 'Default policy for the Amazon EC2 Role for Amazon EC2 Container Service.',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [
            'ec2:DescribeTags',
            'ecs:CreateCluster',
            'ecs:DeregisterContainerInstance',
            'ecs:DiscoverPollEndpoint',
            'ecs:Poll',
            'ecs:RegisterContainerInstance',
            'ecs:StartTelemetrySession',
            'ecs:UpdateContainerInstancesState',
            'ecs:Submit*',
            'ecr:GetAuthorizationToken',
            'ecr:BatchCheckLayerAvailability',
            'ecr:GetDownloadUrlForLayer',
            'ecr:BatchGetImage',
            'logs:CreateLogStream',
            'logs:PutLogEvents',
          ],
          Resource: '*',
        },
        { Effect: 'Allow', Action: 'ecs:TagResource', Resource: '*' },
      ],
    },
  },
  CloudWatchAgentServerPolicy: {
    path: '/',
    description: 'Permissions required to use AmazonCloudWatchAgent on servers',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'CWACloudWatchServerPermissions',
          Effect: 'Allow',
          Action: [
            'cloudwatch:PutMetricData',
            'ec2:DescribeVolumes',
            'ec2:DescribeTags',
            'logs:PutLogEvents',
            'logs:PutRetentionPolicy',
            'logs:DescribeLogStreams',
            'logs:DescribeLogGroups',
            'logs:CreateLogStream',
            'logs:CreateLogGroup',
            'xray:PutTraceSegments',
            'xray:PutTelemetryRecords',
            'xray:GetSamplingRules',
            'xray:GetSamplingTargets',
            'xray:GetSamplingStatisticSummaries',
          ],
          Resource: '*',
        },
        {
          Sid: 'CWASSMServerPermissions',
          Effect: 'Allow',
          Action: ['ssm:GetParameter'],
          Resource: 'arn:aws:ssm:*:*:parameter/AmazonCloudWatch-*',
        },
      ],
    },
  },
  AmazonSSMManagedInstanceCore: {
    path: '/',
    description: 'The policy for Amazon EC2 Role to enable AWS Systems Manager service core functionality.',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [
            'ssm:DescribeAssociation',
            'ssm:GetDeployablePatchSnapshotForInstance',
            'ssm:GetDocument',
            'ssm:DescribeDocument',
            'ssm:GetManifest',
            'ssm:GetParameter',
            'ssm:GetParameters',
            'ssm:ListAssociations',
            'ssm:ListInstanceAssociations',
            'ssm:PutInventory',
            'ssm:PutComplianceItems',
            'ssm:PutConfigurePackageResult',
            'ssm:UpdateAssociationStatus',
            'ssm:UpdateInstanceAssociationStatus',
            'ssm:UpdateInstanceInformation',
          ],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: [
            'ssmmessages:CreateControlChannel',
            'ssmmessages:CreateDataChannel',
            'ssmmessages:OpenControlChannel',
            'ssmmessages:OpenDataChannel',
          ],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: [
            'ec2messages:AcknowledgeMessage',
            'ec2messages:DeleteMessage',
            'ec2messages:FailMessage',
            'ec2messages:GetEndpoint',
            'ec2messages:GetMessages',
            'ec2messages:SendReply',
          ],
          Resource: '*',
        },
      ],
    },
  },
  AmazonECSTaskExecutionRolePolicy: {
    path: '/service-role/',
    description: 'Provides access to other AWS service resources that are required to run Amazon ECS tasks',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [
            'ecr:GetAuthorizationToken',
            'ecr:BatchCheckLayerAvailability',
            'ecr:GetDownloadUrlForLayer',
            'ecr:BatchGetImage',
            'logs:CreateLogStream',
            'logs:PutLogEvents',
          ],
          Resource: '*',
        },
      ],
    },
  },
};

export function awsManagedPolicyArn(name: string): string {
  return `arn:aws:iam::aws:policy${AWS_MANAGED_POLICIES[name].path}${name}`;
}

/** When the AWS managed policies were "created": a fixed date, like AWS's own. */
const MANAGED_POLICY_DATE = Date.UTC(2015, 2, 19, 19, 42, 0);


/** Every managed policy, as IAM lists them in a new account. */
export function managedPolicies(): Record<string, PolicyRecord> {
  const policies: Record<string, PolicyRecord> = {};
  let n = 0;
  for (const [name, def] of Object.entries(AWS_MANAGED_POLICIES)) {
    n += 1;
    const arn = awsManagedPolicyArn(name);
    policies[arn] = {
      policyName: name,
      policyId: `ANPAJ${String(n).padStart(16, '0')}`,
      arn,
      path: def.path,
      description: def.description,
      createDate: MANAGED_POLICY_DATE,
      updateDate: MANAGED_POLICY_DATE,
      defaultVersionId: 'v1',
      versions: [{ versionId: 'v1', document: JSON.stringify(def.document, null, 4), createDate: MANAGED_POLICY_DATE }],
      nextVersion: 2,
      tags: {},
      awsManaged: true,
    };
  }
  return policies;
}
