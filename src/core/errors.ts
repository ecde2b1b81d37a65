/**
 * Typed errors. Every error the user sees reads "what happened: why, and what to do",
 * and maps to one exit code:
 *   0 ok, 1 failed (AWS, Docker, anything unexpected), 2 bad usage or input, 130 interrupted.
 */

export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorParts {
  /** What happened, e.g. "Cannot create cluster ECSCloudWatchLogs". */
  what: string;
  /** Why it happened. */
  why?: string;
  /** What the user can do about it. */
  fix?: string;
  cause?: unknown;
}

export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCode;
  abstract readonly kind: 'input' | 'aws' | 'docker' | 'interrupted' | 'internal';
  readonly what: string;
  readonly why?: string;
  readonly fix?: string;

  constructor(parts: ErrorParts) {
    super(formatMessage(parts), parts.cause === undefined ? undefined : { cause: parts.cause });
    this.what = parts.what;
    this.why = parts.why;
    this.fix = parts.fix;
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, exitCode: this.exitCode, what: this.what, why: this.why, fix: this.fix };
  }
}

export function formatMessage(p: ErrorParts): string {
  let s = p.what;
  if (p.why) s += `: ${p.why}`;
  if (p.fix) s += `${/[.!?]$/.test(s) ? '' : '.'} ${p.fix}`;
  return s;
}

/** Bad flags, bad config values, missing settings with no TTY to ask. Exit 2. */
export class UserInputError extends CliError {
  readonly exitCode = ExitCode.Usage;
  readonly kind = 'input' as const;
}

/** A call to AWS failed (after retries), or AWS is unreachable, or credentials are missing. Exit 1. */
export class AwsError extends CliError {
  readonly exitCode = ExitCode.Failed;
  readonly kind = 'aws' as const;
  readonly code?: string;
  constructor(parts: ErrorParts & { code?: string }) {
    super(parts);
    this.code = parts.code;
  }
}

/** The Docker engine or a registry failed. Exit 1. */
export class DockerError extends CliError {
  readonly exitCode = ExitCode.Failed;
  readonly kind = 'docker' as const;
}

/** Ctrl-C / SIGTERM. Exit 130. */
export class InterruptedError extends CliError {
  readonly exitCode = ExitCode.Interrupted;
  readonly kind = 'interrupted' as const;
}

/** A state the tool cannot reconcile by itself (e.g. a resource owned by somebody else). Exit 1. */
export class ConflictError extends CliError {
  readonly exitCode = ExitCode.Failed;
  readonly kind = 'internal' as const;
}

export function isCliError(e: unknown): e is CliError {
  return e instanceof CliError;
}

/** The AWS error code of an SDK exception, if it is one. */
export function awsErrorCode(e: unknown): string | undefined {
  if (e && typeof e === 'object') {
    const o = e as { name?: unknown; Code?: unknown; code?: unknown; __type?: unknown };
    if (typeof o.Code === 'string') return o.Code;
    if (typeof o.name === 'string' && o.name !== 'Error') return o.name;
    if (typeof o.code === 'string') return o.code;
  }
  return undefined;
}

export function hasAwsCode(e: unknown, ...codes: string[]): boolean {
  const c = awsErrorCode(e);
  return c !== undefined && codes.includes(c);
}

/** Anything unexpected (a bug, an unknown failure). Exit 1. */
export class InternalError extends CliError {
  readonly exitCode = ExitCode.Failed;
  readonly kind = 'internal' as const;
}
