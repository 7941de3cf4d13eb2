/**
 * The container monitor (moby `daemon/monitor.go`, `restartmanager`): a Tasks.Wait watcher per
 * task records each exit once (exit code and time, then the task is deleted and its IO
 * released), answers waits, applies AutoRemove and the restart policy (with its back-off), and
 * at ckptd's start applies the policy of containers that exited while it was down.
 */
import type { ExitStatus } from '../../containerd/index.js';
import { timestampToDate } from '../../containerd/index.js';
import { NotModifiedError } from '../../errors/index.js';
import type { HealthStart } from '../health/health-service.js';
import { RestartManager, storedPolicy, type RestartDecision } from '../restart-manager.js';
import { ZERO_TIME, iso } from './shape.js';
import { shmPathOf, unmountShm } from './shared-namespaces.js';
import { isNotFound } from './store.js';
import type { ContainerDeps, LocalContainer } from './types.js';

type ExitListener = (code: number) => void;

/**
 * MonitorHooks are the lifecycle operations the monitor calls back: a start (by the restart
 * policy, or as a user's at ckptd's start) and a removal (AutoRemove).
 */
export interface MonitorHooks {
  start(id: string, by: 'user' | 'policy'): Promise<unknown>;
  remove(id: string, fromWatcher: boolean, removeVolumes: boolean): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** ContainerMonitor watches the tasks of the containers and applies what follows their exits. */
export class ContainerMonitor {
  readonly #d: ContainerDeps;
  readonly #hooks: MonitorHooks;
  readonly #watchers = new Map<string, Promise<void>>();
  /** per watched task: resolves once its exit is in the record (before task delete and IO release) */
  readonly #recorded = new Map<string, Promise<void>>();
  readonly #exitListeners = new Map<string, Set<ExitListener>>();
  readonly #removeListeners = new Map<string, Set<ExitListener>>();
  /** per container: the restart manager of the current run of its restart policy */
  readonly #restarts = new Map<string, RestartManager>();
  /** per container: a restart waiting for its back-off */
  readonly #pendingRestarts = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();

  constructor(d: ContainerDeps, hooks: MonitorHooks) {
    this.#d = d;
    this.#hooks = hooks;
  }

  /** close stops the health monitors, exit watchers and pending restarts (tasks keep running; init picks them up again). */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#d.health?.close();
    for (const rm of this.#restarts.values()) rm.cancel();
    await Promise.allSettled([...this.#watchers.values(), ...this.#pendingRestarts.values()]);
  }

  /** watcher is the watcher of the container's current task, if one runs. */
  watcher(id: string): Promise<void> | undefined {
    return this.#watchers.get(id);
  }

  /** taskExited resolves once the exit of the container's current task is recorded (watcher done). */
  async taskExited(id: string): Promise<void> {
    await this.#watchers.get(id);
  }

  /**
   * exitRecorded resolves once the exit of the container's current task is in its record (inspect
   * shows it exited), without waiting for the task's deletion and IO release that follow; a later
   * start or restore waits for those itself (a start awaits the watcher and deletes the task).
   */
  async exitRecorded(id: string): Promise<void> {
    await (this.#recorded.get(id) ?? this.#watchers.get(id));
  }

  /** pendingRestart is the restart of the container waiting for its back-off, if any. */
  pendingRestart(id: string): Promise<void> | undefined {
    return this.#pendingRestarts.get(id);
  }

  /** resetRestarts begins a new restart-policy run (moby's ResetRestartManager): a start by a user. */
  resetRestarts(id: string): void {
    this.#restarts.get(id)?.cancel();
    this.#restarts.delete(id);
  }

  /** cancelRestarts stops the container's restart manager (a removal begins). */
  cancelRestarts(id: string): void {
    this.#restarts.get(id)?.cancel();
  }

  /** forgetRestarts drops the restart manager of a removed container. */
  forgetRestarts(id: string): void {
    this.#restarts.delete(id);
  }

  /** nextExit resolves with the exit code of the container's next recorded exit. */
  nextExit(id: string, signal?: AbortSignal): Promise<number> {
    return this.#listen(this.#exitListeners, id, signal);
  }

  /** removal resolves once the container is removed (with its last exit code). */
  removal(id: string, signal?: AbortSignal): Promise<number> {
    return this.#listen(this.#removeListeners, id, signal);
  }

  /**
   * removed answers `removed` waits of a removed container, and its next-exit waits, which can
   * never be met now.
   */
  removed(id: string, code: number): void {
    this.#notify(this.#removeListeners, id, code);
    this.#notify(this.#exitListeners, id, code);
  }

  /** healthStarted tells the health engine a task of the container runs (moby initHealthMonitor). */
  async healthStarted(
    id: string,
    local: LocalContainer,
    continueWith?: HealthStart['continueWith'],
    paused = false,
  ): Promise<void> {
    await this.#d.health
      ?.started(id, {
        config: local.record.Config.Healthcheck,
        shell: local.record.Config.Shell as string[] | undefined,
        startedAt: local.state.StartedAt,
        ...(continueWith ? { continueWith } : {}),
        paused,
      })
      .catch((err: unknown) => this.#d.logger?.warn({ err, id }, 'starting the health monitor failed'));
  }

  /**
   * watch follows a task until it exits, then records the exit (once per task) and applies the
   * restart policy. `atInit`: a task that exited while ckptd was down, whose policy is applied
   * as dockerd applies it when it starts (a fresh start), not as a restart.
   */
  watch(id: string, atInit = false): void {
    if (this.#watchers.has(id)) return;
    const signal = this.#abort.signal;
    let markRecorded!: () => void;
    const recorded = new Promise<void>((resolve) => (markRecorded = resolve));
    const p = (async () => {
      let exit: ExitStatus | undefined;
      let delay = 250;
      while (!signal.aborted) {
        try {
          exit = await this.#d.client.tasks.wait(id, '', { signal });
          break;
        } catch (err) {
          if (signal.aborted) return;
          if (isNotFound(err)) break; // the task was deleted by someone else
          this.#d.logger?.debug({ err, id }, 'waiting for the task failed; retrying');
          await sleep(delay);
          delay = Math.min(delay * 2, 5000);
        }
      }
      if (signal.aborted) return undefined;
      return await this.#handleExit(id, exit, markRecorded, atInit);
    })()
      .catch((err: unknown) => {
        this.#d.logger?.warn({ err, id }, 'recording a container exit failed');
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
    const local = this.#d.store.local(id);
    // moby stopHealthchecks: the monitor stops at once (a probe of the dead task is cancelled
    // in the background: the exit is not held up by it)
    void this.#d.health?.stopped(id).catch(() => undefined);
    // Record the exit first: once the task is deleted, readers fall back to the record.
    let final = exit;
    if (final === undefined) {
      const t = await this.#d.client.tasks.get(id).catch(() => undefined);
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
      await this.#d.store.saveState(id);
      if (decision.restart) {
        this.#d.logger?.info(
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
        await this.#d.client.tasks.delete(id);
      } catch (err) {
        if (!isNotFound(err)) this.#d.logger?.warn({ err, id }, 'deleting the exited task failed');
      }
      // moby unmounts a shareable container's /dev/shm when it stops (containers that joined keep theirs)
      await unmountShm(shmPathOf(this.#d.store.dir(id))).catch((err: unknown) =>
        this.#d.logger?.warn({ err, id }, 'unmounting /dev/shm failed'),
      );
      // A task that exited while ckptd was down may have no writer left on its FIFOs (then no
      // EOF ever comes); what it wrote is in the pipe buffer already, read at once.
      const timeout = Math.min(this.#d.settings.ioClosedTimeoutMs ?? 10_000, atInit ? 1000 : Infinity);
      const closed = await Promise.race([
        this.#d.io.closed(id).then(() => true),
        sleep(timeout).then(() => false),
      ]).catch(() => true);
      if (!closed) this.#d.logger?.warn({ id }, 'container output did not reach EOF in time');
      await this.#d.io
        .release(id)
        .catch((err: unknown) => this.#d.logger?.warn({ err, id }, 'releasing IO failed'));
    }
    // moby's SetRestarting answers waits too: `docker run` ends with the first exit
    this.#notify(this.#exitListeners, id, code);
    if (decision.restart) {
      const wait = decision.wait;
      return () => this.#restartLater(id, wait);
    }
    if (local?.record.HostConfig.AutoRemove && !local.removing) {
      await this.#hooks
        .remove(id, true, true)
        .catch((err: unknown) => this.#d.logger?.warn({ err, id }, 'AutoRemove failed'));
    }
    if (atInit && local) return () => void this.startAtInit(id);
    return undefined;
  }

  /** #restartManager is the container's current restart manager (created at the first exit). */
  #restartManager(id: string, local: LocalContainer): RestartManager {
    let rm = this.#restarts.get(id);
    if (rm === undefined) {
      rm = new RestartManager(local.state.RestartCount ?? 0);
      this.#restarts.set(id, rm);
    }
    return rm;
  }

  /**
   * endRestarts is moby's ExitOnNext plus HasBeenManuallyStopped (stop, kill, rm -f): the current
   * restart manager restarts no more, and unless-stopped will not restart at ckptd's next start.
   */
  async endRestarts(id: string, cancel = true): Promise<void> {
    const local = this.#d.store.local(id);
    if (!local) return;
    if (cancel) this.#restartManager(id, local).cancel();
    if (local.state.ManuallyStopped !== true) {
      local.state = { ...local.state, ManuallyStopped: true };
      await this.#d.store.saveState(id);
    }
  }

  /** #restartLater starts the container again once the back-off passed (moby's monitor goroutine). */
  #restartLater(id: string, wait: Promise<boolean>): void {
    const rm = this.#restarts.get(id);
    const p = (async () => {
      const go = await wait;
      if (go && !this.#abort.signal.aborted) {
        try {
          await this.#d.locks.run(id, async () => {
            const local = this.#d.store.local(id);
            if (!local?.state.Restarting || local.removing || rm?.canceled) return;
            await this.#hooks.start(id, 'policy');
          });
        } catch (err) {
          this.#d.logger?.warn({ err, id }, 'restarting the container failed');
        }
      }
      if (this.#abort.signal.aborted) return; // ckptd stops: init() decides again
      await this.settleStopped(id);
    })()
      .catch((err: unknown) => this.#d.logger?.warn({ err, id }, 'restart policy failed'))
      .finally(() => {
        if (this.#pendingRestarts.get(id) === p) this.#pendingRestarts.delete(id);
      });
    this.#pendingRestarts.set(id, p);
  }

  /** settleStopped ends a restart that will not happen: the container is exited (moby's SetStopped). */
  async settleStopped(id: string): Promise<void> {
    const local = this.#d.store.local(id);
    if (!local?.state.Restarting) return;
    local.state = { ...local.state, Restarting: false };
    await this.#d.store.saveState(id);
    this.#notify(this.#exitListeners, id, local.state.ExitCode);
  }

  /**
   * startAtInit starts a stopped container when ckptd starts if its policy says so, as dockerd
   * does when it starts (always; unless-stopped not stopped by a user; on-failure below its
   * count after a failure), as a start by a user: RestartCount begins again at 0.
   */
  async startAtInit(id: string): Promise<void> {
    const local = this.#d.store.local(id);
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
    this.#d.logger?.info({ id }, 'starting container of its restart policy');
    try {
      await this.#d.locks.run(id, () => this.#hooks.start(id, 'user'));
    } catch (err) {
      if (!(err instanceof NotModifiedError))
        this.#d.logger?.warn({ err, id }, 'starting the container of its restart policy failed');
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
}
