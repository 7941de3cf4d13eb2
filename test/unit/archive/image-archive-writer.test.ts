import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import tar from 'tar-stream';

import { CancelledError } from '../../../src/errors/index.js';
import { readImageArchive } from '../../../src/archive/image-archive-reader.js';
import { writeImageArchive, type ExportImage } from '../../../src/archive/image-archive-writer.js';
import { MemorySink, MemorySource, collect, compress, fixture, hex, sha256, signal } from './helpers.js';

const run = promisify(execFile);

async function gzImage(source: MemorySource, names: string[], extraLayer?: Buffer): Promise<ExportImage> {
  const f = await fixture();
  const raw = extraLayer ? [...f.layers, extraLayer] : f.layers;
  const blobs = await Promise.all(raw.map((l) => compress(l, 'gzip')));
  const diffIds = raw.map((l) => sha256(l));
  const config = source.add(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }),
  );
  const layers = blobs.map((b) => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    ...source.add(b),
  }));
  const manifest = source.add(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers,
    }),
  );
  return {
    names,
    manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest },
    config,
    layers,
  };
}

async function save(images: ExportImage[], source: MemorySource): Promise<Buffer> {
  const out = new PassThrough();
  const [, buf] = await Promise.all([
    writeImageArchive(images, source, out, { signal: signal() }),
    collect(out),
  ]);
  return buf;
}

async function entries(buf: Buffer): Promise<Map<string, Buffer>> {
  const ex = tar.extract();
  const map = new Map<string, Buffer>();
  const feeding = pipeline(Readable.from([buf]), ex);
  for await (const e of ex) map.set(e.header.name, await collect(e as unknown as Readable));
  await feeding;
  return map;
}

describe('writeImageArchive', () => {
  it('writes dockerd 25 layout: OCI blobs, index.json annotations, manifest.json, repositories', async () => {
    const source = new MemorySource();
    const img = await gzImage(source, ['docker.io/library/busybox:latest', 'docker.io/library/busybox:1.36']);
    const files = await entries(await save([img], source));
    assert.deepEqual([...files.keys()].slice(0, 2), ['blobs/', 'blobs/sha256/']);
    assert.deepEqual([...files.keys()].slice(-4), [
      'index.json',
      'manifest.json',
      'oci-layout',
      'repositories',
    ]);
    const manifestJson = JSON.parse(files.get('manifest.json')!.toString());
    assert.deepEqual(manifestJson, [
      {
        Config: `blobs/sha256/${hex(img.config.digest)}`,
        RepoTags: ['busybox:latest', 'busybox:1.36'],
        Layers: img.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
      },
    ]);
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.manifests[0].annotations, {
      'io.containerd.image.name': 'docker.io/library/busybox:latest',
      'org.opencontainers.image.ref.name': 'latest',
    });
    assert.deepEqual(index.manifests[0].platform, { architecture: 'amd64', os: 'linux' });
    const f = await fixture();
    assert.deepEqual(JSON.parse(files.get('repositories')!.toString()), {
      busybox: { '1.36': hex(f.diffIds[1]!), latest: hex(f.diffIds[1]!) },
    });
    assert.equal(files.get('oci-layout')!.toString(), '{"imageLayoutVersion":"1.0.0"}');
    for (const [digest, data] of source.blobs)
      assert.ok(files.get(`blobs/sha256/${hex(digest)}`)?.equals(data));
  });

  it('round-trips through readImageArchive keeping digests and tags; shared blobs written once', async () => {
    const source = new MemorySource();
    const a = await gzImage(source, ['docker.io/library/busybox:latest']);
    const b = await gzImage(
      source,
      ['registry.example:5000/team/app:v1'],
      Buffer.from(''.padEnd(1024, '\0')),
    );
    const buf = await save([a, b], source);
    const names = [...(await entries(buf)).keys()];
    assert.equal(names.length, new Set(names).size, 'no duplicate entries');
    const archive = await readImageArchive(Readable.from([buf]), new MemorySink(), { signal: signal() });
    assert.equal(archive.images.length, 2);
    const byTag = new Map(archive.images.map((i) => [i.repoTags[0], i]));
    for (const img of [a, b]) {
      const got = byTag.get(img.names[0])!;
      assert.ok(got, `image ${img.names[0]} read back`);
      assert.equal(got.configDigest, img.config.digest);
      assert.equal(got.manifest?.digest, img.manifest.digest);
      assert.deepEqual(
        got.layers.map((l) => [l.digest, l.mediaType]),
        img.layers.map((l) => [l.digest, l.mediaType]),
      );
    }
  });

  it('is deterministic and a valid tar for the host tar(1)', async () => {
    const source = new MemorySource();
    const img = await gzImage(source, ['docker.io/library/busybox:latest']);
    const one = await save([img], source);
    assert.ok(one.equals(await save([img], source)));
    const dir = await mkdtemp(join(tmpdir(), 'ckptd-archive-'));
    try {
      await writeFile(join(dir, 'out.tar'), one);
      const { stdout } = await run('tar', ['-tvf', join(dir, 'out.tar')]);
      assert.match(stdout, /manifest\.json/);
      assert.match(stdout, new RegExp(`blobs/sha256/${hex(img.layers[0]!.digest)}`));
      assert.match(stdout, /1970-01-01/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('honours backpressure: a slow consumer keeps the source from being read ahead', async () => {
    const total = 16 * 1024 * 1024;
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    const digest = `sha256:${'1'.repeat(64)}`;
    const source = {
      async open() {
        return new Readable({
          highWaterMark: 64 * 1024,
          read() {
            if (produced >= total) return void this.push(null);
            const n = Math.min(64 * 1024, total - produced);
            produced += n;
            this.push(Buffer.alloc(n));
          },
        });
      },
      async readJson() {
        return { os: 'linux', architecture: 'amd64', rootfs: { diff_ids: [digest] } };
      },
    };
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _e, cb) {
        consumed += chunk.length;
        maxAhead = Math.max(maxAhead, produced - consumed);
        setImmediate(cb);
      },
    });
    const img: ExportImage = {
      names: ['docker.io/library/big:1'],
      manifest: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${'2'.repeat(64)}`,
        size: 0,
      },
      config: { digest: `sha256:${'3'.repeat(64)}`, size: 0 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: total }],
    };
    // manifest/config blobs are empty here; only the big layer matters
    const open = source.open;
    const sizedSource = {
      ...source,
      open: async (d: string) => (d === digest ? open() : Readable.from([])),
    };
    await writeImageArchive([img], sizedSource, out, { signal: signal() });
    assert.equal(produced, total);
    assert.ok(consumed > total, 'the consumer received the whole layer');
    assert.ok(maxAhead < 1024 * 1024, `source ran ${maxAhead} bytes ahead of the consumer`);
  });

  it('abort mid-write destroys the source stream and rejects with CancelledError', async () => {
    const source = new MemorySource();
    const big = source.add(Buffer.alloc(4 * 1024 * 1024, 1));
    const img: ExportImage = {
      names: ['docker.io/library/big:1'],
      manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...source.add('{}') },
      config: source.add('{"os":"linux","architecture":"amd64","rootfs":{"diff_ids":[]}}'),
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...big }],
    };
    const ac = new AbortController();
    let seen = 0;
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _e, cb) {
        seen += chunk.length;
        if (seen > 512 * 1024) ac.abort();
        setImmediate(cb);
      },
    });
    await assert.rejects(writeImageArchive([img], source, out, { signal: ac.signal }), CancelledError);
    assert.ok(source.opened.length > 0);
    assert.ok(
      source.opened.every((s) => s.destroyed),
      'every opened source stream is destroyed',
    );
  });
});
