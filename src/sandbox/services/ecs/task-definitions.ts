/** ECS task definitions. */
import type {
  DeleteTaskDefinitionsRequest,
  DeleteTaskDefinitionsResponse,
  DeregisterTaskDefinitionRequest,
  DeregisterTaskDefinitionResponse,
  DescribeTaskDefinitionRequest,
  DescribeTaskDefinitionResponse,
  ListTaskDefinitionFamiliesRequest,
  ListTaskDefinitionFamiliesResponse,
  ListTaskDefinitionsRequest,
  ListTaskDefinitionsResponse,
  RegisterTaskDefinitionRequest,
  RegisterTaskDefinitionResponse,
  Compatibility,
  ContainerDefinition,
  NetworkMode,
  PortMapping,
  TaskDefinition,
} from '@aws-sdk/client-ecs';
import { jsonBody, typedOperation } from '../../typed.js';
import type { Operation } from '../../types.js';
import { paginate } from '../../paginate.js';
import { type World } from '../../types.js';
import { taskDefinitionRequirements } from './agent.js';
import { NAME_PATTERN, type StoredContainer, type StoredPortMapping, type StoredTaskDefinition, type TaskDefinitionRecord, clientError, date, ecsArn, ecsState, findTaskDefinition, includes, invalidParameter, optString, optStringList, pageRequest, parseEcsArn, readTags, reqString } from './state.js';

export function taskDefinitionView(td: TaskDefinitionRecord): TaskDefinition {
  return {
    ...td.definition,
    taskDefinitionArn: td.taskDefinitionArn,
    family: td.family,
    revision: td.revision,
    status: td.status,
    registeredAt: date(td.registeredAt),
    deregisteredAt: date(td.deregisteredAt),
    deleteRequestedAt: date(td.deleteRequestedAt),
  };
}

const NETWORK_MODES = ['bridge', 'host', 'awsvpc', 'none'];
const LOG_DRIVERS = ['json-file', 'syslog', 'journald', 'gelf', 'fluentd', 'awslogs', 'splunk', 'awsfirelens'];

function normaliseContainer(raw: ContainerDefinition, networkMode: string, taskMemory: string | undefined): StoredContainer {
  if (typeof raw !== 'object' || raw === null) throw clientError('Container definition must be an object.');
  const c = raw;
  if (typeof c.name !== 'string' || c.name === '') throw clientError('Container.name should not be null or empty.');
  if (!/^[a-zA-Z0-9_-]{1,255}$/.test(c.name)) {
    throw clientError(`Invalid container name '${c.name}'. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.`);
  }
  if (typeof c.image !== 'string' || c.image === '') throw clientError('Container.image should not be null or empty.');
  if (taskMemory === undefined && c.memory === undefined && c.memoryReservation === undefined) {
    throw clientError(`Invalid setting for container '${c.name}'. At least one of 'memory' or 'memoryReservation' must be specified.`);
  }
  if (c.memory !== undefined && (!Number.isInteger(c.memory) || c.memory < 6)) {
    throw clientError(`Invalid 'memory' setting for container '${c.name}'. The minimum memory for a container is 6 MiB.`);
  }
  if (c.memory !== undefined && c.memoryReservation !== undefined && c.memoryReservation > c.memory) {
    throw clientError(`Invalid 'memoryReservation' setting for container '${c.name}'. Memory reservation must be less than or equal to 'memory'.`);
  }
  const portMappings = (Array.isArray(c.portMappings) ? c.portMappings : []).map((pm: PortMapping): StoredPortMapping => {
    const containerPort = pm?.containerPort ?? NaN;
    if (!Number.isInteger(containerPort) || containerPort < 1 || containerPort > 65535) {
      throw clientError(`Invalid 'containerPort' setting for container '${c.name}'.`);
    }
    const protocol = pm.protocol ?? 'tcp';
    if (protocol !== 'tcp' && protocol !== 'udp') throw clientError(`Invalid protocol '${protocol}' for container '${c.name}'. Valid values are tcp and udp.`);
    let hostPort: number | undefined = pm.hostPort;
    if (networkMode === 'host' || networkMode === 'awsvpc') {
      if (hostPort !== undefined && hostPort !== containerPort) {
        throw clientError(`When networkMode=${networkMode}, the host ports and container ports in port mappings must match.`);
      }
      hostPort = containerPort;
    } else if (hostPort === undefined) {
      hostPort = 0; // bridge: dynamic host port
    }
    if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw clientError(`Invalid 'hostPort' setting for container '${c.name}'.`);
    return { ...pm, containerPort, hostPort, protocol };
  });
  const logDriver = c.logConfiguration?.logDriver;
  if (c.logConfiguration !== undefined && !LOG_DRIVERS.includes(String(logDriver))) {
    throw clientError(`Log driver ${String(logDriver)} is not supported. Supported log drivers: ${LOG_DRIVERS.join(', ')}.`);
  }
  return {
    ...c,
    name: c.name,
    image: c.image,
    cpu: c.cpu ?? 0,
    portMappings,
    essential: c.essential ?? true,
    environment: c.environment ?? [],
    mountPoints: c.mountPoints ?? [],
    volumesFrom: c.volumesFrom ?? [],
    systemControls: c.systemControls ?? [],
  };
}

const registerTaskDefinition = typedOperation<RegisterTaskDefinitionRequest, RegisterTaskDefinitionResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const p = input;
    const family = reqString(p, 'family');
    if (!NAME_PATTERN.test(family)) {
      throw clientError('Family contains invalid characters. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.');
    }
    const networkMode = optString(p, 'networkMode');
    if (networkMode !== undefined && !NETWORK_MODES.includes(networkMode)) {
      throw clientError(`Invalid networkMode '${networkMode}'. Valid values are bridge, host, awsvpc and none.`);
    }
    const cpu = p.cpu === undefined ? undefined : String(p.cpu);
    const memory = p.memory === undefined ? undefined : String(p.memory);
    const defs = p.containerDefinitions;
    if (!Array.isArray(defs) || defs.length === 0) throw clientError('Container list cannot be empty.');
    if (defs.length > 10) throw clientError('Too many containers. A task definition can have at most 10 containers.');
    const containerDefinitions = defs.map((c) => normaliseContainer(c, networkMode ?? 'bridge', memory));
    const names = new Set<string>();
    for (const c of containerDefinitions) {
      if (names.has(c.name)) throw clientError(`Duplicate container name: '${c.name}'.`);
      names.add(c.name);
    }
    const requiresCompatibilities = optStringList(p, 'requiresCompatibilities');
    if (requiresCompatibilities?.includes('FARGATE')) {
      if (networkMode !== 'awsvpc') throw clientError('Fargate only supports network mode ‘awsvpc’.');
      if (cpu === undefined || memory === undefined) throw clientError('Fargate requires task definition to have cpu and memory values.');
    }
    const tags = readTags(p);

    const ecs = ecsState(world);
    const key = `${region}/${family}`;
    const fam = (ecs.taskDefinitions[key] ??= { lastRevision: 0, revisions: {} });
    fam.lastRevision += 1;
    const revision = fam.lastRevision;
    const arn = ecsArn(world, region, `task-definition/${family}:${revision}`);
    const definition: StoredTaskDefinition = {
      containerDefinitions,
      taskRoleArn: optString(p, 'taskRoleArn'),
      executionRoleArn: optString(p, 'executionRoleArn'),
      networkMode: networkMode as NetworkMode | undefined,
      volumes: Array.isArray(p.volumes) ? p.volumes : [],
      placementConstraints: Array.isArray(p.placementConstraints) ? p.placementConstraints : [],
      requiresCompatibilities: requiresCompatibilities as Compatibility[] | undefined,
      cpu,
      memory,
      pidMode: p.pidMode,
      ipcMode: p.ipcMode,
      runtimePlatform: p.runtimePlatform,
      registeredBy: `arn:aws:iam::${world.settings.accountId}:user/sandbox`,
    };
    definition.requiresAttributes = taskDefinitionRequirements(definition).map((name) => ({ name }));
    definition.compatibilities = networkMode === 'awsvpc' ? ['EC2', 'FARGATE'] : networkMode === 'host' || networkMode === undefined || networkMode === 'bridge' ? ['EXTERNAL', 'EC2'] : ['EC2'];
    const record: TaskDefinitionRecord = {
      taskDefinitionArn: arn,
      family,
      revision,
      status: 'ACTIVE',
      definition: JSON.parse(JSON.stringify(definition)),
      tags,
      registeredAt: now,
    };
    fam.revisions[String(revision)] = record;
    return { taskDefinition: taskDefinitionView(record), tags: tags.length ? tags : undefined };
  },
});

const describeTaskDefinition = typedOperation<DescribeTaskDefinitionRequest, DescribeTaskDefinitionResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const td = findTaskDefinition(world, region, reqString(p, 'taskDefinition'));
    if (!td) throw clientError('Unable to describe task definition.');
    return { taskDefinition: taskDefinitionView(td), tags: includes(p, 'TAGS') ? td.tags : undefined };
  },
});

function allTaskDefinitions(world: World, region: string): TaskDefinitionRecord[] {
  return Object.entries(ecsState(world).taskDefinitions)
    .filter(([key]) => key.startsWith(`${region}/`))
    .flatMap(([, fam]) => Object.values(fam.revisions));
}

const listTaskDefinitions = typedOperation<ListTaskDefinitionsRequest, ListTaskDefinitionsResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const familyPrefix = optString(p, 'familyPrefix');
    const status = optString(p, 'status') ?? 'ACTIVE';
    if (!['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'].includes(status)) throw invalidParameter(`Invalid status: ${status}`);
    const sort = optString(p, 'sort') ?? 'ASC';
    if (sort !== 'ASC' && sort !== 'DESC') throw invalidParameter(`Invalid sort: ${sort}`);
    const tds = allTaskDefinitions(world, region)
      .filter((td) => td.status === status && (familyPrefix === undefined || td.family === familyPrefix))
      .sort((a, b) => a.family.localeCompare(b.family) || a.revision - b.revision);
    if (sort === 'DESC') tds.reverse();
    const page = paginate(tds.map((td) => td.taskDefinitionArn), pageRequest(world, p, 100, 100));
    return { taskDefinitionArns: page.items, nextToken: page.nextToken };
  },
});

const listTaskDefinitionFamilies = typedOperation<ListTaskDefinitionFamiliesRequest, ListTaskDefinitionFamiliesResponse>({
  mutating: false,
  decode: jsonBody,
  handler: (input, { world, region }) => {
    const p = input;
    const familyPrefix = optString(p, 'familyPrefix') ?? '';
    const status = optString(p, 'status') ?? 'ACTIVE';
    if (!['ACTIVE', 'INACTIVE', 'ALL'].includes(status)) throw invalidParameter(`Invalid status: ${status}`);
    const families = new Map<string, boolean>();
    for (const td of allTaskDefinitions(world, region)) {
      if (!td.family.startsWith(familyPrefix)) continue;
      families.set(td.family, (families.get(td.family) ?? false) || td.status === 'ACTIVE');
    }
    const names = [...families.entries()]
      .filter(([, active]) => status === 'ALL' || (status === 'ACTIVE' ? active : !active))
      .map(([name]) => name)
      .sort();
    const page = paginate(names, pageRequest(world, p, 100, 100));
    return { families: page.items, nextToken: page.nextToken };
  },
});

const deregisterTaskDefinition = typedOperation<DeregisterTaskDefinitionRequest, DeregisterTaskDefinitionResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const ref = reqString(input, 'taskDefinition');
    const id = ref.startsWith('arn:') ? (parseEcsArn(ref)?.id ?? '') : ref;
    if (!/:\d+$/.test(id)) throw clientError('Invalid revision number. Number: ' + (id.split(':')[1] ?? ''));
    const td = findTaskDefinition(world, region, ref);
    if (!td || td.status === 'DELETE_IN_PROGRESS') throw clientError('The specified task definition does not exist.');
    if (td.status === 'ACTIVE') {
      td.status = 'INACTIVE';
      td.deregisteredAt = now;
    }
    return { taskDefinition: taskDefinitionView(td) };
  },
});

const deleteTaskDefinitions = typedOperation<DeleteTaskDefinitionsRequest, DeleteTaskDefinitionsResponse>({
  mutating: true,
  decode: jsonBody,
  handler: (input, { world, region, now }) => {
    const refs = optStringList(input, 'taskDefinitions');
    if (!refs || refs.length === 0) throw invalidParameter('size of TaskDefinition references list must be greater than 0');
    if (refs.length > 10) throw invalidParameter('Size of TaskDefinition references list cannot exceed 10');
    const taskDefinitions = [];
    const failures = [];
    for (const ref of refs) {
      const id = ref.startsWith('arn:') ? (parseEcsArn(ref)?.id ?? '') : ref;
      if (!/^[a-zA-Z0-9_-]+:\d+$/.test(id)) {
        failures.push({ arn: ref, reason: 'The specified task definition identifier is invalid. Specify a valid name or ARN and try again.' });
        continue;
      }
      const td = findTaskDefinition(world, region, ref);
      const arn = td?.taskDefinitionArn ?? (ref.startsWith('arn:') ? ref : ecsArn(world, region, `task-definition/${ref}`));
      if (!td) {
        failures.push({ arn, reason: 'The specified task definition does not exist. Specify a valid account, family, revision and try again.' });
      } else if (td.status === 'ACTIVE') {
        failures.push({ arn, reason: 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.' });
      } else {
        // INACTIVE -> DELETE_IN_PROGRESS; ECS removes it once no task or deployment uses it (index.ts purge).
        if (td.status === 'INACTIVE') {
          td.status = 'DELETE_IN_PROGRESS';
          td.deleteRequestedAt = now;
        }
        taskDefinitions.push(taskDefinitionView(td));
      }
    }
    return { taskDefinitions, failures };
  },
});

export const operations: Record<string, Operation> = {
  RegisterTaskDefinition: registerTaskDefinition,
  DescribeTaskDefinition: describeTaskDefinition,
  ListTaskDefinitions: listTaskDefinitions,
  ListTaskDefinitionFamilies: listTaskDefinitionFamilies,
  DeregisterTaskDefinition: deregisterTaskDefinition,
  DeleteTaskDefinitions: deleteTaskDefinitions,
};
