/**
 * A container's volumes (moby `daemon/volumes.go` registerMountPoints, `create_unix.go`
 * createContainerOSSpecificSettings, populateVolumes): named and anonymous volumes of
 * HostConfig.Binds (`-v name:/dst`, `-v /dst`), HostConfig.Mounts type volume, and the anonymous
 * volumes of Config.Volumes (the image's VOLUME and the request's) at destinations the user did
 * not mount anything else at. Each becomes a bind mount of the volume's `_data` directory; at
 * create an empty volume gets the image's content at its destination (copy-up) unless nocopy.
 */
import { cleanPath } from '../../oci/runtime-spec.js';
import { execFile } from 'node:child_process';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ScopedRoot } from '../../archive/scoped-fs.js';
import type { UserMount } from '../../oci/mounts.js';
import type { Mount } from '../../oci/runtime-spec.js';
import { parseBind } from '../../oci/runtime-spec.js';
import { validateLocalOptions, validateVolumeName } from './driver.js';
import { ANONYMOUS_LABEL, type VolumeService } from './store.js';

const execFileP = promisify(execFile);

/** VolumeMountPoint is a volume mounted into a container, kept in its record (moby MountPoint). */
export interface VolumeMountPoint {
  Type: 'volume';
  Name: string;
  Source: string;
  Destination: string;
  Driver: 'local';
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** CopyData: copy the image's content at Destination into the volume when it is empty. */
  CopyData: boolean;
  /** Anonymous: created for this container (removed with it by `rm -v` and AutoRemove). */
  Anonymous: boolean;
}

/** VolumeRequest is one volume a create request asks for, before the volume exists. */
export interface VolumeRequest {
  /** name is '' for an anonymous volume. */
  name: string;
  destination: string;
  readOnly: boolean;
  noCopy: boolean;
  mode: string;
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
}

/**
 * volumeRequests lists the volumes of a create request, validated (names as the local driver
 * wants them) before any work: Binds and Mounts first, then Config.Volumes entries whose
 * destination no Bind, Mount or Tmpfs already takes (dockerd: the user's mount wins).
 */
export function volumeRequests(
  binds: readonly string[],
  mounts: readonly UserMount[],
  tmpfs: Readonly<Record<string, unknown>> | null | undefined,
  configVolumes: Readonly<Record<string, unknown>> | null | undefined,
): VolumeRequest[] {
  const out: VolumeRequest[] = [];
  const taken = new Set<string>();
  for (const raw of binds) {
    const b = parseBind(raw);
    taken.add(b.destination);
    if (b.volume === undefined) continue;
    if (b.volume.name !== '') validateVolumeName(b.volume.name);
    out.push({
      name: b.volume.name,
      destination: b.destination,
      readOnly: b.readOnly,
      noCopy: b.volume.noCopy,
      mode: b.volume.mode,
      labels: null,
      options: null,
    });
  }
  for (const m of mounts) {
    taken.add(m.target);
    if (m.type !== 'volume') continue;
    if (m.name !== '') validateVolumeName(m.name);
    const opts = Object.keys(m.driverOpts).length > 0 ? m.driverOpts : null;
    if (opts) validateLocalOptions(m.name || 'anonymous volume', opts);
    out.push({
      name: m.name,
      destination: m.target,
      readOnly: m.readOnly,
      noCopy: m.noCopy,
      mode: '',
      labels: Object.keys(m.labels).length > 0 ? m.labels : null,
      options: opts,
    });
  }
  for (const d of Object.keys(tmpfs ?? {})) taken.add(cleanPath(d));
  for (const raw of Object.keys(configVolumes ?? {})) {
    const dest = cleanPath(raw);
    if (taken.has(dest) || dest === '/') continue;
    taken.add(dest);
    out.push({
      name: '',
      destination: dest,
      readOnly: false,
      noCopy: false,
      mode: '',
      labels: null,
      options: null,
    });
  }
  return out;
}

/**
 * createVolumes creates (or finds) the volumes of `reqs` and returns their mount points. On
 * failure the anonymous volumes it created are removed again.
 */
export async function createVolumes(
  store: VolumeService,
  reqs: readonly VolumeRequest[],
): Promise<VolumeMountPoint[]> {
  const out: VolumeMountPoint[] = [];
  try {
    for (const r of reqs) {
      const anonymous = r.name === '';
      const labels = anonymous ? { ...(r.labels ?? {}), [ANONYMOUS_LABEL]: '' } : r.labels;
      const v = await store.create(r.name, r.options, labels);
      out.push({
        Type: 'volume',
        Name: v.Name,
        Source: v.Mountpoint,
        Destination: r.destination,
        Driver: 'local',
        Mode: r.mode,
        RW: !r.readOnly,
        Propagation: '',
        CopyData: !r.noCopy,
        // by its label: an imported checkpoint's anonymous volume is mounted by name
        Anonymous: anonymous || store.isAnonymous(v.Name),
      });
    }
  } catch (err) {
    await removeAnonymous(store, out);
    throw err;
  }
  return out;
}

/** removeAnonymous removes the anonymous volumes of `points` (best effort). */
export async function removeAnonymous(
  store: VolumeService,
  points: readonly VolumeMountPoint[],
): Promise<void> {
  for (const p of points) if (p.Anonymous) await store.removeAnonymous(p.Name);
}

/** volumeSpecMounts are the OCI mounts of a container's volumes (moby: rbind, ro, rprivate). */
export function volumeSpecMounts(points: readonly VolumeMountPoint[]): Mount[] {
  return points.map((p) => ({
    destination: p.Destination,
    type: 'bind',
    source: p.Source,
    options: ['rbind', ...(p.RW ? [] : ['ro']), 'rprivate'],
  }));
}

/**
 * copyUp copies the image's content at each volume's destination into the volume when the
 * volume is empty (moby copyExistingContents: owners, modes, times, xattrs; the volume's root
 * takes the directory's owner and mode). `root` is the container's rootfs mounted read-only;
 * destinations resolve inside it (a symlink in the image cannot lead out).
 */
export async function copyUp(
  store: VolumeService,
  root: string,
  points: readonly VolumeMountPoint[],
): Promise<void> {
  const wanted = points.filter((p) => p.CopyData);
  if (wanted.length === 0) return;
  const scoped = await ScopedRoot.open(root);
  try {
    for (const p of wanted) {
      let inside: string;
      try {
        const r = await scoped.resolve(p.Destination, { followFinal: true });
        inside = r.path;
        await r.close();
      } catch {
        continue; // a missing parent in the image: nothing to copy
      }
      const src = join(root, inside);
      const st = await lstat(src).catch(() => undefined);
      if (st === undefined || !st.isDirectory()) continue;
      const data = await store.ensureMounted(p.Name);
      if ((await readdir(data)).length > 0) continue;
      await execFileP('cp', ['-a', '--', `${src}/.`, `${data}/`]);
    }
  } finally {
    await scoped.close();
  }
}
