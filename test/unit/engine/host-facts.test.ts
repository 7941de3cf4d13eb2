import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  loadEngineId,
  parseCriuVersion,
  parseOsRelease,
  parseRuncVersion,
} from '../../../src/engine/host-facts.js';

test('parseRuncVersion and parseCriuVersion read the tools’ version output', () => {
  assert.deepEqual(parseRuncVersion('runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1\nspec: 1.0.2\n'), {
    version: '1.1.5+ds1',
    commit: '1.1.5+ds1-1',
  });
  assert.equal(parseRuncVersion('garbage'), undefined);
  assert.deepEqual(parseCriuVersion('Version: 4.1.1\n'), { version: '4.1.1' });
});

test('parseOsRelease reads PRETTY_NAME and VERSION_ID', () => {
  assert.deepEqual(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\n'), {
    pretty: 'Debian GNU/Linux 12 (bookworm)',
    version: '12',
  });
});

test('loadEngineId persists one ID under the data root', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ckptd-id-'));
  const a = await loadEngineId(dir);
  const b = await loadEngineId(dir);
  assert.equal(a, b);
  assert.equal((await readFile(join(dir, 'engine-id'), 'utf8')).trim(), a);
  assert.equal((await stat(join(dir, 'engine-id'))).mode & 0o077, 0);
  await rm(dir, { recursive: true, force: true });
});
