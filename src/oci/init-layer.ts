/**
 * What a container's init layer holds (moby `daemon/initlayer/setup_unix.go`, the `-init` layer
 * dockerd puts between the image and the container's writable layer): the mount points and
 * files the runtime needs, so that neither runc's mount-point stubs nor `.dockerenv` land in the
 * writable layer, and commit, diff and checkpoints see only what the container's processes did.
 * Pure: the engine (engine/init-layer.ts) writes these entries into a snapshot.
 */
import { posix } from 'node:path';

/**
 * InitEntry is one entry of an init layer. `replace` entries are dockerd's own list: every
 * component of the path that is not a directory is unlinked first and the entry made afresh
 * (an image's /etc/hosts becomes an empty file, its /etc/mtab the symlink). `stub` entries are
 * the mount points of the container's own mounts: made only when missing, where runc would
 * make them (symlinks followed inside the root), as runc's `createIfNotExists` does.
 */
export interface InitEntry {
  path: string;
  kind: 'dir' | 'file' | 'symlink';
  /** target of a symlink. */
  target?: string;
  how: 'replace' | 'stub';
  /** mode of a stub other than INIT_LAYER_MODE (a tmpfs mount point: see initLayerEntries). */
  mode?: number;
}

/** INIT_LAYER_MODE is the mode of what the init layer creates (dockerd: 0755 for dirs and files). */
export const INIT_LAYER_MODE = 0o755;

/**
 * DOCKERD_INIT_ENTRIES is dockerd 20.10's init layer, in a fixed order (dockerd walks a Go map:
 * no order; the entries are independent).
 */
export const DOCKERD_INIT_ENTRIES: readonly InitEntry[] = [
  { path: '/dev/pts', kind: 'dir', how: 'replace' },
  { path: '/dev/shm', kind: 'dir', how: 'replace' },
  { path: '/proc', kind: 'dir', how: 'replace' },
  { path: '/sys', kind: 'dir', how: 'replace' },
  { path: '/.dockerenv', kind: 'file', how: 'replace' },
  { path: '/etc/resolv.conf', kind: 'file', how: 'replace' },
  { path: '/etc/hosts', kind: 'file', how: 'replace' },
  { path: '/etc/hostname', kind: 'file', how: 'replace' },
  { path: '/dev/console', kind: 'file', how: 'replace' },
  { path: '/etc/mtab', kind: 'symlink', target: '/proc/mounts', how: 'replace' },
];

/** InitMount is the part of a runtime-spec mount the init layer looks at. */
export interface InitMount {
  destination: string;
  type: string;
  source: string;
  options: readonly string[];
}

/** isBindMount tells whether a spec mount is a bind mount (type `bind`, or a `bind`/`rbind` option). */
export function isBindMount(m: InitMount): boolean {
  return m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
}

/** isUnder tells whether `p` is strictly below directory `dir` (both clean absolute paths). */
function isUnder(p: string, dir: string): boolean {
  return dir === '/' ? p !== '/' : p.startsWith(`${dir}/`);
}

/**
 * initLayerEntries is the init layer of a container with these runtime-spec mounts: dockerd's
 * entries, then a stub for each mount destination that lies in the rootfs itself (not below
 * another mount's destination, such as /dev/mqueue in /dev's tmpfs or the cgroup mounts in
 * /sys) and is not one of dockerd's. A stub is a file for a bind mount of a non-directory
 * (`sourceIsDir` says which sources are directories, as runc stats the source), else a dir.
 */
export function initLayerEntries(
  mounts: readonly InitMount[],
  sourceIsDir: (source: string) => boolean,
): InitEntry[] {
  const out: InitEntry[] = [...DOCKERD_INIT_ENTRIES];
  const taken = new Set(out.map((e) => e.path));
  const destinations = mounts.map((m) => posix.normalize(m.destination).replace(/(.)\/+$/, '$1'));
  for (const [i, m] of mounts.entries()) {
    const dest = destinations[i]!;
    if (!dest.startsWith('/') || dest === '/' || taken.has(dest)) continue;
    // below an earlier mount: the runtime makes it inside that mount, not in the rootfs
    if (destinations.slice(0, i).some((d) => isUnder(dest, d))) continue;
    taken.add(dest);
    const file = isBindMount(m) && !sourceIsDir(m.source);
    // runc gives a tmpfs the mode of the directory it mounts over when that exists (its chmod
    // after the mount): a stub must carry the tmpfs's own mode (`mode=`, else tmpfs's 1777)
    const tmpfsMode = m.type === 'tmpfs' && !isBindMount(m) ? tmpfsRootMode(m.options) : undefined;
    out.push({
      path: dest,
      kind: file ? 'file' : 'dir',
      how: 'stub',
      ...(tmpfsMode !== undefined ? { mode: tmpfsMode } : {}),
    });
  }
  return out;
}

/** tmpfsRootMode is the mode of a fresh tmpfs's root: its `mode=` option (octal), else 1777. */
export function tmpfsRootMode(options: readonly string[]): number {
  const opt = [...options].reverse().find((o) => o.startsWith('mode='));
  const v = opt === undefined ? NaN : parseInt(opt.slice('mode='.length), 8);
  return Number.isInteger(v) && v >= 0 && v <= 0o7777 ? v : 0o1777;
}

/** initLayerName is the committed name of a container's init snapshot (dockerd: `<id>-init`). */
export function initLayerName(containerId: string): string {
  return `${containerId}-init`;
}

/** initLayerKey is the key of the init snapshot while ckptd writes it, before it is committed. */
export function initLayerKey(containerId: string): string {
  return `${containerId}-init-prepare`;
}
