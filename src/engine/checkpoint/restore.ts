/**
 * Restore (containerd's `WithRestoreImagePath`): the task is created through Tasks.Create with
 * runc Options `criu_image_path` (containerd 1.6 `services/tasks/local.go` getRestorePath -> shim
 * `createdCheckpointState` -> `runc restore` at Tasks.Start), after the CRIU images are checked
 * against the spec ckptd built (checkpoint-trust). In place (`start?checkpoint=`), or into a new
 * container (`name`, an import, a checkpoint image) rebuilt by rebuild.ts.
 */
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { applyRootfsDiff } from '../../archive/checkpoint-archive.js';
import { mountPointsUnder, ownMountPoints } from '../../host/mountinfo.js';
import { overlayWorkdir } from '../../host/overlay.js';
import type { Mount } from '../../containerd/index.js';
import { unpackSpec } from '../../containerd/index.js';
import { recordedRootMode } from '../../criu/images.js';
import {
  ConflictError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  isEngineError,
  wrapError,
} from '../../errors/index.js';
import { validateCheckpointId } from '../../oci/names.js';
import type { ContainerInspect } from '../containers/index.js';
import { criuLogError, parseCriuRestoreStats, type CriuRestoreStats } from '../criu-stats.js';
import { parseHealthState } from '../health/health-state.js';
import { mountArgs, unmount } from '../rootfs.js';
import { removeVolumes, type ImportedVolumes } from '../volumes/checkpoint-volumes.js';
import { verifyCheckpointImages, type TrustSpec } from './checkpoint-trust.js';
import {
  CHECKPOINT_IMAGES_DIR,
  INVENTORY_IMG,
  RESTORE_LOG,
  ROOTFS_DIFF_TAR,
  STATS_RESTORE,
  exists,
} from './layout.js';
import { round } from './create.js';
import { createNew, readCkptdDump } from './rebuild.js';
import type { CheckpointContext, RestoreOptions, RestoreResult } from './types.js';

const execFileP = promisify(execFile);

/**
 * checkpointRestore restores the container's checkpoint `opts.checkpoint`: in place (the
 * container must be stopped), or into a new container when `opts.name` is given.
 */
export async function checkpointRestore(
  ctx: CheckpointContext,
  ref: string,
  opts: RestoreOptions,
  signal?: AbortSignal,
): Promise<RestoreResult> {
  if (opts.checkpoint === undefined || opts.checkpoint === '') {
    throw new InvalidArgumentError('checkpoint is required (or import=true with an archive)');
  }
  const name = validateCheckpointId(opts.checkpoint);
  const dir = await ctx.checkDir(opts.dir);
  const c = await ctx.o.containers.containerInspect(ref, signal);
  const ckDir = join(ctx.checkpointsDir(c.Id, dir), name);
  if (!(await exists(join(ckDir, CHECKPOINT_IMAGES_DIR, INVENTORY_IMG)))) {
    throw new NotFoundError(`checkpoint ${name} does not exist for container ${c.Name.replace(/^\//, '')}`);
  }
  if (opts.name !== undefined && opts.name !== '') {
    return restoreNew(ctx, ckDir, opts, c, signal);
  }
  return ctx.locked(c.Id, async () => {
    const fresh = await ctx.o.containers.containerInspect(c.Id, signal);
    if (fresh.State.Running)
      throw new ConflictError(`Container ${c.Name.replace(/^\//, '')} is already running`);
    await ctx.o.containers.taskExited(c.Id);
    const t0 = performance.now();
    const criu = await restoreTask(ctx, c.Id, ckDir);
    await ctx.o.containers.noteCheckpoint(c.Id, 'restored');
    ctx.o.events?.publish('container', 'restore', c.Id, {
      name: c.Name.replace(/^\//, ''),
      image: String(c.Config.Image ?? ''),
      checkpoint: name,
    });
    return {
      Id: c.Id,
      stats: {
        ...(criu ? { criu } : {}),
        restoreDurationMs: round(performance.now() - t0),
        totalDurationMs: round(performance.now() - t0),
      },
    };
  });
}

/**
 * restoreTask restores the task from ckDir's CRIU images, failing with CRIU's reason. The
 * images are first checked against the spec ckptd built for the container (checkpoint-trust):
 * an image asking for more than it grants is refused before CRIU runs.
 */
export async function restoreTask(
  ctx: CheckpointContext,
  id: string,
  ckDir: string,
): Promise<CriuRestoreStats | undefined> {
  const ctd = await ctx.o.client.containers.get(id);
  if (!ctd.spec) throw new InternalError(`container ${id} has no runtime spec`);
  await verifyCheckpointImages(join(ckDir, CHECKPOINT_IMAGES_DIR), unpackSpec<TrustSpec>(ctd.spec));
  // the health the checkpoint recorded (a status, never a grant: a bad one is none)
  const health = parseHealthState((await readCkptdDump(ckDir).catch(() => undefined))?.Health);
  await mkdir(ctx.stagingDir, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(ctx.stagingDir, 'restore-'));
  try {
    try {
      await ctx.o.containers.restoreTask(id, {
        imagePath: join(ckDir, CHECKPOINT_IMAGES_DIR),
        workPath: work,
        ...(health ? { health } : {}),
      });
    } catch (err) {
      const log = await readFile(join(work, RESTORE_LOG), 'utf8').catch(() => '');
      const reason = criuLogError(log);
      const msg = err instanceof Error ? err.message : String(err);
      throw new InternalError(`restore failed: ${msg}${reason ? `; CRIU: ${reason}` : ''}`, { cause: err });
    }
    const statsFile = (await exists(join(work, STATS_RESTORE)))
      ? join(work, STATS_RESTORE)
      : join(ckDir, CHECKPOINT_IMAGES_DIR, STATS_RESTORE);
    return await readFile(statsFile).then(parseCriuRestoreStats, () => undefined);
  } finally {
    await removeWork(ctx, work);
  }
}

/**
 * removeWork removes a restore's work directory. A failed CRIU restore can leave its cgroup
 * yard (`.criu.cgyard.*`) mounted there: those are unmounted first (deepest first), and a
 * removal that still fails is logged rather than hiding CRIU's own error.
 */
export async function removeWork(ctx: CheckpointContext, work: string): Promise<void> {
  const inside = await mountPointsUnder(work);
  for (const m of inside) await unmount(m);
  await rm(work, { recursive: true, force: true }).catch((err: unknown) =>
    ctx.o.logger?.warn({ err, work }, 'removing a restore work directory failed'),
  );
}
/**
 * restoreNew creates a new container from a checkpoint: the image named by config.dump, the
 * runtime spec rebuilt by ckptd from the Docker config (never spec.dump's mounts, hooks,
 * devices or capabilities), the rootfs diff applied to its fresh snapshot, then the task
 * restored from CRIU's images. On failure the new container is removed (task, snapshot, files).
 * `source` is the container whose checkpoint this is (undefined for an import): its host
 * settings, as ckptd recorded them, are the new container's; nothing in the checkpoint's own
 * files (ckptd.dump, config.dump, spec.dump) grants host resources.
 */
export async function restoreNew(
  ctx: CheckpointContext,
  ckDir: string,
  opts: RestoreOptions,
  source: ContainerInspect | undefined,
  signal?: AbortSignal,
): Promise<RestoreResult> {
  const t0 = performance.now();
  const { id, image, from, deleted, volumes } = await createNew(ctx, ckDir, opts, source, signal);
  const c0 = performance.now();
  try {
    if (!opts.ignoreRootfs) await applyRootfs(ctx, id, ckDir, deleted, signal);
    const r0 = performance.now();
    const criu = await restoreTask(ctx, id, ckDir);
    await ctx.o.containers.noteCheckpoint(id, 'restored');
    const info = await ctx.o.containers.containerInspect(id, signal);
    ctx.o.events?.publish('container', 'restore', id, {
      name: info.Name.replace(/^\//, ''),
      image,
      ...(from ? { from } : {}),
    });
    return {
      Id: id,
      stats: {
        ...(criu ? { criu } : {}),
        createDurationMs: round(c0 - t0),
        rootfsDurationMs: round(r0 - c0),
        restoreDurationMs: round(performance.now() - r0),
        totalDurationMs: round(performance.now() - t0),
      },
    };
  } catch (err) {
    await removeFailed(ctx, id, volumes);
    throw isEngineError(err) ? err : wrapError('restore', err);
  }
}

/**
 * createFromCheckpoint creates a new container from the unpacked checkpoint `ckDir` exactly as
 * an import would (same create request, same rules) and applies its rootfs diff, without
 * restoring the task: the checkpoint directory becomes the container's checkpoint `checkpoint`
 * (moved), which a later in-place restore (`start?checkpoint=`) runs through the same trust
 * checks. On failure the new container is removed. Returns the new container's ID.
 */
export async function createFromCheckpoint(
  ctx: CheckpointContext,
  ckDir: string,
  checkpoint: string,
  opts: RestoreOptions,
  signal?: AbortSignal,
): Promise<string> {
  const name = validateCheckpointId(checkpoint);
  const { id, deleted, volumes } = await createNew(ctx, ckDir, opts, undefined, signal);
  try {
    if (!opts.ignoreRootfs) await applyRootfs(ctx, id, ckDir, deleted, signal);
    const dest = ctx.checkpointsDir(id, undefined);
    await mkdir(dest, { recursive: true, mode: 0o700 });
    await rename(ckDir, join(dest, name));
    return id;
  } catch (err) {
    await removeFailed(ctx, id, volumes);
    throw isEngineError(err) ? err : wrapError('create from checkpoint', err);
  }
}

export async function removeFailed(
  ctx: CheckpointContext,
  id: string,
  volumes: ImportedVolumes['created'],
): Promise<void> {
  await ctx.o.containers
    .containerRemove(id, { force: true })
    .catch((e: unknown) =>
      ctx.o.logger?.warn({ err: e, id }, 'removing the container of a failed restore failed'),
    );
  if (ctx.o.volumes) await removeVolumes(ctx.o.volumes, volumes);
}

/** applyRootfs mounts the new container's snapshot and applies the rootfs diff to it. */
export async function applyRootfs(
  ctx: CheckpointContext,
  id: string,
  ckDir: string,
  deleted: string[],
  signal?: AbortSignal,
): Promise<void> {
  const diffPath = join(ckDir, ROOTFS_DIFF_TAR);
  const hasDiff = await exists(diffPath);
  // CRIU checks the root directory's mode against the one it recorded: another engine's
  // storage may have made it other than this snapshot's (Podman's is 0555); the permission
  // bits only, of a directory, are taken over (never setuid/setgid/sticky, never a type)
  const recorded = await recordedRootMode(join(ckDir, CHECKPOINT_IMAGES_DIR)).catch(() => undefined);
  const rootMode =
    recorded !== undefined && (recorded & 0o170000) === 0o040000 ? recorded & 0o777 : undefined;
  if (!hasDiff && deleted.length === 0 && rootMode === undefined) return;
  const ctd = await ctx.o.client.containers.get(id);
  const mounts = await ctx.o.client.snapshots(ctd.snapshotter).mounts(ctd.snapshot_key);
  await mkdir(ctx.stagingDir, { recursive: true, mode: 0o700 });
  const target = await mkdtemp(join(ctx.stagingDir, 'rootfs-'));
  try {
    const mounted = await mountForApply(mounts, target);
    try {
      await applyRootfsDiff(
        target,
        hasDiff ? createReadStream(diffPath) : undefined,
        deleted,
        signal ?? new AbortController().signal,
      );
      if (rootMode !== undefined && ((await stat(target)).mode & 0o777) !== rootMode) {
        await chmod(target, rootMode);
        ctx.o.logger?.info(
          { id, mode: rootMode.toString(8) },
          'restore: root directory mode as CRIU recorded it',
        );
      }
    } finally {
      await unmount(target);
      await mounted.release();
    }
  } finally {
    await rmdir(target).catch(() => undefined);
  }
}

/**
 * mountForApply mounts a new container's snapshot at `target` for the rootfs diff. An overlay
 * is mounted `volatile`: unmounting a writable overlay syncs the whole filesystem under its
 * upper dir, which after an import holds the just-unpacked CRIU images (~1 s per GiB here),
 * while the few files of a rootfs diff need no sync of their own (the container's later writes
 * get none either). A volatile mount marks its work dir so that it cannot be mounted again
 * (overlayfs.rst: the upper dir may be incomplete after a crash); release() clears that mark
 * once the mount is gone, so runc can mount the snapshot. Kernels without `volatile` (< 5.10)
 * get a plain mount.
 */
async function mountForApply(mounts: Mount[], target: string): Promise<{ release(): Promise<void> }> {
  const m = mounts[0];
  if (m === undefined || mounts.length !== 1)
    throw new InternalError('cannot mount the container rootfs: unexpected mounts');
  const mount = (options: string[]) => execFileP('mount', mountArgs(m, options, target));
  const workdir = overlayWorkdir(m);
  if (workdir !== undefined) {
    const mark = join(workdir, 'work', 'incompat', 'volatile');
    const release = async () => {
      const points = await ownMountPoints();
      if (points !== undefined && !points.includes(target)) await rm(mark, { recursive: true, force: true });
    };
    try {
      await mount([...m.options, 'volatile']);
      return { release };
    } catch {
      // no volatile overlays on this kernel: below
    }
  }
  await mount(m.type === 'bind' ? [...m.options, 'bind'] : [...m.options]);
  return { release: async () => undefined };
}

/**
 * sourceHostConfig is the host part of a new container restored from `c`'s checkpoint: every
 * setting ckptd recorded (and validated) when it created `c` (what shapes its spec must match its
 * CRIU images), never the checkpoint's files. The create of the copy checks them all again.
 */
