import { randomBytes } from 'node:crypto';
import type { ChannelOptions } from '@grpc/grpc-js';
import { ContainerService } from './containers.js';
import { Connection, type CallContext } from './connection.js';
import { ContentStore } from './content.js';
import { DiffService } from './diff.js';
import { EventService } from './events.js';
import { ImageService } from './images.js';
import { IntrospectionService } from './introspection.js';
import { GC_EXPIRE_LABEL, LeaseService } from './leases.js';
import { NamespaceService } from './namespaces.js';
import { SnapshotService } from './snapshots.js';
import { TaskService } from './tasks.js';
import { VersionService } from './version.js';

/** ContainerdLogger is the logger the client reports best-effort failures to (pino fits). */
export interface ContainerdLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** ContainerdClientOptions configure a ContainerdClient. */
export interface ContainerdClientOptions {
  /** address of containerd's socket: `unix:///run/containerd/containerd.sock` or a bare path. */
  address: string;
  /** namespace used when a call's context names none. */
  namespace: string;
  logger?: ContainerdLogger;
  /** defaultDeadlineMs bounds unary calls without ctx.deadlineMs (default 30 s). */
  defaultDeadlineMs?: number;
  /** channelOptions are merged over the connection's defaults. */
  channelOptions?: ChannelOptions;
  /** connection shares an existing channel; the client then does not own (close) it. */
  connection?: Connection;
  /** leaseLabels go on every lease withLease creates (ckptd: its data root, to find its own after a crash). */
  leaseLabels?: Record<string, string>;
  /** liveLeases is shared by the namespace views of one client (the leases their withLease holds). */
  liveLeases?: Set<string>;
}

/** WithLeaseOptions tune withLease. */
export interface WithLeaseOptions {
  /** expire: the lease's `containerd.io/gc.expire`, in ms from now (default 24 h, as containerd's client). */
  expire?: number;
  /** labels added to the lease (e.g. `moby/prune.images`). */
  labels?: Record<string, string>;
  /** ctx is the outer context: its lease, if any, is reused; its namespace/signal are kept. */
  ctx?: CallContext;
}

/** DEFAULT_LEASE_EXPIRE_MS is withLease's default expiry, containerd client.WithLease's 24 h. */
export const DEFAULT_LEASE_EXPIRE_MS = 24 * 60 * 60 * 1000;
/** LEASE_DELETE_TIMEOUT_MS bounds the lease deletion in withLease's cleanup. */
export const LEASE_DELETE_TIMEOUT_MS = 10_000;

/**
 * ContainerdClient is ckptd's typed client of containerd's gRPC API: one channel, one adapter
 * per service, a default namespace, and withLease for multi-step operations.
 */
export class ContainerdClient {
  /** address is the normalized socket address (`unix:///...`). */
  readonly address: string;
  /** namespace is the default namespace of this client (view). */
  readonly namespace: string;
  /** Version service (containerd version; the liveness probe). */
  readonly version: VersionService;
  /** Introspection service (plugins, server UUID). */
  readonly introspection: IntrospectionService;
  /** Namespaces service. */
  readonly namespaces: NamespaceService;
  /** Containers service (container records). */
  readonly containers: ContainerService;
  /** Content store (blobs: info, read streams, writers). */
  readonly content: ContentStore;
  /** Diff service (layer apply and diff). */
  readonly diff: DiffService;
  /** Images service (image records). */
  readonly images: ImageService;
  /** Leases service (prefer withLease for multi-step work). */
  readonly leases: LeaseService;
  /** Tasks service (processes: create, pause, checkpoint, wait...). */
  readonly tasks: TaskService;
  /** Events service (subscribe). */
  readonly events: EventService;
  readonly #conn: Connection;
  readonly #ownsConnection: boolean;
  readonly #logger: ContainerdLogger | undefined;
  readonly #defaults: CallContext;
  readonly #leaseLabels: Record<string, string>;
  readonly #snapshotters = new Map<string, SnapshotService>();
  readonly #liveLeases: Set<string>;

  constructor(opts: ContainerdClientOptions) {
    this.#ownsConnection = opts.connection === undefined;
    this.#conn =
      opts.connection ??
      new Connection(opts.address, {
        ...(opts.defaultDeadlineMs === undefined ? {} : { defaultDeadlineMs: opts.defaultDeadlineMs }),
        ...(opts.channelOptions === undefined ? {} : { channelOptions: opts.channelOptions }),
      });
    this.address = this.#conn.address;
    this.namespace = opts.namespace;
    this.#logger = opts.logger;
    this.#leaseLabels = opts.leaseLabels ?? {};
    this.#liveLeases = opts.liveLeases ?? new Set();
    const d: CallContext = { namespace: opts.namespace };
    this.#defaults = d;
    this.version = new VersionService(this.#conn, d);
    this.introspection = new IntrospectionService(this.#conn, d);
    this.namespaces = new NamespaceService(this.#conn, d);
    this.containers = new ContainerService(this.#conn, d);
    this.content = new ContentStore(this.#conn, d, opts.logger);
    this.diff = new DiffService(this.#conn, d);
    this.images = new ImageService(this.#conn, d);
    this.leases = new LeaseService(this.#conn, d);
    this.tasks = new TaskService(this.#conn, d);
    this.events = new EventService(this.#conn, d);
  }

  /** connection is the shared gRPC channel (for tests and for building views). */
  get connection(): Connection {
    return this.#conn;
  }

  /**
   * leaseInUse tells whether lease id is held by a withLease of this client (or of its
   * namespace views) that has not ended: recovery after a reconnect deletes only the others.
   */
  leaseInUse(id: string): boolean {
    return this.#liveLeases.has(id);
  }

  /** snapshots returns the adapter of one snapshotter (containerd's `SnapshotService(name)`). */
  snapshots(snapshotter: string): SnapshotService {
    let s = this.#snapshotters.get(snapshotter);
    if (!s) {
      s = new SnapshotService(this.#conn, this.#defaults, snapshotter);
      this.#snapshotters.set(snapshotter, s);
    }
    return s;
  }

  /** withNamespace returns a view of this client with another default namespace, on the same channel. */
  withNamespace(namespace: string): ContainerdClient {
    return new ContainerdClient({
      address: this.address,
      namespace,
      connection: this.#conn,
      leaseLabels: this.#leaseLabels,
      liveLeases: this.#liveLeases,
      ...(this.#logger ? { logger: this.#logger } : {}),
    });
  }

  /**
   * withLease runs fn with a context holding a lease, so everything fn creates (content,
   * snapshots, ingests) is safe from garbage collection until it is referenced by an image or
   * container (containerd client/lease.go, moby daemon/containerd/leases.go). An outer lease in
   * opts.ctx is reused as is. Otherwise a lease expiring after opts.expire is created and, in
   * `finally`, deleted with its own timeout and no cancellation (the caller's signal may have
   * fired); a failed deletion is logged, never thrown over fn's own outcome.
   */
  async withLease<T>(fn: (ctx: CallContext) => Promise<T>, opts: WithLeaseOptions = {}): Promise<T> {
    const outer = opts.ctx ?? {};
    if (outer.lease) return fn(outer);
    const namespace = outer.namespace ?? this.namespace;
    const id = `ckptd-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    const expireAt = new Date(Date.now() + (opts.expire ?? DEFAULT_LEASE_EXPIRE_MS));
    const labels = { ...this.#leaseLabels, ...opts.labels, [GC_EXPIRE_LABEL]: rfc3339(expireAt) };
    const createCtx: CallContext = { namespace };
    if (outer.signal) createCtx.signal = outer.signal;
    this.#liveLeases.add(id);
    try {
      await this.leases.create(id, labels, createCtx);
    } catch (err) {
      this.#liveLeases.delete(id);
      throw err;
    }
    try {
      return await fn({ ...outer, namespace, lease: id });
    } finally {
      this.#liveLeases.delete(id);
      try {
        await this.leases.delete(id, {}, { namespace, deadlineMs: LEASE_DELETE_TIMEOUT_MS });
      } catch (err) {
        this.#logger?.warn(
          { err, lease: id, namespace },
          'containerd: deleting lease failed; it expires on its own',
        );
      }
    }
  }

  /** close closes the channel if this client owns it (views made by withNamespace do not). */
  close(): void {
    if (this.#ownsConnection) this.#conn.close();
  }
}

/** rfc3339 formats a Date the way Go's time.RFC3339 parses it (second precision, UTC). */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
