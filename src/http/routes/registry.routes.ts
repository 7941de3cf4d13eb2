/**
 * Route table of pull, push and login (moby `router/image` `/images/create`,
 * `/images/{name:.*}/push`, `router/system` `/auth`). Names holding `/` reach push through the
 * `:ns/:repo` routes (as the image get routes).
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { DistributionBackend } from '../../engine/distribution.js';
import { registryHandlers, type RegistryHandlers } from './registry.handlers.js';
import { authSchema, imageCreateSchema, imagePushSchema } from './schemas/registry.js';

const HIDDEN = { hide: true } as const;

/** registryRoutes lists the registry routes for a set of handlers. */
export function registryRoutes(h: RegistryHandlers): RouteOptions[] {
  return [
    { method: 'POST', url: '/images/create', schema: imageCreateSchema, handler: h.postImagesCreate },
    { method: 'POST', url: '/images/:name/push', schema: imagePushSchema, handler: h.postImagesPush },
    { method: 'POST', url: '/images/:ns/:repo/push', schema: HIDDEN, handler: h.postImagesPush },
    { method: 'POST', url: '/images/:ns/:repo/:name2/push', schema: HIDDEN, handler: h.postImagesPush },
    { method: 'POST', url: '/auth', schema: authSchema, handler: h.postAuth },
  ];
}

/** registerRegistryRoutes adds the registry routes, backed by `backend`, to `app`. */
export function registerRegistryRoutes(app: FastifyInstance, backend: DistributionBackend): void {
  for (const route of registryRoutes(registryHandlers(backend))) app.route(route);
}
