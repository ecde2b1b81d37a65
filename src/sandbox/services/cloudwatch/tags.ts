/**
 * TagResource, UntagResource, ListTagsForResource on alarms and dashboards ("the only CloudWatch
 * resources that can be tagged are alarms, dashboards, metric streams and Contributor Insights
 * rules", API_TagResource; at most 50 tags; a tag key given again replaces its value).
 */
import {
  ListTagsForResourceInput$,
  TagResourceInput$,
  UntagResourceInput$,
  type ListTagsForResourceInput,
  type ListTagsForResourceOutput,
  type TagResourceInput,
  type UntagResourceInput,
} from '@aws-sdk/client-cloudwatch';
import type { Operation, World } from '../../types.js';
import { arrayToTagMap, keyValueTags, type TagMap } from '../util.js';
import { cwState, cwOperation, invalidParameterValue, missingParameter, taggedNotFound } from './common.js';

type Empty = Record<string, never>;
const MAX_TAGS = 50;

function target(world: World, arn: string | undefined): { tags: TagMap } {
  if (!arn) throw missingParameter('ResourceARN');
  const state = cwState(world);
  const alarm = /^arn:aws:cloudwatch:([^:]+):(\d{12}):alarm:(.+)$/.exec(arn);
  if (alarm && alarm[2] === world.settings.accountId) {
    const a = state.alarms[`${alarm[1]}/${alarm[3]}`];
    if (a) return a;
  }
  const dashboard = /^arn:aws:cloudwatch::(\d{12}):dashboard\/(.+)$/.exec(arn);
  if (dashboard && dashboard[1] === world.settings.accountId) {
    const d = state.dashboards[dashboard[2]];
    if (d) return d;
  }
  if (!alarm && !dashboard) throw invalidParameterValue(`Invalid ARN: ${arn}`);
  throw taggedNotFound(arn);
}

const tagResource = cwOperation<TagResourceInput, Empty>(true, TagResourceInput$, (p, { world }) => {
  const t = target(world, p.ResourceARN);
  const merged = { ...t.tags, ...arrayToTagMap(p.Tags ?? []) };
  if (Object.keys(merged).length > MAX_TAGS) throw invalidParameterValue(`A resource can have at most ${MAX_TAGS} tags.`);
  t.tags = merged;
  return {};
});

const untagResource = cwOperation<UntagResourceInput, Empty>(true, UntagResourceInput$, (p, { world }) => {
  const t = target(world, p.ResourceARN);
  for (const k of p.TagKeys ?? []) delete t.tags[k];
  return {};
});

const listTagsForResource = cwOperation<ListTagsForResourceInput, ListTagsForResourceOutput>(false, ListTagsForResourceInput$, (p, { world }) => ({
  Tags: keyValueTags(target(world, p.ResourceARN).tags),
}));

export const tagOperations: Record<string, Operation> = {
  TagResource: tagResource,
  UntagResource: untagResource,
  ListTagsForResource: listTagsForResource,
};
