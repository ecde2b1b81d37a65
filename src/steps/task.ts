/**
 * Step: the task definition (lab step 13), family `cloudwatchlogs` with the logging container and
 * httpd, rendered from templates/task-definition.json. A new revision is registered only when the
 * rendered definition, normalised, differs from the latest ACTIVE revision.
 *
 * The task runs with the stack's task role (the iam step): the CloudWatch agent's only credentials.
 * httpd (or any --app-image) shares the task and so could ask the ECS agent's endpoint too, but it
 * gets nothing more than logs on this group; it cannot reach instance metadata (the user data).
 *
 * prepare: the instance pulls without credentials (no repositoryCredentials), so each image it will
 * pull is checked for an anonymous pull at plan time. A private one stops the run before anything is
 * written; an unreachable registry only warns (it cannot tell).
 */
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput, TaskDefinition } from '@aws-sdk/client-ecs';
import { deleteOnce } from '../engine/ownership.js';
import type { Context } from '../engine/context.js';
import { STACK_TAG, ecsTags } from '../core/context.js';
import { diff, normalise } from '../core/diff.js';
import { UserInputError, hasAwsCode } from '../core/errors.js';
import { ABSENT, isAbsent, isUnknown, known, showValue, unknown, type Absent, type Plan, type DeclaredStep, type Later } from '../core/step.js';
import { renderJson, templateText } from '../core/templates.js';
import { ownershipConflict } from './ownership.js';
import { namesOf, taggedResources, readOnce } from './inventory.js';
import { anonymousPull, ecrAccountOf, type PullCheck, type PullCheckOptions } from '../docker/pullable.js';
import { parseReference } from '../docker/reference.js';

export interface TaskOutputs { taskDefinitionArn: Later<string>; family: string; revision: Later<number> }

declare module '../core/step.js' {
  interface StepOutputs {
    task: TaskOutputs;
  }
}

type Ctx = Pick<Context, 'ecs' | 'tagging' | 'config' | 'tags' | 'stack' | 'flags' | 'report' | 'account' | 'io' | 'signal'>;

export interface TaskPrepared {
  /** What each registry said about an anonymous pull (empty when not checked: status). */
  pullChecks: (PullCheck & { image: 'logging' | 'app' })[];
}

export interface TaskObserved {
  arn: string;
  family: string;
  revision: number;
  definition: TaskDefinition;
  tags: Record<string, string>;
  owned: boolean;
}

export interface TaskDesired {
  input: RegisterTaskDefinitionCommandInput;
  /** What is not known before a dependency applies (the pushed image's digest): apply waits for it. */
  pending?: string;
  tags: Record<string, string>;
  adopt: boolean;
}

/** The task definition this stack wants, as RegisterTaskDefinition input. Pure. */
export function renderTaskDefinition(config: Context['config'], image: string, taskRoleArn: string): RegisterTaskDefinitionCommandInput {
  const httpdCommand = templateText('httpd-command.sh');
  const input = renderJson<RegisterTaskDefinitionCommandInput>('task-definition.json', {
    family: config.taskFamily,
    taskRoleArn,
    image,
    appImage: config.appImage,
    region: config.region,
    logGroup: config.logGroup,
    httpdCommand,
  });
  // Behind the ALB, each task gets a dynamic host port (0: ECS picks one from the ephemeral range),
  // so tasks of two deployments can share an instance; ECS registers (instance, port) as the target.
  if (config.loadBalancer) {
    for (const c of input.containerDefinitions ?? []) for (const p of c.portMappings ?? []) if (p.containerPort === 80) p.hostPort = 0;
  }
  return input;
}

/**
 * The comparable form of a definition: only the fields we set, with AWS's read-side additions
 * (defaults like protocol "tcp", empty lists, cpu 0) projected away and lists sorted where AWS
 * doesn't keep order.
 */
export function comparable(def: Pick<TaskDefinition, 'family' | 'taskRoleArn' | 'networkMode' | 'requiresCompatibilities' | 'volumes' | 'containerDefinitions'>): unknown {
  const containers = [...(def.containerDefinitions ?? [])]
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''))
    .map((c: ContainerDefinition) => ({
      name: c.name,
      image: c.image,
      essential: c.essential ?? true,
      cpu: c.cpu || undefined,
      memory: c.memory,
      memoryReservation: c.memoryReservation,
      environment: [...(c.environment ?? [])].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '')),
      mountPoints: (c.mountPoints ?? []).map((m) => ({ ...m, readOnly: m.readOnly ?? false })),
      links: c.links,
      dependsOn: c.dependsOn,
      portMappings: (c.portMappings ?? []).map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort ?? p.containerPort, protocol: p.protocol ?? 'tcp' })),
      entryPoint: c.entryPoint,
      command: c.command,
      healthCheck: c.healthCheck,
    }));
  return normalise({
    family: def.family,
    taskRoleArn: def.taskRoleArn,
    networkMode: def.networkMode ?? 'bridge',
    requiresCompatibilities: [...(def.requiresCompatibilities ?? [])].sort(),
    volumes: def.volumes,
    containerDefinitions: containers,
  });
}

const revisionOf = (arn: string) => Number(arn.split(':').pop()) || 0;
const familyOf = (arn: string) => arn.split('/').pop()?.split(':')[0] ?? '';

function tagsOf(t: { key?: string; value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((t ?? []).map((x) => [x.key ?? '', x.value ?? '']));
}

/** Revision ARNs of exactly this family in a status, newest first. */
async function revisions(ctx: Pick<Context, 'ecs'>, family: string, status: 'ACTIVE' | 'INACTIVE'): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ctx.ecs.listTaskDefinitions({ familyPrefix: family, status, sort: 'DESC', nextToken });
    arns.push(...(page.taskDefinitionArns ?? []).filter((a) => familyOf(a) === family));
    nextToken = page.nextToken;
  } while (nextToken);
  return arns.sort((a, b) => revisionOf(b) - revisionOf(a));
}

async function describe(ctx: Pick<Context, 'ecs' | 'stack'>, arn: string): Promise<TaskObserved | undefined> {
  try {
    const res = await ctx.ecs.describeTaskDefinition({ taskDefinition: arn, include: ['TAGS'] });
    const def = res.taskDefinition;
    if (!def) return undefined;
    const tags = tagsOf(res.tags);
    return { arn: def.taskDefinitionArn ?? arn, family: def.family ?? '', revision: def.revision ?? 0, definition: def, tags, owned: tags[STACK_TAG] === ctx.stack };
  } catch (e) {
    // DescribeTaskDefinition answers an unknown revision with ClientException "Unable to describe task definition."
    if (hasAwsCode(e, 'ClientException', 'ResourceNotFoundException')) return undefined;
    throw e;
  }
}

/**
 * The family's latest ACTIVE revision with its tags, read once per run where the context has an
 * inventory (the tagged facts read the image it runs, the step its definition).
 */
export function latestTaskDefinition(ctx: Pick<Context, 'ecs' | 'stack'> & Partial<Pick<Context, 'inventory'>>, family: string): Promise<TaskObserved | undefined> {
  return readOnce(ctx, `ecs:task-definition:${family}`, () => describe(ctx, family));
}

/**
 * The stack's latest ACTIVE revision of the family. Revisions someone else registered in the family
 * are passed over (they neither block the stack nor are touched); only a family with revisions
 * and none of the stack's is somebody else's.
 */
async function readTask(ctx: Pick<Context, 'ecs' | 'stack'> & Partial<Pick<Context, 'inventory'>>, family: string): Promise<TaskObserved | Absent> {
  // The family's latest ACTIVE revision (DescribeTaskDefinition of the family alone): where it is the
  // stack's, it is the one; only a family whose latest is someone else's is walked revision by revision.
  const latest = await latestTaskDefinition(ctx, family);
  if (latest?.owned && latest.definition.status === 'ACTIVE') return latest;
  const active = await revisions(ctx, family, 'ACTIVE');
  let first: TaskObserved | undefined;
  for (const arn of active) {
    const t = await describe(ctx, arn);
    if (!t || t.definition.status !== 'ACTIVE') continue;
    if (t.owned) return t;
    first ??= t;
  }
  return first ?? ABSENT;
}

/** Options for the anonymous-pull check (tests hand in a fetch). */
export const pullCheckOptions: PullCheckOptions = {};

/**
 * The images the instance will pull, and whether it can without credentials. Refuses (a
 * UserInputError, before anything is written) when one is private; warns when it cannot tell.
 */
export async function checkPulls(ctx: Pick<Ctx, 'config' | 'account' | 'io' | 'signal'> & Partial<Pick<Context, 'docker' | 'target'>>): Promise<TaskPrepared> {
  const wanted: { image: 'logging' | 'app'; ref: string; toPush?: boolean }[] = [];
  const repo = ctx.config.imageRepo?.trim();
  if (ctx.config.image) wanted.push({ image: 'logging', ref: ctx.config.image });
  else if (repo && repo !== 'ecr') wanted.push({ image: 'logging', ref: `${repo}:latest`, toPush: true });
  if (ctx.config.appImage) wanted.push({ image: 'app', ref: ctx.config.appImage });
  const checks: TaskPrepared['pullChecks'] = [];
  const refusals: string[] = [];
  const warn = (text: string) => ctx.io.emit({ type: 'message', level: 'warn', text });
  for (const w of wanted) {
    const registry = parseReference(w.ref).registry;
    const ecrAccount = ecrAccountOf(registry);
    if (ecrAccount === ctx.account) {
      checks.push({ image: w.image, ref: w.ref, registry, status: 'pullable', why: `ECR of this account: the instance role may pull it` });
      continue;
    }
    // A rehearsal asks no registry outside this machine; an image on the local engine is enough.
    const rehearsal = ctx.target?.kind === 'sandbox';
    const localImage = ctx.docker ? async (ref: string) => Boolean(await ctx.docker!.inspectImage(ref)) : undefined;
    const c = { image: w.image, ...(await anonymousPull(w.ref, { ...pullCheckOptions, signal: ctx.signal, rehearsal, localImage })) };
    checks.push(c);
    const which = w.image === 'logging' ? 'logging image' : 'app image';
    if (c.status === 'unknown') {
      warn(`Cannot tell whether the instance can pull the ${which} ${w.ref} without credentials: ${c.why}. If it is private, the task will stop with CannotPullContainerError.`);
    } else if (c.status === 'private' && w.toPush) {
      // Before the first push a new repository looks private too (Docker Hub hides what it does not have).
      warn(`${repo} is not readable without credentials yet (${c.why}). If it stays private after the push, the task will stop with CannotPullContainerError: make it public, or use --ecr.`);
    } else if (c.status === 'private') {
      refusals.push(
        w.image === 'logging'
          ? `the logging image ${w.ref}: ${c.why}. Push it to ECR in this account instead (\`--ecr\`: the instance role may pull from there), or make the repository public.`
          : `the app image ${w.ref}: ${c.why}. Copy it to an ECR repository of this account and pass that as --app-image, or use a public image.`,
      );
    }
  }
  if (refusals.length) {
    throw new UserInputError({
      what: `The instance cannot pull ${refusals.length === 1 ? 'an image' : 'the images'} without credentials`,
      why: `the task definition has no repositoryCredentials, so ECS pulls anonymously (or with the instance role from this account's ECR), and:\n  - ${refusals.join('\n  - ')}`,
      fix: 'Nothing was changed. Private registries through repositoryCredentials (a Secrets Manager secret and an execution role) are not supported yet.',
    });
  }
  return { pullChecks: checks };
}

export const taskStep: DeclaredStep<Ctx, TaskObserved, TaskDesired, TaskPrepared, 'task'> = {
  id: 'task',
  title: 'Task definition',
  dependsOn: ['image', 'iam'],
  command: {
    summary: 'Register the task definition (lab step 13): the logging container and httpd, linked; a new revision only when it changed',
    settings: ['taskFamily', 'image', 'appImage', 'logGroup', 'retentionDays'],
    examples: [
      'ecs-cwlogs task --image user/cloudwatchlogs@sha256:…',
      'ecs-cwlogs task --app-image httpd:2.4 --dry-run',
      'ecs-cwlogs task --delete --yes',
    ],
  },
  shapes: ['single', 'group'],
  tagged: [{ type: 'ecs:task-definition' }],

  async prepare(ctx) {
    // status only looks: it asks no registry.
    if (ctx.flags.intent === 'inspect') return { pullChecks: [] };
    return checkPulls(ctx);
  },

  read: (ctx) => readTask(ctx, ctx.config.taskFamily),

  desired(ctx, deps) {
    const role = deps.iam?.taskRoleArn;
    const taskRoleArn = known(role) ?? '';
    const ref = deps.image?.imageRef;
    const image = known(ref) || ctx.config.image || '';
    if (!image && !isUnknown(ref)) {
      throw new UserInputError({
        what: 'No logging image to run',
        why: 'the task definition needs the image that `ecs-cwlogs image` pushes',
        fix: 'Run `ecs-cwlogs image --repo <user/repo>` (or --ecr) first, or pass --image <ref>.',
      });
    }
    if (!image) return { input: renderTaskDefinition(ctx.config, showValue(ref), taskRoleArn || showValue(role)), pending: showValue(ref), tags: { ...ctx.tags }, adopt: ctx.flags.adopt };
    if (!taskRoleArn) return { input: renderTaskDefinition(ctx.config, image, showValue(role)), pending: `the task role (${showValue(role)})`, tags: { ...ctx.tags }, adopt: ctx.flags.adopt };
    return { input: renderTaskDefinition(ctx.config, image, taskRoleArn), tags: { ...ctx.tags }, adopt: ctx.flags.adopt };
  },

  plan(observed, desired): Plan {
    const family = desired.input.family ?? '';
    if (isAbsent(observed)) return { action: 'create', summary: `${family}, first revision` };
    if (!observed.owned && !desired.adopt) return ownershipConflict('Task definition family', family, observed.tags[STACK_TAG], 'task');
    const diffs = diff(comparable(observed.definition), comparable(desired.input as TaskDefinition), '');
    const tagDiffs = Object.entries(desired.tags)
      .filter(([k, v]) => observed.tags[k] !== v)
      .map(([k, v]) => ({ field: `tags.${k}`, from: observed.tags[k], to: v }));
    const all = [...diffs, ...tagDiffs];
    return all.length
      ? { action: 'update', summary: `new revision ${family}:${observed.revision + 1}`, diffs: all }
      : { action: 'noop', summary: `${family}:${observed.revision}` };
  },

  async apply(ctx, { plan, observed, desired }) {
    if (plan.action === 'noop') {
      const o = observed as TaskObserved;
      return { taskDefinitionArn: o.arn, family: o.family, revision: o.revision };
    }
    const res = await ctx.ecs.registerTaskDefinition({ ...desired.input, tags: ecsTags(desired.tags) });
    const def = res.taskDefinition;
    return { taskDefinitionArn: def?.taskDefinitionArn ?? '', family: def?.family ?? '', revision: def?.revision ?? 0 };
  },

  preview: (observed, desired) =>
    isAbsent(observed) || desired.pending || taskStep.plan(observed, desired).action !== 'noop'
      ? { taskDefinitionArn: unknown('register'), family: desired.input.family ?? '', revision: unknown('register') }
      : { taskDefinitionArn: observed.arn, family: observed.family, revision: observed.revision },

  describe: (o) => ({ arn: o.arn, revision: String(o.revision) }),

  // What the confirmation list showed is what is deleted (engine/ownership.ts withPreviewed): the
  // family's revisions are listed and described once per `down`, not again for the delete.
  ownership: {
    async find(ctx: Ctx) {
      const { active, inactive, kept } = await stackRevisions(ctx);
      return { ours: [...active.map((arn) => ({ arn, active: true })), ...inactive.map((arn) => ({ arn, active: false }))], kept };
    },
    preview: (r: Revision) => `task definition ${r.arn.split('/').pop()}${r.active ? '' : ' (INACTIVE)'}`,
    deleted: (r: Revision) => `task definition ${r.arn.split('/').pop()}`,
    delete: async (ctx: Ctx, r: Revision) => (await deleteRevisions(ctx, [r])).length > 0,
    deleteAll: deleteRevisions,
  },
};

interface Revision {
  arn: string;
  active: boolean;
}

/** Deregister the ACTIVE ones, then delete them all (deregistered revisions linger as INACTIVE for ever unless deleted; 10 per call). */
async function deleteRevisions(ctx: Ctx, revs: Revision[]): Promise<Revision[]> {
  for (const r of revs.filter((x) => x.active)) await deleteOnce(() => ctx.ecs.deregisterTaskDefinition({ taskDefinition: r.arn }), ['ClientException']);
  const arns = revs.map((r) => r.arn);
  for (let i = 0; i < arns.length; i += 10) {
    const batch = arns.slice(i, i + 10);
    try {
      const res = await ctx.ecs.deleteTaskDefinitions({ taskDefinitions: batch });
      for (const f of res.failures ?? []) {
        if (!/not found|does not exist|DELETE_IN_PROGRESS/i.test(`${f.reason ?? ''} ${f.detail ?? ''}`)) {
          ctx.report(`could not delete ${f.arn?.split('/').pop()}: ${f.reason}${f.detail ? ` (${f.detail})` : ''}`);
        }
      }
    } catch (e) {
      if (!hasAwsCode(e, 'ClientException', 'InvalidParameterException')) throw e;
    }
  }
  return revs;
}

/** The stack's revisions, ACTIVE and INACTIVE, in the configured family and any tagged one; others are kept. */
async function stackRevisions(ctx: Ctx): Promise<{ active: string[]; inactive: string[]; kept: string[] }> {
  const tagged = await taggedResources(ctx);
  const families = [...new Set([ctx.config.taskFamily, ...(tagged ? namesOf(tagged).taskFamilies : [])])];
  const active: string[] = [];
  const inactive: string[] = [];
  const kept: string[] = [];
  for (const family of families) {
    for (const status of ['ACTIVE', 'INACTIVE'] as const) {
      for (const arn of await revisions(ctx, family, status)) {
        const t = await describe(ctx, arn);
        if (!t) continue;
        if (!t.owned) {
          if (status === 'ACTIVE') kept.push(`task definition ${arn.split('/').pop()} (not tagged as stack ${ctx.stack})`);
          continue;
        }
        (status === 'ACTIVE' ? active : inactive).push(arn);
      }
    }
  }
  return { active, inactive, kept };
}
