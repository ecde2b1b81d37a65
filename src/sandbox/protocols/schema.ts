/**
 * The one decoder of the Query protocol, and its EC2 dialect, driven by the SDK's own schemas: every
 * @aws-sdk/client-* package (3.11xx) exports, beside its commands, a static schema for each structure
 * (`CreateRoleRequest$`, `RunInstancesRequest$`, ...: src/schemas/schemas_0.ts, the arrays its
 * serialisers walk). A structure schema is [3, namespace, name, traits, memberNames, memberSchemas],
 * a list [1, ns, name, traits, member], a map [2, ns, name, traits, key, value], a simple schema a
 * number (0 string, 1 number, 2 boolean, 4-7 timestamps; +64 a list of it, +128 a map of it) or
 * [0, ns, name, traits, target]; a member is a schema or [schema, traits]; `() => schema` refers
 * lazily.
 *
 *   Query (IAM, STS, Auto Scaling, ELBv2): queryDecoder(CreateRoleRequest$) turns flat form fields
 *     (Tags.member.1.Key=k) into the SDK input type: members by their xmlName, else their name;
 *     numbers, booleans and timestamps converted; an empty list ("Tags=") is [].
 *   EC2: ec2Decoder(RunInstancesRequest$) is the same walk with EC2's naming rule (a member is read
 *     from its ec2QueryName, else its capitalised xmlName, else its capitalised name), and
 *     ec2Encoder(RunInstancesResult$) names output elements by their xmlName (<instancesSet>).
 *
 * The flat -> nested step is nest() (query.ts); this file gives the nested values their types.
 */
import { nest, type Nested } from './query.js';

type Traits = Record<string, unknown> | number | undefined;

/** A static schema as the SDK ships it (see above); walked structurally, so kept opaque here. */
export type Schema = unknown;

/** What the protocol layer hands a decoder: the request's flat form fields. */
export type FlatParams = Record<string, string>;

const XML_NAME = 'xmlName';
const EC2_QUERY_NAME = 'ec2QueryName';

function resolve(s: Schema): Schema {
  return typeof s === 'function' ? (s as () => Schema)() : s;
}

/** [schema, traits] for a structure member (a bare schema has no traits). */
function member(m: Schema): { schema: Schema; traits: Traits } {
  if (Array.isArray(m) && m.length === 2) return { schema: resolve(m[0]), traits: m[1] as Traits };
  return { schema: resolve(m), traits: undefined };
}

function trait(traits: Traits, name: string): string | undefined {
  return traits && typeof traits === 'object' && typeof traits[name] === 'string' ? (traits[name] as string) : undefined;
}

type Kind =
  | { kind: 'string' | 'number' | 'boolean' | 'timestamp' | 'other' }
  | { kind: 'list'; item: Schema }
  | { kind: 'map'; value: Schema }
  | { kind: 'struct'; names: string[]; members: Schema[] };

function kindOf(schema: Schema): Kind {
  const s = resolve(schema);
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
      case 4:
      case -3:
        return { kind: 'struct', names: s[4] as string[], members: s[5] as Schema[] };
    }
  }
  return { kind: 'other' };
}

const capitalise = (n: string) => n.charAt(0).toUpperCase() + n.slice(1);
const lowerFirst = (n: string) => n.charAt(0).toLowerCase() + n.slice(1);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** How a dialect names a structure member on the wire. */
type WireName = (name: string, traits: Traits) => string;
const queryName: WireName = (name, traits) => trait(traits, XML_NAME) ?? name;
const ec2Name: WireName = (name, traits) => {
  const xml = trait(traits, XML_NAME);
  return trait(traits, EC2_QUERY_NAME) ?? (xml ? capitalise(xml) : capitalise(name));
};

function decodeValue(s: Schema, v: Nested | undefined, wireName: WireName): unknown {
  if (v === undefined) return undefined;
  const k = kindOf(s);
  switch (k.kind) {
    case 'string':
      return typeof v === 'object' ? undefined : v;
    case 'number': {
      if (v === '' || typeof v === 'object') return undefined;
      const n = Number(v);
      // Not a number: kept as sent, so the handler's validation names the wrong value.
      return Number.isFinite(n) ? n : v;
    }
    case 'boolean':
      return v === '' || typeof v === 'object' ? undefined : v.toLowerCase() === 'true';
    case 'timestamp':
      return v === '' || typeof v === 'object' ? undefined : new Date(v);
    case 'list': {
      if (v === '') return [];
      const items = Array.isArray(v) ? v : isRecord(v) ? Object.values(v) : [v];
      return items.filter((x) => x !== undefined).map((x) => decodeValue(k.item, x, wireName));
    }
    case 'map':
      return v;
    case 'struct': {
      if (!isRecord(v) || Array.isArray(v)) return undefined;
      const out: Record<string, unknown> = {};
      k.names.forEach((name, i) => {
        const { schema, traits } = member(k.members[i]);
        const value = decodeValue(schema, v[wireName(name, traits)] ?? v[name], wireName);
        if (value !== undefined) out[name] = value;
      });
      return out;
    }
    default:
      return v;
  }
}

/** Rename the members of an SDK value to the dialect's names (lists and structures walked). */
function renameValue(s: Schema, v: unknown, wireName: WireName): unknown {
  if (v === undefined || v === null) return undefined;
  const k = kindOf(s);
  switch (k.kind) {
    case 'list':
      return Array.isArray(v) ? v.map((x) => renameValue(k.item, x, wireName)) : v;
    case 'struct': {
      if (!isRecord(v)) return v;
      const out: Record<string, unknown> = {};
      k.names.forEach((name, i) => {
        if (v[name] === undefined) return;
        const { schema, traits } = member(k.members[i]);
        out[wireName(name, traits)] = renameValue(schema, v[name], wireName);
      });
      return out;
    }
    default:
      return v;
  }
}

/**
 * Flat Query-protocol parameters (Tags.member.1.Key=...) -> the SDK input type of `schema`
 * (IAM, STS, Auto Scaling, ELBv2). Outputs need no encoder: the Query protocol's XML uses the SDK's
 * member names.
 */
export function queryDecoder<I>(schema: Schema): (params: FlatParams) => I {
  return (params) => (decodeValue(schema, nest(params), queryName) ?? {}) as I;
}

/** Flat EC2 parameters -> the SDK input type of `schema`. */
export function ec2Decoder<I>(schema: Schema): (params: FlatParams) => I {
  return (params) => (decodeValue(schema, nest(params), ec2Name) ?? {}) as I;
}

/**
 * EC2 parameters already nested (ec2Params' output: wire names, SDK values) -> the SDK input type of
 * `schema`. Leaves are first written as the wire writes them (true, 8, an ISO date), so they decode
 * exactly as a request's own parameters do.
 */
export function ec2NestedDecoder<I>(schema: Schema): (params: unknown) => I {
  return (params) => (decodeValue(schema, asWire(params), ec2Name) ?? {}) as I;
}

/** An SDK value as the Query protocol sends it: every leaf a string. */
function asWire(v: unknown): Nested | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(asWire).filter((x): x is Nested => x !== undefined);
  if (typeof v === 'object') {
    const out: { [key: string]: Nested } = {};
    for (const [k, x] of Object.entries(v)) {
      const w = asWire(x);
      if (w !== undefined) out[k] = w;
    }
    return out;
  }
  return undefined;
}

/** The SDK output type of `schema` -> EC2's XML element names (each member's xmlName, else lowerCamel). */
export function ec2Encoder<O>(schema: Schema): (out: O) => unknown {
  return (out) => renameValue(schema, out, (name, traits) => trait(traits, XML_NAME) ?? lowerFirst(name));
}

/**
 * An SDK input value -> the unflattened EC2 parameters it would be sent as (wire names, values as
 * they are): how a launch template's data becomes RunInstances parameters.
 */
export function ec2Params(schema: Schema, value: unknown): unknown {
  return renameValue(schema, value, ec2Name);
}

/**
 * A JSON body -> the SDK input type of `schema`: the body already has the SDK's member names; only
 * timestamps change, from epoch seconds (JSON 1.0/1.1's default) or ISO strings to Dates. For a
 * service that takes both protocols (CloudWatch), so one handler sees one input type.
 */
export function jsonDecoder<I>(schema: Schema): (params: unknown) => I {
  return (params) => (jsonValue(schema, params) ?? {}) as I;
}

function jsonValue(s: Schema, v: unknown): unknown {
  if (v === undefined || v === null) return undefined;
  const k = kindOf(s);
  switch (k.kind) {
    case 'timestamp':
      return typeof v === 'number' ? new Date(v * 1000) : typeof v === 'string' ? new Date(/^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : v) : v;
    case 'list':
      return Array.isArray(v) ? v.map((x) => jsonValue(k.item, x)) : v;
    case 'map':
      return isRecord(v) ? Object.fromEntries(Object.entries(v).map(([key, x]) => [key, jsonValue(k.value, x)])) : v;
    case 'struct': {
      if (!isRecord(v)) return v;
      const out: Record<string, unknown> = { ...v };
      k.names.forEach((name, i) => {
        if (v[name] !== undefined) out[name] = jsonValue(member(k.members[i]).schema, v[name]);
      });
      return out;
    }
    default:
      return v;
  }
}
