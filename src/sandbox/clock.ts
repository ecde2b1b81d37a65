/**
 * The sandbox's time source. Every lifecycle (instance boot, agent registration, task phases) is computed
 * from timestamps on this clock, so a test can inject a ManualClock and advance time instead of sleeping.
 */

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
};

/** A clock that only moves when told to. Starts at 2026-11-25T12:00:00Z unless given a start time. */
export class ManualClock implements Clock {
  private t: number;

  constructor(start: number = Date.UTC(2026, 10, 25, 12, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  advance(ms: number): void {
    this.t += ms;
  }

  set(ms: number): void {
    this.t = ms;
  }
}
