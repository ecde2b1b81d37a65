/** EC2 tags: CreateTags, DeleteTags, DescribeTags over every taggable resource. */
import { unflatten } from '../../protocols/query.js';
import { ServiceError, type Operation, type SandboxRequest, type World } from '../../types.js';
import { list, type TagMap } from '../util.js';
import { applyFilters, dryRun, inRegion, missing, notFound, page, strings, tagsFromList } from './common.js';
import { regional, state } from './state.js';

export interface Taggable {
  resourceType: string;
  tags: TagMap;
}

/** The taggable resource with this id in the region, or the EC2 not-found error for its kind. */
export function taggable(world: World, region: string, id: string): Taggable {
  const s = state(world);
  const kinds: [prefix: string, records: Record<string, { region: string; tags: TagMap }>, type: string, code: string, what: string][] = [
    ['i-', s.instances, 'instance', 'InvalidInstanceID.NotFound', 'instance ID'],
    ['sg-', s.securityGroups, 'security-group', 'InvalidGroup.NotFound', 'security group'],
    ['vpc-', s.vpcs, 'vpc', 'InvalidVpcID.NotFound', 'vpc ID'],
    ['subnet-', s.subnets, 'subnet', 'InvalidSubnetID.NotFound', 'subnet ID'],
    ['vol-', s.volumes, 'volume', 'InvalidVolume.NotFound', 'volume'],
    ['key-', s.keyPairs, 'key-pair', 'InvalidKeyPair.NotFound', 'key pair'],
    ['lt-', s.launchTemplates, 'launch-template', 'InvalidLaunchTemplateId.NotFound', 'launch template'],
  ];
  for (const [prefix, records, resourceType, code, what] of kinds) {
    if (!id.startsWith(prefix)) continue;
    const record = records[id];
    if (!record || record.region !== region) throw notFound(code, what, [id]);
    return { resourceType, tags: record.tags };
  }
  throw new ServiceError('InvalidID', `The ID '${id}' is not valid`, 400);
}

export function createTags(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.ResourceId);
  if (ids.length === 0) throw missing('ResourceId');
  const tags = tagsFromList(list(p.Tag));
  const targets = ids.map((id) => taggable(world, req.region, id));
  dryRun(p);
  for (const t of targets) {
    if (Object.keys({ ...t.tags, ...tags }).length > 50) {
      throw new ServiceError('TagLimitExceeded', 'The maximum number of tags for a resource has been reached.', 400);
    }
    Object.assign(t.tags, tags);
  }
  return { return: true };
}

export function deleteTags(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const ids = strings(p.ResourceId);
  if (ids.length === 0) throw missing('ResourceId');
  const targets = ids.map((id) => taggable(world, req.region, id));
  dryRun(p);
  const requested = list(p.Tag).filter((t) => t && t.Key !== undefined);
  for (const t of targets) {
    if (requested.length === 0) {
      for (const k of Object.keys(t.tags)) delete t.tags[k];
      continue;
    }
    for (const tag of requested) {
      // A tag given with a value is deleted only if the value matches.
      if (tag.Value === undefined || t.tags[tag.Key] === String(tag.Value)) delete t.tags[tag.Key];
    }
  }
  return { return: true };
}

export function describeTags(req: SandboxRequest, world: World) {
  const p = unflatten(req.params);
  const s = state(world);
  const all: { resourceId: string; resourceType: string; key: string; value: string; tags: TagMap }[] = [];
  const add = (id: string, type: string, tags: TagMap) => {
    for (const [key, value] of Object.entries(tags)) all.push({ resourceId: id, resourceType: type, key, value, tags: { [key]: value } });
  };
  for (const i of inRegion(s.instances, req.region)) add(i.instanceId, 'instance', i.tags);
  for (const g of inRegion(s.securityGroups, req.region)) add(g.groupId, 'security-group', g.tags);
  for (const v of inRegion(s.vpcs, req.region)) add(v.vpcId, 'vpc', v.tags);
  for (const sn of inRegion(s.subnets, req.region)) add(sn.subnetId, 'subnet', sn.tags);
  for (const v of inRegion(s.volumes, req.region)) add(v.volumeId, 'volume', v.tags);
  for (const k of inRegion(s.keyPairs, req.region)) add(k.keyPairId, 'key-pair', k.tags);
  for (const t of inRegion(s.launchTemplates, req.region)) add(t.launchTemplateId, 'launch-template', t.tags);
  const filtered = applyFilters(all, p, {
    'resource-id': (t) => [t.resourceId],
    'resource-type': (t) => [t.resourceType],
    key: (t) => [t.key],
    value: (t) => [t.value],
  });
  const result = page(world, filtered, p);
  return {
    tagSet: result.items.map(({ resourceId, resourceType, key, value }) => ({ resourceId, resourceType, key, value })),
    nextToken: result.nextToken,
  };
}

export const operations: Record<string, Operation> = {
  CreateTags: { mutating: true, handler: regional(createTags) },
  DeleteTags: { mutating: true, handler: regional(deleteTags) },
  DescribeTags: { mutating: false, handler: regional(describeTags) },
};
