/**
 * The Docker Registry HTTP API v2, as far as `docker push`, `docker pull` and a manifest HEAD need
 * it (https://docs.docker.com/reference/api/registry/latest/):
 *
 *   GET  /v2/                                   version check (401 + Basic challenge without a token)
 *   HEAD|GET /v2/<name>/blobs/<digest>          a blob
 *   POST /v2/<name>/blobs/uploads/              start an upload (?digest= monolithic, ?mount=&from=)
 *   GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<uuid>   status, a chunk, finish (?digest=), cancel
 *   HEAD|GET|PUT /v2/<name>/manifests/<tag|digest>         a manifest; PUT records the image in ECR
 *   GET  /v2/<name>/tags/list
 *
 * Errors are the registry's JSON ({"errors":[{"code","message"}]}), with ECR's messages.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { findRepositoryRecord, recordImage, type EcrImage } from '../services/ecr.js';
import { ServiceError, type World } from '../types.js';
import { checkAuthorization } from './tokens.js';
import { isDigest, sha256Digest, type BlobStore } from './store.js';

export interface RegistryContext {
  world: World;
  region: string;
  store: BlobStore;
  now: () => number;
  save?: () => void;
  /** 127.0.0.1:<port> of this listener (the Basic realm). */
  host: string;
}

interface Reply {
  status: number;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** HEAD: headers only, with the length of the body a GET would send. */
  head?: boolean;
}

const NAME = '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*';
const ROUTES = {
  blob: new RegExp(`^/v2/(${NAME})/blobs/(sha256:[0-9a-f]{64}|[^/]+)$`),
  uploads: new RegExp(`^/v2/(${NAME})/blobs/uploads/?$`),
  upload: new RegExp(`^/v2/(${NAME})/blobs/uploads/([0-9a-f-]{36})$`),
  manifest: new RegExp(`^/v2/(${NAME})/manifests/([^/]+)$`),
  tags: new RegExp(`^/v2/(${NAME})/tags/list$`),
};

const MANIFEST_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
]);

function error(status: number, code: string, message: string, extra: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify({ errors: [{ code, message }] }) };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function handleRegistryRequest(req: IncomingMessage, res: ServerResponse, ctx: RegistryContext): Promise<void> {
  const url = new URL(req.url ?? '/', `http://${ctx.host}`);
  const method = req.method ?? 'GET';
  const body = await readBody(req);
  const reply = route(method, url, body, req, ctx);
  const headers: Record<string, string | number> = { 'docker-distribution-api-version': 'registry/2.0', ...(reply.headers ?? {}) };
  const content = reply.body === undefined ? undefined : Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(reply.body);
  if (content && headers['content-length'] === undefined) headers['content-length'] = content.length;
  if (!content && headers['content-length'] === undefined) headers['content-length'] = 0;
  res.writeHead(reply.status, headers);
  res.end(method === 'HEAD' || reply.head ? undefined : content);
}

function route(method: string, url: URL, body: Buffer, req: IncomingMessage, ctx: RegistryContext): Reply {
  const path = url.pathname;
  if (!path.startsWith('/v2/') && path !== '/v2') return error(404, 'NOT_FOUND', 'Not found');
  const auth = checkAuthorization(ctx.world, ctx.region, req.headers.authorization, ctx.now());
  if (auth !== 'ok') {
    const message = auth === 'expired' ? 'Your authorization token has expired. Reauthenticate and try again.' : 'Not Authorized';
    return error(401, 'DENIED', message, { 'www-authenticate': `Basic realm="http://${ctx.host}/",service="ecr.amazonaws.com"` });
  }
  if (path === '/v2/' || path === '/v2') return { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };

  let m: RegExpExecArray | null;
  if ((m = ROUTES.upload.exec(path))) return withRepository(ctx, m[1]!, () => upload(method, m![1]!, m![2]!, url, body, ctx));
  if ((m = ROUTES.uploads.exec(path))) {
    if (method !== 'POST') return error(405, 'UNSUPPORTED', `${method} is not supported here`);
    return withRepository(ctx, m[1]!, () => startUpload(m![1]!, url, body, ctx));
  }
  if ((m = ROUTES.blob.exec(path))) {
    if (method !== 'GET' && method !== 'HEAD') return error(405, 'UNSUPPORTED', `${method} is not supported here`);
    return withRepository(ctx, m[1]!, () => blob(m![2]!, ctx));
  }
  if ((m = ROUTES.manifest.exec(path))) return withRepository(ctx, m[1]!, () => manifest(method, m![1]!, m![2]!, body, req, ctx));
  if ((m = ROUTES.tags.exec(path))) {
    return withRepository(ctx, m[1]!, () => {
      const repo = findRepositoryRecord(ctx.world, ctx.region, m![1]!)!;
      const tags = [...new Set(repo.images.flatMap((i) => i.imageTags))].sort();
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: m![1], tags }) };
    });
  }
  return error(404, 'NOT_FOUND', 'Not found');
}

/** ECR serves only repositories that exist (it never creates one on push). */
function withRepository(ctx: RegistryContext, name: string, then: () => Reply): Reply {
  if (!findRepositoryRecord(ctx.world, ctx.region, name)) {
    return error(404, 'NAME_UNKNOWN', `The repository with name '${name}' does not exist in the registry with id '${ctx.world.settings.accountId}'`);
  }
  return then();
}

function blob(digest: string, ctx: RegistryContext): Reply {
  if (!isDigest(digest)) return error(400, 'DIGEST_INVALID', `Invalid digest ${digest}`);
  const content = ctx.store.read(digest);
  if (!content) return error(404, 'BLOB_UNKNOWN', `Blob ${digest} not found`);
  return { status: 200, headers: { 'content-type': 'application/octet-stream', 'docker-content-digest': digest }, body: content };
}

function uploadLocation(name: string, uuid: string, received: number): Record<string, string> {
  return {
    location: `/v2/${name}/blobs/uploads/${uuid}`,
    range: `0-${Math.max(0, received - 1)}`,
    'docker-upload-uuid': uuid,
  };
}

function created(name: string, digest: string): Reply {
  return { status: 201, headers: { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest } };
}

function startUpload(name: string, url: URL, body: Buffer, ctx: RegistryContext): Reply {
  const mount = url.searchParams.get('mount');
  if (mount && isDigest(mount) && ctx.store.has(mount)) return created(name, mount);
  const digest = url.searchParams.get('digest');
  if (digest) {
    const got = ctx.store.put(body);
    if (got !== digest) return error(400, 'DIGEST_INVALID', `The digest ${digest} does not match the content (${got})`);
    return created(name, got);
  }
  const uuid = ctx.store.startUpload();
  return { status: 202, headers: uploadLocation(name, uuid, 0) };
}

function upload(method: string, name: string, uuid: string, url: URL, body: Buffer, ctx: RegistryContext): Reply {
  const received = ctx.store.uploaded(uuid);
  if (received === undefined) return error(404, 'BLOB_UPLOAD_UNKNOWN', `Upload ${uuid} not found`);
  if (method === 'GET') return { status: 204, headers: uploadLocation(name, uuid, received) };
  if (method === 'DELETE') {
    ctx.store.cancel(uuid);
    return { status: 204 };
  }
  if (method === 'PATCH') return { status: 202, headers: uploadLocation(name, uuid, ctx.store.append(uuid, body)) };
  if (method === 'PUT') {
    const digest = url.searchParams.get('digest') ?? '';
    if (!isDigest(digest)) return error(400, 'DIGEST_INVALID', `Invalid digest ${digest}`);
    if (body.length) ctx.store.append(uuid, body);
    const got = ctx.store.finish(uuid);
    if (got !== digest) return error(400, 'DIGEST_INVALID', `The digest ${digest} does not match the content (${got})`);
    return created(name, got);
  }
  return error(405, 'UNSUPPORTED', `${method} is not supported here`);
}

function findImage(images: EcrImage[], reference: string): EcrImage | undefined {
  return isDigest(reference) ? images.find((i) => i.imageDigest === reference) : images.find((i) => i.imageTags.includes(reference));
}

function manifest(method: string, name: string, reference: string, body: Buffer, req: IncomingMessage, ctx: RegistryContext): Reply {
  const repo = findRepositoryRecord(ctx.world, ctx.region, name)!;
  if (method === 'GET' || method === 'HEAD') {
    const image = findImage(repo.images, reference);
    if (!image?.manifest) return error(404, 'MANIFEST_UNKNOWN', `Requested image not found`);
    return { status: 200, headers: { 'content-type': image.imageManifestMediaType, 'docker-content-digest': image.imageDigest }, body: image.manifest };
  }
  if (method !== 'PUT') return error(405, 'UNSUPPORTED', `${method} is not supported here`);
  let parsed: { mediaType?: string; config?: { digest?: string }; layers?: { digest?: string; size?: number }[]; manifests?: { digest?: string }[] };
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return error(400, 'MANIFEST_INVALID', 'The manifest is not JSON');
  }
  const mediaType = String(req.headers['content-type'] ?? parsed.mediaType ?? '').split(';')[0]!.trim();
  if (!MANIFEST_TYPES.has(mediaType)) return error(400, 'MANIFEST_INVALID', `Unsupported manifest media type ${mediaType || '(none)'}`);
  const digest = sha256Digest(body);
  if (isDigest(reference) && reference !== digest) return error(400, 'DIGEST_INVALID', `The digest ${reference} does not match the manifest (${digest})`);
  const blobs = [parsed.config?.digest, ...(parsed.layers ?? []).map((l) => l.digest)].filter((d): d is string => typeof d === 'string');
  const missing = blobs.find((d) => !ctx.store.has(d));
  if (missing) return error(400, 'MANIFEST_BLOB_UNKNOWN', `Blob ${missing} is not in the repository`);
  const absentChild = (parsed.manifests ?? []).map((x) => x.digest).find((d) => !d || !repo.images.some((i) => i.imageDigest === d));
  if (parsed.manifests && absentChild !== undefined) return error(400, 'MANIFEST_BLOB_UNKNOWN', `Manifest ${absentChild} is not in the repository`);
  const size = (parsed.layers ?? []).reduce((n, l) => n + (Number(l.size) || 0), 0);
  try {
    recordImage(
      ctx.world,
      ctx.region,
      name,
      { imageDigest: digest, imageTag: isDigest(reference) ? undefined : reference, imageSizeInBytes: size, manifest: body.toString('utf8'), mediaType },
      ctx.now(),
    );
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    // The same manifest under the same tag again: docker push repeats itself, ECR accepts it.
    if (e.code !== 'ImageAlreadyExistsException') return error(400, e.code === 'ImageTagAlreadyExistsException' ? 'TAG_INVALID' : 'MANIFEST_INVALID', e.message);
  }
  ctx.store.put(body);
  ctx.save?.();
  return { status: 201, headers: { location: `/v2/${name}/manifests/${digest}`, 'docker-content-digest': digest } };
}
