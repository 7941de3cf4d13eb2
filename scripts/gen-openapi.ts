/**
 * gen-openapi writes openapi/ckptd.json from the route schemas (`npm run openapi`). The unit
 * test test/unit/http/openapi-fresh.test.ts fails when the committed file is stale.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPENAPI_FILE, renderOpenApi } from '../src/http/openapi.js';

const target = fileURLToPath(new URL(`../${OPENAPI_FILE}`, import.meta.url));
await mkdir(dirname(target), { recursive: true });
await writeFile(target, await renderOpenApi());
console.log(`wrote ${OPENAPI_FILE}`);
