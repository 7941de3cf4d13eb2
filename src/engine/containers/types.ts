/**
 * The types of the container engine (engine/containers/): what the Docker API routes call
 * (ContainersBackend and its request/response shapes), what ckptd persists per container
 * (ContainerRecord as `config.json`, RunState as `state.json`), the joined view of a containerd
 * container, its task and that record, and the dependencies every container operation shares.
 */
import type { Container, ContainerdClient, TaskProcess } from '../../containerd/index.js';
import type { ContainerRequestConfig, MergedContainerConfig } from '../../oci/container-config.js';
import type { Filters } from '../../oci/filters.js';
import type { ImageConfig } from '../../oci/image-config.js';
import type { ResourceHost } from '../../oci/resources.js';
import type { ContainerLocks } from '../container-locks.js';
import type { HealthStart } from '../health/health-service.js';
import type { HealthState } from '../health/health-state.js';
import type { ContainerIO } from '../io/types.js';
import type { VolumeMountPoint } from '../volumes/mounts.js';
import type { VolumeService } from '../volumes/store.js';
import type { ContainerStore } from './store.js';
import type { ContainerStatus, ContainersPruneReport, ContainerTop, WaitCondition } from './shape.js';

/** RUNC_RUNTIME is the containerd runtime of every container ckptd creates. */
export const RUNC_RUNTIME = 'io.containerd.runc.v2';

/** ResolvedImage is what the lifecycle needs to know about an image. */
export interface ResolvedImage {
  /** id is the image ID: the config digest (`sha256:...`). */
  id: string;
  /** names are the image's references (`docker.io/library/busybox:latest`), possibly empty. */
  names: string[];
  /** config is the parsed image config. */
  config: ImageConfig;
}

/**
 * ImageResolver is the narrow part of the image service the lifecycle calls: find an image by
 * reference, ID or ID prefix (NotFoundError when absent), and make sure its layers are unpacked
 * into the snapshotter, returning the chain ID to use as the container snapshot's parent.
 */
export interface ImageResolver {
  resolveImage(nameOrId: string, signal?: AbortSignal): Promise<ResolvedImage>;
  ensureUnpacked(image: ResolvedImage, signal?: AbortSignal): Promise<string>;
}

/** HostConfig is the part of the create request's HostConfig ckptd honours (the rest is kept as sent). */
export interface HostConfig {
  NetworkMode?: string;
  Binds?: string[] | null;
  ReadonlyRootfs?: boolean;
  AutoRemove?: boolean;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  [extra: string]: unknown;
}

/** CreateContainerRequest is POST /containers/create's body (Docker's container.CreateRequest). */
export interface CreateContainerRequest extends ContainerRequestConfig {
  Image?: string;
  StopTimeout?: number | null;
  HostConfig?: HostConfig | null;
  NetworkingConfig?: unknown;
}

/** CreateContainerResponse is POST /containers/create's 201 body. */
export interface CreateContainerResponse {
  Id: string;
  Warnings: string[];
}

/** WaitResponse is POST /containers/{id}/wait's body. */
export interface WaitResponse {
  StatusCode: number;
  Error: { Message: string } | null;
}

/** ContainerWaiter is a registered wait: `result` settles when the condition is met. */
export interface ContainerWaiter {
  result: Promise<WaitResponse>;
}

/** ContainerSummary is one element of GET /containers/json (Docker's container.Summary). */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: never[];
  Labels: Record<string, string>;
  State: ContainerStatus;
  Status: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, unknown> };
  Mounts: MountPoint[];
  SizeRw?: number;
  SizeRootFs?: number;
}

/** MountPoint is a mount as inspect and list show it (Binds, then Mounts, then volumes). */
export interface MountPoint {
  Type: 'bind' | 'tmpfs' | 'volume';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** ContainerState is inspect's `State`. */
export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Health is the health-check state, present once a health check ran for the container. */
  Health?: HealthState;
}

/** ContainerInspect is GET /containers/{id}/json's body (the fields ckptd fills). */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: Record<string, unknown>;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  Mounts: MountPoint[];
  Config: Record<string, unknown>;
  NetworkSettings: Record<string, unknown>;
}

/** ListContainersOptions are GET /containers/json's parameters. */
export interface ListContainersOptions {
  all?: boolean;
  limit?: number;
  size?: boolean;
  filters?: Filters;
}

/** StopOptions are stop's and restart's parameters: `timeout` seconds (-1 = forever), first signal. */
export interface StopOptions {
  timeout?: number;
  signal?: string;
}

/** RemoveOptions are DELETE /containers/{id}'s parameters. */
export interface RemoveOptions {
  force?: boolean;
  removeVolumes?: boolean;
}

/**
 * ContainersBackend is what the container routes call (moby `router/container/backend.go`).
 * `ref` is a full ID, a name (with or without `/`) or a unique ID prefix.
 */
export interface ContainersBackend {
  /** containerCreate creates a container (201); 404 image, 409 name taken, 400 bad config. */
  containerCreate(
    name: string | undefined,
    req: CreateContainerRequest,
    signal?: AbortSignal,
    platform?: string,
  ): Promise<CreateContainerResponse>;
  /**
   * containerStart starts the container's task; NotModifiedError when already running. With
   * `opts.checkpoint` it restores the task from that checkpoint instead (never a cold start).
   */
  containerStart(ref: string, signal?: AbortSignal, opts?: StartOptions): Promise<void>;
  /** containerStop signals, waits `timeout` seconds, then kills; NotModifiedError when not running. */
  containerStop(ref: string, opts?: StopOptions, signal?: AbortSignal): Promise<void>;
  /** containerKill sends a signal (default SIGKILL); ConflictError when not running. */
  containerKill(ref: string, signal?: string): Promise<void>;
  /** containerRestart stops (if running) and starts the container. */
  containerRestart(ref: string, opts?: StopOptions, signal?: AbortSignal): Promise<void>;
  /** containerWait checks the container exists and registers a wait for `condition`. */
  containerWait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<ContainerWaiter>;
  /** containerPause freezes the container; ConflictError when not running or already paused. */
  containerPause(ref: string): Promise<void>;
  /** containerUnpause thaws the container; ConflictError when not paused. */
  containerUnpause(ref: string): Promise<void>;
  /** containerRename gives the container a new name; ConflictError when the name is taken. */
  containerRename(ref: string, name: string): Promise<void>;
  /** containerTop lists the container's processes as `ps psArgs` shows them (dockerd's top). */
  containerTop(ref: string, psArgs?: string): Promise<ContainerTop>;
  /**
   * containerStats yields `docker stats` objects: one per second while `stream`, else one (two
   * samples a second apart unless `oneShot`); an empty one for a container not running.
   */
  containerStats(
    ref: string,
    opts: { stream: boolean; oneShot: boolean },
    signal?: AbortSignal,
  ): AsyncIterable<Record<string, unknown>>;
  /** containersPrune removes ckptd's stopped containers (`until`, `label`, `label!` filters). */
  containersPrune(filters: Filters, signal?: AbortSignal): Promise<ContainersPruneReport>;
  /** containerRemove deletes task, container, snapshot and files; ConflictError when running without force. */
  containerRemove(ref: string, opts?: RemoveOptions): Promise<void>;
  /** containers lists containers as GET /containers/json. */
  containers(opts: ListContainersOptions, signal?: AbortSignal): Promise<ContainerSummary[]>;
  /** containerInspect describes one container as GET /containers/{id}/json. */
  containerInspect(ref: string, signal?: AbortSignal): Promise<ContainerInspect>;
  /**
   * containerUpdate changes a container's resources (live when it runs) and restart policy
   * (`docker update`); 400 for what update cannot change.
   */
  containerUpdate(ref: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }>;
}

/** StartOptions are POST /containers/{id}/start's checkpoint parameters. */
export interface StartOptions {
  /** checkpoint names the checkpoint to restore from. */
  checkpoint?: string;
  /** checkpointDir is the directory holding it (default: the container's own checkpoints). */
  checkpointDir?: string;
}

/**
 * CheckpointStarter restores a stopped container from a checkpoint for `start?checkpoint=`
 * (the checkpoint engine, which needs the container engine itself: daemon.ts passes a
 * function that reaches it once it exists).
 */
export type CheckpointStarter = (ref: string, opts: StartOptions, signal?: AbortSignal) => Promise<void>;

/** RestoreTaskOptions point runc's restore at CRIU images (runc Options criu_image_path / criu_work_path). */
export interface RestoreTaskOptions {
  imagePath: string;
  workPath: string;
  /** health is State.Health as the checkpoint recorded it: the restored task continues from it. */
  health?: HealthState;
}

/** HealthHooks is the health-check engine (engine/health) as the lifecycle drives it. */
export interface HealthHooks {
  load(id: string): Promise<void>;
  started(id: string, s: HealthStart): Promise<void>;
  stopped(id: string): Promise<void>;
  paused(id: string): Promise<void>;
  unpaused(id: string): void;
  state(id: string): HealthState | undefined;
  close(): Promise<void>;
}

/** ContainerRecord is Docker's view of a container, persisted as `config.json`. */
export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  Config: MergedContainerConfig & { Image: string; StopTimeout?: number };
  HostConfig: HostConfig & { NetworkMode: string };
  /** Image is the image ID (config digest). */
  Image: string;
  Driver: string;
  Platform: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  /** MountPoints are the container's volumes (engine/volumes), as moby's config.v2.json keeps them. */
  MountPoints?: VolumeMountPoint[];
}

/** CommitSource is what commit, changes and export need to know about a container. */
export interface CommitSource {
  id: string;
  name: string;
  record: ContainerRecord;
  snapshotter: string;
  snapshotKey: string;
  /** taskStatus is containerd's task status (`RUNNING`, `PAUSED`...), undefined without a task. */
  taskStatus: string | undefined;
  removing: boolean;
  mountDestinations: string[];
}

/** RunState is the part of State ckptd must remember between runs, persisted as `state.json`. */
export interface RunState {
  StartedAt: string;
  FinishedAt: string;
  ExitCode: number;
  Error: string;
  /** Running is true while ckptd believes a task of this container runs (for reconciliation). */
  Running: boolean;
  /** Checkpointed is the time of the last checkpoint that stopped the container (podman's flag). */
  Checkpointed?: string;
  /** Restored is the time the running task was restored from a checkpoint. */
  Restored?: string;
  /** RestartCount counts the restarts of the restart policy since the last start by a user. */
  RestartCount?: number;
  /** Restarting is true while the restart policy waits to start the container again. */
  Restarting?: boolean;
  /** ManuallyStopped is moby's HasBeenManuallyStopped: stop or kill since the last start. */
  ManuallyStopped?: boolean;
}

/** LocalContainer is what ckptd keeps in memory of a container it created: its record and run state. */
export interface LocalContainer {
  record: ContainerRecord;
  state: RunState;
  removing: boolean;
}

/** ContainerView joins a containerd container, its task and ckptd's record. */
export interface ContainerView {
  id: string;
  name: string;
  container: Container;
  task: TaskProcess | undefined;
  local: LocalContainer | undefined;
}

/** ContainerLogger is the logger the container engine writes to (a pino logger fits). */
export interface ContainerLogger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  debug(o: object, m?: string): void;
}

/** ContainerSettings are the daemon settings the container operations read. */
export interface ContainerSettings {
  namespace: string;
  snapshotter: string;
  cgroupVersion?: 1 | 2;
  /** ioClosedTimeoutMs bounds how long an exit waits for the output to drain (default 10 s). */
  ioClosedTimeoutMs?: number;
  /** resourceHost is what the host's cgroups enforce and its device lookups (default: this host). */
  resourceHost?: ResourceHost;
}

/**
 * ContainerDeps are what every container operation (create, start, monitor, lifecycle, update,
 * inspect, top/stats) works with, as every file of moby's daemon/ works on its `*Daemon`.
 */
export interface ContainerDeps {
  readonly store: ContainerStore;
  readonly client: ContainerdClient;
  readonly images: ImageResolver;
  readonly io: ContainerIO;
  readonly health: HealthHooks | undefined;
  readonly volumes: VolumeService | undefined;
  /** locks is the per-container mutex shared with every service that changes a container. */
  readonly locks: ContainerLocks;
  readonly settings: ContainerSettings;
  readonly logger: ContainerLogger | undefined;
}
