/**
 * Volumes in checkpoint archives, as Podman's (libpod `exportCheckpoint`, `restore`;
 * pkg/checkpoint `CRImportCheckpoint`): an export holds `volumes/<name>.tar` per volume the
 * container mounts (a tar of the volume's content with its root as `./`), unless
 * `ignoreVolumes`; ckptd.dump lists them (name, destination, rw, anonymous). An import checks
 * them all before any work: a named volume is restored into a NEW volume of that name, and an
 * existing volume of that name is refused (podman's rule; an archive never mounts a volume that
 * is already on the host: the caller may mount it by its own HostConfig instead); an anonymous
 * volume is restored into a new anonymous volume. The tars are untrusted: they are applied with
 * the rootfs diff's safe extraction (no `..`, no absolute names, no writes through symlinks, no
 * device nodes).
 */
import { cleanPath } from '../../oci/runtime-spec.js';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { applyRootfsDiff } from '../../archive/checkpoint-archive.js';
import { CHECKPOINT_VOLUMES_DIR, checkpointVolumeTar } from '../../archive/checkpoint-layout.js';
import { ConflictError, InvalidArgumentError } from '../../errors/index.js';
import { parseBind } from '../../oci/runtime-spec.js';
import { validateVolumeName } from './driver.js';
import { ANONYMOUS_LABEL, type VolumeService } from './store.js';

const execFileP = promisify(execFile);

/** MAX_VOLUMES bounds the volumes an archive may list. */
const MAX_VOLUMES = 128;

/** CheckpointVolume is a volume of a checkpointed container, as ckptd.dump lists it. */
export interface CheckpointVolume {
  Name: string;
  Destination: string;
  RW: boolean;
  Anonymous: boolean;
}

/** checkpointVolumes lists the volumes among a container's inspect `Mounts`. */
export function checkpointVolumes(
  store: VolumeService,
  mounts: readonly { Type: string; Name?: string; Destination: string; RW: boolean }[],
): CheckpointVolume[] {
  return mounts
    .filter((m) => m.Type === 'volume' && m.Name !== undefined && store.has(m.Name))
    .map((m) => ({
      Name: m.Name!,
      Destination: m.Destination,
      RW: m.RW,
      Anonymous: store.isAnonymous(m.Name!),
    }));
}

/**
 * exportVolumes writes `volumes/<name>.tar` into the checkpoint directory for each volume
 * (GNU tar of the volume's directory, numeric owners, xattrs, its root as `./`).
 */
export async function exportVolumes(
  store: VolumeService,
  vols: readonly CheckpointVolume[],
  ckDir: string,
): Promise<void> {
  if (vols.length === 0) return;
  const dir = join(ckDir, CHECKPOINT_VOLUMES_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const v of vols) {
    const data = await store.ensureMounted(v.Name);
    await execFileP(
      'tar',
      [
        '--create',
        `--file=${join(ckDir, checkpointVolumeTar(v.Name))}`,
        '--format=posix',
        '--numeric-owner',
        '--xattrs',
        '--xattrs-include=*',
        '--directory',
        data,
        '.',
      ],
      { maxBuffer: 1 << 20 },
    );
  }
}

/** parseCheckpointVolumes validates ckptd.dump's `Volumes` (untrusted). */
export function parseCheckpointVolumes(raw: unknown): CheckpointVolume[] {
  if (raw === undefined || raw === null) return [];
  const bad = (why: string) => new InvalidArgumentError(`invalid checkpoint: ckptd.dump Volumes: ${why}`);
  if (!Array.isArray(raw)) throw bad('must be an array');
  if (raw.length > MAX_VOLUMES) throw bad(`more than ${MAX_VOLUMES} volumes`);
  const seen = new Set<string>();
  return raw.map((v: unknown) => {
    if (v === null || typeof v !== 'object') throw bad('each entry must be an object');
    const o = v as Record<string, unknown>;
    if (typeof o.Name !== 'string' || typeof o.Destination !== 'string') throw bad('Name and Destination');
    try {
      validateVolumeName(o.Name);
    } catch (err) {
      throw bad((err as Error).message);
    }
    if (!o.Destination.startsWith('/') || cleanPath(o.Destination) === '/')
      throw bad(`destination ${JSON.stringify(o.Destination)} must be an absolute path below /`);
    const dest = cleanPath(o.Destination);
    if (seen.has(o.Name) || seen.has(dest)) throw bad(`${o.Name} at ${dest} listed twice`);
    seen.add(o.Name);
    seen.add(dest);
    return { Name: o.Name, Destination: dest, RW: o.RW !== false, Anonymous: o.Anonymous === true };
  });
}

/** destinationsOf are the container paths a HostConfig mounts something at. */
function destinationsOf(hc: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(hc.Binds))
    for (const b of hc.Binds) if (typeof b === 'string') out.add(parseBind(b).destination);
  if (Array.isArray(hc.Mounts)) {
    for (const m of hc.Mounts as { Target?: unknown }[])
      if (m && typeof m.Target === 'string') out.add(cleanPath(m.Target));
  }
  if (hc.Tmpfs && typeof hc.Tmpfs === 'object') for (const d of Object.keys(hc.Tmpfs)) out.add(cleanPath(d));
  return out;
}

/** ImportedVolumes are the volumes an import made, and the Mounts the new container gets. */
export interface ImportedVolumes {
  /** mounts are HostConfig.Mounts entries (type volume, nocopy) to add to the create request. */
  mounts: Record<string, unknown>[];
  /** created are the names of the volumes made for this import (removed if it fails). */
  created: string[];
}

/**
 * importVolumes checks the archive's volumes (all of them, before any work: a missing tar, or
 * an existing volume of a named volume's name, refuses the import), then creates them and
 * applies their tars (unless `ignoreVolumes`: new empty volumes). A volume whose destination the
 * caller's HostConfig mounts something else at is left out: the caller's mount wins.
 */
export async function importVolumes(
  store: VolumeService,
  ckDir: string,
  vols: readonly CheckpointVolume[],
  requested: Record<string, unknown>,
  ignoreVolumes: boolean,
  signal: AbortSignal,
): Promise<ImportedVolumes> {
  const taken = destinationsOf(requested);
  const wanted = vols.filter((v) => !taken.has(v.Destination));
  for (const v of wanted) {
    if (!v.Anonymous && store.has(v.Name)) {
      throw new ConflictError(
        ignoreVolumes
          ? `volume with name ${v.Name} already exists: an imported checkpoint only mounts new volumes; mount it in hostConfig (Binds "${v.Name}:${v.Destination}") to use it`
          : `volume with name ${v.Name} already exists. Use ignoreVolumes to not restore content of volumes (and mount it in hostConfig)`,
      );
    }
    if (ignoreVolumes) continue;
    const st = await lstat(join(ckDir, checkpointVolumeTar(v.Name))).catch(() => undefined);
    if (st === undefined || !st.isFile())
      throw new InvalidArgumentError(
        `invalid checkpoint: ${checkpointVolumeTar(v.Name)} is missing (export it without ignoreVolumes, or import with ignoreVolumes)`,
      );
  }
  const out: ImportedVolumes = { mounts: [], created: [] };
  try {
    for (const v of wanted) {
      const vol = await store.create(
        v.Anonymous ? '' : v.Name,
        null,
        v.Anonymous ? { [ANONYMOUS_LABEL]: '' } : null,
      );
      out.created.push(vol.Name);
      if (!ignoreVolumes) {
        const data = await store.ensureMounted(vol.Name);
        await applyRootfsDiff(
          data,
          createReadStream(join(ckDir, checkpointVolumeTar(v.Name))),
          [],
          signal,
          undefined,
          { rootEntry: true },
        );
      }
      out.mounts.push({
        Type: 'volume',
        Source: vol.Name,
        Target: v.Destination,
        ReadOnly: !v.RW,
        VolumeOptions: { NoCopy: true },
      });
    }
  } catch (err) {
    await removeVolumes(store, out.created);
    throw err;
  }
  return out;
}

/** removeVolumes removes volumes an import made (best effort). */
export async function removeVolumes(store: VolumeService, names: readonly string[]): Promise<void> {
  for (const n of names) await store.volumeRemove(n, true).catch(() => undefined);
}
