/**
 * Route table of the image group (moby `router/image/image.go`). Docker routes names as
 * `{name:.*}`: `user/repo` holds a slash, which a `:name` parameter cannot match, so hidden
 * wildcard routes serve those names through the same handlers.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { ImagesBackend } from '../../engine/images/backend.js';
import { imagesHandlers, type ImagesHandlers } from './images.handlers.js';
import {
  imageDeleteSchema,
  imageHistorySchema,
  imageInspectSchema,
  imageListSchema,
  imageLoadSchema,
  imagePruneSchema,
  imageTagSchema,
} from './schemas/images.js';

const HIDDEN = { hide: true } as const;

/** imageRoutes lists the image routes for a set of handlers. */
export function imageRoutes(h: ImagesHandlers): RouteOptions[] {
  return [
    { method: 'GET', url: '/images/json', schema: imageListSchema, handler: h.getImagesJSON },
    { method: 'POST', url: '/images/load', schema: imageLoadSchema, handler: h.postImagesLoad },
    { method: 'POST', url: '/images/prune', schema: imagePruneSchema, handler: h.postImagesPrune },
    { method: 'GET', url: '/images/:name/json', schema: imageInspectSchema, handler: h.getImagesByName },
    { method: 'GET', url: '/images/:name/history', schema: imageHistorySchema, handler: h.getImagesHistory },
    { method: 'POST', url: '/images/:name/tag', schema: imageTagSchema, handler: h.postImagesTag },
    { method: 'DELETE', url: '/images/:name', schema: imageDeleteSchema, handler: h.deleteImages },
    { method: ['GET', 'POST', 'DELETE'], url: '/images/*', schema: HIDDEN, handler: h.imagesWildcard },
  ];
}

/** registerImageRoutes adds the image routes, backed by `backend`, to `app`. */
export function registerImageRoutes(app: FastifyInstance, backend: ImagesBackend): void {
  for (const route of imageRoutes(imagesHandlers(backend))) app.route(route);
}
