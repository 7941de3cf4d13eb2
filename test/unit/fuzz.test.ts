// The fuzz targets of test/fuzz/targets.ts in every test run: a fixed seed and a fixed number of
// inputs per target, so that a red run is reproducible and never depends on luck (new inputs are
// the job of `npm run fuzz`, which draws a fresh seed each time and runs for minutes). A time
// cap keeps a slow machine from stalling the suite (an interrupted run passes with fewer inputs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTarget } from '../fuzz/run.js';
import { httpTarget } from '../fuzz/http-target.js';
import { TARGETS } from '../fuzz/targets.js';

const SEED = Number(process.env.CKPTD_FUZZ_SEED ?? 20261207);
const CAP_MS = Number(process.env.CKPTD_FUZZ_MS ?? 15_000);
const RUNS: Record<string, number> = {
  'cp-in tar': 150,
  'load archive': 500,
  'checkpoint rootfs diff': 300,
  'CRIU image decode': 5000,
  'create body': 3000,
  filters: 3000,
  'HTTP requests': 400,
};

for (const t of [...TARGETS, httpTarget]) {
  test(`fuzz: ${t.name} (seed ${SEED})`, async () => {
    const r = await runTarget(t, CAP_MS, RUNS[t.name] ?? 200, SEED);
    console.log(`# fuzz ${r.name}: ${r.runs} inputs in ${r.ms} ms`);
    assert.ok(r.runs > 0, 'no input ran');
  });
}
