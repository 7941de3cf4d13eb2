/**
 * Unpacking (containerd's unpacker): every layer prefix of an image becomes a committed
 * snapshot named by its chainID, applied by containerd's differ and checked against the diffID.
 * Used by load, pull and container creation (ensureUnpacked).
 */
import { randomBytes } from 'node:crypto';
import type { CallContext } from '../../containerd/index.js';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, wrapError } from '../../errors/index.js';
import { checkpointImageInfo } from '../../oci/checkpoint-image.js';
import type { ImageManifest } from '../../oci/image-config.js';
import { LABEL_SNAPSHOT_REF } from '../../oci/labels.js';
import { chainIds, configGcLabels, layerLabels } from '../../oci/manifest.js';
import type { ImageStore, ResolvedImage } from './store.js';

/** UnpackHooks let a caller follow (and pace) the unpacking of each layer. */
export interface UnpackHooks {
  before?(index: number): Promise<void>;
  after?(index: number): void;
  skipped?(index: number): Promise<void>;
}

const CLEANUP_DEADLINE_MS = 10_000;

/**
 * unpack makes sure every layer prefix of an image is a committed snapshot named by its
 * chainID (containerd's unpacker): present ones are skipped; a missing one is prepared on its
 * parent, the layer applied by the differ (which checks nothing itself, so the applied
 * digest is compared with the diffID), and committed. AlreadyExists means another unpack won
 * the race: done. A prepared snapshot is removed when anything fails.
 */
export async function unpack(
  store: ImageStore,
  manifest: ImageManifest,
  diffIds: string[],
  ctx: CallContext,
  hooks: UnpackHooks = {},
): Promise<string> {
  const sn = store.client.snapshots(store.snapshotter);
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
      const applied = await store.client.diff.apply(
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
        await removeSnapshot(store, key, ctx);
      }
      hooks.after?.(i);
    } catch (err) {
      await removeSnapshot(store, key, ctx);
      throw wrapError(`unpacking layer ${i}`, err);
    }
  }
  return chain[chain.length - 1] ?? '';
}

export async function removeSnapshot(store: ImageStore, key: string, ctx: CallContext): Promise<void> {
  try {
    const c: CallContext = { deadlineMs: CLEANUP_DEADLINE_MS };
    if (ctx.namespace !== undefined) c.namespace = ctx.namespace;
    if (ctx.lease !== undefined) c.lease = ctx.lease;
    await store.client.snapshots(store.snapshotter).remove(key, c);
  } catch (err) {
    if (!(err instanceof NotFoundError)) {
      store.logger.warn({ err, key }, 'removing a prepared snapshot failed; the lease frees it');
    }
  }
}

/**
 * unpackLayers unpacks an image's layers in order under ctx's lease (see unpack), calling
 * `hooks.before(i)` before layer i is applied (a pull waits there for the layer's download),
 * `hooks.after(i)` once it is committed and `hooks.skipped(i)` when its snapshot was already
 * there; then labels each layer blob with its diffID and the config with the snapshot chain,
 * as the load path does. Returns the top chainID.
 */
export async function unpackLayers(
  store: ImageStore,
  manifest: ImageManifest,
  diffIds: string[],
  ctx: CallContext,
  hooks: UnpackHooks = {},
): Promise<string> {
  // a checkpoint image's layer is never a rootfs (as in load): no snapshot, no chain top
  if (checkpointImageInfo(manifest)) {
    for (const [i, layer] of manifest.layers.entries()) {
      await hooks.skipped?.(i);
      await store.labelContent(layer.digest, layerLabels(diffIds[i]!), ctx);
    }
    return '';
  }
  const top = await unpack(store, manifest, diffIds, ctx, hooks);
  for (const [i, layer] of manifest.layers.entries()) {
    await store.labelContent(layer.digest, layerLabels(diffIds[i]!), ctx);
  }
  return top;
}

/**
 * ensureUnpacked makes sure an image's layers are committed snapshots in ckptd's snapshotter
 * (unpacking them from the content store if needed, under a lease) and returns the chainID
 * to use as the parent of a container's rootfs ('' for an image without layers). It takes
 * any `{id, config}` (a ResolvedImage of the containers engine too): the manifest is looked
 * up by ID when not given.
 */
export async function ensureUnpacked(
  store: ImageStore,
  image: Pick<ResolvedImage, 'id' | 'config'> & Partial<Pick<ResolvedImage, 'manifest'>>,
  signal?: AbortSignal,
): Promise<string> {
  const ctx: CallContext = signal ? { signal } : {};
  const diffIds = [...image.config.rootfs.diff_ids];
  const top = chainIds(diffIds).at(-1);
  if (top === undefined) return '';
  try {
    await store.client.snapshots(store.snapshotter).stat(top, ctx);
    return top;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  const manifest = image.manifest ?? (await store.find(image.id, ctx)).entry.manifest;
  return store.client.withLease(
    async (lctx) => {
      const chainTop = await unpack(store, manifest, diffIds, lctx);
      await store.labelContent(manifest.config.digest, configGcLabels(store.snapshotter, chainTop), lctx);
      return chainTop;
    },
    { ctx },
  );
}
