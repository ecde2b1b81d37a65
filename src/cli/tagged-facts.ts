/**
 * What the stack's tagged resources show, read once per run before the settings are resolved: one
 * input of core/resolve.ts's resolveSettings, which alone decides what stands in for a setting the
 * user did not give. This file reads facts and decides nothing; only what is still to be decided is
 * looked up (a setting given by flag, environment or the stack file costs no call).
 *
 * Where the Tagging API can't be used (no tag:GetResources permission), the names alone are used,
 * as before, and the run says so.
 */
import type { AwsClients } from '../aws/clients.js';
import type { Inventory } from '../engine/context.js';
import { awsErrorCode, hasAwsCode } from '../core/errors.js';
import { onlyOne, type TaggedFacts } from '../core/resolve.js';
import type { SettingKey, StackConfig } from '../core/settings.js';
import { SETTINGS } from '../core/settings.js';
import { latestTaskDefinition } from '../steps/task.js';
import { iamBaseNames, namesOf, stackGroupsAtStart, stackSecurityGroupsAtStart, taggedResources } from '../steps/inventory.js';

/** The logging container's name in templates/task-definition.json. */
export const LOGGING_CONTAINER = 'cloudwatchlogs';

export interface TaggedLookup {
  aws: AwsClients;
  stack: string;
  region: string;
  /** What the user gave (flag, environment, saved): core/resolve.ts givenSettings. */
  given: { values: Partial<StackConfig>; sources: Partial<Record<SettingKey, unknown>> };
  /** The run's inventory (the Tagging API read once per run). */
  inventory?: Inventory;
}

/** The settings the tags can stand in for, when the user gave none of them. */
const NAMES: SettingKey[] = ['clusterName', 'serviceName', 'taskFamily', 'logGroup', 'securityGroupName', 'iamName', 'instances', 'loadBalancer'];

export async function readTaggedFacts({ aws, stack, region, given, inventory }: TaggedLookup): Promise<TaggedFacts> {
  const notGiven = (k: SettingKey) => given.sources[k] === undefined;
  const facts: TaggedFacts = {};
  if (!NAMES.some(notGiven)) return facts;
  const tagged = await taggedResources({ tagging: aws.tagging, stack, inventory });
  if (notGiven('instances') || notGiven('loadBalancer')) {
    const groups = await stackGroups(aws, stack, inventory);
    if (groups.length === 1) {
      facts.group = { size: groups[0]!.MaxSize ?? 1, loadBalancer: Boolean(tagged?.some((t) => /:loadbalancer\/app\//.test(t.arn))) };
    }
  }
  if (tagged) {
    const n = namesOf(tagged);
    Object.assign(facts, { clusters: n.clusters, services: n.services, taskFamilies: n.taskFamilies, logGroups: n.logGroups });
  }
  if (notGiven('securityGroupName')) {
    const groups = await stackSecurityGroupsAtStart({ ec2: aws.ec2, stack, inventory });
    // The load balancer's own group (<name>-alb) is not the instances'.
    const names = [...new Set(groups.map((g) => g.GroupName ?? ''))].filter(Boolean);
    // (A run killed between the two leaves only the ALB's: its base is the instances' name.)
    facts.securityGroupNames = [...new Set(names.map((n) => n.replace(/-alb$/, '')))];
  }
  if (notGiven('iamName')) facts.iamNames = await iamBaseNames({ iam: aws.iam, stack, inventory }, region);
  // Neither --image nor --repo given: the image the family's task definition runs (the family the
  // resolution will use: the one given, or the stack's only one, or the default).
  if (notGiven(SETTINGS.image.key) && notGiven('imageRepo')) {
    const family = given.values.taskFamily ?? onlyOne(facts.taskFamilies) ?? SETTINGS.taskFamily.default!;
    const image = await runningImage(aws, family, stack, inventory);
    if (image) facts.images = { [family]: image };
  }
  return facts;
}

/** The logging container's image in the family's latest ACTIVE revision, when that revision is the stack's. */
async function runningImage(aws: Pick<AwsClients, 'ecs'>, family: string, stack: string, inventory: Inventory | undefined): Promise<string | undefined> {
  const latest = await latestTaskDefinition({ ecs: aws.ecs, stack, inventory }, family);
  if (!latest?.owned || latest.definition.status !== 'ACTIVE') return undefined;
  return latest.definition.containerDefinitions?.find((c) => c.name === LOGGING_CONTAINER)?.image;
}

/** The Auto Scaling groups carrying the stack tag (none where the endpoint has no Auto Scaling). */
async function stackGroups(aws: Pick<AwsClients, 'autoscaling'>, stack: string, inventory: Inventory | undefined) {
  try {
    return (await stackGroupsAtStart({ autoscaling: aws.autoscaling, stack, inventory })).filter((g) => g.Status !== 'Delete in progress');
  } catch (e) {
    if (hasAwsCode(e, 'AccessDenied', 'AccessDeniedException', 'InvalidAction', 'UnknownOperationException') || awsErrorCode(e) === 'NotImplemented') return [];
    throw e;
  }
}
