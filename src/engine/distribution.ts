/**
 * DistributionService: pull, push and login against registries (moby `daemon/images/image_pull.go`,
 * `image_push.go`, `registry/service.go` Auth). ckptd speaks the distribution protocol itself
 * over containerd 1.6's content service (Debian 12's containerd has no transfer service): it
 * keeps streaming, progress, auth and leases in its own hands.
 */
import { InvalidArgumentError } from '../errors/index.js';
import { TokenCache, credentialsFromAuthConfig } from '../registry/auth.js';
import { RegistrySession } from '../registry/client.js';
import { registryHost, serverAddressHost } from '../registry/reference.js';
import { Transport, type TransportOptions } from '../registry/transport.js';
import type { ContainerdClient } from '../containerd/index.js';
import type { DistributionDeps } from './distribution-common.js';
import type { ImageService } from './images/index.js';
import { pullImage, type PullOptions } from './pull.js';
import { pushImage, type PushOptions } from './push.js';

export type { PullOptions } from './pull.js';
export type { PushOptions } from './push.js';

/** AuthResponse is POST /auth's answer. */
export interface AuthResponse {
  Status: string;
  IdentityToken: string;
}

/** DistributionBackend is what the registry routes call. */
export interface DistributionBackend {
  /** pullImage pulls fromImage[:tag|@digest], writing progress to opts.progress. */
  pullImage(opts: PullOptions): Promise<void>;
  /** pushImage pushes name[:tag], writing progress to opts.progress. */
  pushImage(opts: PushOptions): Promise<void>;
  /** login checks an AuthConfig against its registry. */
  login(authConfig: unknown, signal: AbortSignal): Promise<AuthResponse>;
}

/** DistributionServiceOptions wire a DistributionService. */
export interface DistributionServiceOptions extends TransportOptions {
  client: ContainerdClient;
  images: ImageService;
  events?: DistributionDeps['events'];
}

/** DistributionService implements DistributionBackend. */
export class DistributionService implements DistributionBackend {
  readonly #deps: DistributionDeps;

  constructor(o: DistributionServiceOptions) {
    const transport = new Transport(o);
    this.#deps = {
      client: o.client,
      images: o.images,
      transport,
      tokens: new TokenCache(),
      ...(o.events ? { events: o.events } : {}),
    };
  }

  /** close drops pooled registry connections. */
  close(): void {
    this.#deps.transport.close();
  }

  async pullImage(opts: PullOptions): Promise<void> {
    await pullImage(this.#deps, opts);
  }

  async pushImage(opts: PushOptions): Promise<void> {
    await pushImage(this.#deps, opts);
  }

  async login(authConfig: unknown, signal: AbortSignal): Promise<AuthResponse> {
    const o = (authConfig ?? {}) as Record<string, unknown>;
    if (typeof o !== 'object' || Array.isArray(o))
      throw new InvalidArgumentError('auth: expected a JSON object');
    const address = typeof o.serveraddress === 'string' ? o.serveraddress : '';
    const creds = credentialsFromAuthConfig(o, 'auth');
    const session = new RegistrySession({
      transport: this.#deps.transport,
      tokens: this.#deps.tokens,
      host: registryHost(serverAddressHost(address)),
      credentials: creds,
      signal,
    });
    await session.login();
    return { Status: 'Login Succeeded', IdentityToken: '' };
  }
}
