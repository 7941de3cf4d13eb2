/**
 * Checkpoint and restore (moby `daemon/checkpoint.go`, podman `pkg/checkpoint`, containerd's
 * `WithCheckpointImagePath`/`WithRestoreImagePath`): CRIU dumps through containerd's
 * Tasks.Checkpoint with runc CheckpointOptions `image_path`/`work_path`, so CRIU writes straight
 * into the checkpoint directory (no content-store round trip), and restores through
 * Tasks.Create with runc Options `criu_image_path` (containerd 1.6 `services/tasks/local.go`
 * getRestorePath -> shim `createdCheckpointState` -> `runc restore` at Tasks.Start).
 *
 * A checkpoint is a directory in the Podman/CRI-O layout: `config.dump`, `spec.dump`,
 * `checkpoint/` (CRIU's images), `rootfs-diff.tar` + `deleted.files`, `stats-dump`, `dump.log`,
 * plus ckptd's `ckptd.dump` (the Docker config, to rebuild a container under ckptd's rules).
 * By default it lives in `<data-root>/containers/<id>/checkpoints/<name>/`.
 */
import type { PauseMarks } from './pause-marks.js';
import { ContainerLocks } from './container-locks.js';
import { isZero } from '../oci/create-fields.js';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  access,
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises';
import { recordedRootMode } from '../criu/images.js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  DELETED_FILES,
  ROOTFS_DIFF_TAR,
  applyRootfsDiff,
  extractCheckpointArchive,
  overlayDirs,
  packCheckpointDir,
  parseDeletedFiles,
  writeRootfsDiff,
} from '../archive/checkpoint-archive.js';
import { mountPoints } from '../archive/container-archive.js';
import type { ArchiveSource, CompressionKind } from '../archive/compression.js';
import type { ContainerdClient, Mount } from '../containerd/index.js';
import { packCheckpointOptions, unpackSpec } from '../containerd/index.js';
import { mountArgs, unmount } from './rootfs.js';
import {
  ConflictError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  isEngineError,
  wrapError,
} from '../errors/index.js';
import { validateCheckpointId } from '../oci/names.js';
import { verifyCheckpointImages, type TrustSpec } from './checkpoint-trust.js';
import { resolveCheckpointDir } from './checkpoint-dirs.js';
import type {
  ContainerInspect,
  CreateContainerRequest,
  CreateContainerResponse,
  ImageResolver,
  RemoveOptions,
  RestoreTaskOptions,
  StartOptions,
} from './containers/index.js';
import {
  criuLogError,
  parseCriuDumpStats,
  parseCriuRestoreStats,
  type CriuDumpStats,
  type CriuRestoreStats,
} from './criu-stats.js';
import {
  checkpointVolumes,
  CHECKPOINT_VOLUMES_DIR,
  exportVolumes,
  importVolumes,
  parseCheckpointVolumes,
  removeVolumes,
  type CheckpointVolume,
  type ImportedVolumes,
} from './volumes/checkpoint-volumes.js';
import type { VolumeService } from './volumes/store.js';
import { parseHealthState, type HealthState } from './health/health-state.js';

const execFileP = promisify(execFile);

/** CHECKPOINT_IMAGES_DIR is where CRIU's images go inside a checkpoint (Podman layout). */
export const CHECKPOINT_IMAGES_DIR = 'checkpoint';
/** CKPTD_DUMP is ckptd's own file in a checkpoint: the Docker config of the container. */
export const CKPTD_DUMP = 'ckptd.dump';

/** CheckpointSummary is one element of GET /containers/{id}/checkpoints. */
export interface CheckpointSummary {
  Name: string;
}

/** CheckpointCreateOptions are the checkpoint parameters (docker's and podman's). */
export interface CheckpointCreateOptions {
  /** name of the checkpoint; a generated one when absent (export only). */
  name?: string;
  /** dir is the parent directory of the checkpoint (Docker's CheckpointDir). */
  dir?: string;
  /** leaveRunning keeps the container running (Docker: Exit=false). */
  leaveRunning?: boolean;
  tcpEstablished?: boolean;
  fileLocks?: boolean;
  /** ignoreRootfs skips the rootfs diff. */
  ignoreRootfs?: boolean;
  /** ignoreVolumes leaves the container's volumes out of an export (podman --ignore-volumes). */
  ignoreVolumes?: boolean;
}

/** CheckpointResult describes a checkpoint just taken. */
export interface CheckpointResult {
  /** id of the container. */
  id: string;
  name: string;
  dir: string;
  /** stats are CRIU's dump timings and counts (stats-dump), plus ckptd's own. */
  stats: CheckpointStats;
}

/** CheckpointStats are what printStats reports. */
export interface CheckpointStats {
  criu?: CriuDumpStats;
  /** checkpointDurationMs is the whole Tasks.Checkpoint call. */
  checkpointDurationMs: number;
  /** rootfsDiffDurationMs is the rootfs capture. */
  rootfsDiffDurationMs: number;
  rootfsDiffBytes: number;
  /** totalDurationMs is the whole operation. */
  totalDurationMs: number;
}

/** CheckpointExport is an export: the archive stream and the checkpoint it comes from. */
export interface CheckpointExport {
  result: CheckpointResult;
  /**
   * open starts producing the archive, read through the returned stream or, given `stdout`,
   * written into that socket by the host programs themselves (the stream then only ends or
   * fails). Call it once, or discard(): the exported checkpoint is released when it closes.
   */
  open(stdout?: Socket): Readable;
  /** discard releases the exported checkpoint without producing the archive. */
  discard(): void;
}

/** RestoreOptions are POST /containers/{id}/restore's parameters. */
export interface RestoreOptions {
  /** checkpoint names the container's checkpoint to restore from (not for imports). */
  checkpoint?: string;
  /** dir is the parent directory of the checkpoint. */
  dir?: string;
  /** name restores into a new container with that name (in place when absent). */
  name?: string;
  tcpEstablished?: boolean;
  /** ignoreRootfs skips applying the rootfs diff (new containers only). */
  ignoreRootfs?: boolean;
  /** keep keeps an imported checkpoint as a checkpoint of the new container. */
  keep?: boolean;
  /** ignoreVolumes: an import makes the archive's volumes empty, without their content. */
  ignoreVolumes?: boolean;
  /**
   * hostConfig is the caller's HostConfig for a new container (import or `name`): the only way
   * host settings (limits, capabilities, binds, network) reach an imported container, checked by
   * create's rules, then the CRIU images are checked against the spec built from it.
   */
  hostConfig?: Record<string, unknown>;
}

/** RestoreResult is the running container. */
export interface RestoreResult {
  Id: string;
  stats?: {
    criu?: CriuRestoreStats;
    /** unpackDurationMs: an import's archive unpacked into the staging directory */
    unpackDurationMs?: number;
    /** createDurationMs: the new container created (image resolved, snapshot, record) */
    createDurationMs?: number;
    /** rootfsDurationMs: the checkpoint's filesystem changes applied to the new container */
    rootfsDurationMs?: number;
    /** restoreDurationMs: the task restored by CRIU */
    restoreDurationMs: number;
    totalDurationMs: number;
  };
}

/**
 * CheckpointBackend is what the checkpoint routes call (moby `router/checkpoint/backend.go`
 * plus ckptd's export/import).
 */
export interface CheckpointBackend {
  checkpointCreate(
    ref: string,
    opts: CheckpointCreateOptions,
    signal?: AbortSignal,
  ): Promise<CheckpointResult>;
  checkpointExport(
    ref: string,
    opts: CheckpointCreateOptions & { compress: CompressionKind },
    signal?: AbortSignal,
  ): Promise<CheckpointExport>;
  checkpointList(ref: string, dir?: string, signal?: AbortSignal): Promise<CheckpointSummary[]>;
  checkpointDelete(ref: string, name: string, dir?: string, signal?: AbortSignal): Promise<void>;
  checkpointRestore(ref: string, opts: RestoreOptions, signal?: AbortSignal): Promise<RestoreResult>;
  checkpointImport(input: Readable, opts: RestoreOptions, signal?: AbortSignal): Promise<RestoreResult>;
  /** startFromCheckpoint serves `POST /containers/{id}/start?checkpoint=`. */
  startFromCheckpoint(ref: string, opts: StartOptions, signal?: AbortSignal): Promise<void>;
}

/** CheckpointContainers is the part of the container lifecycle the checkpoint engine uses. */
export interface CheckpointContainers {
  containerInspect(ref: string, signal?: AbortSignal): Promise<ContainerInspect>;
  containerCreate(
    name: string | undefined,
    req: CreateContainerRequest,
    signal?: AbortSignal,
  ): Promise<CreateContainerResponse>;
  containerRemove(ref: string, opts?: RemoveOptions): Promise<void>;
  restoreTask(id: string, restore: RestoreTaskOptions): Promise<number>;
  noteCheckpoint(id: string, what: 'checkpointed' | 'restored'): Promise<void>;
  /** ends the restart policy until the next start: a checkpoint that stops is a manual stop */
  endRestartPolicy(id: string): Promise<void>;
  taskExited(id: string): Promise<void>;
  /** resolves once the task's exit is recorded, before its deletion and IO release finish */
  exitRecorded(id: string): Promise<void>;
}

/**
 * EXPORT_LEVELS are the compression levels of a checkpoint export. zstd runs at level 1: on CRIU
 * images (memory pages) it compresses within 0.5% of level 3 here (memhog 256 MiB: 135.7 vs
 * 135.0 MB) at ~1.4x the speed, and a single zstd thread is what bounds an export's stream.
 * gzip keeps zlib's default.
 */
const EXPORT_LEVELS: Partial<Record<CompressionKind, number>> = { zstd: 1 };

/** CheckpointEvents publishes engine events (EventsService). */
export interface CheckpointEvents {
  publish(type: string, action: string, id: string, attributes?: Record<string, string>): void;
}

/**
 * CheckpointHealth is the health-check engine as a checkpoint sees it: its monitor is stopped
 * before CRIU dumps the container (a probe's process must not be in the images) and its state
 * recorded in ckptd.dump, so the restored container continues from it.
 */
export interface CheckpointHealth {
  suspend(id: string): Promise<HealthState | undefined>;
  resume(id: string): void;
}

/** CheckpointServiceOptions configure a CheckpointService. */
export interface CheckpointServiceOptions {
  /** pauseMarks records on disk which containers ckptd froze (thawed at the next start after a crash). */
  pauseMarks?: PauseMarks;
  /** locks is the per-container mutex shared with the container and archive services. */
  locks?: ContainerLocks;
  client: ContainerdClient;
  containers: CheckpointContainers;
  images: Pick<ImageResolver, 'resolveImage'>;
  events?: CheckpointEvents;
  health?: CheckpointHealth;
  dataRoot: string;
  /** volumes is the volume store: exports carry the container's volumes, imports restore them. */
  volumes?: VolumeService;
  /** checkpointDirs are the host directories besides the data root a caller's `dir` may name. */
  checkpointDirs?: readonly string[];
  logger?: {
    info(o: object, m?: string): void;
    warn(o: object, m?: string): void;
    debug(o: object, m?: string): void;
  };
}

/** ConfigDump is Podman's config.dump (checkpointctl `ContainerConfig`). */
export interface ConfigDump {
  id: string;
  name: string;
  rootfsImage: string;
  rootfsImageRef: string;
  rootfsImageName: string;
  /** rootfsImageID is libpod's name for the image ID (hex, no algorithm): Podman reads it */
  rootfsImageID?: string;
  runtime: string;
  createdTime: string;
  checkpointedTime: string;
  restoredTime?: string;
  restored?: boolean;
}

/** CkptdDump is ckptd.dump: the Docker-level config a new container is rebuilt from. */
export interface CkptdDump {
  Name: string;
  Config: Record<string, unknown>;
  HostConfig: Record<string, unknown>;
  Image: string;
  /** Volumes are the container's volumes (their content in `volumes/<Name>.tar` of an export). */
  Volumes?: CheckpointVolume[];
  /** Health is State.Health when the checkpoint was taken (a restore continues from it). */
  Health?: HealthState;
}

function runningState(i: ContainerInspect): boolean {
  return i.State.Running;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

async function readBounded(path: string, max = 16 * 1024 * 1024): Promise<string | undefined> {
  // lstat: a checkpoint's file is never a link to a host file
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return undefined;
  if (!st.isFile() || st.size > max) throw new InvalidArgumentError(`${path}: not a file or too large`);
  return readFile(path, 'utf8');
}

/**
 * CheckpointService implements CheckpointBackend over containerd, runc and CRIU.
 */
export class CheckpointService implements CheckpointBackend {
  readonly #o: CheckpointServiceOptions;
  readonly #locks: ContainerLocks;

  constructor(o: CheckpointServiceOptions) {
    this.#o = o;
    this.#locks = o.locks ?? new ContainerLocks();
  }

  /** stagingDir holds temporary checkpoints (exports) and imports being unpacked. */
  get stagingDir(): string {
    return join(this.#o.dataRoot, 'checkpoint-staging');
  }

  /**
   * clearStaging removes what a previous run of the daemon left in the staging directory (an
   * export or import cut short by a crash). Called once at start, before any request.
   */
  async clearStaging(): Promise<void> {
    // never recurse into something mounted below it
    const inside = ((await ownMountPoints()) ?? []).filter((m) => m.startsWith(`${this.stagingDir}/`));
    if (inside.length > 0) {
      this.#o.logger?.warn({ mounts: inside }, 'checkpoint staging has mounts below it: left in place');
      return;
    }
    await rm(this.stagingDir, { recursive: true, force: true });
  }

  #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(id, fn);
  }

  /** #checkDir resolves a caller's checkpoint directory: under the data root or --checkpoint-dirs. */
  #checkDir(dir: string | undefined): Promise<string | undefined> {
    return resolveCheckpointDir(dir, this.#o.dataRoot, this.#o.checkpointDirs ?? []);
  }

  #checkpointsDir(id: string, dir: string | undefined): string {
    return dir ?? join(this.#o.dataRoot, 'containers', id, 'checkpoints');
  }

  // ---- create ----

  async checkpointCreate(
    ref: string,
    opts: CheckpointCreateOptions,
    signal?: AbortSignal,
  ): Promise<CheckpointResult> {
    // dockerd looks the container up first: an unknown one is a 404 whatever the name
    const c = await this.#o.containers.containerInspect(ref, signal);
    if (opts.name === undefined) throw new InvalidArgumentError('name is required (or export=true)');
    const name = validateCheckpointId(opts.name);
    const dir = await this.#checkDir(opts.dir);
    return this.#locked(c.Id, () => this.#create(c, name, this.#checkpointsDir(c.Id, dir), opts));
  }

  async checkpointExport(
    ref: string,
    opts: CheckpointCreateOptions & { compress: CompressionKind },
    signal?: AbortSignal,
  ): Promise<CheckpointExport> {
    const c = await this.#o.containers.containerInspect(ref, signal);
    const name = opts.name === undefined || opts.name === '' ? undefined : validateCheckpointId(opts.name);
    const dir = await this.#checkDir(opts.dir);
    let parent = this.#checkpointsDir(c.Id, dir);
    let temporary: string | undefined;
    if (name === undefined) {
      await mkdir(this.stagingDir, { recursive: true, mode: 0o700 });
      temporary = await mkdtemp(join(this.stagingDir, 'export-'));
      parent = temporary;
    }
    let result: CheckpointResult;
    try {
      result = await this.#locked(c.Id, () =>
        this.#create(c, name ?? `export-${randomBytes(4).toString('hex')}`, parent, opts),
      );
    } catch (err) {
      if (temporary) await rm(temporary, { recursive: true, force: true });
      throw err;
    }
    let scratch: string | undefined;
    // a stored checkpoint keeps no copy of the volumes: they were packed for this export only
    const volumesDir = name !== undefined ? join(result.dir, CHECKPOINT_VOLUMES_DIR) : undefined;
    const cleanup = () => {
      for (const d of [temporary, scratch, volumesDir]) if (d) void rm(d, { recursive: true, force: true });
    };
    let source: ArchiveSource;
    try {
      if (this.#o.volumes && !opts.ignoreVolumes)
        await exportVolumes(this.#o.volumes, checkpointVolumes(this.#o.volumes, c.Mounts), result.dir);
      await mkdir(this.stagingDir, { recursive: true, mode: 0o700 });
      scratch = await mkdtemp(join(this.stagingDir, 'pack-'));
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

  async #create(
    c: ContainerInspect,
    name: string,
    parent: string,
    opts: CheckpointCreateOptions,
  ): Promise<CheckpointResult> {
    const id = c.Id;
    const client = this.#o.client;
    const task = await client.tasks.get(id).catch(() => undefined);
    const status = task?.status;
    if (status !== 'RUNNING' && status !== 'PAUSED') {
      throw new ConflictError(`Container ${c.Name.replace(/^\//, '')} is not running`);
    }
    const ckDir = join(parent, name);
    await mkdir(parent, { recursive: true, mode: 0o700 });
    const health = await this.#o.health?.suspend(id);
    let resumeHealth = true; // unless the checkpoint stopped the container
    try {
      return await this.#createIn(c, name, ckDir, opts, status, health, () => (resumeHealth = false));
    } finally {
      if (resumeHealth) this.#o.health?.resume(id);
    }
  }

  async #createIn(
    c: ContainerInspect,
    name: string,
    ckDir: string,
    opts: CheckpointCreateOptions,
    status: string,
    health: HealthState | undefined,
    stopping: () => void,
  ): Promise<CheckpointResult> {
    const t0 = performance.now();
    const id = c.Id;
    const client = this.#o.client;
    try {
      await mkdir(ckDir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new ConflictError(
          `checkpoint with name ${name} already exists for container ${c.Name.replace(/^\//, '')}`,
        );
      }
      throw wrapError('create checkpoint directory', err);
    }
    try {
      const imagesDir = join(ckDir, CHECKPOINT_IMAGES_DIR);
      await mkdir(imagesDir, { mode: 0o700 });
      const ctd = await client.containers.get(id);
      const spec = ctd.spec ? unpackSpec(ctd.spec) : {};
      const now = new Date().toISOString();
      const configDump: ConfigDump = {
        id,
        name: c.Name.replace(/^\//, ''),
        rootfsImage: c.Image,
        rootfsImageRef: c.Image,
        rootfsImageName: String(c.Config.Image ?? ''),
        rootfsImageID: c.Image.replace(/^sha256:/, ''),
        runtime: 'runc',
        createdTime: c.Created,
        checkpointedTime: now,
      };
      const ckptdDump: CkptdDump = {
        Name: c.Name.replace(/^\//, ''),
        Config: c.Config,
        HostConfig: c.HostConfig,
        Image: c.Image,
        ...(this.#o.volumes ? { Volumes: checkpointVolumes(this.#o.volumes, c.Mounts) } : {}),
        ...(health ? { Health: health } : {}),
      };
      await writeFile(join(ckDir, 'spec.dump'), JSON.stringify(spec));
      await writeFile(join(ckDir, CKPTD_DUMP), JSON.stringify(ckptdDump));

      const mounts =
        opts.ignoreRootfs || ctd.snapshot_key === ''
          ? []
          : await client.snapshots(ctd.snapshotter).mounts(ctd.snapshot_key);
      const overlay = mounts.length === 1 && mounts[0] ? overlayDirs(mounts[0]) : undefined;
      if (!opts.ignoreRootfs && overlay === undefined) {
        throw new NotImplementedError(
          `the rootfs of snapshotter ${ctd.snapshotter} cannot be captured (overlay only); use ignoreRootfs`,
        );
      }
      const leave = opts.leaveRunning === true;
      const ckOpts = packCheckpointOptions({
        exit: !leave,
        open_tcp: opts.tcpEstablished === true,
        file_locks: opts.fileLocks === true,
        image_path: imagesDir,
        work_path: ckDir,
      });
      let checkpointMs = 0;
      let diffMs = 0;
      let diffBytes = 0;
      const captureRootfs = async () => {
        if (overlay === undefined) return;
        const d0 = performance.now();
        const s = await writeRootfsDiff(overlay, join(ckDir, ROOTFS_DIFF_TAR), join(ckDir, DELETED_FILES));
        diffBytes = s.bytes;
        diffMs = performance.now() - d0;
      };
      const dump = async () => {
        const k0 = performance.now();
        try {
          await client.tasks.checkpoint(id, { options: ckOpts }, { deadlineMs: 30 * 60_000 });
        } catch (err) {
          if (isEngineError(err) && err.kind === 'Unavailable') throw err; // issue 16: containerd went away: a 503, not a stop
          const log = await readFile(join(ckDir, 'dump.log'), 'utf8').catch(() => '');
          const reason = criuLogError(log);
          const msg = err instanceof Error ? err.message : String(err);
          // killed under the checkpoint (`rm -f` kills at once, as dockerd's): the caller's race, not ours
          const now = await client.tasks.get(id).catch(() => undefined);
          if (now?.status !== 'RUNNING' && now?.status !== 'PAUSED') {
            throw new ConflictError(
              `Container ${c.Name.replace(/^\//, '')} stopped while it was being checkpointed`,
              { cause: err },
            );
          }
          throw new InternalError(`checkpoint failed: ${msg}${reason ? `; CRIU: ${reason}` : ''}`, {
            cause: err,
          });
        }
        checkpointMs = performance.now() - k0;
      };
      if (leave) {
        // Files and memory must agree: freeze, then dump (CRIU leaves the freezer as it found
        // it) while the rootfs is captured (nothing can write it while frozen), thaw.
        const paused = status === 'RUNNING';
        if (paused) {
          await this.#o.pauseMarks?.mark(id);
          await client.tasks.pause(id).catch((err: unknown) => {
            this.#o.pauseMarks?.done(id); // issue 16: paused or not, the mark is recovery's now
            throw err;
          });
        }
        try {
          const [dumped, captured] = await Promise.allSettled([dump(), captureRootfs()]);
          if (dumped.status === 'rejected') throw dumped.reason;
          if (captured.status === 'rejected') throw captured.reason;
        } finally {
          if (paused) {
            await client.tasks
              .resume(id)
              .then(
                () => this.#o.pauseMarks?.clear(id),
                (err: unknown) =>
                  this.#o.logger?.warn({ err, id }, 'resuming the container after its checkpoint failed'),
              )
              .finally(() => this.#o.pauseMarks?.done(id)); // issue 16: a failed thaw is the reconnect recovery's
          }
        }
      } else {
        await this.#o.containers.endRestartPolicy(id); // restoring needs it stopped
        // [issue 16: disk full] the rootfs is captured first, frozen, so that a capture that
        // fails (ENOSPC) leaves the process running: CRIU's exit kills it only once all is written
        const paused = status === 'RUNNING';
        if (paused) {
          await this.#o.pauseMarks?.mark(id);
          await client.tasks.pause(id);
        }
        let dumped = false;
        try {
          await captureRootfs();
          await dump();
          dumped = true;
          stopping(); // the exit ends the suspended monitor
        } finally {
          // after a dump the killed task dies once thawed; after a failure it runs on
          if (paused) {
            await client.tasks.resume(id).then(
              () => this.#o.pauseMarks?.clear(id),
              (err: unknown) => {
                if (dumped) return this.#o.pauseMarks?.clear(id);
                this.#o.logger?.warn({ err, id }, 'resuming the container after its checkpoint failed');
              },
            );
          }
        }
      }
      // Verify what CRIU left (containerd 1.6 can report success for an incomplete checkpoint).
      const images = await readdir(imagesDir);
      if (!images.includes('inventory.img')) {
        throw new InternalError(`checkpoint of ${id} is incomplete: CRIU wrote no inventory.img`);
      }
      await writeFile(join(ckDir, 'config.dump'), JSON.stringify(configDump));
      const statsFile = (await exists(join(ckDir, 'stats-dump')))
        ? join(ckDir, 'stats-dump')
        : join(imagesDir, 'stats-dump');
      const criu = await readFile(statsFile).then(parseCriuDumpStats, () => undefined);
      if (!leave) {
        await this.#o.containers.noteCheckpoint(id, 'checkpointed');
        // let the exit watcher record the stop, so inspect shows it at once; the task's deletion
        // and IO release go on in the background (a restore waits for them: taskExited, #start)
        await Promise.race([this.#o.containers.exitRecorded(id), sleep(5000)]);
      }
      this.#o.events?.publish('container', 'checkpoint', id, {
        name: configDump.name,
        image: configDump.rootfsImageName,
        checkpoint: name,
      });
      return {
        id,
        name,
        dir: ckDir,
        stats: {
          ...(criu ? { criu } : {}),
          checkpointDurationMs: round(checkpointMs),
          rootfsDiffDurationMs: round(diffMs),
          rootfsDiffBytes: diffBytes,
          totalDurationMs: round(performance.now() - t0),
        },
      };
    } catch (err) {
      await rm(ckDir, { recursive: true, force: true });
      throw isEngineError(err) ? err : wrapError('checkpoint', err);
    }
  }

  // ---- list / delete ----

  async checkpointList(ref: string, dir?: string, signal?: AbortSignal): Promise<CheckpointSummary[]> {
    const d = await this.#checkDir(dir);
    const c = await this.#o.containers.containerInspect(ref, signal);
    const parent = this.#checkpointsDir(c.Id, d);
    const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
    const out: CheckpointSummary[] = [];
    for (const e of entries) {
      if (e.isDirectory() && (await exists(join(parent, e.name, 'config.dump')))) out.push({ Name: e.name });
    }
    return out.sort((a, b) => (a.Name < b.Name ? -1 : 1));
  }

  async checkpointDelete(ref: string, name: string, dir?: string, signal?: AbortSignal): Promise<void> {
    const n = validateCheckpointId(name);
    const d = await this.#checkDir(dir);
    const c = await this.#o.containers.containerInspect(ref, signal);
    const ckDir = join(this.#checkpointsDir(c.Id, d), n);
    if (!(await exists(join(ckDir, 'config.dump'))) && !(await exists(join(ckDir, CHECKPOINT_IMAGES_DIR)))) {
      throw new NotFoundError(`checkpoint ${n} does not exist for container ${c.Name.replace(/^\//, '')}`);
    }
    await rm(ckDir, { recursive: true, force: true });
  }

  // ---- restore ----

  async startFromCheckpoint(ref: string, opts: StartOptions, signal?: AbortSignal): Promise<void> {
    await this.checkpointRestore(
      ref,
      {
        ...(opts.checkpoint !== undefined ? { checkpoint: opts.checkpoint } : {}),
        ...(opts.checkpointDir ? { dir: opts.checkpointDir } : {}),
      },
      signal,
    );
  }

  async checkpointRestore(ref: string, opts: RestoreOptions, signal?: AbortSignal): Promise<RestoreResult> {
    if (opts.checkpoint === undefined || opts.checkpoint === '') {
      throw new InvalidArgumentError('checkpoint is required (or import=true with an archive)');
    }
    const name = validateCheckpointId(opts.checkpoint);
    const dir = await this.#checkDir(opts.dir);
    const c = await this.#o.containers.containerInspect(ref, signal);
    const ckDir = join(this.#checkpointsDir(c.Id, dir), name);
    if (!(await exists(join(ckDir, CHECKPOINT_IMAGES_DIR, 'inventory.img')))) {
      throw new NotFoundError(`checkpoint ${name} does not exist for container ${c.Name.replace(/^\//, '')}`);
    }
    if (opts.name !== undefined && opts.name !== '') {
      return this.#restoreNew(ckDir, opts, c, signal);
    }
    return this.#locked(c.Id, async () => {
      const fresh = await this.#o.containers.containerInspect(c.Id, signal);
      if (runningState(fresh))
        throw new ConflictError(`Container ${c.Name.replace(/^\//, '')} is already running`);
      await this.#o.containers.taskExited(c.Id);
      const t0 = performance.now();
      const criu = await this.#restoreTask(c.Id, ckDir);
      await this.#o.containers.noteCheckpoint(c.Id, 'restored');
      this.#o.events?.publish('container', 'restore', c.Id, {
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
   * #restoreTask restores the task from ckDir's CRIU images, failing with CRIU's reason. The
   * images are first checked against the spec ckptd built for the container (checkpoint-trust):
   * an image asking for more than it grants is refused before CRIU runs.
   */
  async #restoreTask(id: string, ckDir: string): Promise<CriuRestoreStats | undefined> {
    const ctd = await this.#o.client.containers.get(id);
    if (!ctd.spec) throw new InternalError(`container ${id} has no runtime spec`);
    await verifyCheckpointImages(join(ckDir, CHECKPOINT_IMAGES_DIR), unpackSpec<TrustSpec>(ctd.spec));
    // the health the checkpoint recorded (a status, never a grant: a bad one is none)
    const health = parseHealthState((await this.#dockerConfig(ckDir).catch(() => undefined))?.Health);
    await mkdir(this.stagingDir, { recursive: true, mode: 0o700 });
    const work = await mkdtemp(join(this.stagingDir, 'restore-'));
    try {
      try {
        await this.#o.containers.restoreTask(id, {
          imagePath: join(ckDir, CHECKPOINT_IMAGES_DIR),
          workPath: work,
          ...(health ? { health } : {}),
        });
      } catch (err) {
        const log = await readFile(join(work, 'restore.log'), 'utf8').catch(() => '');
        const reason = criuLogError(log);
        const msg = err instanceof Error ? err.message : String(err);
        throw new InternalError(`restore failed: ${msg}${reason ? `; CRIU: ${reason}` : ''}`, { cause: err });
      }
      const statsFile = (await exists(join(work, 'stats-restore')))
        ? join(work, 'stats-restore')
        : join(ckDir, CHECKPOINT_IMAGES_DIR, 'stats-restore');
      return await readFile(statsFile).then(parseCriuRestoreStats, () => undefined);
    } finally {
      await this.#removeWork(work);
    }
  }

  /**
   * #removeWork removes a restore's work directory. A failed CRIU restore can leave its cgroup
   * yard (`.criu.cgyard.*`) mounted there: those are unmounted first (deepest first), and a
   * removal that still fails is logged rather than hiding CRIU's own error.
   */
  async #removeWork(work: string): Promise<void> {
    const inside = ((await ownMountPoints()) ?? [])
      .filter((m) => m.startsWith(`${work}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of inside) await unmount(m);
    await rm(work, { recursive: true, force: true }).catch((err: unknown) =>
      this.#o.logger?.warn({ err, work }, 'removing a restore work directory failed'),
    );
  }

  async checkpointImport(
    input: Readable,
    opts: RestoreOptions,
    signal?: AbortSignal,
  ): Promise<RestoreResult> {
    await mkdir(this.stagingDir, { recursive: true, mode: 0o700 });
    // the archive is unpacked by nobody in `staging`: nobody else may reach it through here
    await chmod(this.stagingDir, 0o700);
    const staging = await mkdtemp(join(this.stagingDir, 'import-'));
    let kept = false;
    try {
      const t0 = performance.now();
      await extractCheckpointArchive(input, staging, signal ?? new AbortController().signal);
      const unpacked = performance.now();
      const res = await this.#restoreNew(staging, opts, undefined, signal);
      if (res.stats) {
        res.stats = {
          unpackDurationMs: round(unpacked - t0),
          ...res.stats,
          totalDurationMs: round(performance.now() - t0),
        };
      }
      if (opts.keep) {
        const dest = join(this.#o.dataRoot, 'containers', res.Id, 'checkpoints');
        await mkdir(dest, { recursive: true, mode: 0o700 });
        await rename(staging, join(dest, 'imported'));
        kept = true;
      }
      return res;
    } finally {
      if (!kept) await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * #restoreNew creates a new container from a checkpoint: the image named by config.dump, the
   * runtime spec rebuilt by ckptd from the Docker config (never spec.dump's mounts, hooks,
   * devices or capabilities), the rootfs diff applied to its fresh snapshot, then the task
   * restored from CRIU's images. On failure the new container is removed (task, snapshot, files).
   * `source` is the container whose checkpoint this is (undefined for an import): its host
   * settings, as ckptd recorded them, are the new container's; nothing in the checkpoint's own
   * files (ckptd.dump, config.dump, spec.dump) grants host resources.
   */
  async #restoreNew(
    ckDir: string,
    opts: RestoreOptions,
    source: ContainerInspect | undefined,
    signal?: AbortSignal,
  ): Promise<RestoreResult> {
    const t0 = performance.now();
    const { id, image, from, deleted, volumes } = await this.#createNew(ckDir, opts, source, signal);
    const c0 = performance.now();
    try {
      if (!opts.ignoreRootfs) await this.#applyRootfs(id, ckDir, deleted, signal);
      const r0 = performance.now();
      const criu = await this.#restoreTask(id, ckDir);
      await this.#o.containers.noteCheckpoint(id, 'restored');
      const info = await this.#o.containers.containerInspect(id, signal);
      this.#o.events?.publish('container', 'restore', id, {
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
      await this.#removeFailed(id, volumes);
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
  async createFromCheckpoint(
    ckDir: string,
    checkpoint: string,
    opts: RestoreOptions,
    signal?: AbortSignal,
  ): Promise<string> {
    const name = validateCheckpointId(checkpoint);
    const { id, deleted, volumes } = await this.#createNew(ckDir, opts, undefined, signal);
    try {
      if (!opts.ignoreRootfs) await this.#applyRootfs(id, ckDir, deleted, signal);
      const dest = this.#checkpointsDir(id, undefined);
      await mkdir(dest, { recursive: true, mode: 0o700 });
      await rename(ckDir, join(dest, name));
      return id;
    } catch (err) {
      await this.#removeFailed(id, volumes);
      throw isEngineError(err) ? err : wrapError('create from checkpoint', err);
    }
  }

  async #removeFailed(id: string, volumes: ImportedVolumes['created']): Promise<void> {
    await this.#o.containers
      .containerRemove(id, { force: true })
      .catch((e: unknown) =>
        this.#o.logger?.warn({ err: e, id }, 'removing the container of a failed restore failed'),
      );
    if (this.#o.volumes) await removeVolumes(this.#o.volumes, volumes);
  }

  /**
   * #createNew checks an unpacked checkpoint's metadata, finds its base image here and creates
   * the new container from it (#createRequest); nothing of the checkpoint is applied yet.
   */
  async #createNew(
    ckDir: string,
    opts: RestoreOptions,
    source: ContainerInspect | undefined,
    signal?: AbortSignal,
  ): Promise<{
    id: string;
    image: string;
    from: string;
    deleted: string[];
    volumes: ImportedVolumes['created'];
  }> {
    const configText = await readBounded(join(ckDir, 'config.dump'));
    if (configText === undefined)
      throw new InvalidArgumentError('invalid checkpoint: config.dump is missing');
    let config: Partial<ConfigDump>;
    try {
      config = JSON.parse(configText) as Partial<ConfigDump>;
    } catch (err) {
      throw new InvalidArgumentError(`invalid checkpoint: config.dump: ${(err as Error).message}`);
    }
    if (config === null || typeof config !== 'object')
      throw new InvalidArgumentError('invalid checkpoint: config.dump is not an object');
    if (
      config.runtime !== undefined &&
      config.runtime !== 'runc' &&
      config.runtime !== 'io.containerd.runc.v2'
    ) {
      throw new InvalidArgumentError(
        `checkpoint was taken with runtime ${String(config.runtime)} and cannot be restored with runc`,
      );
    }
    const docker = await this.#dockerConfig(ckDir);
    const deleted = parseDeletedFiles((await readBounded(join(ckDir, DELETED_FILES))) ?? '[]');
    if (!(await exists(join(ckDir, CHECKPOINT_IMAGES_DIR, 'inventory.img')))) {
      throw new InvalidArgumentError('invalid checkpoint: checkpoint/inventory.img is missing');
    }

    // The base image must exist here: resolve by ID first (a tag may have moved), then by name.
    const imageName = str(config.rootfsImageName) || str(docker?.Config.Image);
    const podmanId = /^[0-9a-f]{64}$/.test(str(config.rootfsImageID))
      ? `sha256:${str(config.rootfsImageID)}`
      : '';
    const imageId = str(config.rootfsImageRef) || str(config.rootfsImage) || podmanId || str(docker?.Image);
    let image: string | undefined;
    for (const candidate of [imageId, imageName]) {
      if (!candidate) continue;
      try {
        const found = await this.#o.images.resolveImage(candidate, signal);
        if (imageId && found.id !== imageId && candidate === imageName) continue;
        image =
          candidate === imageId && imageName && (await this.#sameImage(imageName, found.id, signal))
            ? imageName
            : candidate;
        break;
      } catch (err) {
        if (!(isEngineError(err) && err.code === 'CKPTD_NOT_FOUND')) throw err;
      }
    }
    if (image === undefined)
      throw new NotFoundError(`No such image: ${imageName || imageId || '(none named by the checkpoint)'}`);

    const req = await this.#createRequest(docker, ckDir, image, source, opts.hostConfig);
    // an import's volumes: new volumes with the archive's content (checked before any work)
    let imported: ImportedVolumes = { mounts: [], created: [] };
    const archiveVolumes = source === undefined ? parseCheckpointVolumes(docker?.Volumes) : [];
    if (archiveVolumes.length > 0) {
      if (this.#o.volumes === undefined)
        throw new InvalidArgumentError('the checkpoint has volumes and ckptd has no volume store');
      imported = await importVolumes(
        this.#o.volumes,
        ckDir,
        archiveVolumes,
        opts.hostConfig ?? {},
        opts.ignoreVolumes === true,
        signal ?? new AbortController().signal,
      );
      const hc = (req.HostConfig ?? {}) as Record<string, unknown>;
      req.HostConfig = {
        ...hc,
        Mounts: [...(Array.isArray(hc.Mounts) ? hc.Mounts : []), ...imported.mounts],
      };
    }
    let created: CreateContainerResponse;
    try {
      created = await this.#o.containers.containerCreate(opts.name || undefined, req, signal);
    } catch (err) {
      if (this.#o.volumes) await removeVolumes(this.#o.volumes, imported.created);
      throw err;
    }
    return { id: created.Id, image, from: str(config.name), deleted, volumes: imported.created };
  }

  async #sameImage(name: string, id: string, signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.#o.images.resolveImage(name, signal)).id === id;
    } catch {
      return false;
    }
  }

  async #dockerConfig(ckDir: string): Promise<CkptdDump | undefined> {
    const text = await readBounded(join(ckDir, CKPTD_DUMP));
    if (text === undefined) return undefined;
    try {
      const v = JSON.parse(text) as CkptdDump;
      if (v === null || typeof v !== 'object' || typeof v.Config !== 'object' || v.Config === null)
        throw new Error('not an object');
      return v;
    } catch (err) {
      throw new InvalidArgumentError(`invalid checkpoint: ${CKPTD_DUMP}: ${(err as Error).message}`);
    }
  }

  /**
   * #createRequest rebuilds a create request. From ckptd.dump: the Docker config (Cmd, Env,
   * User, WorkingDir, Labels, Tty...), never its HostConfig: a checkpoint directory or archive
   * is data, whoever wrote it (a kept import, a `dir` given by the caller). The host settings
   * (binds, network mode, shm size, sysctls, read-only root) are those ckptd recorded for the
   * `source` container; an import gets network mode `none`, no binds and ckptd's defaults (its
   * dump may only make the root read-only). The caller's `requested` HostConfig goes on top. Without ckptd.dump (a Podman archive), the process
   * fields of spec.dump (args, env, cwd, terminal, hostname) — nothing else of it.
   */
  async #createRequest(
    docker: CkptdDump | undefined,
    ckDir: string,
    image: string,
    source: ContainerInspect | undefined,
    requested: Record<string, unknown> = {},
  ): Promise<CreateContainerRequest> {
    const pick = <T>(v: unknown, ok: (x: unknown) => x is T): T | undefined => (ok(v) ? v : undefined);
    const isStr = (x: unknown): x is string => typeof x === 'string';
    const isStrs = (x: unknown): x is string[] => Array.isArray(x) && x.every(isStr);
    const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
    const isObj = (x: unknown): x is Record<string, unknown> =>
      typeof x === 'object' && x !== null && !Array.isArray(x);
    let config: Record<string, unknown>;
    if (docker !== undefined) {
      const c = docker.Config;
      const labels = c.Labels && typeof c.Labels === 'object' ? (c.Labels as Record<string, unknown>) : {};
      config = {
        Hostname: pick(c.Hostname, isStr),
        Domainname: pick(c.Domainname, isStr),
        User: pick(c.User, isStr),
        Env: pick(c.Env, isStrs),
        Cmd: pick(c.Cmd, isStrs),
        Entrypoint: pick(c.Entrypoint, isStrs) ?? [''],
        WorkingDir: pick(c.WorkingDir, isStr),
        Tty: pick(c.Tty, isBool),
        OpenStdin: pick(c.OpenStdin, isBool),
        StdinOnce: pick(c.StdinOnce, isBool),
        StopSignal: pick(c.StopSignal, isStr),
        // the container's own health check (checked at create like any request's): it runs
        // inside the container with the container's rights, nothing of the host's
        Healthcheck: pick(c.Healthcheck, isObj),
        Shell: pick(c.Shell, isStrs),
        Labels: Object.fromEntries(Object.entries(labels).filter(([, v]) => typeof v === 'string')),
      };
    } else {
      const specText = await readBounded(join(ckDir, 'spec.dump'));
      let spec: {
        process?: { args?: unknown; env?: unknown; cwd?: unknown; terminal?: unknown };
        hostname?: unknown;
      } = {};
      try {
        spec = specText ? (JSON.parse(specText) as typeof spec) : {};
      } catch (err) {
        throw new InvalidArgumentError(`invalid checkpoint: spec.dump: ${(err as Error).message}`);
      }
      config = {
        Hostname: pick(spec.hostname, isStr),
        Env: pick(spec.process?.env, isStrs),
        Cmd: pick(spec.process?.args, isStrs),
        Entrypoint: [''],
        WorkingDir: pick(spec.process?.cwd, isStr),
        Tty: pick(spec.process?.terminal, isBool),
      };
    }
    const hostConfig: Record<string, unknown> = {
      ...(source === undefined
        ? {
            NetworkMode: 'none',
            ...(docker?.HostConfig?.ReadonlyRootfs === true ? { ReadonlyRootfs: true } : {}),
          }
        : sourceHostConfig(source)),
      ...requested,
    };
    const clean = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
    // a UTS-host container's recorded Hostname is ckptd's default, which a UTSMode host create refuses
    if (hostConfig.UTSMode === 'host') delete clean.Hostname;
    return { ...clean, Image: image, HostConfig: hostConfig } as CreateContainerRequest;
  }

  /** #applyRootfs mounts the new container's snapshot and applies the rootfs diff to it. */
  async #applyRootfs(id: string, ckDir: string, deleted: string[], signal?: AbortSignal): Promise<void> {
    const diffPath = join(ckDir, ROOTFS_DIFF_TAR);
    const hasDiff = await exists(diffPath);
    // CRIU checks the root directory's mode against the one it recorded: another engine's
    // storage may have made it other than this snapshot's (Podman's is 0555); the permission
    // bits only, of a directory, are taken over (never setuid/setgid/sticky, never a type)
    const recorded = await recordedRootMode(join(ckDir, CHECKPOINT_IMAGES_DIR)).catch(() => undefined);
    const rootMode =
      recorded !== undefined && (recorded & 0o170000) === 0o040000 ? recorded & 0o777 : undefined;
    if (!hasDiff && deleted.length === 0 && rootMode === undefined) return;
    const ctd = await this.#o.client.containers.get(id);
    const mounts = await this.#o.client.snapshots(ctd.snapshotter).mounts(ctd.snapshot_key);
    await mkdir(this.stagingDir, { recursive: true, mode: 0o700 });
    const target = await mkdtemp(join(this.stagingDir, 'rootfs-'));
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
          this.#o.logger?.info(
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
}

/** ownMountPoints lists ckptd's own mount points; undefined when they cannot be read. */
async function ownMountPoints(): Promise<string[] | undefined> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => undefined);
  return text === undefined ? undefined : mountPoints(text).map((m) => m.point);
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
  const workdir = m.options.find((o) => o.startsWith('workdir='))?.slice('workdir='.length);
  if (m.type === 'overlay' && workdir !== undefined) {
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
function sourceHostConfig(c: ContainerInspect): Record<string, unknown> {
  const hc = c.HostConfig as Record<string, unknown>;
  return Object.fromEntries(Object.entries(hc).filter(([k, v]) => !isZero(k, v)));
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
