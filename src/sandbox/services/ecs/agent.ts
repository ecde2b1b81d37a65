/**
 * The simulated ECS container agent: an EC2 instance registers as a container instance.
 * Agent: an EC2 instance (world.state.ec2.instances, owned by services/ec2.ts) that is running, has an
 * instance profile, and whose user data sets ECS_CLUSTER=<name> (default "default") registers as a
 * container instance in that cluster latency.agentRegisterMs after it started running, once the cluster
 * exists. When the instance shuts down, the container instance goes INACTIVE and its tasks stop.
 */
import { type Ec2InstanceRecord, type Ec2StateView, type World } from '../../types.js';
import { AWS_MANAGED_POLICIES, findInstanceProfile, instanceProfilePolicyArns } from '../iam.js';
import { registeringProvider } from './capacity-providers.js';
import { type ClusterRecord, type ContainerInstanceRecord, type EcsTag, type JsonItem, type Resource, type StoredTaskDefinition, ecsArn, ecsState, finishStop, isTaskActive, parseEcsArn, stopTask, tasksOf } from './state.js';

/** Registered capacity by instance type: CPU units and MiB the agent reports (total minus OS overhead). */
const INSTANCE_CAPACITY: Record<string, { cpu: number; memory: number }> = {
  't2.micro': { cpu: 1024, memory: 982 },
  't2.small': { cpu: 1024, memory: 1993 },
  't2.medium': { cpu: 2048, memory: 3943 },
  't3.nano': { cpu: 2048, memory: 460 },
  't3.micro': { cpu: 2048, memory: 944 },
  't3.small': { cpu: 2048, memory: 1993 },
  't3.medium': { cpu: 2048, memory: 3928 },
  't3.large': { cpu: 2048, memory: 7943 },
  't3.xlarge': { cpu: 4096, memory: 15820 },
  'm5.large': { cpu: 2048, memory: 7680 },
  'm5.xlarge': { cpu: 4096, memory: 15578 },
  'c5.large': { cpu: 2048, memory: 3767 },
};
const DEFAULT_CAPACITY = { cpu: 2048, memory: 1993 };

export function instanceCapacity(instanceType: string): { cpu: number; memory: number } {
  const family = instanceType.replace(/^(t3a|t4g)\./, 't3.');
  return INSTANCE_CAPACITY[instanceType] ?? INSTANCE_CAPACITY[family] ?? DEFAULT_CAPACITY;
}

/** Logging drivers the agent advertises when user data does not set ECS_AVAILABLE_LOGGING_DRIVERS. */
const DEFAULT_LOGGING_DRIVERS = ['json-file', 'syslog', 'awslogs', 'fluentd', 'gelf', 'journald', 'splunk', 'awsfirelens', 'none'];

export interface AgentConfig {
  cluster: string;
  loggingDrivers: string[];
}

/**
 * What the agent would read from /etc/ecs/ecs.config after the user data ran. Understands a bare
 * "ECS_CLUSTER=x" line as well as shell that writes it (echo ECS_CLUSTER=x >> /etc/ecs/ecs.config,
 * heredocs, quoted values). Comment lines are ignored; the last assignment wins.
 */
export function parseAgentConfig(userData: string | undefined): AgentConfig {
  const text = decodeIfBase64(userData ?? '');
  let cluster = 'default';
  let loggingDrivers = DEFAULT_LOGGING_DRIVERS;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line.startsWith('#')) continue;
    for (const m of line.matchAll(/ECS_CLUSTER=\\?["']?([A-Za-z0-9_-]+)/g)) cluster = m[1];
    const drivers = /ECS_AVAILABLE_LOGGING_DRIVERS=\\?'?(\[.*?\])/.exec(line);
    if (drivers) {
      try {
        const parsed = JSON.parse(drivers[1].replace(/\\"/g, '"'));
        if (Array.isArray(parsed)) loggingDrivers = parsed.map(String);
      } catch {
        // The real agent refuses a malformed value and keeps its default.
      }
    }
  }
  return { cluster, loggingDrivers };
}

function decodeIfBase64(s: string): string {
  if (s.includes('ECS_CLUSTER') || !/^[A-Za-z0-9+/=\s]+$/.test(s) || s.trim() === '') return s;
  const decoded = Buffer.from(s, 'base64').toString('utf8');
  return decoded.includes('ECS_') ? decoded : s;
}

function agentAttributes(instance: Ec2InstanceRecord, region: string, loggingDrivers: string[]): { name: string; value?: string }[] {
  const arm = /^[a-z]+\d+g[a-z]*\./.test(instance.instanceType);
  const names = [
    'ecs.capability.secrets.asm.environment-variables',
    'ecs.capability.execution-role-awslogs',
    'ecs.capability.execution-role-ecr-pull',
    'ecs.capability.task-eni',
    'ecs.capability.container-health-check',
    'ecs.capability.private-registry-authentication.secretsmanager',
    'com.amazonaws.ecs.capability.ecr-auth',
    'com.amazonaws.ecs.capability.task-iam-role',
    'com.amazonaws.ecs.capability.task-iam-role-network-host',
    ...['17', '18', '19', '20', '21', '22', '23', '24', '25', '28', '29', '30', '31', '32', '44'].map(
      (v) => `com.amazonaws.ecs.capability.docker-remote-api.1.${v}`,
    ),
    ...loggingDrivers.filter((d) => d !== 'none').map((d) => `com.amazonaws.ecs.capability.logging-driver.${d}`),
  ];
  return [
    ...names.map((name) => ({ name })),
    { name: 'ecs.os-type', value: 'linux' },
    { name: 'ecs.os-family', value: 'LINUX' },
    { name: 'ecs.instance-type', value: instance.instanceType },
    { name: 'ecs.ami-id', value: instance.imageId },
    { name: 'ecs.cpu-architecture', value: arm ? 'arm64' : 'x86_64' },
    { name: 'ecs.availability-zone', value: (instance as Ec2InstanceRecord & { availabilityZone?: string }).availabilityZone ?? `${region}a` },
    { name: 'ecs.vpc-id', value: instance.vpcId },
    { name: 'ecs.subnet-id', value: instance.subnetId },
  ];
}

/** The container-instance attributes a task definition needs (its requiresAttributes). */
export function taskDefinitionRequirements(definition: Omit<StoredTaskDefinition, 'requiresAttributes' | 'compatibilities'>): string[] {
  const required = new Set<string>();
  for (const c of definition.containerDefinitions ?? []) {
    const driver = c.logConfiguration?.logDriver;
    if (driver) {
      required.add(`com.amazonaws.ecs.capability.logging-driver.${driver}`);
      required.add('com.amazonaws.ecs.capability.docker-remote-api.1.19');
    }
    if (driver === 'awslogs' && definition.executionRoleArn) required.add('ecs.capability.execution-role-awslogs');
  }
  if (definition.taskRoleArn) required.add('com.amazonaws.ecs.capability.task-iam-role');
  if (definition.executionRoleArn) required.add('ecs.capability.execution-role-ecr-pull');
  if (definition.networkMode === 'awsvpc') required.add('ecs.capability.task-eni');
  return [...required].sort();
}

export interface RegisterOptions {
  resources?: Resource[];
  attributes?: { name: string; value?: string }[];
  tags?: EcsTag[];
  /** The EC2 instance, when the agent registers it (gives capacity and attributes). */
  instance?: Ec2InstanceRecord;
  loggingDrivers?: string[];
}

/**
 * Whether the instance role may call ecs:RegisterContainerInstance. The agent on an instance whose role
 * lacks it (typically: AmazonEC2ContainerServiceforEC2Role not attached) never registers, as on AWS.
 * Customer managed policies are given the benefit of the doubt; profiles unknown to the IAM emulation
 * (tests that insert EC2 records directly) are not checked.
 */
export function roleAllowsRegistration(world: World, instanceProfileArn: string): boolean {
  if (!world.state.iam || !findInstanceProfile(world, instanceProfileArn)) return true;
  return instanceProfilePolicyArns(world, instanceProfileArn).some((arn) => {
    const managed = /^arn:aws[a-z-]*:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn);
    if (!managed) return true;
    const document = AWS_MANAGED_POLICIES[managed[1]]?.document;
    return document !== undefined && grantsRegistration(document);
  });
}

function grantsRegistration(document: { Statement?: unknown }): boolean {
  const statements = (Array.isArray(document.Statement) ? document.Statement : [document.Statement]) as JsonItem[];
  return statements.some((st) => {
    if (st?.Effect !== 'Allow') return false;
    const actions = (Array.isArray(st.Action) ? st.Action : [st.Action]) as unknown[];
    return actions.some((a) => a === '*' || a === 'ecs:*' || a === 'ecs:RegisterContainerInstance');
  });
}

/** Register a container instance (the agent's RegisterContainerInstance call). */
export function registerContainerInstance(
  world: World,
  cluster: ClusterRecord,
  ec2InstanceId: string,
  now: number,
  opts: RegisterOptions = {},
): ContainerInstanceRecord {
  const ecs = ecsState(world);
  const region = parseEcsArn(cluster.clusterArn)!.region;
  const capacity = opts.instance ? instanceCapacity(opts.instance.instanceType) : DEFAULT_CAPACITY;
  const resources: Resource[] = opts.resources ?? [
    { name: 'CPU', type: 'INTEGER', integerValue: capacity.cpu, doubleValue: 0, longValue: 0 },
    { name: 'MEMORY', type: 'INTEGER', integerValue: capacity.memory, doubleValue: 0, longValue: 0 },
    { name: 'PORTS', type: 'STRINGSET', stringSetValue: ['22', '2375', '2376', '51678', '51679'], doubleValue: 0, longValue: 0, integerValue: 0 },
    { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [], doubleValue: 0, longValue: 0, integerValue: 0 },
  ];
  const attributes =
    opts.attributes ??
    (opts.instance ? agentAttributes(opts.instance, region, opts.loggingDrivers ?? DEFAULT_LOGGING_DRIVERS) : []);
  const ci: ContainerInstanceRecord = {
    containerInstanceArn: ecsArn(world, region, `container-instance/${cluster.clusterName}/${world.nextId('', 32)}`),
    clusterArn: cluster.clusterArn,
    ec2InstanceId,
    status: 'ACTIVE',
    agentConnected: true,
    registeredResources: resources,
    registeredAt: now,
    attributes,
    versionInfo: { agentVersion: '1.89.2', agentHash: '9a2cd4f1', dockerVersion: 'DockerVersion: 25.0.8' },
    tags: opts.tags ?? [],
    version: 1,
  };
  const ec2 = opts.instance ?? (world.state.ec2 as Ec2StateView | undefined)?.instances?.[ec2InstanceId];
  const provider = ec2 ? registeringProvider(world, region, ec2InstanceId, ec2.tags ?? {}) : undefined;
  if (provider) ci.capacityProviderName = provider;
  ecs.containerInstances[ci.containerInstanceArn] = ci;
  ecs.agentRegistrations[ec2InstanceId] = ci.containerInstanceArn;
  return ci;
}

export function syncAgents(world: World, now: number): void {
  const ecs = ecsState(world);
  const instances = (world.state.ec2 as Ec2StateView | undefined)?.instances ?? {};
  const latency = world.settings.latency;

  for (const instance of Object.values(instances)) {
    if (instance.state !== 'running' || !instance.iamInstanceProfile) continue;
    if (ecs.agentRegistrations[instance.instanceId]) continue;
    if (!roleAllowsRegistration(world, instance.iamInstanceProfile.arn)) continue;
    const due = instance.stateChangedAt + latency.agentRegisterMs;
    if (now < due) continue;
    const config = parseAgentConfig(instance.userData);
    const region = instance.region ?? world.settings.defaultRegion;
    const cluster = ecs.clusters[ecsArn(world, region, `cluster/${config.cluster}`)];
    // Like the real agent, keep retrying until the cluster exists.
    if (!cluster || cluster.status !== 'ACTIVE') continue;
    registerContainerInstance(world, cluster, instance.instanceId, Math.max(due, cluster.createdAt), {
      instance,
      loggingDrivers: config.loggingDrivers,
    });
  }

  // What ECS does when the EC2 instance under a container instance goes away (DeregisterContainerInstance
  // docs): "If you terminate a running container instance, Amazon ECS automatically deregisters the
  // instance from your cluster (stopped container instances or instances with disconnected agents aren't
  // automatically deregistered when terminated)." So:
  //   stopping / stopped      tasks stop, the agent disconnects, the container instance stays ACTIVE;
  //   running again           the agent reconnects the same container instance (after agentRegisterMs);
  //   terminated, agent up    tasks stop, the container instance is deregistered (INACTIVE);
  //   terminated, agent down  nothing changes: it stays ACTIVE with agentConnected=false until
  //                           DeregisterContainerInstance, and DeleteCluster refuses meanwhile.
  for (const ci of Object.values(ecs.containerInstances)) {
    if (ci.status === 'INACTIVE') continue;
    const instance = instances[ci.ec2InstanceId];
    if (!instance && !world.state.ec2) continue; // registered through the API without any EC2 emulation
    if (instance && instance.stateChangedAt > now) continue;
    const state = instance?.state ?? 'terminated';
    if (state === 'pending') continue;
    if (state === 'running') {
      if (!ci.agentConnected && now >= instance!.stateChangedAt + latency.agentRegisterMs) {
        ci.agentConnected = true;
        ci.version += 1;
      }
      continue;
    }
    if (!ci.agentConnected) continue;
    const at = instance ? instance.stateChangedAt : now;
    const stopped = state === 'stopping' || state === 'stopped';
    for (const t of tasksOf(world, (t) => t.containerInstanceArn === ci.containerInstanceArn && isTaskActive(t))) {
      stopTask(t, at, `Host EC2 (instance ${ci.ec2InstanceId}) ${stopped ? 'stopped' : 'terminated'}.`, 'TerminationNotice');
      finishStop(t, at);
    }
    ci.agentConnected = false;
    ci.version += 1;
    if (!stopped) {
      ci.status = 'INACTIVE';
      ci.deregisteredAt = at;
    }
  }
}
