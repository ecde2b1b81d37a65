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
import { ABSENT, isAbsent, type Absent, type Plan, type Step } from '../core/step.js';
import { renderJson, templateText } from '../core/templates.js';
import { ownershipConflict } from './ownership.js';

type Ctx = Pick<Context, 'ecs' | 'config' | 'tags' | 'stack' | 'flags' | 'report'>;

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

async function readTask(ctx: Pick<Context, 'ecs' | 'stack'>, family: string): Promise<TaskObserved | Absent> {
  try {
    const res = await ctx.ecs.describeTaskDefinition({ taskDefinition: family, include: ['TAGS'] });
    const def = res.taskDefinition;
    if (!def || def.status !== 'ACTIVE') return ABSENT;
    const tags = Object.fromEntries((res.tags ?? []).map((t) => [t.key ?? '', t.value ?? '']));
    return { arn: def.taskDefinitionArn ?? '', family, revision: def.revision ?? 0, definition: def, tags, owned: tags[STACK_TAG] === ctx.stack };
  } catch (e) {
    // DescribeTaskDefinition answers an unknown family with ClientException "Unable to describe task definition."
    if (hasAwsCode(e, 'ClientException', 'ResourceNotFoundException')) return ABSENT;
    throw e;
  }
}

function imageOf(ctx: Ctx, deps: { image?: { imageRef?: string } }): string {
  return deps.image?.imageRef || ctx.config.image || '';
}

export const taskStep: Step<Ctx, TaskObserved, TaskDesired> = {
  id: 'task',
  title: 'Task definition',
  dependsOn: ['image'],

  read: (ctx) => readTask(ctx, ctx.config.taskFamily),

  desired(ctx, deps) {
    const image = imageOf(ctx, deps as { image?: { imageRef?: string } });
    if (!image) {
      throw new UserInputError({
        what: 'No logging image to run',
        why: 'the task definition needs the image that `ecs-cwlogs image` pushes',
        fix: 'Run `ecs-cwlogs image --repo <user/repo>` (or --ecr) first, or pass --image <ref>.',
      });
    }
    return { input: renderTaskDefinition(ctx.config, image), tags: ctx.tags, adopt: ctx.flags.adopt };
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
      return { taskDefinitionArn: o.arn, family: o.family, revision: String(o.revision) };
    }
    const res = await ctx.ecs.registerTaskDefinition({ ...desired.input, tags: ecsTags(desired.tags) });
    const def = res.taskDefinition;
    return { taskDefinitionArn: def?.taskDefinitionArn ?? '', family: def?.family ?? '', revision: String(def?.revision ?? '') };
  },

  preview: (observed, desired) =>
    isAbsent(observed)
      ? { taskDefinitionArn: '(after register)', family: desired.input.family ?? '', revision: '1' }
      : { taskDefinitionArn: observed.arn, family: observed.family, revision: String(observed.revision) },

  describe: (o) => ({ arn: o.arn, revision: String(o.revision) }),

  async destroy(ctx) {
    const family = ctx.config.taskFamily;
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ctx.ecs.listTaskDefinitions({ familyPrefix: family, status: 'ACTIVE', nextToken });
      arns.push(...(page.taskDefinitionArns ?? []).filter((a) => a.split('/').pop()?.split(':')[0] === family));
      nextToken = page.nextToken;
    } while (nextToken);
    const deleted: string[] = [];
    const kept: string[] = [];
    const inactive: string[] = [];
    for (const arn of arns) {
      let tags: Record<string, string> = {};
      try {
        const d = await ctx.ecs.describeTaskDefinition({ taskDefinition: arn, include: ['TAGS'] });
        tags = Object.fromEntries((d.tags ?? []).map((t) => [t.key ?? '', t.value ?? '']));
      } catch (e) {
        if (hasAwsCode(e, 'ClientException')) continue;
        throw e;
      }
      const rev = arn.split('/').pop() ?? arn;
      if (tags[STACK_TAG] !== ctx.stack) {
        kept.push(`task definition ${rev} (not tagged as stack ${ctx.stack})`);
        continue;
      }
      try {
        await ctx.ecs.deregisterTaskDefinition({ taskDefinition: arn });
      } catch (e) {
        if (!hasAwsCode(e, 'ClientException')) throw e;
      }
      inactive.push(arn);
      deleted.push(rev);
    }
    // Deregistered revisions linger as INACTIVE; ask ECS to delete them (10 per call).
    for (let i = 0; i < inactive.length; i += 10) {
      try {
        await ctx.ecs.deleteTaskDefinitions({ taskDefinitions: inactive.slice(i, i + 10) });
      } catch (e) {
        if (!hasAwsCode(e, 'ClientException', 'InvalidParameterException')) throw e;
      }
    }
    return { deleted: deleted.map((r) => `task definition ${r}`), kept };
  },
};
