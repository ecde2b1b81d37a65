/** The sandbox: a wire-level AWS emulator for ecs-cwlogs. See server.ts for how requests are handled. */
export { startSandbox, type RunningSandbox, type SandboxOptions } from './server.js';
export { ManualClock, systemClock, type Clock } from './clock.js';
export { LATENCY_PROFILES, latencyProfile } from './latency.js';
export { defaultServices } from './services/index.js';
export { StateFileError } from './world.js';
export * from './types.js';
