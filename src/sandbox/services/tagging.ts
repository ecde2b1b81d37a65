/**
 * Resource Groups Tagging API (JSON 1.1, target prefix ResourceGroupsTaggingAPI_20170126, signing
 * name "tagging", regional): GetResources, GetTagKeys and GetTagValues over what the other modules
 * hold. Without a lag (settings.taggingLagMs 0: the none and fast profiles) every call reads the tags
 * where each service keeps them; with one (the realistic profile), it answers from the module's index
 * of past tags, as they were that long ago (tagging-index.ts: AWS's listing follows the services later).
 *
 * What it returns, following AWS's documentation of the API:
 *   - the resources of the request's region that have at least one tag (GetResources "does not return
 *     untagged resources"); with a lag, also those that had tags and lost them, with none ("returns
 *     all the tagged or previously tagged resources");
 *   - ECS clusters and services until they are deleted (INACTIVE), task definition revisions while they
 *     exist (ACTIVE, INACTIVE and DELETE_IN_PROGRESS: deregistering keeps the resource and its tags),
 *     container instances until deregistered, tasks until they are purged, capacity providers until
 *     INACTIVE (ecs:capacity-provider);
 *   - EC2 instances until terminated, VPCs, subnets, security groups, key pairs, volumes, launch
 *     templates (ec2:launch-template);
 *   - ELBv2 load balancers and target groups (elasticloadbalancing:loadbalancer, :targetgroup);
 *   - not Auto Scaling groups: AWS documents that GetResources, GetTagKeys and GetTagValues do not
 *     support them ("return an empty response for this service");
 *   - CloudWatch Logs groups as arn:aws:logs:REGION:ACCOUNT:log-group:NAME (no ":*");
 *   - ECR repositories;
 *   - SSM parameters (ssm:parameter), as arn:aws:ssm:REGION:ACCOUNT:parameter/NAME;
 *   - CloudWatch alarms (cloudwatch:alarm) and dashboards (cloudwatch:dashboard, global, answered in
 *     us-east-1 like IAM's), SNS topics (sns:topic): "The GetResources, GetTagKeys, and GetTagValues
 *     operations support all resource types" (Resource Groups Tagging API, supported services);
 *   - IAM customer managed policies and instance profiles, which are global and so answered in
 *     us-east-1 only. IAM roles (and users) are never returned: "The GetResources operation does not
 *     currently support IAM users and roles."
 * ResourceTypeFilters are "service" or "service:type", with the type as the ARN spells it
 * (ec2:instance, ecs:task-definition, logs:log-group, iam:instance-profile).
 */
import type {
  GetResourcesCommandInput,
  GetResourcesCommandOutput,
  GetTagKeysCommandInput,
  GetTagKeysCommandOutput,
  GetTagValuesCommandInput,
  GetTagValuesCommandOutput,
  ResourceTagMapping,
  TagFilter,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { ecsState, type EcsTag } from './ecs/state.js';
import { paginate } from '../paginate.js';
import { ServiceError, type Handler, type ServiceModule, type World } from '../types.js';
import type { Ec2State } from './ec2/index.js';
import type { EcrState } from './ecr.js';
import type { IamState } from './iam.js';
import type { LogsState } from './logs.js';
import type { CloudWatchState } from './cloudwatch.js';
import type { SnsState } from './sns.js';
import type { TagMap } from './util.js';
import type { Ec2View, Elbv2View } from '../views.js';
import { ELBV2_STATE } from './elbv2/state.js';
import { taggedParameters } from './ssm-parameters.js';
import { indexedResources, recordIndex, type Tagged } from './tagging-index.js';

/** Wire output: the SDK's output shape without the response metadata the SDK adds. */
type Output<T> = Omit<T, '$metadata'>;


const MAX_TAG_FILTERS = 50;
const MAX_FILTER_VALUES = 20;
const MAX_TYPE_FILTERS = 100;
const MAX_ARN_LIST = 100;
const DEFAULT_PAGE = 100;
/** The region where global (IAM) resources are reported. */
const GLOBAL_REGION = 'us-east-1';

function invalidParameter(message: string): ServiceError {
  return new ServiceError('InvalidParameterException', message);
}

function invalidToken(): ServiceError {
  return new ServiceError('PaginationTokenExpiredException', 'The pagination token is invalid or has expired. Start again without a PaginationToken.');
}

const fromEcs = (tags: EcsTag[]): TagMap => Object.fromEntries(tags.map((t) => [t.key, t.value]));

// ---- Collect ----------------------------------------------------------------------------------------

// Each collector answers the resources of a region, or of every region when none is given (the
// index's tick: tagging-index.ts), untagged ones included (taggedResources leaves them out).

function ecsResources(world: World, region?: string): Tagged[] {
  if (!world.state.ecs) return [];
  const ecs = ecsState(world);
  const inRegion = (arn: string) => region === undefined || arn.startsWith(`arn:aws:ecs:${region}:`);
  const out: Tagged[] = [];
  for (const c of Object.values(ecs.clusters)) if (c.status === 'ACTIVE' && inRegion(c.clusterArn)) out.push({ arn: c.clusterArn, tags: fromEcs(c.tags) });
  for (const s of Object.values(ecs.services)) if (s.status !== 'INACTIVE' && inRegion(s.serviceArn)) out.push({ arn: s.serviceArn, tags: fromEcs(s.tags) });
  for (const [key, fam] of Object.entries(ecs.taskDefinitions)) {
    if (region !== undefined && !key.startsWith(`${region}/`)) continue;
    for (const td of Object.values(fam.revisions)) out.push({ arn: td.taskDefinitionArn, tags: fromEcs(td.tags) });
  }
  for (const ci of Object.values(ecs.containerInstances)) {
    if (ci.status !== 'INACTIVE' && inRegion(ci.containerInstanceArn)) out.push({ arn: ci.containerInstanceArn, tags: fromEcs(ci.tags) });
  }
  for (const t of Object.values(ecs.tasks)) if (inRegion(t.taskArn)) out.push({ arn: t.taskArn, tags: fromEcs(t.tags) });
  for (const cp of Object.values(ecs.capacityProviders ?? {})) {
    if (cp.status === 'ACTIVE' && inRegion(cp.capacityProviderArn)) out.push({ arn: cp.capacityProviderArn, tags: fromEcs(cp.tags) });
  }
  return out;
}

function ec2Resources(world: World, region?: string): Tagged[] {
  const ec2 = world.state.ec2 as Ec2State | undefined;
  if (!ec2) return [];
  const account = world.settings.accountId;
  const out: Tagged[] = [];
  const add = (r: { region?: string; tags: TagMap }, type: string, id: string) => {
    if (r.region !== undefined && (region === undefined || r.region === region)) out.push({ arn: `arn:aws:ec2:${r.region}:${account}:${type}/${id}`, tags: r.tags });
  };
  for (const v of Object.values(ec2.vpcs)) add(v, 'vpc', v.vpcId);
  for (const s of Object.values(ec2.subnets)) add(s, 'subnet', s.subnetId);
  for (const g of Object.values(ec2.securityGroups)) add(g, 'security-group', g.groupId);
  for (const k of Object.values(ec2.keyPairs)) add(k, 'key-pair', k.keyPairId);
  for (const v of Object.values(ec2.volumes)) add(v, 'volume', v.volumeId);
  for (const i of Object.values(ec2.instances)) if (i.state !== 'terminated') add(i, 'instance', i.instanceId);
  // Launch templates, read through views.ts's Ec2View (the EC2 module owns them).
  for (const lt of Object.values((ec2 as Ec2View).launchTemplates ?? {})) add(lt, 'launch-template', lt.launchTemplateId);
  return out;
}

/** ELBv2 load balancers and target groups (views.ts's Elbv2View). */
function elbv2Resources(world: World, region?: string): Tagged[] {
  const elb = world.state[ELBV2_STATE] as Elbv2View | undefined;
  if (!elb) return [];
  return [...Object.values(elb.loadBalancers ?? {}), ...Object.values(elb.targetGroups ?? {})]
    .filter((r) => region === undefined || r.region === region)
    .map((r) => ({ arn: 'loadBalancerArn' in r ? r.loadBalancerArn : r.targetGroupArn, tags: r.tags }));
}

function logsResources(world: World, region?: string): Tagged[] {
  const logs = world.state.logs as LogsState | undefined;
  if (!logs) return [];
  return Object.values(logs.groups)
    .filter((g) => region === undefined || g.region === region)
    .map((g) => ({ arn: `arn:aws:logs:${g.region}:${world.settings.accountId}:log-group:${g.logGroupName}`, tags: g.tags }));
}

function ecrResources(world: World, region?: string): Tagged[] {
  const ecr = world.state.ecr as EcrState | undefined;
  if (!ecr) return [];
  return Object.values(ecr.repositories)
    .filter((r) => region === undefined || r.region === region)
    .map((r) => ({ arn: `arn:aws:ecr:${r.region}:${r.registryId}:repository/${r.repositoryName}`, tags: r.tags }));
}

function iamResources(world: World, region?: string): Tagged[] {
  const iam = world.state.iam as IamState | undefined;
  if (!iam || (region !== undefined && region !== GLOBAL_REGION)) return [];
  const out: Tagged[] = [];
  for (const p of Object.values(iam.policies)) if (!p.awsManaged) out.push({ arn: p.arn, tags: p.tags });
  for (const ip of Object.values(iam.instanceProfiles)) out.push({ arn: ip.arn, tags: ip.tags });
  return out;
}

/** CloudWatch alarms (regional) and dashboards (global: their ARN has no region; answered in us-east-1). */
function cloudwatchResources(world: World, region?: string): Tagged[] {
  const cw = world.state.monitoring as CloudWatchState | undefined;
  if (!cw) return [];
  const out: Tagged[] = Object.values(cw.alarms)
    .filter((a) => region === undefined || a.region === region)
    .map((a) => ({ arn: a.arn, tags: a.tags }));
  if (region === undefined || region === GLOBAL_REGION) for (const d of Object.values(cw.dashboards)) out.push({ arn: d.arn, tags: d.tags });
  return out;
}

function snsResources(world: World, region?: string): Tagged[] {
  const sns = world.state.sns as SnsState | undefined;
  if (!sns) return [];
  return Object.values(sns.topics)
    .filter((t) => region === undefined || t.region === region)
    .map((t) => ({ arn: t.arn, tags: t.tags }));
}

/** Every resource of the region (of every region when none is given), tagged or not. */
function allResources(world: World, region?: string): Tagged[] {
  return [ecsResources, ec2Resources, elbv2Resources, logsResources, ecrResources, iamResources, taggedParameters, cloudwatchResources, snsResources].flatMap((collect) =>
    collect(world, region),
  );
}

/** The region an ARN is answered in: its own, or us-east-1 for a global one (IAM, dashboards). */
const regionOfArn = (arn: string): string => arn.split(':')[3] || GLOBAL_REGION;

/**
 * What the listing shows in the region at `now`, in ARN order (stable pages): with a lag
 * (settings.taggingLagMs), the index's tags as of now - lag, a resource that lost its last tag
 * included with none ("previously tagged"); without, every resource tagged now.
 */
function taggedResources(world: World, region: string, now: number): Tagged[] {
  const listed = indexedResources(world, now, (arn) => regionOfArn(arn) === region) ?? allResources(world, region).filter((r) => Object.keys(r.tags).length > 0);
  return listed.sort((a, b) => (a.arn < b.arn ? -1 : a.arn > b.arn ? 1 : 0));
}

// ---- Filters ----------------------------------------------------------------------------------------

/** "arn:aws:ecs:r:a:task-definition/web:3" => { service: 'ecs', type: 'task-definition' } */
function arnType(arn: string): { service: string; type: string } {
  const parts = arn.split(':');
  const resource = parts.slice(5).join(':');
  // An SNS topic's ARN ends with the topic's name, without a type: its type is "topic" (sns:topic).
  if (parts[2] === 'sns') return { service: 'sns', type: 'topic' };
  return { service: parts[2] ?? '', type: resource.split(/[/:]/)[0] };
}

function readTypeFilters(value: unknown): { service: string; type?: string }[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalidParameter('ResourceTypeFilters must be a list of strings.');
  if (value.length > MAX_TYPE_FILTERS) {
    throw invalidParameter(`1 validation error detected: Value at 'resourceTypeFilters' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TYPE_FILTERS}`);
  }
  return (value as string[]).map((f) => {
    const m = /^([a-z0-9-]+)(?::([A-Za-z0-9-]+(?:\/[A-Za-z0-9-]+)*))?$/.exec(f);
    if (!m) throw invalidParameter(`Invalid resource type filter '${f}'. Use the form service[:resourceType], for example ec2:instance or ecs.`);
    return { service: m[1], type: m[2] };
  });
}

function readTagFilters(value: unknown): { key: string; values?: string[] }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidParameter('TagFilters must be a list.');
  if (value.length > MAX_TAG_FILTERS) {
    throw invalidParameter(`1 validation error detected: Value at 'tagFilters' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TAG_FILTERS}`);
  }
  return (value as TagFilter[]).map((f, i) => {
    const key = f?.Key;
    if (typeof key !== 'string' || key.length < 1 || key.length > 128) {
      throw invalidParameter(`1 validation error detected: Value at 'tagFilters.${i + 1}.member.key' failed to satisfy constraint: Member must have length between 1 and 128`);
    }
    const values = f.Values;
    if (values === undefined || values === null) return { key };
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) throw invalidParameter(`TagFilters[${i}].Values must be a list of strings.`);
    if (values.length > MAX_FILTER_VALUES) {
      throw invalidParameter(`1 validation error detected: Value at 'tagFilters.${i + 1}.member.values' failed to satisfy constraint: Member must have length less than or equal to ${MAX_FILTER_VALUES}`);
    }
    // An empty Values list matches like no Values: any resource with the key.
    return { key, values: values.length ? values : undefined };
  });
}

function optInteger(p: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ServiceError('SerializationException', `${name} must be an integer`);
  if (v < min || v > max) throw invalidParameter(`${name} must be between ${min} and ${max}.`);
  return v;
}

function optToken(p: Record<string, unknown>): string | undefined {
  const v = p.PaginationToken;
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ServiceError('SerializationException', 'PaginationToken must be a string');
  return v;
}

// ---- Handlers ---------------------------------------------------------------------------------------

const getResources: Handler = (req, world): Output<GetResourcesCommandOutput> => {
  const p = req.params as GetResourcesCommandInput & Record<string, unknown>;
  const tagFilters = readTagFilters(p.TagFilters);
  const typeFilters = readTypeFilters(p.ResourceTypeFilters);
  const perPage = optInteger(p, 'ResourcesPerPage', 1, 100);
  optInteger(p, 'TagsPerPage', 100, 500);
  const token = optToken(p);
  if (p.ExcludeCompliantResources === true && p.IncludeComplianceDetails !== true) {
    throw invalidParameter('ExcludeCompliantResources can be true only when IncludeComplianceDetails is true.');
  }

  let resources = taggedResources(world, req.region, req.now);
  if (p.ResourceARNList !== undefined && p.ResourceARNList !== null) {
    const arns = p.ResourceARNList;
    if (!Array.isArray(arns) || arns.length < 1 || arns.length > MAX_ARN_LIST || arns.some((a) => typeof a !== 'string')) {
      throw invalidParameter(`ResourceARNList must be a list of 1 to ${MAX_ARN_LIST} ARNs.`);
    }
    if (tagFilters.length || typeFilters || perPage !== undefined || p.TagsPerPage !== undefined || token) {
      throw invalidParameter('ResourceARNList cannot be used with TagFilters, ResourceTypeFilters, ResourcesPerPage, TagsPerPage or PaginationToken.');
    }
    const wanted = new Set(arns);
    resources = resources.filter((r) => wanted.has(r.arn));
  }
  if (typeFilters) {
    resources = resources.filter((r) => {
      const t = arnType(r.arn);
      return typeFilters.some((f) => f.service === t.service && (f.type === undefined || f.type === t.type));
    });
  }
  // Filters AND together; the values of one filter OR.
  resources = resources.filter((r) =>
    tagFilters.every((f) => f.key in r.tags && (f.values === undefined || f.values.includes(r.tags[f.key]))),
  );

  const page = paginate(resources, { maxResults: perPage, nextToken: token, defaultPageSize: DEFAULT_PAGE, settings: world.settings, invalidToken });
  const mappings: ResourceTagMapping[] = page.items.map((r) => ({
    ResourceARN: r.arn,
    Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
    ...(p.IncludeComplianceDetails === true
      ? { ComplianceDetails: { NoncompliantKeys: [], KeysWithNoncompliantValues: [], ComplianceStatus: true } }
      : {}),
  }));
  // When compliance details are asked with ExcludeCompliantResources, every resource is compliant
  // (the sandbox has no tag policies), so none is returned.
  const list = p.ExcludeCompliantResources === true ? [] : mappings;
  // AWS answers "" (not a missing member) when there is nothing more.
  return { PaginationToken: page.nextToken ?? '', ResourceTagMappingList: list };
};

const getTagKeys: Handler = (req, world): Output<GetTagKeysCommandOutput> => {
  const p = req.params as GetTagKeysCommandInput & Record<string, unknown>;
  const keys = [...new Set(taggedResources(world, req.region, req.now).flatMap((r) => Object.keys(r.tags)))].sort();
  const page = paginate(keys, { nextToken: optToken(p), defaultPageSize: 500, settings: world.settings, invalidToken });
  return { PaginationToken: page.nextToken ?? '', TagKeys: page.items };
};

const getTagValues: Handler = (req, world): Output<GetTagValuesCommandOutput> => {
  const p = req.params as GetTagValuesCommandInput & Record<string, unknown>;
  const key = p.Key;
  if (typeof key !== 'string' || key.length < 1 || key.length > 128) {
    throw invalidParameter("1 validation error detected: Value at 'key' failed to satisfy constraint: Member must have length between 1 and 128");
  }
  const values = [...new Set(taggedResources(world, req.region, req.now).filter((r) => key in r.tags).map((r) => r.tags[key]))].sort();
  const page = paginate(values, { nextToken: optToken(p), defaultPageSize: 500, settings: world.settings, invalidToken });
  return { PaginationToken: page.nextToken ?? '', TagValues: page.items };
};

export const tagging: ServiceModule = {
  name: 'tagging',
  protocol: 'json',
  targetPrefix: 'ResourceGroupsTaggingAPI_20170126',
  initState: () => ({}),
  // The index (tagging-index.ts) follows every change, at the moment the tick sees it.
  tick: (world, now) => recordIndex(world, now, () => allResources(world)),
  throttling: () => new ServiceError('ThrottledException', 'Rate exceeded'),
  operations: {
    GetResources: { mutating: false, handler: getResources },
    GetTagKeys: { mutating: false, handler: getTagKeys },
    GetTagValues: { mutating: false, handler: getTagValues },
  },
};
