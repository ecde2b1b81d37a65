/** What ECS stores of a task definition, typed from the SDK's own TaskDefinition. */
import type { ContainerDefinition, PortMapping, TaskDefinition } from '@aws-sdk/client-ecs';

/** One item of a list read from a JSON body before it is checked (the SDK's types promise nothing on the wire). */
export type JsonItem = { [key: string]: unknown } | null | undefined;

export type StoredPortMapping = PortMapping & { containerPort: number; hostPort: number; protocol: 'tcp' | 'udp' };
/** A container definition as RegisterTaskDefinition stored it (checked, defaults filled in). */
export type StoredContainer = ContainerDefinition & { name: string; image: string; cpu: number; portMappings: StoredPortMapping[] };
/** A task definition as DescribeTaskDefinition returns it, without its identity, status and dates. */
export type StoredTaskDefinition = Omit<
  TaskDefinition,
  'taskDefinitionArn' | 'family' | 'revision' | 'status' | 'registeredAt' | 'deregisteredAt' | 'deleteRequestedAt' | 'containerDefinitions'
> & { containerDefinitions: StoredContainer[] };
