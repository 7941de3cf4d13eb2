/**
 * Route table and handlers of the volume routes (moby `router/volume`): list, create, inspect,
 * remove, prune, over the local driver (engine/volumes).
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { VolumeCreateRequest, VolumesBackend } from '../../engine/volumes/store.js';
import { parseFilters } from '../../oci/filters.js';
import { firstValue, parseBool } from '../params.js';
import {
  volumeCreateSchema,
  volumeDeleteSchema,
  volumeInspectSchema,
  volumeListSchema,
  volumePruneSchema,
} from './schemas/volumes.js';

type Query = Record<string, unknown>;

function filtersOf(request: FastifyRequest) {
  return parseFilters(firstValue((request.query as Query).filters));
}

/** volumeRoutes lists the volume routes backed by `backend`. */
export function volumeRoutes(backend: VolumesBackend): RouteOptions[] {
  return [
    {
      method: 'GET',
      url: '/volumes',
      schema: volumeListSchema,
      handler: async (request) => backend.volumeList(filtersOf(request)),
    },
    {
      method: 'POST',
      url: '/volumes/create',
      schema: volumeCreateSchema,
      handler: async (request, reply) => {
        const v = await backend.volumeCreate((request.body ?? {}) as VolumeCreateRequest);
        void reply.code(201);
        return v;
      },
    },
    {
      method: 'POST',
      url: '/volumes/prune',
      schema: volumePruneSchema,
      handler: async (request) => backend.volumePrune(filtersOf(request)),
    },
    {
      method: 'GET',
      url: '/volumes/:name',
      schema: volumeInspectSchema,
      handler: async (request) => backend.volumeInspect((request.params as { name: string }).name),
    },
    {
      method: 'DELETE',
      url: '/volumes/:name',
      schema: volumeDeleteSchema,
      handler: async (request, reply) => {
        const { name } = request.params as { name: string };
        await backend.volumeRemove(name, parseBool((request.query as Query).force));
        void reply.code(204).send();
      },
    },
  ];
}

/** registerVolumeRoutes adds the volume routes, backed by `backend`, to `app`. */
export function registerVolumeRoutes(app: FastifyInstance, backend: VolumesBackend): void {
  for (const route of volumeRoutes(backend)) app.route(route);
}
