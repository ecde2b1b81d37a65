/**
 * Step: the named Logs Insights queries of src/logs/queries.ts (latency, status, errors, top-paths,
 * slow) saved as query definitions on the stack's log group, so the console's "Saved queries"
 * shows them in a folder ecs-cwlogs/<stack>/ (the console reads "/" in a name as folders).
 *
 * Query definitions cannot be tagged (PutQueryDefinition takes no tags): the stack's are the exact
 * names ecs-cwlogs/<stack>/<query>, and no other definition is changed or deleted. PutQueryDefinition
 * creates one without a queryDefinitionId and replaces the one whose id it is given; the step finds
 * the ids with DescribeQueryDefinitions (queryDefinitionNamePrefix) and writes only what differs.
 */
import type { QueryDefinition } from '@aws-sdk/client-cloudwatch-logs';
import type { Context } from '../engine/context.js';
import { deleteOnce } from '../engine/ownership.js';
import { ABSENT, isAbsent, type Absent, type DeclaredStep, type FieldDiff, type Plan } from '../core/step.js';
import { NAMED_QUERIES, namedQuery, queryDefinitionName } from '../logs/queries.js';
import { MONITORING } from './monitoring.js';

export interface QueryDefinitionsOutputs {
  /** The definitions' names (ecs-cwlogs/<stack>/<query>). */
  names: string[];
}

declare module '../core/step.js' {
  interface StepOutputs {
    'query-definitions': QueryDefinitionsOutputs;
  }
}

type Ctx = Pick<Context, 'logs' | 'config' | 'stack' | 'flags' | 'report'>;

export interface QueryDefinitionsObserved {
  definitions: QueryDefinition[];
}

export interface QueryDefinitionSpec {
  name: string;
  queryString: string;
  logGroupNames: string[];
}

export interface QueryDefinitionsDesired {
  definitions: QueryDefinitionSpec[];
}

export function queryDefinitionSpecs(stack: string, logGroup: string): QueryDefinitionSpec[] {
  return NAMED_QUERIES.map((q) => ({ name: queryDefinitionName(stack, q), queryString: namedQuery(q).query, logGroupNames: [logGroup] }));
}

/** The stack's definitions, by exact name (the prefix ends with "/": stack "lab" never finds "lab2"'s). */
export async function readQueryDefinitions(ctx: Pick<Context, 'logs' | 'stack'>): Promise<QueryDefinition[]> {
  const ours = new Set(NAMED_QUERIES.map((q) => queryDefinitionName(ctx.stack, q)));
  const prefix = queryDefinitionName(ctx.stack, NAMED_QUERIES[0]).replace(/[^/]*$/, '');
  const found: QueryDefinition[] = [];
  let nextToken: string | undefined;
  do {
    const res = await ctx.logs.describeQueryDefinitions({ queryDefinitionNamePrefix: prefix, maxResults: 1000, nextToken });
    found.push(...(res.queryDefinitions ?? []).filter((d) => d.name !== undefined && ours.has(d.name)));
    nextToken = res.nextToken;
  } while (nextToken);
  return found;
}

function work(observed: QueryDefinitionsObserved | Absent, desired: QueryDefinitionsDesired): { put: (QueryDefinitionSpec & { id?: string })[]; extra: QueryDefinition[]; diffs: FieldDiff[] } {
  const have = isAbsent(observed) ? [] : observed.definitions;
  const put: (QueryDefinitionSpec & { id?: string })[] = [];
  const diffs: FieldDiff[] = [];
  for (const want of desired.definitions) {
    const same = have.filter((d) => d.name === want.name);
    const o = same[0];
    if (!o) {
      put.push(want);
      diffs.push({ field: want.name, from: undefined, to: 'saved' });
    } else if (o.queryString !== want.queryString || [...(o.logGroupNames ?? [])].sort().join() !== [...want.logGroupNames].sort().join()) {
      put.push({ ...want, id: o.queryDefinitionId });
      diffs.push({ field: want.name, from: o.logGroupNames?.join(', '), to: want.logGroupNames.join(', ') });
    }
  }
  // Two of one name (an interrupted run saved one twice): the first is kept, the others go.
  const extra = have.filter((d, i) => have.findIndex((x) => x.name === d.name) !== i);
  diffs.push(...extra.map((d) => ({ field: d.name!, from: 'duplicate', to: undefined })));
  return { put, extra, diffs };
}

export const queryDefinitionsStep: DeclaredStep<Ctx, QueryDefinitionsObserved, QueryDefinitionsDesired, undefined, 'query-definitions'> = {
  id: 'query-definitions',
  title: 'Saved Logs Insights queries',
  dependsOn: ['log-group'],
  command: {
    summary: 'Save the named Logs Insights queries (latency, status, errors, top-paths, slow) as query definitions for the console',
    settings: ['logGroup', 'monitoring'],
    examples: ['ecs-cwlogs query-definitions', 'ecs-cwlogs query-definitions --delete --yes'],
    notes: 'Query definitions cannot be tagged: the stack\'s are named ecs-cwlogs/<stack>/<query>, and only those names are touched.',
  },
  ...MONITORING,
  tagged: [],

  async read(ctx) {
    const definitions = await readQueryDefinitions(ctx);
    return definitions.length ? { definitions } : ABSENT;
  },

  desired: (ctx) => ({ definitions: queryDefinitionSpecs(ctx.stack, ctx.config.logGroup) }),

  plan(observed, desired): Plan {
    const folder = desired.definitions[0]?.name.replace(/[^/]*$/, '') ?? '';
    if (isAbsent(observed)) return { action: 'create', summary: `${desired.definitions.length} queries in ${folder}` };
    const { put, extra, diffs } = work(observed, desired);
    if (put.length === 0 && extra.length === 0) return { action: 'noop', summary: `${desired.definitions.length} queries in ${folder}` };
    return { action: 'update', summary: [...put.map((p) => p.name), ...extra.map((e) => `${e.name} (duplicate)`)].join(', '), diffs };
  },

  async apply(ctx, { observed, desired }) {
    const { put, extra } = work(observed, desired);
    for (const d of put) {
      await ctx.logs.putQueryDefinition({ name: d.name, queryString: d.queryString, logGroupNames: d.logGroupNames, ...(d.id ? { queryDefinitionId: d.id } : {}) });
    }
    for (const d of extra) await deleteOnce(() => ctx.logs.deleteQueryDefinition({ queryDefinitionId: d.queryDefinitionId! }), ['ResourceNotFoundException']);
    return { names: desired.definitions.map((d) => d.name) };
  },

  preview: (_o, desired) => ({ names: desired.definitions.map((d) => d.name) }),

  describe: (o) => ({ queries: o.definitions.map((d) => d.name!.split('/').pop()).join(', ') }),

  ownership: {
    find: async (ctx: Ctx) => ({ ours: await readQueryDefinitions(ctx), kept: [] }),
    preview: (d: QueryDefinition) => `saved query ${d.name}`,
    deleted: (d: QueryDefinition) => `saved query ${d.name}`,
    delete: (ctx: Ctx, d: QueryDefinition) => deleteOnce(() => ctx.logs.deleteQueryDefinition({ queryDefinitionId: d.queryDefinitionId! }), ['ResourceNotFoundException']),
  },
};
