/**
 * Helpers for documenting routes in the OpenAPI document.
 */
import type {} from '@fastify/swagger'; // its FastifyContextConfig augmentation (swagger, swaggerTransform)
import type { FastifyContextConfig } from 'fastify';

/**
 * documentedHead is the route config that makes @fastify/swagger list an explicit HEAD route
 * under its own operationId: by default it leaves HEAD routes out, or renames them
 * `<id>-head`, while Docker's swagger names them `SystemPingHead`, `ContainerArchiveInfo`...
 */
export function documentedHead(operationId: string): FastifyContextConfig {
  return {
    swagger: { exposeHeadRoute: true },
    swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, operationId }, url }),
  };
}
