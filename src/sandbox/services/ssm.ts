/**
 * SSM Parameter Store (JSON 1.1): the public parameters ecs-cwlogs reads to find the ECS-optimized
 * Amazon Linux 2023 AMI, for x86_64 and arm64 (the AMI ids are the ones EC2's DescribeImages and
 * RunInstances accept in the same region, ec2/ec2-data.ts), and the account's own parameters
 * (ssm-parameters.ts), where the stack's lock lives while a run changes it.
 */

import { ServiceError, type ServiceModule, type World } from '../types.js';
import { paginate } from '../paginate.js';
import { jsonBody, typedOperation, type Call } from '../typed.js';
import type {
  AddTagsToResourceRequest,
  DeleteParameterRequest,
  DescribeParametersRequest,
  GetParameterHistoryRequest,
  GetParameterRequest,
  GetParameterResult,
  GetParametersByPathRequest,
  GetParametersByPathResult,
  GetParametersRequest,
  GetParametersResult,
  ListTagsForResourceRequest,
  PutParameterRequest,
  RemoveTagsFromResourceRequest,
  Parameter,
} from '@aws-sdk/client-ssm';
import { amisForRegion, recommendedEcsAmi } from './ec2/ec2-data.js';
import { bool, int, list } from './util.js';
import {
  addTagsToResource,
  checkUserName,
  deleteParameter,
  describeParameters,
  getParameterHistory,
  getUserParameter,
  initSsmState,
  listTagsForResource,
  putParameter,
  removeTagsFromResource,
  userParameter,
  userParameterShape,
} from './ssm-parameters.js';

interface PublicParameter {
  name: string;
  value: string;
  version: number;
  lastModified: number;
}

/** When the public parameters were last updated (with the AMI release). */
const PUBLISHED = Date.UTC(2025, 1, 25, 3, 4, 5);

/** The public parameters of a region, by name. */
function publicParameters(region: string, world?: World): Map<string, PublicParameter> {
  const params = new Map<string, PublicParameter>();
  const add = (name: string, value: string, version: number) =>
    params.set(name, { name, value, version, lastModified: PUBLISHED });
  // A release published since (publishEcsAmi in ec2/ec2-data.ts) replaces the built-in recommended AMI.
  const amis = amisForRegion(region).map((a) => (world && a.ssmPath ? recommendedEcsAmi(world, region, a.architecture) : a));
  for (const ami of amis) {
    if (ami.ssmPath && ami.ssmFields) {
      // The "recommended" parameter is a JSON document; each field is also its own parameter.
      const fields: Record<string, string | number> = { ...ami.ssmFields, image_id: ami.imageId };
      const ordered = Object.fromEntries(Object.entries(fields).sort(([a], [b]) => a.localeCompare(b)));
      // Each release since the built-in one is a new version of the parameter.
      const version = 143 + ((world?.state.ec2?.amiReleases?.[region] ?? []) as { imageId: string; architecture: string }[]).filter((r) => r.architecture === ami.architecture).findIndex((r) => r.imageId === ami.imageId) + 1;
      add(ami.ssmPath, JSON.stringify(ordered), version);
      for (const [key, value] of Object.entries(ordered)) add(`${ami.ssmPath}/${key}`, String(value), version);
    } else if (ami.architecture === 'x86_64') {
      add('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64', ami.imageId, 88);
      add('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64', ami.imageId, 88);
    }
  }
  return params;
}

function parameterShape(region: string, p: PublicParameter): Parameter {
  return {
    Name: p.name,
    Type: 'String',
    Value: p.value,
    Version: p.version,
    LastModifiedDate: new Date(p.lastModified),
    ARN: `arn:aws:ssm:${region}::parameter${p.name}`,
    DataType: p.name.endsWith('/image_id') || p.name.startsWith('/aws/service/ami-') ? 'aws:ec2:image' : 'text',
  };
}

function validationException(message: string): ServiceError {
  return new ServiceError('ValidationException', message, 400);
}

function checkName(name: unknown, member = 'name'): string {
  if (typeof name !== 'string' || name === '') {
    throw validationException(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  if (name.length > 2048) {
    throw validationException(
      `1 validation error detected: Value '${name}' at '${member}' failed to satisfy constraint: Member must have length less than or equal to 2048`,
    );
  }
  return name;
}

function getParameter(input: GetParameterRequest, { world, region, now }: Call): GetParameterResult {
  const name = checkName(input.Name);
  const param = publicParameters(region, world).get(name);
  if (!param) {
    const own = name.startsWith('/aws/') ? undefined : getUserParameter(region, world, checkUserName(name));
    if (own) return own;
    throw new ServiceError('ParameterNotFound', '', 400);
  }
  return { Parameter: parameterShape(region, param) };
}

function getParameters(input: GetParametersRequest, { world, region, now }: Call): GetParametersResult {
  const names = list<unknown>(input.Names);
  if (names.length === 0) {
    throw validationException(`1 validation error detected: Value null at 'names' failed to satisfy constraint: Member must not be null`);
  }
  if (names.length > 10) {
    throw validationException(
      `1 validation error detected: Value '[${names.join(', ')}]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10`,
    );
  }
  const all = publicParameters(region, world);
  const found = [];
  const invalid = [];
  for (const n of names) {
    const name = checkName(n, 'names');
    const param = all.get(name);
    const own = param || name.startsWith('/aws/') ? undefined : userParameter(world, region, name);
    if (param) found.push(parameterShape(region, param));
    else if (own) found.push(userParameterShape(world, region, own));
    else invalid.push(name);
  }
  return { Parameters: found, InvalidParameters: invalid };
}

function getParametersByPath(input: GetParametersByPathRequest, { world, region, now }: Call): GetParametersByPathResult {
  const path = checkName(input.Path, 'path');
  if (!path.startsWith('/')) throw validationException('The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".');
  const prefix = path.endsWith('/') ? path : `${path}/`;
  const recursive = bool(input.Recursive) ?? false;
  const maxResults = int(input.MaxResults);
  if (maxResults !== undefined && (Number.isNaN(maxResults) || maxResults < 1 || maxResults > 10)) {
    throw validationException(
      `1 validation error detected: Value '${input.MaxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10`,
    );
  }
  const matching = [...publicParameters(region, world).values()]
    .filter((p) => p.name.startsWith(prefix) && (recursive || !p.name.slice(prefix.length).includes('/')))
    .sort((a, b) => a.name.localeCompare(b.name));
  const page = paginate(matching, {
    maxResults,
    nextToken: input.NextToken,
    defaultPageSize: 10,
    settings: world.settings,
    invalidToken: () => validationException('The specified token is not valid.'),
  });
  return { Parameters: page.items.map((p) => parameterShape(region, p)), NextToken: page.nextToken };
}

export const ssm: ServiceModule = {
  name: 'ssm',
  protocol: 'json',
  targetPrefix: 'AmazonSSM',
  initState: initSsmState,
  operations: {
    GetParameter: typedOperation({ mutating: false, decode: jsonBody<GetParameterRequest>, handler: getParameter }),
    GetParameters: typedOperation({ mutating: false, decode: jsonBody<GetParametersRequest>, handler: getParameters }),
    GetParametersByPath: typedOperation({ mutating: false, decode: jsonBody<GetParametersByPathRequest>, handler: getParametersByPath }),
    PutParameter: typedOperation({ mutating: true, decode: jsonBody<PutParameterRequest>, handler: putParameter }),
    DeleteParameter: typedOperation({ mutating: true, decode: jsonBody<DeleteParameterRequest>, handler: deleteParameter }),
    GetParameterHistory: typedOperation({ mutating: false, decode: jsonBody<GetParameterHistoryRequest>, handler: getParameterHistory }),
    DescribeParameters: typedOperation({ mutating: false, decode: jsonBody<DescribeParametersRequest>, handler: describeParameters }),
    AddTagsToResource: typedOperation({ mutating: true, decode: jsonBody<AddTagsToResourceRequest>, handler: addTagsToResource }),
    RemoveTagsFromResource: typedOperation({ mutating: true, decode: jsonBody<RemoveTagsFromResourceRequest>, handler: removeTagsFromResource }),
    ListTagsForResource: typedOperation({ mutating: false, decode: jsonBody<ListTagsForResourceRequest>, handler: listTagsForResource }),
  },
};
