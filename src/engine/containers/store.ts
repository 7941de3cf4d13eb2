/**
 * The container store: ckptd's records of the containers it created (`config.json` and
 * `state.json` under `<data-root>/containers/<id>/`), joined with containerd's containers and
 * tasks into views; lookup by ID, ID prefix or name (moby `daemon.GetContainer`); name
 * reservation while a create or rename runs (moby's `nameIndex`); and, when ckptd starts, the
 * reconciliation of the records with what containerd still has. It reaches containerd only
 * through ContainerdStorePort, so it is unit-tested with a fake.
 */
import type { ContainerView as EventFedView } from '../container-view.js';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CallContext, Container, TaskProcess } from '../../containerd/index.js';
import { isEngineError, NotFoundError } from '../../errors/index.js';
import { LABEL_NAME } from '../../oci/labels.js';
import { generateName, validateContainerName } from '../../oci/names.js';
import { TEMP_PREFIX, writeFileAtomic } from '../../host/atomic-write.js';
import type { ContainerIoInfo, ContainerLookup } from '../io/lookup.js';
import type { VolumeMountPoint } from '../volumes/mounts.js';
import { lookupContainer, nameInUse, recordOf, specOf } from './shape.js';
import type {
  CommitSource,
  ContainerLogger,
  ContainerRecord,
  ContainerView,
  LocalContainer,
  RunState,
} from './types.js';

/**
 * ContainerdStorePort is the part of containerd the store reads: containers and tasks, listed
 * or one by ID (NotFoundError when absent).
 */
export interface ContainerdStorePort {
  containers: {
    list(filters?: string[], ctx?: CallContext): Promise<Container[]>;
    get(id: string, ctx?: CallContext): Promise<Container>;
  };
  tasks: {
    list(filter?: string, ctx?: CallContext): Promise<TaskProcess[]>;
    get(containerId: string, execId?: string, ctx?: CallContext): Promise<TaskProcess>;
  };
}

/** ContainerStoreOptions configure a ContainerStore. */
export interface ContainerStoreOptions {
  containerd: ContainerdStorePort;
  dataRoot: string;
  /** snapshotter is the default snapshotter (for containers whose record names none). */
  snapshotter: string;
  logger?: ContainerLogger;
  /** view is the event-fed view of containerd's containers that list and inspect read. */
  view?: Pick<EventFedView, 'snapshot'>;
}

/**
 * ReconciledContainer is a record whose container containerd still has, with its task (if
 * any) as containerd reports it: what the monitor picks up when ckptd starts.
 */
export interface ReconciledContainer {
  id: string;
  local: LocalContainer;
  task: TaskProcess | undefined;
}

/** isNotFound tells whether containerd (or ckptd) answered "not found". */
export function isNotFound(err: unknown): boolean {
  return isEngineError(err) && err.code === 'CKPTD_NOT_FOUND';
}

/** ContainerStore keeps the records of ckptd's containers and resolves references to views. */
export class ContainerStore implements ContainerLookup {
  readonly #o: ContainerStoreOptions;
  readonly #locals = new Map<string, LocalContainer>();
  readonly #reservedNames = new Set<string>();

  constructor(o: ContainerStoreOptions) {
    this.#o = o;
  }

  /** containersDir is `<data-root>/containers`. */
  get containersDir(): string {
    return join(this.#o.dataRoot, 'containers');
  }

  /** dir is the directory of one container's record. */
  dir(id: string): string {
    return join(this.containersDir, id);
  }

  /** local is ckptd's record of the container (undefined for one it did not create). */
  local(id: string): LocalContainer | undefined {
    return this.#locals.get(id);
  }

  /** add keeps the record of a container just created (its files are written already). */
  add(id: string, local: LocalContainer): void {
    this.#locals.set(id, local);
  }

  /** forget drops the in-memory record of a removed container. */
  forget(id: string): void {
    this.#locals.delete(id);
  }

  /**
   * load reads the persisted records (after removing the temp files of writes a crash left
   * unfinished) and returns the IDs loaded; an unreadable record is logged and skipped.
   */
  async load(): Promise<string[]> {
    await mkdir(this.containersDir, { recursive: true, mode: 0o700 });
    const loaded: string[] = [];
    for (const id of await readdir(this.containersDir)) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue;
      await this.#removeTornWrites(id);
      try {
        const record = JSON.parse(
          await readFile(join(this.dir(id), 'config.json'), 'utf8'),
        ) as ContainerRecord;
        const state = JSON.parse(await readFile(join(this.dir(id), 'state.json'), 'utf8')) as RunState;
        // a restart that was waiting when ckptd stopped: the policy is applied afresh
        if (state.Restarting) delete state.Restarting;
        this.#locals.set(id, { record, state, removing: false });
        loaded.push(id);
      } catch (err) {
        this.#o.logger?.warn({ err, id }, 'ignoring an unreadable container record');
      }
    }
    return loaded;
  }

  /**
   * reconcile matches the loaded records with containerd: a record whose container vanished
   * (removed behind ckptd's back by ctr or nerdctl) is dropped with its files; a record that
   * believed its task ran when containerd has none is marked not running (its exit status is
   * lost). It returns every remaining record with its task, or undefined when containerd
   * cannot be asked yet (the records are kept as they are).
   */
  async reconcile(): Promise<ReconciledContainer[] | undefined> {
    let containers: Container[];
    let tasks: TaskProcess[];
    try {
      [containers, tasks] = await Promise.all([
        this.#o.containerd.containers.list(),
        this.#o.containerd.tasks.list(),
      ]);
    } catch (err) {
      this.#o.logger?.warn({ err }, 'cannot reconcile containers with containerd yet');
      return undefined;
    }
    const byId = new Map(tasks.map((t) => [t.id || t.container_id, t]));
    const present = new Set(containers.map((c) => c.id));
    const out: ReconciledContainer[] = [];
    for (const [id, local] of [...this.#locals]) {
      if (!present.has(id)) {
        this.#o.logger?.info({ id }, 'container vanished from containerd; dropping its record');
        this.#locals.delete(id);
        await rm(this.dir(id), { recursive: true, force: true });
        continue;
      }
      const task = byId.get(id);
      if (task === undefined) {
        // the task was deleted by someone else: its exit status is lost
        if (local.state.Running) local.state = { ...local.state, Running: false };
        await this.saveState(id);
      }
      out.push({ id, local, task });
    }
    return out;
  }

  /** #removeTornWrites deletes record temp files a crash left before their rename (logged). */
  async #removeTornWrites(id: string): Promise<void> {
    const names = await readdir(this.dir(id)).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith(TEMP_PREFIX))) {
      await rm(join(this.dir(id), name), { force: true });
      this.#o.logger?.info({ id, file: name }, 'removed a record write a crash left unfinished');
    }
  }

  /** saveState persists the container's run state (`state.json`, atomically); a failure is logged. */
  async saveState(id: string): Promise<void> {
    const l = this.#locals.get(id);
    if (!l) return;
    await writeFileAtomic(join(this.dir(id), 'state.json'), JSON.stringify(l.state)).catch((err: unknown) =>
      this.#o.logger?.warn({ err, id }, 'cannot persist container state'),
    );
  }

  /** saveRecord persists the container's record (`config.json`, atomically). */
  async saveRecord(id: string): Promise<void> {
    const l = this.#locals.get(id);
    if (!l) return;
    await writeFileAtomic(join(this.dir(id), 'config.json'), JSON.stringify(l.record));
  }

  /** views lists every container of the namespace with its task and record. */
  async views(signal?: AbortSignal): Promise<ContainerView[]> {
    const ctx = signal ? { signal } : undefined;
    const [containers, tasks] = await Promise.all([
      this.#o.containerd.containers.list([], ctx),
      this.#o.containerd.tasks.list('', ctx),
    ]);
    const byId = new Map(tasks.map((t) => [t.id || t.container_id, t]));
    return containers.map((c) => this.view(c, byId.get(c.id)));
  }

  /** view joins a containerd container and its task with ckptd's record. */
  view(c: Container, task: TaskProcess | undefined): ContainerView {
    const local = this.#locals.get(c.id);
    return { id: c.id, name: local?.record.Name ?? c.labels[LABEL_NAME] ?? c.id, container: c, task, local };
  }

  /**
   * viewed is views() answered from the event-fed view when there is one (list and inspect:
   * containerd is not asked for every container on every call); `ref` lets an exact full ID
   * read that container alone.
   */
  async viewed(signal?: AbortSignal, ref?: string): Promise<ContainerView[]> {
    if (!this.#o.view) return this.views(signal);
    return (await this.#o.view.snapshot(signal, ref)).map((e) => this.view(e.container, e.task));
  }

  /** find resolves a reference (ID, name, unique ID prefix) to one container with fresh task state. */
  async find(ref: string, signal?: AbortSignal): Promise<ContainerView> {
    return lookupContainer(await this.views(signal), ref);
  }

  /** fresh reads one container and its task again (NotFoundError `No such container`). */
  async fresh(id: string): Promise<ContainerView> {
    const c = await this.#o.containerd.containers.get(id).catch((err: unknown) => {
      if (isNotFound(err)) throw new NotFoundError(`No such container: ${id}`);
      throw err;
    });
    const task = await this.#o.containerd.tasks.get(id).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    return this.view(c, task);
  }

  /**
   * reserveName picks the name of a container being created: `name` (validated; 409 when
   * another container has it as name or ID, or a create or rename holds it) or a generated
   * one. Release it with releaseName once the container exists or the create failed.
   */
  async reserveName(name: string | undefined, id: string, signal?: AbortSignal): Promise<string> {
    const all = await this.views(signal);
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

  /**
   * reserveRename holds `name` (validated already) for renaming container `id`; 409 when
   * another container has it or a create or rename holds it. Release it with releaseName.
   */
  async reserveRename(id: string, name: string): Promise<void> {
    const all = await this.views();
    const holder = all.find((x) => x.id !== id && (x.name === name || x.id === name));
    if (holder !== undefined || this.#reservedNames.has(name)) throw nameInUse(name, holder?.id ?? '');
    this.#reservedNames.add(name);
  }

  /** releaseName ends a reservation of reserveName or reserveRename. */
  releaseName(name: string): void {
    this.#reservedNames.delete(name);
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
    const v = await this.find(ref);
    return [...(v.local?.record.MountPoints ?? [])];
  }

  /**
   * lookup resolves a reference for container IO and exec (their `ContainerLookup`): ID,
   * tty/stdin settings and whether the task runs.
   */
  async lookup(ref: string, signal?: AbortSignal): Promise<ContainerIoInfo> {
    const v = await this.find(ref, signal);
    const r = recordOf(v);
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
    const v = await this.find(ref, signal);
    const r = recordOf(v);
    const spec = specOf(v);
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
}
