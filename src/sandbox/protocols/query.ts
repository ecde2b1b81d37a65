/**
 * AWS Query protocol (IAM, STS).
 *
 * Request:  POST /, Content-Type: application/x-www-form-urlencoded, body Action=CreateRole&Version=2010-05-08&
 *           RoleName=r&Tags.member.1.Key=k&Tags.member.1.Value=v (GET with the same query string also works).
 *           Handlers receive the flat parameters minus Action and Version as req.params; call unflatten()
 *           to get { RoleName: 'r', Tags: [{ Key: 'k', Value: 'v' }] }.
 *
 * Response: a handler returns the *content* of <{Op}Result> as a plain object whose keys are the exact
 *           XML element names (see xml.ts for how values are rendered; arrays become <member> lists):
 *
 *             return { Role: { RoleName: 'r', Arn: '...', CreateDate: new Date(t) } };
 *
 *           is sent as
 *
 *             <CreateRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
 *               <CreateRoleResult><Role>...</Role></CreateRoleResult>
 *               <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
 *             </CreateRoleResponse>
 *
 *           Return undefined for operations without output (DeleteRole): no <{Op}Result> is written.
 *           xmlNamespace comes from the ServiceModule.
 *
 * Errors:   throw new ServiceError('NoSuchEntity', 'The role with name r cannot be found.', 404) gives
 *           <ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
 *           <Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse> with that HTTP status.
 *
 * unflatten() is shared with the EC2 protocol.
 */
import { ServiceError, type ServiceModule } from '../types.js';
import type { ProtocolCodec, WireResponse } from './wire.js';
import { escapeXml, xmlFields, type XmlStyle } from './xml.js';

export { xmlList, escapeXml, type XmlListOptions } from './xml.js';

export const QUERY_XML_STYLE: XmlStyle = { listItem: 'member', dateMillis: false };

/**
 * Turn flat Query / EC2 form parameters into nested objects and arrays.
 *
 *   Tags.member.1.Key=k                 => { Tags: [{ Key: 'k' }] }              (Query lists: "member" dropped)
 *   TagSpecification.1.Tag.1.Key=k      => { TagSpecification: [{ Tag: [{ Key: 'k' }] }] }   (EC2 lists)
 *   Filter.1.Name=n&Filter.1.Value.1=v  => { Filter: [{ Name: 'n', Value: ['v'] }] }
 *   InstanceId.1=i-1&InstanceId.2=i-2   => { InstanceId: ['i-1', 'i-2'] }
 *   Attributes.entry.1.key=k&Attributes.entry.1.value=v => { Attributes: { k: 'v' } }    (Query maps)
 *
 * Indexes are 1-based, as on the wire; gaps are closed up. Values stay strings: convert numbers and
 * booleans in the handler. An empty list is sent as "Tags=" and comes out as ''.
 */
/** A form parameter's value once nested: a string, a list or a structure of them. */
export type Nested = string | Nested[] | { [key: string]: Nested };
type Node = Nested[] | { [key: string]: Nested };

export function nest(params: Record<string, string>): { [key: string]: Nested } {
  const root: { [key: string]: Nested } = {};
  for (const [flatKey, value] of Object.entries(params)) {
    const path = flatKey.split('.').filter((seg, i, all) => !(seg === 'member' && /^\d+$/.test(all[i + 1] ?? '')));
    let node: Node = root;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const slot = node as Record<string | number, Nested | undefined>;
      const key: string | number = /^\d+$/.test(seg) ? Number(seg) - 1 : seg;
      if (i === path.length - 1) {
        slot[key] = value;
        break;
      }
      const nextIsIndex = /^\d+$/.test(path[i + 1]);
      const next = slot[key];
      if (typeof next !== 'object') slot[key] = nextIsIndex ? [] : {};
      node = slot[key] as Node;
    }
  }
  return normalise(root) as { [key: string]: Nested };
}

/**
 * nest() for code that reads the wire names without a schema (EC2's RunInstances, whose parameters a
 * launch template's data overrides by wire name). Protocol glue: the values' types are the caller's
 * to check; schema-driven handlers use queryDecoder()/ec2Decoder() (schema.ts) instead.
 */
export const unflatten = nest as (params: Record<string, string>) => Record<string, any>;

/** Close gaps in sparse arrays and turn "entry" lists of { key, value } into plain maps. */
function normalise(value: Nested | undefined): Nested {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(normalise);
  if (typeof value !== 'object') return value;
  const keys = Object.keys(value);
  const entries = value.entry;
  if (keys.length === 1 && keys[0] === 'entry' && Array.isArray(entries)) {
    const map: { [key: string]: Nested } = {};
    for (const e of entries) {
      if (typeof e === 'object' && !Array.isArray(e) && typeof e.key === 'string') map[e.key] = normalise(e.value);
    }
    return map;
  }
  const out: { [key: string]: Nested } = {};
  for (const k of keys) out[k] = normalise(value[k]);
  return out;
}

/** Query-protocol helpers for handlers: parse "true"/"false" and integers from form parameters. */
export function parseBool(v: unknown): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  return String(v).toLowerCase() === 'true';
}

export function parseIntParam(v: unknown): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : undefined;
}

function xmlns(module: ServiceModule | undefined): string {
  return module?.xmlNamespace ? ` xmlns="${escapeXml(module.xmlNamespace)}"` : '';
}

export const queryCodec: ProtocolCodec = {
  success(module, operation, result, requestId): WireResponse {
    const resultXml =
      result === undefined || result === null
        ? ''
        : `<${operation}Result>${xmlFields(result as Record<string, unknown>, QUERY_XML_STYLE)}</${operation}Result>`;
    const body =
      `<${operation}Response${xmlns(module)}>` +
      resultXml +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>` +
      `</${operation}Response>`;
    return { status: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
  },

  error(module, err, requestId): WireResponse {
    const body =
      `<ErrorResponse${xmlns(module)}>` +
      `<Error><Type>${err.fault}</Type><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message>${xmlFields(err.fields, QUERY_XML_STYLE)}</Error>` +
      `<RequestId>${requestId}</RequestId>` +
      `</ErrorResponse>`;
    return { status: err.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
  },

  throttling: () => new ServiceError('Throttling', 'Rate exceeded', 400),
  // Query services (IAM, STS, Auto Scaling, ELBv2) answer HTTP 403 InvalidClientTokenId for an
  // unknown key and SignatureDoesNotMatch for a wrong or expired signature.
  invalidClientToken: () => new ServiceError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403),
  signatureMismatch: () => new ServiceError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.', 403),
  signatureExpired: (message) => new ServiceError('SignatureDoesNotMatch', message, 403),
  missingAuthentication: () => new ServiceError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403),
  incompleteSignature: (message) => new ServiceError('IncompleteSignature', message, 400),
  unknownOperation: (operation, version) =>
    new ServiceError('InvalidAction', `Could not find operation ${operation} for version ${version ?? 'NO_VERSION_SPECIFIED'}`, 400),
  internalError: () => new ServiceError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', 500),
};
