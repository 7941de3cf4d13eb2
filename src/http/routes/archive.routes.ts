/**
 * Route table of docker cp and docker save (moby `router/container/container.go` archive
 * routes, `router/image/image.go` get routes). Names holding `/` (`user/repo`, `host/user/repo`)
 * cannot match `:name`; hidden two- and three-segment routes serve them.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { ArchiveBackend } from '../../engine/archive.js';
import { archiveHandlers, type ArchiveHandlers } from './archive.handlers.js';
import { documentedHead } from './route-docs.js';
import {
  containerArchiveInfoSchema,
  containerArchiveSchema,
  imageGetAllSchema,
  imageGetSchema,
  putContainerArchiveSchema,
} from './schemas/archive.js';

const HIDDEN = { hide: true } as const;

/** archiveRoutes lists the archive routes for a set of handlers. */
export function archiveRoutes(h: ArchiveHandlers): RouteOptions[] {
  return [
    {
      method: 'HEAD',
      url: '/containers/:id/archive',
      schema: containerArchiveInfoSchema,
      config: documentedHead(containerArchiveInfoSchema.operationId),
      handler: h.headContainersArchive,
    },
    {
      method: 'GET',
      url: '/containers/:id/archive',
      schema: containerArchiveSchema,
      handler: h.getContainersArchive,
    },
    {
      method: 'PUT',
      url: '/containers/:id/archive',
      schema: putContainerArchiveSchema,
      handler: h.putContainersArchive,
    },
    { method: 'GET', url: '/images/get', schema: imageGetAllSchema, handler: h.getImagesGetAll },
    { method: 'GET', url: '/images/:name/get', schema: imageGetSchema, handler: h.getImagesGet },
    { method: 'GET', url: '/images/:ns/:repo/get', schema: HIDDEN, handler: h.getImagesGetAll },
    { method: 'GET', url: '/images/:ns/:repo/:name2/get', schema: HIDDEN, handler: h.getImagesGetAll },
  ];
}

/** registerArchiveRoutes adds the archive routes, backed by `backend`, to `app`. */
export function registerArchiveRoutes(app: FastifyInstance, backend: ArchiveBackend): void {
  // The docker CLI sends the PUT tar as `Content-Type: text/plain`, which Fastify's default
  // parser would buffer into a string: in this context every body stays the raw stream.
  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    for (const route of archiveRoutes(archiveHandlers(backend))) child.route(route);
  });
}
