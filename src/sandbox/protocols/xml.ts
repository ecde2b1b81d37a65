/**
 * XML serialisation for the Query (IAM, STS) and EC2 protocols.
 *
 * A handler returns a plain JS object whose keys are the exact XML element names:
 *
 *   { Role: { RoleName: 'r', CreateDate: new Date(t), Tags: [{ Key: 'k', Value: 'v' }] }, IsTruncated: false }
 *
 * becomes (Query protocol, lists as <member>)
 *
 *   <Role><RoleName>r</RoleName><CreateDate>2026-11-25T12:00:00Z</CreateDate>
 *     <Tags><member><Key>k</Key><Value>v</Value></member></Tags></Role><IsTruncated>false</IsTruncated>
 *
 * Values:
 *   string             escaped text
 *   number, bigint     decimal text
 *   boolean            true / false
 *   Date               ISO 8601 UTC (Query: 2026-11-25T12:00:00Z, EC2: 2026-11-25T12:00:00.000Z)
 *   array              a wrapper element named by the key holding one <member> (Query) or <item> (EC2)
 *                      per entry; an empty array gives an empty wrapper element
 *   xmlList(...)       a list with another item name, or a flattened list (repeated elements, no wrapper)
 *   plain object       nested elements, in key order
 *   undefined, null    omitted
 */

const LIST = Symbol('xmlList');

export interface XmlListOptions {
  /** Element name of each entry (default: 'member' for Query, 'item' for EC2). */
  itemName?: string;
  /** Repeat the element named by the key for each entry, without a wrapper (Smithy @xmlFlattened). */
  flattened?: boolean;
}

export interface XmlList {
  [LIST]: true;
  items: unknown[];
  options: XmlListOptions;
}

/** A list serialised with a non-default item name or flattened. */
export function xmlList(items: unknown[], options: XmlListOptions = {}): XmlList {
  return { [LIST]: true, items, options };
}

export interface XmlStyle {
  /** Default list item element: 'member' (Query) or 'item' (EC2). */
  listItem: 'member' | 'item';
  /** Keep milliseconds in timestamps (EC2 does, IAM/STS do not). */
  dateMillis: boolean;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

export function formatXmlDate(d: Date, style: XmlStyle): string {
  const iso = d.toISOString();
  return style.dateMillis ? iso : iso.replace(/\.\d{3}Z$/, 'Z');
}

/** Serialise the fields of `obj` as a sequence of sibling elements. */
export function xmlFields(obj: Record<string, unknown> | undefined | null, style: XmlStyle): string {
  if (obj === undefined || obj === null) return '';
  let out = '';
  for (const [key, value] of Object.entries(obj)) out += xmlElement(key, value, style);
  return out;
}

/** Serialise one element named `name` holding `value`. */
export function xmlElement(name: string, value: unknown, style: XmlStyle): string {
  if (value === undefined || value === null) return '';
  if (isXmlList(value)) {
    const { items, options } = value;
    if (options.flattened) return items.map((item) => xmlElement(name, item, style)).join('');
    const itemName = options.itemName ?? style.listItem;
    return `<${name}>${items.map((item) => xmlElement(itemName, item, style)).join('')}</${name}>`;
  }
  if (Array.isArray(value)) {
    return `<${name}>${value.map((item) => xmlElement(style.listItem, item, style)).join('')}</${name}>`;
  }
  return `<${name}>${xmlValue(value, style)}</${name}>`;
}

function xmlValue(value: unknown, style: XmlStyle): string {
  if (value instanceof Date) return formatXmlDate(value, style);
  switch (typeof value) {
    case 'string':
      return escapeXml(value);
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return xmlFields(value as Record<string, unknown>, style);
    default:
      throw new TypeError(`Cannot serialise ${typeof value} as XML`);
  }
}

function isXmlList(value: unknown): value is XmlList {
  return typeof value === 'object' && value !== null && (value as XmlList)[LIST] === true;
}
