/**
 * Checkpoint creation (moby `daemon/checkpoint.go`, containerd's `WithCheckpointImagePath`): CRIU
 * dumps through containerd's Tasks.Checkpoint with runc CheckpointOptions `image_path`/`work_path`,
 * so CRIU writes straight into the checkpoint directory (no content-store round trip).
 *
 * As containerd builds a checkpoint from options (`WithCheckpointTask`, `WithCheckpointRW`,
 * `WithCheckpointTaskExit` in `client/container_checkpoint_opts.go`), a checkpoint here is a
 * sequence of named steps over one `CheckpointRun`: make the directory, write the specs, find the
 * rootfs, dump (frozen with the rootfs capture, or stopping), verify, write config.dump, record.
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { overlayDirs, writeRootfsDiff, type OverlayDirs } from '../../archive/checkpoint-archive.js';
import { packCheckpointOptions, unpackSpec, type Container } from '../../containerd/index.js';
import {
  ConflictError,
  InternalError,
  NotImplementedError,
  isEngineError,
  wrapError,
} from '../../errors/index.js';
import type { ContainerInspect } from '../containers/index.js';
import { criuLogError, parseCriuDumpStats, type CriuDumpStats } from '../criu-stats.js';
import type { HealthState } from '../health/health-state.js';
import { checkpointVolumes } from '../volumes/checkpoint-volumes.js';
import {
  CHECKPOINT_IMAGES_DIR,
  CKPTD_DUMP,
  CONFIG_DUMP,
  DELETED_FILES,
  DUMP_LOG,
  INVENTORY_IMG,
  ROOTFS_DIFF_TAR,
  SPEC_DUMP,
  STATS_DUMP,
  exists,
  type CkptdDump,
  type ConfigDump,
} from './layout.js';
import type { CheckpointContext, CheckpointCreateOptions, CheckpointResult } from './types.js';

/** CheckpointRun is one checkpoint being taken: what each step reads and what it leaves. */
interface CheckpointRun {
  readonly ctx: CheckpointContext;
  readonly c: ContainerInspect;
  readonly id: string;
  /** displayName is the container's name without its leading slash. */
  readonly displayName: string;
  readonly name: string;
  readonly ckDir: string;
  readonly imagesDir: string;
  readonly opts: CheckpointCreateOptions;
  /** status is the task's status when the checkpoint began (RUNNING or PAUSED). */
  readonly status: string;
  readonly health: HealthState | undefined;
  readonly t0: number;
  /** overlay is the rootfs to capture; undefined with ignoreRootfs. */
  overlay?: OverlayDirs;
  /** stopped is set once CRIU has stopped the task (Exit=true): its health monitor ended. */
  stopped: boolean;
  checkpointMs: number;
  diffMs: number;
  diffBytes: number;
}

/**
 * createCheckpoint takes a checkpoint of a running (or paused) container `c` named `name` in
 * `parent`. The container's health monitor is suspended while CRIU dumps (a probe's process must
 * not be in the images) and resumed unless the checkpoint stopped the container.
 */
export async function createCheckpoint(
  ctx: CheckpointContext,
  c: ContainerInspect,
  name: string,
  parent: string,
  opts: CheckpointCreateOptions,
): Promise<CheckpointResult> {
  const id = c.Id;
  const status = await requireRunningTask(ctx, c);
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const health = await ctx.o.health?.suspend(id);
  const ckDir = join(parent, name);
  const run: CheckpointRun = {
    ctx,
    c,
    id,
    displayName: c.Name.replace(/^\//, ''),
    name,
    ckDir,
    imagesDir: join(ckDir, CHECKPOINT_IMAGES_DIR),
    opts,
    status,
    health,
    t0: performance.now(),
    stopped: false,
    checkpointMs: 0,
    diffMs: 0,
    diffBytes: 0,
  };
  try {
    await makeCheckpointDir(run);
    try {
      const ctd = await ctx.o.client.containers.get(id);
      await writeSpecDumps(run, ctd);
      run.overlay = await findRootfs(run, ctd);
      if (opts.leaveRunning === true) {
        await dumpFrozen(run);
      } else {
        await dumpStopping(run);
      }
      await verifyDump(run);
      const configDump = await writeConfigDump(run);
      const criu = await readDumpStats(run);
      if (opts.leaveRunning !== true) await recordStopped(run);
      ctx.o.events?.publish('container', 'checkpoint', id, {
        name: configDump.name,
        image: configDump.rootfsImageName,
        checkpoint: name,
      });
      return result(run, criu);
    } catch (err) {
      await rm(ckDir, { recursive: true, force: true });
      throw isEngineError(err) ? err : wrapError('checkpoint', err);
    }
  } finally {
    if (!run.stopped) ctx.o.health?.resume(id); // else the exit ended the suspended monitor
  }
}

/** requireRunningTask returns the task's status, refusing a container that is not running. */
async function requireRunningTask(ctx: CheckpointContext, c: ContainerInspect): Promise<string> {
  const task = await ctx.o.client.tasks.get(c.Id).catch(() => undefined);
  const status = task?.status;
  if (status !== 'RUNNING' && status !== 'PAUSED') {
    throw new ConflictError(`Container ${c.Name.replace(/^\//, '')} is not running`);
  }
  return status;
}

/** makeCheckpointDir creates the checkpoint's directory: a name taken is a conflict. */
async function makeCheckpointDir(run: CheckpointRun): Promise<void> {
  try {
    await mkdir(run.ckDir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConflictError(
        `checkpoint with name ${run.name} already exists for container ${run.displayName}`,
      );
    }
    throw wrapError('create checkpoint directory', err);
  }
}

/** writeSpecDumps writes spec.dump (the runtime spec) and ckptd.dump (the Docker config). */
async function writeSpecDumps(run: CheckpointRun, ctd: Container): Promise<void> {
  const { c, ctx } = run;
  await mkdir(run.imagesDir, { mode: 0o700 });
  const spec = ctd.spec ? unpackSpec(ctd.spec) : {};
  const ckptdDump: CkptdDump = {
    Name: run.displayName,
    Config: c.Config,
    HostConfig: c.HostConfig,
    Image: c.Image,
    ...(ctx.o.volumes ? { Volumes: checkpointVolumes(ctx.o.volumes, c.Mounts) } : {}),
    ...(run.health ? { Health: run.health } : {}),
  };
  await writeFile(join(run.ckDir, SPEC_DUMP), JSON.stringify(spec));
  await writeFile(join(run.ckDir, CKPTD_DUMP), JSON.stringify(ckptdDump));
}

/** findRootfs finds the container's overlay to capture (none with ignoreRootfs). */
async function findRootfs(run: CheckpointRun, ctd: Container): Promise<OverlayDirs | undefined> {
  const ignore = run.opts.ignoreRootfs === true;
  const mounts =
    ignore || ctd.snapshot_key === ''
      ? []
      : await run.ctx.o.client.snapshots(ctd.snapshotter).mounts(ctd.snapshot_key);
  const overlay = mounts.length === 1 && mounts[0] ? overlayDirs(mounts[0]) : undefined;
  if (!ignore && overlay === undefined) {
    throw new NotImplementedError(
      `the rootfs of snapshotter ${ctd.snapshotter} cannot be captured (overlay only); use ignoreRootfs`,
    );
  }
  return overlay;
}

/** captureRootfs writes rootfs-diff.tar and deleted.files from the container's upper dir. */
async function captureRootfs(run: CheckpointRun): Promise<void> {
  if (run.overlay === undefined) return;
  const d0 = performance.now();
  const s = await writeRootfsDiff(
    run.overlay,
    join(run.ckDir, ROOTFS_DIFF_TAR),
    join(run.ckDir, DELETED_FILES),
  );
  run.diffBytes = s.bytes;
  run.diffMs = performance.now() - d0;
}

/** dumpTask has CRIU dump the task through containerd, failing with CRIU's reason. */
async function dumpTask(run: CheckpointRun): Promise<void> {
  const { ctx, id, opts } = run;
  const client = ctx.o.client;
  const ckOpts = packCheckpointOptions({
    exit: opts.leaveRunning !== true,
    open_tcp: opts.tcpEstablished === true,
    file_locks: opts.fileLocks === true,
    image_path: run.imagesDir,
    work_path: run.ckDir,
  });
  const k0 = performance.now();
  try {
    await client.tasks.checkpoint(id, { options: ckOpts }, { deadlineMs: 30 * 60_000 });
  } catch (err) {
    // containerd went away: a 503, not a stop (issue 16)
    if (isEngineError(err) && err.kind === 'Unavailable') throw err;
    const log = await readFile(join(run.ckDir, DUMP_LOG), 'utf8').catch(() => '');
    const reason = criuLogError(log);
    const msg = err instanceof Error ? err.message : String(err);
    // killed under the checkpoint (`rm -f` kills at once, as dockerd's): the caller's race, not ours
    const now = await client.tasks.get(id).catch(() => undefined);
    if (now?.status !== 'RUNNING' && now?.status !== 'PAUSED') {
      throw new ConflictError(`Container ${run.displayName} stopped while it was being checkpointed`, {
        cause: err,
      });
    }
    throw new InternalError(`checkpoint failed: ${msg}${reason ? `; CRIU: ${reason}` : ''}`, {
      cause: err,
    });
  }
  run.checkpointMs = performance.now() - k0;
}

/**
 * pauseForCheckpoint freezes the task before its dump. A task that is gone or stopped by then
 * (`rm -f` and `kill` do not wait for the container's lock, as dockerd's) is the caller's race:
 * 409, as a kill during the dump is.
 */
async function pauseForCheckpoint(run: CheckpointRun): Promise<void> {
  const client = run.ctx.o.client;
  try {
    await client.tasks.pause(run.id);
  } catch (err) {
    if (isEngineError(err) && err.kind === 'Unavailable') throw err;
    const now = await client.tasks.get(run.id).catch(() => undefined);
    if (now?.status !== 'RUNNING' && now?.status !== 'PAUSED') {
      throw new ConflictError(`Container ${run.displayName} stopped while it was being checkpointed`, {
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * dumpFrozen dumps a container that keeps running. Files and memory must agree: freeze, then
 * dump (CRIU leaves the freezer as it found it) while the rootfs is captured (nothing can write
 * it while frozen), thaw. A failed thaw is logged (the pause mark then thaws it at next start).
 */
async function dumpFrozen(run: CheckpointRun): Promise<void> {
  const { ctx, id } = run;
  const paused = run.status === 'RUNNING';
  if (paused) {
    await ctx.o.pauseMarks?.mark(id);
    await pauseForCheckpoint(run).catch((err: unknown) => {
      ctx.o.pauseMarks?.done(id); // paused or not, the mark is the recovery's now
      throw err;
    });
  }
  try {
    const [dumped, captured] = await Promise.allSettled([dumpTask(run), captureRootfs(run)]);
    if (dumped.status === 'rejected') throw dumped.reason;
    if (captured.status === 'rejected') throw captured.reason;
  } finally {
    if (paused) {
      await ctx.o.client.tasks
        .resume(id)
        .then(
          () => ctx.o.pauseMarks?.clear(id),
          (err: unknown) =>
            ctx.o.logger?.warn({ err, id }, 'resuming the container after its checkpoint failed'),
        )
        .finally(() => ctx.o.pauseMarks?.done(id)); // a failed thaw is the reconnect recovery's
    }
  }
}

/**
 * dumpStopping dumps a container that stops with its checkpoint (Docker's default, Exit=true):
 * its restart policy ends first (restoring needs it stopped); the rootfs is captured first,
 * frozen, so that a capture that fails (a full disk) leaves the process running: CRIU's exit
 * kills it only once everything is written.
 */
async function dumpStopping(run: CheckpointRun): Promise<void> {
  const { ctx, id } = run;
  await ctx.o.containers.endRestartPolicy(id);
  const paused = run.status === 'RUNNING';
  if (paused) {
    await ctx.o.pauseMarks?.mark(id);
    await pauseForCheckpoint(run).catch((err: unknown) => {
      ctx.o.pauseMarks?.done(id);
      throw err;
    });
  }
  let dumped = false;
  try {
    await captureRootfs(run);
    await dumpTask(run);
    dumped = true;
    run.stopped = true; // the exit ends the suspended monitor
  } finally {
    // after a dump the killed task dies once thawed; after a failure it runs on
    if (paused) {
      await ctx.o.client.tasks.resume(id).then(
        () => ctx.o.pauseMarks?.clear(id),
        (err: unknown) => {
          if (dumped) return ctx.o.pauseMarks?.clear(id);
          ctx.o.logger?.warn({ err, id }, 'resuming the container after its checkpoint failed');
        },
      );
    }
  }
}

/** verifyDump checks what CRIU left (containerd 1.6 can report success for an incomplete checkpoint). */
async function verifyDump(run: CheckpointRun): Promise<void> {
  const images = await readdir(run.imagesDir);
  if (!images.includes(INVENTORY_IMG)) {
    throw new InternalError(`checkpoint of ${run.id} is incomplete: CRIU wrote no ${INVENTORY_IMG}`);
  }
}

/** writeConfigDump writes config.dump last: its presence marks a complete checkpoint (list). */
async function writeConfigDump(run: CheckpointRun): Promise<ConfigDump> {
  const { c, id } = run;
  const configDump: ConfigDump = {
    id,
    name: run.displayName,
    rootfsImage: c.Image,
    rootfsImageRef: c.Image,
    rootfsImageName: String(c.Config.Image ?? ''),
    rootfsImageID: c.Image.replace(/^sha256:/, ''),
    runtime: 'runc',
    createdTime: c.Created,
    checkpointedTime: new Date().toISOString(),
  };
  await writeFile(join(run.ckDir, CONFIG_DUMP), JSON.stringify(configDump));
  return configDump;
}

/** readDumpStats decodes CRIU's stats-dump (in the work dir, or among the images). */
async function readDumpStats(run: CheckpointRun): Promise<CriuDumpStats | undefined> {
  const statsFile = (await exists(join(run.ckDir, STATS_DUMP)))
    ? join(run.ckDir, STATS_DUMP)
    : join(run.imagesDir, STATS_DUMP);
  return readFile(statsFile).then(parseCriuDumpStats, () => undefined);
}

/**
 * recordStopped notes the checkpoint on the stopped container and lets the exit watcher record
 * the stop, so inspect shows it at once; the task's deletion and IO release go on in the
 * background (a restore waits for them: taskExited).
 */
async function recordStopped(run: CheckpointRun): Promise<void> {
  await run.ctx.o.containers.noteCheckpoint(run.id, 'checkpointed');
  await Promise.race([run.ctx.o.containers.exitRecorded(run.id), sleep(5000)]);
}

function result(run: CheckpointRun, criu: CriuDumpStats | undefined): CheckpointResult {
  return {
    id: run.id,
    name: run.name,
    dir: run.ckDir,
    stats: {
      ...(criu ? { criu } : {}),
      checkpointDurationMs: round(run.checkpointMs),
      rootfsDiffDurationMs: round(run.diffMs),
      rootfsDiffBytes: run.diffBytes,
      totalDurationMs: round(performance.now() - run.t0),
    },
  };
}

/** round rounds a duration to a tenth of a millisecond. */
export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
