/**
 * Step: the stack's IAM (lab steps 2-3), least privilege as AWS advises for ECS:
 *
 *   instance role  <iamName>-<region>: EC2 may assume it; only AmazonEC2ContainerServiceforEC2Role
 *                  (what the ECS agent needs: register, poll, pull from ECR, ...; AWS keeps it current),
 *                  in an instance profile of the same name.
 *   task role      <iamName>-task-<region>: only ecs-tasks.amazonaws.com may assume it, for tasks of
 *                  this account and region (aws:SourceAccount, aws:SourceArn, as the ECS developer
 *                  guide recommends against the confused deputy). The logging task runs with it.
 *   policy         <iamName>-<region>, attached to the task role only: the CloudWatch agent's logs
 *                  actions on the stack's log group only (templates/iam-policy.json).
 *
 * The task role lives in this step rather than a step of its own: it shares the base name, the path
 * and the teardown (IAM resources are found by the stack's path and a base name), and the instance
 * and task roles have to change together (the policy moves from one to the other on an older stack).
 *
 * Drift: a policy document that differs from templates/iam-policy.json gets a new default version (the
 * oldest non-default version is deleted first when there are already 5, IAM's limit). A changed trust
 * policy is put back. A missing attachment or profile link is repaired. Nothing else is touched: other
 * policies attached to the role by someone else stay.
 */
import { REGION_TAG, STACK_TAG, awsTags, ownedBy } from '../core/context.js';
import { deepEqual, diff, normalise } from '../core/diff.js';
import { ConflictError, hasAwsCode } from '../core/errors.js';
import { isAbsent, unknown, type Absent, type DestroyResult, type FieldDiff, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { renderJson } from '../core/templates.js';
import { retryOn, within } from '../core/wait.js';
import { ecsInstancePolicyArn, iamPolicyArn, logGroupArn, partitionOf } from './arns.js';
import { ownershipConflict, ownedTagsDiff } from './ownership.js';
import { iamPath } from './inventory.js';
import { tagMap } from './host.js';
import { type Ctx, type IamObserved, type IamDesired, notFoundAsUndefined, readPolicy, readRole, readProfile, nameFor, taskRoleNameFor, policyArnFor, shortArn, readIam, readPolicyNamed, readIamOwners, stackBaseNames, listVersions, putDefaultVersion, ignoreNotFound, roleAtStart, policyAtStart, profileAtStart, attachedPolicyArns } from './iam-observe.js';

export interface IamOutputs {
  policyArn: string;
  roleName: string;
  roleArn: Later<string>;
  instanceProfileName: string;
  instanceProfileArn: Later<string>;
  /** The logging task's role (logs on the stack's group only). Its ARN follows from path and name. */
  taskRoleName: string;
  taskRoleArn: Later<string>;
}

declare module '../core/step.js' {
  interface StepOutputs {
    iam: IamOutputs;
  }
}

export { MAX_POLICY_VERSIONS, type PolicyObserved, type RoleObserved, type ProfileObserved, type IamObserved, type IamDesired, decodePolicyDocument, readPolicy, readRole, readProfile } from './iam-observe.js';

/** The differences, part by part. Conflicts (a part not ours, no --adopt) are returned separately. */
function compare(o: IamObserved, d: IamDesired): { diffs: FieldDiff[]; conflict?: Plan } {
  const diffs: FieldDiff[] = [];
  const parts: [string, string, string, { owned: boolean; tags: Record<string, string> } | undefined][] = [
    ['IAM policy', 'policy', d.name, o.policy],
    ['IAM role', 'role', d.name, o.role],
    ['Instance profile', 'instanceProfile', d.name, o.profile],
    ['IAM task role', 'taskRole', d.taskRoleName, o.taskRole],
  ];
  for (const [kind, key, name, part] of parts) {
    if (!part) {
      diffs.push({ field: key, from: undefined, to: name });
      continue;
    }
    if (!part.owned && !d.adopt) return { diffs, conflict: ownershipConflict(kind, name, part.tags[STACK_TAG], 'iam') };
    diffs.push(...ownedTagsDiff(part.tags, d.tags).map((x) => ({ ...x, field: `${key}.${x.field}` })));
  }
  if (o.policy) diffs.push(...diff(o.policy.document, d.policyDocument, 'policy.document'));
  if (o.role) {
    diffs.push(...diff(o.role.trustPolicy, d.trustPolicy, 'role.trustPolicy'));
    for (const arn of d.attachPolicyArns) {
      if (!o.role.attachedPolicyArns.includes(arn)) diffs.push({ field: `role.attachedPolicies.${shortArn(arn)}`, from: 'detached', to: 'attached' });
    }
    for (const arn of d.detachPolicyArns) {
      if (o.role.attachedPolicyArns.includes(arn)) diffs.push({ field: `role.attachedPolicies.${shortArn(arn)}`, from: 'attached', to: 'detached' });
    }
  }
  if (o.taskRole) {
    diffs.push(...diff(o.taskRole.trustPolicy, d.taskTrustPolicy, 'taskRole.trustPolicy'));
    for (const arn of d.taskAttachPolicyArns) {
      if (!o.taskRole.attachedPolicyArns.includes(arn)) diffs.push({ field: `taskRole.attachedPolicies.${shortArn(arn)}`, from: 'detached', to: 'attached' });
    }
  }
  if (o.profile && !(o.profile.roles.length === 1 && o.profile.roles[0] === d.name)) {
    diffs.push({ field: 'instanceProfile.roles', from: o.profile.roles, to: [d.name] });
  }
  return { diffs };
}

export const iamStep: DeclaredStep<Ctx, IamObserved, IamDesired, undefined, 'iam'> = {
  id: 'iam',
  title: 'IAM policy, role and instance profile',
  dependsOn: [],
  command: {
    summary: 'Create the IAM roles: the container instance\'s (the ECS agent\'s managed policy only) and the logging task\'s (logs on the stack\'s group only), lab steps 2-3',
    settings: ['iamName', 'logGroup'],
    examples: [
      'ecs-cwlogs iam',
      'ecs-cwlogs iam --iam-name logs-demo --log-group /ecs/logs-demo --dry-run',
      'ecs-cwlogs iam --delete --yes',
    ],
  },
  shapes: ['single', 'group'],
  tagged: [],

  async read(ctx): Promise<IamObserved | Absent> {
    return readIam(ctx, ctx.config.iamName);
  },

  desired(ctx) {
    const partition = partitionOf(ctx.callerArn);
    const policyArn = policyArnFor(ctx);
    return {
      name: nameFor(ctx),
      path: iamPath(ctx.stack),
      policyArn,
      policyDocument: renderJson('iam-policy.json', {
        logGroupArn: logGroupArn(partition, ctx.config.region, ctx.account, ctx.config.logGroup),
      }),
      trustPolicy: renderJson('ec2-trust-policy.json', {}),
      attachPolicyArns: [ecsInstancePolicyArn(partition)],
      detachPolicyArns: [policyArn],
      taskRoleName: taskRoleNameFor(ctx),
      taskRoleArn: `arn:${partition}:iam::${ctx.account}:role${iamPath(ctx.stack)}${taskRoleNameFor(ctx)}`,
      taskTrustPolicy: renderJson('ecs-tasks-trust-policy.json', { partition, region: ctx.config.region, account: ctx.account }),
      taskAttachPolicyArns: [policyArn],
      tags: { ...ctx.tags, [REGION_TAG]: ctx.config.region },
      adopt: ctx.flags.adopt,
    };
  },

  plan(observed, desired): Plan {
    if (isAbsent(observed)) {
      return {
        action: 'create',
        summary: `instance role and profile ${desired.name} (AmazonEC2ContainerServiceforEC2Role only), task role ${desired.taskRoleName} with policy ${desired.name} (logs on the stack's log group only)`,
      };
    }
    const { diffs, conflict } = compare(observed, desired);
    if (conflict) return conflict;
    if (diffs.length === 0) return { action: 'noop', summary: desired.name };
    const what = diffs.map((d) => d.field.split('.').slice(0, 2).join('.')).filter((v, i, a) => a.indexOf(v) === i);
    return { action: 'update', summary: what.join(', '), diffs };
  },

  async apply(ctx, { observed, desired }) {
    const o: IamObserved = isAbsent(observed) ? {} : observed;
    const name = desired.name;
    const tags = awsTags(desired.tags);

    // 1. The policy, and its document as the default version.
    let policy = o.policy;
    if (!policy) {
      policy = await createOrRead(
        () =>
          ctx.iam.createPolicy({
            PolicyName: name,
            Path: desired.path,
            PolicyDocument: JSON.stringify(desired.policyDocument),
            Description: `ecs-cwlogs (stack ${ctx.stack}): the CloudWatch agent's access to log group ${ctx.config.logGroup} (task role only)`,
            Tags: tags,
          }),
        () => readPolicy(ctx, desired.policyArn),
        'IAM policy',
        desired,
      );
    }
    if (policy) {
      if (ownedTagsDiff(policy.tags, desired.tags).length) await ctx.iam.tagPolicy({ PolicyArn: policy.arn, Tags: tags });
      if (!deepEqual(normalise(policy.document), normalise(desired.policyDocument))) {
        await putDefaultVersion(ctx, policy.arn, desired.policyDocument);
      }
    }

    // 2. The role: trust policy, tags, attachments.
    let role = o.role;
    if (!role) {
      role = await createOrRead(
        () =>
          ctx.iam.createRole({
            RoleName: name,
            Path: desired.path,
            AssumeRolePolicyDocument: JSON.stringify(desired.trustPolicy),
            Description: `ecs-cwlogs (stack ${ctx.stack}): the ECS container instance role`,
            Tags: tags,
          }),
        () => readRole(ctx, name),
        'IAM role',
        desired,
      );
    }
    if (role) {
      if (ownedTagsDiff(role.tags, desired.tags).length) await ctx.iam.tagRole({ RoleName: name, Tags: tags });
      if (!deepEqual(normalise(role.trustPolicy), normalise(desired.trustPolicy))) {
        await ctx.iam.updateAssumeRolePolicy({ RoleName: name, PolicyDocument: JSON.stringify(desired.trustPolicy) });
      }
    }
    const attached = role?.attachedPolicyArns ?? [];
    for (const arn of desired.attachPolicyArns) {
      if (attached.includes(arn)) continue;
      // A policy created a moment ago may not be attachable yet (IAM is eventually consistent).
      await retryOn(() => ctx.iam.attachRolePolicy({ RoleName: name, PolicyArn: arn }), ['NoSuchEntity', 'NoSuchEntityException'], retryOpts(ctx, 'the new policy to propagate'));
    }

    // 2b. The task role: trust, tags, our policy.
    const taskName = desired.taskRoleName;
    let taskRole = o.taskRole;
    if (!taskRole) {
      taskRole = await createOrRead(
        () =>
          ctx.iam.createRole({
            RoleName: taskName,
            Path: desired.path,
            AssumeRolePolicyDocument: JSON.stringify(desired.taskTrustPolicy),
            Description: `ecs-cwlogs (stack ${ctx.stack}): the logging task's role, logs on ${ctx.config.logGroup} only`,
            Tags: tags,
          }),
        () => readRole(ctx, taskName),
        'IAM task role',
        { ...desired, name: taskName },
      );
    }
    if (taskRole) {
      if (ownedTagsDiff(taskRole.tags, desired.tags).length) await ctx.iam.tagRole({ RoleName: taskName, Tags: tags });
      if (!deepEqual(normalise(taskRole.trustPolicy), normalise(desired.taskTrustPolicy))) {
        await ctx.iam.updateAssumeRolePolicy({ RoleName: taskName, PolicyDocument: JSON.stringify(desired.taskTrustPolicy) });
      }
    }
    for (const arn of desired.taskAttachPolicyArns) {
      if (taskRole?.attachedPolicyArns.includes(arn)) continue;
      await retryOn(() => ctx.iam.attachRolePolicy({ RoleName: taskName, PolicyArn: arn }), ['NoSuchEntity', 'NoSuchEntityException'], retryOpts(ctx, 'the new role to propagate'));
    }
    // Then off the instance role (an older stack had the logs policy there): after the task role has it.
    for (const arn of desired.detachPolicyArns) {
      if (attached.includes(arn)) await ignoreNotFound(ctx.iam.detachRolePolicy({ RoleName: name, PolicyArn: arn }));
    }

    // 3. The instance profile, holding exactly our role.
    let profile = o.profile;
    if (!profile) {
      profile = await createOrRead(
        () => ctx.iam.createInstanceProfile({ InstanceProfileName: name, Path: desired.path, Tags: tags }),
        () => readProfile(ctx, name),
        'Instance profile',
        desired,
      );
    }
    const profileRoles = profile?.roles ?? [];
    if (profile && ownedTagsDiff(profile.tags, desired.tags).length) await ctx.iam.tagInstanceProfile({ InstanceProfileName: name, Tags: tags });
    for (const other of profileRoles.filter((r) => r !== name)) {
      await ctx.iam.removeRoleFromInstanceProfile({ InstanceProfileName: name, RoleName: other });
    }
    if (!profileRoles.includes(name)) {
      await retryOn(
        async () => {
          try {
            await ctx.iam.addRoleToInstanceProfile({ InstanceProfileName: name, RoleName: name });
          } catch (e) {
            // Added by an earlier attempt whose answer was lost: the profile already holds it.
            if (hasAwsCode(e, 'LimitExceeded', 'LimitExceededException')) {
              const again = await readProfile(ctx, name);
              if (again?.roles.length === 1 && again.roles[0] === name) return;
            }
            throw e;
          }
        },
        ['NoSuchEntity', 'NoSuchEntityException'],
        retryOpts(ctx, 'the new role to propagate'),
      );
    }

    const partition = partitionOf(ctx.callerArn);
    return {
      policyArn: desired.policyArn,
      roleName: name,
      roleArn: role?.arn || `arn:${partition}:iam::${ctx.account}:role${desired.path}${name}`,
      instanceProfileName: name,
      instanceProfileArn: profile?.arn || `arn:${partition}:iam::${ctx.account}:instance-profile${desired.path}${name}`,
      taskRoleName: taskName,
      taskRoleArn: taskRole?.arn || desired.taskRoleArn,
    };
  },

  preview(observed, desired) {
    const o: IamObserved = isAbsent(observed) ? {} : observed;
    return {
      policyArn: desired.policyArn,
      roleName: desired.name,
      roleArn: o.role?.arn ?? unknown('create'),
      instanceProfileName: desired.name,
      instanceProfileArn: o.profile?.arn ?? unknown('create'),
      // Known before it exists: an IAM ARN follows from its path and name.
      taskRoleName: desired.taskRoleName,
      taskRoleArn: o.taskRole?.arn ?? desired.taskRoleArn,
    };
  },

  describe: (o) => ({
    policy: o.policy ? `${o.policy.arn} (default ${o.policy.defaultVersionId})` : 'missing',
    role: o.role ? `${o.role.arn} (${o.role.attachedPolicyArns.map(shortArn).join(', ') || 'no policies'})` : 'missing',
    instanceProfile: o.profile ? `${o.profile.arn} (${o.profile.roles.join(', ') || 'no role'})` : 'missing',
    taskRole: o.taskRole ? `${o.taskRole.arn} (${o.taskRole.attachedPolicyArns.map(shortArn).join(', ') || 'no policies'})` : 'missing',
  }),

  async destroy(ctx) {
    const result: DestroyResult = { deleted: [], kept: [] };
    for (const base of await stackBaseNames(ctx)) {
      const r = await destroyOne(ctx, base);
      result.deleted.push(...r.deleted);
      result.kept.push(...r.kept);
    }
    return result;
  },

  async destroyPreview(ctx) {
    const result: DestroyResult = { deleted: [], kept: [] };
    for (const base of await stackBaseNames(ctx)) {
      const name = nameFor(ctx, base);
      const o = await readIamOwners(ctx, base);
      const taskName = taskRoleNameFor(ctx, base);
      for (const [what, owned, n] of [['instance profile', o.profile, name], ['IAM role', o.role, name], ['IAM task role', o.taskRole, taskName], ['IAM policy', o.policy, name]] as const) {
        if (owned === undefined) continue;
        if (owned) result.deleted.push(`${what} ${n}${what === 'IAM policy' ? ' and all its versions' : ''}`);
        else result.kept.push(`${what} ${n} (not tagged as stack ${ctx.stack})`);
      }
    }
    return result;
  },
};

/** Delete the policy, roles and profile of a base name in this region that are the stack's. */
async function destroyOne(ctx: Ctx, base: string): Promise<DestroyResult> {
  const name = nameFor(ctx, base);
  const deleted: string[] = [];
  const kept: string[] = [];
  const notOurs = (what: string) => kept.push(`${what} ${name} (not tagged as stack ${ctx.stack})`);

  // Instance profile first (it holds the role), then the role, then the policy; each as the
  // confirmation list found it (its Get calls are the run's, read once).
  const ip = (await profileAtStart(ctx, name))?.InstanceProfile;
  if (ip && !ownedBy(tagMap(ip.Tags), ctx.stack)) notOurs('instance profile');
  else if (ip) {
    for (const r of ip.Roles ?? []) if (r.RoleName) await ignoreNotFound(ctx.iam.removeRoleFromInstanceProfile({ InstanceProfileName: name, RoleName: r.RoleName }));
    await ignoreNotFound(ctx.iam.deleteInstanceProfile({ InstanceProfileName: name }));
    deleted.push(`instance profile ${name}`);
  }

  // What this step attached to each role: the ECS agent's managed policy, and ours on the task role.
  const roles = [
    ['role', name, [ecsInstancePolicyArn(partitionOf(ctx.callerArn))]],
    ['task role', taskRoleNameFor(ctx, base), [policyArnFor(ctx, base)]],
  ] as const;
  for (const [what, roleName, attachedByStep] of roles) {
    const role = (await roleAtStart(ctx, roleName))?.Role;
    if (role && !ownedBy(tagMap(role.Tags), ctx.stack)) kept.push(`${what} ${roleName} (not tagged as stack ${ctx.stack})`);
    else if (role) {
      await deleteRole(ctx, roleName, attachedByStep);
      deleted.push(`${what} ${roleName}`);
    }
  }

  // At the stack's path, else somebody else's of that name at the root path (as readPolicyNamed).
  const atPath = (await policyAtStart(ctx, policyArnFor(ctx, base)))?.Policy;
  const policy = atPath ?? (await policyAtStart(ctx, iamPolicyArn(partitionOf(ctx.callerArn), ctx.account, name)))?.Policy;
  if (policy && !ownedBy(tagMap(policy.Tags), ctx.stack)) notOurs('policy');
  else if (policy?.Arn) {
    const policyArn = policy.Arn;
    // IAM refuses DeletePolicy (DeleteConflict) while the policy has versions besides its default or is
    // attached: asked first, its versions listed only when refused (docs/aws-behaviour.md, "Deleting
    // IAM roles and policies: asked, not listed first").
    let versions = 1;
    try {
      await ignoreNotFound(ctx.iam.deletePolicy({ PolicyArn: policyArn }));
    } catch (e) {
      if (!isDeleteConflict(e)) throw e;
      const listed = await listVersions(ctx, policyArn);
      versions = listed.length;
      for (const v of listed.filter((x) => !x.IsDefaultVersion)) {
        await ignoreNotFound(ctx.iam.deletePolicyVersion({ PolicyArn: policyArn, VersionId: v.VersionId }));
      }
      try {
        await ignoreNotFound(ctx.iam.deletePolicy({ PolicyArn: policyArn }));
      } catch (e2) {
        if (!isDeleteConflict(e2)) throw e2;
        kept.push(`policy ${name} (still attached to a role, user or group outside this stack: detach it, then run again)`);
        return { deleted, kept };
      }
    }
    deleted.push(`policy ${name} (${versions} version${versions === 1 ? '' : 's'})`);
  }
  return { deleted, kept };
}

const isDeleteConflict = (e: unknown) => hasAwsCode(e, 'DeleteConflict', 'DeleteConflictException');

/**
 * Delete a role. IAM refuses DeleteRole (DeleteConflict) while a managed policy is attached or an
 * instance profile holds it, so the step detaches what it attached itself (NoSuchEntity: already
 * detached) and asks; only when refused does it list what else holds the role and let go of it
 * (docs/aws-behaviour.md, "Deleting IAM roles and policies: asked, not listed first").
 */
async function deleteRole(ctx: Ctx, roleName: string, attachedByStep: readonly string[]): Promise<void> {
  for (const arn of attachedByStep) await ignoreNotFound(ctx.iam.detachRolePolicy({ RoleName: roleName, PolicyArn: arn }));
  try {
    await ignoreNotFound(ctx.iam.deleteRole({ RoleName: roleName }));
    return;
  } catch (e) {
    if (!isDeleteConflict(e)) throw e;
  }
  for (const arn of (await attachedPolicyArns(ctx, roleName)) ?? []) await ignoreNotFound(ctx.iam.detachRolePolicy({ RoleName: roleName, PolicyArn: arn }));
  for (const holder of await profilesHolding(ctx, roleName)) await ignoreNotFound(ctx.iam.removeRoleFromInstanceProfile({ InstanceProfileName: holder, RoleName: roleName }));
  await ignoreNotFound(ctx.iam.deleteRole({ RoleName: roleName }));
}

/** The instance profiles that hold a role. */
async function profilesHolding(ctx: Ctx, roleName: string): Promise<string[]> {
  const out: string[] = [];
  let marker: string | undefined;
  do {
    const page = await notFoundAsUndefined(ctx.iam.listInstanceProfilesForRole({ RoleName: roleName, Marker: marker }));
    for (const ip of page?.InstanceProfiles ?? []) if (ip.InstanceProfileName) out.push(ip.InstanceProfileName);
    marker = page?.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return out;
}

function retryOpts(ctx: Pick<Ctx, 'clock' | 'signal' | 'timing' | 'report'>, what: string) {
  return {
    ...within(ctx, 2),
    initialDelayMs: ctx.timing.retryMs,
    maxDelayMs: 10 * ctx.timing.retryMs,
    onRetry: () => ctx.report(`waiting for ${what}`),
  };
}

/**
 * Create, or (when an earlier run created it and died before we could see it) read it back.
 * Returns the observed part when it already existed, undefined when it was just created.
 */
async function createOrRead<T extends { owned: boolean; tags: Record<string, string> }>(
  create: () => Promise<unknown>,
  reread: () => Promise<T | undefined>,
  kind: string,
  desired: IamDesired,
): Promise<T | undefined> {
  try {
    await create();
    return undefined;
  } catch (e) {
    if (!hasAwsCode(e, 'EntityAlreadyExists', 'EntityAlreadyExistsException')) throw e;
    const existing = await reread();
    if (!existing) throw e;
    if (!existing.owned && !desired.adopt) {
      const c = ownershipConflict(kind, desired.name, existing.tags[STACK_TAG], 'iam');
      if (c.action === 'conflict') throw new ConflictError({ what: c.what, why: c.why, fix: c.fix });
    }
    return existing;
  }
}

