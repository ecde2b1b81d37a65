/**
 * Operations typed with the SDK's own request and response types. The protocol layer hands every
 * handler the wire parameters (JSON body, or flat Query/EC2 form fields); `decode` turns them into
 * the SDK's input type (for JSON that is the body as it is), the handler works on that and returns
 * the SDK's output type, and `encode` turns that into what the protocol serialiser expects (for
 * JSON and Query, the output as it is; EC2 names its XML elements differently, see its module).
 *
 *   CreateLaunchTemplate: typedOperation<CreateLaunchTemplateRequest, CreateLaunchTemplateResult>({ ... })
 */
import type { Operation, SandboxRequest, World } from './types.js';

/** What the protocol layer hands a decoder: the JSON body, or the flat Query/EC2 form fields. */
export type WireParams = SandboxRequest['params'];

export interface Call {
  req: SandboxRequest;
  world: World;
  region: string;
  /** Milliseconds on the sandbox clock. */
  now: number;
}

export interface TypedOperation<I, O> {
  mutating: boolean;
  decode: (params: WireParams) => I;
  encode?: (out: O) => unknown;
  handler: (input: I, call: Call) => O | Promise<O>;
}

export function typedOperation<I, O>(op: TypedOperation<I, O>): Operation {
  return {
    mutating: op.mutating,
    handler: async (req, world) => {
      const out = await op.handler(op.decode(req.params), { req, world, region: req.region, now: req.now });
      return op.encode ? op.encode(out) : out;
    },
  };
}

/** JSON protocol: the body is already the SDK's input shape. */
export const jsonBody = <I>(params: WireParams): I => params as I;
