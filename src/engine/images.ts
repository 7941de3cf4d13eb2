/**
 * ImageService: Docker's image operations over containerd's image, content, snapshot and diff
 * services (moby `daemon/containerd/image_*.go` and containerd's importer/unpacker, trimmed
 * to what ckptd needs). Images are containerd image records named with full references
 * (`docker.io/library/busybox:latest`) targeting a manifest; an untagged image keeps a record
 * named `moby-dangling@<manifest digest>` (moby's containerd store convention) so containerd's
 * GC does not collect it. The image ID is the config digest, as in Docker's classic store.
 */
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { readImageArchive, type ArchiveImage, type BlobSink } from '../archive/image-archive-reader.js';
import type { CallContext, ContainerdClient, Image } from '../containerd/index.js';
import { timestampToNanos } from '../containerd/index.js';
import {
  AlreadyExistsError,
  ConflictError,
  EngineError,
  InternalError,
  InvalidArgumentError,
  isEngineError,
  NotFoundError,
  wrapError,
} from '../errors/index.js';
import { parseUntil, prunable, type Filters } from '../oci/filters.js';
import { sha256Hex, shortId } from '../oci/digest.js';
import {
  parseImageConfig,
  parseIndex,
  parseManifest,
  type ImageConfig,
  type ImageManifest,
} from '../oci/image-config.js';
import { imageLayerSizes, tarApparentSize } from './layer-sizes.js';
import { DANGLING_IMAGE_PREFIX, LABEL_IMAGE_REF, LABEL_SNAPSHOT_REF } from '../oci/labels.js';
import { checkpointImageInfo } from '../oci/checkpoint-image.js';
import { buildManifest, chainIds, configGcLabels, layerLabels, manifestGcLabels } from '../oci/manifest.js';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import {
  familiarName,
  normalizeName,
  parseAnyReference,
  parseReference,
  truncatedIdHex,
  withTag,
} from '../oci/reference.js';
import {
  IMAGE_LIST_FILTERS,
  createdSeconds,
  danglingFilter,
  selectImages,
  toHistory,
  toInspect,
  type HistoryItem,
  type ImageFacts,
  type ImageInspect,
  type ImageSummary,
  type ListPlan,
} from './image-views.js';

import type {
  DeleteItem,
  ImagesBackend,
  ImagesPruneReport,
  ListImagesOptions,
  LoadedImage,
  RemoveImageOptions,
} from './images-backend.js';

export type * from './images-backend.js';

/** ImageEvents is the part of the EventsService the ImageService uses. */
export interface ImageEvents {
  publish(type: string, action: string, id: string, attributes?: Record<string, string>): void;
  /** muteImageEcho drops the hub's translation of containerd's own /images/* event for `name`. */
  muteImageEcho?(name: string): void;
}

/** UnpackHooks let a caller follow (and pace) the unpacking of each layer. */
export interface UnpackHooks {
  before?(index: number): Promise<void>;
  after?(index: number): void;
  skipped?(index: number): Promise<void>;
}

/** ImageServiceOptions wire an ImageService. */
export interface ImageServiceOptions {
  client: ContainerdClient;
  snapshotter: string;
  logger: Logger;
  events?: ImageEvents;
}

/** ManifestDescriptor is the manifest an image record (or a resolved image) points at. */
export interface ManifestDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * ResolvedImage is an image found by resolveImage: everything a container needs to be created
 * from it.
 */
export interface ResolvedImage {
  /** id is the config digest (`sha256:...`), Docker's image ID. */
  id: string;
  /** name is the full reference the lookup matched, or the image's first name, or '' when untagged. */
  name: string;
  /** names are all full references of the image (dangling records excluded). */
  names: string[];
  /** target is the manifest descriptor. */
  target: ManifestDescriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  diffIds: string[];
  /** chainIds are the committed snapshot names of each layer prefix; chainId is the top one ('' without layers). */
  chainIds: string[];
  chainId: string;
}

interface Entry {
  id: string;
  records: Image[];
  names: string[];
  target: ManifestDescriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  manifestDigests: string[];
}

/** UNCOMPRESSED_LAYERS are the layer media types whose blob is the tar itself. */
const UNCOMPRESSED_LAYERS = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.docker.image.rootfs.diff.tar',
]);

/** TAR_MEASURE_MAX bounds the blobs read to measure a layer that is not unpacked (64 MiB). */
const TAR_MEASURE_MAX = 64 << 20;

const CACHE_MAX = 512;
const CLEANUP_DEADLINE_MS = 10_000;

/** isDanglingName tells the record name of an untagged image. */
export function isDanglingName(name: string): boolean {
  return name.startsWith(DANGLING_IMAGE_PREFIX);
}

/** danglingName is the record name that keeps an untagged image (moby's containerd store). */
export function danglingName(manifestDigest: string): string {
  return `${DANGLING_IMAGE_PREFIX}${manifestDigest}`;
}

function hostArchitecture(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return 'ppc64le';
    default:
      return process.arch;
  }
}

function noSuchImage(name: string): NotFoundError {
  return new NotFoundError(`No such image: ${name}`);
}

function rfc3339Nano(nanos: bigint): string {
  if (nanos <= 0n) return '';
  const secs = nanos / 1_000_000_000n;
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** ImageService implements ImagesBackend and the image lookups the containers engine needs. */
export class ImageService implements ImagesBackend {
  readonly #client: ContainerdClient;
  readonly #snapshotter: string;
  readonly #logger: Logger;
  readonly #events: ImageEvents | undefined;
  /** Parsed immutable content (manifests, configs) by digest; a small LRU. */
  readonly #blobs = new Map<string, unknown>();
  /** Unpacked size of committed snapshots by chainID (committed snapshots never change). */
  readonly #usage = new Map<string, number>();

  constructor(o: ImageServiceOptions) {
    this.#client = o.client;
    this.#snapshotter = o.snapshotter;
    this.#logger = o.logger;
    this.#events = o.events;
  }

  // ---------------------------------------------------------------- load

  /**
   * loadImage streams an image archive into containerd in one lease: blobs go to the content
   * store as they arrive (verified by the reader: digests, diffIDs), manifests are synthesized
   * for docker-save archives, GC labels are set, every layer is unpacked into the snapshotter,
   * and only then are the image records created. Any failure (or the client leaving) ends the
   * lease, so containerd's GC frees everything the load wrote; nothing is tagged.
   */
  async loadImage(input: Readable, signal: AbortSignal): Promise<LoadedImage[]> {
    const loadId = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const loaded = await this.#client.withLease(
      async (ctx) => {
        const archive = await readImageArchive(input, this.#blobSink(loadId, ctx), { signal });
        const prepared: { image: ArchiveImage; target: ManifestDescriptor }[] = [];
        for (const image of archive.images) {
          prepared.push({ image, target: await this.#storeImage(image, ctx) });
        }
        const out: LoadedImage[] = [];
        for (const { image, target } of prepared) {
          const names = [...image.repoTags];
          if (names.length === 0 && (await this.#recordsTargeting(target.digest, ctx)).length === 0) {
            names.push(danglingName(target.digest));
          }
          for (const name of names) await this.#setName(name, target, image.configDigest, ctx);
          out.push({ id: image.configDigest, repoTags: image.repoTags.map(familiarName) });
        }
        return out;
      },
      { ctx: { signal } },
    );
    for (const img of loaded) {
      const name = img.repoTags[0] ?? img.id;
      this.#events?.publish('image', 'load', img.id, { name });
    }
    return loaded;
  }

  #blobSink(loadId: string, ctx: CallContext): BlobSink {
    return {
      write: async (path, stream, opts) => {
        const ref = `load-${loadId}-${opts.expectedDigest ?? sha256Hex(path).slice(0, 32)}`;
        const writer = this.#client.content.writer(
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

  /** #storeImage writes/labels the manifest, labels config and layers, unpacks; returns the manifest descriptor. */
  async #storeImage(image: ArchiveImage, ctx: CallContext): Promise<ManifestDescriptor> {
    const config = { mediaType: image.configMediaType, digest: image.configDigest, size: image.configSize };
    let target: ManifestDescriptor;
    let manifest: ImageManifest;
    if (image.manifest) {
      target = image.manifest;
      manifest = parseManifest(await this.#client.content.readBlob(target.digest, 20 << 20, ctx));
    } else {
      const built = buildManifest(config, image.layers);
      target = built.descriptor;
      manifest = built.manifest;
      const w = this.#client.content.writer(
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
    if (chain.length > 0) await this.#unpack(manifest, diffIds, ctx);
    // Labels last: the snapshot chain they name now exists.
    for (const layer of image.layers) await this.#labelContent(layer.digest, layerLabels(layer.diffId), ctx);
    const top = chain[chain.length - 1];
    if (top) await this.#labelContent(image.configDigest, configGcLabels(this.#snapshotter, top), ctx);
    await this.#labelContent(target.digest, manifestGcLabels(manifest), ctx);
    return target;
  }

  async #labelContent(digest: string, labels: Record<string, string>, ctx: CallContext): Promise<void> {
    const paths = Object.keys(labels).map((k) => `labels.${k}`);
    await this.#client.content.update({ digest, labels }, paths, ctx);
  }

  /**
   * #unpack makes sure every layer prefix of an image is a committed snapshot named by its
   * chainID (containerd's unpacker): present ones are skipped; a missing one is prepared on its
   * parent, the layer applied by the differ (which checks nothing itself, so the applied
   * digest is compared with the diffID), and committed. AlreadyExists means another unpack won
   * the race: done. A prepared snapshot is removed when anything fails.
   */
  async #unpack(
    manifest: ImageManifest,
    diffIds: string[],
    ctx: CallContext,
    hooks: UnpackHooks = {},
  ): Promise<string> {
    const sn = this.#client.snapshots(this.#snapshotter);
    const chain = chainIds(diffIds);
    if (manifest.layers.length !== diffIds.length) {
      throw new InvalidArgumentError(
        `invalid image: manifest has ${manifest.layers.length} layers, config has ${diffIds.length} diff IDs`,
      );
    }
    for (let i = 0; i < chain.length; i++) {
      const chainId = chain[i]!;
      try {
        await sn.stat(chainId, ctx);
        await hooks.skipped?.(i);
        continue;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
      await hooks.before?.(i);
      const parent = i === 0 ? '' : chain[i - 1]!;
      const key = `extract-${randomBytes(6).toString('hex')}-${chainId}`;
      const labels = { [LABEL_SNAPSHOT_REF]: chainId };
      let mounts;
      try {
        mounts = await sn.prepare(key, parent, labels, ctx);
      } catch (err) {
        if (err instanceof AlreadyExistsError) continue;
        throw wrapError(`unpacking layer ${i}`, err);
      }
      try {
        const layer = manifest.layers[i]!;
        const applied = await this.#client.diff.apply(
          { media_type: layer.mediaType, digest: layer.digest, size: layer.size },
          mounts,
          {},
          ctx,
        );
        if (applied.digest !== diffIds[i]) {
          throw new InvalidArgumentError(
            `invalid diffID for layer ${i}: expected ${JSON.stringify(diffIds[i])}, got ${JSON.stringify(applied.digest)}`,
          );
        }
        try {
          await sn.commit(chainId, key, labels, ctx);
        } catch (err) {
          if (!(err instanceof AlreadyExistsError)) throw err;
          await this.#removeSnapshot(key, ctx);
        }
        hooks.after?.(i);
      } catch (err) {
        await this.#removeSnapshot(key, ctx);
        throw wrapError(`unpacking layer ${i}`, err);
      }
    }
    return chain[chain.length - 1] ?? '';
  }

  async #removeSnapshot(key: string, ctx: CallContext): Promise<void> {
    try {
      const c: CallContext = { deadlineMs: CLEANUP_DEADLINE_MS };
      if (ctx.namespace !== undefined) c.namespace = ctx.namespace;
      if (ctx.lease !== undefined) c.lease = ctx.lease;
      await this.#client.snapshots(this.#snapshotter).remove(key, c);
    } catch (err) {
      if (!(err instanceof NotFoundError)) {
        this.#logger.warn({ err, key }, 'removing a prepared snapshot failed; the lease frees it');
      }
    }
  }

  // ---------------------------------------------------------------- pull support (issue 13)

  /**
   * unpackLayers unpacks an image's layers in order under ctx's lease (see #unpack), calling
   * `hooks.before(i)` before layer i is applied (a pull waits there for the layer's download),
   * `hooks.after(i)` once it is committed and `hooks.skipped(i)` when its snapshot was already
   * there; then labels each layer blob with its diffID and the config with the snapshot chain,
   * as the load path does. Returns the top chainID.
   */
  async unpackLayers(
    manifest: ImageManifest,
    diffIds: string[],
    ctx: CallContext,
    hooks: UnpackHooks = {},
  ): Promise<string> {
    // a checkpoint image's layer is never a rootfs (as in load): no snapshot, no chain top
    if (checkpointImageInfo(manifest)) {
      for (const [i, layer] of manifest.layers.entries()) {
        await hooks.skipped?.(i);
        await this.#labelContent(layer.digest, layerLabels(diffIds[i]!), ctx);
      }
      return '';
    }
    const top = await this.#unpack(manifest, diffIds, ctx, hooks);
    for (const [i, layer] of manifest.layers.entries()) {
      await this.#labelContent(layer.digest, layerLabels(diffIds[i]!), ctx);
    }
    return top;
  }

  /** labelContent sets labels on a blob (`labels.<key>` paths), under ctx. */
  async labelContent(digest: string, labels: Record<string, string>, ctx: CallContext): Promise<void> {
    await this.#labelContent(digest, labels, ctx);
  }

  /** snapshotter is the snapshotter image layers are unpacked into. */
  get snapshotter(): string {
    return this.#snapshotter;
  }

  // ---------------------------------------------------------------- commit support (issue 4)

  /**
   * writeImageBlob stores a small blob (an image config or manifest) under ctx's lease, with
   * `labels` (GC references). A blob already present counts as written; its labels are set.
   */
  async writeImageBlob(
    bytes: Buffer,
    digest: string,
    labels: Record<string, string>,
    ctx: CallContext,
  ): Promise<void> {
    const w = this.#client.content.writer(
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
    if (w.exists && Object.keys(labels).length > 0) await this.#labelContent(digest, labels, ctx);
  }

  /**
   * nameImage gives the image whose manifest is `target` the full reference `name` (created or
   * moved, as tagImage does), or, without a name, keeps it as a dangling record unless another
   * record already targets it.
   */
  async nameImage(
    name: string | undefined,
    target: ManifestDescriptor,
    imageId: string,
    ctx: CallContext,
  ): Promise<void> {
    if (name !== undefined) {
      await this.#setName(name, target, imageId, ctx);
      return;
    }
    if ((await this.#recordsTargeting(target.digest, ctx)).length > 0) return;
    const dangling = danglingName(target.digest);
    this.#events?.muteImageEcho?.(dangling);
    await this.#client.images
      .create({ name: dangling, target: toProtoDesc(target), labels: {} }, ctx)
      .catch((err: unknown) => {
        if (!(err instanceof AlreadyExistsError)) throw err;
      });
  }

  // ---------------------------------------------------------------- names

  async #recordsTargeting(digest: string, ctx: CallContext): Promise<Image[]> {
    return this.#client.images.list([`target.digest==${digest}`], ctx);
  }

  /**
   * #setName points the record `name` at `target` (create or update). A name moved away from
   * another image leaves that image a dangling record if it has no name left (as moby's
   * containerd store does), and the dangling record of `target` goes once it has a real name.
   */
  async #setName(name: string, target: ManifestDescriptor, imageId: string, ctx: CallContext): Promise<void> {
    const images = this.#client.images;
    const desc = { media_type: target.mediaType, digest: target.digest, size: target.size };
    let previous: Image | undefined;
    try {
      previous = await images.get(name, ctx);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    if (previous?.target?.digest === target.digest) return;
    this.#events?.muteImageEcho?.(name);
    if (previous) await images.update({ name, target: desc }, ['target'], ctx);
    else {
      try {
        await images.create({ name, target: desc, labels: {} }, ctx);
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
        await images.update({ name, target: desc }, ['target'], ctx);
      }
    }
    if (isDanglingName(name)) return;
    this.#events?.publish('image', 'tag', imageId, { name: familiarName(name) });
    const old = previous?.target;
    if (old && (await this.#recordsTargeting(old.digest, ctx)).length === 0) {
      const dangling = danglingName(old.digest);
      this.#events?.muteImageEcho?.(dangling);
      await images.create({ name: dangling, target: old, labels: {} }, ctx).catch((err: unknown) => {
        if (!(err instanceof AlreadyExistsError)) throw err;
      });
    }
    await this.#deleteRecord(danglingName(target.digest), false, ctx);
  }

  async #deleteRecord(name: string, sync: boolean, ctx: CallContext): Promise<boolean> {
    try {
      this.#events?.muteImageEcho?.(name);
      await this.#client.images.delete(name, { sync }, ctx);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  // ---------------------------------------------------------------- lookups

  async #json<T>(digest: string, parse: (v: unknown) => T, ctx: CallContext): Promise<T> {
    const hit = this.#blobs.get(digest);
    if (hit !== undefined) {
      this.#blobs.delete(digest);
      this.#blobs.set(digest, hit);
      return hit as T;
    }
    const buf = await this.#client.content.readBlob(digest, 20 << 20, ctx);
    if (`sha256:${sha256Hex(buf)}` !== digest)
      throw new InternalError(`content ${digest} does not match its digest`);
    const value = parse(buf);
    this.#blobs.set(digest, value);
    if (this.#blobs.size > CACHE_MAX) this.#blobs.delete(this.#blobs.keys().next().value!);
    return value;
  }

  /** #manifestOf resolves a record's target to a single-platform manifest (index -> host platform). */
  async #manifestOf(
    target: ManifestDescriptor,
    ctx: CallContext,
  ): Promise<{ desc: ManifestDescriptor; manifest: ImageManifest }> {
    if (isIndexType(target.mediaType)) {
      const index = await this.#json(target.digest, parseIndex, ctx);
      const arch = hostArchitecture();
      const candidates = index.manifests.filter(
        (m) =>
          isManifestType(m.mediaType) &&
          (!m.platform || (m.platform.os === 'linux' && m.platform.architecture === arch)),
      );
      for (const m of candidates) {
        try {
          const manifest = await this.#json(m.digest, parseManifest, ctx);
          return { desc: { mediaType: m.mediaType, digest: m.digest, size: m.size }, manifest };
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
      throw new NotFoundError(
        `image index ${target.digest} has no manifest for linux/${arch} in the content store`,
      );
    }
    return { desc: target, manifest: await this.#json(target.digest, parseManifest, ctx) };
  }

  /** #entries groups every image record by image ID (config digest). Broken records are skipped. */
  async #entries(ctx: CallContext): Promise<Map<string, Entry>> {
    const records = await this.#client.images.list([], ctx);
    const byId = new Map<string, Entry>();
    await Promise.all(
      records.map(async (rec) => {
        const t = rec.target;
        if (!t) return;
        try {
          const { desc, manifest } = await this.#manifestOf(
            { mediaType: t.media_type, digest: t.digest, size: Number(t.size) },
            ctx,
          );
          const config = await this.#json(manifest.config.digest, parseImageConfig, ctx);
          const id = manifest.config.digest;
          let e = byId.get(id);
          if (!e) {
            e = { id, records: [], names: [], target: desc, manifest, config, manifestDigests: [] };
            byId.set(id, e);
          }
          e.records.push(rec);
          if (!isDanglingName(rec.name)) e.names.push(rec.name);
          if (!e.manifestDigests.includes(t.digest)) e.manifestDigests.push(t.digest);
        } catch (err) {
          if (err instanceof EngineError && err.kind === 'Cancelled') throw err;
          this.#logger.debug({ err, image: rec.name }, 'skipping an image whose content cannot be read');
        }
      }),
    );
    for (const e of byId.values()) {
      e.names.sort();
      e.records.sort((a, b) => a.name.localeCompare(b.name));
    }
    return byId;
  }

  /**
   * #find looks an image up as moby's containerd store does: a full ID (`sha256:<hex>` or 64
   * hex) matches the config digest; a reference matches a record by its normalized name
   * (`busybox` -> `docker.io/library/busybox:latest`) or, with a digest, by repository and
   * manifest digest; failing that, 4 to 63 hex digits (optionally `sha256:`) match a unique ID
   * prefix. An ambiguous prefix is `No such image`, as in moby. Returns the matched name too.
   */
  async #find(input: string, ctx: CallContext): Promise<{ entry: Entry; name: string; byName: boolean }> {
    const entries = await this.#entries(ctx);
    let any;
    try {
      any = parseAnyReference(input);
    } catch (err) {
      if (truncatedIdHex(input) === undefined) {
        if (err instanceof InvalidArgumentError) throw noSuchImage(input);
        throw err;
      }
    }
    if (any?.kind === 'digest') {
      const e = entries.get(any.digest);
      if (e) return { entry: e, name: e.names[0] ?? '', byName: false };
    } else if (any?.kind === 'named') {
      const ref = any.ref;
      if (ref.digest !== undefined) {
        for (const e of entries.values()) {
          const repoMatch = e.names.some((n) => parseReference(n).name === ref.name);
          if (repoMatch && (e.manifestDigests.includes(ref.digest) || e.id === ref.digest)) {
            return { entry: e, name: ref.toString(), byName: false };
          }
        }
      } else {
        const full = normalizeName(input);
        for (const e of entries.values()) {
          const rec = e.records.find((r) => r.name === full);
          if (rec) return { entry: await this.#entryForRecord(e, rec, ctx), name: full, byName: true };
        }
      }
    }
    const hex = truncatedIdHex(input);
    if (hex !== undefined && hex.length < 64) {
      const matches = [...entries.values()].filter((e) => e.id.slice(7).startsWith(hex));
      if (matches.length === 1)
        return { entry: matches[0]!, name: matches[0]!.names[0] ?? '', byName: false };
    }
    throw noSuchImage(input);
  }

  /** #entryForRecord narrows an entry's target to the manifest a named record points at. */
  async #entryForRecord(e: Entry, rec: Image, ctx: CallContext): Promise<Entry> {
    const t = rec.target;
    if (!t || t.digest === e.target.digest) return e;
    const { desc, manifest } = await this.#manifestOf(
      { mediaType: t.media_type, digest: t.digest, size: Number(t.size) },
      ctx,
    );
    return { ...e, target: desc, manifest };
  }

  /**
   * resolveImage finds an image by full or familiar reference, `name@sha256:...`, full ID,
   * 64-hex ID or unique ID prefix, and returns what a container needs from it (ID, names,
   * manifest, parsed config, diff IDs, chain IDs). Not found: NotFoundError `No such image: x`.
   */
  async resolveImage(nameOrId: string, signal?: AbortSignal): Promise<ResolvedImage> {
    const ctx: CallContext = signal ? { signal } : {};
    const { entry, name } = await this.#find(nameOrId, ctx);
    const diffIds = [...entry.config.rootfs.diff_ids];
    const chain = chainIds(diffIds);
    return {
      id: entry.id,
      name,
      names: [...entry.names],
      target: entry.target,
      manifest: entry.manifest,
      config: entry.config,
      diffIds,
      chainIds: chain,
      chainId: chain[chain.length - 1] ?? '',
    };
  }

  /**
   * ensureUnpacked makes sure an image's layers are committed snapshots in ckptd's snapshotter
   * (unpacking them from the content store if needed, under a lease) and returns the chainID
   * to use as the parent of a container's rootfs ('' for an image without layers). It takes
   * any `{id, config}` (a ResolvedImage of the containers engine too): the manifest is looked
   * up by ID when not given.
   */
  async ensureUnpacked(
    image: Pick<ResolvedImage, 'id' | 'config'> & Partial<Pick<ResolvedImage, 'manifest'>>,
    signal?: AbortSignal,
  ): Promise<string> {
    const ctx: CallContext = signal ? { signal } : {};
    const diffIds = [...image.config.rootfs.diff_ids];
    const top = chainIds(diffIds).at(-1);
    if (top === undefined) return '';
    try {
      await this.#client.snapshots(this.#snapshotter).stat(top, ctx);
      return top;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    const manifest = image.manifest ?? (await this.#find(image.id, ctx)).entry.manifest;
    return this.#client.withLease(
      async (lctx) => {
        const chainTop = await this.#unpack(manifest, diffIds, lctx);
        await this.#labelContent(manifest.config.digest, configGcLabels(this.#snapshotter, chainTop), lctx);
        return chainTop;
      },
      { ctx },
    );
  }

  async #facts(e: Entry, ctx: CallContext): Promise<ImageFacts> {
    const chain = chainIds(e.config.rootfs.diff_ids);
    const sn = this.#client.snapshots(this.#snapshotter);
    // dockerd's sizes (apparent, layer.DiffSize) where the layers are overlayfs directories:
    // measured through a view of the highest unpacked layer (a committed image's new layer is
    // not unpacked until a container uses it)
    for (let k = chain.length - 1; k >= 0; k--) {
      if (chain.slice(0, k + 1).every((id) => this.#usage.has(id))) break;
      const measured = await imageLayerSizes(sn, chain[k]!, k + 1, ctx);
      if (!measured) continue;
      if (this.#usage.size > 4 * CACHE_MAX) this.#usage.clear();
      measured.forEach((size, i) => this.#usage.set(chain[i]!, size));
      break;
    }
    const layerSizes = await Promise.all(
      chain.map(async (id, i) => {
        const cached = this.#usage.get(id);
        if (cached !== undefined) return cached;
        try {
          // another snapshotter than overlayfs: its usage (blocks) is the figure there is
          const u = Number((await sn.usage(id, ctx)).size);
          if (this.#usage.size > 4 * CACHE_MAX) this.#usage.clear();
          this.#usage.set(id, u);
          return u;
        } catch {
          // Not unpacked (yet): measured from an uncompressed blob; else its size is the best figure
          const layer = e.manifest.layers[i];
          if (!layer) return 0;
          if (UNCOMPRESSED_LAYERS.has(layer.mediaType) && layer.size <= TAR_MEASURE_MAX) {
            try {
              const u = await tarApparentSize(
                this.#client.content.readStream(layer.digest, {}, ctx),
                ctx.signal,
              );
              this.#usage.set(id, u);
              return u;
            } catch {
              // unreadable blob: fall through to its size
            }
          }
          return layer.size;
        }
      }),
    );
    let last = 0n;
    for (const r of e.records) {
      const t = timestampToNanos(r.updated_at);
      if (t > last) last = t;
    }
    const lastTagTime = e.names.length > 0 ? rfc3339Nano(last) : '';
    return {
      id: e.id,
      names: e.names,
      manifestDigests: e.manifestDigests,
      config: e.config,
      size: layerSizes.reduce((a, b) => a + b, 0),
      layerSizes,
      ...(lastTagTime ? { lastTagTime } : {}),
    };
  }

  // ---------------------------------------------------------------- queries

  /**
   * images lists one entry per image ID. Size is the sum of the image's unpacked layer sizes
   * (the snapshotter's usage of each committed layer snapshot; the blob size for a layer not
   * unpacked). Filters: dangling, label, label!, before, since, until, reference.
   */
  async images(opts: ListImagesOptions, signal: AbortSignal): Promise<ImageSummary[]> {
    const f = opts.filters.validateKeys(IMAGE_LIST_FILTERS);
    const ctx: CallContext = { signal };
    const plan: ListPlan = { references: f.get('reference') };
    const dangling = danglingFilter(f);
    if (dangling !== undefined) plan.dangling = dangling;
    for (const key of ['before', 'since'] as const) {
      const values = f.get(key);
      if (values.length === 0) continue;
      let bound: number | undefined;
      for (const v of values) {
        const created = createdSeconds((await this.#find(v, ctx)).entry.config);
        bound =
          bound === undefined
            ? created
            : key === 'before'
              ? Math.min(bound, created)
              : Math.max(bound, created);
      }
      if (key === 'before') plan.createdBefore = bound!;
      else plan.createdAfter = bound!;
    }
    for (const v of f.get('until')) {
      const secs = parseUntil(v);
      plan.untilSeconds = plan.untilSeconds === undefined ? secs : Math.min(plan.untilSeconds, secs);
    }
    const entries = [...(await this.#entries(ctx)).values()];
    const facts = await Promise.all(entries.map((e) => this.#facts(e, ctx)));
    return selectImages(facts, plan, f);
  }

  /** imageFacts returns what ckptd knows of every image (one per ID): for `GET /system/df`. */
  async imageFacts(signal: AbortSignal): Promise<ImageFacts[]> {
    const ctx: CallContext = { signal };
    const entries = [...(await this.#entries(ctx)).values()];
    return Promise.all(entries.map((e) => this.#facts(e, ctx)));
  }

  /** imageInspect describes one image in Docker's ImageInspect shape. */
  async imageInspect(name: string, signal: AbortSignal): Promise<ImageInspect> {
    const ctx: CallContext = { signal };
    const { entry } = await this.#find(name, ctx);
    return toInspect(await this.#facts(entry, ctx), this.#snapshotter);
  }

  /** imageHistory lists an image's history newest first. */
  async imageHistory(name: string, signal: AbortSignal): Promise<HistoryItem[]> {
    const ctx: CallContext = { signal };
    const { entry } = await this.#find(name, ctx);
    return toHistory(await this.#facts(entry, ctx));
  }

  // ---------------------------------------------------------------- changes

  /** tagImage names the image `source` `repo:tag` (tag defaults to `latest`); moves the name if taken. */
  async tagImage(source: string, repo: string, tag: string, signal: AbortSignal): Promise<void> {
    const target = withTag(repo, tag);
    const ctx: CallContext = { signal };
    const { entry } = await this.#find(source, ctx);
    await this.#setName(target, entry.target, entry.id, ctx);
  }

  /**
   * imageDelete removes an image reference, or the image, as `docker rmi` expects:
   * - by name: untags it; 409 when it is the image's last name and a container uses the image
   *   (unless force, which untags and keeps the image as dangling); the last name gone and no
   *   container using it, the image is deleted (`images.delete(sync)`, containerd's GC frees
   *   content and snapshots).
   * - by ID or digest: 409 when it has names in several repositories (unless force), when a
   *   running container uses it (never forced), or a stopped one does (unless force); then
   *   every name is untagged and the image deleted.
   */
  async imageDelete(name: string, opts: RemoveImageOptions, signal: AbortSignal): Promise<DeleteItem[]> {
    const ctx: CallContext = { signal };
    const { entry, name: matched, byName } = await this.#find(name, ctx);
    const users = await this.#containersUsing(entry, ctx);
    const out: DeleteItem[] = [];
    const short = shortId(entry.id);
    if (byName) {
      const last = entry.names.length <= 1;
      const user = users[0];
      if (last && user && !opts.force) {
        throw new ConflictError(
          `conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(user.id)} is using its referenced image ${short}`,
        );
      }
      if (!last || user) {
        if (last) {
          // Forced while in use: keep the image as dangling for its containers.
          const dangling = danglingName(entry.target.digest);
          this.#events?.muteImageEcho?.(dangling);
          await this.#client.images
            .create({ name: dangling, target: toProtoDesc(entry.target), labels: {} }, ctx)
            .catch((err: unknown) => {
              if (!(err instanceof AlreadyExistsError)) throw err;
            });
        }
        await this.#deleteRecord(matched, false, ctx);
        out.push({ Untagged: familiarName(matched) });
        this.#events?.publish('image', 'untag', entry.id, { name: familiarName(matched) });
        return out;
      }
    } else {
      const repos = new Set(entry.names.map((n) => parseReference(n).name));
      if (repos.size > 1 && !opts.force) {
        throw new ConflictError(
          `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      const running = users.find((u) => u.running);
      if (running) {
        throw new ConflictError(
          `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${shortId(running.id)}`,
        );
      }
      const stopped = users[0];
      if (stopped && !opts.force) {
        throw new ConflictError(
          `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${shortId(stopped.id)}`,
        );
      }
    }
    const records = entry.records;
    for (const [i, rec] of records.entries()) {
      const lastOne = i === records.length - 1;
      const deleted = await this.#deleteRecord(rec.name, lastOne, ctx);
      if (deleted && !isDanglingName(rec.name)) {
        out.push({ Untagged: familiarName(rec.name) });
        this.#events?.publish('image', 'untag', entry.id, { name: familiarName(rec.name) });
      }
    }
    out.push({ Deleted: entry.id });
    this.#events?.publish('image', 'delete', entry.id, { name: entry.id });
    this.#forget(entry);
    return out;
  }

  /**
   * imagesPrune deletes the images no container uses (moby `ImagesPrune`): only dangling ones
   * (no name) unless the filter says `dangling=false`; `until`, `label` and `label!` narrow it.
   * An image that cannot be deleted meanwhile (a container was just created from it) is left.
   */
  async imagesPrune(filters: Filters, signal: AbortSignal): Promise<ImagesPruneReport> {
    const f = filters.validateKeys(['dangling', 'until', 'label', 'label!']);
    const danglingOnly = f.getBoolOrDefault('dangling', true);
    const ctx: CallContext = { signal };
    const deleted: DeleteItem[] = [];
    let reclaimed = 0;
    for (const e of (await this.#entries(ctx)).values()) {
      const facts = await this.#facts(e, ctx);
      if (danglingOnly && facts.names.length > 0) continue;
      if (!prunable(f, createdSeconds(e.config), e.config.config?.Labels ?? {})) continue;
      if ((await this.#containersUsing(e, ctx)).length > 0) continue;
      try {
        deleted.push(...(await this.imageDelete(e.id, { force: true }, signal)));
        reclaimed += facts.size;
      } catch (err) {
        if (isEngineError(err) && (err.code === 'CKPTD_CONFLICT' || err.code === 'CKPTD_NOT_FOUND')) continue;
        throw err;
      }
    }
    this.#events?.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
    return { ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
  }

  #forget(e: Entry): void {
    for (const id of chainIds(e.config.rootfs.diff_ids)) this.#usage.delete(id);
  }

  /** #containersUsing lists containerd containers created from the image (any name of it, or its ID). */
  async #containersUsing(e: Entry, ctx: CallContext): Promise<{ id: string; running: boolean }[]> {
    const refs = new Set<string>([e.id, ...e.records.map((r) => r.name)]);
    const containers = await this.#client.containers.list([], ctx);
    const users = containers.filter((c) => {
      if (refs.has(c.image)) return true;
      const asked = c.labels[LABEL_IMAGE_REF];
      if (asked === undefined) return false;
      try {
        return refs.has(normalizeName(asked));
      } catch {
        return false;
      }
    });
    if (users.length === 0) return [];
    const tasks = await this.#client.tasks.list('', ctx);
    const running = new Set(tasks.filter((t) => String(t.status) !== 'STOPPED').map((t) => t.id));
    return users
      .map((c) => ({ id: c.id, running: running.has(c.id) }))
      .sort((a, b) => Number(b.running) - Number(a.running));
  }
}

function toProtoDesc(d: ManifestDescriptor): { media_type: string; digest: string; size: number } {
  return { media_type: d.mediaType, digest: d.digest, size: d.size };
}
