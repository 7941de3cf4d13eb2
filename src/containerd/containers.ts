import type { ContainersDefinition } from '../gen/containerd/services/containers/v1/Containers.js';
import type {
  Container as ContainerInput,
  Container__Output,
} from '../gen/containerd/services/containers/v1/Container.js';
import { ServiceAdapter, required } from './adapter.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<ContainersDefinition>('containerd.services.containers.v1.Containers');

/** Container is containerd's container record (metadata only; the process is a task). */
export type Container = Container__Output;
/** NewContainer is the container record sent to Create/Update (spec/runtime options as Any). */
export type NewContainer = ContainerInput;

/** ContainerService adapts containerd.services.containers.v1.Containers. */
export class ContainerService extends ServiceAdapter {
  /** get returns one container (NotFoundError if absent). */
  async get(id: string, ctx?: CallContext): Promise<Container> {
    return required((await this.conn.unary(svc.Get, { id }, this.ctx(ctx))).container, 'container');
  }

  /** list returns the containers matching any of the filters (containerd filter syntax). */
  async list(filters: string[] = [], ctx?: CallContext): Promise<Container[]> {
    return (await this.conn.unary(svc.List, { filters }, this.ctx(ctx))).containers;
  }

  /** listStream streams the containers one by one (no 16 MiB reply limit for big lists). */
  async *listStream(filters: string[] = [], ctx?: CallContext): AsyncGenerator<Container> {
    for await (const msg of this.conn.iterate(svc.ListStream, { filters }, this.ctx(ctx))) {
      if (msg.container) yield msg.container;
    }
  }

  /** create stores a new container record (AlreadyExistsError if the id is taken). */
  async create(container: NewContainer, ctx?: CallContext): Promise<Container> {
    return required((await this.conn.unary(svc.Create, { container }, this.ctx(ctx))).container, 'container');
  }

  /**
   * update changes the fields named by fieldpaths (`labels`, `labels.<key>`, `spec`, `image`,
   * `snapshotkey`, `extensions.<key>`...); empty = all mutable fields.
   */
  async update(container: NewContainer, fieldpaths: string[] = [], ctx?: CallContext): Promise<Container> {
    const req = { container, update_mask: { paths: fieldpaths } };
    return required((await this.conn.unary(svc.Update, req, this.ctx(ctx))).container, 'container');
  }

  /** delete removes the container record (its task must be gone). */
  async delete(id: string, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Delete, { id }, this.ctx(ctx));
  }
}
