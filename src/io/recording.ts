/**
 * An IoHost for tests and embedding: records every event, answers questions from a script (by flag)
 * or with their defaults, and keeps the result instead of printing it.
 */
import type { IoHost, ProgressEvent, Question } from './host.js';

export class RecordingIoHost implements IoHost {
  readonly events: ProgressEvent[] = [];
  /** Every question asked, in order (flags). */
  readonly asked: string[] = [];
  /** The questions themselves (message, default, choices, validator). */
  readonly questions: Question<unknown>[] = [];
  readonly errors: string[] = [];
  resultData: unknown;
  resultText?: string;

  constructor(
    readonly options: { interactive?: boolean; json?: boolean; answers?: Record<string, unknown> } = {},
  ) {}

  get interactive(): boolean {
    return this.options.interactive ?? false;
  }
  get json(): boolean {
    return this.options.json ?? false;
  }
  readonly verbose = false;

  emit(event: ProgressEvent): void {
    this.events.push(event);
  }

  async ask<T>(q: Question<T>): Promise<T> {
    if (!this.interactive) return q.default;
    this.asked.push(q.flag);
    this.questions.push(q as Question<unknown>);
    const answers = this.options.answers ?? {};
    if (!(q.flag in answers)) return q.default;
    const a = answers[q.flag] as T;
    if (q.validate && typeof a === 'string') {
      const ok = q.validate(a);
      if (ok !== true) throw new Error(`validation failed for ${q.flag}: ${ok}`);
    }
    return a;
  }

  result(data: unknown, human: () => string): void {
    this.resultData = data;
    this.resultText = human();
  }

  error(text: string): void {
    this.errors.push(text);
  }

  close(): void {}

  /** The progress messages of one step. */
  progressOf(step: string): string[] {
    return this.events.flatMap((e) => (e.type === 'step-progress' && e.step === step ? [e.message] : []));
  }
}
