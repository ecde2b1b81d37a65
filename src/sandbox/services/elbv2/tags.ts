/** ELBv2 tags: AddTags, RemoveTags, DescribeTags on load balancers, target groups and listeners. */
import type {
  AddTagsInput,
  AddTagsOutput,
  DescribeTagsInput,
  DescribeTagsOutput,
  RemoveTagsInput,
  RemoveTagsOutput,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AddTagsInput$, RemoveTagsInput$, DescribeTagsInput$ } from '@aws-sdk/client-elastic-load-balancing-v2';
import { queryDecoder } from '../../protocols/schema.js';
import { typedOperation } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import type { TagMap } from '../../views.js';
import { elbv2State, lbNotFound, listenerNotFound, tagList, tagMap, tgNotFound, validation } from './state.js';

function taggable(world: World, arn: string): { tags: TagMap } {
  const s = elbv2State(world);
  const m = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:(loadbalancer|targetgroup|listener)\//.exec(arn);
  if (!m) throw validation(`'${arn}' is not a valid ARN`);
  const r = m[1] === 'loadbalancer' ? s.loadBalancers[arn] : m[1] === 'targetgroup' ? s.targetGroups[arn] : s.listeners[arn];
  if (!r) throw m[1] === 'loadbalancer' ? lbNotFound() : m[1] === 'targetgroup' ? tgNotFound() : listenerNotFound();
  return r;
}

function arns(list: string[] | undefined): string[] {
  if (!list || list.length === 0) throw validation('Resource ARNs cannot be empty');
  if (list.length > 20) throw validation('You can specify up to 20 resource ARNs');
  return list;
}

const addTags = typedOperation<AddTagsInput, AddTagsOutput>({
  mutating: true,
  decode: queryDecoder(AddTagsInput$),
  handler: (input, { world }) => {
    const resources = arns(input.ResourceArns).map((a) => taggable(world, a));
    if (!input.Tags || input.Tags.length === 0) throw validation('Tags cannot be empty');
    const keys = input.Tags.map((t) => t.Key);
    if (new Set(keys).size !== keys.length) throw new ServiceError('DuplicateTagKeys', `Tag key '${keys.find((k, i) => keys.indexOf(k) !== i)}' is duplicated`);
    const added = tagMap(input.Tags);
    for (const r of resources) {
      const merged = { ...r.tags, ...added };
      if (Object.keys(merged).length > 50) throw new ServiceError('TooManyTags', 'Too many tags');
    }
    for (const r of resources) r.tags = { ...r.tags, ...added };
    return {};
  },
});

const removeTags = typedOperation<RemoveTagsInput, RemoveTagsOutput>({
  mutating: true,
  decode: queryDecoder(RemoveTagsInput$),
  handler: (input, { world }) => {
    const resources = arns(input.ResourceArns).map((a) => taggable(world, a));
    if (!input.TagKeys || input.TagKeys.length === 0) throw validation('Tag keys cannot be empty');
    for (const r of resources) r.tags = Object.fromEntries(Object.entries(r.tags).filter(([k]) => !input.TagKeys!.includes(k)));
    return {};
  },
});

const describeTags = typedOperation<DescribeTagsInput, DescribeTagsOutput>({
  mutating: false,
  decode: queryDecoder(DescribeTagsInput$),
  handler: (input, { world }) => ({
    TagDescriptions: arns(input.ResourceArns).map((a) => ({ ResourceArn: a, Tags: tagList(taggable(world, a).tags) })),
  }),
});

export const operations: Record<string, Operation> = {
  AddTags: addTags,
  RemoveTags: removeTags,
  DescribeTags: describeTags,
};
