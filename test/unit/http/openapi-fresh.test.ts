import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { OPENAPI_FILE, renderOpenApi } from '../../../src/http/openapi.js';

describe('openapi/ckptd.json', () => {
  it('matches the document the routes generate', async () => {
    const committed = await readFile(new URL(`../../../${OPENAPI_FILE}`, import.meta.url), 'utf8').catch(
      () => '',
    );
    const fresh = await renderOpenApi();
    assert.ok(committed === fresh, 'openapi/ckptd.json is stale: run npm run openapi');
  });

  it('is deterministic and documents every system operation', async () => {
    const a = await renderOpenApi();
    assert.equal(a, await renderOpenApi());
    assert.ok(a.endsWith('}\n'));
    const doc = JSON.parse(a);
    const ops = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap(
      (p) => Object.values(p).map((o) => o.operationId),
    );
    // Every route group documents its operations; each group's test names its own.
    for (const op of [
      'SystemEvents',
      'SystemInfo',
      'SystemPing',
      'SystemPingHead',
      'SystemVersion',
      'ImageDelete',
      'ImageHistory',
      'ImageInspect',
      'ImageList',
      'ImageLoad',
      'ImageTag',
    ]) {
      assert.ok(ops.includes(op), `${op} is documented`);
    }
    assert.equal(new Set(ops).size, ops.length, 'operationIds are unique');
  });
});
