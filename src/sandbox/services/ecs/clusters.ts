/** ECS clusters: CreateCluster, DescribeClusters, DeleteCluster, ListClusters. */
import type {
  CreateClusterRequest,
  CreateClusterResponse,
  DeleteClusterRequest,
  DeleteClusterResponse,
  DescribeClustersRequest,
  DescribeClustersResponse,
  ListClustersRequest,
  ListClustersResponse,
  Cluster,
} from '@aws-sdk/client-ecs';
import { jsonBody, typedOperation } from '../../typed.js';
import type { Operation } from '../../types.js';
import { paginate } from '../../paginate.js';
import { ServiceError, type World } from '../../types.js';
import { type ClusterRecord, NAME_PATTERN, named, clusterArnFor, ecsArn, ecsState, findCluster, includes, invalidParameter, isTaskActive, optString, optStringList, pageRequest, readTags, reqString, requireActiveCluster, tasksOf } from './state.js';

export function clusterView(world: World, c: ClusterRecord, p: { include?: string[] }): Cluster {
  const ecs = ecsState(world);
  const tasks = tasksOf(world, (t) => t.clusterArn === c.clusterArn);
  return {
    clusterArn: c.clusterArn,
    clusterName: c.clusterName,
    status: c.status,
    registeredContainerInstancesCount: Object.values(ecs.containerInstances).filter(
      (ci) => ci.clusterArn === c.clusterArn && (ci.status === 'ACTIVE' || ci.status === 'DRAINING'),
    ).length,
    runningTasksCount: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
    pendingTasksCount: tasks.filter((t) => t.lastStatus === 'PROVISIONING' || t.lastStatus === 'PENDING').length,
    activeServicesCount: Object.values(ecs.services).filter((s) => s.clusterArn === c.clusterArn && s.status === 'ACTIVE').length,
    statistics: [],
    tags: includes(p, 'TAGS') ? c.tags : undefined,
    settings: includes(p, 'SETTINGS') ? (c.settings as Cluster['settings']) : undefined,
    configuration: includes(p, 'CONFIGURATIONS') ? (c.configuration as Cluster['configuration']) : undefined,
    capacityProviders: c.capacityProviders ?? [],
    defaultCapacityProviderStrategy: c.defaultCapacityProviderStrategy ?? [],
    attachments: includes(p, 'ATTACHMENTS') ? (c.attachments ?? []) : undefined,
    attachmentsStatus: includes(p, 'ATTACHMENTS') ? c.attachmentsStatus : undefined,
  };
}

const createCluster = typedOperation<CreateClusterRequest, CreateClusterResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const p = input;
    const name = optString(p, 'clusterName') || 'default';
    if (!NAME_PATTERN.test(name)) {
      throw invalidParameter('Cluster name can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores, and hyphens.');
    }
    const tags = readTags(p);
    const arn = ecsArn(world, region, `cluster/${name}`);
    const ecs = ecsState(world);
    const existing = ecs.clusters[arn];
    // CreateCluster is idempotent: an ACTIVE cluster of that name is returned as it is.
    if (existing && existing.status === 'ACTIVE') return { cluster: clusterView(world, existing, { include: ['TAGS', 'SETTINGS'] }) };
    const cluster: ClusterRecord = {
      clusterArn: arn,
      clusterName: name,
      status: 'ACTIVE',
      createdAt: now,
      tags,
      settings: Array.isArray(p.settings) ? named(p.settings, 'settings').map((x) => ({ name: x.name, value: x.value ?? '' })) : [{ name: 'containerInsights', value: 'disabled' }],
      configuration: p.configuration,
    };
    ecs.clusters[arn] = cluster;
    return { cluster: clusterView(world, cluster, { include: ['TAGS', 'SETTINGS'] }) };
  },
});

const describeClusters = typedOperation<DescribeClustersRequest, DescribeClustersResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const refs = optStringList(p, 'clusters') ?? ['default'];
    if (refs.length > 100) throw invalidParameter('clusters can have at most 100 items.');
    const clusters = [];
    const failures = [];
    for (const ref of refs) {
      const c = findCluster(world, region, ref);
      if (c) clusters.push(clusterView(world, c, p));
      else failures.push({ arn: clusterArnFor(world, region, ref), reason: 'MISSING' });
    }
    return { clusters, failures };
  },
});

const deleteCluster = typedOperation<DeleteClusterRequest, DeleteClusterResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const c = requireActiveCluster(world, region, reqString(input, 'cluster', invalidParameter));
    const ecs = ecsState(world);
    if (Object.values(ecs.containerInstances).some((ci) => ci.clusterArn === c.clusterArn && (ci.status === 'ACTIVE' || ci.status === 'DRAINING'))) {
      throw new ServiceError('ClusterContainsContainerInstancesException', 'The Cluster cannot be deleted while Container Instances are active or draining.');
    }
    if (Object.values(ecs.services).some((s) => s.clusterArn === c.clusterArn && (s.status === 'ACTIVE' || s.status === 'DRAINING'))) {
      throw new ServiceError('ClusterContainsServicesException', 'The Cluster cannot be deleted while Services are active.');
    }
    if (tasksOf(world, (t) => t.clusterArn === c.clusterArn && isTaskActive(t)).length > 0) {
      throw new ServiceError('ClusterContainsTasksException', 'The Cluster cannot be deleted while Tasks are active.');
    }
    c.status = 'INACTIVE';
    c.deletedAt = now;
    return { cluster: clusterView(world, c, { include: ['SETTINGS'] }) };
  },
});

const listClusters = typedOperation<ListClustersRequest, ListClustersResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const prefix = ecsArn(world, region, 'cluster/');
    const arns = Object.values(ecsState(world).clusters)
      .filter((c) => c.status === 'ACTIVE' && c.clusterArn.startsWith(prefix))
      .sort((a, b) => a.createdAt - b.createdAt || a.clusterArn.localeCompare(b.clusterArn))
      .map((c) => c.clusterArn);
    const page = paginate(arns, pageRequest(world, p, 100, 100));
    return { clusterArns: page.items, nextToken: page.nextToken };
  },
});

export const operations: Record<string, Operation> = {
  CreateCluster: createCluster,
  DescribeClusters: describeClusters,
  DeleteCluster: deleteCluster,
  ListClusters: listClusters,
};
