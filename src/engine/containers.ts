/**
 * The container lifecycle of the Docker API over containerd (moby `daemon/{create,start,stop,
 * kill,wait,delete,list,inspect}.go`, nerdctl's `container` commands): a containerd container
 * record per Docker container (spec built by ckptd, rootfs snapshot keyed by the container ID),
 * a task per run, and Docker's own facts (merged Config, HostConfig, name, start/exit times)
 * persisted under `<data-root>/containers/<id>/`. Live state (running, paused, pid) always comes
 * from containerd; exits are recorded by a Tasks.Wait watcher per running task and reconciled
 * when ckptd starts, so state survives a ckptd restart.
 */
import { makeTempDir } from '../host/temp-dirs.js';
import { TEMP_PREFIX, writeFileAtomic } from '../host/atomic-write.js';
import { initLayerName } from '../oci/init-layer.js';
import { ContainerLocks } from './container-locks.js';
import { execFile } from 'node:child_process';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { access, mkdir, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type {
  ContainerdClient,
  Container,
  TaskProcess,
  ExitStatus,
  Mount as CtdMount,
} from '../containerd/index.js';
import {
  OCI_RESOURCES_TYPE_URL,
  packJson,
  packRuncOptions,
  packSpec,
  timestampToDate,
  unpackSpec,
} from '../containerd/index.js';
import {
  ConflictError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotModifiedError,
  isEngineError,
  wrapError,
} from '../errors/index.js';
import {
  mergeContainerConfig,
  type ContainerRequestConfig,
  type MergedContainerConfig,
} from '../oci/container-config.js';
import { prunable, type Filters } from '../oci/filters.js';
import { containerSizes } from './layer-sizes.js';
import { mountArgs, readOnlyOptions, unmount } from './rootfs.js';
import {
  commitInitLayer,
  initEntriesFor,
  prepareInitLayer,
  removeInitLayer,
  restoreRootfsMounts,
} from './init-layer.js';
import { dockerStats, readCgroupSample } from './stats.js';
import type { ImageConfig } from '../oci/image-config.js';
import { LABEL_IMAGE_REF, LABEL_NAME } from '../oci/labels.js';
import { checkCreateRequest, checkPlatform } from '../oci/create-fields.js';
import { readResources, resourcesForCreate, type ResourceHost } from '../oci/resources.js';
import {
  checkUpdateBody,
  mergeUpdate,
  specResourcesAfterUpdate,
  updateLinuxResources,
} from '../oci/resources-update.js';
import { hostDevices, readHostSysInfo } from './host-resources.js';
import { generateContainerId, generateName, validateContainerName } from '../oci/names.js';
import {
  DEFAULT_SHM_SIZE,
  buildRuntimeSpec,
  execUserFromFiles,
  parseBind,
  userResolverFromFiles,
  type RuntimeSpec,
  type UserResolver,
} from '../oci/runtime-spec.js';
import { createOptions, userMountsDevShm, type CreateOptions } from '../oci/create-options.js';
import { checkBindSources, mountPointView, parseMounts } from '../oci/mounts.js';
import {
  applyNamespaceModes,
  containerOf,
  HOST_SHM,
  joinNamespaces,
  type JoinTargets,
} from '../oci/namespaces.js';
import {
  DEFAULT_INIT_BINARY,
  additionalGroups,
  applyInit,
  groupAddNeedsFile,
} from '../oci/process-options.js';
import { processArgs } from '../oci/container-config.js';
import { resolvConf, type DnsOptions } from '../oci/resolv-conf.js';
import { recordedPaths, type ConfinementRequest } from '../oci/confinement.js';
import { confinementHost } from './confinement-host.js';
import {
  DEFAULT_STOP_SIGNAL,
  DEFAULT_STOP_TIMEOUT,
  ZERO_TIME,
  commandString,
  extraHosts,
  lookupContainer,
  parseNetworkMode,
  parsePsOutput,
  parseKillSignal,
  parseSignal,
  removeRunningMessage,
  selectContainers,
  statusString,
  type ContainerStatus,
  type ContainersPruneReport,
  type ContainerTop,
  type ListEntry,
  type WaitCondition,
} from './containers-shape.js';
import type { ContainerIO, TaskIO } from './io/types.js';
import {
  RestartManager,
  checkAutoRemove,
  restartPolicyOf,
  storedPolicy,
  type RestartDecision,
} from './restart-manager.js';
import { runtimeMessage, startFailure } from './start-errors.js';
import { checkWorkingDir, needsWorkdirCheck } from './workdir.js';
import {
  copyUp,
  createVolumes,
  removeAnonymous,
  volumeRequests,
  volumeSpecMounts,
  type VolumeMountPoint,
} from './volumes/mounts.js';
import type { VolumeService } from './volumes/store.js';
import type { ContainerView } from './container-view.js'; // container-view hook
import type { HealthStart } from './health/health-service.js';
import { validateHealthConfig, type HealthState } from './health/health-state.js';

const execFileP = promisify(execFile);

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
 * (the checkpoint engine; wired with useCheckpointStarter).
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

interface Local {
  record: ContainerRecord;
  state: RunState;
  removing: boolean;
}

/** View joins a containerd container, its task and ckptd's record. */
interface View {
  id: string;
  name: string;
  container: Container;
  task: TaskProcess | undefined;
  local: Local | undefined;
}

/** ContainerServiceOptions configure a ContainerService. */
export interface ContainerServiceOptions {
  client: ContainerdClient;
  images: ImageResolver;
  io: ContainerIO;
  dataRoot: string;
  namespace: string;
  snapshotter: string;
  cgroupVersion?: 1 | 2;
  logger?: {
    info(o: object, m?: string): void;
    warn(o: object, m?: string): void;
    debug(o: object, m?: string): void;
  };
  /** ioClosedTimeoutMs bounds how long an exit waits for the output to drain (default 10 s). */
  ioClosedTimeoutMs?: number;
  /** resourceHost is what the host's cgroups enforce and its device lookups (default: this host). */
  resourceHost?: ResourceHost;
  /** locks is the per-container mutex shared with every service that changes a container. */
  locks?: ContainerLocks;
  /** container-view hook: list/inspect read containerd's state from this view (container-view.ts). */
  view?: Pick<ContainerView, 'snapshot'>;
}

type ExitListener = (code: number) => void;

const TASK_GONE = new Set(['CKPTD_NOT_FOUND']);

function isNotFound(err: unknown): boolean {
  return isEngineError(err) && TASK_GONE.has(err.code);
}

/** nameInUse is dockerd's 409 for a container name another container holds. */
function nameInUse(name: string, holder: string): ConflictError {
  return new ConflictError(
    `Conflict. The container name "/${name}" is already in use by container "${holder}". ` +
      'You have to remove (or rename) that container to be able to reuse that name.',
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function iso(d: Date): string {
  return d.getTime() <= 0 ? ZERO_TIME : d.toISOString();
}

/**
 * ContainerService implements ContainersBackend over containerd. Call `init()` once at start-up
 * (reconciles tasks that ran or exited while ckptd was down) and `close()` at shutdown.
 */
export class ContainerService implements ContainersBackend {
  readonly #o: ContainerServiceOptions;
  readonly #client: ContainerdClient;
  readonly #locals = new Map<string, Local>();
  #volumes: VolumeService | undefined;
  readonly #reservedNames = new Set<string>();
  readonly #watchers = new Map<string, Promise<void>>();
  /** per watched task: resolves once its exit is in the record (before task delete and IO release) */
  readonly #recorded = new Map<string, Promise<void>>();
  readonly #exitListeners = new Map<string, Set<ExitListener>>();
  readonly #removeListeners = new Map<string, Set<ExitListener>>();
  readonly #removedCallbacks: ((id: string) => void)[] = [];
  readonly #locks: ContainerLocks;
  /** per container: the restart manager of the current run of its restart policy */
  readonly #restarts = new Map<string, RestartManager>();
  /** per container: a restart waiting for its back-off */
  readonly #pendingRestarts = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  #io: ContainerIO;
  #checkpointStarter: CheckpointStarter | undefined;
  #health: HealthHooks | undefined;
  #resourceHostCache: ResourceHost | undefined;

  constructor(o: ContainerServiceOptions) {
    this.#o = o;
    this.#client = o.client;
    this.#io = o.io;
    this.#locks = o.locks ?? new ContainerLocks();
  }

  /**
   * useIO swaps in the container IO engine. It exists because IO is wired after this service
   * (IO needs this service's `lookup`); call it before init().
   */
  useIO(io: ContainerIO): void {
    this.#io = io;
  }

  /** useVolumes wires the volume store (named, anonymous and image volumes); call it before init(). */
  useVolumes(volumes: VolumeService): void {
    this.#volumes = volumes;
    volumes.useUsers(() => this.volumeUsers());
  }

  /** volumeUsers maps each volume name to the IDs of the containers whose record mounts it. */
  volumeUsers(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [id, l] of this.#locals) {
      for (const p of l.record.MountPoints ?? []) out.set(p.Name, [...(out.get(p.Name) ?? []), id]);
    }
    return out;
  }

  /** volumeMountPoints are the volumes a container mounts (for checkpoint export). */
  async volumeMountPoints(ref: string): Promise<VolumeMountPoint[]> {
    const v = await this.#find(ref);
    return [...(v.local?.record.MountPoints ?? [])];
  }

  /**
   * onRemoved registers a callback run with the ID of every container this service removes
   * (after its record is gone), for engines that keep per-container state, such as exec records.
   */
  onRemoved(fn: (id: string) => void): void {
    this.#removedCallbacks.push(fn);
  }

  /** useHealth wires the health-check engine (it runs probes through exec, which needs this service). */
  useHealth(health: HealthHooks): void {
    this.#health = health;
  }

  /** useCheckpointStarter wires the checkpoint engine that serves `start?checkpoint=`. */
  useCheckpointStarter(starter: CheckpointStarter): void {
    this.#checkpointStarter = starter;
  }

  #resourceHost(): ResourceHost {
    this.#resourceHostCache ??= this.#o.resourceHost ?? { sys: readHostSysInfo(), devices: hostDevices };
    return this.#resourceHostCache;
  }

  /** containersDir is `<data-root>/containers`. */
  get containersDir(): string {
    return join(this.#o.dataRoot, 'containers');
  }

  /**
   * init loads the persisted records and reconciles them with containerd: running tasks get a
   * watcher and their IO reattached; tasks that exited while ckptd was down are recorded
   * (exit code and time from containerd) and deleted; AutoRemove applies to them.
   */
  async init(): Promise<void> {
    await mkdir(this.containersDir, { recursive: true, mode: 0o700 });
    for (const id of await readdir(this.containersDir)) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue;
      await this.#removeTornWrites(id);
      try {
        const record = JSON.parse(
          await readFile(join(this.containersDir, id, 'config.json'), 'utf8'),
        ) as ContainerRecord;
        const state = JSON.parse(
          await readFile(join(this.containersDir, id, 'state.json'), 'utf8'),
        ) as RunState;
        // a restart that was waiting when ckptd stopped: the policy is applied afresh below
        if (state.Restarting) delete state.Restarting;
        this.#locals.set(id, { record, state, removing: false });
        await this.#health?.load(id);
      } catch (err) {
        this.#o.logger?.warn({ err, id }, 'ignoring an unreadable container record');
      }
    }
    let containers: Container[] = [];
    let tasks: TaskProcess[] = [];
    try {
      [containers, tasks] = await Promise.all([this.#client.containers.list(), this.#client.tasks.list()]);
    } catch (err) {
      this.#o.logger?.warn({ err }, 'cannot reconcile containers with containerd yet');
      return;
    }
    const byId = new Map(tasks.map((t) => [t.id || t.container_id, t]));
    const present = new Set(containers.map((c) => c.id));
    const restart: string[] = [];
    for (const [id, local] of this.#locals) {
      if (!present.has(id)) {
        // removed behind ckptd's back (ctr, nerdctl): forget it
        this.#o.logger?.info({ id }, 'container vanished from containerd; dropping its record');
        this.#locals.delete(id);
        await rm(this.#dir(id), { recursive: true, force: true });
        continue;
      }
      const task = byId.get(id);
      const opts = {
        tty: local.record.Config.Tty === true,
        openStdin: local.record.Config.OpenStdin === true,
      };
      if (task === undefined) {
        if (local.state.Running) {
          // the task was deleted by someone else: its exit status is lost
          local.state = { ...local.state, Running: false, FinishedAt: local.state.FinishedAt };
        }
        await this.#saveState(id);
        restart.push(id);
        continue;
      }
      if (task.status === 'RUNNING' || task.status === 'PAUSED' || task.status === 'PAUSING') {
        await this.#io
          .reattach(id, opts)
          .catch((err: unknown) => this.#o.logger?.warn({ err, id }, 'reattaching IO failed'));
        await this.#healthStarted(id, local, 'recorded', task.status !== 'RUNNING');
        this.#watch(id);
      } else if (task.status === 'STOPPED') {
        await this.#io.reattach(id, opts).catch(() => undefined);
        // Tasks.Wait answers at once with the recorded exit; then the restart policy applies
        this.#watch(id, true);
      } else {
        // CREATED: a start that never completed
        await this.#client.tasks.delete(id).catch(() => undefined);
        await this.#io.release(id).catch(() => undefined);
        restart.push(id);
      }
    }
    // as dockerd when it starts: containers whose restart policy says so run again
    for (const id of restart) await this.#startAtInit(id);
  }

  /** close stops the exit watchers (tasks keep running; init() picks them up again). */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#health?.close();
    for (const rm of this.#restarts.values()) rm.cancel();
    await Promise.allSettled([...this.#watchers.values(), ...this.#pendingRestarts.values()]);
  }

  // ---- create ----

  async containerCreate(
    name: string | undefined,
    req: CreateContainerRequest,
    signal?: AbortSignal,
    platform?: string,
  ): Promise<CreateContainerResponse> {
    if (req === null || typeof req !== 'object')
      throw new InvalidArgumentError('config cannot be empty in order to create a container');
    const imageRef = typeof req.Image === 'string' ? req.Image : '';
    if (imageRef === '') throw new InvalidArgumentError('No image specified');
    checkCreateRequest(req as Record<string, unknown>);
    checkPlatform(platform);
    const hostConfig: HostConfig = { ...(req.HostConfig ?? {}) };
    checkAutoRemove(hostConfig.AutoRemove, hostConfig.RestartPolicy);
    const restartPolicy = restartPolicyOf(hostConfig.RestartPolicy);
    const networkMode = parseNetworkMode(hostConfig.NetworkMode);
    if (req.NetworkDisabled === true && networkMode === 'host') {
      throw new InvalidArgumentError('NetworkDisabled: cannot be combined with NetworkMode host');
    }
    for (const b of hostConfig.Binds ?? []) parseBind(b); // 400 before any work
    if (typeof req.StopSignal === 'string' && req.StopSignal !== '') parseSignal(req.StopSignal);
    validateHealthConfig(req.Healthcheck);
    const opts = createOptions(
      req as Parameters<typeof createOptions>[0],
      networkMode,
      this.#o.cgroupVersion ?? 2,
    );
    const volumeReqs = volumeRequests(
      hostConfig.Binds ?? [],
      opts.mounts,
      hostConfig.Tmpfs as Record<string, unknown> | null | undefined,
      { ...(req.Volumes ?? {}) },
    );
    if (volumeReqs.length > 0 && this.#volumes === undefined)
      throw new InvalidArgumentError('HostConfig.Binds: volumes are not available (no volume store)');
    const mkdirs = await checkBindSources(opts.mounts, (p) =>
      stat(p).then(
        () => true,
        () => false,
      ),
    );
    if (opts.init) {
      await access(DEFAULT_INIT_BINARY).catch(() => {
        throw new InvalidArgumentError(
          `HostConfig.Init: docker-init is not installed on this host (${DEFAULT_INIT_BINARY}, Debian package tini)`,
        );
      });
    }
    await this.#adaptSharedNamespaces(opts, signal);
    const resources = resourcesForCreate(hostConfig, this.#resourceHost());

    let image: ResolvedImage;
    try {
      image = await this.#o.images.resolveImage(imageRef, signal);
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`No such image: ${imageRef}`, { cause: err });
      throw err;
    }

    const { HostConfig: _h, NetworkingConfig: _n, Image: _i, StopTimeout, ...configReq } = req;
    const merged = mergeContainerConfig(configReq, image.config.config);
    validateHealthConfig(merged.Healthcheck, "Healthcheck (with the image's HEALTHCHECK)");
    const id = generateContainerId();
    const chosen = await this.#reserveName(name, id, signal);
    const dir = this.#dir(id);
    let snapshotPrepared = false;
    let volumePoints: VolumeMountPoint[] = [];
    try {
      if (networkMode === 'host' && !merged.Hostname) merged.Hostname = osHostname();
      if (!merged.Hostname) merged.Hostname = id.slice(0, 12);
      const config = {
        ...merged,
        Image: imageRef,
        ...(typeof StopTimeout === 'number' ? { StopTimeout } : {}),
      } as ContainerRecord['Config'];
      const hc: ContainerRecord['HostConfig'] = {
        ...hostConfig,
        ...resources.record,
        NetworkMode: networkMode,
        Binds: hostConfig.Binds ?? null,
        AutoRemove: hostConfig.AutoRemove === true,
        ReadonlyRootfs: hostConfig.ReadonlyRootfs === true,
        RestartPolicy: restartPolicy,
        ...opts.modes,
        ShmSize: hostConfig.ShmSize || DEFAULT_SHM_SIZE,
      };
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const etc = await this.#writeEtcFiles(
        dir,
        merged.Hostname,
        networkMode,
        extraHosts(hostConfig.ExtraHosts),
        opts.dns,
      );
      await this.#ensureBindSources(hc.Binds ?? []);
      for (const p of mkdirs) await mkdir(p, { recursive: true });
      // the image's VOLUMEs too (merged Config.Volumes), where the user mounted nothing else
      if (this.#volumes !== undefined) {
        const reqs = volumeRequests(
          hostConfig.Binds ?? [],
          opts.mounts,
          hostConfig.Tmpfs as Record<string, unknown> | null | undefined,
          merged.Volumes,
        );
        volumePoints = await createVolumes(this.#volumes, reqs);
      }

      await this.#client.withLease(
        async (ctx) => {
          const parent = await this.#o.images.ensureUnpacked(image, signal);
          const sn = this.#client.snapshots(this.#o.snapshotter);
          // the init layer (dockerd's `-init`) while it is written: the image's content
          snapshotPrepared = true;
          const mounts = await prepareInitLayer(sn, id, parent, ctx);
          const resolveUser = await this.#userResolver(merged.User, mounts, merged.WorkingDir);
          const groupAdd = await this.#groupAdd(opts, mounts);
          const volumes = this.#volumes;
          if (volumes !== undefined && volumePoints.some((p) => p.CopyData)) {
            for (const p of volumePoints) await volumes.ensureMounted(p.Name);
            await this.#inRootfs(mounts, (root) => copyUp(volumes, root, volumePoints));
          }
          const spec = buildRuntimeSpec({
            id,
            config: merged,
            hostConfig: hc,
            networkMode,
            namespace: this.#o.namespace,
            cgroupVersion: this.#o.cgroupVersion ?? 2,
            etcFiles: etc,
            ...(annotations(hc.Annotations) ? { annotations: annotations(hc.Annotations) } : {}),
            ...(resolveUser ? { resolveUser } : {}),
            ...(Array.isArray(req.ConsoleSize) ? { consoleSize: req.ConsoleSize as [number, number] } : {}),
            groupAdd,
            resources: resources.spec,
            confinementHost: await confinementHost(hc.Privileged === true),
            volumeMounts: volumeSpecMounts(volumePoints),
          });
          Object.assign(hc, recordedPaths(hc as ConfinementRequest, spec)); // the paths in force, as dockerd
          // the default only: a --ulimit nofile the host cannot grant fails the start, as with dockerd
          if (!resources.record.Ulimits.some((u) => u.Name === 'nofile'))
            clampRlimits(spec, await hostNofileLimit());
          applyNamespaceModes(spec, opts.modes, shmPathOf(dir));
          // Path and Args stay the user's command; the init wraps it (moby)
          const args = processArgs(merged.Entrypoint, merged.Cmd);
          if (opts.init) applyInit(spec);
          const initLayer = await commitInitLayer(
            sn,
            id,
            mounts,
            await initEntriesFor(spec.mounts ?? []),
            ctx,
          );
          await sn.prepare(id, initLayer, {}, ctx);
          const record: ContainerRecord = {
            Id: id,
            Name: chosen,
            Created: new Date().toISOString(),
            Path: args[0] ?? '',
            Args: args.slice(1),
            Config: config,
            HostConfig: hc,
            Image: image.id,
            Driver: this.#o.snapshotter,
            Platform: 'linux',
            ResolvConfPath: etc.resolvConf,
            HostnamePath: etc.hostname,
            HostsPath: etc.hosts,
            ...(volumePoints.length > 0 ? { MountPoints: volumePoints } : {}),
          };
          const state: RunState = {
            StartedAt: ZERO_TIME,
            FinishedAt: ZERO_TIME,
            ExitCode: 0,
            Error: '',
            Running: false,
          };
          await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(record));
          await writeFileAtomic(join(dir, 'state.json'), JSON.stringify(state));
          const labels: Record<string, string> = {
            ...merged.Labels,
            [LABEL_NAME]: chosen,
            [LABEL_IMAGE_REF]: imageRef,
          };
          await this.#client.containers.create(
            {
              id,
              labels,
              image: image.names[0] ?? imageRef,
              runtime: { name: RUNC_RUNTIME, options: null },
              spec: packSpec(spec),
              snapshotter: this.#o.snapshotter,
              snapshot_key: id,
            },
            ctx,
          );
          this.#locals.set(id, { record, state, removing: false });
        },
        signal ? { ctx: { signal } } : {},
      );
    } catch (err) {
      if (snapshotPrepared) {
        const sn = this.#client.snapshots(this.#o.snapshotter);
        await sn.remove(id).catch(() => undefined);
        await removeInitLayer(sn, id).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
      this.#locals.delete(id);
      if (this.#volumes !== undefined) await removeAnonymous(this.#volumes, volumePoints);
      throw isEngineError(err) ? err : wrapError('create container', err);
    } finally {
      this.#reservedNames.delete(chosen);
    }
    return { Id: id, Warnings: resources.warnings };
  }

  async #reserveName(name: string | undefined, id: string, signal?: AbortSignal): Promise<string> {
    const all = await this.#views(signal);
    const taken = (n: string) => this.#reservedNames.has(n) || all.some((v) => v.name === n || v.id === n);
    let chosen: string;
    if (name !== undefined && name !== '') {
      chosen = validateContainerName(name);
      if (taken(chosen)) {
        throw nameInUse(chosen, all.find((v) => v.name === chosen || v.id === chosen)?.id ?? id);
      }
    } else {
      let retry = 0;
      do chosen = generateName(retry++);
      while (taken(chosen));
    }
    this.#reservedNames.add(chosen);
    return chosen;
  }

  async #writeEtcFiles(
    dir: string,
    hostname: string,
    networkMode: 'none' | 'host',
    extra: readonly [string, string][] = [],
    dns: DnsOptions = { dns: [], search: [], options: [] },
  ): Promise<{ hostname: string; hosts: string; resolvConf: string }> {
    const paths = {
      hostname: join(dir, 'hostname'),
      hosts: join(dir, 'hosts'),
      resolvConf: join(dir, 'resolv.conf'),
    };
    await writeFile(paths.hostname, `${hostname}\n`);
    let hosts =
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n' +
      'ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
    if (networkMode === 'host') {
      hosts = await readFile('/etc/hosts', 'utf8').catch(() => hosts);
    }
    // `--add-host name:ip`, one line each after the defaults, as dockerd writes them
    for (const [name, ip] of extra)
      hosts += `${hosts.endsWith('\n') || hosts === '' ? '' : '\n'}${ip}\t${name}\n`;
    await writeFile(paths.hosts, hosts);
    // like dockerd: a loopback resolver of the host is unreachable from another network namespace
    const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    await writeFile(paths.resolvConf, resolvConf(hostResolv, dns, networkMode !== 'host'));
    return paths;
  }

  async #ensureBindSources(binds: readonly string[]): Promise<void> {
    for (const b of binds) {
      const { source, volume } = parseBind(b);
      if (volume !== undefined) continue;
      // dockerd creates a missing bind source as a directory; an existing file is bound as is
      const found = await stat(source).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (found === undefined) await mkdir(source, { recursive: true });
    }
  }

  /**
   * adaptSharedNamespaces names the container of a `container:<name>` IpcMode or PidMode by its
   * ID, so renaming it keeps the link (moby adaptSharedNamespaceContainer); an unknown one is
   * left as given and refused when this container starts.
   */
  async #adaptSharedNamespaces(opts: CreateOptions, signal?: AbortSignal): Promise<void> {
    const views = await this.#views(signal);
    for (const field of ['IpcMode', 'PidMode'] as const) {
      const ref = containerOf(opts.modes[field]);
      if (ref === undefined) continue;
      try {
        opts.modes[field] = `container:${lookupContainer(views, ref).id}`;
      } catch {
        // resolved again at start, where a missing container is an error
      }
    }
  }

  /** groupAdd resolves HostConfig.GroupAdd against the image's /etc/group (names only need it). */
  async #groupAdd(opts: CreateOptions, mounts: CtdMount[]): Promise<number[]> {
    if (opts.groupAdd.length === 0) return [];
    const group = groupAddNeedsFile(opts.groupAdd)
      ? await this.#inRootfs(mounts, (root) =>
          readFile(join(root, 'etc/group'), 'utf8').catch(() => undefined),
        )
      : undefined;
    return additionalGroups(opts.groupAdd, group);
  }

  /**
   * prepareNamespaces readies what a start needs for the container's IPC and PID modes, as
   * moby's setupIpcDirs and WithNamespaces do at each start: a `shareable` container gets its
   * host /dev/shm tmpfs mounted; a `container:<id>` mode needs that container running (and, for
   * IPC, shareable) and the stored spec is pointed at its namespaces and /dev/shm.
   */
  async #prepareNamespaces(v: View, r: ContainerRecord): Promise<void> {
    const hc = r.HostConfig;
    const ipcMode = typeof hc.IpcMode === 'string' ? hc.IpcMode : '';
    if (ipcMode === 'shareable' && !userMountsDevShm(hc)) {
      await mountShm(
        shmPathOf(this.#dir(v.id)),
        typeof hc.ShmSize === 'number' ? hc.ShmSize : DEFAULT_SHM_SIZE,
      );
    }
    const targets: JoinTargets = {};
    const ipcRef = containerOf(ipcMode);
    if (ipcRef !== undefined) {
      const what = `can't join IPC of container ${ipcRef}`;
      const donor = await this.#runningDonor(ipcRef, what);
      const dhc = this.#record(donor).HostConfig;
      const dMode = typeof dhc.IpcMode === 'string' ? dhc.IpcMode : '';
      let shmPath: string | undefined;
      if (dMode === 'shareable' && !userMountsDevShm(dhc)) shmPath = shmPathOf(this.#dir(donor.id));
      else if (dMode === 'host') shmPath = HOST_SHM;
      else if (containerOf(dMode) !== undefined) {
        const m = this.#spec(donor).mounts?.find((x) => x.destination === '/dev/shm' && x.type === 'bind');
        shmPath = m?.source;
      }
      if (shmPath === undefined) {
        throw new InvalidArgumentError(
          `${what}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`,
        );
      }
      targets.ipc = { pid: donor.task?.pid ?? 0, shmPath, ownShm: !userMountsDevShm(hc) };
    }
    const pidRef = containerOf(typeof hc.PidMode === 'string' ? hc.PidMode : '');
    if (pidRef !== undefined) {
      const donor = await this.#runningDonor(pidRef, `cannot join PID of a non running container: ${pidRef}`);
      targets.pid = { pid: donor.task?.pid ?? 0 };
    }
    if (targets.ipc === undefined && targets.pid === undefined) return;
    const spec = joinNamespaces(this.#spec(v) as RuntimeSpec, targets);
    await this.#client.containers.update({ ...v.container, spec: packSpec(spec) }, ['spec']);
  }

  /** runningDonor finds the running container whose namespace another joins (404 / 409 otherwise). */
  async #runningDonor(ref: string, what: string): Promise<View> {
    let donor: View;
    try {
      donor = lookupContainer(await this.#views(), ref);
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`${what}: No such container: ${ref}`, { cause: err });
      throw err;
    }
    if (!this.#isRunning(donor) || donor.task === undefined || donor.task.pid <= 0) {
      throw new ConflictError(`${what}: container ${donor.id} is not running`);
    }
    return donor;
  }

  /**
   * userResolver returns a resolver reading the image's /etc/passwd and /etc/group when User
   * names a user or group (numbers and '' need no files). The rootfs is mounted read-only for
   * a moment, as containerd's `oci.WithUser` does. In the same mount it refuses a `workdir`
   * that is not a directory, as dockerd does at create (`SetupWorkingDirectory`).
   */
  async #userResolver(user: string, mounts: CtdMount[], workdir = ''): Promise<UserResolver | undefined> {
    const [u = '', g = ''] = user.split(':');
    const numeric = (s: string) => s === '' || /^\d+$/.test(s);
    if (user === '' || (numeric(u) && numeric(g))) {
      // dockerd refuses a WorkingDir that is a file at create (one mount for both checks)
      if (needsWorkdirCheck(workdir)) await this.#inRootfs(mounts, (root) => checkWorkingDir(root, workdir));
      // root's supplementary groups need /etc/group only for named users; numbers resolve alone
      if (user === '') return undefined;
      return (spec) => execUserFromFiles(spec);
    }
    const files = await this.#inRootfs(mounts, async (root) => {
      if (needsWorkdirCheck(workdir)) await checkWorkingDir(root, workdir);
      return Promise.all(
        ['etc/passwd', 'etc/group'].map((p) => readFile(join(root, p), 'utf8').catch(() => undefined)),
      );
    });
    return userResolverFromFiles({
      ...(files[0] !== undefined ? { passwd: files[0] } : {}),
      ...(files[1] !== undefined ? { group: files[1] } : {}),
    });
  }

  /** #inRootfs runs fn with the container's rootfs mounted read-only at a temporary directory. */
  async #inRootfs<T>(mounts: CtdMount[], fn: (root: string) => Promise<T>): Promise<T> {
    const m = mounts[0];
    if (m === undefined || mounts.length !== 1)
      throw new InternalError('cannot read the image rootfs: unexpected mounts');
    const target = await makeTempDir('ckptd-rootfs-');
    try {
      const options = readOnlyOptions(m.options);
      if (m.type === 'bind') options.push('bind');
      await execFileP('mount', mountArgs(m, options, target));
      try {
        return await fn(target);
      } finally {
        await unmount(target);
      }
    } finally {
      await rmdir(target).catch(() => undefined);
    }
  }

  // ---- views ----

  /** #removeTornWrites deletes record temp files a crash left before their rename (logged). */
  async #removeTornWrites(id: string): Promise<void> {
    const names = await readdir(this.#dir(id)).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith(TEMP_PREFIX))) {
      await rm(join(this.#dir(id), name), { force: true });
      this.#o.logger?.info({ id, file: name }, 'removed a record write a crash left unfinished');
    }
  }

  #dir(id: string): string {
    return join(this.containersDir, id);
  }

  async #saveState(id: string): Promise<void> {
    const l = this.#locals.get(id);
    if (!l) return;
    await writeFileAtomic(join(this.#dir(id), 'state.json'), JSON.stringify(l.state)).catch((err: unknown) =>
      this.#o.logger?.warn({ err, id }, 'cannot persist container state'),
    );
  }

  async #views(signal?: AbortSignal): Promise<View[]> {
    const ctx = signal ? { signal } : undefined;
    const [containers, tasks] = await Promise.all([
      this.#client.containers.list([], ctx),
      this.#client.tasks.list('', ctx),
    ]);
    const byId = new Map(tasks.map((t) => [t.id || t.container_id, t]));
    return containers.map((c) => this.#view(c, byId.get(c.id)));
  }

  /** container-view hook: #views from the event-fed view when one is wired (list/inspect only). */
  async #viewedViews(signal?: AbortSignal, ref?: string): Promise<View[]> {
    if (!this.#o.view) return this.#views(signal);
    return (await this.#o.view.snapshot(signal, ref)).map((e) => this.#view(e.container, e.task));
  }

  #view(c: Container, task: TaskProcess | undefined): View {
    const local = this.#locals.get(c.id);
    return { id: c.id, name: local?.record.Name ?? c.labels[LABEL_NAME] ?? c.id, container: c, task, local };
  }

  /** #find resolves a reference to one container with fresh task state. */
  async #find(ref: string, signal?: AbortSignal): Promise<View> {
    const v = lookupContainer(await this.#views(signal), ref);
    return v;
  }

  async #fresh(id: string): Promise<View> {
    const c = await this.#client.containers.get(id).catch((err: unknown) => {
      if (isNotFound(err)) throw new NotFoundError(`No such container: ${id}`);
      throw err;
    });
    const task = await this.#client.tasks.get(id).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    return this.#view(c, task);
  }

  #state(v: View): ContainerState {
    const s: RunState = v.local?.state ?? {
      StartedAt: ZERO_TIME,
      FinishedAt: ZERO_TIME,
      ExitCode: 0,
      Error: '',
      Running: false,
    };
    const base: ContainerState = {
      Status: 'created',
      Running: false,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 0,
      ExitCode: s.ExitCode,
      Error: s.Error,
      StartedAt: s.StartedAt,
      FinishedAt: s.FinishedAt,
    };
    const t = v.task;
    if (v.local?.removing) return { ...base, Status: 'removing' };
    if (s.Restarting && (t === undefined || t.status === 'STOPPED' || t.status === 'CREATED')) {
      // moby's SetRestarting: "running" for stop, kill and rm while the policy waits
      return { ...base, Status: 'restarting', Running: true, Restarting: true };
    }
    if (t !== undefined) {
      if (t.status === 'RUNNING')
        return { ...base, Status: 'running', Running: true, Pid: t.pid, ExitCode: 0 };
      if (t.status === 'PAUSED' || t.status === 'PAUSING') {
        return { ...base, Status: 'paused', Running: true, Paused: true, Pid: t.pid, ExitCode: 0 };
      }
      if (t.status === 'STOPPED') {
        const exited = iso(timestampToDate(t.exited_at));
        return {
          ...base,
          Status: 'exited',
          ExitCode: t.exit_status,
          FinishedAt: exited,
          StartedAt: s.StartedAt === ZERO_TIME && v.local === undefined ? exited : s.StartedAt,
        };
      }
      return base; // CREATED: a start in progress
    }
    if (s.StartedAt !== ZERO_TIME) return { ...base, Status: 'exited' };
    return base;
  }

  #spec(v: View): Partial<RuntimeSpec> {
    try {
      return v.container.spec ? unpackSpec<Partial<RuntimeSpec>>(v.container.spec) : {};
    } catch {
      return {};
    }
  }

  #record(v: View): ContainerRecord {
    if (v.local) return v.local.record;
    // A container of another containerd client (ctr, nerdctl): derive what we can from its spec.
    const spec = this.#spec(v);
    const args = spec.process?.args ?? [];
    const created = iso(timestampToDate(v.container.created_at));
    return {
      Id: v.id,
      Name: v.name,
      Created: created,
      Path: args[0] ?? '',
      Args: args.slice(1),
      Config: {
        Hostname: spec.hostname ?? '',
        Domainname: '',
        User: spec.process ? `${spec.process.user.uid}:${spec.process.user.gid}` : '',
        Tty: spec.process?.terminal ?? false,
        OpenStdin: false,
        Env: spec.process?.env ?? [],
        Cmd: args,
        Entrypoint: null,
        Image: v.container.image,
        WorkingDir: spec.process?.cwd ?? '',
        Labels: v.container.labels,
      },
      HostConfig: {
        NetworkMode: spec.linux?.namespaces?.some((n) => n.type === 'network' && !n.path) ? 'none' : 'host',
        Binds: null,
        AutoRemove: false,
        ReadonlyRootfs: spec.root?.readonly ?? false,
      },
      Image: '',
      Driver: v.container.snapshotter,
      Platform: 'linux',
      ResolvConfPath: '',
      HostnamePath: '',
      HostsPath: '',
    };
  }

  #mounts(r: ContainerRecord): MountPoint[] {
    let extra: MountPoint[] = [];
    try {
      extra = parseMounts(r.HostConfig.Mounts)
        .filter((m) => m.type !== 'volume')
        .map(mountPointView);
    } catch {
      // a record of another version: Binds only
    }
    const volumes: MountPoint[] = (r.MountPoints ?? []).map((p) => ({
      Type: 'volume',
      Name: p.Name,
      Source: p.Source,
      Destination: p.Destination,
      Driver: p.Driver,
      Mode: p.Mode,
      RW: p.RW,
      Propagation: p.Propagation,
    }));
    return [...this.#bindPoints(r), ...extra, ...volumes];
  }

  #bindPoints(r: ContainerRecord): MountPoint[] {
    return (r.HostConfig.Binds ?? []).flatMap((raw) => {
      const b = parseBind(raw);
      if (b.volume !== undefined) return []; // shown from MountPoints
      const mode = raw.split(':')[2] ?? '';
      return {
        Type: 'bind',
        Source: b.source,
        Destination: b.destination,
        Mode: mode,
        RW: !b.readOnly,
        Propagation: b.propagation,
      };
    });
  }

  // ---- list / inspect ----

  async containers(opts: ListContainersOptions, signal?: AbortSignal): Promise<ContainerSummary[]> {
    const views = await this.#viewedViews(signal); // container-view hook
    const now = Date.now();
    const entries = views.map((v) => {
      const r = this.#record(v);
      const st = this.#state(v);
      const health = this.#health?.state(v.id);
      const entry: ListEntry & { v: View; r: ContainerRecord; st: ContainerState } = {
        id: v.id,
        name: v.name,
        status: st.Status,
        health: health?.Status ?? 'none',
        exitCode: st.ExitCode,
        labels: v.container.labels,
        image: r.Config.Image,
        imageId: r.Image,
        created: Date.parse(r.Created) || 0,
        v,
        r,
        st,
      };
      return entry;
    });
    const selected = selectContainers(entries, {
      ...(opts.all !== undefined ? { all: opts.all } : {}),
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      ...(opts.filters !== undefined ? { filters: opts.filters } : {}),
    });
    const summaries = selected.map(({ v, r, st, health }) => {
      const s: ContainerSummary = {
        Id: v.id,
        Names: [`/${v.name}`],
        Image: r.Config.Image,
        ImageID: r.Image,
        Command: commandString(r.Path, r.Args),
        Created: Math.floor((Date.parse(r.Created) || 0) / 1000),
        Ports: [],
        Labels: publicLabels(v.container.labels),
        State: st.Status,
        Status: statusString(
          {
            status: st.Status,
            exitCode: st.ExitCode,
            startedAt: st.StartedAt,
            finishedAt: st.FinishedAt,
            ...(health !== undefined && health !== 'none' ? { health } : {}),
          },
          now,
        ),
        HostConfig: { NetworkMode: r.HostConfig.NetworkMode },
        NetworkSettings: { Networks: {} },
        Mounts: this.#mounts(r),
      };
      return s;
    });
    // dockerd's SizeRw/SizeRootFs (layer-sizes.ts); SizeRw is omitted when 0, as dockerd's omitempty
    if (opts.size) await Promise.all(summaries.map((s, i) => this.#sizeInto(s, selected[i]!.v, signal)));
    return summaries;
  }

  async #sizeInto(s: ContainerSummary, v: View, signal?: AbortSignal): Promise<void> {
    const c = v.container;
    const snaps = this.#client.snapshots(c.snapshotter);
    const ctx = signal ? { signal } : {};
    const sizes =
      c.snapshot_key !== ''
        ? await snaps
            .stat(c.snapshot_key, ctx)
            .then(async (info) =>
              containerSizes(await snaps.mounts(c.snapshot_key, ctx), signal, {
                initLayer: info.parent === initLayerName(v.id),
              }),
            )
            .catch(() => undefined)
        : undefined;
    if (sizes && sizes.sizeRw > 0) s.SizeRw = sizes.sizeRw;
    s.SizeRootFs = sizes?.sizeRootFs ?? 0;
  }

  async containerInspect(ref: string, signal?: AbortSignal): Promise<ContainerInspect> {
    const v = lookupContainer(await this.#viewedViews(signal, ref), ref); // container-view hook
    const r = this.#record(v);
    const st = this.#state(v);
    const health = this.#health?.state(v.id);
    if (health) st.Health = health;
    const { Image: imageRef, ...configRest } = r.Config;
    return {
      Id: v.id,
      Created: r.Created,
      Path: r.Path,
      Args: r.Args,
      State: st,
      Image: r.Image,
      ResolvConfPath: r.ResolvConfPath,
      HostnamePath: r.HostnamePath,
      HostsPath: r.HostsPath,
      LogPath: '',
      Name: `/${v.name}`,
      RestartCount: v.local?.state.RestartCount ?? 0,
      Driver: r.Driver,
      Platform: r.Platform,
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: null,
      HostConfig: {
        ...r.HostConfig,
        RestartPolicy: storedPolicy(r.HostConfig.RestartPolicy),
        LogConfig: { Type: 'json-file', Config: {} },
        PortBindings: {},
      },
      GraphDriver: { Name: r.Driver, Data: null },
      Mounts: this.#mounts(r),
      Config: {
        ...configRest,
        Image: imageRef,
        Labels: publicLabels(v.container.labels),
        AttachStdin: r.Config.AttachStdin ?? false,
        AttachStdout: r.Config.AttachStdout ?? false,
        AttachStderr: r.Config.AttachStderr ?? false,
        StdinOnce: r.Config.StdinOnce ?? false,
      },
      NetworkSettings: {
        Bridge: '',
        SandboxID: '',
        SandboxKey: '',
        Ports: {},
        Gateway: '',
        IPAddress: '',
        IPPrefixLen: 0,
        MacAddress: '',
        Networks: {},
      },
    };
  }

  /**
   * lookup resolves a reference for container IO (its `ContainerLookup`): ID, tty/stdin
   * settings and whether the task runs.
   */
  async lookup(
    ref: string,
    signal?: AbortSignal,
  ): Promise<{
    id: string;
    tty: boolean;
    openStdin: boolean;
    stdinOnce: boolean;
    running: boolean;
    paused: boolean;
  }> {
    const v = await this.#find(ref, signal);
    const r = this.#record(v);
    return {
      id: v.id,
      tty: r.Config.Tty === true,
      openStdin: r.Config.OpenStdin === true,
      stdinOnce: r.Config.StdinOnce === true,
      running: v.task?.status === 'RUNNING',
      paused: v.task?.status === 'PAUSED' || v.task?.status === 'PAUSING',
    };
  }

  /**
   * commitSource describes a container for commit, changes and export (issue 4): its record
   * (Path, Args, Config, image ID), its snapshot (snapshotter and key), its task status and the
   * destinations of the mounts runc creates inside its rootfs (so `docker diff` can skip them).
   */
  async commitSource(ref: string, signal?: AbortSignal): Promise<CommitSource> {
    const v = await this.#find(ref, signal);
    const r = this.#record(v);
    const spec = this.#spec(v);
    return {
      id: v.id,
      name: v.name,
      record: r,
      snapshotter: v.container.snapshotter || this.#o.snapshotter,
      snapshotKey: v.container.snapshot_key,
      taskStatus: v.task ? String(v.task.status) : undefined,
      removing: v.local?.removing === true,
      mountDestinations: (spec.mounts ?? []).map((m) => m.destination),
    };
  }

  // ---- update ----

  async containerUpdate(ref: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }> {
    const found = await this.#find(ref); // 404 before 400, as dockerd
    const upd = checkUpdateBody(body, this.#resourceHost().sys);
    return this.#locked(found.id, async () => {
      const v = await this.#fresh(found.id);
      const cannot = `Cannot update container ${v.id}`;
      const local = v.local;
      if (local === undefined) throw new ConflictError(`${cannot}: it was not created by ckptd`);
      if (local.removing)
        throw new ConflictError(`${cannot}: container is marked for removal and cannot be "update"`);
      const hc = local.record.HostConfig;
      let merged;
      try {
        merged = mergeUpdate(readResources(hc, 'HostConfig.'), upd.changes);
        if (upd.restartPolicy && hc.AutoRemove === true && upd.restartPolicy.Name !== 'no') {
          throw new InvalidArgumentError(
            'RestartPolicy: Restart policy cannot be updated because AutoRemove is enabled for the container',
          );
        }
      } catch (err) {
        throw wrapError(cannot, err);
      }
      if (this.#isRunning(v)) {
        const live = updateLinuxResources(upd.changes);
        await this.#client.tasks
          .update(v.id, packJson(OCI_RESOURCES_TYPE_URL, live))
          .catch((err: unknown) => {
            throw wrapError(cannot, err);
          });
      }
      // the containerd spec, so that the next start applies the same limits
      const spec = this.#spec(v) as RuntimeSpec;
      if (spec.linux?.resources !== undefined) {
        spec.linux.resources = {
          ...specResourcesAfterUpdate(spec.linux.resources, merged),
          devices: spec.linux.resources.devices,
        };
        await this.#client.containers.update({ ...v.container, spec: packSpec(spec) }, ['spec']);
      }
      local.record.HostConfig = {
        ...hc,
        ...merged,
        ...(upd.restartPolicy ? { RestartPolicy: upd.restartPolicy } : {}),
      };
      await writeFileAtomic(join(this.#dir(v.id), 'config.json'), JSON.stringify(local.record));
      return { Warnings: upd.warnings };
    });
  }

  // ---- lifecycle ----

  /** #locked serializes lifecycle operations on one container. */
  #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(id, fn);
  }

  async containerStart(ref: string, signal?: AbortSignal, opts: StartOptions = {}): Promise<void> {
    if (opts.checkpoint !== undefined || opts.checkpointDir !== undefined) {
      if (this.#checkpointStarter === undefined)
        throw new InvalidArgumentError('checkpoint restore is not available in this daemon');
      await this.#checkpointStarter(ref, opts, signal);
      return;
    }
    const { id } = await this.#find(ref, signal);
    await this.#locked(id, () => this.#start(id));
  }

  // ---- checkpoint hooks (issue 5): the checkpoint engine calls these ----

  /**
   * restoreTask creates the container's task from CRIU images (containerd 1.6 reads runc
   * Options.criu_image_path in Tasks.Create and runs `runc restore` at Tasks.Start) with fresh
   * IO, as a start would. NotModifiedError when it runs. On failure no task is left and the
   * error is thrown as containerd reported it (the caller adds CRIU's reason).
   */
  async restoreTask(id: string, restore: RestoreTaskOptions): Promise<number> {
    return this.#locked(id, () => this.#start(id, restore));
  }

  /** noteCheckpoint records in state.json that a checkpoint stopped (or restored) the container. */
  async noteCheckpoint(id: string, what: 'checkpointed' | 'restored'): Promise<void> {
    const local = this.#locals.get(id);
    if (!local) return;
    const now = new Date().toISOString();
    local.state =
      what === 'checkpointed' ? { ...local.state, Checkpointed: now } : { ...local.state, Restored: now };
    await this.#saveState(id);
  }

  /**
   * endRestartPolicy ends the container's restart policy until its next start, as a stop does,
   * for a checkpoint that stops it: a restore needs it stopped (dockerd would restart it; podman
   * does not).
   */
  async endRestartPolicy(id: string): Promise<void> {
    await this.#endRestarts(id);
  }

  /** taskExited resolves once the exit of the container's current task is recorded (watcher done). */
  async taskExited(id: string): Promise<void> {
    await this.#watchers.get(id);
  }

  /**
   * exitRecorded resolves once the exit of the container's current task is in its record (inspect
   * shows it exited), without waiting for the task's deletion and IO release that follow; a later
   * start or restore waits for those itself (#start awaits the watcher and deletes the task).
   */
  async exitRecorded(id: string): Promise<void> {
    await (this.#recorded.get(id) ?? this.#watchers.get(id));
  }

  /**
   * #start creates and starts the container's task. `by` is who starts it: a user (start,
   * restart, run; a restore) begins a new restart-policy run (moby's ResetRestartManager), the
   * restart policy continues the current one.
   */
  async #start(id: string, restore?: RestoreTaskOptions, by: 'user' | 'policy' = 'user'): Promise<number> {
    let v = await this.#fresh(id);
    if (v.local?.removing)
      throw new ConflictError(`container ${id} is marked for removal and cannot be started`);
    if (v.task?.status === 'RUNNING') throw new NotModifiedError(`Container ${id} is already running`);
    if (v.task?.status === 'PAUSED' || v.task?.status === 'PAUSING') {
      throw new ConflictError('cannot start a paused container, try unpause instead');
    }
    // a container waiting for its restart is "running" to dockerd: a start is not modified
    if (by === 'user' && v.local?.state.Restarting)
      throw new NotModifiedError(`Container ${id} is already running`);
    if (v.task !== undefined) {
      // a previous run still being recorded (or a stale CREATED task)
      const w = this.#watchers.get(id);
      if (w) await w;
      await this.#deleteTask(id);
      v = await this.#fresh(id);
    }
    const local = v.local;
    const r = this.#record(v);
    if (local && by === 'user') {
      this.#restarts.get(id)?.cancel();
      this.#restarts.delete(id);
      local.state = { ...local.state, RestartCount: 0, ManuallyStopped: false };
    }
    if (local) await this.#ensureBindSources(r.HostConfig.Binds ?? []);
    // volumes whose driver options make them mounts (tmpfs, bind, devices) are mounted for the start
    if (local && this.#volumes !== undefined)
      for (const p of r.MountPoints ?? []) await this.#volumes.ensureMounted(p.Name);
    if (local) {
      await this.#prepareNamespaces(v, r).catch(async (err: unknown) => {
        // as dockerd: an AutoRemove container that cannot start is removed (`removed` waits answered)
        if (r.HostConfig.AutoRemove) await this.#remove(id, false, true).catch(() => undefined);
        throw err;
      });
      v = await this.#fresh(id); // the spec may have been re-pointed
    }
    const noIo: TaskIO = { stdin: '', stdout: '', stderr: '', terminal: r.Config.Tty === true };
    const io = local
      ? await this.#io.prepare(id, { tty: r.Config.Tty === true, openStdin: r.Config.OpenStdin === true })
      : noIo;
    let pid: number;
    let phase: 'create' | 'start' = 'create';
    try {
      // containerd's task service mounts only what it is given (its Go client passes the
      // snapshot's mounts the same way)
      const c = v.container;
      const mounts =
        c.snapshot_key !== '' ? await this.#client.snapshots(c.snapshotter).mounts(c.snapshot_key) : [];
      // runc makes a read-only root read-only by remounting it at create; `runc restore` has
      // CRIU rebuild the mounts and never does: containerd mounts it read-only instead
      const rootfs = restoreRootfsMounts(mounts, restore !== undefined, r.HostConfig.ReadonlyRootfs === true);
      await this.#client.tasks.create({
        container_id: id,
        rootfs,
        stdin: io.stdin,
        stdout: io.stdout,
        stderr: io.stderr,
        terminal: io.terminal,
        ...(restore
          ? {
              options: packRuncOptions({
                criu_image_path: restore.imagePath,
                criu_work_path: restore.workPath,
              }),
            }
          : {}),
      });
      phase = 'start';
      pid = await this.#client.tasks.start(id);
    } catch (err) {
      await this.#client.tasks.delete(id).catch(() => undefined);
      if (local) await this.#io.release(id).catch(() => undefined);
      if (restore) throw err; // the checkpoint engine reports CRIU's reason
      // dockerd's words: its containerd client prefixes a failed task create, nothing else
      const msg = runtimeMessage(err);
      const failure = startFailure(
        phase === 'create' ? `failed to create task for container: ${msg}` : msg,
        err,
      );
      if (local) {
        local.state = {
          ...local.state,
          ExitCode: failure.exitCode,
          Error: failure.error.message,
          Running: false,
          Restarting: false,
        };
        await this.#saveState(id);
        // as dockerd: an AutoRemove container that cannot start is removed (and `removed` waits answered)
        if (local.record.HostConfig.AutoRemove) {
          await this.#remove(id, false, true).catch((e: unknown) =>
            this.#o.logger?.warn(
              { err: e, id },
              'removing the AutoRemove container after its failed start failed',
            ),
          );
        }
      }
      throw failure.error;
    }
    if (local) {
      local.state = {
        StartedAt: new Date().toISOString(),
        FinishedAt: local.state.FinishedAt,
        ExitCode: 0,
        Error: '',
        Running: true,
        ...(restore ? { Restored: new Date().toISOString() } : {}),
        RestartCount: local.state.RestartCount ?? 0,
        ...(local.state.ManuallyStopped ? { ManuallyStopped: true } : {}),
      };
      await this.#saveState(id);
    }
    this.#o.logger?.debug({ id, pid, restored: restore !== undefined }, 'container started');
    // the monitor first: an exit seen by the watcher then always stops it
    if (local) await this.#healthStarted(id, local, restore?.health);
    this.#watch(id);
    return pid;
  }

  /** #healthStarted tells the health engine a task of the container runs (moby initHealthMonitor). */
  async #healthStarted(
    id: string,
    local: Local,
    continueWith?: HealthStart['continueWith'],
    paused = false,
  ): Promise<void> {
    await this.#health
      ?.started(id, {
        config: local.record.Config.Healthcheck,
        shell: local.record.Config.Shell as string[] | undefined,
        startedAt: local.state.StartedAt,
        ...(continueWith ? { continueWith } : {}),
        paused,
      })
      .catch((err: unknown) => this.#o.logger?.warn({ err, id }, 'starting the health monitor failed'));
  }

  async #deleteTask(id: string): Promise<void> {
    try {
      await this.#client.tasks.delete(id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * #watch follows a task until it exits, then records the exit (once per task) and applies the
   * restart policy. `atInit`: a task that exited while ckptd was down, whose policy is applied
   * as dockerd applies it when it starts (a fresh start), not as a restart.
   */
  #watch(id: string, atInit = false): void {
    if (this.#watchers.has(id)) return;
    const signal = this.#abort.signal;
    let markRecorded!: () => void;
    const recorded = new Promise<void>((resolve) => (markRecorded = resolve));
    const p = (async () => {
      let exit: ExitStatus | undefined;
      let delay = 250;
      while (!signal.aborted) {
        try {
          exit = await this.#client.tasks.wait(id, '', { signal });
          break;
        } catch (err) {
          if (signal.aborted) return;
          if (isNotFound(err)) break; // the task was deleted by someone else
          this.#o.logger?.debug({ err, id }, 'waiting for the task failed; retrying');
          await sleep(delay);
          delay = Math.min(delay * 2, 5000);
        }
      }
      if (signal.aborted) return undefined;
      return await this.#handleExit(id, exit, markRecorded, atInit);
    })()
      .catch((err: unknown) => {
        this.#o.logger?.warn({ err, id }, 'recording a container exit failed');
        return undefined;
      })
      .then((next) => {
        markRecorded();
        if (this.#recorded.get(id) === recorded) this.#recorded.delete(id);
        if (this.#watchers.get(id) === p) this.#watchers.delete(id);
        next?.(); // the restart policy, once this watcher is gone
      });
    this.#watchers.set(id, p);
    this.#recorded.set(id, recorded);
  }

  /**
   * #handleExit records an exit, deletes the task and releases its IO, then answers waits and
   * applies AutoRemove; it returns what the restart policy does next (run by the watcher).
   */
  async #handleExit(
    id: string,
    exit: ExitStatus | undefined,
    onRecorded?: () => void,
    atInit = false,
  ): Promise<(() => void) | undefined> {
    const local = this.#locals.get(id);
    // moby stopHealthchecks: the monitor stops at once (a probe of the dead task is cancelled
    // in the background: the exit is not held up by it)
    void this.#health?.stopped(id).catch(() => undefined);
    // Record the exit first: once the task is deleted, readers fall back to the record.
    let final = exit;
    if (final === undefined) {
      const t = await this.#client.tasks.get(id).catch(() => undefined);
      if (t?.status === 'STOPPED')
        final = { exitStatus: t.exit_status, exitedAt: timestampToDate(t.exited_at) };
    }
    const code = final?.exitStatus ?? 255;
    let decision: RestartDecision = { restart: false };
    if (local) {
      const finishedAt = final?.exitedAt ?? new Date();
      if (!atInit && !local.removing) {
        // the policy is read at each exit, so `docker update --restart` takes effect
        decision = this.#restartManager(id, local).shouldRestart(
          storedPolicy(local.record.HostConfig.RestartPolicy),
          code,
          local.state.ManuallyStopped === true || this.#abort.signal.aborted,
          finishedAt.getTime() - Date.parse(local.state.StartedAt),
        );
      }
      local.state = {
        ...local.state,
        ExitCode: code,
        FinishedAt: final ? iso(final.exitedAt) : new Date().toISOString(),
        Running: false,
        ...(decision.restart ? { Restarting: true, RestartCount: (local.state.RestartCount ?? 0) + 1 } : {}),
      };
      await this.#saveState(id);
      if (decision.restart) {
        this.#o.logger?.info(
          { id, restartCount: local.state.RestartCount, exitCode: code, delayMs: decision.delayMs },
          'restarting container',
        );
      }
    }
    onRecorded?.();
    // A foreign container's stopped task is left to its owner (ctr shows it STOPPED, as we do).
    if (local) {
      // Delete the task before waiting for the output's EOF, as dockerd does: with a TTY the
      // shim closes the FIFO only on delete. Bytes already in the FIFOs stay readable.
      try {
        await this.#client.tasks.delete(id);
      } catch (err) {
        if (!isNotFound(err)) this.#o.logger?.warn({ err, id }, 'deleting the exited task failed');
      }
      // moby unmounts a shareable container's /dev/shm when it stops (containers that joined keep theirs)
      await unmountShm(shmPathOf(this.#dir(id))).catch((err: unknown) =>
        this.#o.logger?.warn({ err, id }, 'unmounting /dev/shm failed'),
      );
      // A task that exited while ckptd was down may have no writer left on its FIFOs (then no
      // EOF ever comes); what it wrote is in the pipe buffer already, read at once.
      const timeout = Math.min(this.#o.ioClosedTimeoutMs ?? 10_000, atInit ? 1000 : Infinity);
      const closed = await Promise.race([
        this.#io.closed(id).then(() => true),
        sleep(timeout).then(() => false),
      ]).catch(() => true);
      if (!closed) this.#o.logger?.warn({ id }, 'container output did not reach EOF in time');
      await this.#io
        .release(id)
        .catch((err: unknown) => this.#o.logger?.warn({ err, id }, 'releasing IO failed'));
    }
    // moby's SetRestarting answers waits too: `docker run` ends with the first exit
    this.#notify(this.#exitListeners, id, code);
    if (decision.restart) {
      const wait = decision.wait;
      return () => this.#restartLater(id, wait);
    }
    if (local?.record.HostConfig.AutoRemove && !local.removing) {
      await this.#remove(id, true, true).catch((err: unknown) =>
        this.#o.logger?.warn({ err, id }, 'AutoRemove failed'),
      );
    }
    if (atInit && local) return () => void this.#startAtInit(id);
    return undefined;
  }

  /** #restartManager is the container's current restart manager (created at the first exit). */
  #restartManager(id: string, local: Local): RestartManager {
    let rm = this.#restarts.get(id);
    if (rm === undefined) {
      rm = new RestartManager(local.state.RestartCount ?? 0);
      this.#restarts.set(id, rm);
    }
    return rm;
  }

  /**
   * #endRestarts is moby's ExitOnNext plus HasBeenManuallyStopped (stop, kill, rm -f): the current
   * restart manager restarts no more, and unless-stopped will not restart at ckptd's next start.
   */
  async #endRestarts(id: string, cancel = true): Promise<void> {
    const local = this.#locals.get(id);
    if (!local) return;
    if (cancel) this.#restartManager(id, local).cancel();
    if (local.state.ManuallyStopped !== true) {
      local.state = { ...local.state, ManuallyStopped: true };
      await this.#saveState(id);
    }
  }

  /** #restartLater starts the container again once the back-off passed (moby's monitor goroutine). */
  #restartLater(id: string, wait: Promise<boolean>): void {
    const rm = this.#restarts.get(id);
    const p = (async () => {
      const go = await wait;
      if (go && !this.#abort.signal.aborted) {
        try {
          await this.#locked(id, async () => {
            const local = this.#locals.get(id);
            if (!local?.state.Restarting || local.removing || rm?.canceled) return;
            await this.#start(id, undefined, 'policy');
          });
        } catch (err) {
          this.#o.logger?.warn({ err, id }, 'restarting the container failed');
        }
      }
      if (this.#abort.signal.aborted) return; // ckptd stops: init() decides again
      await this.#settleStopped(id);
    })()
      .catch((err: unknown) => this.#o.logger?.warn({ err, id }, 'restart policy failed'))
      .finally(() => {
        if (this.#pendingRestarts.get(id) === p) this.#pendingRestarts.delete(id);
      });
    this.#pendingRestarts.set(id, p);
  }

  /** #settleStopped ends a restart that will not happen: the container is exited (moby's SetStopped). */
  async #settleStopped(id: string): Promise<void> {
    const local = this.#locals.get(id);
    if (!local?.state.Restarting) return;
    local.state = { ...local.state, Restarting: false };
    await this.#saveState(id);
    this.#notify(this.#exitListeners, id, local.state.ExitCode);
  }

  /**
   * #startAtInit starts a stopped container when ckptd starts if its policy says so, as dockerd
   * does when it starts (always; unless-stopped not stopped by a user; on-failure below its
   * count after a failure), as a start by a user: RestartCount begins again at 0.
   */
  async #startAtInit(id: string): Promise<void> {
    const local = this.#locals.get(id);
    if (!local || local.removing || local.state.Running || local.state.StartedAt === ZERO_TIME) return;
    const rm = new RestartManager(local.state.RestartCount ?? 0);
    const decision = rm.shouldRestart(
      storedPolicy(local.record.HostConfig.RestartPolicy),
      local.state.ExitCode,
      local.state.ManuallyStopped === true,
      Date.parse(local.state.FinishedAt) - Date.parse(local.state.StartedAt),
    );
    rm.cancel();
    if (!decision.restart) return;
    this.#o.logger?.info({ id }, 'starting container of its restart policy');
    try {
      await this.#locked(id, () => this.#start(id));
    } catch (err) {
      if (!(err instanceof NotModifiedError))
        this.#o.logger?.warn({ err, id }, 'starting the container of its restart policy failed');
    }
  }

  #notify(map: Map<string, Set<ExitListener>>, id: string, code: number): void {
    const set = map.get(id);
    map.delete(id);
    for (const l of set ?? []) l(code);
  }

  #listen(map: Map<string, Set<ExitListener>>, id: string, signal?: AbortSignal): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let set = map.get(id);
      if (!set) map.set(id, (set = new Set()));
      const l: ExitListener = (code) => resolve(code);
      set.add(l);
      signal?.addEventListener(
        'abort',
        () => {
          set.delete(l);
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        },
        { once: true },
      );
    });
  }

  #isRunning(v: View): boolean {
    const s = v.task?.status;
    return s === 'RUNNING' || s === 'PAUSED' || s === 'PAUSING';
  }

  /** #isRestarting tells whether the container waits for its restart policy (no live task). */
  #isRestarting(v: View): boolean {
    return v.local?.state.Restarting === true && !this.#isRunning(v);
  }

  async containerStop(ref: string, opts: StopOptions = {}, signal?: AbortSignal): Promise<void> {
    const { id } = await this.#find(ref, signal);
    await this.#locked(id, () => this.#stop(id, opts));
  }

  async #stop(id: string, opts: StopOptions): Promise<void> {
    const v = await this.#fresh(id);
    if (this.#isRestarting(v)) {
      // waiting for its back-off: cancelling the policy stops it (moby: ExitOnNext, SetStopped)
      await this.#endRestarts(id);
      await this.#settleStopped(id);
      return;
    }
    if (!this.#isRunning(v)) throw new NotModifiedError(`Container ${id} is not running`);
    // a stop always sends the stop signal or SIGKILL: the restart policy ends (moby's ExitOnNext)
    await this.#endRestarts(id);
    const r = this.#record(v);
    const sig = parseSignal(opts.signal || r.Config.StopSignal || DEFAULT_STOP_SIGNAL);
    const timeout = opts.timeout ?? r.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    this.#watch(id);
    const exited = this.#listen(this.#exitListeners, id);
    await this.#signal(v, sig);
    const waiting = new AbortController();
    const first =
      timeout < 0
        ? await exited
        : await Promise.race([exited, sleepUpTo(timeout * 1000, waiting.signal).then(() => undefined)]);
    waiting.abort();
    if (first !== undefined) return;
    this.#o.logger?.info({ id, timeout }, 'container did not stop in time; killing it');
    await this.#signal(await this.#fresh(id), 9, true);
    const killed = await Promise.race([exited, sleep(30_000).then(() => undefined)]);
    if (killed === undefined) throw new InternalError(`container ${id} did not exit after SIGKILL`);
  }

  /** #signal kills the task; a paused task is thawed afterwards so the signal is delivered (moby). */
  async #signal(v: View, sig: number, all = false): Promise<void> {
    try {
      await this.#client.tasks.kill(v.id, sig, { all });
    } catch (err) {
      if (isNotFound(err)) return; // exited meanwhile
      // killed by someone else meanwhile (`rm -f` kills at once): its shim may close under this call
      const now = await this.#client.tasks.get(v.id).catch(() => undefined);
      if (now === undefined || now.status === 'STOPPED') return;
      throw wrapError(`cannot kill container ${v.id}`, err);
    }
    if (v.task?.status === 'PAUSED' || v.task?.status === 'PAUSING') {
      await this.#client.tasks
        .resume(v.id)
        .catch((err: unknown) =>
          this.#o.logger?.warn({ err, id: v.id }, 'resuming the paused container after signalling it failed'),
        );
    }
  }

  async containerKill(ref: string, signal?: string): Promise<void> {
    const sig = parseKillSignal(ref, signal || 'SIGKILL');
    // dockerd wraps every failure of kill with `Cannot kill container: <ref>: `.
    const v = await this.#find(ref).catch((err: unknown) => {
      if (err instanceof NotFoundError)
        throw new NotFoundError(`Cannot kill container: ${ref}: ${err.message}`);
      throw err;
    });
    const restarting = this.#isRestarting(v);
    if (!this.#isRunning(v) && !restarting) {
      throw new ConflictError(`Cannot kill container: ${ref}: Container ${v.id} is not running`);
    }
    // moby's killWithSignal: the stop signal or SIGKILL (any signal without a StopSignal) ends the
    // restart policy; every kill counts as a manual stop for unless-stopped
    const stopSignal = this.#record(v).Config.StopSignal;
    await this.#endRestarts(v.id, !stopSignal || sig === 9 || parseSignal(stopSignal) === sig);
    if (restarting) {
      // no process to signal: the cancelled restart settles as exited
      await this.#pendingRestarts.get(v.id);
      return;
    }
    this.#watch(v.id);
    const exited = this.#listen(this.#exitListeners, v.id);
    exited.catch(() => undefined);
    await this.#signal(v, sig);
    // like moby: after SIGKILL, give the exit a moment to be recorded so `kill; rm` works
    if (sig === 9) await Promise.race([exited, sleep(5000)]);
  }

  async containerRestart(ref: string, opts: StopOptions = {}, signal?: AbortSignal): Promise<void> {
    const { id } = await this.#find(ref, signal);
    await this.#locked(id, async () => {
      try {
        await this.#stop(id, opts);
      } catch (err) {
        if (!(err instanceof NotModifiedError)) throw err;
      }
      await this.#start(id);
    });
  }

  async containerWait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<ContainerWaiter> {
    const v = await this.#find(ref, signal);
    const id = v.id;
    const code = () => this.#locals.get(id)?.state.ExitCode ?? 0;
    const answer = (n: number): WaitResponse => ({ StatusCode: n, Error: null });
    if (condition === 'removed') {
      return { result: this.#listen(this.#removeListeners, id, signal).then(answer) };
    }
    if (condition === 'next-exit') {
      if (v.task !== undefined) this.#watch(id);
      return { result: this.#listen(this.#exitListeners, id, signal).then(answer) };
    }
    // not-running (a restarting container is running to dockerd: its next exit answers)
    if (this.#isRunning(v) || v.task?.status === 'CREATED' || this.#isRestarting(v)) {
      this.#watch(id);
      return { result: this.#listen(this.#exitListeners, id, signal).then(answer) };
    }
    if (v.task?.status === 'STOPPED') this.#watch(id);
    // an exit being recorded right now: answer once it is
    const w = this.#watchers.get(id) ?? Promise.resolve();
    return { result: w.then(() => answer(v.local ? code() : (v.task?.exit_status ?? 0))) };
  }

  async containerPause(ref: string): Promise<void> {
    const v = await this.#find(ref);
    if (this.#isRestarting(v))
      throw new ConflictError(`Container ${v.id} is restarting, wait until the container is running`);
    if (!this.#isRunning(v)) throw new ConflictError(`Container ${v.id} is not running`);
    if (v.task?.status !== 'RUNNING') throw new ConflictError(`Container ${v.id} is already paused`);
    // moby updateHealthMonitor: no probes while paused (stopped first: a frozen probe cannot be killed)
    await this.#health?.paused(v.id);
    try {
      await this.#client.tasks.pause(v.id);
    } catch (err) {
      this.#health?.unpaused(v.id);
      throw err;
    }
  }

  async containerUnpause(ref: string): Promise<void> {
    const v = await this.#find(ref);
    if (v.task?.status !== 'PAUSED' && v.task?.status !== 'PAUSING') {
      throw new ConflictError(`Container ${v.id} is not paused`);
    }
    await this.#client.tasks.resume(v.id);
    this.#health?.unpaused(v.id);
  }

  async containerRename(ref: string, newName: string): Promise<void> {
    if (newName === '' || newName === '/')
      throw new InvalidArgumentError('Neither old nor new names may be empty');
    const name = validateContainerName(newName);
    const found = await this.#find(ref);
    await this.#locked(found.id, async () => {
      const v = await this.#fresh(found.id);
      if (v.name === name) {
        throw new InvalidArgumentError('Renaming a container with the same name as its current name');
      }
      const all = await this.#views();
      const holder = all.find((x) => x.id !== v.id && (x.name === name || x.id === name));
      if (holder !== undefined || this.#reservedNames.has(name)) throw nameInUse(name, holder?.id ?? '');
      this.#reservedNames.add(name);
      try {
        await this.#client.containers.update(
          { ...v.container, labels: { ...v.container.labels, [LABEL_NAME]: name } },
          [`labels.${LABEL_NAME}`],
        );
        if (v.local) {
          v.local.record.Name = name;
          await writeFileAtomic(join(this.#dir(v.id), 'config.json'), JSON.stringify(v.local.record));
        }
      } finally {
        this.#reservedNames.delete(name);
      }
    });
  }

  async containerTop(ref: string, psArgs = '-ef'): Promise<ContainerTop> {
    const args = psArgs.split(/[ \t]+/).filter((a) => a !== '');
    if (args.some((a) => a.startsWith('-') && a.includes('q'))) {
      throw new InvalidArgumentError('ps "-q" is not supported');
    }
    const v = await this.#find(ref);
    if (!this.#isRunning(v)) throw new ConflictError(`Container ${v.id} is not running`);
    const pids = new Set((await this.#client.tasks.listPids(v.id)).map((p) => p.pid));
    let stdout: string;
    try {
      ({ stdout } = await execFileP('/bin/ps', args, { maxBuffer: 64 * 1024 * 1024, env: { LC_ALL: 'C' } }));
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
      throw new InternalError(`Error running ps: ${stderr || (err as Error).message}`);
    }
    return parsePsOutput(stdout, pids);
  }

  async *containerStats(
    ref: string,
    opts: { stream: boolean; oneShot: boolean },
    signal?: AbortSignal,
  ): AsyncGenerator<Record<string, unknown>> {
    const v = await this.#find(ref, signal);
    const path = this.#spec(v).linux?.cgroupsPath;
    // a systemd-style path (slice:prefix:name) is not a directory: no numbers for it
    const layout =
      typeof path === 'string' && path.startsWith('/')
        ? { version: this.#o.cgroupVersion ?? 2, path }
        : undefined;
    const sample = async () => {
      const s = layout && (await readCgroupSample(layout));
      return s ? { at: new Date(), s } : undefined;
    };
    let pre = this.#isRunning(v) ? await sample() : undefined;
    if (pre === undefined || (!opts.stream && opts.oneShot)) {
      yield dockerStats(v.id, v.name, pre);
      return;
    }
    if (opts.stream) yield dockerStats(v.id, v.name, pre);
    for (;;) {
      try {
        await sleepFor(1000, undefined, signal ? { signal } : {});
      } catch {
        return; // the client is gone
      }
      const cur = await sample();
      if (cur === undefined) return; // the container stopped
      yield dockerStats(v.id, v.name, cur, pre);
      if (!opts.stream) return;
      pre = cur;
    }
  }

  async containersPrune(filters: Filters, signal?: AbortSignal): Promise<ContainersPruneReport> {
    const f = filters.validateKeys(['until', 'label', 'label!']);
    const deleted: string[] = [];
    for (const v of await this.#views(signal)) {
      // only ckptd's own: containers other clients made in the namespace are theirs to remove
      if (v.local === undefined) continue;
      if (['running', 'paused', 'restarting', 'removing'].includes(this.#state(v).Status)) continue;
      const created = Math.floor((Date.parse(v.local.record.Created) || 0) / 1000);
      if (!prunable(f, created, v.container.labels)) continue;
      try {
        await this.containerRemove(v.id);
        deleted.push(v.id);
      } catch (err) {
        // started or removed meanwhile
        if (isEngineError(err) && (err.code === 'CKPTD_CONFLICT' || err.code === 'CKPTD_NOT_FOUND')) continue;
        throw err;
      }
    }
    return { ContainersDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: 0 };
  }

  async containerRemove(ref: string, opts: RemoveOptions = {}): Promise<void> {
    const found = await this.#find(ref);
    // as dockerd, `rm -f` kills at once, even while a stop (holding the lock) waits out its timeout
    if (opts.force && this.#isRunning(found)) {
      if (found.local) found.local.removing = true; // no restart or AutoRemove races this removal
      await this.#signal(found, 9, true);
    }
    await this.#locked(found.id, async () => {
      const v = await this.#fresh(found.id);
      if (this.#isRestarting(v)) {
        if (!opts.force) {
          throw new ConflictError(removeRunningMessage(v.id, 'restarting'));
        }
        await this.#endRestarts(v.id);
      } else if (this.#isRunning(v)) {
        if (!opts.force) {
          throw new ConflictError(
            removeRunningMessage(v.id, this.#state(v).Status === 'paused' ? 'paused' : 'running'),
          );
        }
        await this.#endRestarts(v.id);
        this.#watch(v.id);
        const exited = this.#listen(this.#exitListeners, v.id);
        if (v.local) v.local.removing = true; // AutoRemove must not race this removal
        await this.#signal(v, 9, true);
        if ((await Promise.race([exited, sleep(30_000).then(() => undefined)])) === undefined) {
          throw new InternalError(`container ${v.id} did not exit after SIGKILL`);
        }
      }
      await this.#remove(v.id, false, opts.removeVolumes === true);
    });
  }

  /** #remove deletes a stopped container's task, IO, record, snapshot and files; then resolves `removed` waits. */
  async #remove(id: string, fromWatcher = false, removeVolumes = false): Promise<void> {
    const local = this.#locals.get(id);
    if (local) local.removing = true;
    this.#restarts.get(id)?.cancel();
    try {
      const w = fromWatcher ? undefined : this.#watchers.get(id);
      if (w) await w;
      let c: Container | undefined;
      try {
        c = await this.#client.containers.get(id);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      await this.#deleteTask(id);
      if (local)
        await this.#io
          .remove(id)
          .catch((err: unknown) => this.#o.logger?.warn({ err, id }, 'removing IO failed'));
      if (c) {
        try {
          await this.#client.containers.delete(id);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        if (c.snapshot_key !== '' && c.snapshotter !== '') {
          await this.#client
            .snapshots(c.snapshotter)
            .remove(c.snapshot_key)
            .catch((err: unknown) => {
              if (!isNotFound(err))
                this.#o.logger?.warn({ err, id }, 'removing the container snapshot failed');
            });
          // its init layer, below it (none for a container created before init layers)
          await removeInitLayer(this.#client.snapshots(c.snapshotter), id).catch((err: unknown) =>
            this.#o.logger?.warn({ err, id }, 'removing the init layer failed; containerd GC frees it'),
          );
        }
      }
      await unmountShm(shmPathOf(this.#dir(id))).catch((err: unknown) =>
        this.#o.logger?.warn({ err, id }, 'unmounting /dev/shm failed'),
      );
      await rm(this.#dir(id), { recursive: true, force: true });
      this.#locals.delete(id);
      this.#restarts.delete(id);
      // `rm -v` and AutoRemove take the container's anonymous volumes along (dockerd)
      if (removeVolumes && local && this.#volumes !== undefined)
        await removeAnonymous(this.#volumes, local.record.MountPoints ?? []);
      for (const fn of this.#removedCallbacks) {
        try {
          fn(id);
        } catch (err) {
          this.#o.logger?.warn({ err, id }, 'a container-removed callback failed');
        }
      }
      this.#notify(this.#removeListeners, id, local?.state.ExitCode ?? 0);
      // a next-exit wait on a container that is gone can never be met: answer it now
      this.#notify(this.#exitListeners, id, local?.state.ExitCode ?? 0);
    } catch (err) {
      if (local) local.removing = false;
      throw isEngineError(err) ? err : wrapError(`remove container ${id}`, err);
    }
  }
}

let nofileLimit: Promise<number | undefined> | undefined;

/** hostNofileLimit reads ckptd's own hard RLIMIT_NOFILE (what runc may grant without CAP_SYS_RESOURCE). */
function hostNofileLimit(): Promise<number | undefined> {
  nofileLimit ??= readFile('/proc/self/limits', 'utf8').then(
    (t) => {
      const m = /^Max open files\s+\S+\s+(\d+|unlimited)/m.exec(t);
      return m?.[1] === undefined || m[1] === 'unlimited' ? undefined : Number(m[1]);
    },
    () => undefined,
  );
  return nofileLimit;
}

/**
 * clampRlimits lowers the spec's RLIMIT_NOFILE to the host's hard limit: runc cannot raise a
 * hard limit in a user namespace or sandbox without CAP_SYS_RESOURCE, and dockerd likewise
 * inherits its own limits rather than failing.
 */
export function clampRlimits(spec: RuntimeSpec, hardLimit: number | undefined): void {
  if (hardLimit === undefined) return;
  for (const r of spec.process.rlimits) {
    if (r.type === 'RLIMIT_NOFILE') {
      r.hard = Math.min(r.hard, hardLimit);
      r.soft = Math.min(r.soft, hardLimit);
    }
  }
}

/** annotations returns HostConfig.Annotations when it is a string map (400 otherwise). */
function annotations(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new InvalidArgumentError('HostConfig.Annotations: must be a map of strings');
  }
  return v as Record<string, string>;
}

/** publicLabels hides ckptd's own bookkeeping labels from clients. */
function publicLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith('ckptd/')));
}

/** dataRootHasCgroup2 tells whether the host runs the unified cgroup hierarchy. */
export async function hostCgroupVersion(): Promise<1 | 2> {
  return access('/sys/fs/cgroup/cgroup.controllers').then(
    () => 2 as const,
    () => 1 as const,
  );
}

/** shmPathOf is the host directory of a shareable container's /dev/shm (moby `mounts/shm`). */
function shmPathOf(dir: string): string {
  return join(dir, 'mounts', 'shm');
}

async function isMountpoint(path: string): Promise<boolean> {
  const [st, parent] = await Promise.all([stat(path), stat(join(path, '..'))]);
  return st.dev !== parent.dev;
}

/** mountShm mounts the tmpfs of a shareable /dev/shm once (moby setupIpcDirs). */
async function mountShm(path: string, size: number): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  if (await isMountpoint(path)) return;
  await execFileP('mount', ['-t', 'tmpfs', '-o', `nosuid,nodev,noexec,mode=1777,size=${size}`, 'shm', path]);
}

/** unmountShm unmounts a shareable /dev/shm if mounted (lazily when busy). */
async function unmountShm(path: string): Promise<void> {
  const mounted = await isMountpoint(path).catch(() => false);
  if (mounted) await unmount(path);
}

/**
 * sleepUpTo waits `ms` or until `signal` aborts. A single setTimeout fires at once past
 * 2^31-1 ms, which made `stop -t 3000000` kill at once: waits are chained below that.
 */
async function sleepUpTo(ms: number, signal: AbortSignal): Promise<void> {
  const MAX = 2 ** 31 - 1;
  for (let left = ms; left > 0 && !signal.aborted; left -= MAX) {
    await sleepFor(Math.min(left, MAX), undefined, { signal, ref: false }).catch(() => undefined);
  }
}
