/**
 * Saved Logs Insights queries: PutQueryDefinition, DescribeQueryDefinitions, DeleteQueryDefinition.
 *
 * Sources (API reference):
 * - PutQueryDefinition: name 1-255 characters, queryString 1-10,000, logGroupNames optional;
 *   "To update a query definition, specify its queryDefinitionId in your request" (an unknown id is
 *   ResourceNotFoundException); the response is the queryDefinitionId. The request has no tags and
 *   TagResource takes log groups and destinations only: query definitions are not taggable, so an
 *   owner recognises its own by name (the console shows `a/b/name` as folders).
 * - DescribeQueryDefinitions: queryDefinitionNamePrefix, maxResults 1-1000, nextToken.
 * - DeleteQueryDefinition: answers `success`; an unknown id is ResourceNotFoundException.
 *
 * The sandbox stores the query string as given (AWS does not compile it when it is saved either;
 * StartQuery does).
 */
import type {
  DeleteQueryDefinitionRequest,
  DeleteQueryDefinitionResponse,
  DescribeQueryDefinitionsRequest,
  DescribeQueryDefinitionsResponse,
  PutQueryDefinitionRequest,
  PutQueryDefinitionResponse,
} from '@aws-sdk/client-cloudwatch-logs';
import { randomUUID } from 'node:crypto';
import { paginate } from '../../paginate.js';
import { jsonBody, typedOperation, type Call } from '../../typed.js';
import { ServiceError, type Operation, type World } from '../../types.js';
import { int, list } from '../util.js';
import { checkGroupName, invalidParameter, invalidToken, required } from './common.js';
import { state, type QueryDefinitionRecord } from './records.js';

function definitions(world: World): Record<string, QueryDefinitionRecord> {
  return (state(world).queryDefinitions ??= {});
}

function length(value: string, member: string, max: number): string {
  if (value.length > max) {
    throw invalidParameter(`1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  }
  return value;
}

function find(world: World, region: string, id: unknown): QueryDefinitionRecord {
  const queryDefinitionId = required(id, 'queryDefinitionId');
  const d = definitions(world)[queryDefinitionId];
  if (!d || d.region !== region) throw new ServiceError('ResourceNotFoundException', `Query definition ${queryDefinitionId} does not exist.`, 400);
  return d;
}

function putQueryDefinition(p: PutQueryDefinitionRequest, { world, region, now }: Call): PutQueryDefinitionResponse {
  if (p.queryLanguage !== undefined && p.queryLanguage !== 'CWLI') {
    throw invalidParameter(`The sandbox keeps only Logs Insights (CWLI) query definitions, not ${String(p.queryLanguage)}.`);
  }
  const name = length(required(p.name, 'name'), 'name', 255);
  const queryString = length(required(p.queryString, 'queryString'), 'queryString', 10_000);
  const logGroupNames = list<string>(p.logGroupNames).map((n) => checkGroupName(n, 'logGroupNames.member'));
  const existing = p.queryDefinitionId !== undefined ? find(world, region, p.queryDefinitionId) : undefined;
  const queryDefinitionId = existing?.queryDefinitionId ?? randomUUID();
  definitions(world)[queryDefinitionId] = { queryDefinitionId, region, name, queryString, logGroupNames, lastModified: now };
  return { queryDefinitionId };
}

function describeQueryDefinitions(p: DescribeQueryDefinitionsRequest, { world, region }: Call): DescribeQueryDefinitionsResponse {
  const max = p.maxResults === undefined ? undefined : int(p.maxResults);
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 1000)) {
    throw invalidParameter(`1 validation error detected: Value '${String(p.maxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000`);
  }
  const prefix = p.queryDefinitionNamePrefix ?? '';
  const found = Object.values(definitions(world))
    .filter((d) => d.region === region && d.name.startsWith(prefix))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.queryDefinitionId < b.queryDefinitionId ? -1 : 1));
  const page = paginate(found, { maxResults: max, nextToken: p.nextToken, defaultPageSize: 1000, settings: world.settings, invalidToken });
  return {
    queryDefinitions: page.items.map((d) => ({
      queryLanguage: 'CWLI',
      queryDefinitionId: d.queryDefinitionId,
      name: d.name,
      queryString: d.queryString,
      lastModified: d.lastModified,
      logGroupNames: [...d.logGroupNames],
    })),
    nextToken: page.nextToken,
  };
}

function deleteQueryDefinition(p: DeleteQueryDefinitionRequest, { world, region }: Call): DeleteQueryDefinitionResponse {
  const d = find(world, region, p.queryDefinitionId);
  delete definitions(world)[d.queryDefinitionId];
  return { success: true };
}

export const queryDefinitionOperations: Record<string, Operation> = {
  PutQueryDefinition: typedOperation({ mutating: true, decode: jsonBody<PutQueryDefinitionRequest>, handler: putQueryDefinition }),
  DescribeQueryDefinitions: typedOperation({ mutating: false, decode: jsonBody<DescribeQueryDefinitionsRequest>, handler: describeQueryDefinitions }),
  DeleteQueryDefinition: typedOperation({ mutating: true, decode: jsonBody<DeleteQueryDefinitionRequest>, handler: deleteQueryDefinition }),
};
