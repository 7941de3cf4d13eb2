/**
 * The checkpoint engine's interface: what the routes call (CheckpointBackend), the parameters
 * and results, and the ports the engine is given (containers, events, health).
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { CompressionKind } from '../../archive/compression.js';
import type { ContainerdClient } from '../../containerd/index.js';
import type { ContainerLocks } from '../container-locks.js';
import type {
  ContainerInspect,
  CreateContainerRequest,
  CreateContainerResponse,
  ImageResolver,
  RemoveOptions,
  RestoreTaskOptions,
  StartOptions,
} from '../containers/index.js';
import type { CriuDumpStats, CriuRestoreStats } from '../criu-stats.js';
import type { HealthState } from '../health/health-state.js';
import type { PauseMarks } from '../pause-marks.js';
import type { VolumeService } from '../volumes/store.js';

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

/**
 * CheckpointContext is what the operation files (create, restore, transfer) get from the
 * CheckpointService: its options, its staging directory, the per-container lock and the
 * resolution of a caller's checkpoint directory.
 */
export interface CheckpointContext {
  readonly o: CheckpointServiceOptions;
  /** stagingDir holds temporary checkpoints (exports) and imports being unpacked. */
  readonly stagingDir: string;
  locked<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** checkDir resolves a caller's checkpoint directory: under the data root or --checkpoint-dirs. */
  checkDir(dir: string | undefined): Promise<string | undefined>;
  /** checkpointsDir is the parent of a container's checkpoints: `dir`, else the default. */
  checkpointsDir(id: string, dir: string | undefined): string;
}
