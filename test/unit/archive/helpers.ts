/**
 * Test helpers for src/archive: in-memory BlobSink/BlobSource (small blobs only: tests) and
 * fixture builders for a tiny two-layer image.
 */
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

import { compressStream, type CompressionKind } from '../../../src/archive/compression.js';
import type { BlobSink, BlobWriteOptions, StoredBlob } from '../../../src/archive/image-archive-reader.js';
import type { BlobSource } from '../../../src/archive/image-archive-writer.js';

export const sha256 = (b: Buffer | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const hex = (digest: string): string => digest.split(':')[1]!;

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** MemorySink stores entries in memory and verifies expected digests, like a content store. */
export class MemorySink implements BlobSink {
  readonly stored = new Map<string, Buffer>();
  readonly calls: string[] = [];
  async write(path: string, stream: Readable, opts: BlobWriteOptions): Promise<StoredBlob> {
    this.calls.push(path);
    const data = await collect(stream);
    const digest = sha256(data);
    if (opts.expectedDigest && opts.expectedDigest !== digest) {
      throw new Error(`unexpected digest for ${path}: ${digest}`);
    }
    this.stored.set(path, data);
    return { digest, size: data.length };
  }
}

/** MemorySource serves blobs from memory in small chunks, recording opened/destroyed streams. */
export class MemorySource implements BlobSource {
  readonly blobs = new Map<string, Buffer>();
  readonly opened: Readable[] = [];
  add(data: Buffer | string): { digest: string; size: number } {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const digest = sha256(buf);
    this.blobs.set(digest, buf);
    return { digest, size: buf.length };
  }
  async open(digest: string): Promise<Readable> {
    const buf = this.blobs.get(digest);
    if (!buf) throw new Error(`no blob ${digest}`);
    let off = 0;
    const r = new Readable({
      highWaterMark: 16 * 1024,
      read() {
        if (off >= buf.length) return void this.push(null);
        const end = Math.min(off + 16 * 1024, buf.length);
        this.push(buf.subarray(off, end));
        off = end;
      },
    });
    this.opened.push(r);
    return r;
  }
  async readJson(digest: string): Promise<unknown> {
    return JSON.parse(this.blobs.get(digest)!.toString());
  }
}

export interface TarEntry {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
  linkname?: string;
  size?: number;
}

export async function makeTar(entries: TarEntry[], truncateTo?: number): Promise<Buffer> {
  const pack = tar.pack();
  const out = collect(pack as unknown as Readable);
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') {
      const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? '');
      pack.entry({ name: e.name, mode: 0o644, mtime: new Date(0) }, data);
    } else {
      pack.entry({
        name: e.name,
        type,
        mtime: new Date(0),
        ...(e.linkname ? { linkname: e.linkname } : {}),
        ...(type === 'character-device' ? { devmajor: 1, devminor: 3 } : {}),
      });
    }
  }
  pack.finalize();
  const buf = await out;
  return truncateTo === undefined ? buf : buf.subarray(0, truncateTo);
}

export async function compress(buf: Buffer, kind: CompressionKind): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from([buf]),
    compressStream(kind),
    new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

/** Fixture is a tiny two-layer image in every form the tests need. */
export interface Fixture {
  layers: Buffer[]; // uncompressed layer tars
  diffIds: string[];
  config: Buffer;
  configDigest: string;
}

export async function fixture(): Promise<Fixture> {
  const l1 = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hostname', data: 'box\n' },
    { name: 'bin/sh', data: Buffer.alloc(70_000, 7) },
  ]);
  const l2 = await makeTar([{ name: 'etc/motd', data: 'hello from layer two\n' }]);
  const diffIds = [sha256(l1), sha256(l2)];
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [{ created_by: 'a' }, { created_by: 'b' }],
    }),
  );
  return { layers: [l1, l2], diffIds, config, configDigest: sha256(config) };
}

/** dockerSaveLegacy lays the fixture out as docker 20.10 `docker save` did. */
export function dockerSaveLegacy(
  f: Fixture,
  opts: { manifestFirst?: boolean; layerPaths?: string[]; repoTags?: string[] } = {},
): TarEntry[] {
  const ids = ['a'.repeat(64), 'b'.repeat(64)];
  const manifest: TarEntry = {
    name: 'manifest.json',
    data: JSON.stringify([
      {
        Config: `${hex(f.configDigest)}.json`,
        RepoTags: opts.repoTags ?? ['busybox:latest'],
        Layers: opts.layerPaths ?? ids.map((id) => `${id}/layer.tar`),
      },
    ]),
  };
  const body: TarEntry[] = [];
  ids.forEach((id, i) => {
    body.push({ name: `${id}/`, type: 'directory' });
    body.push({ name: `${id}/VERSION`, data: '1.0' });
    body.push({ name: `${id}/json`, data: JSON.stringify({ id }) });
    body.push({ name: `${id}/layer.tar`, data: f.layers[i]! });
  });
  body.push({ name: `${hex(f.configDigest)}.json`, data: f.config });
  body.push({ name: 'repositories', data: JSON.stringify({ busybox: { latest: ids[1] } }) });
  return opts.manifestFirst ? [manifest, ...body] : [...body, manifest];
}

/** ociLayout lays the fixture out as an OCI image layout with compressed layers. */
export async function ociLayout(
  f: Fixture,
  kind: CompressionKind = 'gzip',
  name = 'docker.io/library/busybox:latest',
): Promise<{ entries: TarEntry[]; manifestDigest: string; layerBlobs: Buffer[] }> {
  const layerBlobs = await Promise.all(f.layers.map((l) => compress(l, kind)));
  const layerMt =
    kind === 'zstd'
      ? 'application/vnd.oci.image.layer.v1.tar+zstd'
      : 'application/vnd.oci.image.layer.v1.tar+gzip';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: f.configDigest,
        size: f.config.length,
      },
      layers: layerBlobs.map((b) => ({ mediaType: layerMt, digest: sha256(b), size: b.length })),
    }),
  );
  const manifestDigest = sha256(manifest);
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: manifest.length,
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': 'latest' },
      },
    ],
  });
  const entries: TarEntry[] = [
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: index },
    { name: 'blobs/', type: 'directory' },
    { name: 'blobs/sha256/', type: 'directory' },
    { name: `blobs/sha256/${hex(manifestDigest)}`, data: manifest },
    { name: `blobs/sha256/${hex(f.configDigest)}`, data: f.config },
    ...layerBlobs.map((b) => ({ name: `blobs/sha256/${hex(sha256(b))}`, data: b })),
  ];
  return { entries, manifestDigest, layerBlobs };
}

export const signal = (): AbortSignal => new AbortController().signal;
