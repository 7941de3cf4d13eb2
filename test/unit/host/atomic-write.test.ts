import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TEMP_PREFIX, writeFileAtomic } from '../../../src/host/atomic-write.js';

test('writeFileAtomic replaces the file whole, mode 0600, no temp file left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  try {
    const p = join(dir, 'state.json');
    await writeFile(p, '{"old":true}');
    await writeFileAtomic(p, '{"new":true}');
    assert.equal(await readFile(p, 'utf8'), '{"new":true}');
    assert.equal((await stat(p)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['state.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('concurrent writers: the file is always one whole version', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  try {
    const p = join(dir, 'config.json');
    const versions = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ v: i, pad: 'x'.repeat(64 * 1024) }),
    );
    const reads: Promise<string>[] = [];
    await Promise.all(
      versions.map(async (v) => {
        await writeFileAtomic(p, v);
        reads.push(readFile(p, 'utf8'));
      }),
    );
    for (const r of await Promise.all(reads)) assert.ok(versions.includes(r), 'a reader saw a torn file');
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX)),
      [],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed write leaves the old file and no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  try {
    const p = join(dir, 'sub', 'x.json'); // the directory does not exist: open fails
    await assert.rejects(writeFileAtomic(p, 'x'), { code: 'ENOENT' });
    const q = join(dir, 'y.json');
    await writeFile(q, 'old');
    // rename onto a directory fails after the temp file was written: it is removed again
    await rm(q);
    await import('node:fs/promises').then((fs) => fs.mkdir(q));
    await assert.rejects(writeFileAtomic(q, 'new'));
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX)),
      [],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
