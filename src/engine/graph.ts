/**
 * The run's graph: steps ordered by their dependencies, and a scheduler that starts each job as soon
 * as the jobs it waits on are done, so independent steps run together.
 */
import { edgesOf, type AnyStep, type StepId } from '../core/step.js';

/** Order steps so that each comes after its dependencies; reject cycles and unknown ids. */
export function topoSort(steps: readonly AnyStep[]): AnyStep[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const present = new Set(byId.keys());
  const out: AnyStep[] = [];
  const state = new Map<StepId, 'visiting' | 'done'>();
  const visit = (s: AnyStep, path: StepId[]) => {
    const st = state.get(s.id);
    if (st === 'done') return;
    if (st === 'visiting') throw new Error(`Step dependency cycle: ${[...path, s.id].join(' -> ')}`);
    state.set(s.id, 'visiting');
    for (const d of edgesOf(s, present)) {
      const dep = byId.get(d);
      if (!dep) throw new Error(`Step ${s.id} depends on unknown step ${d}`);
      visit(dep, [...path, s.id]);
    }
    state.set(s.id, 'done');
    out.push(s);
  };
  for (const s of steps) visit(s, []);
  return out;
}

/** Run a graph of jobs, each started as soon as its dependencies are done. */
export async function runGraph(
  order: readonly AnyStep[],
  depsOf: (s: AnyStep) => readonly StepId[],
  job: (s: AnyStep) => Promise<'ok' | 'failed'>,
  onSkip: (s: AnyStep, because: StepId) => void,
): Promise<void> {
  const status = new Map<StepId, 'ok' | 'failed' | 'skipped'>();
  const running = new Map<StepId, Promise<void>>();
  const pending = [...order];
  while (pending.length > 0 || running.size > 0) {
    let started = false;
    for (const s of [...pending]) {
      const deps = depsOf(s).filter((d) => order.some((o) => o.id === d));
      const bad = deps.find((d) => status.get(d) === 'failed' || status.get(d) === 'skipped');
      if (bad) {
        pending.splice(pending.indexOf(s), 1);
        status.set(s.id, 'skipped');
        onSkip(s, bad);
        started = true;
        continue;
      }
      if (deps.every((d) => status.get(d) === 'ok')) {
        pending.splice(pending.indexOf(s), 1);
        const p = job(s).then(
          (r) => {
            status.set(s.id, r);
            running.delete(s.id);
          },
          () => {
            status.set(s.id, 'failed');
            running.delete(s.id);
          },
        );
        running.set(s.id, p);
        started = true;
      }
    }
    if (!started) {
      if (running.size === 0) break; // nothing can start (should not happen after topoSort)
      await Promise.race(running.values());
    }
  }
}

/**
 * The steps a run touches: the targets and, read only, everything they depend on. `after` edges
 * only order the steps a run has; with `withAfter` (the CLI, whose steps are the topology's) they
 * bring their steps in too, as dependsOn does.
 */
export function runOrder(steps: readonly AnyStep[], targets?: readonly StepId[], withAfter = false): { run: AnyStep[]; targets: Set<StepId> } {
  const order = topoSort(steps);
  const present = new Set(order.map((s) => s.id));
  const t = new Set<StepId>(targets ?? order.map((s) => s.id));
  const needed = new Set<StepId>();
  const addNeeded = (id: StepId) => {
    if (needed.has(id)) return;
    needed.add(id);
    const s = order.find((x) => x.id === id);
    if (s) (withAfter ? edgesOf(s, present) : s.dependsOn).forEach(addNeeded);
  };
  t.forEach(addNeeded);
  return { run: order.filter((s) => needed.has(s.id)), targets: t };
}
