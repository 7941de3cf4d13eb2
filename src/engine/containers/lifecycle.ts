/**
 * The container lifecycle after create (moby `daemon/{start,stop,kill,restart,wait,pause,
 * delete}.go`): each operation on one container runs under that container's lock, shared with
 * every service that changes a container; starts go through start.ts, exits through the monitor.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { rm } from 'node:fs/promises';
import type { Container } from '../../containerd/index.js';
import {
  ConflictError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotModifiedError,
  isEngineError,
  wrapError,
} from '../../errors/index.js';
import { prunable, type Filters } from '../../oci/filters.js';
import { removeInitLayer } from '../init-layer.js';
import { removeAnonymous } from '../volumes/mounts.js';
import { ContainerMonitor } from './monitor.js';
import {
  DEFAULT_STOP_SIGNAL,
  DEFAULT_STOP_TIMEOUT,
  isRestarting,
  isRunning,
  parseKillSignal,
  parseSignal,
  recordOf,
  removeRunningMessage,
  stateOf,
  type ContainersPruneReport,
  type WaitCondition,
} from './shape.js';
import { shmPathOf, unmountShm } from './shared-namespaces.js';
import { deleteTask, startTask } from './start.js';
import { isNotFound } from './store.js';
import type {
  CheckpointStarter,
  ContainerDeps,
  ContainerView,
  ContainerWaiter,
  RemoveOptions,
  RestoreTaskOptions,
  StartOptions,
  StopOptions,
  WaitResponse,
} from './types.js';

/** LifecycleHooks are the other engines the lifecycle calls. */
export interface LifecycleHooks {
  /** startFromCheckpoint serves `start?checkpoint=` (the checkpoint engine); undefined: refused. */
  startFromCheckpoint: CheckpointStarter | undefined;
  /** removed are called with the ID of every container removed (after its record is gone). */
  removed: readonly ((id: string) => void)[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** ContainerLifecycle starts, stops, signals, waits for and removes containers. */
export class ContainerLifecycle {
  readonly #d: ContainerDeps;
  readonly #hooks: LifecycleHooks;
  readonly #monitor: ContainerMonitor;
  readonly #locks: ContainerDeps['locks'];

  constructor(d: ContainerDeps, hooks: LifecycleHooks) {
    this.#d = d;
    this.#hooks = hooks;
    this.#locks = d.locks;
    this.#monitor = new ContainerMonitor(d, {
      start: (id, by) => this.start(id, undefined, by),
      remove: (id, fromWatcher, removeVolumes) => this.remove(id, fromWatcher, removeVolumes),
    });
  }

  /** monitor is the exit monitor of the containers' tasks. */
  get monitor(): ContainerMonitor {
    return this.#monitor;
  }

  /**
   * start creates and starts the container's task (start.ts); the caller holds its lock. `by`:
   * a user's start begins a new restart-policy run, the policy's continues the current one.
   */
  start(id: string, restore?: RestoreTaskOptions, by: 'user' | 'policy' = 'user'): Promise<number> {
    return startTask(
      { d: this.#d, monitor: this.#monitor, remove: (i, w, v) => this.remove(i, w, v) },
      id,
      restore,
      by,
    );
  }

  /** #locked serializes lifecycle operations on one container. */
  #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(id, fn);
  }

  async containerStart(ref: string, signal?: AbortSignal, opts: StartOptions = {}): Promise<void> {
    if (opts.checkpoint !== undefined || opts.checkpointDir !== undefined) {
      if (this.#hooks.startFromCheckpoint === undefined)
        throw new InvalidArgumentError('checkpoint restore is not available in this daemon');
      await this.#hooks.startFromCheckpoint(ref, opts, signal);
      return;
    }
    const { id } = await this.#d.store.find(ref, signal);
    await this.#locked(id, () => this.start(id));
  }

  // ---- checkpoint hooks (issue 5): the checkpoint engine calls these ----

  /**
   * restoreTask creates the container's task from CRIU images (containerd 1.6 reads runc
   * Options.criu_image_path in Tasks.Create and runs `runc restore` at Tasks.Start) with fresh
   * IO, as a start would. NotModifiedError when it runs. On failure no task is left and the
   * error is thrown as containerd reported it (the caller adds CRIU's reason).
   */
  async restoreTask(id: string, restore: RestoreTaskOptions): Promise<number> {
    return this.#locked(id, () => this.start(id, restore));
  }

  /** noteCheckpoint records in state.json that a checkpoint stopped (or restored) the container. */
  async noteCheckpoint(id: string, what: 'checkpointed' | 'restored'): Promise<void> {
    const local = this.#d.store.local(id);
    if (!local) return;
    const now = new Date().toISOString();
    local.state =
      what === 'checkpointed' ? { ...local.state, Checkpointed: now } : { ...local.state, Restored: now };
    await this.#d.store.saveState(id);
  }

  /**
   * endRestartPolicy ends the container's restart policy until its next start, as a stop does,
   * for a checkpoint that stops it: a restore needs it stopped (dockerd would restart it; podman
   * does not).
   */
  async endRestartPolicy(id: string): Promise<void> {
    await this.#monitor.endRestarts(id);
  }

  async containerStop(ref: string, opts: StopOptions = {}, signal?: AbortSignal): Promise<void> {
    const { id } = await this.#d.store.find(ref, signal);
    await this.#locked(id, () => this.#stop(id, opts));
  }

  async #stop(id: string, opts: StopOptions): Promise<void> {
    const v = await this.#d.store.fresh(id);
    if (isRestarting(v)) {
      // waiting for its back-off: cancelling the policy stops it (moby: ExitOnNext, SetStopped)
      await this.#monitor.endRestarts(id);
      await this.#monitor.settleStopped(id);
      return;
    }
    if (!isRunning(v)) throw new NotModifiedError(`Container ${id} is not running`);
    // a stop always sends the stop signal or SIGKILL: the restart policy ends (moby's ExitOnNext)
    await this.#monitor.endRestarts(id);
    const r = recordOf(v);
    const sig = parseSignal(opts.signal || r.Config.StopSignal || DEFAULT_STOP_SIGNAL);
    const timeout = opts.timeout ?? r.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    this.#monitor.watch(id);
    const exited = this.#monitor.nextExit(id);
    await this.#signal(v, sig);
    const waiting = new AbortController();
    const first =
      timeout < 0
        ? await exited
        : await Promise.race([exited, sleepUpTo(timeout * 1000, waiting.signal).then(() => undefined)]);
    waiting.abort();
    if (first !== undefined) return;
    this.#d.logger?.info({ id, timeout }, 'container did not stop in time; killing it');
    await this.#signal(await this.#d.store.fresh(id), 9, true);
    const killed = await Promise.race([exited, sleep(30_000).then(() => undefined)]);
    if (killed === undefined) throw new InternalError(`container ${id} did not exit after SIGKILL`);
  }

  /** #signal kills the task; a paused task is thawed afterwards so the signal is delivered (moby). */
  async #signal(v: ContainerView, sig: number, all = false): Promise<void> {
    try {
      await this.#d.client.tasks.kill(v.id, sig, { all });
    } catch (err) {
      if (isNotFound(err)) return; // exited meanwhile
      // killed by someone else meanwhile (`rm -f` kills at once): its shim may close under this call
      const now = await this.#d.client.tasks.get(v.id).catch(() => undefined);
      if (now === undefined || now.status === 'STOPPED') return;
      throw wrapError(`cannot kill container ${v.id}`, err);
    }
    if (v.task?.status === 'PAUSED' || v.task?.status === 'PAUSING') {
      await this.#d.client.tasks
        .resume(v.id)
        .catch((err: unknown) =>
          this.#d.logger?.warn({ err, id: v.id }, 'resuming the paused container after signalling it failed'),
        );
    }
  }

  async containerKill(ref: string, signal?: string): Promise<void> {
    const sig = parseKillSignal(ref, signal || 'SIGKILL');
    // dockerd wraps every failure of kill with `Cannot kill container: <ref>: `.
    const v = await this.#d.store.find(ref).catch((err: unknown) => {
      if (err instanceof NotFoundError)
        throw new NotFoundError(`Cannot kill container: ${ref}: ${err.message}`);
      throw err;
    });
    const restarting = isRestarting(v);
    if (!isRunning(v) && !restarting) {
      throw new ConflictError(`Cannot kill container: ${ref}: Container ${v.id} is not running`);
    }
    // moby's killWithSignal: the stop signal or SIGKILL (any signal without a StopSignal) ends the
    // restart policy; every kill counts as a manual stop for unless-stopped
    const stopSignal = recordOf(v).Config.StopSignal;
    await this.#monitor.endRestarts(v.id, !stopSignal || sig === 9 || parseSignal(stopSignal) === sig);
    if (restarting) {
      // no process to signal: the cancelled restart settles as exited
      await this.#monitor.pendingRestart(v.id);
      return;
    }
    this.#monitor.watch(v.id);
    const exited = this.#monitor.nextExit(v.id);
    exited.catch(() => undefined);
    await this.#signal(v, sig);
    // like moby: after SIGKILL, give the exit a moment to be recorded so `kill; rm` works
    if (sig === 9) await Promise.race([exited, sleep(5000)]);
  }

  async containerRestart(ref: string, opts: StopOptions = {}, signal?: AbortSignal): Promise<void> {
    const { id } = await this.#d.store.find(ref, signal);
    await this.#locked(id, async () => {
      try {
        await this.#stop(id, opts);
      } catch (err) {
        if (!(err instanceof NotModifiedError)) throw err;
      }
      await this.start(id);
    });
  }

  async containerWait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<ContainerWaiter> {
    const v = await this.#d.store.find(ref, signal);
    const id = v.id;
    const code = () => this.#d.store.local(id)?.state.ExitCode ?? 0;
    const answer = (n: number): WaitResponse => ({ StatusCode: n, Error: null });
    if (condition === 'removed') {
      return { result: this.#monitor.removal(id, signal).then(answer) };
    }
    if (condition === 'next-exit') {
      if (v.task !== undefined) this.#monitor.watch(id);
      return { result: this.#monitor.nextExit(id, signal).then(answer) };
    }
    // not-running (a restarting container is running to dockerd: its next exit answers)
    if (isRunning(v) || v.task?.status === 'CREATED' || isRestarting(v)) {
      this.#monitor.watch(id);
      return { result: this.#monitor.nextExit(id, signal).then(answer) };
    }
    if (v.task?.status === 'STOPPED') this.#monitor.watch(id);
    // an exit being recorded right now: answer once it is
    const w = this.#monitor.watcher(id) ?? Promise.resolve();
    return { result: w.then(() => answer(v.local ? code() : (v.task?.exit_status ?? 0))) };
  }

  async containerPause(ref: string): Promise<void> {
    const v = await this.#d.store.find(ref);
    if (isRestarting(v))
      throw new ConflictError(`Container ${v.id} is restarting, wait until the container is running`);
    if (!isRunning(v)) throw new ConflictError(`Container ${v.id} is not running`);
    if (v.task?.status !== 'RUNNING') throw new ConflictError(`Container ${v.id} is already paused`);
    // moby updateHealthMonitor: no probes while paused (stopped first: a frozen probe cannot be killed)
    await this.#d.health?.paused(v.id);
    try {
      await this.#d.client.tasks.pause(v.id);
    } catch (err) {
      this.#d.health?.unpaused(v.id);
      throw err;
    }
  }

  async containerUnpause(ref: string): Promise<void> {
    const v = await this.#d.store.find(ref);
    if (v.task?.status !== 'PAUSED' && v.task?.status !== 'PAUSING') {
      throw new ConflictError(`Container ${v.id} is not paused`);
    }
    await this.#d.client.tasks.resume(v.id);
    this.#d.health?.unpaused(v.id);
  }

  async containersPrune(filters: Filters, signal?: AbortSignal): Promise<ContainersPruneReport> {
    const f = filters.validateKeys(['until', 'label', 'label!']);
    const deleted: string[] = [];
    for (const v of await this.#d.store.views(signal)) {
      // only ckptd's own: containers other clients made in the namespace are theirs to remove
      if (v.local === undefined) continue;
      if (['running', 'paused', 'restarting', 'removing'].includes(stateOf(v).Status)) continue;
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
    const found = await this.#d.store.find(ref);
    // as dockerd, `rm -f` kills at once, even while a stop (holding the lock) waits out its timeout
    if (opts.force && isRunning(found)) {
      if (found.local) found.local.removing = true; // no restart or AutoRemove races this removal
      await this.#signal(found, 9, true);
    }
    await this.#locked(found.id, async () => {
      const v = await this.#d.store.fresh(found.id);
      if (isRestarting(v)) {
        if (!opts.force) {
          throw new ConflictError(removeRunningMessage(v.id, 'restarting'));
        }
        await this.#monitor.endRestarts(v.id);
      } else if (isRunning(v)) {
        if (!opts.force) {
          throw new ConflictError(
            removeRunningMessage(v.id, stateOf(v).Status === 'paused' ? 'paused' : 'running'),
          );
        }
        await this.#monitor.endRestarts(v.id);
        this.#monitor.watch(v.id);
        const exited = this.#monitor.nextExit(v.id);
        if (v.local) v.local.removing = true; // AutoRemove must not race this removal
        await this.#signal(v, 9, true);
        if ((await Promise.race([exited, sleep(30_000).then(() => undefined)])) === undefined) {
          throw new InternalError(`container ${v.id} did not exit after SIGKILL`);
        }
      }
      await this.remove(v.id, false, opts.removeVolumes === true);
    });
  }

  /** remove deletes a stopped container's task, IO, record, snapshot and files; then resolves `removed` waits. */
  async remove(id: string, fromWatcher = false, removeVolumes = false): Promise<void> {
    const local = this.#d.store.local(id);
    if (local) local.removing = true;
    this.#monitor.cancelRestarts(id);
    try {
      const w = fromWatcher ? undefined : this.#monitor.watcher(id);
      if (w) await w;
      let c: Container | undefined;
      try {
        c = await this.#d.client.containers.get(id);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      await deleteTask(this.#d, id);
      if (local)
        await this.#d.io
          .remove(id)
          .catch((err: unknown) => this.#d.logger?.warn({ err, id }, 'removing IO failed'));
      if (c) {
        try {
          await this.#d.client.containers.delete(id);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        if (c.snapshot_key !== '' && c.snapshotter !== '') {
          await this.#d.client
            .snapshots(c.snapshotter)
            .remove(c.snapshot_key)
            .catch((err: unknown) => {
              if (!isNotFound(err))
                this.#d.logger?.warn({ err, id }, 'removing the container snapshot failed');
            });
          // its init layer, below it (none for a container created before init layers)
          await removeInitLayer(this.#d.client.snapshots(c.snapshotter), id).catch((err: unknown) =>
            this.#d.logger?.warn({ err, id }, 'removing the init layer failed; containerd GC frees it'),
          );
        }
      }
      await unmountShm(shmPathOf(this.#d.store.dir(id))).catch((err: unknown) =>
        this.#d.logger?.warn({ err, id }, 'unmounting /dev/shm failed'),
      );
      await rm(this.#d.store.dir(id), { recursive: true, force: true });
      this.#d.store.forget(id);
      this.#monitor.forgetRestarts(id);
      // `rm -v` and AutoRemove take the container's anonymous volumes along (dockerd)
      if (removeVolumes && local && this.#d.volumes !== undefined)
        await removeAnonymous(this.#d.volumes, local.record.MountPoints ?? []);
      for (const fn of this.#hooks.removed) {
        try {
          fn(id);
        } catch (err) {
          this.#d.logger?.warn({ err, id }, 'a container-removed callback failed');
        }
      }
      // `removed` waits answer; a next-exit wait on a container that is gone can never be met: it answers now
      this.#monitor.removed(id, local?.state.ExitCode ?? 0);
    } catch (err) {
      if (local) local.removing = false;
      throw isEngineError(err) ? err : wrapError(`remove container ${id}`, err);
    }
  }
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
