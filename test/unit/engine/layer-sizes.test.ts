import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import {
  apparentSize,
  containerSizes,
  overlayDirs,
  tarApparentSize,
} from '../../../src/engine/layer-sizes.js';

describe('layer sizes as dockerd computes them (moby directory.Size)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckptd-sizes-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('apparentSize sums file sizes and symlink lengths, not directories or empty files, hard links once', async () => {
    const d = join(dir, 'a');
    await mkdir(join(d, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(d, 'six'), 'hello\n');
    await writeFile(join(d, 'sub', 'deeper', 'three'), 'abc');
    await writeFile(join(d, 'empty'), '');
    await link(join(d, 'six'), join(d, 'sub', 'six-again'));
    await symlink('busybox', join(d, 'sh')); // 7 bytes of target
    assert.equal(await apparentSize(d), 6 + 3 + 7);
    assert.equal(await apparentSize(join(dir, 'missing')), 0);
  });

  it('overlayDirs reads upper and lowers (bottom first) from overlay and bind mounts', () => {
    assert.deepEqual(
      overlayDirs([
        {
          type: 'overlay',
          source: 'overlay',
          target: '',
          options: ['workdir=/w', 'upperdir=/u', 'lowerdir=/top:/bottom'],
        },
      ]),
      { upper: '/u', lowers: ['/bottom', '/top'] },
    );
    assert.deepEqual(overlayDirs([{ type: 'bind', source: '/l', target: '', options: ['ro', 'rbind'] }]), {
      lowers: ['/l'],
    });
    assert.deepEqual(overlayDirs([{ type: 'bind', source: '/u', target: '', options: ['rw', 'rbind'] }]), {
      upper: '/u',
      lowers: [],
    });
    assert.equal(overlayDirs([{ type: 'btrfs', source: '/x', target: '', options: [] }]), undefined);
  });

  it('containerSizes: SizeRw is the upper dir, SizeRootFs adds the layers below', async () => {
    const upper = join(dir, 'upper');
    const lower = join(dir, 'lower');
    await mkdir(upper);
    await mkdir(lower);
    await writeFile(join(upper, 'x'), '12345\n');
    await writeFile(join(lower, 'y'), 'a'.repeat(100));
    const sizes = await containerSizes([
      { type: 'overlay', source: 'overlay', target: '', options: [`upperdir=${upper}`, `lowerdir=${lower}`] },
    ]);
    assert.deepEqual(sizes, { sizeRw: 6, sizeRootFs: 106 });
  });

  it('tarApparentSize measures a layer tar as its unpacked directory would be', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'dir/', type: 'directory' });
    pack.entry({ name: 'dir/six', size: 6 }, 'hello\n');
    pack.entry({ name: 'dir/again', type: 'link', linkname: 'dir/six' });
    pack.entry({ name: 'sh', type: 'symlink', linkname: 'busybox' });
    pack.entry({ name: 'dir/.wh.gone', size: 0 }, '');
    pack.entry({ name: 'empty', size: 0 }, '');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
    assert.equal(await tarApparentSize(Readable.from([Buffer.concat(chunks)])), 6 + 7);
  });
});
