/**
 * The AWS event stream encoding (application/vnd.amazon.eventstream), for operations whose response
 * is a stream of events (CloudWatch Logs StartLiveTail). The HTTP response is 200 with this content
 * type and a chunked body of binary messages, each:
 *
 *   total length (uint32 BE) | headers length (uint32 BE) | CRC32 of those 8 bytes
 *   headers: name length (uint8) | name | value type (uint8; 7 = string) | length (uint16 BE) | value
 *   payload
 *   CRC32 of everything before it
 *
 * An event carries `:message-type: event`, `:event-type: <union member>` and `:content-type:
 * application/json` (the payload is the member's structure as JSON); a modelled exception carries
 * `:message-type: exception` and `:exception-type: <shape name>` with {"message"} as payload, and
 * the stream ends after it. Source: the Smithy "Event streams" spec (smithy.io, Event stream
 * encoding) and the SDK's decoder (@smithy/core event-streams getMessageUnmarshaller), which is
 * what the sandbox's tests read these frames with.
 */
import { crc32 } from 'node:zlib';

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

const STRING = 7;

function encodeHeaders(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(STRING, 1 + n.length);
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    parts.push(h);
  }
  return Buffer.concat(parts);
}

/** One binary message: its headers (all strings) and payload. */
export function encodeMessage(headers: Record<string, string>, payload: Uint8Array): Buffer {
  const h = encodeHeaders(headers);
  const total = 12 + h.length + payload.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(h.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  h.copy(out, 12);
  Buffer.from(payload).copy(out, 12 + h.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

/** An event of the stream's union: `eventType` is the member's name (sessionStart, sessionUpdate). */
export function eventMessage(eventType: string, body: unknown): Buffer {
  return encodeMessage(
    { ':message-type': 'event', ':event-type': eventType, ':content-type': 'application/json' },
    Buffer.from(JSON.stringify(body), 'utf8'),
  );
}

/** A modelled exception of the stream's union (SessionTimeoutException); the stream ends after it. */
export function exceptionMessage(exceptionType: string, message: string): Buffer {
  return encodeMessage(
    { ':message-type': 'exception', ':exception-type': exceptionType, ':content-type': 'application/json' },
    Buffer.from(JSON.stringify({ message }), 'utf8'),
  );
}
