/**
 * runTarget runs one fuzz target for a time budget (and at most maxRuns inputs) and reports how
 * many inputs ran; a property violation throws fast-check's report (the shrunk input, its seed
 * and path, to replay it: `fc.assert(prop, { seed, path })`).
 */
import type { FuzzTarget } from './targets.js';

export interface FuzzRun {
  name: string;
  runs: number;
  ms: number;
}

export async function runTarget(
  t: FuzzTarget,
  budgetMs: number,
  maxRuns = Number.MAX_SAFE_INTEGER,
  seed?: number,
): Promise<FuzzRun> {
  const t0 = performance.now();
  let runs = 0;
  await t.assert(
    {
      numRuns: maxRuns,
      interruptAfterTimeLimit: budgetMs,
      markInterruptAsFailure: false,
      timeout: 20_000,
      endOnFailure: false,
      ...(seed !== undefined ? { seed } : {}),
    },
    () => runs++,
  );
  return { name: t.name, runs, ms: Math.round(performance.now() - t0) };
}
