/**
 * Route table of the container lifecycle group (moby `router/container/container.go`): which
 * method and path reach which handler, with the schema that documents it.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { ContainersBackend } from '../../engine/containers/index.js';
import { containersHandlers, type ContainersHandlers } from './containers.handlers.js';
import {
  containerCreateSchema,
  containerDeleteSchema,
  containerInspectSchema,
  containerKillSchema,
  containerListSchema,
  containerPauseSchema,
  containerPruneSchema,
  containerRenameSchema,
  containerRestartSchema,
  containerTopSchema,
  containerStartSchema,
  containerStatsSchema,
  containerStopSchema,
  containerUnpauseSchema,
  containerWaitSchema,
} from './schemas/containers.js';
import { containerUpdateSchema } from './schemas/container-update.js';

/** containersRoutes lists the container lifecycle routes for a set of handlers. */
export function containersRoutes(h: ContainersHandlers): RouteOptions[] {
  return [
    { method: 'GET', url: '/containers/json', schema: containerListSchema, handler: h.getContainersJSON },
    {
      method: 'GET',
      url: '/containers/:id/json',
      schema: containerInspectSchema,
      handler: h.getContainersByName,
    },
    {
      method: 'POST',
      url: '/containers/create',
      schema: containerCreateSchema,
      handler: h.postContainersCreate,
    },
    {
      method: 'POST',
      url: '/containers/:id/start',
      schema: containerStartSchema,
      handler: h.postContainersStart,
    },
    {
      method: 'POST',
      url: '/containers/:id/stop',
      schema: containerStopSchema,
      handler: h.postContainersStop,
    },
    {
      method: 'POST',
      url: '/containers/:id/restart',
      schema: containerRestartSchema,
      handler: h.postContainersRestart,
    },
    {
      method: 'POST',
      url: '/containers/:id/kill',
      schema: containerKillSchema,
      handler: h.postContainersKill,
    },
    {
      method: 'POST',
      url: '/containers/:id/wait',
      schema: containerWaitSchema,
      handler: h.postContainersWait,
    },
    {
      method: 'POST',
      url: '/containers/:id/pause',
      schema: containerPauseSchema,
      handler: h.postContainersPause,
    },
    {
      method: 'POST',
      url: '/containers/:id/unpause',
      schema: containerUnpauseSchema,
      handler: h.postContainersUnpause,
    },
    {
      method: 'POST',
      url: '/containers/prune',
      schema: containerPruneSchema,
      handler: h.postContainersPrune,
    },
    {
      method: 'POST',
      url: '/containers/:id/rename',
      schema: containerRenameSchema,
      handler: h.postContainersRename,
    },
    {
      method: 'POST',
      url: '/containers/:id/update',
      schema: containerUpdateSchema,
      handler: h.postContainerUpdate,
    },
    { method: 'GET', url: '/containers/:id/top', schema: containerTopSchema, handler: h.getContainersTop },
    {
      method: 'GET',
      url: '/containers/:id/stats',
      schema: containerStatsSchema,
      handler: h.getContainersStats,
    },
    { method: 'DELETE', url: '/containers/:id', schema: containerDeleteSchema, handler: h.deleteContainers },
  ];
}

/** registerContainersRoutes adds the container lifecycle routes, backed by `backend`, to `app`. */
export function registerContainersRoutes(app: FastifyInstance, backend: ContainersBackend): void {
  for (const route of containersRoutes(containersHandlers(backend))) app.route(route);
}
