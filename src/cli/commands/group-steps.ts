/**
 * The group topology's steps as subcommands: `target-group`, `load-balancer`, `auto-scaling-group`,
 * `capacity-provider`. One step each, through the engine, like the lab's own steps; each runs only
 * in a stack configured as a group (--instances N, --load-balancer), or with --delete.
 */
import { stepCommand } from './steps.js';

export const targetGroupCommand = () =>
  stepCommand({
    name: 'target-group',
    summary: "Create the ALB's target group: instance targets on the tasks' dynamic host ports, health check on / (with --load-balancer)",
    settings: ['clusterName', 'vpcId', 'instances', 'loadBalancer'],
    examples: ['ecs-cwlogs target-group --load-balancer', 'ecs-cwlogs target-group --dry-run', 'ecs-cwlogs target-group --delete --yes'],
  });

export const loadBalancerCommand = () =>
  stepCommand({
    name: 'load-balancer',
    summary: 'Create the Application Load Balancer: its security group (HTTP from --allow-cidr only), the ALB across zones, the HTTP 80 listener',
    settings: ['clusterName', 'securityGroupName', 'allowCidr', 'vpcId', 'instanceType', 'instances', 'loadBalancer'],
    examples: ['ecs-cwlogs load-balancer --load-balancer', 'ecs-cwlogs load-balancer --allow-cidr 203.0.113.7/32 --dry-run', 'ecs-cwlogs load-balancer --delete --yes'],
  });

export const autoScalingGroupCommand = () =>
  stepCommand({
    name: 'auto-scaling-group',
    summary: 'Create or resize the Auto Scaling group (min = max = desired = --instances, a public subnet per zone) and wait until its instances join the cluster',
    settings: ['clusterName', 'instanceType', 'vpcId', 'instances', 'loadBalancer'],
    examples: ['ecs-cwlogs auto-scaling-group --instances 3', 'ecs-cwlogs auto-scaling-group --instances 2 --dry-run', 'ecs-cwlogs auto-scaling-group --delete --yes'],
  });

export const capacityProviderCommand = () =>
  stepCommand({
    name: 'capacity-provider',
    summary: "Create the ECS capacity provider over the group (managed scaling and termination protection) and make it the cluster's default",
    settings: ['clusterName', 'instances', 'loadBalancer'],
    examples: ['ecs-cwlogs capacity-provider', 'ecs-cwlogs capacity-provider --dry-run', 'ecs-cwlogs capacity-provider --delete --yes'],
  });
