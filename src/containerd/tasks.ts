import type { TasksDefinition } from '../gen/containerd/services/tasks/v1/Tasks.js';
import type { CreateTaskRequest } from '../gen/containerd/services/tasks/v1/CreateTaskRequest.js';
import type { DeleteResponse__Output } from '../gen/containerd/services/tasks/v1/DeleteResponse.js';
import type { ExecProcessRequest } from '../gen/containerd/services/tasks/v1/ExecProcessRequest.js';
import type { Process__Output } from '../gen/containerd/v1/types/Process.js';
import type { ProcessInfo__Output } from '../gen/containerd/v1/types/ProcessInfo.js';
import type { Metric__Output } from '../gen/containerd/types/Metric.js';
import type { Descriptor__Output } from '../gen/containerd/types/Descriptor.js';
import type { Any } from '../gen/google/protobuf/Any.js';
import { ServiceAdapter, required } from './adapter.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';
import { timestampToDate } from './timestamp.js';

const svc = serviceDefinition<TasksDefinition>('containerd.services.tasks.v1.Tasks');

/** TaskProcess is a task's or exec's process state (status 'RUNNING', 'PAUSED', 'STOPPED'...). */
export type TaskProcess = Process__Output;
/** TaskProcessInfo is one pid of a task (info: runc ProcessDetails Any for exec'd processes). */
export type TaskProcessInfo = ProcessInfo__Output;
/** TaskMetric is one task's metrics sample (data: cgroups metrics Any). */
export type TaskMetric = Metric__Output;
/** CreateTaskInit is Tasks.Create's request: rootfs mounts, stdio paths, checkpoint, runc options. */
export type CreateTaskInit = CreateTaskRequest;
/** ExecInit is Tasks.Exec's request (spec: OCI Process Any). */
export type ExecInit = ExecProcessRequest;

/** ExitStatus is how a process ended: its exit code and time. */
export interface ExitStatus {
  exitStatus: number;
  exitedAt: Date;
}

/** DeletedTask is what Tasks.Delete/DeleteProcess report about the removed process. */
export interface DeletedTask extends ExitStatus {
  id: string;
  pid: number;
}

/** CheckpointTaskInit is Tasks.Checkpoint's request. */
export interface CheckpointTaskInit {
  /** parentCheckpoint is the digest of a previous (pre-dump) checkpoint, or ''. */
  parentCheckpoint?: string;
  /** options: runc CheckpointOptions packed with packCheckpointOptions. */
  options?: Any;
}

/** TaskService adapts containerd.services.tasks.v1.Tasks (all RPCs). */
export class TaskService extends ServiceAdapter {
  /** create creates the task (init process) of a container; restores it when `checkpoint` or criu options are set. */
  async create(req: CreateTaskInit, ctx?: CallContext): Promise<{ containerId: string; pid: number }> {
    const res = await this.conn.unary(svc.Create, req, this.ctx(ctx), { longRunning: true });
    return { containerId: res.container_id, pid: res.pid };
  }

  /** start starts a created task (execId '') or an exec'd process; returns its pid. */
  async start(containerId: string, execId = '', ctx?: CallContext): Promise<number> {
    const res = await this.conn.unary(
      svc.Start,
      { container_id: containerId, exec_id: execId },
      this.ctx(ctx),
    );
    return res.pid;
  }

  /** delete deletes a stopped task and reports how it exited. */
  async delete(containerId: string, ctx?: CallContext): Promise<DeletedTask> {
    return deleted(await this.conn.unary(svc.Delete, { container_id: containerId }, this.ctx(ctx)));
  }

  /** deleteProcess deletes a stopped exec'd process. */
  async deleteProcess(containerId: string, execId: string, ctx?: CallContext): Promise<DeletedTask> {
    const req = { container_id: containerId, exec_id: execId };
    return deleted(await this.conn.unary(svc.DeleteProcess, req, this.ctx(ctx)));
  }

  /** get returns the state of a task (execId '') or of an exec'd process. */
  async get(containerId: string, execId = '', ctx?: CallContext): Promise<TaskProcess> {
    const res = await this.conn.unary(svc.Get, { container_id: containerId, exec_id: execId }, this.ctx(ctx));
    return required(res.process, 'task process');
  }

  /** list returns all tasks of the namespace (the filter is ignored by containerd 1.6). */
  async list(filter = '', ctx?: CallContext): Promise<TaskProcess[]> {
    return (await this.conn.unary(svc.List, { filter }, this.ctx(ctx))).tasks;
  }

  /** kill signals the task's init process (execId ''), an exec'd process, or with `all` every process. */
  async kill(
    containerId: string,
    signal: number,
    opts: { execId?: string; all?: boolean } = {},
    ctx?: CallContext,
  ): Promise<void> {
    const req = { container_id: containerId, exec_id: opts.execId ?? '', signal, all: opts.all ?? false };
    await this.conn.unary(svc.Kill, req, this.ctx(ctx));
  }

  /** exec adds a process (spec: OCI Process Any) to a running task; start it with start(id, execId). */
  async exec(req: ExecInit, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Exec, req, this.ctx(ctx));
  }

  /** resizePty resizes the terminal of the task or of an exec'd process. */
  async resizePty(
    containerId: string,
    width: number,
    height: number,
    execId = '',
    ctx?: CallContext,
  ): Promise<void> {
    const req = { container_id: containerId, exec_id: execId, width, height };
    await this.conn.unary(svc.ResizePty, req, this.ctx(ctx));
  }

  /** closeIO closes the stdin of the task or of an exec'd process. */
  async closeIO(containerId: string, execId = '', ctx?: CallContext): Promise<void> {
    const req = { container_id: containerId, exec_id: execId, stdin: true };
    await this.conn.unary(svc.CloseIO, req, this.ctx(ctx));
  }

  /** pause freezes every process of the task (cgroup freezer). */
  async pause(containerId: string, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Pause, { container_id: containerId }, this.ctx(ctx));
  }

  /** resume thaws a paused task. */
  async resume(containerId: string, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Resume, { container_id: containerId }, this.ctx(ctx));
  }

  /** listPids returns the pids of the task's processes. */
  async listPids(containerId: string, ctx?: CallContext): Promise<TaskProcessInfo[]> {
    return (await this.conn.unary(svc.ListPids, { container_id: containerId }, this.ctx(ctx))).processes;
  }

  /**
   * checkpoint runs CRIU on the task. Without `image_path` in the options containerd stores the
   * dump as content and returns its descriptors; with it, CRIU writes to that host directory
   * and the list is empty. Long-running: only ctx.deadlineMs bounds it.
   */
  async checkpoint(
    containerId: string,
    init: CheckpointTaskInit = {},
    ctx?: CallContext,
  ): Promise<Descriptor__Output[]> {
    const req = {
      container_id: containerId,
      parent_checkpoint: init.parentCheckpoint ?? '',
      options: init.options ?? null,
    };
    return (await this.conn.unary(svc.Checkpoint, req, this.ctx(ctx), { longRunning: true })).descriptors;
  }

  /** update changes a running task's resources (OCI LinuxResources Any) and annotations. */
  async update(
    containerId: string,
    resources: Any | null,
    annotations: Record<string, string> = {},
    ctx?: CallContext,
  ): Promise<void> {
    await this.conn.unary(svc.Update, { container_id: containerId, resources, annotations }, this.ctx(ctx));
  }

  /** metrics returns cgroup metrics of the tasks matching the filters (e.g. `id==<container>`). */
  async metrics(filters: string[] = [], ctx?: CallContext): Promise<TaskMetric[]> {
    return (await this.conn.unary(svc.Metrics, { filters }, this.ctx(ctx))).metrics;
  }

  /** wait blocks until the task (or exec'd process) exits; only ctx.deadlineMs/signal bound it. */
  async wait(containerId: string, execId = '', ctx?: CallContext): Promise<ExitStatus> {
    const req = { container_id: containerId, exec_id: execId };
    const res = await this.conn.unary(svc.Wait, req, this.ctx(ctx), { longRunning: true });
    return { exitStatus: res.exit_status, exitedAt: timestampToDate(res.exited_at) };
  }
}

function deleted(res: DeleteResponse__Output): DeletedTask {
  return { id: res.id, pid: res.pid, exitStatus: res.exit_status, exitedAt: timestampToDate(res.exited_at) };
}
