/**
 * The Fastify application speaking the Docker Engine API: version prefix and negotiation,
 * dockerd's response headers, error shape, body parsers, one log line per request, OpenAPI.
 * It knows HTTP only; listening on sockets is listen.ts's job.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { SystemBackend } from '../engine/system.js';
import { API_VERSION, checkApiVersion, requestedApiVersion, stripVersionPrefix } from './api-version.js';
import { installBodyPolicy, readBodyText } from './body-policy.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { trackRequest } from './request-context.js';
import { registerSystemRoutes } from './routes/system.routes.js';
import { ERROR_RESPONSE } from './routes/schemas/system.js';

/** BuildServerOptions are buildServer's inputs: the backends routes call, and daemon context. */
export interface BuildServerOptions {
  system: SystemBackend;
  logger: Logger;
  /** ckptd's version, shown in the `Server` header. */
  version: string;
  /**
   * shutdownSignal starts a graceful stop: it aborts the `abortSignal` of long streams (headers
   * already sent, or hijacked); other in-flight requests keep running until forceSignal.
   */
  shutdownSignal?: AbortSignal;
  /** forceSignal aborts every in-flight request's `abortSignal` (shutdown timeout reached). */
  forceSignal?: AbortSignal;
  /** largest parsed (JSON) body in bytes (413 beyond); streamed bodies are not limited here. */
  bodyLimit?: number;
  /** routes registers further route groups (images, containers, ...) with their backends. */
  routes?: RouteRegistrar[];
}

/** RouteRegistrar adds one route group to the app (e.g. `(app) => registerImageRoutes(app, images)`). */
export type RouteRegistrar = (app: FastifyInstance) => void;

/**
 * DEFAULT_BODY_LIMIT caps parsed request bodies (4 MiB): Docker's JSON bodies (container
 * create, commit config) are small, even a create whose Env and Cmd fill the kernel's 2 MiB
 * exec argument space; archives stream and are not parsed. Which routes parse, stream or take
 * no body is body-policy.ts's table.
 */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * RAW_BODY_CONTENT_TYPES are request bodies handed to handlers unread (`request.body` is the
 * request stream): archives for load/import/cp. Any other unknown type is passed through too.
 */
export const RAW_BODY_CONTENT_TYPES = [
  'application/x-tar',
  'application/tar',
  'application/octet-stream',
  'application/x-gzip',
  'application/gzip',
  'application/x-bzip2',
  'application/x-xz',
  'application/zstd',
];

/**
 * dockerHeaders are sent on every response. `Server` names ckptd, as podman's compat API names
 * itself (`Libpod/<v> (linux)`): clients only read Api-Version, Ostype, Docker-Experimental
 * (docker/cli `client/ping.go`), and the product token should not claim to be dockerd.
 */
export function dockerHeaders(version: string): Record<string, string> {
  return {
    'api-version': API_VERSION,
    server: `ckptd/${version} (linux)`,
    ostype: 'linux',
    'docker-experimental': 'true',
  };
}

/** buildServer creates the Fastify app with every route; call `listen()` (listen.ts) to serve it. */
export async function buildServer(opts: BuildServerOptions): Promise<FastifyInstance> {
  const headers = dockerHeaders(opts.version);
  // Each in-flight request listens on both signals (request-context.ts): up to max-connections.
  for (const signal of [opts.shutdownSignal, opts.forceSignal]) if (signal) setMaxListeners(0, signal);
  const onRequest = (request: FastifyRequest, reply: FastifyReply): void => {
    void reply.headers(headers).header('x-request-id', request.id);
    trackRequest(request, reply, opts.shutdownSignal, opts.forceSignal);
  };

  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    // Fastify's own incoming/completed lines are off: request-context.ts logs one line per request.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    requestIdHeader: false, // never trust a client-chosen id in our logs
    rewriteUrl: stripVersionPrefix,
    exposeHeadRoutes: false, // dockerd answers HEAD only where a route says so (/_ping, archive)
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    routerOptions: { maxParamLength: 1024 }, // image references can be long
    // Malformed URLs never reach onRequest; give them the same headers, log line and shape.
    frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
      onRequest(request, reply);
      errorHandler(error, request, reply);
    },
  });

  app.decorateRequest('apiVersion', '');
  app.decorateRequest('abortSignal', null as unknown as AbortSignal);

  app.addHook('onRequest', async (request, reply) => {
    onRequest(request, reply);
    const requested = requestedApiVersion(request.raw);
    request.apiVersion = requested ?? API_VERSION;
    // Like moby, unknown routes are a 404 whatever the version (the version middleware wraps routes).
    if (requested !== undefined && !request.is404) checkApiVersion(requested);
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  installBodyParsers(app);
  installBodyPolicy(app);
  // Schemas document; they never reshape a reply (fast-json-stringify drops unknown fields and
  // coerces types, which would silently corrupt Docker's loosely typed payloads).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addSchema(ERROR_RESPONSE);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'ckptd: Docker Engine API',
        version: API_VERSION,
        description:
          'The Docker Engine API subset ckptd serves over containerd. Every path also answers under ' +
          `\`/v{version}/\` for versions 1.24 to ${API_VERSION}; errors are \`{"message": "..."}\`.`,
      },
      servers: [{ url: `/v${API_VERSION}` }],
      tags: [{ name: 'System', description: 'Ping, version, info, events' }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  registerSystemRoutes(app, opts.system);
  for (const register of opts.routes ?? []) register(app);
  return app;
}

function installBodyParsers(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // Docker clients send `Content-Type: application/json` with empty bodies on many POSTs.
  app.addContentTypeParser('application/json', (request, payload, done) => {
    const length = Number(request.headers['content-length']);
    const limit = request.routeOptions.bodyLimit;
    void readBodyText(payload, limit, request.headers['transfer-encoding'] ? NaN : length).then(
      (text) => {
        if (text.trim() === '') done(null, undefined);
        else void parseJson(request, text, done);
      },
      (err: Error) => done(err, undefined),
    );
  });
  const passThrough = (
    _request: FastifyRequest,
    payload: unknown,
    done: (err: null, body: unknown) => void,
  ) => done(null, payload);
  app.addContentTypeParser(RAW_BODY_CONTENT_TYPES, passThrough);
  // Like dockerd, never refuse a request for its Content-Type; a handler expecting JSON checks.
  app.addContentTypeParser('*', passThrough);
}
