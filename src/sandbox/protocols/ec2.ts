/**
 * EC2 Query protocol.
 *
 * Request:  like the Query protocol (form-encoded Action=RunInstances&Version=2016-11-15&...), but lists are
 *           numbered without "member": InstanceId.1=i-1, TagSpecification.1.Tag.1.Key=k, Filter.1.Value.1=v.
 *           Handlers receive the flat parameters minus Action and Version; call unflatten() (re-exported
 *           here) to get lists and structures. Note the SDK sends EC2 parameter names capitalised
 *           (InstanceId, Filter, MinCount) while responses use lowerCamel element names.
 *
 * Response: a handler returns the response fields as a plain object whose keys are the exact XML element
 *           names (lowerCamel, as in the EC2 API reference), e.g.
 *
 *             return { reservationId: 'r-0...', ownerId: '123456789012', instancesSet: [{ instanceId: 'i-0...',
 *                       instanceState: { code: 0, name: 'pending' }, tagSet: [{ key: 'k', value: 'v' }] }] };
 *
 *           arrays become <item> lists (see xml.ts); Dates are ISO 8601 with milliseconds. The protocol
 *           writes <{Op}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>...</requestId>
 *           ...fields...</{Op}Response>. Return undefined when the output has no fields; for Boolean-only
 *           outputs (DeleteSecurityGroup) return { return: true }.
 *
 * Errors:   throw new ServiceError('InvalidInstanceID.NotFound', "The instance ID 'i-1' does not exist") gives
 *           HTTP 400 and <Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors>
 *           <RequestID>..</RequestID></Response>.
 */
import { ServiceError } from '../types.js';
import type { ProtocolCodec, WireResponse } from './wire.js';
import { escapeXml, xmlFields, type XmlStyle } from './xml.js';

export { unflatten, parseBool, parseIntParam } from './query.js';
export { xmlList, escapeXml, type XmlListOptions } from './xml.js';

export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
export const EC2_XML_STYLE: XmlStyle = { listItem: 'item', dateMillis: true };

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

export const ec2Codec: ProtocolCodec = {
  success(module, operation, result, requestId): WireResponse {
    const ns = module.xmlNamespace ?? EC2_NAMESPACE;
    const body =
      XML_DECLARATION +
      `<${operation}Response xmlns="${escapeXml(ns)}">` +
      `<requestId>${requestId}</requestId>` +
      xmlFields(result as Record<string, unknown> | undefined, EC2_XML_STYLE) +
      `</${operation}Response>`;
    return { status: 200, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body };
  },

  error(_module, err, requestId): WireResponse {
    const body =
      XML_DECLARATION +
      `<Response><Errors><Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error></Errors>` +
      `<RequestID>${requestId}</RequestID></Response>`;
    return { status: err.status, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body };
  },

  throttling: () => new ServiceError('RequestLimitExceeded', 'Request limit exceeded.', 503),
  // EC2 answers both an unknown key and a wrong signature with HTTP 401 AuthFailure
  // (github.com/aws/aws-sdk-java-v2/issues/2981 shows the wire body), and a signature older than
  // 15 minutes with RequestExpired (EC2 API reference, "Error codes").
  invalidClientToken: () => new ServiceError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401),
  signatureMismatch: () => new ServiceError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401),
  signatureExpired: (message) => new ServiceError('RequestExpired', message, 400),
  missingAuthentication: () => new ServiceError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401),
  incompleteSignature: (message) => new ServiceError('IncompleteSignature', message, 400),
  unknownOperation: (operation) => new ServiceError('InvalidAction', `The action ${operation} is not valid for this web service.`, 400),
  internalError: () => new ServiceError('InternalError', 'An internal error has occurred', 500),
};
