// ScopedRoot.resolve on a real temp tree: `..` clamped at the root, absolute symlinks resolved
// from the root (never the host's /), the symlink-count limit, the final-component rules, and
// no descriptor leaked whatever the outcome.
import assert from 'node:assert/strict';
import { lstatSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { at, MAX_SYMLINKS, ScopedRoot, splitPath } from '../../../src/archive/scoped-fs.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('ScopedRoot.resolve', () => {
  let base: string;
  let rootDir: string;
  let hostDir: string;
  let root: ScopedRoot;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'ckptd-scoped-'));
    rootDir = join(base, 'root');
    hostDir = join(base, 'host');
    await mkdir(join(rootDir, 'a/b'), { recursive: true });
    await mkdir(hostDir);
    await writeFile(join(hostDir, 'secret'), 'HOST');
    await writeFile(join(rootDir, 'a/b/file'), 'in root');
    await symlink('/a', join(rootDir, 'abs'));
    await symlink('../../../..', join(rootDir, 'up'));
    await symlink(hostDir, join(rootDir, 'host'));
    await symlink('../a/b', join(rootDir, 'a/rel'));
    await symlink('loop2', join(rootDir, 'loop1'));
    await symlink('loop1', join(rootDir, 'loop2'));
    // chainN: l0 -> l1 -> ... -> l(N-1) -> /a ; N links to follow in all
    for (const n of [MAX_SYMLINKS, MAX_SYMLINKS + 1]) {
      await mkdir(join(rootDir, `chain${n}`));
      for (let i = 0; i < n; i++) {
        await symlink(i === n - 1 ? '/a' : `l${i + 1}`, join(rootDir, `chain${n}`, `l${i}`));
      }
    }
    root = await ScopedRoot.open(rootDir);
  });

  after(async () => {
    await root.close();
    await rm(base, { recursive: true, force: true });
  });

  const resolve = async (path: string, followFinal = false) => {
    const r = await root.resolve(path, { followFinal });
    try {
      const st = r.name === '' ? undefined : lstatSync(at(r.dirFd, r.name), { throwIfNoEntry: false });
      return { path: r.path, name: r.name, isFile: st?.isFile() ?? false };
    } finally {
      await r.close();
    }
  };
  const code = async (path: string, followFinal = false): Promise<string | undefined> =>
    root.resolve(path, { followFinal }).then(
      async (r) => {
        await r.close();
        return undefined;
      },
      (err: NodeJS.ErrnoException) => err.code,
    );

  it('resolves a plain path to its parent descriptor and name', async () => {
    assert.deepEqual(await resolve('/a/b/file'), { path: '/a/b/file', name: 'file', isFile: true });
    assert.deepEqual(await resolve('a//./b/file'), { path: '/a/b/file', name: 'file', isFile: true });
  });

  it('clamps `..` at the root', async () => {
    assert.deepEqual(await resolve('/../../a/b/file'), { path: '/a/b/file', name: 'file', isFile: true });
    assert.deepEqual(await resolve('/a/../../..'), { path: '/', name: '', isFile: false });
    assert.deepEqual(await resolve('/a/b/../../a/b/file'), { path: '/a/b/file', name: 'file', isFile: true });
  });

  it('resolves absolute symlinks from the container root, not the host /', async () => {
    assert.deepEqual(await resolve('/abs/b/file'), { path: '/a/b/file', name: 'file', isFile: true });
    // host -> <hostDir>: looked up inside the root, where it does not exist
    assert.equal(await code('/host/secret'), 'ENOENT');
  });

  it('clamps a relative symlink climbing above the root', async () => {
    assert.deepEqual(await resolve('/up/a/b/file'), { path: '/a/b/file', name: 'file', isFile: true });
    assert.deepEqual(await resolve('/up', true), { path: '/', name: '', isFile: false });
  });

  it('follows a relative symlink from its own directory', async () => {
    assert.deepEqual(await resolve('/a/rel/file'), { path: '/a/b/file', name: 'file', isFile: true });
  });

  it('leaves a final symlink alone without followFinal and follows it with it', async () => {
    assert.deepEqual(await resolve('/abs'), { path: '/abs', name: 'abs', isFile: false });
    assert.deepEqual(await resolve('/abs', true), { path: '/a', name: 'a', isFile: false });
    assert.deepEqual(await resolve('/host'), { path: '/host', name: 'host', isFile: false });
  });

  it(`follows at most ${MAX_SYMLINKS} links, then fails with ELOOP`, async () => {
    assert.deepEqual(await resolve(`/chain${MAX_SYMLINKS}/l0/b/file`), {
      path: '/a/b/file',
      name: 'file',
      isFile: true,
    });
    assert.equal(await code(`/chain${MAX_SYMLINKS + 1}/l0/b/file`), 'ELOOP');
    assert.equal(await code('/loop1/x'), 'ELOOP');
    assert.equal(await code('/loop1', true), 'ELOOP');
  });

  it('returns a missing final entry (for creation) but fails on a missing or non-directory parent', async () => {
    assert.deepEqual(await resolve('/a/b/new'), { path: '/a/b/new', name: 'new', isFile: false });
    assert.equal(await code('/a/missing/new'), 'ENOENT');
    assert.equal(await code('/a/b/file/x'), 'ENOTDIR');
  });

  it('leaks no descriptor, on success or failure', async () => {
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      await resolve('/up/abs/b/file');
      await code('/loop1/x');
      await code('/a/b/file/x');
      await code('/host/secret');
    }
    assert.equal(openFds(), before);
  });
});

describe('at and splitPath', () => {
  it('at refuses components that are not a single name', () => {
    for (const n of ['', '.', '..', 'a/b', 'a\0b']) assert.throws(() => at(3, n), { code: 'EINVAL' }, n);
    assert.equal(at(3, 'x'), '/proc/self/fd/3/x');
  });
  it('splitPath drops empty and `.` components and keeps `..`', () => {
    assert.deepEqual(splitPath('//a/./b/../c/'), ['a', 'b', '..', 'c']);
  });
});
