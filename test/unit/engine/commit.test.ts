import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { commitImageConfig, commitRuntimeConfig, EMPTY_LAYER_DIFF_ID } from '../../../src/engine/commit.js';
import type { ContainerRecord } from '../../../src/engine/containers/index.js';
import { overlayChanges, readOnlyMountArgs, readOnlyMounts } from '../../../src/engine/rootfs.js';
import { parseChanges, parseCompression } from '../../../src/http/routes/commit.handlers.js';
import { sha256Digest } from '../../../src/oci/digest.js';

const containerConfig = {
  Env: ['PATH=/bin', 'X=1'],
  Cmd: ['sleep', '1000'],
  Entrypoint: null,
  Labels: { a: '1', 'ckptd/name': 'x' },
  User: '',
  WorkingDir: '/w',
  Image: 'busybox',
} as ContainerRecord['Config'];

test('EMPTY_LAYER_DIFF_ID is the digest of a tar holding only its two end blocks', () => {
  assert.equal(sha256Digest(Buffer.alloc(1024)), EMPTY_LAYER_DIFF_ID);
});

test('commitRuntimeConfig applies changes to the container config and keeps its Cmd, Env and labels', () => {
  const c = commitRuntimeConfig(containerConfig, null, ['ENV A=b', 'LABEL b=2']);
  assert.deepEqual(c.Env, ['PATH=/bin', 'X=1', 'A=b']);
  assert.deepEqual(c.Cmd, ['sleep', '1000']);
  assert.deepEqual(c.Labels, { a: '1', b: '2' });
  assert.equal(c.WorkingDir, '/w');
});

test('commitRuntimeConfig: a body config wins, blanks are filled from the container (moby merge)', () => {
  const c = commitRuntimeConfig(containerConfig, { Cmd: 'echo hi', Env: ['X=2'] }, []);
  assert.deepEqual(c.Cmd, ['echo hi']);
  assert.deepEqual(c.Env, ['X=2', 'PATH=/bin']);
  assert.equal(c.WorkingDir, '/w');
});

test('commitRuntimeConfig rejects an instruction commit does not accept', () => {
  assert.throws(
    () => commitRuntimeConfig(containerConfig, null, ['RUN true']),
    /RUN is not a valid change command/,
  );
});

test('commitImageConfig appends the layer and history; no layer means empty_layer; squash keeps one layer', () => {
  const base = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers' as const, diff_ids: ['sha256:aa' as const] },
    history: [{ created_by: 'base' }],
    comment: 'the base image says',
  };
  const p = {
    base,
    runtime: {},
    squash: false,
    created: 't',
    createdBy: 'sh',
    author: 'me',
    comment: 'm',
    containerId: 'c',
  };
  const withLayer = commitImageConfig({ ...p, diffId: 'sha256:bb' });
  assert.deepEqual(withLayer.rootfs.diff_ids, ['sha256:aa', 'sha256:bb']);
  assert.deepEqual(withLayer.history?.at(-1), { created: 't', created_by: 'sh', author: 'me', comment: 'm' });
  assert.equal(withLayer.author, 'me');
  // the commit message is the image's comment (docker image inspect .Comment), not the base's
  assert.equal(withLayer.comment, 'm');
  assert.equal(commitImageConfig({ ...p, comment: '', diffId: 'sha256:bb' }).comment, undefined);
  const empty = commitImageConfig({ ...p, diffId: undefined });
  assert.deepEqual(empty.rootfs.diff_ids, ['sha256:aa']);
  assert.equal(empty.history?.at(-1)?.empty_layer, true);
  const squashed = commitImageConfig({ ...p, squash: true, diffId: 'sha256:cc' });
  assert.deepEqual(squashed.rootfs.diff_ids, ['sha256:cc']);
  assert.equal(squashed.history?.[0]?.empty_layer, true);
});

test('parseChanges splits repeated and multi-line values; parseCompression refuses unknown ones', () => {
  assert.deepEqual(parseChanges(['ENV A=b', 'CMD x\nUSER 1']), ['ENV A=b', 'CMD x', 'USER 1']);
  assert.equal(parseCompression(undefined), 'none');
  assert.equal(parseCompression('gzip'), 'gzip');
  assert.throws(() => parseCompression('bzip2'), /invalid compression/);
});

test('readOnlyMountArgs turns an active overlay snapshot into a read-only lowerdir-only mount', () => {
  const args = readOnlyMountArgs(
    [
      {
        type: 'overlay',
        source: 'overlay',
        options: ['index=off', 'workdir=/s/1/work', 'upperdir=/s/1/fs', 'lowerdir=/s/0/fs'],
      },
    ],
    '/mnt',
  );
  assert.deepEqual(args, ['-t', 'overlay', '-o', 'index=off,lowerdir=/s/1/fs:/s/0/fs,ro', 'overlay', '/mnt']);
  assert.deepEqual(
    readOnlyMountArgs([{ type: 'bind', source: '/s/1/fs', options: ['rbind', 'rw'] }], '/mnt'),
    ['--bind', '-o', 'ro', '/s/1/fs', '/mnt'],
  );
});

test(
  'overlayChanges reports A/C/D as docker diff: whiteouts deleted, parents modified, mountpoints hidden',
  {
    skip: process.getuid?.() !== 0 ? 'needs root for mknod' : false,
  },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckptd-changes-'));
    try {
      const lower = join(dir, 'lower');
      const upper = join(dir, 'upper');
      await mkdir(join(lower, 'etc'), { recursive: true });
      await writeFile(join(lower, 'etc/passwd'), 'x');
      await writeFile(join(lower, 'gone'), 'x');
      await mkdir(join(upper, 'etc'), { recursive: true });
      await writeFile(join(upper, 'etc/hosts'), '');
      await writeFile(join(upper, 'new'), 'n');
      await mkdir(join(upper, 'd/e'), { recursive: true });
      await writeFile(join(upper, 'd/e/f'), 'f');
      execFileSync('mknod', [join(upper, 'gone'), 'c', '0', '0']);
      const changes = await overlayChanges({ upper, lowers: [lower] }, ['/etc/hosts']);
      assert.deepEqual(changes, [
        { Path: '/d', Kind: 1 },
        { Path: '/d/e', Kind: 1 },
        { Path: '/d/e/f', Kind: 1 },
        { Path: '/gone', Kind: 2 },
        { Path: '/new', Kind: 1 },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('readOnlyMounts hands the differ read-only mounts (their unmount syncs nothing)', () => {
  assert.deepEqual(
    readOnlyMounts([
      {
        type: 'overlay',
        source: 'overlay',
        options: ['index=off', 'workdir=/w', 'upperdir=/u', 'lowerdir=/l', 'rw'],
      },
      { type: 'bind', source: '/s', options: ['rbind', 'ro'] },
    ]),
    [
      {
        type: 'overlay',
        source: 'overlay',
        options: ['index=off', 'workdir=/w', 'upperdir=/u', 'lowerdir=/l', 'ro'],
      },
      { type: 'bind', source: '/s', options: ['rbind', 'ro'] },
    ],
  );
});
