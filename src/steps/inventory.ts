/**
 * The stack is what carries its tag. This finds the stack's resources by the tag, whatever their
 * names, so that losing the stack file (or the names in it) loses nothing: `status` and `down`
 * still see everything, and `up` converges on what exists instead of building a second set.
 *
 *   regional resources: the Resource Groups Tagging API (GetResources with the stack tag), which
 *     covers ECS clusters, services and task definitions, EC2 instances and security groups, and
 *     CloudWatch Logs log groups;
 *   IAM (global): the stack's path, /ecs-cwlogs/<stack>/, listed with ListRoles and ListPolicies;
 *     names end with the region they serve (iamBaseNames).
 *
 * Names found this way only recognise what is the stack's: they stand in for a name the user did not
 * give only when they name a whole resource of that kind, never a part of one, and never override
 * what the user gave (cli/tagged-facts.ts reads them; core/resolve.ts decides).
 *
 * Where the Tagging API can't be used (no tag:GetResources permission), the names alone are used,
 * as before, and the run says so.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import type { SecurityGroup } from '@aws-sdk/client-ec2';
import type { AwsClients } from '../aws/clients.js';
import { STACK_TAG } from '../core/context.js';
import { awsErrorCode, hasAwsCode } from '../core/errors.js';
import type { Inventory } from '../engine/context.js';
import { sharedReads } from '../engine/run.js';

export interface TaggedResource {
  arn: string;
  tags: Record<string, string>;
}

/**
 * The resource types GetResources asks for: every type a step declares it is found by (its
 * `tagged`), handed over by the registry (src/steps/index.ts); none handed over, every type.
 */
let resourceTypes: readonly string[] = [];
export function useResourceTypes(types: readonly string[]): void {
  resourceTypes = types.length ? [...new Set([...types, RUN_LOCK_TYPE])] : [];
}

/**
 * The stack's lock in the account is an SSM parameter tagged with the stack (core/account-lock.ts):
 * the listing shows it while a run holds it, so a run with nothing to write reads the lock only
 * when it is listed (cli/run.ts).
 */
const RUN_LOCK_TYPE = 'ssm:parameter';

/**
 * Whether the run's Tagging API listing shows the parameter of that name; undefined without the
 * Tagging API. Its absence says nothing certain (the listing is eventually consistent).
 */
export async function parameterListed(ctx: { tagging: AwsClients['tagging']; stack: string; inventory?: Inventory }, name: string): Promise<boolean | undefined> {
  const listed = await taggedResources(ctx);
  return listed?.some((r) => r.arn.split(':')[2] === 'ssm' && resourceOf(r.arn) === `parameter${name}`);
}

/** The IAM path of a stack's roles, policies and instance profiles. */
export function iamPath(stack: string): string {
  return `/ecs-cwlogs/${stack}/`;
}

/** The base name of the task role that goes with a base name: <base>-task (named <base>-task-<region>). */
export function taskRoleBase(base: string): string {
  return `${base}-task`;
}

/** The IAM name of the stack's policy, role and profile in a region (IAM is global, the stack is not). */
export function iamNameIn(base: string, region: string): string {
  return `${base}-${region}`;
}

const cache = new WeakMap<object, Promise<TaggedResource[] | undefined>>();

/**
 * The run's inventory: the Tagging API read once, on first use, whichever client (a write-guarded
 * one included) asks after that. A failed read is tried again by the next asker.
 */
export function stackInventory(): Inventory {
  return sharedReads();
}

/** A read the run makes once, shared through its inventory; without one (a context made by hand), made each time. */
export function readOnce<T>(ctx: { inventory?: Inventory }, key: string, read: () => Promise<T>): Promise<T> {
  return ctx.inventory ? ctx.inventory.once(key, read) : read();
}

/**
 * Every resource of the region carrying this stack's tag; undefined when the Tagging API can't be
 * used. From the run's inventory where the context has one; otherwise read once per client.
 */
export function taggedResources(ctx: { tagging: AwsClients['tagging']; stack: string; inventory?: Inventory }): Promise<TaggedResource[] | undefined> {
  if (ctx.inventory) return ctx.inventory.once('tagged', () => readTagged(ctx));
  let p = cache.get(ctx.tagging);
  if (!p) {
    p = readTagged(ctx);
    cache.set(ctx.tagging, p);
    p.catch(() => cache.delete(ctx.tagging));
  }
  return p;
}

async function readTagged(ctx: { tagging: AwsClients['tagging']; stack: string }): Promise<TaggedResource[] | undefined> {
  const out: TaggedResource[] = [];
  let token: string | undefined;
  try {
    do {
      const res = await ctx.tagging.getResources({
        TagFilters: [{ Key: STACK_TAG, Values: [ctx.stack] }],
        ...(resourceTypes.length ? { ResourceTypeFilters: [...resourceTypes] } : {}),
        ResourcesPerPage: 100,
        ...(token ? { PaginationToken: token } : {}),
      });
      for (const r of res.ResourceTagMappingList ?? []) {
        if (r.ResourceARN) out.push({ arn: r.ResourceARN, tags: Object.fromEntries((r.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])) });
      }
      token = res.PaginationToken || undefined;
    } while (token);
  } catch (e) {
    if (hasAwsCode(e, 'AccessDeniedException', 'AccessDenied', 'UnknownOperationException', 'InvalidAction', 'UnrecognizedClientException') || awsErrorCode(e) === 'NotImplemented') return undefined;
    throw e;
  }
  return out;
}

/**
 * A resource's tags: from the run's Tagging API listing (read once per run) when the resource is
 * there, so a run reads no tags one by one; otherwise from the service itself (`read`). The Tagging
 * API is eventually consistent (a resource created moments ago, or tagged moments ago, is not listed
 * yet), so a resource missing from the listing is never taken for someone else's: its own tags are read.
 * Without the Tagging API (no tagging client, no permission), always `read`.
 */
export async function tagsOf(ctx: ListingCtx, arn: string, read: () => Promise<Record<string, string>>): Promise<Record<string, string>> {
  return (await listedTags(ctx, [arn])).get(arn) ?? read();
}

/** What reads tags from the run's listing: a run about to write reads them from the services instead. */
export type ListingCtx = { tagging?: AwsClients['tagging']; stack: string; inventory?: Inventory; tagsFromServices?: boolean };

/**
 * The tags the run's Tagging API listing shows for those ARNs; an ARN it does not list is left out,
 * and so is every ARN in a run about to write (ctx.tagsFromServices: the listing can still show the
 * stack's tags on a resource deleted and made again, untagged, by someone else).
 */
export async function listedTags(ctx: ListingCtx, arns: readonly string[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  if (!ctx.tagging || ctx.tagsFromServices || arns.length === 0) return out;
  const listed = await taggedResources({ tagging: ctx.tagging, stack: ctx.stack, inventory: ctx.inventory }).catch(() => undefined);
  const wanted = new Set(arns);
  for (const r of listed ?? []) if (wanted.has(r.arn)) out.set(r.arn, r.tags);
  return out;
}

/** The resource part of an ARN: "cluster/NAME", "service/CLUSTER/NAME", "log-group:NAME". */
function resourceOf(arn: string): string {
  return arn.split(':').slice(5).join(':');
}

export interface StackNames {
  clusters: string[];
  services: { cluster: string; name: string }[];
  taskFamilies: string[];
  logGroups: string[];
  /** Task definition revision ARNs (any status the Tagging API reports). */
  taskDefinitions: string[];
}

export function namesOf(resources: readonly TaggedResource[]): StackNames {
  const n: StackNames = { clusters: [], services: [], taskFamilies: [], logGroups: [], taskDefinitions: [] };
  const add = <T>(list: T[], x: T) => {
    if (!list.some((y) => JSON.stringify(y) === JSON.stringify(x))) list.push(x);
  };
  for (const r of resources) {
    const res = resourceOf(r.arn);
    const service = r.arn.split(':')[2];
    if (service === 'ecs' && res.startsWith('cluster/')) add(n.clusters, res.slice('cluster/'.length));
    else if (service === 'ecs' && res.startsWith('service/')) {
      const parts = res.split('/');
      // service/CLUSTER/NAME (long ARN format); the old format service/NAME has no cluster.
      if (parts.length === 3) add(n.services, { cluster: parts[1]!, name: parts[2]! });
    } else if (service === 'ecs' && res.startsWith('task-definition/')) {
      add(n.taskFamilies, res.slice('task-definition/'.length).split(':')[0]!);
      add(n.taskDefinitions, r.arn);
    } else if (service === 'logs' && res.startsWith('log-group:')) add(n.logGroups, res.slice('log-group:'.length).replace(/:\*$/, ''));
  }
  return n;
}

/**
 * The stack's IAM base names in this region: what its roles and policies at the stack's path were
 * named after. Each name is recognised for what it is before its base is taken from it, so that a
 * leftover part never passes for a base of its own:
 *
 *   the task role <base>-task-<region> trusts ecs-tasks.amazonaws.com: its base is <base>;
 *   the instance role <base>-<region> trusts ec2.amazonaws.com: its base is <base>;
 *   the policy <base>-<region> (a customer managed policy at the path): its base is <base>.
 *
 * A role whose trust policy was changed by hand is told by its name: "-task" last is a task role.
 * (A `down` killed between its two DeleteRole calls leaves the task role alone; read as a base of its
 * own it made the next runs look for ECSCloudWatchLogs-task-task-... and leave the policy behind.)
 */
export function iamBaseNames(ctx: { iam: AwsClients['iam']; stack: string; inventory?: Inventory }, region: string): Promise<string[]> {
  // Read once per run where the context has an inventory (tagged facts, then down's preview and delete).
  return readOnce(ctx, `iam:${region}`, () => readIamBaseNames(ctx, region));
}

async function readIamBaseNames(ctx: { iam: AwsClients['iam']; stack: string }, region: string): Promise<string[]> {
  const out = new Set<string>();
  const suffix = `-${region}`;
  const path = iamPath(ctx.stack);
  const ownName = (name: string | undefined, at: string | undefined) => (name?.endsWith(suffix) && at === path ? name.slice(0, -suffix.length) : undefined);
  let marker: string | undefined;
  do {
    const page = await ctx.iam.listRoles({ PathPrefix: path, Marker: marker });
    for (const r of page.Roles ?? []) {
      const name = ownName(r.RoleName, r.Path);
      if (!name) continue;
      const trusted = trustedServices(r.AssumeRolePolicyDocument);
      const isTaskRole = name.endsWith('-task') && (trusted.includes('ecs-tasks.amazonaws.com') || !trusted.includes('ec2.amazonaws.com'));
      out.add(isTaskRole ? name.slice(0, -'-task'.length) : name);
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  marker = undefined;
  do {
    const page: { Policies?: { PolicyName?: string; Path?: string }[]; IsTruncated?: boolean; Marker?: string } = await ctx.iam.listPolicies({ Scope: 'Local', PathPrefix: path, Marker: marker });
    for (const p of page.Policies ?? []) {
      const name = ownName(p.PolicyName, p.Path);
      if (name) out.add(name);
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return [...out];
}

/** The services a trust policy (IAM returns it URL-encoded) lets assume the role. */
function trustedServices(document: string | undefined): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(decodeURIComponent(document ?? ''));
  } catch {
    return [];
  }
  const statements = (doc as { Statement?: unknown })?.Statement;
  const list = Array.isArray(statements) ? statements : statements ? [statements] : [];
  return list.flatMap((st) => {
    const service = (st as { Principal?: { Service?: unknown } })?.Principal?.Service;
    return Array.isArray(service) ? service.map(String) : service ? [String(service)] : [];
  });
}

/**
 * The stack's Auto Scaling groups as the run found them at its start: read once per run where the
 * context has an inventory (the tagged facts and the retired-step check share it). A step that must
 * see a group change within the run (the group's own read, its teardown) calls taggedGroups.
 */
export function stackGroupsAtStart(ctx: { autoscaling: AwsClients['autoscaling']; stack: string; inventory?: Inventory }): Promise<AutoScalingGroup[]> {
  return readOnce(ctx, 'autoscaling:groups', () => taggedGroups(ctx));
}

/**
 * The security groups carrying the stack tag, with their rules, as the run found them at its start:
 * read once per run where the context has an inventory. The tagged facts take the stack's group name
 * from it, the VPC of a stack that has a group is that group's, and the security-group step's read is
 * answered by it when the group it looks for is there (a group's name is unique in its VPC, so a
 * tagged group of that name and VPC is the only one).
 */
export function stackSecurityGroupsAtStart(ctx: { ec2: AwsClients['ec2']; stack: string; inventory?: Inventory }): Promise<SecurityGroup[]> {
  const read = async () => {
    const out: SecurityGroup[] = [];
    let token: string | undefined;
    do {
      const res = await ctx.ec2.describeSecurityGroups({ Filters: [{ Name: `tag:${STACK_TAG}`, Values: [ctx.stack] }], NextToken: token });
      out.push(...(res.SecurityGroups ?? []));
      token = res.NextToken;
    } while (token);
    return out;
  };
  return readOnce(ctx, 'ec2:security-groups', read);
}

/** Every Auto Scaling group carrying the stack tag (the Tagging API does not cover Auto Scaling), page by page. */
export async function taggedGroups(ctx: { autoscaling: AwsClients['autoscaling']; stack: string }): Promise<AutoScalingGroup[]> {
  const out: AutoScalingGroup[] = [];
  let token: string | undefined;
  do {
    const res = await ctx.autoscaling.describeAutoScalingGroups({ Filters: [{ Name: `tag:${STACK_TAG}`, Values: [ctx.stack] }], NextToken: token });
    out.push(...(res.AutoScalingGroups ?? []));
    token = res.NextToken;
  } while (token);
  return out;
}

const seenInstances = new WeakMap<Inventory, Map<string, Map<string, string>>>();

/**
 * Container instances a plan's read described (the service's tasks' hosts, for its targets' check),
 * per cluster: EC2 instance id -> status. The latest plan's replace an earlier plan's.
 */
export function sawContainerInstances(ctx: { inventory?: Inventory }, cluster: string, byEc2: ReadonlyMap<string, string>): void {
  if (!ctx.inventory) return;
  let m = seenInstances.get(ctx.inventory);
  if (!m) seenInstances.set(ctx.inventory, (m = new Map()));
  m.set(cluster, new Map(byEc2));
}

/**
 * What the plan saw of the cluster's container instances (sawContainerInstances): a wait that starts
 * from the plan's read of the group (nothing written to it since) takes its first look from it.
 */
export function containerInstancesSeen(ctx: { inventory?: Inventory }, cluster: string): ReadonlyMap<string, string> | undefined {
  return ctx.inventory ? seenInstances.get(ctx.inventory)?.get(cluster) : undefined;
}
