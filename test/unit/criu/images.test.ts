// CRIU image framing: magic (optionally after IMG_COMMON/IMG_SERVICE), then u32-size-prefixed
// protobuf entries; bounded sizes, truncation and wrong magics refused with the file named.
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  CriuImageError,
  MAGIC,
  MAX_ENTRY_BYTES,
  decodeImage,
  encodeImage,
  readImage,
  recordedRootMode,
} from '../../../src/criu/images.js';

const pstree = [
  { pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] },
  { pid: 34, ppid: 1, pgid: 1, sid: 1, threads: [34, 35] },
];

describe('CRIU image framing', () => {
  test('entries round-trip with and without the IMG_COMMON magic, and with IMG_SERVICE', () => {
    assert.deepEqual(decodeImage('pstree.img', encodeImage('PSTREE', pstree), 'PSTREE'), pstree);
    assert.deepEqual(
      decodeImage('pstree.img', encodeImage('PSTREE', pstree, { common: false }), 'PSTREE'),
      pstree,
    );
    const svc = encodeImage('PSTREE', pstree);
    svc.writeUInt32LE(MAGIC.IMG_SERVICE, 0);
    assert.deepEqual(decodeImage('pstree.img', svc, 'PSTREE'), pstree);
    assert.deepEqual(decodeImage('pstree.img', encodeImage('PSTREE', []), 'PSTREE'), []);
  });

  test('a wrong magic, a truncated entry or size, an oversized entry and a bad message are refused', () => {
    const good = encodeImage('PSTREE', pstree);
    const err = (buf: Buffer, re: RegExp) =>
      assert.throws(
        () => decodeImage('pstree.img', buf, 'PSTREE'),
        (e: unknown) =>
          e instanceof CriuImageError &&
          /^checkpoint image pstree\.img: /.test(e.message) &&
          re.test(e.message),
      );
    err(encodeImage('CORE', []), /magic 0x55053847 is not PSTREE/);
    err(good.subarray(0, good.length - 1), /truncated entry at offset \d+ \(\d+ bytes announced\)/);
    err(Buffer.concat([good, Buffer.from([1, 0])]), /truncated entry size/);
    err(Buffer.alloc(2), /truncated: no magic/);
    const big = Buffer.alloc(12);
    big.writeUInt32LE(MAGIC.IMG_COMMON, 0);
    big.writeUInt32LE(MAGIC.PSTREE, 4);
    big.writeUInt32LE(MAX_ENTRY_BYTES + 1, 8);
    err(big, /entry of 4194305 bytes at offset 8 is too large/);
    // a pstree entry without its required pid
    const noPid = Buffer.concat([good.subarray(0, 8), Buffer.from([2, 0, 0, 0, 0x10, 0x00])]);
    err(noPid, /entry 1: .*missing required/);
  });

  test('readImage refuses symlinks and non-files, and reads a real file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'criu-img-'));
    try {
      await writeFile(join(dir, 'pstree.img'), encodeImage('PSTREE', pstree));
      assert.deepEqual(await readImage(dir, 'pstree.img', 'PSTREE'), pstree);
      await symlink(join(dir, 'pstree.img'), join(dir, 'link.img'));
      await assert.rejects(
        readImage(dir, 'link.img', 'PSTREE'),
        /checkpoint image link\.img: cannot be opened: ELOOP/,
      );
      await assert.rejects(
        readImage(dir, 'none.img', 'PSTREE'),
        /checkpoint image none\.img: cannot be opened: ENOENT/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('recordedRootMode follows pstree -> fs-<pid>.img root_id -> files.img to the root directory mode', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'criu-root-'));
  try {
    const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
    await writeFile(
      join(dir, 'pstree.img'),
      encodeImage('PSTREE', [{ pid: 7, ppid: 0, pgid: 7, sid: 7, threads: [7] }] as never),
    );
    await writeFile(
      join(dir, 'fs-7.img'),
      encodeImage('FS', [{ cwd_id: 3, root_id: 4, umask: 0o22 }] as never),
    );
    await writeFile(
      join(dir, 'files.img'),
      encodeImage('FILES', [
        { type: 1, id: 3, reg: { id: 3, flags: 0, pos: '0', fown, name: '/', mode: 0o40755 } },
        { type: 1, id: 4, reg: { id: 4, flags: 0, pos: '0', fown, name: '/', mode: 0o40555 } },
      ] as never),
    );
    assert.equal(await recordedRootMode(dir), 0o40555);
    await writeFile(join(dir, 'fs-7.img'), encodeImage('FS', [{ cwd_id: 3, root_id: 9 }] as never));
    assert.equal(await recordedRootMode(dir), undefined, 'no such file id: nothing recorded');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
