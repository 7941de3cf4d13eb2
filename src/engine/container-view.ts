import type { ContainerdClient } from '../containerd/client.js';
import type { Container } from '../containerd/containers.js';
import type { TaskProcess } from '../containerd/tasks.js';

/**
 * The container view (issue 14): what containerd says about every container of ckptd's
 * namespace — its Container record and its task's process state — kept in memory so that
 * `GET /containers/json` and `GET /containers/{id}/json` do not ask containerd for every
 * container on every call (Containers.List + Tasks.List: ~40 ms at 100 containers).
 *
 * How it stays right:
 * - containerd's event stream (the EventsService's one subscription, through `envelope`):
 *   every /tasks/* and /containers/* event of a container marks it dirty and the view
 *   refetches that container (Containers.Get + Tasks.Get) in the background; a read that
 *   finds it still dirty refetches it first. Events are never trusted for the state itself,
 *   only as "this one changed".
 * - ckptd's own changes (`watchMutations` wraps the client's mutating calls): the container
 *   is marked dirty before and after the call, so a read that follows a start/stop/rm/rename
 *   answered to the client sees its result (read-your-writes without waiting for the event).
 * - a full reconcile (Containers.List + Tasks.List) when the subscription (re)starts, so
 *   containers changed while no stream was open (ckptd or containerd restarted, a broken
 *   stream) are right, and every `resyncMs` (default 5 s) as a hard bound for a change whose
 *   event was lost at the edge of a subscription.
 * - while there is no subscription (a gap: containerd restarting, the stream broke) or before
 *   the first reconcile, every read asks containerd, as before the view existed.
 */

/** ViewEntry is what containerd says about one container. */
export interface ViewEntry {
  container: Container;
  task: TaskProcess | undefined;
}

/** ViewSource reads containerd (the real one: `containerdViewSource`; tests: a fake). */
export interface ViewSource {
  list(signal?: AbortSignal): Promise<{ containers: Container[]; tasks: TaskProcess[] }>;
  /** get returns the container and its task; `container` undefined once it is gone. */
  get(
    id: string,
    signal?: AbortSignal,
  ): Promise<{ container: Container | undefined; task: TaskProcess | undefined }>;
}

/** ViewEnvelope is the part of a containerd event the view reads. */
export interface ViewEnvelope {
  topic: string;
  event: { value: Record<string, unknown> | undefined };
}

/** EventTap is what the EventsService tells a follower of its containerd subscription. */
export interface EventTap {
  /** subscribed: a subscription is being opened (events from now on are delivered). */
  subscribed(): void;
  /** envelope: one event of the namespace, delivered synchronously in stream order. */
  envelope(env: ViewEnvelope): void;
  /** gap: the subscription broke or ended; events may be lost until `subscribed` again. */
  gap(): void;
}

/** ContainerViewOptions configure a ContainerView. */
export interface ContainerViewOptions {
  source: ViewSource;
  /** resyncMs: full reconcile period while subscribed (default 5000; 0 disables). */
  resyncMs?: number;
  /** settleMs: wait after `subscribed` before the reconcile (the server registers the stream). */
  settleMs?: number;
  /** flushDelayMs: background refetch delay after an event (coalesces bursts; default 5). */
  flushDelayMs?: number;
  /** bulkThreshold: this many dirty containers are refetched with one full list (default 16). */
  bulkThreshold?: number;
  logger?: { debug(o: object, m?: string): void; warn(o: object, m?: string): void };
}

/** eventContainerId is the container an event changes the view of, or '' for none. */
export function eventContainerId(env: ViewEnvelope): string {
  const v = env.event.value;
  const str = (k: string): string => {
    const x = v?.[k];
    return typeof x === 'string' ? x : '';
  };
  const cid = str('container_id') || str('containerId');
  switch (env.topic) {
    case '/containers/create':
    case '/containers/update':
    case '/containers/delete':
      return str('id');
    case '/tasks/exit':
    case '/tasks/delete': {
      // an exec's exit or delete does not change the container's state
      const pid = str('id');
      return pid !== '' && pid !== cid ? '' : cid;
    }
    case '/tasks/create':
    case '/tasks/start':
    case '/tasks/paused':
    case '/tasks/resumed':
    case '/tasks/oom':
    case '/tasks/checkpointed':
      return cid;
    default:
      return '';
  }
}

function pair(containers: Container[], tasks: TaskProcess[]): Map<string, ViewEntry> {
  const byId = new Map(tasks.map((t) => [t.id || t.container_id, t]));
  return new Map(containers.map((c) => [c.id, { container: c, task: byId.get(c.id) }]));
}

/** ContainerView is the event-fed, reconciled in-memory view of containerd's containers. */
export class ContainerView implements EventTap {
  readonly #o: Required<Omit<ContainerViewOptions, 'logger'>> & Pick<ContainerViewOptions, 'logger'>;
  #entries = new Map<string, ViewEntry>();
  /** stamp of the data held for an id (present or known absent): the #gen its fetch started at */
  #stamps = new Map<string, number>();
  /** dirty ids: the #gen of their last change notice */
  readonly #dirty = new Map<string, number>();
  readonly #inflight = new Map<string, { stamp: number; p: Promise<ViewEntry | undefined> }>();
  #bulk: { stamp: number; p: Promise<void> } | undefined;
  #gen = 0;
  /** stamp of the last full reconcile: data of an id without its own stamp is this old */
  #floor = -1;
  /** epoch bumps at every gap: a reconcile started in an older epoch does not make the view live */
  #epoch = 0;
  #subscribed = false;
  #live = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #settleTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** counters for tests and diagnostics */
  readonly stats = { reconciles: 0, corrections: 0, refetches: 0, fallbacks: 0 };

  constructor(o: ContainerViewOptions) {
    this.#o = { resyncMs: 5000, settleMs: 100, flushDelayMs: 5, bulkThreshold: 16, ...o };
  }

  /** live: reads are answered from memory (subscribed and reconciled since the last gap). */
  get live(): boolean {
    return this.#live;
  }

  subscribed(): void {
    if (this.#closed) return;
    this.#subscribed = true;
    const epoch = this.#epoch;
    clearTimeout(this.#settleTimer);
    this.#settleTimer = setTimeout(() => void this.#reconcileLogged(epoch), this.#o.settleMs);
    this.#settleTimer.unref();
    if (this.#o.resyncMs > 0 && this.#resyncTimer === undefined) {
      this.#resyncTimer = setInterval(() => {
        if (this.#subscribed) void this.#reconcileLogged(this.#epoch);
      }, this.#o.resyncMs);
      this.#resyncTimer.unref();
    }
  }

  gap(): void {
    this.#subscribed = false;
    this.#live = false;
    this.#epoch++;
  }

  envelope(env: ViewEnvelope): void {
    const id = eventContainerId(env);
    if (id === '') return;
    this.invalidate(id);
    if (this.#flushTimer === undefined && !this.#closed) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        if (this.#live)
          this.#flush().catch((err: unknown) => this.#o.logger?.debug({ err }, 'view refetch failed'));
      }, this.#o.flushDelayMs);
      this.#flushTimer.unref();
    }
  }

  /** invalidate marks a container changed: the next read refetches it from containerd. */
  invalidate(id: string): void {
    this.#dirty.set(id, ++this.#gen);
  }

  /** close stops the timers. */
  close(): void {
    this.#closed = true;
    this.gap();
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#settleTimer);
    clearInterval(this.#resyncTimer);
  }

  /**
   * snapshot returns every container with its task as containerd has them: from memory when
   * live (refetching the changed ones first), else straight from containerd. With `id` (a
   * reference that may be an exact container ID) and that container known, only it is returned.
   */
  async snapshot(signal?: AbortSignal, id?: string): Promise<ViewEntry[]> {
    if (id !== undefined && this.#live && this.#entries.has(id)) {
      // an exact ID (what `docker inspect` sends after `docker ps`): that container alone
      const g = this.#dirty.get(id);
      if (g !== undefined) await this.#refetch(id, g);
      const e = this.#entries.get(id);
      if (e && this.#live) return [e];
    }
    if (!this.#live) {
      this.stats.fallbacks++;
      const { containers, tasks } = await this.#o.source.list(signal);
      return [...pair(containers, tasks).values()];
    }
    // shared fetches run without the caller's signal: one client leaving must not fail the others
    if (this.#dirty.size > 0) await this.#flush();
    return [...this.#entries.values()];
  }

  /** #flush refetches every container dirty now; resolves when each holds data newer than its notice. */
  async #flush(): Promise<void> {
    if (this.#dirty.size >= this.#o.bulkThreshold) {
      await this.#reconcileNow();
      return;
    }
    const waits: Promise<unknown>[] = [];
    for (const [id, g] of this.#dirty) waits.push(this.#refetch(id, g));
    await Promise.all(waits);
  }

  /** #refetch brings one container's data to at least notice `g` (joins a fetch started after it). */
  #refetch(id: string, g: number): Promise<ViewEntry | undefined> {
    const running = this.#inflight.get(id);
    if (running && running.stamp >= g) return running.p;
    const stamp = this.#gen;
    this.stats.refetches++;
    const p = this.#o.source.get(id).then(({ container, task }) => {
      const entry = container ? { container, task } : undefined;
      this.#apply(id, entry, stamp);
      return entry;
    });
    const mine = { stamp, p };
    this.#inflight.set(id, mine);
    const done = (): void => {
      if (this.#inflight.get(id) === mine) this.#inflight.delete(id);
    };
    p.then(done, done);
    return p;
  }

  #apply(id: string, entry: ViewEntry | undefined, stamp: number): void {
    if ((this.#stamps.get(id) ?? this.#floor) > stamp) return; // newer data already answered
    this.#stamps.set(id, stamp);
    if (entry) this.#entries.set(id, entry);
    else this.#entries.delete(id);
    if ((this.#dirty.get(id) ?? Infinity) <= stamp) this.#dirty.delete(id);
  }

  async #reconcileLogged(epoch: number): Promise<void> {
    try {
      await this.#reconcile(epoch);
    } catch (err) {
      this.#o.logger?.debug(
        { err },
        'container view: reconcile with containerd failed; reads ask containerd',
      );
    }
  }

  /** #reconcileNow: a full list started now (or joined, if one started after every dirty notice). */
  async #reconcileNow(): Promise<void> {
    let maxDirty = 0;
    for (const g of this.#dirty.values()) maxDirty = Math.max(maxDirty, g);
    if (this.#bulk && this.#bulk.stamp >= maxDirty) return this.#bulk.p;
    await this.#reconcile(this.#epoch);
  }

  /** #reconcile replaces the view with a full list; makes it live if no gap happened meanwhile. */
  async #reconcile(epoch: number): Promise<void> {
    const stamp = this.#gen;
    const p = (async () => {
      const { containers, tasks } = await this.#o.source.list();
      if (this.#closed || stamp < this.#floor) return; // a newer reconcile already answered
      this.stats.reconciles++;
      const next = pair(containers, tasks);
      const old = this.#entries;
      const merged = new Map<string, ViewEntry>();
      const stamps = new Map<string, number>();
      // data fetched one by one after this list started is newer: keep it (present or absent)
      for (const [id, s] of this.#stamps) {
        if (s <= stamp) continue;
        stamps.set(id, s);
        const e = old.get(id);
        if (e) merged.set(id, e);
      }
      for (const [id, e] of next) {
        if (stamps.has(id)) continue;
        stamps.set(id, stamp);
        merged.set(id, e);
        if (this.#live && !this.#dirty.has(id) && !sameEntry(old.get(id), e)) this.stats.corrections++;
      }
      if (this.#live) {
        for (const id of old.keys()) {
          if (!next.has(id) && !stamps.has(id) && !this.#dirty.has(id)) this.stats.corrections++;
        }
      }
      this.#entries = merged;
      this.#stamps = stamps;
      this.#floor = stamp;
      for (const [id, g] of this.#dirty) if (g <= stamp) this.#dirty.delete(id);
      if (epoch === this.#epoch && this.#subscribed) this.#live = true;
    })();
    const mine = { stamp, p };
    this.#bulk = mine;
    try {
      await p;
    } finally {
      if (this.#bulk === mine) this.#bulk = undefined;
    }
  }
}

function sameEntry(a: ViewEntry | undefined, b: ViewEntry): boolean {
  if (!a) return false;
  const ta = a.task;
  const tb = b.task;
  if ((ta === undefined) !== (tb === undefined)) return false;
  if (ta && tb && (ta.status !== tb.status || ta.pid !== tb.pid || ta.exit_status !== tb.exit_status))
    return false;
  const ua = a.container.updated_at;
  const ub = b.container.updated_at;
  return String(ua?.seconds) === String(ub?.seconds) && ua?.nanos === ub?.nanos;
}

/** containerdViewSource reads the view's data from containerd. */
export function containerdViewSource(client: ContainerdClient): ViewSource {
  const gone = (err: unknown): boolean =>
    typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'CKPTD_NOT_FOUND';
  return {
    list: async (signal) => {
      const ctx = signal ? { signal } : undefined;
      const [containers, tasks] = await Promise.all([
        client.containers.list([], ctx),
        client.tasks.list('', ctx),
      ]);
      return { containers, tasks };
    },
    get: async (id, signal) => {
      const ctx = signal ? { signal } : undefined;
      const [container, task] = await Promise.all([
        client.containers.get(id, ctx).catch((err: unknown) => {
          if (gone(err)) return undefined;
          throw err;
        }),
        client.tasks.get(id, '', ctx).catch((err: unknown) => {
          if (gone(err)) return undefined;
          throw err;
        }),
      ]);
      return { container, task };
    },
  };
}

/** TASK_MUTATIONS and CONTAINER_MUTATIONS are the client calls that change what the view holds. */
const TASK_MUTATIONS = [
  'create',
  'start',
  'delete',
  'kill',
  'pause',
  'resume',
  'checkpoint',
  'update',
] as const;
const CONTAINER_MUTATIONS = ['create', 'update', 'delete'] as const;

/**
 * watchMutations wraps the client's mutating task and container calls (on this instance) so
 * that each marks its container dirty in the view before and after the call: a read after
 * ckptd's own change never answers from before it.
 */
export function watchMutations(client: ContainerdClient, view: Pick<ContainerView, 'invalidate'>): void {
  const wrap = (target: object, name: string, idOf: (arg: unknown) => string): void => {
    const t = target as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const orig = t[name];
    if (typeof orig !== 'function') throw new Error(`watchMutations: no method ${name}`);
    const bound = orig.bind(target);
    t[name] = async (...args: unknown[]) => {
      const id = idOf(args[0]);
      if (id) view.invalidate(id);
      try {
        return await bound(...args);
      } finally {
        if (id) view.invalidate(id);
      }
    };
  };
  const taskId = (a: unknown): string =>
    typeof a === 'string' ? a : String((a as { container_id?: unknown } | undefined)?.container_id ?? '');
  const containerId = (a: unknown): string =>
    typeof a === 'string' ? a : String((a as { id?: unknown } | undefined)?.id ?? '');
  for (const m of TASK_MUTATIONS) wrap(client.tasks, m, taskId);
  for (const m of CONTAINER_MUTATIONS) wrap(client.containers, m, containerId);
}
