/**
 * Route table of the network group (moby `router/network/network.go`) and of
 * `GET /system/df` (moby `router/system/system.go`).
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { NetworksBackend } from '../../engine/networks.js';
import type { SystemDfBackend } from '../../engine/system-df.js';
import { networksHandlers, type NetworksHandlers } from './networks.handlers.js';
import {
  networkConnectSchema,
  networkCreateSchema,
  networkDeleteSchema,
  networkDisconnectSchema,
  networkInspectSchema,
  networkListSchema,
  networkPruneSchema,
  systemDataUsageSchema,
} from './schemas/networks.js';

/** networkRoutes lists the network and disk usage routes for a set of handlers. */
export function networkRoutes(h: NetworksHandlers): RouteOptions[] {
  return [
    { method: 'GET', url: '/networks', schema: networkListSchema, handler: h.getNetworksList },
    { method: 'POST', url: '/networks/create', schema: networkCreateSchema, handler: h.postNetworkCreate },
    { method: 'POST', url: '/networks/prune', schema: networkPruneSchema, handler: h.postNetworksPrune },
    { method: 'GET', url: '/networks/:id', schema: networkInspectSchema, handler: h.getNetwork },
    {
      method: 'POST',
      url: '/networks/:id/connect',
      schema: networkConnectSchema,
      handler: h.postNetworkConnect,
    },
    {
      method: 'POST',
      url: '/networks/:id/disconnect',
      schema: networkDisconnectSchema,
      handler: h.postNetworkDisconnect,
    },
    { method: 'DELETE', url: '/networks/:id', schema: networkDeleteSchema, handler: h.deleteNetwork },
    { method: 'GET', url: '/system/df', schema: systemDataUsageSchema, handler: h.getDiskUsage },
  ];
}

/** registerNetworkRoutes adds the network and disk usage routes, backed by the given backends, to `app`. */
export function registerNetworkRoutes(
  app: FastifyInstance,
  networks: NetworksBackend,
  df: SystemDfBackend,
): void {
  for (const route of networkRoutes(networksHandlers(networks, df))) app.route(route);
}
