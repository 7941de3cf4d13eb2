import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';

import {
  localImageArchive,
  planImageArchive,
  writeImageArchive,
} from '../../../src/archive/image-archive-writer.js';
import { openLocalBlob } from '../../../src/engine/archive.js';

describe('docker save from a local content store (openLocalBlob, localImageArchive)', () => {
  let dir: string;
  let blobs: string;
  const data = Buffer.alloc(3 * (1 << 20) + 123, 7);
  const hex = createHash('sha256').update(data).digest('hex');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckptd-localblob-'));
    blobs = join(dir, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    await writeFile(join(blobs, hex), data);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a committed blob in 1 MiB chunks', async () => {
    const r = await openLocalBlob(dir, `sha256:${hex}`);
    assert.ok(r);
    const chunks: Buffer[] = [];
    for await (const c of r as AsyncIterable<Buffer>) chunks.push(c);
    assert.equal(chunks[0]!.length, 1 << 20);
    assert.ok(Buffer.concat(chunks).equals(data));
  });

  it('falls back (undefined) for a missing blob, a non-sha256 or malformed digest', async () => {
    assert.equal(await openLocalBlob(dir, `sha256:${'0'.repeat(64)}`), undefined);
    assert.equal(await openLocalBlob(dir, `sha512:${'0'.repeat(128)}`), undefined);
    assert.equal(await openLocalBlob(dir, `sha256:../../${hex}`), undefined);
    assert.equal(await openLocalBlob(join(dir, 'nope'), `sha256:${hex}`), undefined);
  });

  it('does not follow a symlink or read a directory in place of a blob', async () => {
    const linked = 'a'.repeat(64);
    await symlink(join(blobs, hex), join(blobs, linked));
    assert.equal(await openLocalBlob(dir, `sha256:${linked}`), undefined);
    const d = 'b'.repeat(64);
    await mkdir(join(blobs, d));
    assert.equal(await openLocalBlob(dir, `sha256:${d}`), undefined);
  });

  it('destroying the stream early closes the file', async () => {
    const r = await openLocalBlob(dir, `sha256:${hex}`);
    assert.ok(r);
    await new Promise<void>((resolve) => {
      r.once('close', () => resolve());
      r.destroy();
    });
    assert.ok(r.destroyed);
  });

  it('feeds writeImageArchive, and GNU tar writes the same archive from the store', async () => {
    const put = async (b: Buffer): Promise<{ digest: string; size: number }> => {
      const h = createHash('sha256').update(b).digest('hex');
      await writeFile(join(blobs, h), b);
      return { digest: `sha256:${h}`, size: b.length };
    };
    const config = await put(Buffer.from('{"os":"linux","architecture":"amd64","rootfs":{"diff_ids":[]}}'));
    const manifest = await put(Buffer.from('{}'));
    const chunks: Buffer[] = [];
    const out = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
    });
    const source = {
      open: async (d: string) => (await openLocalBlob(dir, d))!,
      readJson: async (d: string) => JSON.parse(await readFile(join(blobs, d.slice(7)), 'utf8')) as unknown,
    };
    const img = {
      names: ['docker.io/library/local:1'],
      manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest },
      config,
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${hex}`, size: data.length },
      ],
    };
    await writeImageArchive([img], source, out, { signal: new AbortController().signal });
    const files = await entriesOf(Buffer.concat(chunks));
    assert.ok(files.get(`blobs/sha256/${hex}`)?.data.equals(data));

    // the same archive by GNU tar straight from the store: same entries, modes, owners, bytes
    const layout = await planImageArchive([img], source, new AbortController().signal);
    const local = await localImageArchive(dir, layout);
    assert.ok(local);
    const byTar = await entriesOf(await collect(local.source.open()));
    await local.cleanup();
    assert.deepEqual([...byTar.keys()], [...files.keys()]);
    for (const [name, e] of files) {
      const t = byTar.get(name)!;
      assert.deepEqual(
        { type: t.type, mode: t.mode, uid: t.uid, gid: t.gid, mtime: t.mtime },
        { type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime },
        name,
      );
      assert.ok(t.data.equals(e.data), name);
    }

    // a blob of another size (or missing) is not served from the store
    const short = { ...img, layers: [{ ...img.layers[0]!, size: data.length + 1 }] };
    assert.equal(
      await localImageArchive(dir, await planImageArchive([short], source, new AbortController().signal)),
      undefined,
    );
    const missing = { ...img, layers: [{ ...img.layers[0]!, digest: `sha256:${'c'.repeat(64)}` }] };
    assert.equal(
      await localImageArchive(dir, await planImageArchive([missing], source, new AbortController().signal)),
      undefined,
    );
  });
});

interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  data: Buffer;
}

async function entriesOf(archive: Buffer): Promise<Map<string, Entry>> {
  const extract = tar.extract();
  const files = new Map<string, Entry>();
  extract.on('entry', (h, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: unknown) => parts.push(c as Buffer));
    stream.on('end', () => {
      files.set(h.name, {
        type: h.type ?? 'file',
        mode: h.mode ?? 0,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        mtime: h.mtime?.getTime() ?? 0,
        data: Buffer.concat(parts),
      });
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve).on('error', reject);
    extract.end(archive);
  });
  return files;
}

async function collect(r: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
