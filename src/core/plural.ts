/** "1 task", "3 tasks", "1 address", "2 addresses": a count with its noun. */
export function plural(n: number, one: string, many = /(s|x|ch|sh)$/.test(one) ? `${one}es` : `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "1 instance", "3 instances": EC2 instances, counted. */
export function instances(n: number): string {
  return plural(n, 'instance');
}

/**
 * An Auto Scaling group's instances against its size. More in service than wanted is not a count
 * gone wrong: after a smaller --instances the extra instances stay InService, protected from
 * scale-in, until ECS has moved their tasks and cleared the protection; then the group ends them.
 * (AWS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-termination-protection.html;
 * docs/aws-behaviour.md, "More instances in service than wanted".)
 */
export function inServiceText(inService: number, wanted: number): string {
  if (inService === wanted) return `${instances(inService)} in service`;
  if (inService < wanted) return `${inService} of ${instances(wanted)} in service`;
  const extra = inService - wanted;
  return `${instances(inService)} in service, ${wanted} wanted: ${extra} to leave once ECS has moved ${extra === 1 ? 'its tasks' : 'their tasks'} (scale-in protection)`;
}
