/**
 * Handlers of the container lifecycle routes (moby `router/container/container_routes.go`).
 * Each parses its input with dockerd's rules, calls one ContainersBackend method with the
 * request's abort signal, and replies.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ContainersBackend, CreateContainerRequest } from '../../engine/containers/index.js';
import { parseWaitCondition } from '../../engine/containers/shape.js';
import { InvalidArgumentError } from '../../errors/index.js';
import { parseFilters as parseFilterArgs } from '../../oci/filters.js';
import { firstValue, parseBool } from '../params.js';
import { recordError } from '../request-context.js';
import { startResponse, streamJsonLines } from '../stream.js';

type Query = Record<string, unknown>;
type Params = { id: string };

/** ContainersHandlers are the route handlers the containers route table points at. */
export interface ContainersHandlers {
  postContainersCreate(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getContainersJSON(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getContainersByName(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postContainersStart(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersStop(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersRestart(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersKill(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersWait(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersPause(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersUnpause(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersRename(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  getContainersTop(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postContainersPrune(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getContainersStats(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  deleteContainers(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainerUpdate(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

/** parseInt10 reads an integer query value (`t`, `limit`); absent/empty -> undefined, else 400. */
export function parseIntParam(v: unknown, name: string): number | undefined {
  const s = firstValue(v);
  if (s === undefined || s === '') return undefined;
  if (!/^[+-]?\d+$/.test(s.trim())) {
    throw new InvalidArgumentError(
      `invalid value for ${name}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`,
    );
  }
  return Number(s.trim());
}

/** containersHandlers binds the container handlers to a backend. */
export function containersHandlers(backend: ContainersBackend): ContainersHandlers {
  const id = (request: FastifyRequest) => (request.params as Params).id;
  const q = (request: FastifyRequest) => request.query as Query;
  const noContent = (reply: FastifyReply) => {
    void reply.code(204).send();
  };
  return {
    async postContainersCreate(request, reply) {
      const body = request.body;
      if (body === undefined || body === null) {
        throw new InvalidArgumentError('config cannot be empty in order to create a container');
      }
      if (typeof body !== 'object' || Array.isArray(body)) {
        throw new InvalidArgumentError('invalid JSON body: expected an object');
      }
      const name = firstValue(q(request).name);
      const platform = firstValue(q(request).platform);
      const res = await backend.containerCreate(
        name,
        body as CreateContainerRequest,
        request.abortSignal,
        platform,
      );
      void reply.code(201);
      return res;
    },

    async getContainersJSON(request) {
      const query = q(request);
      const limit = parseIntParam(query.limit, 'limit');
      return backend.containers(
        {
          all: parseBool(query.all),
          size: parseBool(query.size),
          ...(limit !== undefined ? { limit } : {}),
          filters: parseFilterArgs(firstValue(query.filters)),
        },
        request.abortSignal,
      );
    },

    async getContainersByName(request) {
      return backend.containerInspect(id(request), request.abortSignal);
    },

    async postContainersStart(request, reply) {
      const query = q(request);
      // `checkpoint` restores from a checkpoint (never a silent cold start); `checkpoint-dir`
      // works too (dockerd answers 403 there). An empty value is dockerd's "no checkpoint".
      const checkpoint = firstValue(query.checkpoint);
      const checkpointDir = firstValue(query['checkpoint-dir']);
      if (!checkpoint && checkpointDir) throw new InvalidArgumentError('checkpoint-dir needs checkpoint');
      await backend.containerStart(
        id(request),
        request.abortSignal,
        checkpoint ? { checkpoint, ...(checkpointDir ? { checkpointDir } : {}) } : undefined,
      );
      noContent(reply);
    },

    async postContainersStop(request, reply) {
      const query = q(request);
      const timeout = parseIntParam(query.t, 't');
      const signal = firstValue(query.signal);
      await backend.containerStop(
        id(request),
        { ...(timeout !== undefined ? { timeout } : {}), ...(signal ? { signal } : {}) },
        request.abortSignal,
      );
      noContent(reply);
    },

    async postContainersRestart(request, reply) {
      const query = q(request);
      const timeout = parseIntParam(query.t, 't');
      const signal = firstValue(query.signal);
      await backend.containerRestart(
        id(request),
        { ...(timeout !== undefined ? { timeout } : {}), ...(signal ? { signal } : {}) },
        request.abortSignal,
      );
      noContent(reply);
    },

    async postContainersKill(request, reply) {
      await backend.containerKill(id(request), firstValue(q(request).signal));
      noContent(reply);
    },

    /**
     * postContainersWait sends 200 and the headers at once (moby does `WriteHeader` +
     * `Flush` before waiting): `docker run` waits for them before it starts the container.
     * The body follows when the condition is met; afterwards an error can only be reported
     * in-band as `Error.Message`.
     */
    async postContainersWait(request, reply) {
      const condition = parseWaitCondition(firstValue(q(request).condition));
      const signal = request.abortSignal;
      const waiter = await backend.containerWait(id(request), condition, signal);
      const res = startResponse(reply, { 'content-type': 'application/json' });
      res.flushHeaders();
      let body: string;
      try {
        body = JSON.stringify(await waiter.result);
      } catch (err) {
        if (signal.aborted || res.destroyed) {
          recordError(request, err);
          if (!res.destroyed) res.destroy();
          return;
        }
        recordError(request, err);
        body = JSON.stringify({
          StatusCode: -1,
          Error: { Message: err instanceof Error ? err.message : String(err) },
        });
      }
      if (!res.destroyed) res.end(`${body}\n`);
    },

    async postContainersPause(request, reply) {
      await backend.containerPause(id(request));
      noContent(reply);
    },

    async postContainersUnpause(request, reply) {
      await backend.containerUnpause(id(request));
      noContent(reply);
    },

    async postContainersRename(request, reply) {
      await backend.containerRename(id(request), firstValue(q(request).name) ?? '');
      noContent(reply);
    },

    async postContainersPrune(request) {
      return backend.containersPrune(parseFilterArgs(firstValue(q(request).filters)), request.abortSignal);
    },

    async getContainersStats(request, reply) {
      const query = q(request);
      const stream = parseBool(query.stream, true); // moby's BoolValueOrDefault(r, "stream", true)
      const oneShot = parseBool(query['one-shot']);
      if (stream && oneShot) throw new InvalidArgumentError('cannot have stream=true and one-shot=true');
      const stats = backend.containerStats(id(request), { stream, oneShot }, request.abortSignal);
      const it = stats[Symbol.asyncIterator]();
      // the first object before any byte is sent: a missing container is still a 404
      const first = await it.next();
      if (!stream) {
        await it.return?.();
        return first.done ? {} : first.value;
      }
      const rest = { [Symbol.asyncIterator]: () => it };
      await streamJsonLines(
        request,
        reply,
        (async function* () {
          if (!first.done) yield first.value;
          yield* rest;
        })(),
        request.abortSignal,
      );
      return undefined;
    },

    async getContainersTop(request) {
      const psArgs = firstValue(q(request).ps_args);
      return backend.containerTop(id(request), psArgs === undefined || psArgs === '' ? undefined : psArgs);
    },

    async postContainerUpdate(request) {
      const body = request.body ?? {};
      if (typeof body !== 'object' || Array.isArray(body)) {
        throw new InvalidArgumentError('invalid JSON body: expected an object');
      }
      return backend.containerUpdate(id(request), body as Record<string, unknown>);
    },

    async deleteContainers(request, reply) {
      const query = q(request);
      if (parseBool(query.link)) throw new InvalidArgumentError('links are not supported by ckptd');
      await backend.containerRemove(id(request), {
        force: parseBool(query.force),
        removeVolumes: parseBool(query.v),
      });
      noContent(reply);
    },
  };
}
