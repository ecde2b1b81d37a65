/**
 * Pagination shared by the services. Tokens are opaque to callers (base64 of the offset) and the
 * sandbox's pageSize setting caps every page, so clients are forced to follow NextToken.
 */
import { ServiceError, type SandboxSettings } from './types.js';

export interface PageRequest {
  /** maxResults / MaxItems / MaxResults from the request, if any. */
  maxResults?: number;
  nextToken?: string;
  /** The service's page size when the caller gives none. */
  defaultPageSize: number;
  settings: SandboxSettings;
  /** The error the service returns for a token it did not issue. */
  invalidToken: () => ServiceError;
}

export interface Page<T> {
  items: T[];
  /** Set when more items follow. */
  nextToken?: string;
}

export function paginate<T>(all: T[], req: PageRequest): Page<T> {
  let size = req.maxResults && req.maxResults > 0 ? req.maxResults : req.defaultPageSize;
  if (req.settings.pageSize > 0) size = Math.min(size, req.settings.pageSize);
  const start = req.nextToken ? decodeToken(req.nextToken, req.invalidToken) : 0;
  const items = all.slice(start, start + size);
  const end = start + items.length;
  return { items, nextToken: end < all.length ? encodeToken(end) : undefined };
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64');
}

function decodeToken(token: string, invalid: () => ServiceError): number {
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through
  }
  throw invalid();
}
