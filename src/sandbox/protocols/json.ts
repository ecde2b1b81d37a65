/**
 * AWS JSON 1.1 protocol (ECS, SSM, ECR, CloudWatch Logs).
 *
 * Request:  POST /, X-Amz-Target: <targetPrefix>.<Operation>, Content-Type: application/x-amz-json-1.1,
 *           body = the operation's input as JSON. Handlers receive the parsed body as req.params.
 *
 * Response: a handler returns the operation's output as a plain object with the exact member names of
 *           the API reference ({ cluster: { clusterArn, ... } }). Return undefined for an empty output.
 *           Date values are written as epoch seconds (what JSON 1.1 uses for timestamps), so handlers can
 *           return `new Date(ms)`; undefined members are dropped.
 *
 * Errors:   throw new ServiceError('ClusterNotFoundException', 'Cluster not found.') and the client gets
 *           HTTP 400, header x-amzn-ErrorType: ClusterNotFoundException and body
 *           {"__type":"ClusterNotFoundException","message":"Cluster not found."}. The SDK maps __type to
 *           the modelled exception class, so use the exact shape name from the API reference.
 */
import { ServiceError, type ServiceModule } from '../types.js';
import type { ProtocolCodec, WireResponse } from './wire.js';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** "AmazonEC2ContainerServiceV20141113.CreateCluster" => { prefix, operation } */
export function parseTarget(target: string): { prefix: string; operation: string } | undefined {
  const dot = target.lastIndexOf('.');
  if (dot <= 0 || dot === target.length - 1) return undefined;
  return { prefix: target.slice(0, dot), operation: target.slice(dot + 1) };
}

/** Parse a JSON request body. An empty body is an empty input. */
export function parseJsonBody(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ServiceError('SerializationException', 'Start of structure or map found where not expected.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ServiceError('SerializationException', 'Start of structure or map found where not expected.');
  }
  return parsed as Record<string, unknown>;
}

/** JSON.stringify with Date => epoch seconds (fractional, as AWS JSON services send them). */
export function toAwsJson(value: unknown): string {
  return JSON.stringify(value ?? {}, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1000 : v;
  });
}

function response(status: number, requestId: string, body: string, extra: Record<string, string> = {}): WireResponse {
  return {
    status,
    headers: {
      'content-type': JSON_CONTENT_TYPE,
      'x-amzn-requestid': requestId,
      ...extra,
    },
    body,
  };
}

export const jsonCodec: ProtocolCodec = {
  success(_module: ServiceModule, _operation: string, result: unknown, requestId: string): WireResponse {
    return response(200, requestId, toAwsJson(result));
  },

  error(_module, err, requestId) {
    return response(err.status, requestId, JSON.stringify({ __type: err.code, message: err.message, ...err.members }), {
      'x-amzn-errortype': err.code,
    });
  },

  throttling: () => new ServiceError('ThrottlingException', 'Rate exceeded', 400),
  // A JSON service (CloudWatch Logs, ECS, SSM, ECR) answers an unknown key with HTTP 400
  // UnrecognizedClientException (e.g. github.com/maxbanton/cwh/issues/119: Logs' 400 with this body),
  // a wrong signature or an old one with InvalidSignatureException.
  invalidClientToken: () => new ServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400),
  signatureMismatch: () => new ServiceError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.', 400),
  signatureExpired: (message) => new ServiceError('InvalidSignatureException', message, 400),
  missingAuthentication: () => new ServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token', 400),
  incompleteSignature: (message) => new ServiceError('IncompleteSignatureException', message, 400),
  unknownOperation: (operation) =>
    new ServiceError('UnknownOperationException', `The operation ${operation} is not supported by this service.`, 400),
  internalError: () => new ServiceError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', 500),
};
