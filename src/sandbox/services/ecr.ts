/**
 * ECR (JSON 1.1, regional): repositories, tags, authorization tokens, and image metadata.
 *
 * The registry behind it is on loopback (../registry/): repositoryUri and GetAuthorizationToken's
 * proxyEndpoint name 127.0.0.1:<port of the region>, so `docker push` of a rehearsal stays on this
 * machine. An image is recorded by a push to that registry, by PutImage (a manifest and a tag, as
 * `docker push` ends) or by recordImage() from other sandbox code. A new repository is empty, so
 * DescribeImages returns [].
 */

import { createHash } from 'node:crypto';
import { paginate } from '../paginate.js';
import { arrayOf, bool as boolean, num, object, oneOf, optional, recordOf, str, type Infer } from '../shape.js';
import { issuePassword, registryHost, TOKEN_LIFETIME_MS, type RegistryState } from '../registry/tokens.js';
import type {
  CreateRepositoryRequest,
  CreateRepositoryResponse,
  DeleteRepositoryRequest,
  DeleteRepositoryResponse,
  DescribeImagesRequest,
  DescribeImagesResponse,
  DescribeRepositoriesRequest,
  DescribeRepositoriesResponse,
  GetAuthorizationTokenRequest,
  GetAuthorizationTokenResponse,
  ListTagsForResourceRequest,
  ListTagsForResourceResponse,
  PutImageRequest,
  PutImageResponse,
  TagResourceRequest,
  TagResourceResponse,
  UntagResourceRequest,
  UntagResourceResponse,
} from '@aws-sdk/client-ecr';
import { jsonBody, typedOperation, type Call } from '../typed.js';
import { ServiceError, type ServiceModule, type World } from '../types.js';
import { arrayToTagMap, bool, int, keyValueTags, list, type TagMap } from './util.js';

// Each record declared once, as the shape a saved state file is checked against (../shape.ts), with
// its TypeScript type inferred from it.
const ecrImageShape = object({ imageDigest: str, imageTags: arrayOf(str), imageSizeInBytes: num, imagePushedAt: num, imageManifestMediaType: str, manifest: optional(str) });
export type EcrImage = Infer<typeof ecrImageShape>;

const repositoryRecordShape = object({
  repositoryName: str,
  region: str,
  registryId: str,
  createdAt: num,
  imageTagMutability: oneOf('MUTABLE', 'IMMUTABLE'),
  scanOnPush: boolean,
  encryptionType: oneOf('AES256', 'KMS'),
  kmsKey: optional(str),
  tags: recordOf(str),
  images: arrayOf(ecrImageShape),
});
type RepositoryRecord = Infer<typeof repositoryRecordShape>;

export const ecrStateShape = object({
  /** By `${region}|${repositoryName}`. */
  repositories: recordOf(repositoryRecordShape),
  // The loopback registry (../registry/): each region's port, and the key its tokens are signed with.
  registryPorts: optional(recordOf(num)),
  registrySecret: optional(str),
});
export type EcrState = Infer<typeof ecrStateShape> & RegistryState;

const NAME_PATTERN = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

function state(world: World): EcrState {
  return world.state.ecr as EcrState;
}

function key(region: string, name: string): string {
  return `${region}|${name}`;
}

function repositoryArn(r: RepositoryRecord): string {
  return `arn:aws:ecr:${r.region}:${r.registryId}:repository/${r.repositoryName}`;
}

/** The repository on the region's loopback registry: 127.0.0.1:<port>/<name>. */
async function repositoryUri(world: World, r: RepositoryRecord): Promise<string> {
  return `${await registryHost(world, r.region)}/${r.repositoryName}`;
}

/** The repository of that name in the region (this account's registry), if any: for the registry. */
export function findRepositoryRecord(world: World, region: string, name: string): RepositoryRecord | undefined {
  const repo = state(world).repositories[key(region, name)];
  return repo && repo.registryId === world.settings.accountId ? repo : undefined;
}

function invalidParameter(message: string): ServiceError {
  return new ServiceError('InvalidParameterException', message, 400);
}

function checkName(value: unknown): string {
  if (value === undefined || value === null || value === '') {
    throw invalidParameter(`1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null`);
  }
  const name = String(value);
  if (name.length < 2 || name.length > 256 || !NAME_PATTERN.test(name)) {
    throw invalidParameter(
      `Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''`,
    );
  }
  return name;
}

function registryOf(world: World, p: { registryId?: string }): string {
  return p.registryId ? String(p.registryId) : world.settings.accountId;
}

function notFound(name: string, registryId: string): ServiceError {
  return new ServiceError(
    'RepositoryNotFoundException',
    `The repository with name '${name}' does not exist in the registry with id '${registryId}'`,
    400,
  );
}

function getRepository(world: World, region: string, p: { repositoryName?: string; registryId?: string }): RepositoryRecord {
  const name = checkName(p.repositoryName);
  const registryId = registryOf(world, p);
  const repo = state(world).repositories[key(region, name)];
  if (!repo || repo.registryId !== registryId) throw notFound(name, registryId);
  return repo;
}

function repositoryByArn(world: World, arn: unknown): RepositoryRecord {
  const text = String(arn ?? '');
  const match = /^arn:aws[a-z-]*:ecr:([^:]+):(\d{12}):repository\/(.+)$/.exec(text);
  if (!match) throw invalidParameter(`Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'`);
  const repo = state(world).repositories[key(match[1], match[3])];
  if (!repo || repo.registryId !== match[2]) throw notFound(match[3], match[2]);
  return repo;
}

function readTags(value: unknown): TagMap {
  const items = list<{ Key?: string; Value?: string }>(value);
  for (const t of items) {
    if (!t || typeof t.Key !== 'string' || t.Key === '') throw new ServiceError('InvalidTagParameterException', 'Tag key must not be empty.', 400);
    if (t.Key.toLowerCase().startsWith('aws:')) throw new ServiceError('InvalidTagParameterException', 'Tag keys starting with aws: are reserved.', 400);
  }
  return arrayToTagMap(items);
}

function checkTagCount(tags: TagMap): TagMap {
  if (Object.keys(tags).length > 50) {
    throw new ServiceError('TooManyTagsException', 'A repository can have at most 50 tags.', 400);
  }
  return tags;
}

async function repositoryShape(world: World, r: RepositoryRecord) {
  return {
    repositoryArn: repositoryArn(r),
    registryId: r.registryId,
    repositoryName: r.repositoryName,
    repositoryUri: await repositoryUri(world, r),
    createdAt: new Date(r.createdAt),
    imageTagMutability: r.imageTagMutability,
    imageScanningConfiguration: { scanOnPush: r.scanOnPush },
    encryptionConfiguration: { encryptionType: r.encryptionType, kmsKey: r.kmsKey },
  };
}

function checkMaxResults(value: unknown, max: number): number | undefined {
  const n = int(value);
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > max)) {
    throw invalidParameter(`Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and ${max}'`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------

async function createRepository(p: CreateRepositoryRequest, { world, region, now }: Call): Promise<CreateRepositoryResponse> {
  const name = checkName(p.repositoryName);
  const registryId = registryOf(world, p);
  const tags = checkTagCount(readTags(p.tags));
  const mutability = p.imageTagMutability ?? 'MUTABLE';
  if (mutability !== 'MUTABLE' && mutability !== 'IMMUTABLE') {
    throw invalidParameter(`Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE]'`);
  }
  const encryptionType = p.encryptionConfiguration?.encryptionType ?? 'AES256';
  if (encryptionType !== 'AES256' && encryptionType !== 'KMS') {
    throw invalidParameter(`Invalid parameter at 'encryptionType' failed to satisfy constraint: 'Member must satisfy enum value set: [AES256, KMS]'`);
  }
  const repos = state(world).repositories;
  if (repos[key(region, name)]) {
    throw new ServiceError(
      'RepositoryAlreadyExistsException',
      `The repository with name '${name}' already exists in the registry with id '${registryId}'`,
      400,
    );
  }
  const repo: RepositoryRecord = {
    repositoryName: name,
    region: region,
    registryId,
    createdAt: now,
    imageTagMutability: mutability,
    scanOnPush: bool(p.imageScanningConfiguration?.scanOnPush) ?? false,
    encryptionType,
    kmsKey: encryptionType === 'KMS' ? (p.encryptionConfiguration?.kmsKey ?? `arn:aws:kms:${region}:${registryId}:alias/aws/ecr`) : undefined,
    tags,
    images: [],
  };
  repos[key(region, name)] = repo;
  return { repository: await repositoryShape(world, repo) };
}

async function describeRepositories(p: DescribeRepositoriesRequest, { world, region, now }: Call): Promise<DescribeRepositoriesResponse> {
  const registryId = registryOf(world, p);
  const names = list<string>(p.repositoryNames);
  if (names.length && (p.nextToken || p.maxResults)) {
    throw invalidParameter('Cannot specify repositoryNames together with nextToken or maxResults.');
  }
  let repos = Object.values(state(world).repositories).filter((r) => r.region === region && r.registryId === registryId);
  if (names.length) {
    for (const n of names) {
      checkName(n);
      if (!repos.some((r) => r.repositoryName === n)) throw notFound(n, registryId);
    }
    repos = names.map((n) => repos.find((r) => r.repositoryName === n)!);
  } else {
    repos.sort((a, b) => a.createdAt - b.createdAt || a.repositoryName.localeCompare(b.repositoryName));
  }
  const page = paginate(repos, {
    maxResults: checkMaxResults(p.maxResults, 1000),
    nextToken: p.nextToken,
    defaultPageSize: 100,
    settings: world.settings,
    invalidToken: () => invalidParameter('Invalid parameter at \'nextToken\' failed to satisfy constraint: \'Invalid NextToken\''),
  });
  return { repositories: await Promise.all(page.items.map((r) => repositoryShape(world, r))), nextToken: page.nextToken };
}

async function deleteRepository(p: DeleteRepositoryRequest, { world, region, now }: Call): Promise<DeleteRepositoryResponse> {
  const repo = getRepository(world, region, p);
  if (repo.images.length > 0 && !bool(p.force)) {
    throw new ServiceError(
      'RepositoryNotEmptyException',
      `The repository with name '${repo.repositoryName}' in registry with id '${repo.registryId}' cannot be deleted because it still contains images`,
      400,
    );
  }
  const shape = await repositoryShape(world, repo);
  delete state(world).repositories[key(repo.region, repo.repositoryName)];
  return { repository: shape };
}

function imageIdText(id: { imageDigest?: string; imageTag?: string }): string {
  return `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;
}

function findImage(repo: RepositoryRecord, id: { imageDigest?: string; imageTag?: string }): EcrImage | undefined {
  return repo.images.find(
    (img) => (!id.imageDigest || img.imageDigest === id.imageDigest) && (!id.imageTag || img.imageTags.includes(id.imageTag)),
  );
}

function describeImages(p: DescribeImagesRequest, { world, region, now }: Call): DescribeImagesResponse {
  const repo = getRepository(world, region, p);
  const ids = list<{ imageDigest?: string; imageTag?: string }>(p.imageIds);
  let images: EcrImage[];
  if (ids.length) {
    images = [];
    for (const id of ids) {
      if (!id || (!id.imageDigest && !id.imageTag)) throw invalidParameter('Invalid parameter at \'imageIds\': an image id needs an imageDigest or an imageTag.');
      const image = findImage(repo, id);
      if (!image) {
        throw new ServiceError(
          'ImageNotFoundException',
          `The image with imageId ${imageIdText(id)} does not exist within the repository with name '${repo.repositoryName}' in the registry with id '${repo.registryId}'`,
          400,
        );
      }
      if (!images.includes(image)) images.push(image);
    }
  } else {
    const tagStatus = p.filter?.tagStatus ?? 'ANY';
    images = repo.images.filter(
      (img) => tagStatus === 'ANY' || (tagStatus === 'TAGGED' ? img.imageTags.length > 0 : img.imageTags.length === 0),
    );
  }
  const page = paginate(images, {
    maxResults: checkMaxResults(p.maxResults, 1000),
    nextToken: p.nextToken,
    defaultPageSize: 100,
    settings: world.settings,
    invalidToken: () => invalidParameter('Invalid parameter at \'nextToken\' failed to satisfy constraint: \'Invalid NextToken\''),
  });
  return {
    imageDetails: page.items.map((img) => ({
      registryId: repo.registryId,
      repositoryName: repo.repositoryName,
      imageDigest: img.imageDigest,
      imageTags: img.imageTags.length ? img.imageTags : undefined,
      imageSizeInBytes: img.imageSizeInBytes,
      imagePushedAt: new Date(img.imagePushedAt),
      imageManifestMediaType: img.imageManifestMediaType,
      artifactMediaType: 'application/vnd.docker.container.image.v1+json',
    })),
    nextToken: page.nextToken,
  };
}

/**
 * Records an image in a repository, as a push would: moves the tag from any other image (or
 * refuses, in an IMMUTABLE repository). Exported for sandbox code that simulates pushes.
 */
export function recordImage(
  world: World,
  region: string,
  repositoryName: string,
  image: { imageDigest: string; imageTag?: string; imageSizeInBytes?: number; manifest?: string; mediaType?: string },
  now: number,
): void {
  const repo = getRepository(world, region, { repositoryName });
  const tag = image.imageTag;
  const existing = repo.images.find((img) => img.imageDigest === image.imageDigest);
  if (tag) {
    const holder = repo.images.find((img) => img.imageTags.includes(tag));
    if (holder && holder === existing) {
      throw new ServiceError(
        'ImageAlreadyExistsException',
        `Image with digest '${image.imageDigest}' and tag '${tag}' already exists in the repository with name '${repositoryName}' in registry with id '${repo.registryId}'`,
        400,
      );
    }
    if (holder && repo.imageTagMutability === 'IMMUTABLE') {
      throw new ServiceError(
        'ImageTagAlreadyExistsException',
        `The image tag '${tag}' already exists in the '${repositoryName}' repository and cannot be overwritten because the repository is immutable.`,
        400,
      );
    }
    if (holder) holder.imageTags = holder.imageTags.filter((t) => t !== tag);
  }
  if (existing) {
    if (tag) existing.imageTags.push(tag);
    return;
  }
  repo.images.push({
    imageDigest: image.imageDigest,
    imageTags: tag ? [tag] : [],
    imageSizeInBytes: image.imageSizeInBytes ?? 0,
    imagePushedAt: now,
    imageManifestMediaType: image.mediaType ?? MANIFEST_V2,
    manifest: image.manifest,
  });
}

function putImage(p: PutImageRequest, { world, region, now }: Call): PutImageResponse {
  const repo = getRepository(world, region, p);
  const manifest = p.imageManifest;
  if (typeof manifest !== 'string' || manifest === '') {
    throw invalidParameter(`1 validation error detected: Value null at 'imageManifest' failed to satisfy constraint: Member must not be null`);
  }
  let parsed: { layers?: unknown; config?: { size?: unknown }; mediaType?: string } | null;
  try {
    parsed = JSON.parse(manifest);
  } catch {
    throw invalidParameter('Invalid parameter at \'ImageManifest\' failed to satisfy constraint: \'Invalid JSON syntax\'');
  }
  const imageDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  if (p.imageDigest && p.imageDigest !== imageDigest) {
    throw new ServiceError('ImageDigestDoesNotMatchException', `Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The digest does not match'`, 400);
  }
  const size = list<{ size?: number }>(parsed?.layers).reduce((n, l) => n + (Number(l?.size) || 0), Number(parsed?.config?.size) || 0);
  recordImage(
    world,
    region,
    repo.repositoryName,
    { imageDigest, imageTag: p.imageTag, imageSizeInBytes: size, manifest, mediaType: p.imageManifestMediaType ?? parsed?.mediaType },
    now,
  );
  return {
    image: {
      registryId: repo.registryId,
      repositoryName: repo.repositoryName,
      imageId: { imageDigest, imageTag: p.imageTag },
      imageManifest: manifest,
      imageManifestMediaType: p.imageManifestMediaType ?? parsed?.mediaType ?? MANIFEST_V2,
    },
  };
}

/**
 * A 12-hour token for the region's loopback registry (AuthorizationData: "user:password" in base64,
 * proxyEndpoint the registry URL for `docker login`). Its registry speaks plain HTTP, as dockerd
 * speaks to any 127.0.0.0/8 registry.
 */
async function getAuthorizationToken(p: GetAuthorizationTokenRequest, { world, region, now }: Call): Promise<GetAuthorizationTokenResponse> {
  const registryIds = list<string>(p.registryIds);
  const ids = registryIds.length ? registryIds : [world.settings.accountId];
  const host = await registryHost(world, region);
  const expiresAt = now + TOKEN_LIFETIME_MS;
  return {
    authorizationData: ids.map(() => ({
      authorizationToken: Buffer.from(`AWS:${issuePassword(world, region, expiresAt)}`).toString('base64'),
      expiresAt: new Date(expiresAt),
      proxyEndpoint: `http://${host}`,
    })),
  };
}

function tagResource(p: TagResourceRequest, { world, region, now }: Call): TagResourceResponse {
  const repo = repositoryByArn(world, p.resourceArn);
  repo.tags = checkTagCount({ ...repo.tags, ...readTags(p.tags) });
  return {};
}

function untagResource(p: UntagResourceRequest, { world, region, now }: Call): UntagResourceResponse {
  const repo = repositoryByArn(world, p.resourceArn);
  for (const k of list<string>(p.tagKeys)) delete repo.tags[k];
  return {};
}

function listTagsForResource(p: ListTagsForResourceRequest, { world, region, now }: Call): ListTagsForResourceResponse {
  return { tags: keyValueTags(repositoryByArn(world, p.resourceArn).tags) };
}

export const ecr: ServiceModule = {
  name: 'ecr',
  protocol: 'json',
  targetPrefix: 'AmazonEC2ContainerRegistry_V20150921',
  initState: (): EcrState => ({ repositories: {} }),
  operations: {
    CreateRepository: typedOperation({ mutating: true, decode: jsonBody<CreateRepositoryRequest>, handler: createRepository }),
    DescribeRepositories: typedOperation({ mutating: false, decode: jsonBody<DescribeRepositoriesRequest>, handler: describeRepositories }),
    DeleteRepository: typedOperation({ mutating: true, decode: jsonBody<DeleteRepositoryRequest>, handler: deleteRepository }),
    DescribeImages: typedOperation({ mutating: false, decode: jsonBody<DescribeImagesRequest>, handler: describeImages }),
    PutImage: typedOperation({ mutating: true, decode: jsonBody<PutImageRequest>, handler: putImage }),
    GetAuthorizationToken: typedOperation({ mutating: false, decode: jsonBody<GetAuthorizationTokenRequest>, handler: getAuthorizationToken }),
    TagResource: typedOperation({ mutating: true, decode: jsonBody<TagResourceRequest>, handler: tagResource }),
    UntagResource: typedOperation({ mutating: true, decode: jsonBody<UntagResourceRequest>, handler: untagResource }),
    ListTagsForResource: typedOperation({ mutating: false, decode: jsonBody<ListTagsForResourceRequest>, handler: listTagsForResource }),
  },
};
