/**
 * A container's init layer (moby's `-init` layer, `daemon/initlayer`): a committed snapshot
 * between the image's top layer and the container's writable snapshot, holding the mount
 * points runc needs and `.dockerenv` (oci/init-layer.ts says what). Commit, `docker diff` and a
 * checkpoint's rootfs diff compare the writable snapshot with its parent, so they see only what
 * the container's processes changed; export mounts the whole chain, as dockerd's does.
 *
 * Lifecycle: at create the init snapshot is prepared on the image's chain (key
 * `<id>-init-prepare`), the create reads the image through it (users, working dir), writes the
 * entries, commits it as `<id>-init` and prepares the container's snapshot (key `<id>`) on it,
 * all inside the create's lease. Afterwards containerd's GC keeps it as the parent of the
 * container's snapshot (a snapshot references its parent); rm removes it right after the
 * container's snapshot. A container created before init layers (its snapshot's parent is the
 * image's chain ID) works as before.
 */
import { ownMountPoints } from '../host/mountinfo.js';
import { overlayWorkdir } from '../host/overlay.js';
import { makeTempDir } from '../host/temp-dirs.js';
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, open, rm, rmdir, stat, symlink, unlink } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ScopedRoot, at, splitPath } from '../archive/scoped-fs.js';
import type { CallContext, Mount } from '../containerd/index.js';
import { InternalError, NotFoundError } from '../errors/index.js';
import {
  INIT_LAYER_MODE,
  initLayerEntries,
  initLayerKey,
  initLayerName,
  isBindMount,
  type InitEntry,
  type InitMount,
} from '../oci/init-layer.js';
import { mountArgs, readOnlyMounts, unmount } from './rootfs.js';

const execFileP = promisify(execFile);

/** InitLayerSnapshots is the part of a snapshotter's adapter the init layer uses. */
export interface InitLayerSnapshots {
  prepare(key: string, parent: string, labels: Record<string, string>, ctx?: CallContext): Promise<Mount[]>;
  commit(name: string, key: string, labels: Record<string, string>, ctx?: CallContext): Promise<void>;
  remove(key: string, ctx?: CallContext): Promise<void>;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** createEntry makes a missing entry at `p` (a host path ckptd resolved) with dockerd's mode. */
async function createEntry(p: string, e: InitEntry): Promise<void> {
  if (e.kind === 'symlink') {
    await symlink(e.target ?? '', p);
    return;
  }
  const mode = e.mode ?? INIT_LAYER_MODE;
  if (e.kind === 'dir') await mkdir(p, { mode });
  else await (await open(p, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, mode)).close();
  await chmod(p, mode); // the umask must not change dockerd's 0755 (or a tmpfs mount point's mode)
}

/**
 * replaceEntry is dockerd's `initlayer.Setup` for one path: unlink every component that is not
 * a directory (a component that is a directory stays; so no symlink is ever followed below
 * `root`), then make the entry and the missing directories above it (0755, root-owned) unless
 * it exists.
 */
async function replaceEntry(root: string, e: InitEntry): Promise<void> {
  const parts = splitPath(e.path);
  for (let i = 1; i <= parts.length; i++) {
    const p = join(root, ...parts.slice(0, i));
    const st = await lstatOrUndefined(p);
    if (st === undefined) break;
    if (!st.isDirectory()) await unlink(p);
  }
  if ((await lstatOrUndefined(join(root, ...parts))) !== undefined) return;
  for (let i = 1; i < parts.length; i++) {
    const p = join(root, ...parts.slice(0, i));
    if ((await lstatOrUndefined(p)) === undefined) {
      await mkdir(p, { mode: INIT_LAYER_MODE });
      await chmod(p, INIT_LAYER_MODE);
    }
  }
  await createEntry(join(root, ...parts), e);
}

/**
 * stubEntry makes a mount point where runc would make it (runc's `createIfNotExists` under
 * securejoin: every symlink followed, inside the root), with the missing directories above it.
 * Something in the way that is not a directory leaves it to runc (which fails the start as it
 * would anyway).
 */
async function stubEntry(root: ScopedRoot, e: InitEntry): Promise<void> {
  const parts = splitPath(e.path);
  for (let i = 1; i <= parts.length; i++) {
    const last = i === parts.length;
    const r = await root
      .resolve(`/${parts.slice(0, i).join('/')}`, { followFinal: true })
      .catch(() => undefined);
    if (r === undefined) return;
    try {
      // the root itself (through a symlink to /): a directory
      if (r.name === '') continue;
      const p = at(r.dirFd, r.name);
      const st = await lstatOrUndefined(p);
      if (st !== undefined) {
        if (!last && !st.isDirectory()) return;
        continue;
      }
      await createEntry(p, last ? e : { path: '', kind: 'dir', how: 'stub' });
    } finally {
      await r.close();
    }
  }
}

/**
 * writeInitLayer writes the init layer's entries into the tree mounted at `root` (an init
 * snapshot: the image's content with a writable upper dir, nothing running in it).
 */
export async function writeInitLayer(root: string, entries: readonly InitEntry[]): Promise<void> {
  for (const e of entries) if (e.how === 'replace') await replaceEntry(root, e);
  const scoped = await ScopedRoot.open(root);
  try {
    for (const e of entries) if (e.how === 'stub') await stubEntry(scoped, e);
  } finally {
    await scoped.close();
  }
}

/** initEntriesFor is initLayerEntries for a spec's mounts, the bind sources stat'ed as runc does. */
export async function initEntriesFor(mounts: readonly InitMount[]): Promise<InitEntry[]> {
  const dirs = new Set<string>();
  for (const m of mounts) {
    if (!isBindMount(m)) continue;
    const st = await lstatOrUndefined(m.source).catch(() => undefined);
    // runc stats the source following symlinks: a symlink to a directory is a directory
    const isDir = st?.isSymbolicLink()
      ? (await stat(m.source).catch(() => undefined))?.isDirectory()
      : st?.isDirectory();
    if (isDir !== false) dirs.add(m.source); // a missing source is made as a directory
  }
  return initLayerEntries(mounts, (s) => dirs.has(s));
}

/**
 * withWritableMount mounts an init snapshot writable on a temp dir for fn. An overlay is mounted
 * `volatile` when the kernel can (unmounting a writable overlay syncs the whole filesystem
 * under its upper dir, for a few empty files), and the volatile mark is cleared once unmounted
 * so the snapshot can be mounted again.
 */
async function withWritableMount(
  mounts: readonly Mount[],
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const m = mounts[0];
  if (m === undefined || mounts.length !== 1)
    throw new InternalError('cannot mount the init layer: unexpected mounts');
  const target = await makeTempDir('ckptd-init-');
  try {
    const workdir = overlayWorkdir(m);
    let volatile = false;
    if (workdir !== undefined) {
      volatile = await execFileP('mount', mountArgs(m, [...m.options, 'volatile'], target)).then(
        () => true,
        () => false,
      );
    }
    if (!volatile)
      await execFileP(
        'mount',
        mountArgs(m, m.type === 'bind' ? [...m.options, 'bind'] : [...m.options], target),
      );
    try {
      await fn(target);
    } finally {
      await unmount(target);
      if (volatile && workdir !== undefined) {
        const points = await ownMountPoints();
        const still = points === undefined || points.includes(target);
        if (!still) await rm(join(workdir, 'work', 'incompat', 'volatile'), { recursive: true, force: true });
      }
    }
  } finally {
    await rmdir(target).catch(() => undefined);
  }
}

/**
 * prepareInitLayer prepares a container's init snapshot on the image's chain; its mounts show
 * the image's content (the create reads users and the working dir through them).
 */
export async function prepareInitLayer(
  sn: InitLayerSnapshots,
  containerId: string,
  parent: string,
  ctx: CallContext,
): Promise<Mount[]> {
  return sn.prepare(initLayerKey(containerId), parent, {}, ctx);
}

/**
 * commitInitLayer writes the entries into the prepared init snapshot, commits it as
 * `<id>-init` and returns that name: the parent of the container's own snapshot.
 */
export async function commitInitLayer(
  sn: InitLayerSnapshots,
  containerId: string,
  mounts: readonly Mount[],
  entries: readonly InitEntry[],
  ctx: CallContext,
): Promise<string> {
  await withWritableMount(mounts, (root) => writeInitLayer(root, entries));
  const name = initLayerName(containerId);
  await sn.commit(name, initLayerKey(containerId), {}, ctx);
  return name;
}

/**
 * removeInitLayer removes a container's init snapshot (committed, or still being prepared);
 * call it after the container's own snapshot is gone. Absent is fine (a container created
 * before init layers).
 */
export async function removeInitLayer(
  sn: InitLayerSnapshots,
  containerId: string,
  ctx?: CallContext,
): Promise<void> {
  for (const key of [initLayerName(containerId), initLayerKey(containerId)]) {
    try {
      await sn.remove(key, ctx);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
}

/**
 * restoreRootfsMounts are the rootfs mounts containerd gets for a task: read-only for the
 * restore of a read-only container (runc applies `root.readonly` by remounting the root at
 * create, which `runc restore` never does: CRIU rebuilds the mount tree and the root came back
 * writable), as they are otherwise.
 */
export function restoreRootfsMounts<M extends Mount>(mounts: M[], restore: boolean, readonly: boolean): M[] {
  return restore && readonly ? readOnlyMounts(mounts) : mounts;
}

/**
 * squashMounts are a container's rootfs mounts without its init layer, for a commit that
 * squashes the whole filesystem (image and changes) into one layer: the init snapshot is the
 * top lowerdir of the container's overlay. Mounts of a container without one are returned as
 * they are.
 */
export function squashMounts<M extends Mount>(mounts: M[], hasInitLayer: boolean): M[] {
  const m = mounts[0];
  if (!hasInitLayer || m === undefined || mounts.length !== 1 || m.type !== 'overlay') return mounts;
  const lower = m.options.find((o) => o.startsWith('lowerdir='));
  if (lower === undefined) return mounts;
  const lowers = lower.slice('lowerdir='.length).split(':').slice(1);
  if (lowers.length === 0) {
    // an image without layers: the upper dir alone
    const upper = m.options.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
    if (upper === undefined) return mounts;
    return [{ ...m, type: 'bind', source: upper, options: ['rbind', 'ro'] }];
  }
  return [{ ...m, options: [...m.options.filter((o) => o !== lower), `lowerdir=${lowers.join(':')}`] }];
}

/** hasInitLayer tells whether a container snapshot's parent is its init snapshot. */
export function hasInitLayer(containerId: string, parent: string): boolean {
  return parent === initLayerName(containerId);
}
