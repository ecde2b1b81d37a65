/** EC2 tags: CreateTags, DeleteTags, DescribeTags over every taggable resource. */
import {
  CreateTagsRequest$,
  DeleteTagsRequest$,
  DescribeTagsRequest$,
  DescribeTagsResult$,
  type CreateTagsRequest,
  type DeleteTagsRequest,
  type DescribeTagsRequest,
  type DescribeTagsResult,
  type ResourceType,
} from '@aws-sdk/client-ec2';
import { typedOperation, type Call } from '../../typed.js';
import { ServiceError, type World } from '../../types.js';
import type { Operation } from '../../types.js';
import type { TagMap } from '../util.js';
import { ec2Decoder, ec2Encoder } from './codec.js';
import { dryRun, filterItems, inRegion, missing, notFound, pageOf, tagsFromList } from './common.js';
import { seeded, state } from './state.js';

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

export function createTags(input: CreateTagsRequest, { world, region }: Call): void {
  const ids = input.Resources ?? [];
  if (ids.length === 0) throw missing('ResourceId');
  const tags = tagsFromList(input.Tags ?? []);
  const targets = ids.map((id) => taggable(world, region, id));
  dryRun(input);
  for (const t of targets) {
    if (Object.keys({ ...t.tags, ...tags }).length > 50) {
      throw new ServiceError('TagLimitExceeded', 'The maximum number of tags for a resource has been reached.', 400);
    }
    Object.assign(t.tags, tags);
  }
}

export function deleteTags(input: DeleteTagsRequest, { world, region }: Call): void {
  const ids = input.Resources ?? [];
  if (ids.length === 0) throw missing('ResourceId');
  const targets = ids.map((id) => taggable(world, region, id));
  dryRun(input);
  const requested = (input.Tags ?? []).filter((t) => t.Key !== undefined);
  for (const t of targets) {
    if (requested.length === 0) {
      for (const k of Object.keys(t.tags)) delete t.tags[k];
      continue;
    }
    for (const tag of requested) {
      // A tag given with a value is deleted only if the value matches.
      if (tag.Value === undefined || t.tags[tag.Key!] === tag.Value) delete t.tags[tag.Key!];
    }
  }
}

export function describeTags(input: DescribeTagsRequest, { world, region }: Call): DescribeTagsResult {
  const s = state(world);
  const all: { resourceId: string; resourceType: string; key: string; value: string; tags: TagMap }[] = [];
  const add = (id: string, type: string, tags: TagMap) => {
    for (const [key, value] of Object.entries(tags)) all.push({ resourceId: id, resourceType: type, key, value, tags: { [key]: value } });
  };
  for (const i of inRegion(s.instances, region)) add(i.instanceId, 'instance', i.tags);
  for (const g of inRegion(s.securityGroups, region)) add(g.groupId, 'security-group', g.tags);
  for (const v of inRegion(s.vpcs, region)) add(v.vpcId, 'vpc', v.tags);
  for (const sn of inRegion(s.subnets, region)) add(sn.subnetId, 'subnet', sn.tags);
  for (const v of inRegion(s.volumes, region)) add(v.volumeId, 'volume', v.tags);
  for (const k of inRegion(s.keyPairs, region)) add(k.keyPairId, 'key-pair', k.tags);
  for (const t of inRegion(s.launchTemplates, region)) add(t.launchTemplateId, 'launch-template', t.tags);
  const filtered = filterItems(all, input.Filters, {
    'resource-id': (t) => [t.resourceId],
    'resource-type': (t) => [t.resourceType],
    key: (t) => [t.key],
    value: (t) => [t.value],
  });
  const result = pageOf(world, filtered, input.MaxResults, input.NextToken);
  return {
    Tags: result.items.map((t) => ({ ResourceId: t.resourceId, ResourceType: t.resourceType as ResourceType, Key: t.key, Value: t.value })),
    NextToken: result.nextToken,
  };
}

/** CreateTags and DeleteTags answer <return>true</return>, which the SDK's model leaves out. */
const returnTrue = () => ({ return: true });

export const operations: Record<string, Operation> = {
  CreateTags: typedOperation<CreateTagsRequest, void>({ mutating: true, decode: ec2Decoder(CreateTagsRequest$), encode: returnTrue, handler: seeded(createTags) }),
  DeleteTags: typedOperation<DeleteTagsRequest, void>({ mutating: true, decode: ec2Decoder(DeleteTagsRequest$), encode: returnTrue, handler: seeded(deleteTags) }),
  DescribeTags: typedOperation<DescribeTagsRequest, DescribeTagsResult>({
    mutating: false,
    decode: ec2Decoder(DescribeTagsRequest$),
    encode: ec2Encoder(DescribeTagsResult$),
    handler: seeded(describeTags),
  }),
};
