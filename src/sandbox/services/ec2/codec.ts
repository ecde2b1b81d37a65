/**
 * EC2 wire <-> SDK shapes: the Query protocol's one schema-driven decoder in its EC2 dialect, which
 * lives in ../../protocols/schema.ts.
 *
 *   typedOperation<CreateLaunchTemplateRequest, CreateLaunchTemplateResult>({
 *     decode: ec2Decoder(CreateLaunchTemplateRequest$), encode: ec2Encoder(CreateLaunchTemplateResult$), ... })
 */
export { ec2Decoder, ec2Encoder, ec2NestedDecoder, ec2Params, queryDecoder } from '../../protocols/schema.js';
