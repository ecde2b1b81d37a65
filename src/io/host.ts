/**
 * The IO host: the one place where the tool talks to people (after the AWS CDK CLI's IoHost).
 * Progress, messages and prompts go to stderr; results go to stdout. Steps and the engine never
 * write to a stream themselves, they emit events and ask questions through this interface.
 */
import type { Outputs, Plan, PlanAction, StepId } from '../core/step.js';

export type ProgressEvent =
  | { type: 'plan'; step: StepId; title: string; plan: Plan }
  | { type: 'step-start'; step: StepId; title: string; phase: 'apply' | 'destroy' | 'read' }
  | { type: 'step-progress'; step: StepId; message: string }
  | {
      type: 'step-done';
      step: StepId;
      title: string;
      action: PlanAction | 'destroy';
      ms: number;
      outputs?: Outputs;
      detail?: string;
      /** Overrides the verb derived from the action ("would create", "nothing to delete"). */
      verb?: string;
    }
  | { type: 'step-failed'; step: StepId; title: string; ms: number; message: string; interrupted?: boolean }
  | { type: 'step-skipped'; step: StepId; title: string; reason: string }
  | { type: 'message'; level: 'info' | 'warn' | 'success'; text: string }
  /** A long wait in progress (src/core/wait.ts), after each check: hosts without a spinner print a heartbeat. */
  | { type: 'waiting'; what: string; elapsedMs: number; limitMs: number; done: boolean };

export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
}

/** Every question carries a default and names the flag that answers it without asking. */
export interface Question<T> {
  /** The flag that supplies this value, e.g. "--key-name". Used in "pass --key-name" errors. */
  flag: string;
  message: string;
  default: T;
  kind: 'input' | 'select' | 'confirm' | 'password';
  choices?: readonly Choice<T>[];
  /** Returns true or the message to show. The same validators the flags use. */
  validate?: (value: string) => true | string;
}

export interface IoHost {
  /** True when questions can be asked: a TTY on stdin and stderr, and no --yes. */
  readonly interactive: boolean;
  /** --json: stdout carries exactly one JSON document. */
  readonly json: boolean;
  readonly verbose: boolean;
  emit(event: ProgressEvent): void;
  /** Ask, or (non-interactive) return the default. */
  ask<T>(q: Question<T>): Promise<T>;
  /** The command's result: `data` in --json mode, `human()` otherwise. Called once. */
  result(data: unknown, human: () => string): void;
  /** An error for people, on stderr (the CLI's error path). */
  error(text: string): void;
  /** Stop spinners, restore the terminal. */
  close(): void;
}
