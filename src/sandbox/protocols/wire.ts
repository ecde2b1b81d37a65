/**
 * What every protocol layer implements: turn a handler's result, or a ServiceError, into the HTTP
 * response that protocol puts on the wire.
 */
import { ServiceError, type ServiceModule, type StreamingResult } from '../types.js';

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** A streaming response (event streams): `body` is empty, this writes the rest. */
  stream?: StreamingResult;
}

export interface ProtocolCodec {
  /** Serialise a handler's successful result. */
  success(module: ServiceModule, operation: string, result: unknown, requestId: string): WireResponse;
  /** Serialise an error. `module` is undefined when the request could not be routed to a service. */
  error(module: ServiceModule | undefined, err: ServiceError, requestId: string): WireResponse;
  /** The error this protocol's services return when they throttle a caller. */
  throttling(): ServiceError;
  /** The error for a request without any SigV4 signature. */
  missingAuthentication(): ServiceError;
  /** The error for an access key id the sandbox does not know. */
  invalidClientToken(): ServiceError;
  /** The error for a signature made with another secret, or over a request changed on the way. */
  signatureMismatch(): ServiceError;
  /** The error for a signature made more than 15 minutes from now, or a presigned URL past its expiry. */
  signatureExpired(message: string): ServiceError;
  /** The error for a malformed signature. */
  incompleteSignature(message: string): ServiceError;
  /** The error for an operation the service does not have. */
  unknownOperation(operation: string, version?: string): ServiceError;
  /** The error for an unexpected exception inside a handler. */
  internalError(): ServiceError;
}

/** What a caller whose policy denies the action gets (IAM's wording; JSON services say AccessDeniedException). */
export function accessDenied(module: ServiceModule, operation: string, account: string): ServiceError {
  const code = module.protocol === 'json' ? 'AccessDeniedException' : module.protocol === 'ec2' ? 'UnauthorizedOperation' : 'AccessDenied';
  return new ServiceError(code, `User: arn:aws:iam::${account}:user/sandbox is not authorized to perform: ${module.name}:${operation} because no identity-based policy allows the ${module.name}:${operation} action`, 400);
}
