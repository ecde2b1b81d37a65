/**
 * The shape of every module's slice of a saved world (world.ts checks a state file against these
 * before serving it), so a damaged or hand-edited file is refused at start with the path of the first
 * wrong member instead of being answered later with internal errors.
 *
 * IAM, CloudWatch Logs, ECR and SSM declare each record once, as its shape, and infer the record's
 * TypeScript type from it (services/iam/records.ts, services/logs/records.ts, services/ecr.ts,
 * services/ssm-parameters.ts): those are only assembled here. The shapes below still follow
 * hand-written record interfaces (ECS: services/ecs/state.ts; EC2, Auto Scaling, ELBv2): the members
 * the code reads are required and typed, members only some records have are optional(); keep them in
 * step until those modules infer their types from these shapes too.
 */
import { json, arrayOf, bool, int, num, object, oneOf, optional, recordOf, str, type Shape } from './shape.js';
import { iamStateShape as iam } from './services/iam/records.js';
import { logsStateShape as logs } from './services/logs/records.js';
import { ecrStateShape as ecr } from './services/ecr.js';
import { ssmStateShape as ssm } from './services/ssm-parameters.js';
import { cloudwatchStateShape as monitoring } from './services/cloudwatch/shapes.js';
import { snsStateShape as sns } from './services/sns/topics.js';
import { taggingStateShape as tagging } from './services/tagging-index.js';

const optNum = optional(num);
const optInt = optional(int);
const optStr = optional(str);
const tagMap = recordOf(str);

// ---- ECS (services/ecs/state.ts)---------------------------------------------------------------------------

const ecsTags = arrayOf(object({ key: str, value: str }));

const cluster = object({
  clusterArn: str,
  clusterName: str,
  status: oneOf('ACTIVE', 'INACTIVE'),
  createdAt: num,
  deletedAt: optNum,
  tags: ecsTags,
  settings: arrayOf(object({ name: str, value: str })),
  capacityProviders: optional(arrayOf(str)),
  defaultCapacityProviderStrategy: optional(arrayOf(object({ capacityProvider: str, weight: int, base: int }))),
  attachments: optional(arrayOf(object({ id: str, type: str, status: str, details: arrayOf(object({ name: str, value: str })) }))),
  attachmentsStatus: optStr,
});

const strategyItem = object({ capacityProvider: str, weight: int, base: int });

const capacityProvider = object({
  capacityProviderArn: str,
  name: str,
  region: str,
  status: oneOf('ACTIVE', 'INACTIVE'),
  autoScalingGroupProvider: object({
    autoScalingGroupArn: str,
    managedScaling: object({ status: oneOf('ENABLED', 'DISABLED'), targetCapacity: int, minimumScalingStepSize: int, maximumScalingStepSize: int, instanceWarmupPeriod: int }),
    managedTerminationProtection: oneOf('ENABLED', 'DISABLED'),
    managedDraining: oneOf('ENABLED', 'DISABLED'),
  }),
  updateStatus: optStr,
  updateStatusReason: optStr,
  tags: ecsTags,
  createdAt: num,
  deleteRequestedAt: optNum,
});

const taskDefinitionFamily = object({
  lastRevision: int,
  revisions: recordOf(
    object({
      taskDefinitionArn: str,
      family: str,
      revision: int,
      status: oneOf('ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'),
      definition: object({ containerDefinitions: arrayOf(object({ name: str, image: str, portMappings: optional(arrayOf(object({ containerPort: int }))) })) }),
      tags: ecsTags,
      registeredAt: num,
      deregisteredAt: optNum,
      deleteRequestedAt: optNum,
    }),
  ),
});

const resource = object({ name: str, type: oneOf('INTEGER', 'STRINGSET', 'DOUBLE', 'LONG'), integerValue: optNum, stringSetValue: optional(arrayOf(str)) });

const containerInstance = object({
  containerInstanceArn: str,
  clusterArn: str,
  ec2InstanceId: str,
  status: oneOf('ACTIVE', 'DRAINING', 'DEREGISTERING', 'INACTIVE'),
  agentConnected: bool,
  registeredResources: arrayOf(resource),
  registeredAt: num,
  deregisteredAt: optNum,
  attributes: arrayOf(object({ name: str, value: optStr })),
  versionInfo: object({ agentVersion: str, agentHash: str, dockerVersion: str }),
  tags: ecsTags,
  version: int,
  capacityProviderName: optStr,
});

const deployment = object({
  id: str,
  status: oneOf('PRIMARY', 'ACTIVE', 'INACTIVE'),
  taskDefinition: str,
  desiredCount: int,
  createdAt: num,
  updatedAt: num,
  rolloutState: oneOf('IN_PROGRESS', 'COMPLETED', 'FAILED'),
  rolloutStateReason: str,
  failedTasks: int,
});

const service = object({
  serviceArn: str,
  serviceName: str,
  clusterArn: str,
  status: oneOf('ACTIVE', 'DRAINING', 'INACTIVE'),
  taskDefinition: str,
  desiredCount: int,
  launchType: str,
  schedulingStrategy: oneOf('REPLICA', 'DAEMON'),
  deploymentConfiguration: object({
    maximumPercent: num,
    minimumHealthyPercent: num,
    deploymentCircuitBreaker: object({ enable: bool, rollback: bool }),
  }),
  placementConstraints: arrayOf(json),
  placementStrategy: arrayOf(json),
  deployments: arrayOf(deployment),
  events: arrayOf(object({ id: str, createdAt: num, message: str })),
  createdAt: num,
  createdBy: str,
  tags: ecsTags,
  enableECSManagedTags: bool,
  propagateTags: str,
  enableExecuteCommand: bool,
  healthCheckGracePeriodSeconds: optInt,
  capacityProviderStrategy: optional(arrayOf(strategyItem)),
  loadBalancers: optional(arrayOf(object({ targetGroupArn: str, containerName: str, containerPort: int }))),
  steady: bool,
  deletedAt: optNum,
});

const networkBinding = object({ bindIP: str, containerPort: int, hostPort: int, protocol: oneOf('tcp', 'udp') });

const task = object({
  taskArn: str,
  clusterArn: str,
  taskDefinitionArn: str,
  containerInstanceArn: str,
  group: str,
  startedBy: optStr,
  serviceArn: optStr,
  lastStatus: oneOf('PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED'),
  desiredStatus: oneOf('RUNNING', 'STOPPED'),
  createdAt: num,
  statusChangedAt: num,
  pullStartedAt: optNum,
  pullStoppedAt: optNum,
  startedAt: optNum,
  stoppingAt: optNum,
  stoppedAt: optNum,
  stopCode: optStr,
  stoppedReason: optStr,
  cpu: num,
  memory: num,
  containers: arrayOf(
    object({ containerArn: str, name: str, image: str, networkBindings: arrayOf(networkBinding), cpu: num, memory: optNum, memoryReservation: optNum }),
  ),
  version: int,
  tags: ecsTags,
  capacityProviderName: optStr,
  registeredTargets: optional(arrayOf(object({ targetGroupArn: str, id: str, port: int }))),
});

const ecs = object({
  clusters: recordOf(cluster),
  taskDefinitions: recordOf(taskDefinitionFamily),
  containerInstances: recordOf(containerInstance),
  services: recordOf(service),
  tasks: recordOf(task),
  agentRegistrations: recordOf(str),
  lastTickAt: optNum,
  capacityProviders: optional(recordOf(capacityProvider)),
});

// ---- EC2 (services/ec2/, types.ts) -----------------------------------------------------------------

const rule = object({ ruleId: str, ipProtocol: str, fromPort: optInt, toPort: optInt, cidrIp: optStr, groupId: optStr, description: optStr });

const instance = object({
  instanceId: str,
  imageId: str,
  instanceType: str,
  state: oneOf('pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped'),
  launchTime: num,
  stateChangedAt: num,
  userData: optStr,
  iamInstanceProfile: optional(object({ arn: str, name: str })),
  publicIpAddress: optStr,
  privateIpAddress: str,
  subnetId: str,
  vpcId: str,
  securityGroupIds: arrayOf(str),
  tags: tagMap,
  region: str,
  reservationId: str,
  amiLaunchIndex: int,
  keyName: optStr,
  availabilityZone: str,
  architecture: str,
  clientToken: optStr,
  iamInstanceProfileId: optStr,
  metadataOptions: object({ httpTokens: str, httpPutResponseHopLimit: int, httpEndpoint: str, instanceMetadataTags: str }),
  blockDevices: arrayOf(object({ deviceName: str, volumeId: str, deleteOnTermination: bool })),
  disableApiTermination: bool,
  stateTransitionReason: optStr,
  wantsPublicIp: bool,
});

const ec2 = object({
  seededRegions: arrayOf(str),
  vpcs: recordOf(object({ vpcId: str, region: str, cidrBlock: str, isDefault: bool, dhcpOptionsId: str, tags: tagMap })),
  subnets: recordOf(
    object({
      subnetId: str,
      region: str,
      vpcId: str,
      cidrBlock: str,
      availabilityZone: str,
      availabilityZoneId: str,
      defaultForAz: bool,
      mapPublicIpOnLaunch: bool,
      nextHost: int,
      tags: tagMap,
    }),
  ),
  securityGroups: recordOf(
    object({ groupId: str, region: str, groupName: str, description: str, vpcId: str, ingress: arrayOf(rule), egress: arrayOf(rule), tags: tagMap }),
  ),
  keyPairs: recordOf(
    object({ keyPairId: str, region: str, keyName: str, keyType: oneOf('rsa', 'ed25519'), keyFingerprint: str, publicKey: str, createTime: num, tags: tagMap }),
  ),
  volumes: recordOf(
    object({
      volumeId: str,
      region: str,
      size: int,
      volumeType: str,
      encrypted: bool,
      iops: optInt,
      throughput: optInt,
      snapshotId: optStr,
      availabilityZone: str,
      createTime: num,
      instanceId: optStr,
      deviceName: optStr,
      deleteOnTermination: bool,
      state: oneOf('in-use', 'available'),
      tags: tagMap,
    }),
  ),
  instances: recordOf(instance),
  reservations: recordOf(object({ reservationId: str, region: str, instanceIds: arrayOf(str), clientToken: optStr, requestHash: optStr })),
  publicIpSeq: int,
  // Absent in files written before launch templates (services/ec2/launch-templates.ts).
  launchTemplates: optional(
    recordOf(
      object({
        launchTemplateId: str,
        launchTemplateName: str,
        region: str,
        createTime: num,
        createdBy: str,
        defaultVersion: int,
        latestVersion: int,
        tags: tagMap,
        versions: recordOf(object({ versionNumber: int, versionDescription: optStr, createTime: num, data: json, clientToken: optStr, requestHash: optStr })),
        clientToken: optStr,
        requestHash: optStr,
      }),
    ),
  ),
});

// ---- Auto Scaling (services/autoscaling/, views.ts AutoScalingView) ---------------------------------

const asgTemplate = object({ launchTemplateId: str, launchTemplateName: str, version: str });

const autoscaling = object({
  groups: recordOf(
    object({
      autoScalingGroupName: str,
      autoScalingGroupArn: str,
      region: str,
      minSize: int,
      maxSize: int,
      desiredCapacity: int,
      newInstancesProtectedFromScaleIn: bool,
      instances: arrayOf(
        object({
          instanceId: str,
          availabilityZone: str,
          lifecycleState: oneOf('Pending', 'InService', 'Terminating', 'Terminated', 'Detaching', 'Detached', 'Standby'),
          healthStatus: oneOf('Healthy', 'Unhealthy'),
          protectedFromScaleIn: bool,
          instanceType: str,
          subnetId: str,
          launchedAt: num,
          launchTemplate: asgTemplate,
        }),
      ),
      tags: tagMap,
      propagateAtLaunch: recordOf(bool),
      createdTime: num,
      launchTemplate: asgTemplate,
      vpcZoneIdentifier: str,
      subnetIds: arrayOf(str),
      availabilityZones: arrayOf(str),
      healthCheckType: str,
      healthCheckGracePeriod: int,
      defaultCooldown: int,
      terminationPolicies: arrayOf(str),
      targetGroupArns: arrayOf(str),
      capacityRebalance: bool,
      maxInstanceLifetime: optInt,
      capacityCause: str,
      lastLaunchFailureAt: optNum,
      status: optStr,
    }),
  ),
  activities: arrayOf(
    object({
      activityId: str,
      region: str,
      autoScalingGroupName: str,
      autoScalingGroupArn: str,
      description: str,
      cause: str,
      startTime: num,
      endTime: optNum,
      statusCode: str,
      statusMessage: optStr,
      progress: int,
      details: str,
      instanceId: optStr,
    }),
  ),
});


// ---- ELBv2 (services/elbv2/state.ts) -----------------------------------------------------------------

const elbLoadBalancer = object({
  loadBalancerArn: str,
  loadBalancerName: str,
  region: str,
  dnsName: str,
  tags: tagMap,
  type: oneOf('application'),
  scheme: oneOf('internet-facing', 'internal'),
  vpcId: str,
  subnets: arrayOf(object({ subnetId: str, availabilityZone: str })),
  securityGroups: arrayOf(str),
  ipAddressType: oneOf('ipv4', 'dualstack'),
  canonicalHostedZoneId: str,
  createdAt: num,
  activeAt: num,
});

const elbTargetGroup = object({
  targetGroupArn: str,
  targetGroupName: str,
  region: str,
  port: int,
  tags: tagMap,
  protocol: str,
  protocolVersion: str,
  vpcId: str,
  targetType: oneOf('instance', 'ip'),
  ipAddressType: oneOf('ipv4', 'ipv6'),
  healthCheck: object({
    protocol: str,
    port: str,
    enabled: bool,
    path: str,
    intervalSeconds: int,
    timeoutSeconds: int,
    healthyThresholdCount: int,
    unhealthyThresholdCount: int,
    matcher: str,
  }),
  attributes: recordOf(str),
  targets: arrayOf(object({ id: str, port: int, availabilityZone: optStr, registeredAt: num, deregisteredAt: optNum })),
  createdAt: num,
});

const elbListener = object({
  listenerArn: str,
  loadBalancerArn: str,
  region: str,
  port: int,
  protocol: str,
  defaultActions: arrayOf(object({ Type: str, TargetGroupArn: optStr })),
  tags: tagMap,
  createdAt: num,
});

const elasticloadbalancing = object({
  loadBalancers: recordOf(elbLoadBalancer),
  targetGroups: recordOf(elbTargetGroup),
  listeners: recordOf(elbListener),
});

/** By ServiceModule.name. A module without an entry (sts, tagging keep nothing) accepts any object. */
export const STATE_SHAPES: Record<string, Shape> = { ecs, ec2, iam, logs, ecr, elasticloadbalancing, autoscaling, ssm, monitoring, sns, tagging };
