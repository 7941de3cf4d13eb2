/**
 * npm run fuzz [-- TARGET...]: each fuzz target for FUZZ_SECONDS (default 60) with a fresh seed
 * (or FUZZ_SEED), a line per target with the inputs run; exit 1 with fast-check's report (the
 * shrunk input and the seed/path to replay it) on the first property violation.
 */
import { runTarget } from '../test/fuzz/run.js';
import { httpTarget } from '../test/fuzz/http-target.js';
import { TARGETS } from '../test/fuzz/targets.js';

const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : undefined;
const wanted = process.argv.slice(2);
const all = [...TARGETS, httpTarget].filter(
  (t) => wanted.length === 0 || wanted.some((w) => t.name.includes(w)),
);
let total = 0;
for (const t of all) {
  try {
    const r = await runTarget(t, seconds * 1000, Number.MAX_SAFE_INTEGER, seed);
    total += r.runs;
    console.log(`fuzz ${r.name}: ${r.runs} inputs in ${(r.ms / 1000).toFixed(1)} s, no finding`);
  } catch (err) {
    console.error(`fuzz ${t.name}: FINDING\n${(err as Error).message}`);
    process.exit(1);
  }
}
console.log(`fuzz: ${total} inputs over ${all.length} targets, no finding`);
process.exit(0);
