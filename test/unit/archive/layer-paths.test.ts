import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';

import { readImageArchive } from '../../../src/archive/image-archive-reader.js';
import { breakoutOf, LayerPathCheck } from '../../../src/archive/layer-paths.js';
import { InvalidArgumentError } from '../../../src/errors/index.js';
import {
  MemorySink,
  dockerSaveLegacy,
  fixture,
  makeTar,
  ociLayout,
  sha256,
  signal,
  type TarEntry,
} from './helpers.js';

const FORTY_UP = `${'../'.repeat(40)}x`;

async function check(entries: TarEntry[], chunk = 0): Promise<LayerPathCheck> {
  const buf = await makeTar(entries);
  const c = new LayerPathCheck();
  if (chunk === 0) c.write(buf);
  else for (let off = 0; off < buf.length; off += chunk) c.write(buf.subarray(off, off + chunk));
  return c;
}

describe('LayerPathCheck: entries dockerd refuses as a breakout', () => {
  for (const name of ['../x', 'a/../../x', '/../x', FORTY_UP, `${'d/'.repeat(60)}${'../'.repeat(61)}x`]) {
    it(`refuses the name ${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name)}`, async () => {
      for (const chunk of [0, 1, 511, 4096]) {
        const c = await check(
          [
            { name: 'ok.txt', data: 'fine' },
            { name, data: 'escape' },
          ],
          chunk,
        );
        assert.match(c.breakout ?? '', /is outside of the layer root/, `chunk ${chunk}`);
        assert.equal(c.notTar, false);
      }
    });
  }

  it('refuses a hard link whose target leaves the root', async () => {
    const hard = await check([{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]);
    assert.match(hard.breakout ?? '', /^invalid hardlink "h" -> /);
  });

  it('accepts symlinks whatever their target: never followed on unpack, resolved in the root', async () => {
    const sym = await check([
      { name: 'a/s', type: 'symlink', linkname: '../../etc' },
      { name: 'hop2', type: 'symlink', linkname: '../../..' },
      { name: 'rootlink', type: 'symlink', linkname: '/' },
    ]);
    assert.equal(sym.breakout, undefined);
  });

  it('accepts what dockerd accepts: names inside, absolute names, links that stay inside', async () => {
    const c = await check(
      [
        { name: './', type: 'directory' },
        { name: '/abs.txt', data: 'lands at /abs.txt' },
        { name: 'a/b/../c.txt', data: 'c' },
        { name: 'etc/mtab', type: 'symlink', linkname: '../proc/self/mounts' },
        { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
        { name: 'bin/ln', type: 'link', linkname: 'bin/sh' },
        { name: `${'long/'.repeat(40)}file`, data: Buffer.alloc(1000, 1) },
      ],
      7,
    );
    assert.equal(c.breakout, undefined);
    assert.equal(c.notTar, false);
  });

  it('stops quietly on bytes that are no tar (a config blob)', () => {
    const c = new LayerPathCheck();
    c.write(Buffer.from(JSON.stringify({ config: {} }).padEnd(2048, ' ')));
    assert.equal(c.notTar, true);
    assert.equal(c.breakout, undefined);
  });

  it('breakoutOf words the name and hard link cases', () => {
    assert.equal(breakoutOf('x', '0', ''), undefined);
    assert.equal(breakoutOf('..', '5', ''), '".." is outside of the layer root');
    assert.equal(breakoutOf('h', '1', 'a/../../x'), 'invalid hardlink "h" -> "a/../../x"');
    assert.equal(breakoutOf('a/s', '2', '/../../x'), undefined);
  });
});

describe('readImageArchive: a layer that breaks out is refused (400), in any form', () => {
  const badLayer = (): Promise<Buffer> =>
    makeTar([
      { name: 'etc/ok', data: 'ok' },
      { name: '../x', data: 'out' },
    ]);

  it('docker-save, uncompressed layer', async () => {
    const f = await fixture();
    f.layers[1] = await badLayer();
    f.diffIds[1] = sha256(f.layers[1]);
    const config = JSON.parse(f.config.toString()) as { rootfs: { diff_ids: string[] } };
    config.rootfs.diff_ids = f.diffIds;
    f.config = Buffer.from(JSON.stringify(config));
    f.configDigest = sha256(f.config);
    await assert.rejects(
      readImageArchive(Readable.from([await makeTar(dockerSaveLegacy(f))]), new MemorySink(), {
        signal: signal(),
      }),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        /invalid layer 1: "..\/x" is outside of the layer root: breakout/.test(err.message),
    );
  });

  for (const kind of ['gzip', 'zstd'] as const) {
    it(`OCI layout, ${kind} layer`, async () => {
      const f = await fixture();
      f.layers[0] = await badLayer();
      f.diffIds[0] = sha256(f.layers[0]);
      const config = JSON.parse(f.config.toString()) as { rootfs: { diff_ids: string[] } };
      config.rootfs.diff_ids = f.diffIds;
      f.config = Buffer.from(JSON.stringify(config));
      f.configDigest = sha256(f.config);
      const { entries } = await ociLayout(f, kind);
      await assert.rejects(
        readImageArchive(Readable.from([await makeTar(entries)]), new MemorySink(), { signal: signal() }),
        /invalid layer 0: "..\/x" is outside of the layer root: breakout/,
      );
    });
  }
});
