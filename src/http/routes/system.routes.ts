/**
 * Route table of the system group (moby `router/system/system.go`): which method and path
 * reach which handler, with the schema that documents it.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { SystemBackend } from '../../engine/system.js';
import { documentedHead } from './route-docs.js';
import { eventsSchema, infoSchema, pingHeadSchema, pingSchema, versionSchema } from './schemas/system.js';
import { systemHandlers, type SystemHandlers } from './system.handlers.js';

/** systemRoutes lists the system routes for a set of handlers. */
export function systemRoutes(h: SystemHandlers): RouteOptions[] {
  return [
    { method: 'GET', url: '/_ping', schema: pingSchema, handler: h.pingHandler },
    {
      method: 'HEAD',
      url: '/_ping',
      schema: pingHeadSchema,
      config: documentedHead(pingHeadSchema.operationId),
      handler: h.pingHandler,
    },
    { method: 'GET', url: '/version', schema: versionSchema, handler: h.getVersion },
    { method: 'GET', url: '/info', schema: infoSchema, handler: h.getInfo },
    { method: 'GET', url: '/events', schema: eventsSchema, handler: h.getEvents },
  ];
}

/** registerSystemRoutes adds the system routes, backed by `backend`, to `app`. */
export function registerSystemRoutes(app: FastifyInstance, backend: SystemBackend): void {
  for (const route of systemRoutes(systemHandlers(backend))) app.route(route);
}
