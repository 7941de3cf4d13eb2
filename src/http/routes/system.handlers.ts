/**
 * Handlers of the system routes (moby `router/system/system_routes.go`). Each parses its
 * input, calls one SystemBackend method with the request's abort signal, and replies.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SystemBackend } from '../../engine/system.js';
import { InvalidArgumentError } from '../../errors/index.js';
import { parseFilters } from '../../oci/filters.js';
import { firstValue, parseTimestamp, type QueryValue } from '../params.js';
import { streamJsonLines } from '../stream.js';

/** PING_HEADERS are the headers dockerd's pingHandler adds; Builder-Version 1: ckptd builds nothing, so the CLI must not pick BuildKit. */
export const PING_HEADERS = {
  'cache-control': 'no-cache, no-store, must-revalidate',
  pragma: 'no-cache',
  'builder-version': '1',
  swarm: 'inactive',
} as const;

/** EventsQuery is GET /events' query string as Fastify hands it over. */
export interface EventsQuery {
  since?: QueryValue;
  until?: QueryValue;
  filters?: QueryValue;
}

/** SystemHandlers are the route handlers the system route table points at. */
export interface SystemHandlers {
  pingHandler(request: FastifyRequest, reply: FastifyReply): Promise<string>;
  getVersion(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getInfo(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getEvents(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

/** systemHandlers binds the system handlers to a backend. */
export function systemHandlers(backend: SystemBackend): SystemHandlers {
  return {
    // Never touches the backend: the CLI pings before every command, and must get an answer
    // (and the API version) even while containerd is down.
    async pingHandler(request, reply) {
      void reply.headers(PING_HEADERS).header('content-type', 'text/plain; charset=utf-8');
      if (request.method === 'HEAD') {
        void reply.header('content-length', '0');
        return '';
      }
      return 'OK';
    },

    async getVersion(request) {
      return backend.version(request.abortSignal);
    },

    async getInfo(request) {
      return backend.info(request.abortSignal);
    },

    async getEvents(request, reply) {
      const q = request.query as EventsQuery;
      const sinceNano = parseTimestamp(q.since, 'since');
      const untilNano = parseTimestamp(q.until, 'until');
      if (sinceNano !== undefined && untilNano !== undefined && untilNano < sinceNano) {
        throw new InvalidArgumentError(
          `\`since\` time (${String(q.since)}) cannot be after \`until\` time (${String(q.until)})`,
        );
      }
      const filters = parseFilters(firstValue(q.filters)).toRecord();
      const signal = request.abortSignal;
      await streamJsonLines(
        request,
        reply,
        backend.events({ sinceNano, untilNano, filters }, signal),
        signal,
      );
    },
  };
}
