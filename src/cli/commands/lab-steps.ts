/**
 * The `iam`, `log-group`, `security-group`, `instance` and `launch-template` subcommands (lab steps 2-6):
 * one step each, through the engine.
 */
import { stepCommand } from './steps.js';

export const iamCommand = () =>
  stepCommand({
    name: 'iam',
    summary: "Create the IAM roles: the container instance's (the ECS agent's managed policy only) and the logging task's (logs on the stack's group only), lab steps 2-3",
    settings: ['iamName', 'logGroup'],
    examples: [
      'ecs-cwlogs iam',
      'ecs-cwlogs iam --iam-name logs-demo --log-group /ecs/logs-demo --dry-run',
      'ecs-cwlogs iam --delete --yes',
    ],
  });

export const logGroupCommand = () =>
  stepCommand({
    name: 'log-group',
    summary: 'Create the CloudWatch Logs log group with a retention period (an existing one only with --adopt)',
    settings: ['logGroup', 'retentionDays'],
    examples: [
      'ecs-cwlogs log-group',
      'ecs-cwlogs log-group --log-group ecs --retention-days 90',
      'ecs-cwlogs log-group --log-group existing-group --adopt',
      'ecs-cwlogs log-group --delete --delete-logs --yes',
    ],
  }).option('--delete-logs', 'with --delete: delete the log group and every log in it (kept otherwise)');

export const securityGroupCommand = () =>
  stepCommand({
    name: 'security-group',
    summary: "Create the instances' security group (lab step 4): HTTP from --allow-cidr (your IP by default), SSH too with a key pair; behind a load balancer, the tasks' host ports from its security group only",
    settings: ['securityGroupName', 'allowCidr', 'vpcId', 'subnetId', 'keyName', 'instances', 'loadBalancer'],
    examples: [
      'ecs-cwlogs security-group',
      'ecs-cwlogs security-group --allow-cidr 203.0.113.7/32 --key-name my-key',
      'ecs-cwlogs security-group --security-group-name existing-sg --adopt',
      'ecs-cwlogs security-group --delete --yes',
    ],
  });

export const instanceCommand = () =>
  stepCommand({
    name: 'instance',
    summary: 'Launch the ECS container instance in the security group, then wait until it joins the cluster (lab steps 5-6)',
    settings: ['instanceType', 'keyName', 'vpcId', 'subnetId', 'clusterName', 'iamName'],
    examples: [
      'ecs-cwlogs instance',
      'ecs-cwlogs instance --instance-type t4g.small --key-name my-key',
      'ecs-cwlogs instance --vpc vpc-0a1b2c3d4e5f60718 --subnet subnet-0a1b2c3d4e5f60718 --allow-cidr 203.0.113.7/32',
      'ecs-cwlogs instance --replace-instance          # a new instance on the newest AMI, then the old one terminated',
      'ecs-cwlogs instance --delete --yes',
    ],
  }).option('--replace-instance', 'replace the instance where only a new one can change things (a newer AMI, another type, subnet or key pair): launch the new one, then terminate the old');

export const launchTemplateCommand = () =>
  stepCommand({
    name: 'launch-template',
    summary: "Create the launch template every instance of the Auto Scaling group starts from: the ECS-optimized AMI, the instance profile, the security group, IMDSv2, an encrypted gp3 volume; a change is a new default version",
    settings: ['instanceType', 'keyName', 'clusterName', 'iamName', 'securityGroupName', 'instances', 'loadBalancer'],
    examples: [
      'ecs-cwlogs launch-template --instances 2',
      'ecs-cwlogs launch-template --instance-type t4g.small --dry-run',
      'ecs-cwlogs launch-template --replace-instance   # a new default version on the newest AMI',
      'ecs-cwlogs launch-template --delete --yes',
    ],
  }).option('--replace-instance', 'move the template to the newest recommended AMI (a new default version; instances keep theirs until replaced)');
