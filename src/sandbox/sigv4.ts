/**
 * Reads the AWS Signature Version 4 credential scope of a request, from the Authorization header or
 * from a presigned URL's X-Amz-Credential. Signatures are NOT verified (any key is accepted); what
 * matters is that a request is signed at all, and which service and region it was signed for:
 *
 *   Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/ecs/aws4_request,
 *                  SignedHeaders=host;x-amz-date, Signature=0123abcd...
 *
 * The signing name ('ecs', 'iam', 'ec2', 'ssm', 'sts', 'logs', 'ecr') selects the service module.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Scope {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  /** Signing name, e.g. 'ecs'. */
  service: string;
  signedHeaders: string[];
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
    return scopeOf(fields['Credential'], fields['SignedHeaders']);
  }

  const credential = query.get('X-Amz-Credential');
  if (credential) {
    if (!query.get('X-Amz-Signature')) return { kind: 'incomplete', message: `Query string requires 'X-Amz-Signature' parameter.` };
    return scopeOf(credential, query.get('X-Amz-SignedHeaders') ?? 'host');
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

function scopeOf(credential: string, signedHeaders: string): SigV4Result {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || parts.some((p) => p === '')) {
    return {
      kind: 'incomplete',
      message: `Credential should be scoped to a valid region, service and terminator 'aws4_request'. Got '${credential}'.`,
    };
  }
  const [accessKeyId, date, region, service] = parts;
  return { kind: 'signed', scope: { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';') } };
}
