/**
 * The CloudWatch agent's own JSON schema (draft-04), a file from outside this repository (CI has it at
 * ../shared/fixtures/amazon-cloudwatch-agent/schema.json beside the checkout). Not a test file.
 *
 * It is found through one variable, ECS_CWLOGS_AGENT_SCHEMA (the path of schema.json), which .ci/run
 * sets. Without it the schema checks report a skip that says so; under CI (CI=true), or when the
 * variable names a file that isn't there, they fail instead: a CI run must not pass without them.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import AjvDraft04 from 'ajv-draft-04';

export const SCHEMA_ENV = 'ECS_CWLOGS_AGENT_SCHEMA';
const ci = Boolean(process.env.CI) && process.env.CI !== 'false';

/** Why the schema can't be used, or undefined when it can. */
export function schemaMissing(): string | undefined {
  const path = process.env[SCHEMA_ENV];
  if (!path) return `${SCHEMA_ENV} is not set (the path of the CloudWatch agent's schema.json, e.g. ../shared/fixtures/amazon-cloudwatch-agent/schema.json)`;
  if (!existsSync(path)) return `${SCHEMA_ENV}=${path}: no such file`;
  return undefined;
}

/** For test(…, { skip }): a reason to skip, or false to run (and fail if the schema is missing). */
export function schemaSkip(): string | false {
  const why = schemaMissing();
  return why && !ci && !process.env[SCHEMA_ENV] ? `the agent schema is not available: ${why}` : false;
}

/** Validation errors of a configuration (empty when the agent would accept it). Throws without the schema. */
export function agentSchemaValidator(): (config: unknown) => string[] {
  const why = schemaMissing();
  if (why) throw new Error(`The CloudWatch agent schema is needed${ci ? ' under CI' : ''}: ${why}`);
  // ajv-draft-04 is CommonJS: under NodeNext its default import is module.exports, whose .default is the class.
  const Ajv = ((AjvDraft04 as unknown as { default?: typeof AjvDraft04 }).default ?? AjvDraft04) as unknown as typeof AjvDraft04.default;
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(process.env[SCHEMA_ENV]!, 'utf8')) as object);
  return (config) => (validate(config) ? [] : (validate.errors ?? []).map((e: { instancePath: string; message?: string }) => `${e.instancePath} ${e.message}`));
}

/**
 * Schema errors of `config` inside a test that checks more than the schema: when the schema is not
 * available (and may be skipped), the test is reported as skipped with the reason and [] is returned.
 */
export function schemaErrors(t: TestContext, config: unknown): string[] {
  const skip = schemaSkip();
  if (skip) {
    t.skip(skip);
    return [];
  }
  return agentSchemaValidator()(config);
}
