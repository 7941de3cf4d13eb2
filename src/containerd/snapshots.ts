import type { SnapshotsDefinition } from '../gen/containerd/services/snapshots/v1/Snapshots.js';
import type { Info as InfoInput, Info__Output } from '../gen/containerd/services/snapshots/v1/Info.js';
import type { Mount__Output } from '../gen/containerd/types/Mount.js';
import { ServiceAdapter, required } from './adapter.js';
import type { CallContext, Connection } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<SnapshotsDefinition>('containerd.services.snapshots.v1.Snapshots');

/** Mount is a filesystem mount as containerd describes it (type, source, options). */
export type Mount = Mount__Output;
/** SnapshotInfo describes a snapshot: name, parent, kind (VIEW/ACTIVE/COMMITTED), labels. */
export type SnapshotInfo = Info__Output;
/** SnapshotUsage is a snapshot's disk usage (int64 as decimal strings). */
export interface SnapshotUsage {
  size: string;
  inodes: string;
}

/**
 * SnapshotService adapts containerd.services.snapshots.v1.Snapshots for one snapshotter
 * (containerd's `client.SnapshotService(name)`).
 */
export class SnapshotService extends ServiceAdapter {
  /** snapshotter is the snapshotter every call targets (e.g. `overlayfs`). */
  readonly snapshotter: string;

  constructor(conn: Connection, defaults: CallContext, snapshotter: string) {
    super(conn, defaults);
    this.snapshotter = snapshotter;
  }

  /** prepare creates an active snapshot `key` on top of `parent` (a committed name or '') and returns its mounts. */
  async prepare(
    key: string,
    parent = '',
    labels: Record<string, string> = {},
    ctx?: CallContext,
  ): Promise<Mount[]> {
    const req = { snapshotter: this.snapshotter, key, parent, labels };
    return (await this.conn.unary(svc.Prepare, req, this.ctx(ctx))).mounts;
  }

  /** view creates a read-only view `key` of `parent` and returns its mounts. */
  async view(
    key: string,
    parent = '',
    labels: Record<string, string> = {},
    ctx?: CallContext,
  ): Promise<Mount[]> {
    const req = { snapshotter: this.snapshotter, key, parent, labels };
    return (await this.conn.unary(svc.View, req, this.ctx(ctx))).mounts;
  }

  /** mounts returns the mounts of an active snapshot or view. */
  async mounts(key: string, ctx?: CallContext): Promise<Mount[]> {
    return (await this.conn.unary(svc.Mounts, { snapshotter: this.snapshotter, key }, this.ctx(ctx))).mounts;
  }

  /** commit turns the active snapshot `key` into the committed snapshot `name`. */
  async commit(
    name: string,
    key: string,
    labels: Record<string, string> = {},
    ctx?: CallContext,
  ): Promise<void> {
    const req = { snapshotter: this.snapshotter, name, key, labels };
    await this.conn.unary(svc.Commit, req, this.ctx(ctx), { longRunning: true });
  }

  /** remove deletes a snapshot (FailedPreconditionError if it has children). */
  async remove(key: string, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Remove, { snapshotter: this.snapshotter, key }, this.ctx(ctx));
  }

  /** stat returns a snapshot's info (NotFoundError if absent). */
  async stat(key: string, ctx?: CallContext): Promise<SnapshotInfo> {
    const res = await this.conn.unary(svc.Stat, { snapshotter: this.snapshotter, key }, this.ctx(ctx));
    return required(res.info, 'snapshot info');
  }

  /** update changes the fields named by fieldpaths (`labels`, `labels.<key>`). */
  async update(info: InfoInput, fieldpaths: string[] = [], ctx?: CallContext): Promise<SnapshotInfo> {
    const req = { snapshotter: this.snapshotter, info, update_mask: { paths: fieldpaths } };
    return required((await this.conn.unary(svc.Update, req, this.ctx(ctx))).info, 'snapshot info');
  }

  /** list streams the snapshots matching any of the filters. */
  async *list(filters: string[] = [], ctx?: CallContext): AsyncGenerator<SnapshotInfo> {
    const req = { snapshotter: this.snapshotter, filters };
    for await (const batch of this.conn.iterate(svc.List, req, this.ctx(ctx))) yield* batch.info;
  }

  /** usage returns the disk usage of a snapshot (computed by walking it: may be slow). */
  async usage(key: string, ctx?: CallContext): Promise<SnapshotUsage> {
    const req = { snapshotter: this.snapshotter, key };
    const res = await this.conn.unary(svc.Usage, req, this.ctx(ctx), { longRunning: true });
    return { size: res.size, inodes: res.inodes };
  }

  /** cleanup asks the snapshotter to free resources of removed snapshots. */
  async cleanup(ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Cleanup, { snapshotter: this.snapshotter }, this.ctx(ctx), {
      longRunning: true,
    });
  }
}
