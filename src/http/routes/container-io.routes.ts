/**
 * Route table of the container IO group (moby `router/container/container.go` attach/logs/
 * resize/exec entries): which method and path reach which handler, with its schema.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { ContainerIOBackend } from '../../engine/io/container-io.js';
import type { ExecBackend } from '../../engine/io/exec.js';
import { containerIoHandlers, type ContainerIoHandlers } from './container-io.handlers.js';
import {
  containerAttachSchema,
  containerLogsSchema,
  containerResizeSchema,
  execCreateSchema,
  execInspectSchema,
  execResizeSchema,
  execStartSchema,
} from './schemas/container-io.js';

/** containerIoRoutes lists the container IO routes for a set of handlers. */
export function containerIoRoutes(h: ContainerIoHandlers): RouteOptions[] {
  return [
    { method: 'GET', url: '/containers/:id/logs', schema: containerLogsSchema, handler: h.getContainersLogs },
    {
      method: 'POST',
      url: '/containers/:id/attach',
      schema: containerAttachSchema,
      handler: h.postContainersAttach,
    },
    {
      method: 'POST',
      url: '/containers/:id/resize',
      schema: containerResizeSchema,
      handler: h.postContainersResize,
    },
    {
      method: 'POST',
      url: '/containers/:id/exec',
      schema: execCreateSchema,
      handler: h.postContainerExecCreate,
    },
    { method: 'POST', url: '/exec/:id/start', schema: execStartSchema, handler: h.postContainerExecStart },
    { method: 'POST', url: '/exec/:id/resize', schema: execResizeSchema, handler: h.postContainerExecResize },
    { method: 'GET', url: '/exec/:id/json', schema: execInspectSchema, handler: h.getExecByID },
  ];
}

/** registerContainerIoRoutes adds the container IO routes, backed by the IO and exec backends, to `app`. */
export function registerContainerIoRoutes(
  app: FastifyInstance,
  io: ContainerIOBackend,
  exec: ExecBackend,
): void {
  for (const route of containerIoRoutes(containerIoHandlers(io, exec))) app.route(route);
}
