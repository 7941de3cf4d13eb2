/**
 * Image queries: the views of `docker images`, `image inspect`, `image history` and
 * `system df`, built from the store's entries and the measured sizes of their layers.
 */
import type { CallContext } from '../../containerd/index.js';
import { timestampToNanos } from '../../containerd/index.js';
import { parseUntil } from '../../oci/filters.js';
import { chainIds } from '../../oci/manifest.js';
import { imageLayerSizes, tarApparentSize } from '../layer-sizes.js';
import type { ListImagesOptions } from './backend.js';
import type { ImageEntry, ImageStore } from './store.js';
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
} from './views.js';

/** UNCOMPRESSED_LAYERS are the layer media types whose blob is the tar itself. */
const UNCOMPRESSED_LAYERS = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.docker.image.rootfs.diff.tar',
]);

/** TAR_MEASURE_MAX bounds the blobs read to measure a layer that is not unpacked (64 MiB). */
const TAR_MEASURE_MAX = 64 << 20;

const CACHE_MAX = 512;

function rfc3339Nano(nanos: bigint): string {
  if (nanos <= 0n) return '';
  const secs = nanos / 1_000_000_000n;
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** ImageQueries answers the read-only image views; it caches the sizes of committed layers. */
export class ImageQueries {
  readonly #store: ImageStore;
  /** Unpacked size of committed snapshots by chainID (committed snapshots never change). */
  readonly #usage = new Map<string, number>();

  constructor(store: ImageStore) {
    this.#store = store;
  }

  /** facts measures an image: sizes of its layers, names, last tag time. */
  async facts(e: ImageEntry, ctx: CallContext): Promise<ImageFacts> {
    const chain = chainIds(e.config.rootfs.diff_ids);
    const sn = this.#store.client.snapshots(this.#store.snapshotter);
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
                this.#store.client.content.readStream(layer.digest, {}, ctx),
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
        const created = createdSeconds((await this.#store.find(v, ctx)).entry.config);
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
    const entries = [...(await this.#store.entries(ctx)).values()];
    const facts = await Promise.all(entries.map((e) => this.facts(e, ctx)));
    return selectImages(facts, plan, f);
  }

  /** imageFacts returns what ckptd knows of every image (one per ID): for `GET /system/df`. */
  async imageFacts(signal: AbortSignal): Promise<ImageFacts[]> {
    const ctx: CallContext = { signal };
    const entries = [...(await this.#store.entries(ctx)).values()];
    return Promise.all(entries.map((e) => this.facts(e, ctx)));
  }

  /** imageInspect describes one image in Docker's ImageInspect shape. */
  async imageInspect(name: string, signal: AbortSignal): Promise<ImageInspect> {
    const ctx: CallContext = { signal };
    const { entry } = await this.#store.find(name, ctx);
    return toInspect(await this.facts(entry, ctx), this.#store.snapshotter);
  }

  /** imageHistory lists an image's history newest first. */
  async imageHistory(name: string, signal: AbortSignal): Promise<HistoryItem[]> {
    const ctx: CallContext = { signal };
    const { entry } = await this.#store.find(name, ctx);
    return toHistory(await this.facts(entry, ctx));
  }

  /** forget drops the cached sizes of a deleted image. */
  forget(e: ImageEntry): void {
    for (const id of chainIds(e.config.rootfs.diff_ids)) this.#usage.delete(id);
  }
}
