/**
 * The container engine of the Docker API over containerd (moby `daemon/{create,start,stop,
 * kill,wait,delete,list,inspect}.go`, nerdctl's `container` commands): a containerd container
 * record per Docker container (spec built by ckptd, rootfs snapshot keyed by the container ID),
 * a task per run, and Docker's own facts (merged Config, HostConfig, name, start/exit times)
 * persisted under `<data-root>/containers/<id>/`. Live state (running, paused, pid) always comes
 * from containerd; exits are recorded by a Tasks.Wait watcher per running task and reconciled
 * when ckptd starts, so state survives a ckptd restart.
 *
 * One job per file: store (records, views, lookup, names, reconciliation), shape (pure views),
 * create, start, monitor (exits, restart policy), lifecycle (stop, kill, wait, pause, rm),
 * update (update, rename), inspect (list, inspect), top-stats, shared-namespaces (IPC/PID
 * sharing at start). ContainerService here puts them behind ContainersBackend.
 */
import { access } from 'node:fs/promises';
import type { ContainerdClient } from '../../containerd/index.js';
import type { Filters } from '../../oci/filters.js';
import type { ResourceHost } from '../../oci/resources.js';
import { ContainerLocks } from '../container-locks.js';
import type { ContainerIO } from '../io/types.js';
import type { VolumeMountPoint } from '../volumes/mounts.js';
import type { VolumeService } from '../volumes/store.js';
import { containerCreate } from './create.js';
import { containerInspect, containers } from './inspect.js';
import { ContainerLifecycle, type LifecycleHooks } from './lifecycle.js';
import type { ContainersPruneReport, ContainerTop, WaitCondition } from './shape.js';
import type { ContainerStore } from './store.js';
import { containerStats, containerTop } from './top-stats.js';
import type {
  CheckpointStarter,
  CommitSource,
  ContainerDeps,
  ContainerInspect,
  ContainerLogger,
  ContainersBackend,
  ContainerSummary,
  ContainerWaiter,
  CreateContainerRequest,
  CreateContainerResponse,
  HealthHooks,
  ImageResolver,
  ListContainersOptions,
  RemoveOptions,
  RestoreTaskOptions,
  StartOptions,
  StopOptions,
} from './types.js';
import { containerRename, containerUpdate } from './update.js';

export * from './types.js';
export { clampRlimits } from './create.js';
export { ContainerStore, type ContainerdStorePort, type ContainerStoreOptions } from './store.js';

/**
 * ContainerServiceOptions configure a ContainerService: every engine it calls is given here,
 * built before it (daemon.ts wires store -> io(store) -> exec, health -> containers).
 */
export interface ContainerServiceOptions {
  /** store keeps the records; container IO and exec look containers up in it too. */
  store: ContainerStore;
  client: ContainerdClient;
  images: ImageResolver;
  io: ContainerIO;
  /** health is the health-check engine (its probes run through exec, which uses the store). */
  health?: HealthHooks;
  /** volumes is the volume store (named, anonymous and image volumes). */
  volumes?: VolumeService;
  /** startFromCheckpoint serves `start?checkpoint=`; without it such a start is refused. */
  startFromCheckpoint?: CheckpointStarter;
  /**
   * onRemoved are called with the ID of every container this service removes (after its record
   * is gone), for engines that keep per-container state, such as exec records.
   */
  onRemoved?: readonly ((id: string) => void)[];
  namespace: string;
  snapshotter: string;
  cgroupVersion?: 1 | 2;
  logger?: ContainerLogger;
  /** ioClosedTimeoutMs bounds how long an exit waits for the output to drain (default 10 s). */
  ioClosedTimeoutMs?: number;
  /** resourceHost is what the host's cgroups enforce and its device lookups (default: this host). */
  resourceHost?: ResourceHost;
  /** locks is the per-container mutex shared with every service that changes a container. */
  locks?: ContainerLocks;
}

/**
 * ContainerService implements ContainersBackend over containerd. Call `init()` once at start-up
 * (reconciles tasks that ran or exited while ckptd was down) and `close()` at shutdown.
 */
export class ContainerService implements ContainersBackend {
  readonly #d: ContainerDeps;
  readonly #lifecycle: ContainerLifecycle;

  constructor(o: ContainerServiceOptions) {
    this.#d = {
      store: o.store,
      client: o.client,
      images: o.images,
      io: o.io,
      health: o.health,
      volumes: o.volumes,
      locks: o.locks ?? new ContainerLocks(),
      settings: {
        namespace: o.namespace,
        snapshotter: o.snapshotter,
        ...(o.cgroupVersion !== undefined ? { cgroupVersion: o.cgroupVersion } : {}),
        ...(o.ioClosedTimeoutMs !== undefined ? { ioClosedTimeoutMs: o.ioClosedTimeoutMs } : {}),
        ...(o.resourceHost !== undefined ? { resourceHost: o.resourceHost } : {}),
      },
      logger: o.logger,
    };
    const hooks: LifecycleHooks = {
      startFromCheckpoint: o.startFromCheckpoint,
      removed: o.onRemoved ?? [],
    };
    this.#lifecycle = new ContainerLifecycle(this.#d, hooks);
  }

  /** containersDir is `<data-root>/containers`. */
  get containersDir(): string {
    return this.#d.store.containersDir;
  }

  /** volumeUsers maps each volume name to the IDs of the containers whose record mounts it. */
  volumeUsers(): Map<string, string[]> {
    return this.#d.store.volumeUsers();
  }

  /** volumeMountPoints are the volumes a container mounts (for checkpoint export). */
  volumeMountPoints(ref: string): Promise<VolumeMountPoint[]> {
    return this.#d.store.volumeMountPoints(ref);
  }

  /**
   * init loads the persisted records and reconciles them with containerd: running tasks get a
   * watcher and their IO reattached; tasks that exited while ckptd was down are recorded
   * (exit code and time from containerd) and deleted; AutoRemove applies to them.
   */
  async init(): Promise<void> {
    const { store, io, health, client, logger } = this.#d;
    const monitor = this.#lifecycle.monitor;
    for (const id of await store.load()) {
      await health
        ?.load(id)
        .catch((err: unknown) => logger?.warn({ err, id }, 'ignoring an unreadable container record'));
    }
    const reconciled = await store.reconcile();
    if (reconciled === undefined) return;
    const restart: string[] = [];
    for (const { id, local, task } of reconciled) {
      const opts = {
        tty: local.record.Config.Tty === true,
        openStdin: local.record.Config.OpenStdin === true,
      };
      if (task === undefined) {
        restart.push(id);
        continue;
      }
      if (task.status === 'RUNNING' || task.status === 'PAUSED' || task.status === 'PAUSING') {
        await io
          .reattach(id, opts)
          .catch((err: unknown) => logger?.warn({ err, id }, 'reattaching IO failed'));
        await monitor.healthStarted(id, local, 'recorded', task.status !== 'RUNNING');
        monitor.watch(id);
      } else if (task.status === 'STOPPED') {
        await io.reattach(id, opts).catch(() => undefined);
        // Tasks.Wait answers at once with the recorded exit; then the restart policy applies
        monitor.watch(id, true);
      } else {
        // CREATED: a start that never completed
        await client.tasks.delete(id).catch(() => undefined);
        await io.release(id).catch(() => undefined);
        restart.push(id);
      }
    }
    // as dockerd when it starts: containers whose restart policy says so run again
    for (const id of restart) await monitor.startAtInit(id);
  }

  /** close stops the exit watchers (tasks keep running; init() picks them up again). */
  async close(): Promise<void> {
    await this.#lifecycle.monitor.close();
  }

  containerCreate(
    name: string | undefined,
    req: CreateContainerRequest,
    signal?: AbortSignal,
    platform?: string,
  ): Promise<CreateContainerResponse> {
    return containerCreate(this.#d, name, req, signal, platform);
  }

  containers(opts: ListContainersOptions, signal?: AbortSignal): Promise<ContainerSummary[]> {
    return containers(this.#d, opts, signal);
  }

  containerInspect(ref: string, signal?: AbortSignal): Promise<ContainerInspect> {
    return containerInspect(this.#d, ref, signal);
  }

  /**
   * lookup resolves a reference for container IO (its `ContainerLookup`): ID, tty/stdin
   * settings and whether the task runs.
   */
  lookup(
    ref: string,
    signal?: AbortSignal,
  ): Promise<{
    id: string;
    tty: boolean;
    openStdin: boolean;
    stdinOnce: boolean;
    running: boolean;
    paused?: boolean;
  }> {
    return this.#d.store.lookup(ref, signal);
  }

  /** commitSource describes a container for commit, changes and export (ContainerStore.commitSource). */
  commitSource(ref: string, signal?: AbortSignal): Promise<CommitSource> {
    return this.#d.store.commitSource(ref, signal);
  }

  containerUpdate(ref: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }> {
    return containerUpdate(this.#d, ref, body);
  }

  containerRename(ref: string, newName: string): Promise<void> {
    return containerRename(this.#d, ref, newName);
  }

  containerStart(ref: string, signal?: AbortSignal, opts: StartOptions = {}): Promise<void> {
    return this.#lifecycle.containerStart(ref, signal, opts);
  }

  // ---- checkpoint hooks (issue 5): the checkpoint engine calls these ----

  /** restoreTask creates the container's task from CRIU images (ContainerLifecycle.restoreTask). */
  restoreTask(id: string, restore: RestoreTaskOptions): Promise<number> {
    return this.#lifecycle.restoreTask(id, restore);
  }

  /** noteCheckpoint records in state.json that a checkpoint stopped (or restored) the container. */
  noteCheckpoint(id: string, what: 'checkpointed' | 'restored'): Promise<void> {
    return this.#lifecycle.noteCheckpoint(id, what);
  }

  /** endRestartPolicy ends the container's restart policy until its next start, as a stop does. */
  endRestartPolicy(id: string): Promise<void> {
    return this.#lifecycle.endRestartPolicy(id);
  }

  /** taskExited resolves once the exit of the container's current task is recorded (watcher done). */
  taskExited(id: string): Promise<void> {
    return this.#lifecycle.monitor.taskExited(id);
  }

  /** exitRecorded resolves once the exit of the container's current task is in its record. */
  exitRecorded(id: string): Promise<void> {
    return this.#lifecycle.monitor.exitRecorded(id);
  }

  containerStop(ref: string, opts: StopOptions = {}, signal?: AbortSignal): Promise<void> {
    return this.#lifecycle.containerStop(ref, opts, signal);
  }

  containerKill(ref: string, signal?: string): Promise<void> {
    return this.#lifecycle.containerKill(ref, signal);
  }

  containerRestart(ref: string, opts: StopOptions = {}, signal?: AbortSignal): Promise<void> {
    return this.#lifecycle.containerRestart(ref, opts, signal);
  }

  containerWait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<ContainerWaiter> {
    return this.#lifecycle.containerWait(ref, condition, signal);
  }

  containerPause(ref: string): Promise<void> {
    return this.#lifecycle.containerPause(ref);
  }

  containerUnpause(ref: string): Promise<void> {
    return this.#lifecycle.containerUnpause(ref);
  }

  containerTop(ref: string, psArgs = '-ef'): Promise<ContainerTop> {
    return containerTop(this.#d, ref, psArgs);
  }

  containerStats(
    ref: string,
    opts: { stream: boolean; oneShot: boolean },
    signal?: AbortSignal,
  ): AsyncGenerator<Record<string, unknown>> {
    return containerStats(this.#d, ref, opts, signal);
  }

  containersPrune(filters: Filters, signal?: AbortSignal): Promise<ContainersPruneReport> {
    return this.#lifecycle.containersPrune(filters, signal);
  }

  containerRemove(ref: string, opts: RemoveOptions = {}): Promise<void> {
    return this.#lifecycle.containerRemove(ref, opts);
  }
}

/** hostCgroupVersion tells whether the host runs the unified cgroup hierarchy (2) or not (1). */
export async function hostCgroupVersion(): Promise<1 | 2> {
  return access('/sys/fs/cgroup/cgroup.controllers').then(
    () => 2 as const,
    () => 1 as const,
  );
}
