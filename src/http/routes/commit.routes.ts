/**
 * Route table of commit, changes and export (moby `router/image` `/commit`,
 * `router/container` `/containers/{id}/changes`, `/containers/{id}/export`), plus ckptd's
 * `POST /containers/{id}/commit`.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { CommitBackend } from '../../engine/commit.js';
import { commitHandlers, type CommitHandlers } from './commit.handlers.js';
import {
  containerChangesSchema,
  containerCommitSchema,
  containerExportSchema,
  imageCommitSchema,
} from './schemas/commit.js';

/** commitRoutes lists the commit/changes/export routes for a set of handlers. */
export function commitRoutes(h: CommitHandlers): RouteOptions[] {
  return [
    { method: 'POST', url: '/commit', schema: imageCommitSchema, handler: h.postCommit },
    {
      method: 'POST',
      url: '/containers/:id/commit',
      schema: containerCommitSchema,
      handler: h.postContainersCommit,
    },
    {
      method: 'GET',
      url: '/containers/:id/changes',
      schema: containerChangesSchema,
      handler: h.getContainersChanges,
    },
    {
      method: 'GET',
      url: '/containers/:id/export',
      schema: containerExportSchema,
      handler: h.getContainersExport,
    },
  ];
}

/** registerCommitRoutes adds the commit/changes/export routes, backed by `backend`, to `app`. */
export function registerCommitRoutes(app: FastifyInstance, backend: CommitBackend): void {
  for (const route of commitRoutes(commitHandlers(backend))) app.route(route);
}
