/**
 * Every setting the tool knows, in one table: its flag, its environment variable, its validator and
 * its default. Resolution order (config.ts): flag, then ECS_CWLOGS_* environment, then the saved
 * stack file, then a prompt (wizard) or the default.
 */
import * as v from './validate.js';

export interface StackConfig {
  region: string;
  profile?: string;
  clusterName: string;
  /** Name of the IAM policy, role and instance profile. */
  iamName: string;
  securityGroupName: string;
  instanceType: string;
  /** Empty: no key pair, no SSH. */
  keyName?: string;
  vpcId?: string;
  subnetId?: string;
  allowCidr?: string;
  logGroup: string;
  retentionDays: number;
  taskFamily: string;
  serviceName: string;
  /** The logging image the task definition uses (built and pushed by `image`, or given). */
  image?: string;
  appImage: string;
  /** Where `image` pushes: a registry repository such as user/cloudwatchlogs, or "ecr". */
  imageRepo?: string;
  /**
   * How many container instances. 1 (the default, and no load balancer): one EC2 instance, the lab as
   * it is. More, or a load balancer: an Auto Scaling group behind an ECS capacity provider.
   */
  instances: number;
  /** An Application Load Balancer in front of the tasks (the group topology). */
  loadBalancer: boolean;
  /**
   * Monitoring (src/steps/metric-filters.ts, alarms.ts, alarm-topic.ts, dashboard.ts,
   * query-definitions.ts): on by default; --no-monitoring leaves it out, and removes it from a stack
   * that has it.
   */
  monitoring: boolean;
  /** Where the alarms notify: an SNS topic with an email subscription (none: the alarms only change state). */
  alarmEmail?: string;
  /** The 5xx alarm's threshold: percent of the requests of 5 minutes answered 5xx. */
  alarm5xxPercent: number;
  /** The error-lines alarm's threshold: httpd error lines in 5 minutes. */
  alarmErrorLines: number;
}

export type SettingKey = keyof StackConfig;

export interface Setting<K extends SettingKey = SettingKey> {
  key: K;
  /** Commander flag spec, e.g. "--cluster-name <name>". */
  flag: string;
  /** The flag as users type it, e.g. "--cluster-name". */
  flagName: string;
  /** Commander's attribute name for the flag, e.g. "clusterName" (for --subnet: "subnet"). */
  attribute: string;
  env: string;
  description: string;
  parse: v.Validator<NonNullable<StackConfig[K]>>;
  default?: NonNullable<StackConfig[K]>;
  /** Saved in the stack file (connection details like --profile are too; the endpoint never is). */
  saved: boolean;
}

function setting<K extends SettingKey>(
  key: K,
  flag: string,
  description: string,
  parse: v.Validator<NonNullable<StackConfig[K]>>,
  def?: NonNullable<StackConfig[K]>,
): Setting<K> {
  const flagName = flag.split(' ')[0]!;
  const env = `ECS_CWLOGS_${flagName.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`;
  // As commander camel-cases a flag: --alarm-5xx-percent is alarm5xxPercent.
  const attribute = flagName.replace(/^--/, '').replace(/-([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
  return { key, flag, flagName, attribute, env, description, parse, default: def, saved: true };
}

const any = (s: string) => s;

export const SETTINGS = {
  region: setting('region', '--region <region>', 'AWS region (default: AWS_REGION, then the profile)', v.region),
  profile: setting('profile', '--profile <name>', 'AWS shared config profile', any),
  clusterName: setting('clusterName', '--cluster-name <name>', 'ECS cluster name', v.ecsName('cluster name'), 'ECSCloudWatchLogs'),
  iamName: setting('iamName', '--iam-name <name>', 'base name of the IAM roles, policy and instance profile (<name>-<region>, task role <name>-task-<region>)', v.iamName, 'ECSCloudWatchLogs'),
  securityGroupName: setting('securityGroupName', '--security-group-name <name>', 'security group name', v.securityGroupName, 'ECSCloudWatchLogs'),
  instanceType: setting('instanceType', '--instance-type <type>', 'EC2 instance type', v.instanceType, 't3.small'),
  keyName: setting('keyName', '--key-name <name>', 'EC2 key pair for SSH (default: none, no SSH)', v.keyName),
  vpcId: setting('vpcId', '--vpc <id>', 'VPC id (default: the default VPC)', v.vpcId),
  subnetId: setting('subnetId', '--subnet <id>', 'subnet id (default: a public subnet of the VPC)', v.subnetId),
  allowCidr: setting('allowCidr', '--allow-cidr <cidr>', 'who may reach HTTP/SSH (default: your public IP/32)', v.cidr),
  logGroup: setting('logGroup', '--log-group <name>', 'CloudWatch Logs log group', v.logGroupName, 'ecs'),
  retentionDays: setting('retentionDays', '--retention-days <days>', 'log retention in days', v.retentionDays, 30),
  taskFamily: setting('taskFamily', '--task-family <name>', 'task definition family', v.ecsName('task family'), 'cloudwatchlogs'),
  serviceName: setting('serviceName', '--service-name <name>', 'ECS service name', v.ecsName('service name'), 'cloudwatchlogs'),
  image: setting('image', '--image <ref>', 'logging image reference (default: the one `image` pushed)', v.imageRef),
  appImage: setting('appImage', '--app-image <ref>', 'the app (httpd) image', v.imageRef, 'httpd:2.4'),
  instances: setting('instances', '--instances <n>', 'how many container instances: 1 is one EC2 instance; more is an Auto Scaling group across Availability Zones', v.instanceCount, 1),
  loadBalancer: setting('loadBalancer', '--load-balancer', 'put an Application Load Balancer in front of the tasks (an Auto Scaling group even with --instances 1); --no-load-balancer takes it away', v.flag('--load-balancer'), false),
  monitoring: setting('monitoring', '--monitoring', 'metric filters, alarms, a dashboard and saved Logs Insights queries for the stack (on by default); --no-monitoring leaves them out and removes them', v.flag('--monitoring'), true),
  alarmEmail: setting('alarmEmail', '--alarm-email <address>', 'email the alarms notify, through an SNS topic (the address must confirm the subscription)', v.email),
  alarm5xxPercent: setting('alarm5xxPercent', '--alarm-5xx-percent <percent>', "the 5xx alarm's threshold: percent of 5 minutes' requests answered 5xx", v.percent, 5),
  alarmErrorLines: setting('alarmErrorLines', '--alarm-error-lines <n>', "the error-lines alarm's threshold: httpd error lines in 5 minutes", v.positiveCount('error lines'), 10),
  imageRepo: setting('imageRepo', '--repo <repo>', 'where `image` pushes: a repository such as user/cloudwatchlogs, or "ecr"', any),
} satisfies { [K in SettingKey]: Setting<K> };

export const SETTING_LIST: Setting[] = Object.values(SETTINGS) as Setting[];

/** The two shapes a stack can take (core/topology.ts says what each runs). */
export type Topology = 'single' | 'group';

export function topologyOf(config: Pick<StackConfig, 'instances' | 'loadBalancer'>): Topology {
  return config.instances > 1 || config.loadBalancer ? 'group' : 'single';
}
