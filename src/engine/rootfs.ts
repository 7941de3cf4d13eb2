/**
 * Read-only access to a container's root filesystem as containerd's overlayfs snapshotter lays
 * it out, for `docker diff` and `docker export`: the mounts of an active snapshot turned into a
 * read-only mount (the upperdir becomes the top lowerdir, so the container's own mount and
 * workdir are never shared), the overlay upperdir walked for changes, and GNU tar streaming
 * the mounted tree. No containerd calls here: the commit engine passes the mounts in.
 */
import { overlayDirs } from '../host/overlay.js';
import { makeTempDir } from '../host/temp-dirs.js';
import { spawn, execFile } from 'node:child_process';
import { lstat, readdir, rmdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { EMPTY_TAR, pipelineSource, type ArchiveSource } from '../archive/compression.js';
import { InternalError } from '../errors/index.js';

const execFileP = promisify(execFile);

/** RootfsMount is a mount as containerd's Snapshots.Mounts describes it. */
export interface RootfsMount {
  type: string;
  source: string;
  options: string[];
}

/** OverlayLayout is the upperdir and lowerdirs (top first) of an overlay mount. */
export interface OverlayLayout {
  upper: string;
  lowers: string[];
}

/** ChangeKind is Docker's change kind: 0 modified, 1 added, 2 deleted. */
export type ChangeKind = 0 | 1 | 2;

/** Change is one entry of GET /containers/{id}/changes. */
export interface Change {
  Path: string;
  Kind: ChangeKind;
}

/**
 * overlayLayout reads upperdir/lowerdir from a snapshot's mounts: an overlay mount, or a bind
 * mount (a snapshot without parent: everything in it is new). undefined for anything else.
 */
export function overlayLayout(mounts: readonly RootfsMount[]): OverlayLayout | undefined {
  if (mounts.length !== 1) return undefined;
  const m = mounts[0]!;
  if (m.type === 'bind') return { upper: m.source, lowers: [] };
  return overlayDirs(m);
}

/** unmount unmounts `target`, lazily (detached, freed once unused) when it is busy. */
export async function unmount(target: string): Promise<void> {
  await execFileP('umount', [target]).catch(() => execFileP('umount', ['-l', target]));
}

/** mountArgs are `mount`'s arguments for one containerd mount at `target` with `options`. */
export function mountArgs(m: RootfsMount, options: readonly string[], target: string): string[] {
  return ['-t', m.type === 'bind' ? 'none' : m.type, '-o', options.join(','), m.source, target];
}

/**
 * readOnlyMounts returns `mounts` mounted read-only ('rw' replaced by 'ro'), for a reader such
 * as containerd's differ: unmounting a read-only mount syncs nothing, a writable overlay syncs
 * the whole filesystem under its upper dir.
 */
export function readOnlyMounts<M extends RootfsMount>(mounts: readonly M[]): M[] {
  return mounts.map((m) => ({ ...m, options: readOnlyOptions(m.options) }));
}

/** readOnlyOptions are mount options with `rw` (or `ro`) replaced by one `ro` at the end. */
export function readOnlyOptions(options: readonly string[]): string[] {
  return [...options.filter((o) => o !== 'rw' && o !== 'ro'), 'ro'];
}

/**
 * readOnlyMountArgs builds the `mount` arguments of a read-only view of a snapshot's mounts:
 * for an active overlay snapshot the upperdir joins the lowerdirs (overlayfs honours whiteouts
 * and opaque dirs in lower layers), so no workdir is shared with the running container.
 */
export function readOnlyMountArgs(mounts: readonly RootfsMount[], target: string): string[] {
  if (mounts.length !== 1) throw new InternalError(`cannot mount the rootfs: ${mounts.length} mounts`);
  const m = mounts[0]!;
  if (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind')) {
    return ['--bind', '-o', 'ro', m.source, target];
  }
  if (m.type !== 'overlay') return mountArgs(m, readOnlyOptions(m.options), target);
  const layout = overlayLayout(mounts);
  const rest = m.options.filter((o) => !/^(upperdir|workdir|lowerdir)=/.test(o) && o !== 'rw' && o !== 'ro');
  const lowers = layout ? [layout.upper, ...layout.lowers] : [];
  if (lowers.length === 1) return ['--bind', '-o', 'ro', lowers[0]!, target];
  return [
    '-t',
    'overlay',
    '-o',
    [...rest, `lowerdir=${lowers.join(':')}`, 'ro'].join(','),
    'overlay',
    target,
  ];
}

/**
 * withReadOnlyRootfs mounts the snapshot read-only on a fresh temp dir, runs fn on it, and
 * unmounts (lazily if busy) and removes the dir whatever happens.
 */
export async function withReadOnlyRootfs<T>(
  mounts: readonly RootfsMount[],
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const target = await makeTempDir('ckptd-rootfs-');
  try {
    await execFileP('mount', readOnlyMountArgs(mounts, target));
    try {
      return await fn(target);
    } finally {
      await unmount(target);
    }
  } finally {
    await rmdir(target).catch(() => undefined);
  }
}

/** EXPORT_BLOCKING_FACTOR is tar's record size in 512-byte blocks: 128 = 64 KiB, a pipe read. */
const EXPORT_BLOCKING_FACTOR = 128;

/**
 * exportTar is the tree at root as an uncompressed tar, ready to stream (GNU tar: regular files,
 * dirs, symlinks, hardlinks by inode, fifos, devices, every xattr as PAX `SCHILY.xattr.*`,
 * numeric uid/gid, mode, mtime). Entry names are relative without `./`, as `docker export`
 * writes them. GNU tar rather than a Node walker: Node cannot read xattrs, and tar reads at disk
 * speed. The tree must stay mounted until the opened stream has closed.
 */
export async function exportTar(root: string): Promise<ArchiveSource> {
  const entries = (await readdir(root)).sort();
  if (entries.length === 0) {
    // GNU tar refuses an empty archive: just the two end blocks
    return pipelineSource([EMPTY_TAR]);
  }
  return pipelineSource([
    {
      program: 'tar',
      args: [
        '--create',
        '--file=-',
        // 64 KiB records (default 10 KiB): fewer, fuller writes into the pipe or the socket
        `--blocking-factor=${EXPORT_BLOCKING_FACTOR}`,
        '--format=posix',
        '--pax-option=delete=atime,delete=ctime',
        '--numeric-owner',
        '--xattrs',
        '--xattrs-include=*',
        '--acls',
        '--one-file-system',
        '--directory',
        root,
        '--',
        ...entries,
      ],
      what: 'tar of the container filesystem',
    },
  ]);
}

interface Walked {
  path: string;
  st: Stats;
  whiteout: boolean;
  lower: Stats | undefined;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch {
    return undefined;
  }
}

/** walkUpper lists the upperdir in pre-order, names sorted as Go's filepath.Walk sorts them. */
async function walkUpper(layout: OverlayLayout, signal?: AbortSignal): Promise<Walked[]> {
  const out: Walked[] = [];
  const visit = async (rel: string): Promise<void> => {
    signal?.throwIfAborted();
    const names = (await readdir(join(layout.upper, rel))).sort((a, b) =>
      Buffer.compare(Buffer.from(a), Buffer.from(b)),
    );
    for (const name of names) {
      const path = posix.join(rel, name);
      const st = await lstat(join(layout.upper, path));
      const whiteout = st.isCharacterDevice() && st.rdev === 0;
      let lower: Stats | undefined;
      for (const l of layout.lowers) {
        lower = await lstatOrUndefined(join(l, path));
        if (lower) break;
      }
      out.push({ path, st, whiteout, lower });
      if (st.isDirectory()) await visit(path);
    }
  };
  await visit('/');
  return out;
}

/**
 * opaqueDirs returns which of the given dirs (relative to root) carry overlayfs's opaque xattr
 * (`trusted.overlay.opaque=y`, or `user.overlay.opaque` with userxattr). Node has no xattr
 * API: GNU tar reads them (--no-recursion, one header per dir) and tar-stream parses the PAX.
 */
export async function opaqueDirs(root: string, dirs: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  if (dirs.length === 0) return found;
  const child = spawn(
    'tar',
    [
      '--create',
      '--file=-',
      '--format=posix',
      '--no-recursion',
      '--xattrs',
      '--xattrs-include=trusted.overlay.opaque',
      '--xattrs-include=user.overlay.opaque',
      '--directory',
      root,
      '--null',
      '--files-from=-',
    ],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  );
  child.stdin.end(dirs.map((d) => `.${d}\0`).join(''));
  const extract = tar.extract();
  const parsed = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const pax = (header as { pax?: Record<string, string> }).pax ?? {};
      const v = pax['SCHILY.xattr.trusted.overlay.opaque'] ?? pax['SCHILY.xattr.user.overlay.opaque'];
      if (v === 'y') found.add(`/${header.name.replace(/^\.\//, '').replace(/\/$/, '')}`);
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  child.stdout.pipe(extract);
  await parsed;
  return found;
}

function sameTime(a: Stats, b: Stats): boolean {
  // Go's sameFsTime: equal, or equal seconds with one side lacking nanoseconds.
  if (a.mtimeMs === b.mtimeMs) return true;
  return (
    Math.floor(a.mtimeMs / 1000) === Math.floor(b.mtimeMs / 1000) &&
    (a.mtimeMs % 1000 === 0 || b.mtimeMs % 1000 === 0)
  );
}

/**
 * overlayChanges computes `docker diff` from an overlay upperdir as moby's
 * `archive.OverlayChanges` does: a whiteout (char device 0/0) or an opaque dir is Deleted; an
 * entry absent from every lowerdir is Added; one present is Modified, except a directory whose
 * size, mode and mtime are unchanged; the parent of an Added or Deleted entry is listed as
 * Modified (once, before it) unless already listed. Walk order (pre-order, sorted) is kept.
 * Mountpoints runc creates for the container's mounts (`/etc/hosts`... as empty files or dirs,
 * which dockerd hides in its init layer) are skipped, and so is a directory whose only upper
 * content is such mountpoints and whose mode did not change.
 */
export async function overlayChanges(
  layout: OverlayLayout,
  mountDestinations: readonly string[],
  signal?: AbortSignal,
): Promise<Change[]> {
  const walked = await walkUpper(layout, signal);
  const destinations = new Set(mountDestinations);
  const ignored = new Set<string>();
  for (const w of walked) {
    const empty = (w.st.isFile() && w.st.size === 0) || w.st.isDirectory();
    if (!w.lower && !w.whiteout && destinations.has(w.path) && empty) ignored.add(w.path);
  }
  // Entries below an ignored mountpoint dir are ignored too (an empty dir has none).
  const hasReal = new Set<string>();
  const hasIgnored = new Set<string>();
  for (const w of walked) {
    const set = ignored.has(w.path) ? hasIgnored : hasReal;
    for (let p = posix.dirname(w.path); p !== '/'; p = posix.dirname(p)) {
      if (set.has(p)) break;
      set.add(p);
    }
  }
  const candidates = walked.filter((w) => w.st.isDirectory() && w.lower).map((w) => w.path);
  const opaque = await opaqueDirs(layout.upper, candidates);

  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  for (const w of walked) {
    if (ignored.has(w.path)) continue;
    let kind: ChangeKind;
    if (w.whiteout || opaque.has(w.path)) kind = 2;
    else if (!w.lower) kind = 1;
    else {
      if (w.st.isDirectory() && w.lower.isDirectory()) {
        const unchanged = w.st.mode === w.lower.mode && w.st.size === w.lower.size && sameTime(w.st, w.lower);
        const onlyMountpoints = hasIgnored.has(w.path) && !hasReal.has(w.path) && w.st.mode === w.lower.mode;
        if (unchanged || onlyMountpoints) continue;
      }
      kind = 0;
    }
    if (w.st.isDirectory()) changedDirs.add(w.path);
    if (kind === 1 || kind === 2) {
      const parent = posix.dirname(w.path);
      if (!changedDirs.has(parent) && parent !== '/') {
        changes.push({ Path: parent, Kind: 0 });
        changedDirs.add(parent);
      }
    }
    changes.push({ Path: w.path, Kind: kind });
  }
  return changes;
}
