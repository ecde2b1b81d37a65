/**
 * The Ask phase of `up` (Validate -> Ask -> Execute, after Copilot).
 *
 * In a terminal, with no --yes, it asks for each setting it doesn't have yet, offering what it read
 * from the account (key pairs, VPCs, subnets) with a good default preselected, validates every
 * answer with the validators the flags use, then shows a summary, the plan and a cost estimate and
 * asks to confirm. A value given as a flag, in the environment or saved by an earlier run is never
 * asked for.
 *
 * Without a terminal (or with --yes) it asks nothing: what can't be defaulted must have been given,
 * and every missing flag is named in one message (exit 2).
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { missingSettingsError, savedFor, type Answers, type Source } from '../core/config.js';
import type { Context } from '../engine/context.js';
import { planReport, type RunPlan } from '../engine/engine.js';
import { showValue } from '../core/step.js';
import { autoScalingGroupStep, imageStep, instanceStep, type AutoScalingGroupOutputs, type InstanceOutputs } from '../steps/index.js';
import { debianLikeImages, DEFAULT_BASE_IMAGE } from '../steps/image.js';
import { costEstimate, hourlyPrice, loadBalancerHourly, type CostEstimate } from '../core/pricing.js';
import { topologyOf } from '../core/topology.js';
import { SETTINGS, type SettingKey, type StackConfig } from '../core/settings.js';
import * as v from '../core/validate.js';
import type { Choice, IoHost } from '../io/host.js';
import { detectPublicIp, offeredZones } from '../steps/instance.js';
import { callerIpEndpoint } from '../aws/endpoints.js';
import { renderStatus } from './summary.js';
import { commandFor } from './invocation.js';
import type { Runtime, Session } from './run.js';

const OTHER = '__other__';
const NONE = '__none__';
const CREATE = '__create__';

export const INSTANCE_CHOICES = ['t3.small', 't3.micro', 't3.medium', 't4g.small', 'm7i.large'] as const;

/** Has the user (flag, env, saved file) already given this setting? Then it is never asked. */
export function given(sources: Partial<Record<SettingKey, Source>>, key: SettingKey): boolean {
  const s = sources[key];
  return s === 'flag' || s === 'env' || s === 'saved' || s === 'prompt' || s === 'tagged' || s === 'cleared';
}

function hasDockerHubLogin(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
  if (!existsSync(file)) return false;
  try {
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, unknown>; credHelpers?: Record<string, unknown>; credsStore?: string };
    const hub = (k: string) => /(^|\/\/)(index\.)?docker\.io(\/|$)/.test(k);
    return Object.keys(cfg.auths ?? {}).some(hub) || Object.keys(cfg.credHelpers ?? {}).some(hub) || Boolean(cfg.credsStore);
  } catch {
    return false;
  }
}

type AnswerKey = keyof Answers;

/** Ask one setting (validated with the flag's validator); the answer, as the flag would give it. */
async function askSetting(io: IoHost, answers: Answers, key: AnswerKey, message: string, def: string | undefined, choices?: Choice<string>[]): Promise<void> {
  const s = SETTINGS[key];
  const validate = v.promptValidator(s.parse as v.Validator<unknown>);
  let raw: string;
  if (choices) {
    raw = await io.ask<string>({ flag: s.flagName, kind: 'select', message, default: def ?? choices[0]!.value, choices });
    if (raw === OTHER) raw = await io.ask<string>({ flag: s.flagName, kind: 'input', message: `${message} (type it)`, default: def ?? '', validate });
  } else {
    raw = await io.ask<string>({ flag: s.flagName, kind: 'input', message, default: def ?? '', validate });
  }
  answers[key] = raw === NONE || raw === '' ? null : (s.parse(raw) as string | number | boolean);
}

export interface Asked {
  /** A question was asked (so the plan is shown and confirmed before anything is created). */
  any: boolean;
  /** A key pair to create once the plan is confirmed. */
  keyPair?: string;
  /** The answers, for core/resolve.ts resolveSettings (Runtime.settle); the wizard writes nothing. */
  answers: Answers;
  /** The image to build the logging image from, chosen for this run (as --base-image: never saved). */
  baseImage?: string;
}

/**
 * Ask: in a terminal (no --yes), each setting not given yet, with choices read from the account.
 * Returns the answers (source "prompt" once resolved); it writes nothing, neither the config nor the
 * stack file nor AWS: a new key pair is only noted, and created after the plan is confirmed.
 */
export async function askMissing(rt: Runtime, s: Session): Promise<Asked> {
  const io = rt.io;
  const answers: Answers = {};
  // The settings as they stand with the answers so far (a view for the next question's defaults).
  const view = (): Readonly<StackConfig> => {
    const out: Record<string, unknown> = { ...s.resolved.config };
    for (const [k, val] of Object.entries(answers)) {
      if (val === null) delete out[k];
      else out[k] = val;
    }
    return out as unknown as StackConfig;
  };
  const sources = s.resolved.sources;
  const imageGiven = Boolean(s.resolved.config.image || s.resolved.config.imageRepo);

  if (!io.interactive) {
    if (!imageGiven) {
      throw missingSettingsError([...imageStep.command.settings], 'the logging image must be pushed somewhere ECS can pull it from: pass --repo (or --ecr), or --image with an image already pushed', commandFor(rt.opts)('up'));
    }
    return { any: false, answers };
  }
  const look = rt.context(s, 'inspect'); // reads only: key pairs, VPCs, subnets
  const firstRun = Object.keys(savedFor(rt.validated.saved, s.conn.target)).length === 0;
  // Answers are saved per stack and target: once saved, `up` asks nothing it already knows.
  const ask = (key: SettingKey) => firstRun && !given(sources, key);
  const result: Asked = { any: false, answers };
  io.emit({ type: 'message', level: 'info', text: `AWS account ${s.conn.account} (${s.conn.callerArn}), region ${s.conn.region}` });

  // 2. Names.
  if (ask('clusterName')) await askSetting(io, answers, 'clusterName', 'ECS cluster name', view().clusterName);

  // 3. The logging image.
  if (!imageGiven) {
    // A rehearsal pushes only to this machine (the sandbox's ECR is on loopback): it offers no
    // registry that a rehearsal would then refuse.
    const rehearsal = s.conn.sandbox;
    const hub = !rehearsal && hasDockerHubLogin();
    const options: Choice<string>[] = rehearsal
      ? [
          { name: "The sandbox's ECR, on this machine (created for you)", value: 'ecr', description: 'nothing leaves this machine' },
          { name: 'A registry on this machine (127.0.0.1:<port>/<repository>)', value: 'registry' },
          { name: 'An image I already have', value: 'given' },
        ]
      : [
          { name: 'Amazon ECR in this account (created for you)', value: 'ecr', description: 'no Docker Hub account needed' },
          { name: 'Docker Hub or another registry', value: 'registry', description: hub ? 'you are logged in to Docker Hub' : 'needs `docker login` first' },
          { name: 'An image I already pushed', value: 'given' },
        ];
    if (hub) options.unshift(options.splice(1, 1)[0]!);
    const where = await io.ask<string>({ flag: '--repo', kind: 'select', message: 'Where should the logging image be pushed?', default: options[0]!.value, choices: options });
    if (where === 'ecr') {
      answers.imageRepo = 'ecr';
    } else if (where === 'registry') {
      const repoRule = (x: string) =>
        !/^[a-z0-9._/:-]+$/.test(x)
          ? 'use lowercase letters, digits and ._-/: (no tag)'
          : rehearsal && !/^(127\.\d+\.\d+\.\d+|localhost)(:\d+)?\//.test(x)
            ? 'a rehearsal pushes only to this machine: 127.0.0.1:<port>/<repository> (or choose the sandbox\'s ECR)'
            : true;
      answers.imageRepo = await io.ask<string>({ flag: '--repo', kind: 'input', message: 'Repository (e.g. user/cloudwatchlogs)', default: rehearsal ? '127.0.0.1:5000/cloudwatchlogs' : 'user/cloudwatchlogs', validate: repoRule });
    } else {
      await askSetting(io, answers, SETTINGS.image.key, 'Logging image reference (e.g. user/cloudwatchlogs@sha256:…)', undefined);
    }
    // A rehearsal builds only from an image this machine has: without the Dockerfile's default
    // base, offer the Debian images the Docker host has (the plan's check would stop on it).
    const flagged = (rt.opts as { baseImage?: string }).baseImage;
    if (rehearsal && where !== 'given' && !flagged) {
      const base = await askBaseImage(io, look.docker);
      if (base) result.baseImage = base;
    }
  }

  // 4. The app, the instance.
  if (ask('appImage')) await askSetting(io, answers, 'appImage', 'App image (runs with its logs piped to the logging container)', view().appImage);
  if (ask('instanceType')) {
    const choices: Choice<string>[] = INSTANCE_CHOICES.map((t) => ({ name: `${t.padEnd(10)} ~$${hourlyPrice(t)?.toFixed(4) ?? '?'}/h`, value: t }));
    choices.push({ name: 'other…', value: OTHER });
    await askSetting(io, answers, 'instanceType', 'Instance type', view().instanceType, choices);
  }

  // 4b. The shape: how many instances, and (for a group) the load balancer in front. 1 is the lab
  // as written; more is an Auto Scaling group across zones. An ALB is offered only for a group: with
  // one instance the app is reached on the instance's own address (--load-balancer still makes a
  // group of one, for who wants it).
  if (ask('instances')) {
    const price = hourlyPrice(view().instanceType);
    const each = price ? ` ~$${price.toFixed(4)}/h each` : '';
    const choices: Choice<string>[] = [
      { name: '1  one EC2 instance (the lab as written)', value: '1' },
      { name: `2  an Auto Scaling group across Availability Zones${each}`, value: '2' },
      { name: `3  an Auto Scaling group across Availability Zones${each}`, value: '3' },
      { name: 'other…', value: OTHER },
    ];
    await askSetting(io, answers, 'instances', 'How many instances', String(view().instances), choices);
  }
  if (ask('loadBalancer') && view().instances > 1) {
    const yes = await io.ask<boolean>({
      flag: SETTINGS.loadBalancer.flagName,
      kind: 'confirm',
      message: `Put an Application Load Balancer in front (one URL for every task, ~$${loadBalancerHourly().toFixed(4)}/h)?`,
      default: true,
    });
    answers.loadBalancer = yes;
  }
  const group = topologyOf(view()) === 'group';

  // 5. Key pair: the account's, none, or a new one (created after the plan is confirmed).
  if (ask('keyName')) {
    const keys = (await look.ec2.describeKeyPairs({})).KeyPairs ?? [];
    const choices: Choice<string>[] = [
      { name: 'none (no SSH)', value: NONE },
      ...keys.map((k) => ({ name: k.KeyName ?? '', value: k.KeyName ?? '' })),
      { name: 'create a new key pair', value: CREATE },
    ];
    const pick = await io.ask<string>({ flag: '--key-name', kind: 'select', message: 'Key pair for SSH', default: NONE, choices });
    if (pick === CREATE) {
      const name = await io.ask<string>({ flag: '--key-name', kind: 'input', message: 'New key pair name', default: `ecs-cwlogs-${rt.stack}`, validate: v.promptValidator(v.keyName) });
      answers.keyName = name;
      result.keyPair = name;
    } else answers.keyName = pick === NONE ? null : pick;
  }

  // 6. Network: VPC (default preselected) and a subnet in it (a public one preselected).
  if (ask('vpcId')) {
    const vpcs = (await look.ec2.describeVpcs({})).Vpcs ?? [];
    const def = vpcs.find((x) => x.IsDefault)?.VpcId ?? vpcs[0]?.VpcId;
    const choices = vpcs.map((x) => ({ name: `${x.VpcId} ${x.CidrBlock ?? ''}${x.IsDefault ? ' (default)' : ''}${nameTag(x.Tags)}`, value: x.VpcId ?? '' }));
    if (choices.length) await askSetting(io, answers, 'vpcId', 'VPC', def, choices);
  }
  // A group uses a public subnet in each zone of the VPC: no subnet to ask.
  const config = view();
  if (ask('subnetId') && config.vpcId && !group) {
    const subnets = (await look.ec2.describeSubnets({ Filters: [{ Name: 'vpc-id', Values: [config.vpcId] }] })).Subnets ?? [];
    // Zones that don't offer the instance type are marked (choosing one is refused at plan time).
    const offered = await offeredZones(look, config.instanceType).catch(() => undefined);
    const offers = (x: { AvailabilityZone?: string }) => !offered || !x.AvailabilityZone || offered.has(x.AvailabilityZone);
    const def = subnets.find((x) => x.MapPublicIpOnLaunch && offers(x))?.SubnetId ?? subnets.find((x) => x.MapPublicIpOnLaunch)?.SubnetId ?? subnets[0]?.SubnetId;
    const choices = subnets.map((x) => ({
      name: `${x.SubnetId} ${x.AvailabilityZone ?? ''} ${x.CidrBlock ?? ''}${x.MapPublicIpOnLaunch ? ' public' : ' private (no public IP: the URL will not be reachable)'}${offers(x) ? '' : ` (${config.instanceType} not offered in this zone)`}${nameTag(x.Tags)}`,
      value: x.SubnetId ?? '',
    }));
    if (choices.length) await askSetting(io, answers, 'subnetId', 'Subnet', def, choices);
  }

  // 7. Who may connect: the detected public IP preselected.
  if (ask('allowCidr')) {
    const found = await detectPublicIp(await callerIpEndpoint(look));
    await askSetting(io, answers, 'allowCidr', 'Allow HTTP (and SSH) from', found.ip ? `${found.ip}/32` : undefined);
  }

  // 8. Logs.
  if (ask('logGroup')) await askSetting(io, answers, 'logGroup', 'CloudWatch Logs log group', config.logGroup);
  if (ask('retentionDays')) {
    const choices = [7, 14, 30, 90, 365, 3653].map((d) => ({ name: `${d} days`, value: String(d) }));
    await askSetting(io, answers, 'retentionDays', 'Keep logs for', String(config.retentionDays), choices);
  }
  result.any = Object.keys(answers).length > 0;
  return result;
}

function nameTag(tags: { Key?: string; Value?: string }[] | undefined): string {
  const n = tags?.find((t) => t.Key === 'Name')?.Value;
  return n ? ` ${n}` : '';
}

/** The key pair the wizard was asked to create, once the plan is confirmed. */
export async function createPendingKeyPair(ctx: Context, io: IoHost, name: string): Promise<string> {
  const res = await ctx.ec2.createKeyPair({
    KeyName: name,
    KeyType: 'ed25519',
    TagSpecifications: [{ ResourceType: 'key-pair', Tags: Object.entries(ctx.tags).map(([Key, Value]) => ({ Key, Value })) }],
  });
  const dir = join(homedir(), '.ssh');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${name}.pem`);
  await writeFile(file, res.KeyMaterial ?? '', { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  io.emit({ type: 'message', level: 'success', text: `Key pair ${name} created; private key saved to ${file} (mode 0600)` });
  return name;
}

export function summaryLines(c: StackConfig, stack: string, inst?: InstanceOutputs, asked?: Asked): string[] {
  const row = (k: string, val: unknown) => `  ${k.padEnd(16)} ${val === undefined || val === '' ? '(none)' : String(val)}`;
  return [
    `Stack ${stack}`,
    row('region', c.region),
    row('cluster', c.clusterName),
    row('logging image', c.image ?? (c.imageRepo ? `built${asked?.baseImage ? ` from ${asked.baseImage}` : ''} and pushed to ${c.imageRepo === 'ecr' ? 'ECR' : c.imageRepo}` : undefined)),
    row('app image', c.appImage),
    row('instance type', c.instanceType),
    row('instances', c.instances > 1 || c.loadBalancer ? `${c.instances}, an Auto Scaling group across Availability Zones (ECS capacity provider)` : '1 (one EC2 instance; --instances N for a group)'),
    row('load balancer', c.loadBalancer ? 'an Application Load Balancer, HTTP 80 (dynamic host ports behind it)' : 'none (--load-balancer adds one)'),
    row('key pair', c.keyName ? `${c.keyName}${asked?.keyPair === c.keyName ? ' (created now, private key saved to ~/.ssh)' : ''}` : 'none (no SSH)'),
    c.instances > 1 || c.loadBalancer
      ? row('VPC / subnets', `${c.vpcId ?? 'the default VPC'} / a public subnet in each zone`)
      : row('VPC / subnet', `${c.vpcId ?? `${showValue(inst?.vpcId) || 'the'} (default VPC)`} / ${c.subnetId ?? `${showValue(inst?.subnetId) || 'a'} (public subnet)`}`),
    row('allowed from', c.allowCidr),
    row('log group', `${c.logGroup} (${c.retentionDays} days)`),
  ];
}

/** What the planned stack costs to run (the group's zones from its plan; a rehearsal: $0). */
export function planCost(ctx: Context, plan: RunPlan): CostEstimate {
  const zones = (plan.byId.get(autoScalingGroupStep.id)?.preview as AutoScalingGroupOutputs | undefined)?.zones.length ?? 2;
  return costEstimate(ctx.config, zones, ctx.target.kind === 'sandbox');
}

/** Confirm: the settings, the plan and the cost, then "Create these resources?". False: the user said no. */
export async function confirmPlan(rt: Runtime, ctx: Context, plan: RunPlan, asked: Asked): Promise<boolean> {
  const io = rt.io;
  const report = planReport(plan);
  const inst = plan.byId.get(instanceStep.id)?.preview as InstanceOutputs | undefined;
  const text = [
    '',
    ...summaryLines(ctx.config, rt.stack, inst, asked),
    '',
    renderStatus(rt.stack, report).split('\n').slice(1).join('\n'),
    '',
    planCost(ctx, plan).text,
    '',
  ].join('\n');
  io.emit({ type: 'message', level: 'info', text });
  return io.ask({ flag: '--yes', kind: 'confirm', message: 'Create these resources?', default: true });
}

/**
 * When the Dockerfile's default base image is not on the Docker host, the Debian images it has, to
 * build from (undefined: the default is there, Docker cannot be asked, or it has none: the plan's
 * check then says what to do).
 */
async function askBaseImage(io: IoHost, docker: Pick<Context['docker'], 'inspectImage' | 'listImages'>): Promise<string | undefined> {
  try {
    if (await docker.inspectImage(DEFAULT_BASE_IMAGE)) return undefined;
  } catch {
    return undefined;
  }
  const candidates = await debianLikeImages(docker);
  if (!candidates.length) return undefined;
  return io.ask<string>({
    flag: '--base-image',
    kind: 'select',
    message: `Build the logging image from (${DEFAULT_BASE_IMAGE} is not on this Docker host)`,
    default: candidates[0]!,
    choices: candidates.map((c) => ({ name: c, value: c })),
  });
}
