import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';

import { CancelledError, InvalidArgumentError } from '../../../src/errors/index.js';
import { readImageArchive, type ReadImageArchiveOptions } from '../../../src/archive/image-archive-reader.js';
import type { CompressionKind } from '../../../src/archive/compression.js';
import {
  MemorySink,
  compress,
  dockerSaveLegacy,
  fixture,
  hex,
  makeTar,
  ociLayout,
  sha256,
  signal,
  type TarEntry,
} from './helpers.js';

async function read(buf: Buffer, sink = new MemorySink(), opts: Partial<ReadImageArchiveOptions> = {}) {
  return readImageArchive(Readable.from([buf]), sink, { signal: signal(), ...opts });
}

async function readEntries(entries: TarEntry[], opts: Partial<ReadImageArchiveOptions> = {}) {
  return read(await makeTar(entries), new MemorySink(), opts);
}

describe('readImageArchive: docker-save', () => {
  it('reads a legacy docker-save archive: layer digests are the diffIDs, tags normalized', async () => {
    const f = await fixture();
    const sink = new MemorySink();
    const archive = await read(await makeTar(dockerSaveLegacy(f)), sink);
    assert.equal(archive.images.length, 1);
    const img = archive.images[0]!;
    assert.equal(img.format, 'docker-save');
    assert.deepEqual(img.repoTags, ['docker.io/library/busybox:latest']);
    assert.equal(img.configDigest, f.configDigest);
    assert.deepEqual(
      img.layers.map((l) => [l.digest, l.diffId, l.mediaType]),
      f.diffIds.map((d) => [d, d, 'application/vnd.docker.image.rootfs.diff.tar']),
    );
    assert.deepEqual(img.platform, { os: 'linux', architecture: 'amd64' });
    assert.ok(sink.stored.get(`${'a'.repeat(64)}/layer.tar`)?.equals(f.layers[0]!));
    assert.equal(archive.blobs.get(`${hex(f.configDigest)}.json`)?.digest, f.configDigest);
    assert.ok(!sink.calls.includes('manifest.json'), 'metadata is not sent to the sink');
  });

  for (const manifestFirst of [true, false]) {
    it(`resolves images with manifest.json ${manifestFirst ? 'before' : 'after'} the blobs`, async () => {
      const f = await fixture();
      const archive = await readEntries(dockerSaveLegacy(f, { manifestFirst }));
      assert.deepEqual(
        archive.images[0]!.layers.map((l) => l.diffId),
        f.diffIds,
      );
    });
  }

  it('accepts gzip-compressed layer.tar files (docker load decompresses them) and computes diffIDs', async () => {
    const f = await fixture();
    const entries = dockerSaveLegacy(f);
    const gz = await compress(f.layers[1]!, 'gzip');
    const e = entries.find((x) => x.name === `${'b'.repeat(64)}/layer.tar`)!;
    e.data = gz;
    const img = (await readEntries(entries)).images[0]!;
    assert.equal(img.layers[1]!.digest, sha256(gz));
    assert.equal(img.layers[1]!.diffId, f.diffIds[1]);
    assert.equal(img.layers[1]!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  });

  it('refuses a manifest layer path escaping the archive (../../etc/shadow)', async () => {
    const f = await fixture();
    const entries = dockerSaveLegacy(f, { layerPaths: [`${'a'.repeat(64)}/layer.tar`, '../../etc/shadow'] });
    await assert.rejects(readEntries(entries), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /layer 1 path "..\/..\/etc\/shadow" is not a clean relative path/);
      return true;
    });
  });

  it('refuses an absolute manifest layer path', async () => {
    const f = await fixture();
    const entries = dockerSaveLegacy(f, { layerPaths: [`${'a'.repeat(64)}/layer.tar`, '/etc/shadow'] });
    await assert.rejects(readEntries(entries), InvalidArgumentError);
  });

  it('refuses a layer whose bytes do not match its diffID, naming the layer', async () => {
    const f = await fixture();
    const entries = dockerSaveLegacy(f);
    entries.find((x) => x.name === `${'b'.repeat(64)}/layer.tar`)!.data = await makeTar([
      { name: 'evil', data: 'x' },
    ]);
    await assert.rejects(readEntries(entries), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(
        err.message,
        new RegExp(`^invalid diffID for layer 1: expected "${f.diffIds[1]}", got "sha256:`),
      );
      return true;
    });
  });

  it('refuses a manifest whose layer count differs from rootfs.diff_ids', async () => {
    const f = await fixture();
    const entries = dockerSaveLegacy(f, { layerPaths: [`${'a'.repeat(64)}/layer.tar`] });
    await assert.rejects(readEntries(entries), /invalid manifest, layers length mismatch: expected 1, got 2/);
  });

  it('refuses a 25 MiB manifest.json without buffering it', async () => {
    const big = Buffer.alloc(25 * 1024 * 1024, 0x20);
    await assert.rejects(readEntries([{ name: 'manifest.json', data: big }]), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /manifest.json is too large/);
      return true;
    });
  });

  it('refuses an invalid RepoTag', async () => {
    const f = await fixture();
    await assert.rejects(readEntries(dockerSaveLegacy(f, { repoTags: ['Busy Box'] })), InvalidArgumentError);
  });

  it('follows an in-archive symlink between layer.tar files (docker 20.10 shared layers)', async () => {
    const f = await fixture();
    const entries = dockerSaveLegacy(f);
    const i = entries.findIndex((x) => x.name === `${'b'.repeat(64)}/layer.tar`);
    entries[i] = {
      name: `${'b'.repeat(64)}/layer.tar`,
      type: 'symlink',
      linkname: `../${'c'.repeat(64)}/layer.tar`,
    };
    entries.push({ name: `${'c'.repeat(64)}/layer.tar`, data: f.layers[1]! });
    const img = (await readEntries(entries)).images[0]!;
    assert.equal(img.layers[1]!.diffId, f.diffIds[1]);
  });
});

describe('readImageArchive: OCI layout', () => {
  for (const kind of ['gzip', 'zstd'] as const) {
    it(`reads an OCI layout with ${kind} layers, computing diffIDs in the same pass`, async () => {
      const f = await fixture();
      const { entries, manifestDigest, layerBlobs } = await ociLayout(f, kind);
      const sink = new MemorySink();
      const archive = await read(await makeTar(entries), sink);
      const img = archive.images[0]!;
      assert.equal(img.format, 'oci-layout');
      assert.deepEqual(img.repoTags, ['docker.io/library/busybox:latest']);
      assert.equal(img.ociRefName, 'latest');
      assert.equal(img.manifest?.digest, manifestDigest);
      assert.deepEqual(
        img.layers.map((l) => [l.digest, l.diffId, l.compression]),
        layerBlobs.map((b, i) => [sha256(b), f.diffIds[i], kind]),
      );
      // every blob was written exactly once: no second read
      assert.equal(sink.calls.length, new Set(sink.calls).size);
    });
  }

  it('refuses an OCI layer whose uncompressed content does not match its diffID', async () => {
    const f = await fixture();
    const bad = { ...f, diffIds: [f.diffIds[0]!, sha256('other')] };
    bad.config = Buffer.from(
      JSON.stringify({
        os: 'linux',
        architecture: 'amd64',
        rootfs: { type: 'layers', diff_ids: bad.diffIds },
      }),
    );
    bad.configDigest = sha256(bad.config);
    const { entries } = await ociLayout(bad, 'gzip');
    await assert.rejects(readEntries(entries), /invalid diffID for layer 1: expected "sha256:/);
  });

  it('does not follow a symlink entry named like a blob (target outside the archive)', async () => {
    const f = await fixture();
    const { entries, layerBlobs } = await ociLayout(f, 'gzip');
    const name = `blobs/sha256/${hex(sha256(layerBlobs[0]!))}`;
    const i = entries.findIndex((e) => e.name === name);
    entries[i] = { name, type: 'symlink', linkname: '/etc/passwd' };
    const sink = new MemorySink();
    await assert.rejects(read(await makeTar(entries), sink), /not found in archive/);
    assert.ok(!sink.calls.includes(name));
    assert.ok(![...sink.stored.values()].some((b) => b.includes('root:x:0:0')));
  });

  it('refuses a blob whose content does not match its name (the sink verifies)', async () => {
    const f = await fixture();
    const { entries } = await ociLayout(f, 'gzip');
    entries.push({ name: `blobs/sha256/${'0'.repeat(64)}`, data: 'not that' });
    await assert.rejects(readEntries(entries));
  });
});

describe('readImageArchive: compressed and hostile archives', () => {
  for (const kind of ['gzip', 'zstd', 'xz', 'bzip2'] as CompressionKind[]) {
    it(`reads a ${kind}-compressed docker-save archive`, async () => {
      const f = await fixture();
      const archive = await read(await compress(await makeTar(dockerSaveLegacy(f)), kind));
      assert.equal(archive.compression, kind);
      assert.deepEqual(
        archive.images[0]!.layers.map((l) => l.diffId),
        f.diffIds,
      );
    });
  }

  it('fails on a truncated archive', async () => {
    const f = await fixture();
    const full = await makeTar(dockerSaveLegacy(f, { manifestFirst: true }));
    await assert.rejects(read(full.subarray(0, Math.floor(full.length / 2))), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /unexpected end of data/);
      return true;
    });
  });

  it('fails on a truncated zstd archive', async () => {
    const f = await fixture();
    const z = await compress(await makeTar(dockerSaveLegacy(f)), 'zstd');
    await assert.rejects(read(z.subarray(0, z.length - 20)), InvalidArgumentError);
  });

  it('refuses entry names escaping the archive', async () => {
    await assert.rejects(readEntries([{ name: '../evil', data: 'x' }]), /unsafe entry name/);
  });

  it('ignores device entries and enforces the entry limit', async () => {
    const f = await fixture();
    const entries = [{ name: 'dev-null', type: 'character-device' as const }, ...dockerSaveLegacy(f)];
    assert.equal((await readEntries(entries)).images.length, 1);
    await assert.rejects(readEntries(entries, { limits: { maxEntries: 5 } }), /more than 5 entries/);
  });

  it('stops a decompression bomb at the uncompressed limit', async () => {
    const bomb = await compress(
      await makeTar([{ name: 'zeros', data: Buffer.alloc(8 * 1024 * 1024) }]),
      'gzip',
    );
    await assert.rejects(
      read(bomb, new MemorySink(), { limits: { maxUncompressedBytes: 1024 * 1024 } }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, /exceeds the limit of 1048576 bytes/);
        return true;
      },
    );
  });

  it('refuses an archive with neither manifest.json nor index.json', async () => {
    await assert.rejects(readEntries([{ name: 'x', data: 'y' }]), /neither manifest.json nor index.json/);
  });

  it('aborts on signal, rejecting with CancelledError and leaving the input to the caller', async () => {
    const f = await fixture();
    const buf = await makeTar(dockerSaveLegacy(f));
    const ac = new AbortController();
    const input = new PassThrough();
    input.write(buf); // not ended: the input is still open when the load is aborted
    const sink = new MemorySink();
    sink.write = async (_path, stream) => {
      ac.abort();
      for await (const _ of stream) {
        /* consume until destroyed */
      }
      return { digest: '', size: 0 };
    };
    await assert.rejects(readImageArchive(input, sink, { signal: ac.signal }), CancelledError);
    assert.equal(input.destroyed, false);
  });
});
