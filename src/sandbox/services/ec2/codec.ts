/**
 * EC2 wire <-> SDK shapes, driven by the SDK's own schemas (the `X$` structure schemas
 * @aws-sdk/client-ec2 exports, which its serialisers use):
 *
 *   decode: flat EC2 query parameters (unflattened) -> the SDK input type. A member is read from its
 *           ec2QueryName, else its capitalised xmlName, else its member name (the EC2 protocol's rule):
 *           DescribeLaunchTemplateVersions' `Versions` arrives as LaunchTemplateVersion.N.
 *   encode: the SDK output type -> the element names EC2's XML uses (each member's xmlName):
 *           `LaunchTemplateVersions` is written as <launchTemplateVersionSet>.
 *
 *   typedOperation<CreateLaunchTemplateRequest, CreateLaunchTemplateResult>({
 *     decode: ec2Decoder(CreateLaunchTemplateRequest$), encode: ec2Encoder(CreateLaunchTemplateResult$), ... })
 */
import { unflatten } from '../../protocols/query.js';

type Traits = Record<string, unknown> | number | undefined;
type AnySchema = any;

const XML_NAME = 'xmlName';
const EC2_QUERY_NAME = 'ec2QueryName';

/** [schema, traits] for a structure member (a bare schema has no traits). */
function member(m: AnySchema): { schema: AnySchema; traits: Traits } {
  if (Array.isArray(m) && m.length === 2) return { schema: resolve(m[0]), traits: m[1] };
  return { schema: resolve(m), traits: undefined };
}

function resolve(s: AnySchema): AnySchema {
  return typeof s === 'function' ? s() : s;
}

function trait(traits: Traits, name: string): string | undefined {
  return traits && typeof traits === 'object' && typeof traits[name] === 'string' ? (traits[name] as string) : undefined;
}

type Kind = { kind: 'string' | 'number' | 'boolean' | 'timestamp' | 'other' } | { kind: 'list'; item: AnySchema } | { kind: 'map'; value: AnySchema } | { kind: 'struct'; names: string[]; members: AnySchema[] };

function kindOf(s: AnySchema): Kind {
  s = resolve(s);
  if (typeof s === 'number') {
    if (s & 64) return { kind: 'list', item: s & 63 };
    if (s & 128) return { kind: 'map', value: s & 63 };
    if (s === 0) return { kind: 'string' };
    if (s === 1) return { kind: 'number' };
    if (s === 2) return { kind: 'boolean' };
    if (s >= 4 && s <= 7) return { kind: 'timestamp' };
    return { kind: 'other' };
  }
  if (Array.isArray(s)) {
    switch (s[0]) {
      case 0:
        return kindOf(s[4]);
      case 1:
        return { kind: 'list', item: member(s[4]).schema };
      case 2:
        return { kind: 'map', value: member(s[5]).schema };
      case 3:
      case -3:
        return { kind: 'struct', names: s[4], members: s[5] };
    }
  }
  return { kind: 'other' };
}

const capitalise = (n: string) => n.charAt(0).toUpperCase() + n.slice(1);
const lowerFirst = (n: string) => n.charAt(0).toLowerCase() + n.slice(1);

function decodeValue(s: AnySchema, v: unknown): unknown {
  if (v === undefined) return undefined;
  const k = kindOf(s);
  switch (k.kind) {
    case 'string':
      return typeof v === 'object' ? undefined : String(v);
    case 'number': {
      const n = Number(v);
      return v === '' ? undefined : Number.isFinite(n) ? n : (v as any);
    }
    case 'boolean':
      return v === '' ? undefined : String(v).toLowerCase() === 'true';
    case 'timestamp':
      return v === '' ? undefined : new Date(String(v));
    case 'list': {
      if (v === '') return [];
      const items = Array.isArray(v) ? v : typeof v === 'object' && v !== null ? Object.values(v) : [v];
      return items.filter((x) => x !== undefined).map((x) => decodeValue(k.item, x));
    }
    case 'map':
      return v;
    case 'struct': {
      if (typeof v !== 'object' || v === null) return undefined;
      const src = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      k.names.forEach((name, i) => {
        const { schema, traits } = member(k.members[i]);
        const xml = trait(traits, XML_NAME);
        const wire = trait(traits, EC2_QUERY_NAME) ?? (xml ? capitalise(xml) : capitalise(name));
        const value = decodeValue(schema, src[wire] ?? src[name]);
        if (value !== undefined) out[name] = value;
      });
      return out;
    }
    default:
      return v;
  }
}

function encodeValue(s: AnySchema, v: unknown): unknown {
  if (v === undefined || v === null) return undefined;
  const k = kindOf(s);
  switch (k.kind) {
    case 'list':
      return Array.isArray(v) ? v.map((x) => encodeValue(k.item, x)) : v;
    case 'struct': {
      const src = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      k.names.forEach((name, i) => {
        if (src[name] === undefined) return;
        const { schema, traits } = member(k.members[i]);
        out[trait(traits, XML_NAME) ?? lowerFirst(name)] = encodeValue(schema, src[name]);
      });
      return out;
    }
    default:
      return v;
  }
}

function paramsValue(s: AnySchema, v: unknown): unknown {
  if (v === undefined || v === null) return undefined;
  const k = kindOf(s);
  switch (k.kind) {
    case 'list':
      return Array.isArray(v) ? v.map((x) => paramsValue(k.item, x)) : v;
    case 'struct': {
      const src = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      k.names.forEach((name, i) => {
        if (src[name] === undefined) return;
        const { schema, traits } = member(k.members[i]);
        const xml = trait(traits, XML_NAME);
        out[trait(traits, EC2_QUERY_NAME) ?? (xml ? capitalise(xml) : capitalise(name))] = paramsValue(schema, src[name]);
      });
      return out;
    }
    default:
      return v;
  }
}

/**
 * An SDK input value -> the unflattened EC2 parameters it would be sent as (wire names, values as
 * they are): how a launch template's data becomes RunInstances parameters.
 */
export function ec2Params(schema: unknown, value: unknown): unknown {
  return paramsValue(schema, value);
}

/** Flat EC2 parameters -> the SDK input type of `schema`. */
export function ec2Decoder<I>(schema: unknown): (params: Record<string, any>) => I {
  return (params) => decodeValue(schema, unflatten(params)) as I;
}

/** The SDK output type of `schema` -> EC2's XML element names. */
export function ec2Encoder<O>(schema: unknown): (out: O) => unknown {
  return (out) => encodeValue(schema, out);
}

function queryValue(s: AnySchema, v: unknown): unknown {
  if (v === undefined) return undefined;
  const k = kindOf(s);
  if (k.kind === 'list') {
    if (v === '') return [];
    const items = Array.isArray(v) ? v : typeof v === 'object' && v !== null ? Object.values(v) : [v];
    return items.filter((x) => x !== undefined).map((x) => queryValue(k.item, x));
  }
  if (k.kind === 'struct') {
    if (typeof v !== 'object' || v === null) return undefined;
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    k.names.forEach((name, i) => {
      const { schema, traits } = member(k.members[i]);
      const value = queryValue(schema, src[trait(traits, XML_NAME) ?? name]);
      if (value !== undefined) out[name] = value;
    });
    return out;
  }
  return decodeValue(s, v);
}

/**
 * Flat Query-protocol parameters (Tags.member.1.Key=...) -> the SDK input type of `schema`
 * (Auto Scaling, IAM): members by their xmlName, else their name; numbers and booleans converted.
 * Outputs need no encoder: the Query protocol's XML uses the SDK's member names.
 */
export function queryDecoder<I>(schema: unknown): (params: Record<string, any>) => I {
  return (params) => queryValue(schema, unflatten(params)) as I;
}
