/**
 * Container start (moby `daemon/start.go`): the task is created over the rootfs snapshot's
 * mounts with fresh IO (or from CRIU images, for a restore), started, recorded, and handed to
 * the monitor; a start that fails is recorded as dockerd records it.
 */
import { packRuncOptions } from '../../containerd/index.js';
import { ConflictError, NotModifiedError } from '../../errors/index.js';
import { restoreRootfsMounts } from '../init-layer.js';
import type { TaskIO } from '../io/types.js';
import { runtimeMessage, startFailure } from '../start-errors.js';
import { ensureBindSources } from './create.js';
import type { ContainerMonitor, MonitorHooks } from './monitor.js';
import { recordOf } from './shape.js';
import { prepareNamespaces } from './shared-namespaces.js';
import { isNotFound } from './store.js';
import type { ContainerDeps, RestoreTaskOptions } from './types.js';

/** StartDeps are what a start works with: the shared deps, the monitor, and removal (AutoRemove). */
export interface StartDeps {
  d: ContainerDeps;
  monitor: ContainerMonitor;
  remove: MonitorHooks['remove'];
}

/**
 * startTask creates and starts the container's task. `by` is who starts it: a user (start,
 * restart, run; a restore) begins a new restart-policy run (moby's ResetRestartManager), the
 * restart policy continues the current one.
 */
export async function startTask(
  x: StartDeps,
  id: string,
  restore?: RestoreTaskOptions,
  by: 'user' | 'policy' = 'user',
): Promise<number> {
  const { d, monitor, remove } = x;
  let v = await d.store.fresh(id);
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
    const w = monitor.watcher(id);
    if (w) await w;
    await deleteTask(d, id);
    v = await d.store.fresh(id);
  }
  const local = v.local;
  const r = recordOf(v);
  if (local && by === 'user') {
    monitor.resetRestarts(id);
    local.state = { ...local.state, RestartCount: 0, ManuallyStopped: false };
  }
  if (local) await ensureBindSources(r.HostConfig.Binds ?? []);
  // volumes whose driver options make them mounts (tmpfs, bind, devices) are mounted for the start
  if (local && d.volumes !== undefined)
    for (const p of r.MountPoints ?? []) await d.volumes.ensureMounted(p.Name);
  if (local) {
    await prepareNamespaces(d, v, r).catch(async (err: unknown) => {
      // as dockerd: an AutoRemove container that cannot start is removed (`removed` waits answered)
      if (r.HostConfig.AutoRemove) await remove(id, false, true).catch(() => undefined);
      throw err;
    });
    v = await d.store.fresh(id); // the spec may have been re-pointed
  }
  const noIo: TaskIO = { stdin: '', stdout: '', stderr: '', terminal: r.Config.Tty === true };
  const io = local
    ? await d.io.prepare(id, { tty: r.Config.Tty === true, openStdin: r.Config.OpenStdin === true })
    : noIo;
  let pid: number;
  let phase: 'create' | 'start' = 'create';
  try {
    // containerd's task service mounts only what it is given (its Go client passes the
    // snapshot's mounts the same way)
    const c = v.container;
    const mounts =
      c.snapshot_key !== '' ? await d.client.snapshots(c.snapshotter).mounts(c.snapshot_key) : [];
    // runc makes a read-only root read-only by remounting it at create; `runc restore` has
    // CRIU rebuild the mounts and never does: containerd mounts it read-only instead
    const rootfs = restoreRootfsMounts(mounts, restore !== undefined, r.HostConfig.ReadonlyRootfs === true);
    await d.client.tasks.create({
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
    pid = await d.client.tasks.start(id);
  } catch (err) {
    await d.client.tasks.delete(id).catch(() => undefined);
    if (local) await d.io.release(id).catch(() => undefined);
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
      await d.store.saveState(id);
      // as dockerd: an AutoRemove container that cannot start is removed (and `removed` waits answered)
      if (local.record.HostConfig.AutoRemove) {
        await remove(id, false, true).catch((e: unknown) =>
          d.logger?.warn({ err: e, id }, 'removing the AutoRemove container after its failed start failed'),
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
    await d.store.saveState(id);
  }
  d.logger?.debug({ id, pid, restored: restore !== undefined }, 'container started');
  // the monitor first: an exit seen by the watcher then always stops it
  if (local) await monitor.healthStarted(id, local, restore?.health);
  monitor.watch(id);
  return pid;
}

/** deleteTask deletes the container's task; one already gone is no error. */
export async function deleteTask(d: ContainerDeps, id: string): Promise<void> {
  try {
    await d.client.tasks.delete(id);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
