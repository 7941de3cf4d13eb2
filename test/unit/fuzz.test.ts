// The fuzz targets of test/fuzz/targets.ts, each for a bounded time in every test run (a longer
// run: `npm run fuzz`). A failure prints the shrunk input and the seed to replay it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTarget } from '../fuzz/run.js';
import { httpTarget } from '../fuzz/http-target.js';
import { TARGETS } from '../fuzz/targets.js';

const BUDGET_MS = Number(process.env.CKPTD_FUZZ_MS ?? 4000);

for (const t of [...TARGETS, httpTarget]) {
  test(`fuzz: ${t.name} (${BUDGET_MS} ms)`, async () => {
    const r = await runTarget(t, BUDGET_MS);
    console.log(`# fuzz ${r.name}: ${r.runs} inputs in ${r.ms} ms`);
    assert.ok(r.runs > 0, 'no input ran');
  });
}
