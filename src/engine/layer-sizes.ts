/**
 * Sizes as dockerd reports them (`docker images`, `docker history`, `docker ps -s`,
 * `docker system df`): moby's overlay2 driver measures a layer with `directory.Size` over
 * its diff directory, the sum of the apparent sizes of everything but directories, each inode
 * once. containerd's `Snapshots.Usage` counts allocated blocks, directories included (a 6-byte
 * file is 4 KiB there and 6 B in dockerd). So ckptd walks the overlayfs directories the
 * snapshotter mounts: a view's lowerdirs (or bind source) are an image's layers, a container
 * snapshot's upperdir is its writable layer. Committed layers never change: their sizes are
 * cached by directory.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { CallContext, Mount } from '../containerd/index.js';

/** SnapshotMounts is the part of the snapshots client the sizes need. */
export interface SnapshotMounts {
  view(key: string, parent?: string, labels?: Record<string, string>, ctx?: CallContext): Promise<Mount[]>;
  remove(key: string, ctx?: CallContext): Promise<void>;
}

/**
 * apparentSize is moby's `pkg/directory.Size`: the sum of st_size of every non-directory
 * entry under `dir` with a size (symlinks count their target's length), hard links once.
 */
export async function apparentSize(dir: string, signal?: AbortSignal): Promise<number> {
  const seen = new Set<bigint>();
  let size = 0;
  const walk = async (d: string): Promise<void> => {
    signal?.throwIfAborted();
    let names: string[];
    try {
      names = await readdir(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      const p = join(d, name);
      let st;
      try {
        st = await lstat(p, { bigint: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (st.isDirectory()) {
        await walk(p);
        continue;
      }
      if (st.size === 0n || seen.has(st.ino)) continue;
      seen.add(st.ino);
      size += Number(st.size);
    }
  };
  await walk(dir);
  return size;
}

/** OverlayDirs are the directories of an overlay (or bind) mount: upper, and lowers bottom first. */
export interface OverlayDirs {
  upper?: string;
  lowers: string[];
}

/** overlayDirs reads an overlayfs snapshot's directories from its mounts; undefined for another snapshotter's. */
export function overlayDirs(mounts: readonly Mount[]): OverlayDirs | undefined {
  if (mounts.length !== 1) return undefined;
  const m = mounts[0]!;
  if (m.type === 'bind') {
    // one layer: a view is the layer itself, an active snapshot without parent its upper dir
    const ro = m.options.includes('ro');
    return ro ? { lowers: [m.source] } : { upper: m.source, lowers: [] };
  }
  if (m.type !== 'overlay') return undefined;
  let upper: string | undefined;
  let lowers: string[] = [];
  for (const o of m.options) {
    if (o.startsWith('upperdir=')) upper = o.slice('upperdir='.length);
    else if (o.startsWith('lowerdir=')) lowers = o.slice('lowerdir='.length).split(':').reverse();
  }
  return upper !== undefined ? { upper, lowers } : { lowers };
}

const CACHE_MAX = 4096;
const layerCache = new Map<string, number>();

/** layerDirSize is apparentSize of a committed layer's directory, cached (committed layers never change). */
export async function layerDirSize(dir: string, signal?: AbortSignal): Promise<number> {
  const cached = layerCache.get(dir);
  if (cached !== undefined) return cached;
  const size = await apparentSize(dir, signal);
  if (layerCache.size >= CACHE_MAX) layerCache.clear();
  layerCache.set(dir, size);
  return size;
}

/**
 * imageLayerSizes measures an image's layers (bottom first) as dockerd does, through a
 * short-lived view of its top layer; undefined when the snapshotter's mounts are not
 * overlayfs directories this host can read (the caller falls back to the snapshotter's usage).
 */
export async function imageLayerSizes(
  sn: SnapshotMounts,
  topChainId: string,
  layers: number,
  ctx: CallContext,
): Promise<number[] | undefined> {
  const key = `ckptd-size-${randomBytes(8).toString('hex')}`;
  let mounts: Mount[];
  try {
    mounts = await sn.view(key, topChainId, {}, ctx);
  } catch {
    return undefined;
  }
  try {
    const dirs = overlayDirs(mounts);
    if (!dirs || dirs.upper !== undefined || dirs.lowers.length !== layers) return undefined;
    const sizes: number[] = [];
    for (const d of dirs.lowers) sizes.push(await layerDirSize(d, ctx.signal));
    return sizes;
  } catch {
    return undefined;
  } finally {
    await sn.remove(key, {}).catch(() => undefined);
  }
}

/** ContainerSizes are `SizeRw` and `SizeRootFs` of a container (moby `getSize`). */
export interface ContainerSizes {
  sizeRw: number;
  sizeRootFs: number;
}

/**
 * containerSizes measures a container from its snapshot's mounts: SizeRw is its upper
 * directory, SizeRootFs that plus the layers below it (cached). Undefined when the mounts are
 * not overlayfs directories.
 */
export async function containerSizes(
  mounts: readonly Mount[],
  signal?: AbortSignal,
  opts: { initLayer?: boolean } = {},
): Promise<ContainerSizes | undefined> {
  const dirs = overlayDirs(mounts);
  if (dirs?.upper === undefined) return undefined;
  const sizeRw = await apparentSize(dirs.upper, signal);
  let below = 0;
  // the init layer (the topmost lower) is not the image's: dockerd's virtual size is the image's
  // layers plus the writable one (moby GetContainerLayerSize: rwlayer.Parent())
  const lowers = opts.initLayer ? dirs.lowers.slice(0, -1) : dirs.lowers; // bottom first
  for (const d of lowers) below += await layerDirSize(d, signal);
  return { sizeRw, sizeRootFs: below + sizeRw };
}

/**
 * tarApparentSize is apparentSize of the directory an uncompressed layer tar unpacks to:
 * regular files' sizes and symlink target lengths; hard links, directories and whiteouts (an
 * overlay whiteout is an empty device node) count nothing. For layers not unpacked yet (a
 * committed image's new layer, an image loaded but never run).
 */
export async function tarApparentSize(input: Readable, signal?: AbortSignal): Promise<number> {
  const extract = tar.extract();
  let size = 0;
  extract.on('entry', (h, stream, next) => {
    const base = h.name.replace(/\/+$/, '').split('/').pop() ?? '';
    if ((h.type === 'file' || h.type === 'contiguous-file') && !base.startsWith('.wh.')) size += h.size ?? 0;
    else if (h.type === 'symlink') size += Buffer.byteLength(h.linkname ?? '');
    stream.on('end', next);
    stream.resume();
  });
  await pipeline(input, extract, signal ? { signal } : {});
  return size;
}
