import type { IntrospectionDefinition } from '../gen/containerd/services/introspection/v1/Introspection.js';
import type { Plugin__Output } from '../gen/containerd/services/introspection/v1/Plugin.js';
import { ServiceAdapter } from './adapter.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<IntrospectionDefinition>('containerd.services.introspection.v1.Introspection');

/** Plugin describes one containerd plugin (type, id, exports, init error). */
export type Plugin = Plugin__Output;

/** IntrospectionService adapts containerd.services.introspection.v1.Introspection. */
export class IntrospectionService extends ServiceAdapter {
  /** plugins lists containerd's plugins matching the filters (e.g. `type==io.containerd.snapshotter.v1`). */
  async plugins(filters: string[] = [], ctx?: CallContext): Promise<Plugin[]> {
    const res = await this.conn.unary(svc.Plugins, { filters }, this.ctx(ctx));
    return res.plugins;
  }

  /** server returns the containerd instance's UUID. */
  async server(ctx?: CallContext): Promise<{ uuid: string }> {
    const res = await this.conn.unary(svc.Server, {}, this.ctx(ctx));
    return { uuid: res.uuid };
  }
}
