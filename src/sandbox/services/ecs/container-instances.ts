/** ECS container instances: Register/Deregister/List/DescribeContainerInstances. */
import type {
  DeregisterContainerInstanceRequest,
  DeregisterContainerInstanceResponse,
  DescribeContainerInstancesRequest,
  DescribeContainerInstancesResponse,
  ListContainerInstancesRequest,
  ListContainerInstancesResponse,
  RegisterContainerInstanceRequest,
  RegisterContainerInstanceResponse,
  ContainerInstance,
} from '@aws-sdk/client-ecs';
import { jsonBody, typedOperation } from '../../typed.js';
import type { Operation } from '../../types.js';
import { paginate } from '../../paginate.js';
import { type World } from '../../types.js';
import { registerContainerInstance } from './agent.js';
import { type ClusterRecord, type ContainerInstanceRecord, type Resource, arnId, named, clientError, date, ecsArn, ecsState, includes, invalidParameter, isTaskActive, optString, optStringList, pageRequest, readTags, remainingResources, reqString, requireActiveCluster, stopTask, tasksOf } from './state.js';

function containerInstanceView(world: World, ci: ContainerInstanceRecord, p: { include?: string[] }): ContainerInstance {
  const remaining = remainingResources(world, ci);
  const tasks = tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t));
  const remainingResourcesList: Resource[] = [
    { name: 'CPU', type: 'INTEGER', integerValue: remaining.cpu, doubleValue: 0, longValue: 0 },
    { name: 'MEMORY', type: 'INTEGER', integerValue: remaining.memory, doubleValue: 0, longValue: 0 },
    { name: 'PORTS', type: 'STRINGSET', stringSetValue: [...remaining.tcpPorts].sort((a, b) => a - b).map(String), doubleValue: 0, longValue: 0, integerValue: 0 },
    { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [...remaining.udpPorts].sort((a, b) => a - b).map(String), doubleValue: 0, longValue: 0, integerValue: 0 },
  ];
  return {
    containerInstanceArn: ci.containerInstanceArn,
    ec2InstanceId: ci.ec2InstanceId,
    capacityProviderName: ci.capacityProviderName,
    version: ci.version,
    versionInfo: ci.versionInfo,
    remainingResources: remainingResourcesList,
    registeredResources: ci.registeredResources,
    status: ci.status,
    agentConnected: ci.agentConnected,
    runningTasksCount: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
    pendingTasksCount: tasks.filter((t) => t.lastStatus === 'PROVISIONING' || t.lastStatus === 'PENDING').length,
    attributes: ci.attributes,
    registeredAt: date(ci.registeredAt),
    attachments: [],
    tags: includes(p, 'TAGS') ? ci.tags : undefined,
  };
}

const registerContainerInstanceOp = typedOperation<RegisterContainerInstanceRequest, RegisterContainerInstanceResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const doc = optString(p, 'instanceIdentityDocument');
    let ec2InstanceId: string | undefined;
    if (doc) {
      try {
        ec2InstanceId = JSON.parse(doc).instanceId;
      } catch {
        throw clientError('Invalid instance identity document.');
      }
    }
    if (!ec2InstanceId) throw clientError('An instance identity document is required.');
    const resources = (Array.isArray(p.totalResources) ? named(p.totalResources, 'totalResources') : []) as Resource[];
    const ci = registerContainerInstance(world, cluster, ec2InstanceId, now, {
      resources: resources.length ? resources : undefined,
      attributes: Array.isArray(p.attributes) ? named(p.attributes, 'attributes') : undefined,
      tags: readTags(p),
    });
    return { containerInstance: containerInstanceView(world, ci, { include: ['TAGS'] }) };
  },
});

export function findContainerInstance(world: World, cluster: ClusterRecord, ref: string): ContainerInstanceRecord | undefined {
  const id = ref.startsWith('arn:') ? arnId(ref) : ref;
  return Object.values(ecsState(world).containerInstances).find(
    (ci) => ci.clusterArn === cluster.clusterArn && arnId(ci.containerInstanceArn) === id,
  );
}

const listContainerInstances = typedOperation<ListContainerInstancesRequest, ListContainerInstancesResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const status = optString(p, 'status');
    if (status !== undefined && !['ACTIVE', 'DRAINING', 'REGISTERING', 'DEREGISTERING', 'REGISTRATION_FAILED'].includes(status)) {
      throw invalidParameter(`Invalid status: ${status}`);
    }
    const arns = Object.values(ecsState(world).containerInstances)
      .filter((ci) => ci.clusterArn === cluster.clusterArn)
      .filter((ci) => (status ? ci.status === status : ci.status === 'ACTIVE' || ci.status === 'DRAINING'))
      .sort((a, b) => a.registeredAt - b.registeredAt)
      .map((ci) => ci.containerInstanceArn);
    const page = paginate(arns, pageRequest(world, p, 100, 100));
    return { containerInstanceArns: page.items, nextToken: page.nextToken };
  },
});

const describeContainerInstances = typedOperation<DescribeContainerInstancesRequest, DescribeContainerInstancesResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const refs = optStringList(p, 'containerInstances');
    if (!refs || refs.length === 0) throw invalidParameter('containerInstances can not be empty.');
    if (refs.length > 100) throw invalidParameter('containerInstances can have at most 100 items.');
    const containerInstances = [];
    const failures = [];
    for (const ref of refs) {
      const ci = findContainerInstance(world, cluster, ref);
      if (ci) containerInstances.push(containerInstanceView(world, ci, p));
      else failures.push({ arn: ref.startsWith('arn:') ? ref : ecsArn(world, region, `container-instance/${cluster.clusterName}/${ref}`), reason: 'MISSING' });
    }
    return { containerInstances, failures };
  },
});

const deregisterContainerInstance = typedOperation<DeregisterContainerInstanceRequest, DeregisterContainerInstanceResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const p = input;
    const cluster = requireActiveCluster(world, region, optString(p, 'cluster'));
    const ref = reqString(p, 'containerInstance', invalidParameter);
    const ci = findContainerInstance(world, cluster, ref);
    if (!ci || ci.status === 'INACTIVE') throw invalidParameter('The referenced container instance was not found.');
    const tasks = tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t));
    if (tasks.length > 0 && p.force !== true) throw invalidParameter('Found running tasks on the instance.');
    for (const t of tasks) stopTask(t, now, 'Container instance deregistration forced by user.', 'UserInitiated');
    ci.status = 'INACTIVE';
    ci.agentConnected = false;
    ci.deregisteredAt = now;
    ci.version += 1;
    return { containerInstance: containerInstanceView(world, ci, {}) };
  },
});

export const operations: Record<string, Operation> = {
  RegisterContainerInstance: registerContainerInstanceOp,
  ListContainerInstances: listContainerInstances,
  DescribeContainerInstances: describeContainerInstances,
  DeregisterContainerInstance: deregisterContainerInstance,
};
