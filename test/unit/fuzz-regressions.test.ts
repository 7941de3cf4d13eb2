// Inputs the fuzz targets found (test/fuzz): each was a 500 (or worse) before its fix.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { extractTar } from '../../src/archive/container-archive.js';
import { ScopedRoot } from '../../src/archive/scoped-fs.js';
import { InvalidArgumentError } from '../../src/errors/index.js';
import { packTar } from '../fuzz/arbitraries.js';

async function extract(bytes: Buffer): Promise<unknown> {
  const base = await mkdtemp(join(tmpdir(), 'ckptd-fuzzreg-'));
  try {
    await mkdir(join(base, 'dest'));
    const root = await ScopedRoot.open(join(base, 'dest'));
    try {
      await extractTar(root, '/', Readable.from([bytes]), { signal: AbortSignal.timeout(10_000) });
      return undefined;
    } catch (err) {
      return err;
    } finally {
      await root.close();
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

test('cp in: a truncated or garbage tar is a 400 naming the archive, not a parser error (500)', async () => {
  const err = await extract(Buffer.from([0]));
  assert.ok(err instanceof InvalidArgumentError, String(err));
  assert.match(err.message, /invalid tar archive/);
});

test('cp in: a hardlink whose target lies under a missing directory is a 400, not ENOENT (500)', async () => {
  const bytes = await packTar([
    {
      name: 'x',
      type: 'link',
      linkname: 'missing/dir/target',
      mode: 0o644,
      body: Buffer.alloc(0),
      uid: 0,
      gid: 0,
    },
  ]);
  const err = await extract(bytes);
  assert.ok(err instanceof InvalidArgumentError, String(err));
  assert.match(err.message, /invalid hardlink "x": target "missing\/dir\/target" does not exist/);
});

test('cp in: a file, then an entry below it (etc, etc/x) is a 400, not ENOTDIR (500)', async () => {
  const f = (name: string) => ({
    name,
    type: 'file' as const,
    linkname: '',
    mode: 0o644,
    body: Buffer.from('x'),
    uid: 0,
    gid: 0,
  });
  const err = await extract(await packTar([f('etc'), f('etc/x')]));
  assert.ok(err instanceof InvalidArgumentError, String(err));
  assert.match(err.message, /cannot extract the archive: ENOTDIR/);
  assert.doesNotMatch(err.message, /\/proc\/self\/fd/);
});

test('cp in: a symlink with an empty target is a 400, not ENOENT (500)', async () => {
  const err = await extract(
    await packTar([
      { name: 'l', type: 'symlink', linkname: '', mode: 0o777, body: Buffer.alloc(0), uid: 0, gid: 0 },
    ]),
  );
  assert.ok(err instanceof InvalidArgumentError, String(err));
  assert.match(err.message, /invalid symlink "l": empty target/);
});

test('cp in: an entry through a symlink to a missing absolute path is a 400, not ENOENT (500)', async () => {
  const err = await extract(
    await packTar([
      {
        name: 'a',
        type: 'symlink',
        linkname: '/etc/passwd',
        mode: 0o777,
        body: Buffer.alloc(0),
        uid: 0,
        gid: 0,
      },
      { name: 'a/x', type: 'file', linkname: '', mode: 0o644, body: Buffer.from('x'), uid: 0, gid: 0 },
    ]),
  );
  assert.ok(err instanceof InvalidArgumentError, String(err));
  assert.match(err.message, /cannot extract the archive: ENOENT/);
});
