/**
 * The networks ckptd has: exactly the two predefined ones dockerd 20.10 lists when started with
 * `--bridge=none`, `none` (driver `null`) and `host` (driver `host`). ckptd gives containers
 * NetworkMode none or host only, so these are all there is: the routes that would create,
 * connect, disconnect or remove networks are refused in dockerd's words where it has them
 * (moby `daemon/network.go`, `libnetwork/error.go`), and 501 where dockerd would do work ckptd
 * cannot (a user-defined network needs a bridge or overlay driver).
 *
 * The IDs are random, made once per data root and kept in `<data-root>/networks.json`, as
 * libnetwork keeps its predefined networks' IDs in its local store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  PermissionDeniedError,
} from '../errors/index.js';
import { Filters, parseUntil } from '../oci/filters.js';
import type { ContainersBackend } from './containers/index.js';

/** PREDEFINED_NETWORKS are the networks ckptd has, in dockerd's listing order. */
export const PREDEFINED_NETWORKS = [
  { name: 'none', driver: 'null' },
  { name: 'host', driver: 'host' },
] as const;

/** NetworkName is the name of one of ckptd's networks. */
export type NetworkName = (typeof PREDEFINED_NETWORKS)[number]['name'];

/** NETWORK_LIST_FILTERS are the filter keys GET /networks accepts (moby `network.AcceptedFilters`). */
export const NETWORK_LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'];

/** NETWORK_PRUNE_FILTERS are the filter keys POST /networks/prune accepts. */
export const NETWORK_PRUNE_FILTERS = ['until', 'label', 'label!'];

/** EndpointResource is one container of a network's inspect (`types.EndpointResource`). */
export interface EndpointResource {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** NetworkResource is GET /networks/{id}'s body and one entry of GET /networks (`types.NetworkResource`). */
export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: false;
  IPAM: { Driver: 'default'; Options: null; Config: [] };
  Internal: false;
  Attachable: false;
  Ingress: false;
  ConfigFrom: { Network: '' };
  ConfigOnly: false;
  Containers: Record<string, EndpointResource>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** AttachedContainer is a running container as the network views need it. */
export interface AttachedContainer {
  id: string;
  name: string;
  networkMode: string;
}

/** NetworkContainers is the port the network service reads containers through. */
export interface NetworkContainers {
  /** running lists the running (and paused) containers with their NetworkMode. */
  running(signal?: AbortSignal): Promise<AttachedContainer[]>;
  /** exists resolves a container reference to its ID and NetworkMode, NotFoundError if none. */
  find(ref: string, signal?: AbortSignal): Promise<AttachedContainer>;
}

/** NetworksBackend is what the network routes call (moby `router/network/backend.go`). */
export interface NetworksBackend {
  networks(filters: Filters, signal?: AbortSignal): Promise<NetworkResource[]>;
  networkInspect(ref: string, opts: { scope?: string }, signal?: AbortSignal): Promise<NetworkResource>;
  networkCreate(body: Record<string, unknown>): Promise<never>;
  networkConnect(ref: string, container: string, signal?: AbortSignal): Promise<never>;
  networkDisconnect(ref: string, container: string, signal?: AbortSignal): Promise<never>;
  networkRemove(ref: string): Promise<never>;
  networksPrune(filters: Filters): Promise<{ NetworksDeleted: null }>;
}

interface StoredNetwork {
  id: string;
  created: string;
}

/** NETWORKS_FILE is the record of the networks' IDs under the data root. */
export const NETWORKS_FILE = 'networks.json';

/** ERR_CONFLICT_HOST_NETWORK is moby's runconfig.ErrConflictHostNetwork. */
export const ERR_CONFLICT_HOST_NETWORK =
  'container cannot be disconnected from host network or connected to host network';

/** ERR_CONFLICT_NO_NETWORK is moby's runconfig.ErrConflictNoNetwork. */
export const ERR_CONFLICT_NO_NETWORK =
  'container cannot be connected to multiple networks with one of the networks in private (none) mode';

/** endpointId derives a stable endpoint ID for a container on a network. */
function endpointId(networkId: string, containerId: string): string {
  return createHash('sha256').update(`${networkId}/${containerId}`).digest('hex');
}

/** NetworkService serves ckptd's two predefined networks. */
export class NetworkService implements NetworksBackend {
  readonly #file: string;
  readonly #containers: NetworkContainers;
  #stored: Promise<Record<NetworkName, StoredNetwork>> | undefined;

  constructor(opts: { dataRoot: string; containers: NetworkContainers }) {
    this.#file = join(opts.dataRoot, NETWORKS_FILE);
    this.#containers = opts.containers;
  }

  /** init reads (or makes and records) the networks' IDs and creation times. */
  init(): Promise<Record<NetworkName, StoredNetwork>> {
    this.#stored ??= this.#load().catch((err: unknown) => {
      this.#stored = undefined;
      throw err;
    });
    return this.#stored;
  }

  async #load(): Promise<Record<NetworkName, StoredNetwork>> {
    let stored: Partial<Record<NetworkName, StoredNetwork>> = {};
    try {
      stored = JSON.parse(await readFile(this.#file, 'utf8')) as typeof stored;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let changed = false;
    for (const { name } of PREDEFINED_NETWORKS) {
      const s = stored[name];
      if (s && /^[0-9a-f]{64}$/.test(s.id) && typeof s.created === 'string') continue;
      stored[name] = { id: randomBytes(32).toString('hex'), created: new Date().toISOString() };
      changed = true;
    }
    if (changed) {
      const tmp = `${this.#file}.tmp`;
      await writeFile(tmp, JSON.stringify(stored), { mode: 0o600, flush: true });
      await rename(tmp, this.#file);
    }
    return stored as Record<NetworkName, StoredNetwork>;
  }

  async #resources(withContainers: boolean, signal?: AbortSignal): Promise<NetworkResource[]> {
    const stored = await this.init();
    const running = withContainers ? await this.#containers.running(signal) : [];
    return PREDEFINED_NETWORKS.map(({ name, driver }) => {
      const { id, created } = stored[name];
      const containers: Record<string, EndpointResource> = {};
      for (const c of running) {
        if (c.networkMode !== name) continue;
        containers[c.id] = {
          Name: c.name,
          EndpointID: endpointId(id, c.id),
          MacAddress: '',
          IPv4Address: '',
          IPv6Address: '',
        };
      }
      return {
        Name: name,
        Id: id,
        Created: created,
        Scope: 'local',
        Driver: driver,
        EnableIPv6: false,
        IPAM: { Driver: 'default', Options: null, Config: [] },
        Internal: false,
        Attachable: false,
        Ingress: false,
        ConfigFrom: { Network: '' },
        ConfigOnly: false,
        Containers: containers,
        Options: {},
        Labels: {},
      };
    });
  }

  /**
   * #find resolves a network as dockerd's FindNetwork: exact name, then full ID, then a unique
   * ID prefix; `network X not found` (404) otherwise.
   */
  async #find(ref: string, withContainers: boolean, signal?: AbortSignal): Promise<NetworkResource> {
    const all = await this.#resources(withContainers, signal);
    const hit =
      all.find((n) => n.Name === ref) ??
      all.find((n) => n.Id === ref) ??
      (ref !== '' ? all.filter((n) => n.Id.startsWith(ref)) : []).at(0);
    if (!hit) throw new NotFoundError(`network ${ref} not found`);
    return hit;
  }

  /** networks lists the networks as GET /networks (API >= 1.28: no containers), filtered as moby. */
  async networks(filters: Filters, signal?: AbortSignal): Promise<NetworkResource[]> {
    filters.validateKeys(NETWORK_LIST_FILTERS);
    for (const t of filters.get('type')) {
      // dockerd 20.10 answers this one with a 500; it is the client's mistake
      if (t !== 'custom' && t !== 'builtin') throw new InvalidArgumentError(`invalid filter: 'type'='${t}'`);
    }
    // moby: dangling=true keeps user-defined networks without containers (never a predefined one)
    const danglingOnly = filters.has('dangling') ? danglingValue(filters) : false;
    return (await this.#resources(false, signal)).filter(
      (n) =>
        filters.exactMatch('driver', n.Driver) &&
        filters.match('name', n.Name) &&
        filters.match('id', n.Id) &&
        filters.matchKVList('label', n.Labels) &&
        filters.exactMatch('scope', n.Scope) &&
        // every ckptd network is predefined: `builtin`
        (!filters.has('type') || filters.get('type').includes('builtin')) &&
        !danglingOnly,
    );
  }

  /** networkInspect describes one network, with its running containers (GET /networks/{id}). */
  async networkInspect(
    ref: string,
    opts: { scope?: string },
    signal?: AbortSignal,
  ): Promise<NetworkResource> {
    const n = await this.#find(ref, true, signal);
    if (opts.scope !== undefined && opts.scope !== '' && opts.scope !== n.Scope)
      throw new NotFoundError(`network ${ref} not found`);
    return n;
  }

  /**
   * networkCreate refuses: a predefined name with dockerd's 403, any other network with 501
   * (it would need a bridge, macvlan or overlay driver, which ckptd does not have).
   */
  async networkCreate(body: Record<string, unknown>): Promise<never> {
    const name = typeof body.Name === 'string' ? body.Name : '';
    if (name === '') throw new InvalidArgumentError('invalid name: ');
    if (isPredefined(name))
      throw new PermissionDeniedError(`operation is not permitted on predefined ${name} network `);
    throw new NotImplementedError(
      `network create is not supported: ckptd has only the predefined none and host networks ` +
        `(containers run with NetworkMode none or host)`,
    );
  }

  /**
   * networkConnect refuses as dockerd does for ckptd's networks: a container on the host
   * network, or any container to the host network (400), a container already on none (403,
   * its endpoint exists), and a container of another network to none (400).
   */
  async networkConnect(ref: string, container: string, signal?: AbortSignal): Promise<never> {
    const n = await this.#find(ref, false, signal);
    const c = await this.#containers.find(container, signal);
    if (n.Name === 'host' || c.networkMode === 'host')
      throw new InvalidArgumentError(ERR_CONFLICT_HOST_NETWORK);
    if (c.networkMode === n.Name)
      throw new PermissionDeniedError(`endpoint with name ${c.name} already exists in network ${n.Name}`);
    throw new InvalidArgumentError(ERR_CONFLICT_NO_NETWORK);
  }

  /**
   * networkDisconnect refuses: host as dockerd (400); dockerd lets a container leave `none`
   * (it is then on no network at all), ckptd keeps the network a container was created with.
   */
  async networkDisconnect(ref: string, container: string, signal?: AbortSignal): Promise<never> {
    const n = await this.#find(ref, false, signal);
    const c = await this.#containers.find(container, signal);
    if (n.Name === 'host' || c.networkMode === 'host')
      throw new InvalidArgumentError(ERR_CONFLICT_HOST_NETWORK);
    if (c.networkMode !== n.Name)
      throw new PermissionDeniedError(`container ${c.id} is not connected to network ${n.Name}`);
    throw new NotImplementedError(
      'network disconnect is not supported: a ckptd container keeps the network it was created with',
    );
  }

  /** networkRemove refuses as dockerd refuses to remove a predefined network (403). */
  async networkRemove(ref: string): Promise<never> {
    const n = await this.#find(ref, false);
    throw new PermissionDeniedError(`${n.Name} is a pre-defined network and cannot be removed`);
  }

  /** networksPrune removes nothing: only user-defined networks are pruned and ckptd has none. */
  async networksPrune(filters: Filters): Promise<{ NetworksDeleted: null }> {
    filters.validateKeys(NETWORK_PRUNE_FILTERS);
    for (const v of filters.get('until')) parseUntil(v);
    return { NetworksDeleted: null };
  }
}

/** isPredefined tells a name dockerd reserves (runconfig.IsPreDefinedNetwork). */
export function isPredefined(name: string): boolean {
  return name === 'bridge' || name === 'host' || name === 'none' || name === 'default';
}

function danglingValue(filters: Filters): boolean {
  for (const v of filters.get('dangling')) {
    const l = v.toLowerCase();
    if (l === 'true' || l === '1') return true;
    if (l !== 'false' && l !== '0') break;
  }
  if (filters.get('dangling').every((v) => ['false', '0'].includes(v.toLowerCase()))) return false;
  throw new InvalidArgumentError(
    `invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`,
  );
}

/** networkContainersOf adapts the containers engine to the port the network service reads. */
export function networkContainersOf(
  containers: Pick<ContainersBackend, 'containers' | 'containerInspect'>,
): NetworkContainers {
  return {
    async running(signal) {
      return (await containers.containers({}, signal)).map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        networkMode: c.HostConfig.NetworkMode,
      }));
    },
    async find(ref, signal) {
      const c = await containers.containerInspect(ref, signal);
      return { id: c.Id, name: c.Name.replace(/^\//, ''), networkMode: String(c.HostConfig.NetworkMode) };
    },
  };
}
