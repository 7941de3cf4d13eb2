/**
 * Route table of checkpoint and restore: Docker's experimental `/containers/{id}/checkpoints`
 * (moby `router/checkpoint/checkpoint.go`) and ckptd's `/containers/{id}/checkpoint` and
 * `/containers/{id}/restore`. `start?checkpoint=` stays a containers route (its backend
 * delegates to the checkpoint engine).
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { CheckpointBackend } from '../../engine/checkpoint/index.js';
import type { CheckpointImageBackend } from '../../engine/checkpoint/checkpoint-image.js';
import { checkpointHandlers, type CheckpointHandlers } from './checkpoint.handlers.js';
import {
  checkpointCreateSchema,
  checkpointDeleteSchema,
  checkpointListSchema,
  containerCheckpointSchema,
  containerRestoreSchema,
} from './schemas/checkpoint.js';

/** checkpointRoutes lists the checkpoint routes for a set of handlers. */
export function checkpointRoutes(h: CheckpointHandlers): RouteOptions[] {
  return [
    {
      method: 'POST',
      url: '/containers/:id/checkpoints',
      schema: checkpointCreateSchema,
      handler: h.postCheckpointCreate,
    },
    {
      method: 'GET',
      url: '/containers/:id/checkpoints',
      schema: checkpointListSchema,
      handler: h.getCheckpointList,
    },
    {
      method: 'DELETE',
      url: '/containers/:id/checkpoints/:checkpoint',
      schema: checkpointDeleteSchema,
      handler: h.deleteCheckpoint,
    },
    {
      method: 'POST',
      url: '/containers/:id/checkpoint',
      schema: containerCheckpointSchema,
      handler: h.postContainerCheckpoint,
    },
    {
      method: 'POST',
      url: '/containers/:id/restore',
      schema: containerRestoreSchema,
      handler: h.postContainerRestore,
    },
  ];
}

/** registerCheckpointRoutes adds the checkpoint routes, backed by `backend`, to `app`. */
export function registerCheckpointRoutes(
  app: FastifyInstance,
  backend: CheckpointBackend,
  images?: CheckpointImageBackend,
): void {
  for (const route of checkpointRoutes(checkpointHandlers(backend, images))) app.route(route);
}
