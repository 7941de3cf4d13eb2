/**
 * Loading images (`docker load`) and writing image content (commit): blobs stream into the
 * content store under one lease, manifests are synthesized for docker-save archives, GC labels
 * set, layers unpacked, and only then are the records named.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readImageArchive, type ArchiveImage, type BlobSink } from '../../archive/image-archive-reader.js';
import type { CallContext } from '../../containerd/index.js';
import { wrapError } from '../../errors/index.js';
import { checkpointImageInfo } from '../../oci/checkpoint-image.js';
import { sha256Hex } from '../../oci/digest.js';
import { parseManifest, type ImageManifest } from '../../oci/image-config.js';
import {
  buildManifest,
  chainIds,
  configGcLabels,
  layerLabels,
  manifestGcLabels,
} from '../../oci/manifest.js';
import { familiarName } from '../../oci/reference.js';
import type { LoadedImage } from './backend.js';
import { danglingName, type ImageStore, type ManifestDescriptor } from './store.js';
import { unpack } from './unpack.js';

/**
 * loadImage streams an image archive into containerd in one lease: blobs go to the content
 * store as they arrive (verified by the reader: digests, diffIDs), manifests are synthesized
 * for docker-save archives, GC labels are set, every layer is unpacked into the snapshotter,
 * and only then are the image records created. Any failure (or the client leaving) ends the
 * lease, so containerd's GC frees everything the load wrote; nothing is tagged.
 */
export async function loadImage(
  store: ImageStore,
  input: Readable,
  signal: AbortSignal,
): Promise<LoadedImage[]> {
  const loadId = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const loaded = await store.client.withLease(
    async (ctx) => {
      const archive = await readImageArchive(input, blobSink(store, loadId, ctx), { signal });
      const prepared: { image: ArchiveImage; target: ManifestDescriptor }[] = [];
      for (const image of archive.images) {
        prepared.push({ image, target: await storeImage(store, image, ctx) });
      }
      const out: LoadedImage[] = [];
      for (const { image, target } of prepared) {
        const names = [...image.repoTags];
        if (names.length === 0 && (await store.recordsTargeting(target.digest, ctx)).length === 0) {
          names.push(danglingName(target.digest));
        }
        for (const name of names) await store.setName(name, target, image.configDigest, ctx);
        out.push({ id: image.configDigest, repoTags: image.repoTags.map(familiarName) });
      }
      return out;
    },
    { ctx: { signal } },
  );
  for (const img of loaded) {
    const name = img.repoTags[0] ?? img.id;
    store.events?.publish('image', 'load', img.id, { name });
  }
  return loaded;
}

export function blobSink(store: ImageStore, loadId: string, ctx: CallContext): BlobSink {
  return {
    write: async (path, stream, opts) => {
      const ref = `load-${loadId}-${opts.expectedDigest ?? sha256Hex(path).slice(0, 32)}`;
      const writer = store.client.content.writer(
        ref,
        { total: opts.size, ...(opts.expectedDigest ? { expected: opts.expectedDigest } : {}) },
        { ...ctx, signal: opts.signal },
      );
      try {
        await pipeline(stream, writer, { signal: opts.signal });
        const digest = await writer.commit(opts.size, opts.expectedDigest);
        return { digest, size: writer.exists ? opts.size : writer.written };
      } catch (err) {
        writer.destroy(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
    },
  };
}

/** storeImage writes/labels the manifest, labels config and layers, unpacks; returns the manifest descriptor. */
export async function storeImage(
  store: ImageStore,
  image: ArchiveImage,
  ctx: CallContext,
): Promise<ManifestDescriptor> {
  const config = { mediaType: image.configMediaType, digest: image.configDigest, size: image.configSize };
  let target: ManifestDescriptor;
  let manifest: ImageManifest;
  if (image.manifest) {
    target = image.manifest;
    manifest = parseManifest(await store.client.content.readBlob(target.digest, 20 << 20, ctx));
  } else {
    const built = buildManifest(config, image.layers);
    target = built.descriptor;
    manifest = built.manifest;
    const w = store.client.content.writer(
      `load-manifest-${built.descriptor.digest}-${randomBytes(4).toString('hex')}`,
      { total: built.bytes.length, expected: built.descriptor.digest },
      ctx,
    );
    try {
      w.end(built.bytes);
      await w.commit(built.bytes.length, built.descriptor.digest);
    } catch (err) {
      w.destroy();
      throw wrapError('writing the image manifest', err);
    }
  }
  const diffIds = image.layers.map((l) => l.diffId);
  // a checkpoint image's layer is never a rootfs (a create from it restores the checkpoint
  // instead): unpacking it would only write the CRIU images a second time
  const chain = checkpointImageInfo(manifest) ? [] : chainIds(diffIds);
  if (chain.length > 0) await unpack(store, manifest, diffIds, ctx);
  // Labels last: the snapshot chain they name now exists.
  for (const layer of image.layers) await store.labelContent(layer.digest, layerLabels(layer.diffId), ctx);
  const top = chain[chain.length - 1];
  if (top) await store.labelContent(image.configDigest, configGcLabels(store.snapshotter, top), ctx);
  await store.labelContent(target.digest, manifestGcLabels(manifest), ctx);
  return target;
}

/**
 * writeImageBlob stores a small blob (an image config or manifest) under ctx's lease, with
 * `labels` (GC references). A blob already present counts as written; its labels are set.
 */
export async function writeImageBlob(
  store: ImageStore,
  bytes: Buffer,
  digest: string,
  labels: Record<string, string>,
  ctx: CallContext,
): Promise<void> {
  const w = store.client.content.writer(
    `blob-${digest}-${randomBytes(4).toString('hex')}`,
    { total: bytes.length, expected: digest, labels },
    ctx,
  );
  try {
    w.end(bytes);
    await w.commit(bytes.length, digest, labels);
  } catch (err) {
    w.destroy();
    throw wrapError('writing image content', err);
  }
  if (w.exists && Object.keys(labels).length > 0) await store.labelContent(digest, labels, ctx);
}
