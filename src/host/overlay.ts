/**
 * Overlay mount options, parsed once (overlayfs.rst): `lowerdir=a:b` (top first), `upperdir=`,
 * `workdir=`. Snapshot mounts from containerd's overlayfs snapshotter use exactly these.
 */

/** OverlayOptions are the directories an overlay mount's options name. */
export interface OverlayOptions {
  /** lowers are the lower directories, top first ([] when absent). */
  lowers: string[];
  upper?: string;
  work?: string;
}

/** overlayOptions reads lowerdir/upperdir/workdir out of mount options (the last of each wins). */
export function overlayOptions(options: readonly string[]): OverlayOptions {
  const out: OverlayOptions = { lowers: [] };
  for (const o of options) {
    if (o.startsWith('lowerdir=')) out.lowers = o.slice('lowerdir='.length).split(':');
    else if (o.startsWith('upperdir=')) out.upper = o.slice('upperdir='.length);
    else if (o.startsWith('workdir=')) out.work = o.slice('workdir='.length);
  }
  return out;
}

/** OverlayDirs are the directories of an overlay snapshot with an upper dir. */
export interface OverlayDirs {
  upper: string;
  lowers: string[];
}

/** overlayDirs reads upperdir/lowerdir out of an overlay mount; undefined for other mounts or no upper. */
export function overlayDirs(mount: { type: string; options: readonly string[] }): OverlayDirs | undefined {
  if (mount.type !== 'overlay') return undefined;
  const { upper, lowers } = overlayOptions(mount.options);
  return upper === undefined ? undefined : { upper, lowers };
}

/** overlayWorkdir is the work dir of an overlay mount; undefined for other mounts. */
export function overlayWorkdir(mount: { type: string; options: readonly string[] }): string | undefined {
  return mount.type === 'overlay' ? overlayOptions(mount.options).work : undefined;
}
