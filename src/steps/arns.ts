/**
 * ARNs the steps build from names (IAM and Logs ARNs are predictable), in the caller's partition.
 */

/** "aws", "aws-cn", "aws-us-gov": from the caller's ARN (STS), "aws" when unknown. */
export function partitionOf(callerArn: string | undefined): string {
  const p = callerArn?.split(':')[1];
  return p && /^aws(-[a-z-]+)?$/.test(p) ? p : 'aws';
}

export function logGroupArn(partition: string, region: string, account: string, logGroup: string): string {
  return `arn:${partition}:logs:${region}:${account}:log-group:${logGroup}`;
}

export function iamPolicyArn(partition: string, account: string, name: string): string {
  return `arn:${partition}:iam::${account}:policy/${name}`;
}

/** The AWS-managed policy the ECS container agent needs on a container instance. */
export function ecsInstancePolicyArn(partition: string): string {
  return `arn:${partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role`;
}
