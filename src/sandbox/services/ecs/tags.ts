/** ECS TagResource, UntagResource, ListTagsForResource. */
import type {
  ListTagsForResourceRequest,
  ListTagsForResourceResponse,
  TagResourceRequest,
  TagResourceResponse,
  UntagResourceRequest,
  UntagResourceResponse,
} from '@aws-sdk/client-ecs';
import { jsonBody, typedOperation } from '../../typed.js';
import type { Operation } from '../../types.js';
import { ServiceError, type World } from '../../types.js';
import { type EcsTag, ecsState, findTaskDefinition, invalidParameter, mergeTags, optStringList, parseEcsArn, readTags, reqString, serviceNotFound } from './state.js';

/** The tag list of the resource an ARN names, or the error ECS gives. */
function taggable(world: World, arn: string): { tags: EcsTag[]; set(tags: EcsTag[]): void } {
  const parsed = parseEcsArn(arn);
  if (!parsed) throw invalidParameter('The ARN provided is invalid.');
  const ecs = ecsState(world);
  const wrap = (r: { tags: EcsTag[] }) => ({ tags: r.tags, set: (tags: EcsTag[]) => (r.tags = tags) });
  switch (parsed.type) {
    case 'cluster': {
      const c = ecs.clusters[arn];
      if (!c || c.status !== 'ACTIVE') throw new ServiceError('ClusterNotFoundException', 'Cluster not found.');
      return wrap(c);
    }
    case 'service': {
      const s = ecs.services[arn];
      if (!s || s.status === 'INACTIVE') throw serviceNotFound();
      return wrap(s);
    }
    case 'task-definition': {
      const td = /:\d+$/.test(parsed.id) ? findTaskDefinition(world, parsed.region, arn) : undefined;
      if (!td || td.status === 'DELETE_IN_PROGRESS') throw new ServiceError('ResourceNotFoundException', 'The specified resource could not be found.');
      return wrap(td);
    }
    case 'task': {
      const t = ecs.tasks[arn];
      if (!t) throw new ServiceError('ResourceNotFoundException', 'The specified resource could not be found.');
      return wrap(t);
    }
    case 'capacity-provider': {
      const cp = ecs.capacityProviders?.[arn];
      if (!cp || cp.status !== 'ACTIVE') throw new ServiceError('ResourceNotFoundException', 'The specified resource could not be found.');
      return wrap(cp);
    }
    case 'container-instance': {
      const ci = ecs.containerInstances[arn];
      if (!ci) throw new ServiceError('ResourceNotFoundException', 'The specified resource could not be found.');
      return wrap(ci);
    }
    default:
      throw invalidParameter('The ARN provided is invalid.');
  }
}

const tagResource = typedOperation<TagResourceRequest, TagResourceResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world }) => {
    const resource = taggable(world, reqString(input, 'resourceArn', invalidParameter));
    const tags = readTags(input);
    if (tags.length === 0) throw invalidParameter('Tags can not be empty.');
    resource.set(mergeTags(resource.tags, tags));
    return {};
  },
});

const untagResource = typedOperation<UntagResourceRequest, UntagResourceResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world }) => {
    const resource = taggable(world, reqString(input, 'resourceArn', invalidParameter));
    const keys = optStringList(input, 'tagKeys');
    if (!keys || keys.length === 0) throw invalidParameter('TagKeys can not be empty.');
    resource.set(resource.tags.filter((t) => !keys.includes(t.key)));
    return {};
  },
});

const listTagsForResource = typedOperation<ListTagsForResourceRequest, ListTagsForResourceResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world }) => {
    const resource = taggable(world, reqString(input, 'resourceArn', invalidParameter));
    return { tags: resource.tags };
  },
});

export const operations: Record<string, Operation> = {
  TagResource: tagResource,
  UntagResource: untagResource,
  ListTagsForResource: listTagsForResource,
};
