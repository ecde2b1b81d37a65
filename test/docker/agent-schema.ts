/**
 * The CloudWatch agent's own JSON schema (draft-04), from shared/fixtures beside the checkout.
 * Not a test file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import { PACKAGE_ROOT } from '../../src/core/version.js';

export const SCHEMA_PATH = join(PACKAGE_ROOT, '..', 'shared', 'fixtures', 'amazon-cloudwatch-agent', 'schema.json');

/** Validation errors of a configuration (empty when the agent would accept it). */
export function agentSchemaValidator(): (config: unknown) => string[] {
  // ajv-draft-04 is CommonJS: under NodeNext its default import is module.exports, whose .default is the class.
  const Ajv = ((AjvDraft04 as unknown as { default?: typeof AjvDraft04 }).default ?? AjvDraft04) as unknown as typeof AjvDraft04.default;
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object);
  return (config) => (validate(config) ? [] : (validate.errors ?? []).map((e: { instancePath: string; message?: string }) => `${e.instancePath} ${e.message}`));
}
