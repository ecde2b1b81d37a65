/**
 * Auto Scaling group tags: CreateOrUpdateTags, DeleteTags, DescribeTags (filters auto-scaling-group,
 * key, value, propagate-at-launch), and the tag filters of DescribeAutoScalingGroups (tag:K, tag-key,
 * tag-value). Tags marked PropagateAtLaunch are set on the instances the group launches.
 */
import {
  CreateOrUpdateTagsType$,
  DeleteTagsType$,
  DescribeTagsType$,
  type CreateOrUpdateTagsType,
  type DeleteTagsType,
  type DescribeTagsType,
  type Tag,
  type TagDescription,
  type TagsType,
} from '@aws-sdk/client-auto-scaling';
import { paginate } from '../../paginate.js';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { queryDecoder } from '../ec2/codec.js';
import { asgState, findGroup, notDeleting, validation } from './model.js';
import { MAX_TAGS, checkTag } from './tag-rules.js';

function groupsOf(world: World, region: string, tags: Tag[]) {
  if (!tags.length) throw validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
  return tags.map((t) => {
    if (t.ResourceType && t.ResourceType !== 'auto-scaling-group') throw validation(`Invalid resourceType: ${t.ResourceType}. The only valid value is auto-scaling-group.`);
    return { tag: t, group: notDeleting(findGroup(world, region, t.ResourceId)) };
  });
}

function createOrUpdateTags(input: CreateOrUpdateTagsType, { world, region }: Call): void {
  const pairs = groupsOf(world, region, input.Tags ?? []);
  for (const { tag } of pairs) checkTag(tag);
  for (const { tag, group } of pairs) {
    if (!(tag.Key! in group.tags) && Object.keys(group.tags).length >= MAX_TAGS) {
      throw new ServiceError('LimitExceeded', `The number of tags cannot exceed ${MAX_TAGS}.`, 400);
    }
    group.tags[tag.Key!] = tag.Value ?? '';
    group.propagateAtLaunch[tag.Key!] = tag.PropagateAtLaunch ?? false;
  }
}

function deleteTags(input: DeleteTagsType, { world, region }: Call): void {
  for (const { tag, group } of groupsOf(world, region, input.Tags ?? [])) {
    if (!tag.Key) throw validation("1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null");
    delete group.tags[tag.Key];
    delete group.propagateAtLaunch[tag.Key];
  }
}

const DESCRIBE_FILTERS = ['auto-scaling-group', 'key', 'value', 'propagate-at-launch'];

function describeTags(input: DescribeTagsType, { world, region }: Call): TagsType {
  for (const f of input.Filters ?? []) {
    if (!f.Name || !DESCRIBE_FILTERS.includes(f.Name)) {
      throw validation(`Filter type ${f.Name} is not correct. Allowed Filter types are: auto-scaling-group key value propagate-at-launch`);
    }
  }
  const all: TagDescription[] = Object.values(asgState(world).groups)
    .filter((g) => g.region === region)
    .sort((a, b) => a.autoScalingGroupName.localeCompare(b.autoScalingGroupName))
    .flatMap((g) =>
      Object.keys(g.tags)
        .sort()
        .map((Key) => ({ ResourceId: g.autoScalingGroupName, ResourceType: 'auto-scaling-group', Key, Value: g.tags[Key], PropagateAtLaunch: g.propagateAtLaunch[Key] ?? false })),
    );
  const fields: Record<string, (t: TagDescription) => string> = {
    'auto-scaling-group': (t) => t.ResourceId!,
    key: (t) => t.Key!,
    value: (t) => t.Value ?? '',
    'propagate-at-launch': (t) => String(t.PropagateAtLaunch ?? false),
  };
  const selected = all.filter((t) => (input.Filters ?? []).every((f) => (f.Values ?? []).includes(fields[f.Name!]!(t))));
  const page = paginate(selected, {
    maxResults: input.MaxRecords,
    nextToken: input.NextToken,
    defaultPageSize: 50,
    settings: world.settings,
    invalidToken: () => new ServiceError('InvalidNextToken', 'The token provided is invalid.', 400),
  });
  return { Tags: page.items, NextToken: page.nextToken };
}

export const operations: Record<string, Operation> = {
  CreateOrUpdateTags: typedOperation<CreateOrUpdateTagsType, void>({ mutating: true, decode: queryDecoder(CreateOrUpdateTagsType$), handler: createOrUpdateTags }),
  DeleteTags: typedOperation<DeleteTagsType, void>({ mutating: true, decode: queryDecoder(DeleteTagsType$), handler: deleteTags }),
  DescribeTags: typedOperation<DescribeTagsType, TagsType>({ mutating: false, decode: queryDecoder(DescribeTagsType$), handler: describeTags }),
};

/**
 * The tag ECS sets on a group when a capacity provider is created over it (CreateCapacityProvider
 * with the group's ARN), propagated at launch: the instances the group launches afterwards carry it
 * (with an empty value, as on AWS), those launched before do not, and ECS does not take those for the
 * provider's. Sources: the ECS developer guide, "Amazon ECS capacity providers for EC2 workloads"
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/asg-capacity-providers.html: create the
 * group empty, create the provider and attach it, then scale out), aws/containers-roadmap#653 (the
 * tag is the capacity provider's), hashicorp/terraform-provider-aws#12582 (instances launched before
 * the association lack it). Called by services/ecs/capacity-providers.ts: the one write ECS makes
 * into the Auto Scaling module's state, through this function.
 */
export const ECS_MANAGED_TAG = 'AmazonECSManaged';

export function markEcsManaged(world: World, groupArn: string): void {
  const g = Object.values(asgState(world).groups).find((x) => x.autoScalingGroupArn === groupArn);
  if (!g) return;
  g.tags ??= {};
  g.propagateAtLaunch ??= {};
  if (g.tags[ECS_MANAGED_TAG] !== undefined) return;
  g.tags[ECS_MANAGED_TAG] = '';
  g.propagateAtLaunch[ECS_MANAGED_TAG] = true;
}
