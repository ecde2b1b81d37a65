/**
 * The rules of Auto Scaling group tags, shared by CreateAutoScalingGroup and the tag operations: which
 * keys and values are valid, a new group's tags, and DescribeAutoScalingGroups' tag filters.
 */
import { ServiceError } from '../../types.js';
import type { Filter, Tag } from '@aws-sdk/client-auto-scaling';
import type { TagMap } from '../util.js';
import { validation, type AsgGroupRecord } from './model.js';

export const MAX_TAGS = 50;

export function checkTag(t: Tag): string {
  if (!t.Key) throw validation("1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null");
  if (t.Key.toLowerCase().startsWith('aws:')) throw validation(`Tag keys starting with 'aws:' are reserved for internal use`);
  if (t.Key.length > 128) throw validation(`Tag key exceeds maximum length of 128.`);
  if ((t.Value ?? '').length > 256) throw validation(`Tag value exceeds maximum length of 256.`);
  return t.Key;
}

/** CreateAutoScalingGroup's Tags (ResourceId, if given, must be the group). */
export function tagsFromInput(list: Tag[], groupName: string): { tags: TagMap; propagate: Record<string, boolean> } {
  const tags: TagMap = {};
  const propagate: Record<string, boolean> = {};
  for (const t of list) {
    const key = checkTag(t);
    if (t.ResourceId && t.ResourceId !== groupName) throw validation(`Invalid ResourceId: ${t.ResourceId}. Tags on a new group must name that group.`);
    tags[key] = t.Value ?? '';
    propagate[key] = t.PropagateAtLaunch ?? false;
  }
  if (Object.keys(tags).length > MAX_TAGS) throw new ServiceError('LimitExceeded', `The number of tags cannot exceed ${MAX_TAGS}.`, 400);
  return { tags, propagate };
}

/** DescribeAutoScalingGroups' Filters: tag:<key>, tag-key, tag-value (values ORed, filters ANDed). */
export function matchesTagFilters(g: AsgGroupRecord, filters: Filter[] | undefined): boolean {
  return (filters ?? []).every((f) => {
    const values = f.Values ?? [];
    if (!f.Name) throw validation('Filter name cannot be empty.');
    if (f.Name.startsWith('tag:')) {
      const key = f.Name.slice(4);
      return key in g.tags && values.includes(g.tags[key]!);
    }
    if (f.Name === 'tag-key') return Object.keys(g.tags).some((k) => values.includes(k));
    if (f.Name === 'tag-value') return Object.values(g.tags).some((v) => values.includes(v));
    throw validation(`Filter type ${f.Name} is not correct. Allowed Filter types are: auto-scaling-group key value propagate-at-launch tag-key tag-value tag:<key>`);
  });
}
