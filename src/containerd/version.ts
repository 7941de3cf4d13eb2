import type { VersionDefinition } from '../gen/containerd/services/version/v1/Version.js';
import { ServiceAdapter } from './adapter.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<VersionDefinition>('containerd.services.version.v1.Version');

/** ContainerdVersion is containerd's version and git revision. */
export interface ContainerdVersion {
  version: string;
  revision: string;
}

/** VersionService adapts containerd.services.version.v1.Version. */
export class VersionService extends ServiceAdapter {
  /** version asks containerd for its version; it doubles as the liveness probe. */
  async version(ctx?: CallContext): Promise<ContainerdVersion> {
    const res = await this.conn.unary(svc.Version, {}, this.ctx(ctx));
    return { version: res.version, revision: res.revision };
  }
}
