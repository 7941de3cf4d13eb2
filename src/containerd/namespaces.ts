import type { NamespacesDefinition } from '../gen/containerd/services/namespaces/v1/Namespaces.js';
import type {
  Namespace as NamespaceInput,
  Namespace__Output,
} from '../gen/containerd/services/namespaces/v1/Namespace.js';
import { ServiceAdapter, required } from './adapter.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<NamespacesDefinition>('containerd.services.namespaces.v1.Namespaces');

/** Namespace is a containerd namespace and its labels. */
export type Namespace = Namespace__Output;

/** NamespaceService adapts containerd.services.namespaces.v1.Namespaces. */
export class NamespaceService extends ServiceAdapter {
  /** get returns one namespace (NotFoundError if absent). */
  async get(name: string, ctx?: CallContext): Promise<Namespace> {
    return required(
      (await this.conn.unary(svc.Get, { name }, this.ctx(ctx))).namespace,
      'namespace (Namespaces.Get)',
    );
  }

  /** list returns the namespaces matching the filter (empty = all). */
  async list(filter = '', ctx?: CallContext): Promise<Namespace[]> {
    return (await this.conn.unary(svc.List, { filter }, this.ctx(ctx))).namespaces;
  }

  /** create creates a namespace (AlreadyExistsError if taken). */
  async create(name: string, labels: Record<string, string> = {}, ctx?: CallContext): Promise<Namespace> {
    const res = await this.conn.unary(svc.Create, { namespace: { name, labels } }, this.ctx(ctx));
    return required(res.namespace, 'namespace (Namespaces.Create)');
  }

  /** update replaces the labels named by updateMask (`labels.<key>`; empty = all labels). */
  async update(namespace: NamespaceInput, updateMask: string[] = [], ctx?: CallContext): Promise<Namespace> {
    const req = { namespace, update_mask: { paths: updateMask } };
    return required(
      (await this.conn.unary(svc.Update, req, this.ctx(ctx))).namespace,
      'namespace (Namespaces.Update)',
    );
  }

  /** delete removes an empty namespace (FailedPreconditionError if it still holds objects). */
  async delete(name: string, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Delete, { name }, this.ctx(ctx));
  }
}
