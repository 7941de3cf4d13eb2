/**
 * Handlers of the network routes (moby `router/network/network_routes.go`) and of
 * `GET /system/df` (moby `router/system` getDiskUsage). Each parses its input, calls one
 * backend method with the request's abort signal, and replies.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NetworksBackend } from '../../engine/networks.js';
import type { SystemDfBackend } from '../../engine/system-df.js';
import { InvalidArgumentError } from '../../errors/index.js';
import { parseFilters } from '../../oci/filters.js';
import { compareVersions } from '../api-version.js';
import { firstValue, type QueryValue } from '../params.js';

/** NetworksHandlers are the route handlers the network route table points at. */
export interface NetworksHandlers {
  getNetworksList(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getNetwork(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postNetworkCreate(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postNetworkConnect(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postNetworkDisconnect(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  deleteNetwork(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postNetworksPrune(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getDiskUsage(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

const idParam = (request: FastifyRequest): string => (request.params as { id: string }).id;

function bodyObject(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new InvalidArgumentError('invalid JSON body: expected an object');
  return body as Record<string, unknown>;
}

function containerField(request: FastifyRequest): string {
  const c = bodyObject(request).Container;
  return typeof c === 'string' ? c : '';
}

/** networksHandlers binds the handlers to the network and disk usage backends. */
export function networksHandlers(networks: NetworksBackend, df: SystemDfBackend): NetworksHandlers {
  return {
    async getNetworksList(request) {
      const q = request.query as { filters?: QueryValue };
      return networks.networks(parseFilters(firstValue(q.filters)), request.abortSignal);
    },

    async getNetwork(request) {
      const q = request.query as { scope?: QueryValue };
      const scope = firstValue(q.scope);
      return networks.networkInspect(
        idParam(request),
        scope !== undefined ? { scope } : {},
        request.abortSignal,
      );
    },

    async postNetworkCreate(request) {
      return networks.networkCreate(bodyObject(request));
    },

    async postNetworkConnect(request) {
      return networks.networkConnect(idParam(request), containerField(request), request.abortSignal);
    },

    async postNetworkDisconnect(request) {
      return networks.networkDisconnect(idParam(request), containerField(request), request.abortSignal);
    },

    async deleteNetwork(request) {
      return networks.networkRemove(idParam(request));
    },

    async postNetworksPrune(request) {
      const q = request.query as { filters?: QueryValue };
      return networks.networksPrune(parseFilters(firstValue(q.filters)));
    },

    async getDiskUsage(request) {
      const q = request.query as { type?: QueryValue };
      const raw = q.type === undefined ? undefined : [q.type].flat();
      // `type` came with API 1.42; older clients get everything
      const types = compareVersions(request.apiVersion, '1.42') < 0 ? undefined : raw;
      const du = await df.diskUsage(types, request.abortSignal);
      if (compareVersions(request.apiVersion, '1.44') >= 0)
        for (const s of du.Images ?? []) delete (s as { VirtualSize?: number }).VirtualSize;
      return du;
    },
  };
}
