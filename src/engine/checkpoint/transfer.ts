/**
 * Checkpoint transfer: an export is a checkpoint (kept with a `name`, else temporary in the
 * staging directory) packed as a tar stream by host programs, with the container's volumes; an
 * import unpacks such an archive into the staging directory and restores it into a new container.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { extractCheckpointArchive, packCheckpointDir } from '../../archive/checkpoint-archive.js';
import type { ArchiveSource, CompressionKind } from '../../archive/compression.js';
import { wrapError } from '../../errors/index.js';
import { validateCheckpointId } from '../../oci/names.js';
import { checkpointVolumes, exportVolumes } from '../volumes/checkpoint-volumes.js';
import { createCheckpoint, round } from './create.js';
import { CHECKPOINT_VOLUMES_DIR, IMPORTED_CHECKPOINT, containerCheckpointsDir } from './layout.js';
import { restoreNew } from './restore.js';
import type {
  CheckpointContext,
  CheckpointCreateOptions,
  CheckpointExport,
  CheckpointResult,
  RestoreOptions,
  RestoreResult,
} from './types.js';

/**
 * EXPORT_LEVELS are the compression levels of a checkpoint export. zstd runs at level 1: on CRIU
 * images (memory pages) it compresses within 0.5% of level 3 here (memhog 256 MiB: 135.7 vs
 * 135.0 MB) at ~1.4x the speed, and a single zstd thread is what bounds an export's stream.
 * gzip keeps zlib's default.
 */
const EXPORT_LEVELS: Partial<Record<CompressionKind, number>> = { zstd: 1 };

/** checkpointExport takes a checkpoint and returns it as an archive to open (or discard). */
export async function checkpointExport(
  ctx: CheckpointContext,
  ref: string,
  opts: CheckpointCreateOptions & { compress: CompressionKind },
  signal?: AbortSignal,
): Promise<CheckpointExport> {
  const c = await ctx.o.containers.containerInspect(ref, signal);
  const name = opts.name === undefined || opts.name === '' ? undefined : validateCheckpointId(opts.name);
  const dir = await ctx.checkDir(opts.dir);
  let parent = ctx.checkpointsDir(c.Id, dir);
  let temporary: string | undefined;
  if (name === undefined) {
    await mkdir(ctx.stagingDir, { recursive: true, mode: 0o700 });
    temporary = await mkdtemp(join(ctx.stagingDir, 'export-'));
    parent = temporary;
  }
  let result: CheckpointResult;
  try {
    result = await ctx.locked(c.Id, () =>
      createCheckpoint(ctx, c, name ?? `export-${randomBytes(4).toString('hex')}`, parent, opts),
    );
  } catch (err) {
    if (temporary) await rm(temporary, { recursive: true, force: true });
    throw err;
  }
  let scratch: string | undefined;
  // a stored checkpoint keeps no copy of the volumes: they were packed for this export only
  const volumesDir = name !== undefined ? join(result.dir, CHECKPOINT_VOLUMES_DIR) : undefined;
  const cleanup = () => {
    for (const d of [temporary, scratch, volumesDir])
      if (d)
        rm(d, { recursive: true, force: true }).catch((err: unknown) =>
          ctx.o.logger?.warn({ err, dir: d }, 'removing a checkpoint export directory failed'),
        );
  };
  let source: ArchiveSource;
  try {
    if (ctx.o.volumes && !opts.ignoreVolumes)
      await exportVolumes(ctx.o.volumes, checkpointVolumes(ctx.o.volumes, c.Mounts), result.dir);
    await mkdir(ctx.stagingDir, { recursive: true, mode: 0o700 });
    scratch = await mkdtemp(join(ctx.stagingDir, 'pack-'));
    source = await packCheckpointDir(result.dir, {
      compress: opts.compress,
      scratch,
      ...(EXPORT_LEVELS[opts.compress] !== undefined ? { level: EXPORT_LEVELS[opts.compress] } : {}),
    });
  } catch (err) {
    cleanup();
    throw wrapError('checkpoint export', err);
  }
  return {
    result,
    open: (stdout) => {
      let stream: Readable;
      try {
        stream = source.open(stdout);
      } catch (err) {
        cleanup();
        throw wrapError('checkpoint export', err);
      }
      stream.once('close', cleanup);
      return stream;
    },
    discard: cleanup,
  };
}

/** checkpointImport unpacks a checkpoint archive and restores it into a new container. */
export async function checkpointImport(
  ctx: CheckpointContext,
  input: Readable,
  opts: RestoreOptions,
  signal?: AbortSignal,
): Promise<RestoreResult> {
  await mkdir(ctx.stagingDir, { recursive: true, mode: 0o700 });
  // the archive is unpacked by nobody in `staging`: nobody else may reach it through here
  await chmod(ctx.stagingDir, 0o700);
  const staging = await mkdtemp(join(ctx.stagingDir, 'import-'));
  let kept = false;
  try {
    const t0 = performance.now();
    await extractCheckpointArchive(input, staging, signal ?? new AbortController().signal);
    const unpacked = performance.now();
    const res = await restoreNew(ctx, staging, opts, undefined, signal);
    if (res.stats) {
      res.stats = {
        unpackDurationMs: round(unpacked - t0),
        ...res.stats,
        totalDurationMs: round(performance.now() - t0),
      };
    }
    if (opts.keep) {
      const dest = containerCheckpointsDir(ctx.o.dataRoot, res.Id);
      await mkdir(dest, { recursive: true, mode: 0o700 });
      await rename(staging, join(dest, IMPORTED_CHECKPOINT));
      kept = true;
    }
    return res;
  } finally {
    if (!kept) await rm(staging, { recursive: true, force: true });
  }
}
