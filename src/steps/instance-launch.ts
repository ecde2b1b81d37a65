/**
 * Launching the single topology's instance and waiting for it: the launch request and its ClientToken
 * (one per request and generation, so a re-run after a crash gets the same instance back), the retry
 * while a new instance profile propagates, running, then registered in the cluster; and termination.
 */
import type { _InstanceType, RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { deleteOnce } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { clientToken } from './tokens.js';
import { awsTags } from '../core/context.js';
import { AwsError, awsErrorCode, hasAwsCode } from '../core/errors.js';
import { pollUntil, retryOn, settlingPace, within } from '../core/wait.js';
import { CLUSTER_TAG, METADATA_OPTIONS, rootDeviceOf, type SubnetChoice } from './host.js';

import { LIVE_STATES, describeInstance, instanceShape, stackInstances, type Ctx, type InstanceDesired, type InstanceObserved } from './instance-observe.js';

// ---- apply helpers ----------------------------------------------------------------------------------

/** Terminate the stack's instances (those already shutting down are only waited for) and wait until they are gone. */
export async function terminateAndWait(ctx: Ctx, ids: string[], alreadyGoing: string[] = []): Promise<void> {
  const toTerminate = ids.filter((id) => !alreadyGoing.includes(id));
  if (toTerminate.length) {
    await deleteOnce(() => ctx.ec2.terminateInstances({ InstanceIds: toTerminate }), ['InvalidInstanceID.NotFound']);
  }
  await pollUntil(
    async () => {
      const left = (await stackInstances(ctx, ['pending', 'running', 'stopping', 'stopped', 'shutting-down'])).filter((i) => ids.includes(i.instanceId));
      return left.length === 0 ? true : undefined;
    },
    // Termination takes tens of seconds (shutting-down, then terminated): the settling pace.
    settlingPace(ctx, 10, `${ids.join(', ')} to terminate`),
  );
}

/** The launch request, minus the ClientToken. Deterministic: the token is derived from it. */
export function launchRequest(d: InstanceDesired, securityGroupId: string): Omit<RunInstancesCommandInput, 'ClientToken'> {
  if (!d.amiId) throw new Error('instance: the AMI is not known (prepare did not run)');
  const tags = { ...d.tags, [CLUSTER_TAG]: d.clusterName };
  return {
    ImageId: d.amiId,
    InstanceType: d.instanceType as _InstanceType,
    MinCount: 1,
    MaxCount: 1,
    ...(d.keyName ? { KeyName: d.keyName } : {}),
    IamInstanceProfile: { Name: d.instanceProfileName },
    NetworkInterfaces: [
      { DeviceIndex: 0, SubnetId: d.subnetId, Groups: [securityGroupId], AssociatePublicIpAddress: true, DeleteOnTermination: true },
    ],
    UserData: Buffer.from(d.userData, 'utf8').toString('base64'),
    ...(d.cpuCredits ? { CreditSpecification: { CpuCredits: d.cpuCredits } } : {}),
    MetadataOptions: { ...METADATA_OPTIONS },
    BlockDeviceMappings: [{ DeviceName: d.rootDeviceName ?? '/dev/xvda', Ebs: { VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: awsTags(tags) },
      { ResourceType: 'volume', Tags: awsTags({ ...d.tags }) },
    ],
  };
}

export function isProfilePropagation(e: unknown): boolean {
  return hasAwsCode(e, 'InvalidParameterValue') && /Invalid IAM Instance Profile/i.test((e as Error).message ?? '');
}

export const MAX_GENERATIONS = 50;

/**
 * What the ClientToken is derived from: the launch request without its subnet. One launch keeps its
 * token while it moves from zone to zone, so a run that was cut short after a fallback and runs
 * again (trying the first zone again) gets IdempotentParameterMismatch for that token, and finds the
 * instance it launched by the token instead of launching a second one.
 */
export function tokenBasis(request: Omit<RunInstancesCommandInput, 'ClientToken'>): object {
  return { ...request, NetworkInterfaces: request.NetworkInterfaces?.map(({ SubnetId: _subnet, ...nic }) => nic) };
}

/** Capacity answers: the next zone may have what this one has not. */
export const PLACEMENT_CODES = ['InsufficientInstanceCapacity', 'Unsupported'];

export async function launchedWith(ctx: Ctx, token: string, exclude: readonly string[]): Promise<InstanceObserved | undefined> {
  const res = await ctx.ec2.describeInstances({
    Filters: [
      { Name: 'client-token', Values: [token] },
      { Name: 'instance-state-name', Values: LIVE_STATES },
    ],
  });
  const found = (res.Reservations ?? []).flatMap((r) => r.Instances ?? []).map(instanceShape);
  return found.find((i) => !exclude.includes(i.instanceId));
}

/**
 * RunInstances in the first subnet of the desired choices; on InsufficientInstanceCapacity or
 * Unsupported, in the next one (the next zone), saying so. `exclude`: instances that don't count as
 * this launch (the one a replacement replaces).
 */
export async function launch(ctx: Ctx, desired: InstanceDesired, securityGroupId: string, exclude: readonly string[] = []): Promise<InstanceObserved> {
  // A run that planned no launch looked up only the AMI's id (instance.ts prepare): its root device now.
  const d = desired.rootDeviceName || !desired.amiId ? desired : { ...desired, rootDeviceName: await rootDeviceOf(ctx, desired.amiId) };
  const choices: SubnetChoice[] = d.subnetChoices.length ? d.subnetChoices : [{ subnetId: d.subnetId ?? '' }];
  const tried: { az: string; code: string }[] = [];
  let n = 0;
  for (let k = 0; k < choices.length; k++) {
    const choice = choices[k]!;
    const request = launchRequest({ ...d, subnetId: choice.subnetId || undefined }, securityGroupId);
    const basis = tokenBasis(request);
    let moved = false;
    for (; n < MAX_GENERATIONS; n++) {
      const token = clientToken({ account: ctx.account, region: ctx.config.region, stack: ctx.stack }, basis, n);
      let res;
      try {
        res = await whileProfilePropagates(ctx, () => ctx.ec2.runInstances({ ...request, ClientToken: token }), isProfilePropagation);
      } catch (e) {
        if (hasAwsCode(e, 'IdempotentParameterMismatch')) {
          // That token launched this request in another subnet (a run cut short after a fallback).
          const earlier = await launchedWith(ctx, token, exclude);
          if (earlier) {
            ctx.report(`found ${earlier.instanceId}, launched by an earlier run in ${earlier.subnetId}`);
            return earlier;
          }
          continue;
        }
        if (hasAwsCode(e, ...PLACEMENT_CODES)) {
          const code = awsErrorCode(e) ?? 'InsufficientInstanceCapacity';
          tried.push({ az: choice.az ?? choice.subnetId, code });
          const next = choices[k + 1];
          ctx.report(
            `${code === 'Unsupported' ? `${d.instanceType} is not supported` : `no ${d.instanceType} capacity`} in ${choice.az ?? choice.subnetId}` +
              (next ? `: trying ${next.az ?? next.subnetId} (subnet ${next.subnetId})` : ''),
          );
          moved = true;
          break;
        }
        if (isProfilePropagation(e)) {
          throw new AwsError({
            what: `EC2 does not accept instance profile ${d.instanceProfileName}`,
            why: 'it still is not visible to EC2 after 3 minutes',
            fix: 'Check it exists and holds a role (`ecs-cwlogs iam`), then run the command again.',
            code: awsErrorCode(e),
            cause: e,
          });
        }
        throw e;
      }
      const i = res.Instances?.[0];
      if (!i?.InstanceId) throw new Error('RunInstances returned no instance');
      const state = i.State?.Name ?? 'pending';
      if (state === 'terminated' || state === 'shutting-down') continue; // an earlier generation, since deleted
      if (exclude.includes(i.InstanceId)) continue; // the instance being replaced was launched by this very request
      ctx.report(`launched ${i.InstanceId} in ${choice.az ?? choice.subnetId}: pending`);
      return instanceShape(i);
    }
    if (!moved) throw new Error(`instance: ${MAX_GENERATIONS} launch tokens of this stack are used up`);
  }
  const zones = tried.map((t) => t.az).join(', ');
  throw new AwsError({
    what: `Cannot launch a ${d.instanceType} instance`,
    why: `EC2 has no capacity for it in ${zones} (${[...new Set(tried.map((t) => t.code))].join(', ')})${d.subnetFixed ? `; --subnet ${d.subnetId} allows no other zone` : ''}`,
    fix: `Try another --instance-type (e.g. ${d.architecture === 'arm64' ? 't4g.medium or m7g.medium' : 't3a.small, t3.medium or m5.large'})${d.subnetFixed ? ', or another --subnet' : ''}, or run the command again later.`,
    code: tried[tried.length - 1]?.code,
  });
}

export async function waitRunning(ctx: Ctx, instance: InstanceObserved): Promise<InstanceObserved> {
  if (instance.state === 'running') return instance;
  if (instance.state === 'stopped' || instance.state === 'stopping') {
    ctx.report(`${instance.instanceId} is ${instance.state}: start it (aws ec2 start-instances) or replace it`);
    return instance;
  }
  let last = instance.state;
  return pollUntil(
    async () => {
      const now = await describeInstance(ctx, instance.instanceId);
      if (!now) return undefined;
      if (now.state !== last) {
        last = now.state;
        ctx.report(`${now.instanceId}: ${now.state}`);
      }
      if (now.state === 'running') return now;
      if (now.state === 'terminated' || now.state === 'shutting-down') {
        throw new AwsError({
          what: `Instance ${now.instanceId} stopped while starting`,
          why: `it is ${now.state} (capacity, quota or a bad AMI); see the EC2 console's state reason`,
          fix: 'Run the command again to launch a new one, or try another --instance-type.',
        });
      }
      return undefined;
    },
    { ...within(ctx, 10), intervalMs: ctx.timing.pollMs, what: `${instance.instanceId} to be running` },
  );
}

/** The EC2 instance ids of the cluster's ACTIVE container instances (none when there is no cluster). */
export async function registeredEc2Ids(ctx: Pick<Ctx, 'ecs'>, cluster: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let token: string | undefined;
  do {
    let page;
    try {
      page = await ctx.ecs.listContainerInstances({ cluster, nextToken: token });
    } catch (e) {
      if (hasAwsCode(e, 'ClusterNotFoundException')) return ids;
      throw e;
    }
    const arns = page.containerInstanceArns ?? [];
    for (let k = 0; k < arns.length; k += 100) {
      const res = await ctx.ecs.describeContainerInstances({ cluster, containerInstances: arns.slice(k, k + 100) });
      for (const c of res.containerInstances ?? []) if (c.ec2InstanceId && c.status === 'ACTIVE') ids.add(c.ec2InstanceId);
    }
    token = page.nextToken;
  } while (token);
  return ids;
}

/** Whether the instance is an ACTIVE container instance of the cluster. */
export async function isRegistered(ctx: Pick<Ctx, 'ecs'>, cluster: string, ec2InstanceId: string): Promise<boolean> {
  return (await registeredEc2Ids(ctx, cluster)).has(ec2InstanceId);
}

export async function waitRegistered(ctx: Ctx, instanceId: string, cluster: string): Promise<void> {
  if (await isRegistered(ctx, cluster, instanceId)) return;
  ctx.report(`${instanceId}: running, waiting for the ECS agent to register in cluster ${cluster}`);
  await pollUntil(async () => ((await isRegistered(ctx, cluster, instanceId)) ? true : undefined), {
    ...within(ctx, 10),
    intervalMs: ctx.timing.pollMs,
    what: `${instanceId} to register in cluster ${cluster} (check the instance can reach the internet and its user data)`,
  });
  ctx.report(`${instanceId}: registered in cluster ${cluster}`);
}

/**
 * A call that names an instance profile IAM has not yet propagated to EC2 (RunInstances here, the
 * group's CreateAutoScalingGroup there: docs/aws-behaviour.md), retried for up to 3 minutes while
 * `isPropagation` says that is the error, saying so.
 */
export function whileProfilePropagates<T>(ctx: Pick<Context, 'clock' | 'signal' | 'timing' | 'report'>, call: () => Promise<T>, isPropagation: (e: unknown) => boolean): Promise<T> {
  return retryOn(call, isPropagation, {
    ...within(ctx, 3),
    initialDelayMs: ctx.timing.retryMs,
    maxDelayMs: Math.max(ctx.timing.retryMs, 15_000),
    onRetry: () => ctx.report('waiting for the instance profile to reach EC2 (IAM propagation)'),
  });
}
