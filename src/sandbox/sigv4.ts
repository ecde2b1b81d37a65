/**
 * AWS Signature Version 4, both sides: reading a request's credential scope (the Authorization header
 * or a presigned URL's X-Amz-Credential), verifying its signature with the sandbox's secret, and
 * signing a request (the CLI's calls to the sandbox's /_sandbox/* control endpoints).
 *
 *   Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/ecs/aws4_request,
 *                  SignedHeaders=host;x-amz-date, Signature=0123abcd...
 *
 * The signing name ('ecs', 'iam', 'ec2', 'ssm', 'sts', 'logs', 'ecr') selects the service module.
 * The algorithm is AWS's "Create a signed AWS API request" (IAM User Guide,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html): canonical request,
 * string to sign, HMAC-SHA256 key derived from the secret, date, region and service.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Scope {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  /** Signing name, e.g. 'ecs'. */
  service: string;
  signedHeaders: string[];
  /** The hex signature the caller sent. */
  signature: string;
  /** Where the signature was: the Authorization header or the query string (a presigned URL). */
  via: 'header' | 'query';
}

export type SigV4Result =
  | { kind: 'signed'; scope: SigV4Scope }
  /** No Authorization header and no X-Amz-Credential: AWS answers MissingAuthenticationToken. */
  | { kind: 'missing' }
  /** Present but malformed: AWS answers IncompleteSignature. */
  | { kind: 'incomplete'; message: string };

const AUTH_HEADER = /^AWS4-HMAC-SHA256\s+(.*)$/;

export function readSigV4(headers: IncomingHttpHeaders, query: URLSearchParams): SigV4Result {
  const authorization = headers['authorization'];
  if (typeof authorization === 'string' && authorization.trim() !== '') {
    const m = AUTH_HEADER.exec(authorization.trim());
    if (!m) return { kind: 'incomplete', message: `Authorization header requires 'AWS4-HMAC-SHA256' algorithm.` };
    const fields = parseFields(m[1]);
    for (const required of ['Credential', 'SignedHeaders', 'Signature']) {
      if (!fields[required]) {
        return { kind: 'incomplete', message: `Authorization header requires '${required}' parameter.` };
      }
    }
    return scopeOf(fields['Credential'], fields['SignedHeaders'], fields['Signature'], 'header');
  }

  const credential = query.get('X-Amz-Credential');
  if (credential) {
    const signature = query.get('X-Amz-Signature');
    if (!signature) return { kind: 'incomplete', message: `Query string requires 'X-Amz-Signature' parameter.` };
    return scopeOf(credential, query.get('X-Amz-SignedHeaders') ?? 'host', signature, 'query');
  }
  return { kind: 'missing' };
}

/** "Credential=a/b, SignedHeaders=c;d, Signature=e" => { Credential: 'a/b', ... } */
function parseFields(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function scopeOf(credential: string, signedHeaders: string, signature: string, via: 'header' | 'query'): SigV4Result {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || parts.some((p) => p === '')) {
    return {
      kind: 'incomplete',
      message: `Credential should be scoped to a valid region, service and terminator 'aws4_request'. Got '${credential}'.`,
    };
  }
  const [accessKeyId, date, region, service] = parts;
  return { kind: 'signed', scope: { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature, via } };
}

// ---- Verifying and signing ------------------------------------------------------------------------

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What a verification found wrong; the server turns it into the protocol's own error. */
export type SigV4Failure =
  /** The access key id is not one the sandbox knows: InvalidClientTokenId / UnrecognizedClientException. */
  | { kind: 'unknown-key' }
  /** Signed with another secret, or the request was changed on the way: SignatureDoesNotMatch. */
  | { kind: 'mismatch' }
  /** Signed too long ago or in the future, or a presigned URL past its X-Amz-Expires. */
  | { kind: 'expired'; message: string }
  /** A required piece is missing (the date, host among the signed headers). */
  | { kind: 'incomplete'; message: string };

export interface VerifyInput {
  method: string;
  /** The request target as received (path and query, still percent-encoded). */
  rawUrl: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  scope: SigV4Scope;
  /** Secret of each access key id the sandbox accepts. */
  secretFor: (accessKeyId: string) => string | undefined;
  /** The wall clock (ms), for the 15-minute window; not the sandbox's (possibly manual) clock. */
  now: number;
}

/** AWS accepts a request whose X-Amz-Date is within 15 minutes of its clock (IAM User Guide, "Signature Version 4 signing"). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** Verify a signed request's signature. Undefined when it is genuine. */
export function verifySigV4(input: VerifyInput): SigV4Failure | undefined {
  const { scope } = input;
  const secret = input.secretFor(scope.accessKeyId);
  if (secret === undefined) return { kind: 'unknown-key' };
  const url = new URL(input.rawUrl, 'http://sandbox');
  const amzDate = scope.via === 'query' ? url.searchParams.get('X-Amz-Date') : header(input.headers, 'x-amz-date') ?? header(input.headers, 'date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    return { kind: 'incomplete', message: `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.` };
  }
  if (!scope.signedHeaders.includes('host')) return { kind: 'incomplete', message: `'Host' must be a 'SignedHeader' in the AWS Authorization.` };
  if (amzDate.slice(0, 8) !== scope.date) return { kind: 'mismatch' };
  const signedAt = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (scope.via === 'query') {
    const expires = Number(url.searchParams.get('X-Amz-Expires') ?? '900');
    if (!Number.isInteger(expires) || expires < 1 || expires > 604800) return { kind: 'incomplete', message: 'X-Amz-Expires must be a number of seconds from 1 to 604800.' };
    if (input.now > signedAt + expires * 1000) return { kind: 'expired', message: `Request has expired (signed ${amzDate}, valid for ${expires} s).` };
    if (signedAt - input.now > MAX_CLOCK_SKEW_MS) return { kind: 'expired', message: `Signature not yet current: ${amzDate} is still later than ${compactDate(input.now + MAX_CLOCK_SKEW_MS)}.` };
  } else if (Math.abs(input.now - signedAt) > MAX_CLOCK_SKEW_MS) {
    return {
      kind: 'expired',
      message:
        signedAt < input.now
          ? `Signature expired: ${amzDate} is now earlier than ${compactDate(input.now - MAX_CLOCK_SKEW_MS)} (${compactDate(input.now)} - 15 min.)`
          : `Signature not yet current: ${amzDate} is still later than ${compactDate(input.now + MAX_CLOCK_SKEW_MS)} (${compactDate(input.now)} + 15 min.)`,
    };
  }

  const bodyHash = sha256Hex(input.body);
  const claimed = header(input.headers, 'x-amz-content-sha256');
  // A claimed payload hash must be the body's (or UNSIGNED-PAYLOAD); a presigned URL's payload is
  // UNSIGNED-PAYLOAD for botocore and the body's hash for the JS SDK's presigner: either is accepted.
  if (claimed && claimed !== UNSIGNED_PAYLOAD && claimed !== bodyHash) return { kind: 'mismatch' };
  const payloads = scope.via === 'query' ? [bodyHash, UNSIGNED_PAYLOAD] : [claimed ?? bodyHash];
  const query = [...url.searchParams].filter(([k]) => !(scope.via === 'query' && k === 'X-Amz-Signature'));
  const key = signingKey(secret, scope.date, scope.region, scope.service);
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const given = Buffer.from(scope.signature.toLowerCase(), 'utf8');
  for (const payload of payloads) {
    const canonical = canonicalRequest(input.method, url.pathname, query, input.headers, scope.signedHeaders, payload);
    const expected = Buffer.from(hmac(key, stringToSign(amzDate, credentialScope, canonical)).toString('hex'), 'utf8');
    if (expected.length === given.length && timingSafeEqual(expected, given)) return undefined;
  }
  return { kind: 'mismatch' };
}

/**
 * Sign a request with header auth (what the SDK does): returns the headers to send (host,
 * x-amz-date, x-amz-content-sha256, authorization, plus the ones given).
 */
export function signRequest(o: {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  credentials: SigningCredentials;
  region: string;
  service: string;
  now?: number;
}): Record<string, string> {
  const url = new URL(o.url);
  const amzDate = compactDate(o.now ?? Date.now());
  const date = amzDate.slice(0, 8);
  const body = typeof o.body === 'string' ? Buffer.from(o.body, 'utf8') : (o.body ?? Buffer.alloc(0));
  const headers: Record<string, string> = { ...lowerKeys(o.headers ?? {}), host: url.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': sha256Hex(body) };
  const signed = Object.keys(headers).sort();
  const canonical = canonicalRequest(o.method, url.pathname, [...url.searchParams], headers, signed, headers['x-amz-content-sha256']);
  const credentialScope = `${date}/${o.region}/${o.service}/aws4_request`;
  const signature = hmac(signingKey(o.credentials.secretAccessKey, date, o.region, o.service), stringToSign(amzDate, credentialScope, canonical)).toString('hex');
  headers['authorization'] = `AWS4-HMAC-SHA256 Credential=${o.credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return headers;
}

function canonicalRequest(method: string, rawPath: string, query: [string, string][], headers: IncomingHttpHeaders | Record<string, string>, signedHeaders: string[], payloadHash: string): string {
  // Non-S3 services encode each path segment twice: the path as received is encoded once, and is
  // encoded again here (as the SDK's and botocore's signers do).
  const path = rawPath === '' ? '/' : rawPath.split('/').map(uriEncode).join('/');
  const canonicalQuery = query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const lower = lowerKeys(headers as Record<string, string | string[] | undefined>);
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${headerValue(lower[h])}\n`).join('');
  return [method.toUpperCase(), path, canonicalQuery, canonicalHeaders, signedHeaders.join(';'), payloadHash].join('\n');
}

function stringToSign(amzDate: string, credentialScope: string, canonical: string): string {
  return ['AWS4-HMAC-SHA256', amzDate, credentialScope, sha256Hex(Buffer.from(canonical, 'utf8'))].join('\n');
}

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(Buffer.from(`AWS4${secret}`, 'utf8'), date), region), service), 'aws4_request');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper case). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Trimmed, inner runs of spaces collapsed; a repeated header's values joined by commas. */
function headerValue(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v.join(',') : (v ?? '');
  return s.trim().replace(/\s+/g, ' ');
}

function lowerKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}

/** 20261125T120000Z */
function compactDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}
