import type { LeasesDefinition } from '../gen/containerd/services/leases/v1/Leases.js';
import type { Lease__Output } from '../gen/containerd/services/leases/v1/Lease.js';
import type { Resource__Output } from '../gen/containerd/services/leases/v1/Resource.js';
import { ServiceAdapter, required } from './adapter.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<LeasesDefinition>('containerd.services.leases.v1.Leases');

/** Lease holds resources (content, snapshots, ingests) back from garbage collection. */
export type Lease = Lease__Output;
/** LeaseResource is a resource attached to a lease: `{ id, type }`, type e.g. `content`, `snapshots/overlayfs`. */
export type LeaseResource = Resource__Output;

/** GC_EXPIRE_LABEL makes containerd's GC drop a lease after the RFC3339 time it holds. */
export const GC_EXPIRE_LABEL = 'containerd.io/gc.expire';
/** GC_FLAT_LABEL makes a lease hold only its direct resources, not what they reference. */
export const GC_FLAT_LABEL = 'containerd.io/gc.flat';

/** LeaseService adapts containerd.services.leases.v1.Leases. */
export class LeaseService extends ServiceAdapter {
  /** create creates a lease; containerd requires an id, so pass one (see ContainerdClient.withLease). */
  async create(id: string, labels: Record<string, string> = {}, ctx?: CallContext): Promise<Lease> {
    return required((await this.conn.unary(svc.Create, { id, labels }, this.ctx(ctx))).lease, 'lease');
  }

  /** delete removes a lease; `sync` waits for the garbage collection it triggers. */
  async delete(id: string, opts: { sync?: boolean } = {}, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Delete, { id, sync: opts.sync ?? false }, this.ctx(ctx), {
      longRunning: !!opts.sync,
    });
  }

  /** list returns the leases matching any of the filters (e.g. `id==x`, `labels."k"==v`). */
  async list(filters: string[] = [], ctx?: CallContext): Promise<Lease[]> {
    return (await this.conn.unary(svc.List, { filters }, this.ctx(ctx))).leases;
  }

  /** addResource attaches an existing resource to a lease. */
  async addResource(id: string, resource: LeaseResource, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.AddResource, { id, resource }, this.ctx(ctx));
  }

  /** deleteResource detaches a resource from a lease. */
  async deleteResource(id: string, resource: LeaseResource, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.DeleteResource, { id, resource }, this.ctx(ctx));
  }

  /** listResources returns the resources a lease holds. */
  async listResources(id: string, ctx?: CallContext): Promise<LeaseResource[]> {
    return (await this.conn.unary(svc.ListResources, { id }, this.ctx(ctx))).resources;
  }
}
