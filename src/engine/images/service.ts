/**
 * ImageService: Docker's image operations over containerd's image, content, snapshot and diff
 * services (moby `daemon/containerd/image_*.go` and containerd's importer/unpacker, trimmed to
 * what ckptd needs): the ImagesBackend the routes call and the lookups the containers engine,
 * pull, push and commit need, composed from the store (records, names, lookups), the queries
 * (views) and load/unpack.
 */
import type { Readable } from 'node:stream';
import type { CallContext } from '../../containerd/index.js';
import { isEngineError } from '../../errors/index.js';
import { prunable, type Filters } from '../../oci/filters.js';
import type { ImageManifest } from '../../oci/image-config.js';
import type {
  DeleteItem,
  ImagesBackend,
  ImagesPruneReport,
  ListImagesOptions,
  LoadedImage,
  RemoveImageOptions,
} from './backend.js';
import { loadImage, writeImageBlob } from './load.js';
import { ImageQueries } from './queries.js';
import { ImageStore, type ImageStoreOptions, type ManifestDescriptor, type ResolvedImage } from './store.js';
import { ensureUnpacked, unpackLayers, type UnpackHooks } from './unpack.js';
import {
  createdSeconds,
  type HistoryItem,
  type ImageFacts,
  type ImageInspect,
  type ImageSummary,
} from './views.js';

/** ImageServiceOptions wire an ImageService. */
export type ImageServiceOptions = ImageStoreOptions;

/** ImageService implements ImagesBackend and the image lookups the containers engine needs. */
export class ImageService implements ImagesBackend {
  readonly #store: ImageStore;
  readonly #queries: ImageQueries;

  constructor(o: ImageServiceOptions) {
    this.#store = new ImageStore(o);
    this.#queries = new ImageQueries(this.#store);
  }

  /** snapshotter is the snapshotter image layers are unpacked into. */
  get snapshotter(): string {
    return this.#store.snapshotter;
  }

  /** loadImage streams an image archive into containerd (load.ts). */
  loadImage(input: Readable, signal: AbortSignal): Promise<LoadedImage[]> {
    return loadImage(this.#store, input, signal);
  }

  /** unpackLayers unpacks an image's layers in order under ctx's lease (unpack.ts). */
  unpackLayers(
    manifest: ImageManifest,
    diffIds: string[],
    ctx: CallContext,
    hooks: UnpackHooks = {},
  ): Promise<string> {
    return unpackLayers(this.#store, manifest, diffIds, ctx, hooks);
  }

  /** labelContent sets labels on a blob (`labels.<key>` paths), under ctx. */
  labelContent(digest: string, labels: Record<string, string>, ctx: CallContext): Promise<void> {
    return this.#store.labelContent(digest, labels, ctx);
  }

  /** writeImageBlob stores a small blob (an image config or manifest) under ctx's lease (load.ts). */
  writeImageBlob(
    bytes: Buffer,
    digest: string,
    labels: Record<string, string>,
    ctx: CallContext,
  ): Promise<void> {
    return writeImageBlob(this.#store, bytes, digest, labels, ctx);
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
      await this.#store.setName(name, target, imageId, ctx);
      return;
    }
    if ((await this.#store.recordsTargeting(target.digest, ctx)).length > 0) return;
    await this.#store.keepDangling(target, ctx);
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
    for (const e of (await this.#store.entries(ctx)).values()) {
      const facts = await this.#queries.facts(e, ctx);
      if (danglingOnly && facts.names.length > 0) continue;
      if (!prunable(f, createdSeconds(e.config), e.config.config?.Labels ?? {})) continue;
      if ((await this.#store.containersUsing(e, ctx)).length > 0) continue;
      try {
        deleted.push(...(await this.imageDelete(e.id, { force: true }, signal)));
        reclaimed += facts.size;
      } catch (err) {
        if (isEngineError(err) && (err.code === 'CKPTD_CONFLICT' || err.code === 'CKPTD_NOT_FOUND')) continue;
        throw err;
      }
    }
    this.#store.events?.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
    return { ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /** resolveImage finds an image by reference, ID or unique ID prefix (store.ts). */
  resolveImage(nameOrId: string, signal?: AbortSignal): Promise<ResolvedImage> {
    return this.#store.resolveImage(nameOrId, signal);
  }

  /** ensureUnpacked makes sure an image's layers are committed snapshots (unpack.ts). */
  ensureUnpacked(
    image: Pick<ResolvedImage, 'id' | 'config'> & Partial<Pick<ResolvedImage, 'manifest'>>,
    signal?: AbortSignal,
  ): Promise<string> {
    return ensureUnpacked(this.#store, image, signal);
  }

  images(opts: ListImagesOptions, signal: AbortSignal): Promise<ImageSummary[]> {
    return this.#queries.images(opts, signal);
  }

  imageFacts(signal: AbortSignal): Promise<ImageFacts[]> {
    return this.#queries.imageFacts(signal);
  }

  imageInspect(name: string, signal: AbortSignal): Promise<ImageInspect> {
    return this.#queries.imageInspect(name, signal);
  }

  imageHistory(name: string, signal: AbortSignal): Promise<HistoryItem[]> {
    return this.#queries.imageHistory(name, signal);
  }

  tagImage(source: string, repo: string, tag: string, signal: AbortSignal): Promise<void> {
    return this.#store.tagImage(source, repo, tag, signal);
  }

  imageDelete(name: string, opts: RemoveImageOptions, signal: AbortSignal): Promise<DeleteItem[]> {
    return this.#store.imageDelete(name, opts, signal, (e) => this.#queries.forget(e));
  }
}
