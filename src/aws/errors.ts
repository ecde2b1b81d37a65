/**
 * Turning SDK and network failures into errors that say what happened, why, and what to do.
 */
import { AwsError, CliError, InternalError, awsErrorCode } from '../core/errors.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    const errors = (cur as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) {
      for (const sub of errors) {
        const c = networkCode(sub);
        if (c) return c;
      }
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Any error thrown while a step (or command) runs, as a CliError. */
export function toCliError(e: unknown, doing: string): CliError {
  if (e instanceof CliError) return e;
  const name = e instanceof Error ? e.name : '';
  const message = e instanceof Error ? e.message : String(e);

  if (name === 'CredentialsProviderError' && /credential_process of profile/.test(message)) {
    return new AwsError({
      what: 'No AWS credentials',
      why: message.split('\n')[0],
      fix: 'Fix that command (run it by hand to see what it prints), or use another --profile.',
      cause: e,
    });
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new AwsError({
      what: 'No AWS credentials found',
      why: message.split('\n')[0],
      fix: 'Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, pass --profile (after `aws configure` or `aws sso login`), or try the tool without an account: --sandbox.',
      cause: e,
    });
  }
  if (/Region is missing/i.test(message)) {
    return new AwsError({
      what: 'No AWS region set',
      why: 'neither --region, AWS_REGION nor the profile names one',
      fix: 'Pass --region, e.g. --region us-east-1.',
      cause: e,
    });
  }
  const net = networkCode(e);
  if (net) {
    return new AwsError({
      what: `Cannot reach AWS while working on ${doing}`,
      why: `the connection failed (${net})`,
      fix: 'Check your network, or --endpoint-url / AWS_ENDPOINT_URL if you set one (is the sandbox running?).',
      code: net,
      cause: e,
    });
  }
  const code = awsErrorCode(e);
  if (code && e && typeof e === 'object' && '$metadata' in e) {
    const fix =
      code === 'AccessDenied' || code === 'AccessDeniedException' || code === 'UnauthorizedOperation'
        ? 'Use credentials allowed to manage ECS, EC2, IAM and CloudWatch Logs (see README, "Permissions").'
        : code === 'ExpiredToken' || code === 'ExpiredTokenException'
          ? 'Refresh your credentials (e.g. `aws sso login`) and run the command again.'
          : code.includes('Throttl') || code === 'RequestLimitExceeded'
            ? 'AWS is throttling this account; wait a minute and run the command again: it resumes where it stopped.'
            : 'Run the command again with --verbose for details; it resumes where it stopped.';
    return new AwsError({ what: `${doing} failed`, why: `${code}: ${message}`, fix, code, cause: e });
  }
  return new InternalError({
    what: `${doing} failed`,
    why: message,
    fix: 'Run again with --verbose for details; it resumes where it stopped.',
    cause: e,
  });
}
