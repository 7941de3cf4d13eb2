/**
 * gen-fields writes the create-request field table (src/oci/create-fields.ts) into README.md
 * between its `fields` markers (`npm run fields`). test/unit/oci/create-fields.test.ts fails
 * when the README is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { FIELD_TABLE_MARKERS, renderFieldTable } from '../src/oci/create-fields.js';

const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const text = await readFile(readme, 'utf8');
const [start, end] = FIELD_TABLE_MARKERS;
const a = text.indexOf(start);
const b = text.indexOf(end);
if (a === -1 || b === -1 || b < a) throw new Error(`README.md lacks the ${start} ... ${end} markers`);
await writeFile(readme, `${text.slice(0, a + start.length)}\n${renderFieldTable()}${text.slice(b)}`);
console.log('wrote the field table into README.md');
