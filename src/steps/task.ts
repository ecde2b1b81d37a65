/**
 * Step: the task definition (lab step 13), family `cloudwatchlogs` with the logging container and
 * httpd, rendered from templates/task-definition.json. A new revision is registered only when the
 * rendered definition, normalised, differs from the latest ACTIVE revision.
 */
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput, TaskDefinition } from '@aws-sdk/client-ecs';
import type { Context } from '../core/context.js';
import { STACK_TAG, ecsTags } from '../core/context.js';
import { diff, normalise } from '../core/diff.js';
import { UserInputError, hasAwsCode } from '../core/errors.js';
import { ABSENT, isAbsent, isUnknown, known, showValue, unknown, type Absent, type Plan, type Step } from '../core/step.js';
import { renderJson, templateText } from '../core/templates.js';
import { ownershipConflict } from './ownership.js';
import { namesOf, taggedResources } from './inventory.js';

type Ctx = Pick<Context, 'ecs' | 'tagging' | 'config' | 'tags' | 'stack' | 'flags' | 'report'>;

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
export function renderTaskDefinition(config: Context['config'], image: string): RegisterTaskDefinitionCommandInput {
  const httpdCommand = templateText('httpd-command.sh');
  return renderJson<RegisterTaskDefinitionCommandInput>('task-definition.json', {
    family: config.taskFamily,
    image,
    appImage: config.appImage,
    region: config.region,
    logGroup: config.logGroup,
    retentionDays: config.retentionDays,
    httpdCommand,
  });
}

/**
 * The comparable form of a definition: only the fields we set, with AWS's read-side additions
 * (defaults like protocol "tcp", empty lists, cpu 0) projected away and lists sorted where AWS
 * doesn't keep order.
 */
export function comparable(def: Pick<TaskDefinition, 'family' | 'networkMode' | 'requiresCompatibilities' | 'volumes' | 'containerDefinitions'>): unknown {
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
 * The stack's latest ACTIVE revision of the family. Revisions someone else registered in the family
 * are passed over (they neither block the stack nor are touched); only a family with revisions
 * and none of the stack's is somebody else's.
 */
async function readTask(ctx: Pick<Context, 'ecs' | 'stack'>, family: string): Promise<TaskObserved | Absent> {
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

export const taskStep: Step<Ctx, TaskObserved, TaskDesired, undefined, 'task'> = {
  id: 'task',
  title: 'Task definition',
  dependsOn: ['image'],

  read: (ctx) => readTask(ctx, ctx.config.taskFamily),

  desired(ctx, deps) {
    const ref = deps.image?.imageRef;
    const image = known(ref) || ctx.config.image || '';
    if (!image && !isUnknown(ref)) {
      throw new UserInputError({
        what: 'No logging image to run',
        why: 'the task definition needs the image that `ecs-cwlogs image` pushes',
        fix: 'Run `ecs-cwlogs image --repo <user/repo>` (or --ecr) first, or pass --image <ref>.',
      });
    }
    if (!image) return { input: renderTaskDefinition(ctx.config, showValue(ref)), pending: showValue(ref), tags: { ...ctx.tags }, adopt: ctx.flags.adopt };
    return { input: renderTaskDefinition(ctx.config, image), tags: { ...ctx.tags }, adopt: ctx.flags.adopt };
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
    if (desired.pending) throw new Error(`task: the image is not known yet (${desired.pending})`);
    const res = await ctx.ecs.registerTaskDefinition({ ...desired.input, tags: ecsTags(desired.tags) });
    const def = res.taskDefinition;
    return { taskDefinitionArn: def?.taskDefinitionArn ?? '', family: def?.family ?? '', revision: def?.revision ?? 0 };
  },

  preview: (observed, desired) =>
    isAbsent(observed) || desired.pending || taskStep.plan(observed, desired).action !== 'noop'
      ? { taskDefinitionArn: unknown('register'), family: desired.input.family ?? '', revision: unknown('register') }
      : { taskDefinitionArn: observed.arn, family: observed.family, revision: observed.revision },

  describe: (o) => ({ arn: o.arn, revision: String(o.revision) }),

  async destroy(ctx) {
    const { active, inactive, kept } = await stackRevisions(ctx);
    const deleted: string[] = [];
    for (const arn of active) {
      try {
        await ctx.ecs.deregisterTaskDefinition({ taskDefinition: arn });
      } catch (e) {
        if (!hasAwsCode(e, 'ClientException')) throw e;
      }
      inactive.push(arn);
    }
    // Deregistered revisions linger as INACTIVE for ever unless deleted (10 per call).
    for (let i = 0; i < inactive.length; i += 10) {
      const batch = inactive.slice(i, i + 10);
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
    for (const arn of [...active, ...inactive.filter((a) => !active.includes(a))]) deleted.push(`task definition ${arn.split('/').pop()}`);
    return { deleted, kept };
  },

  async destroyPreview(ctx) {
    const { active, inactive, kept } = await stackRevisions(ctx);
    return {
      deleted: [...active.map((a) => `task definition ${a.split('/').pop()}`), ...inactive.map((a) => `task definition ${a.split('/').pop()} (INACTIVE)`)],
      kept,
    };
  },
};

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
