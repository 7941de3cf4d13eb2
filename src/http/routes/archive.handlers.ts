/**
 * Handlers of docker cp and docker save (moby `router/container/copy.go` headContainersArchive,
 * getContainersArchive, putContainersArchive; `router/image` getImagesGet). Each parses its
 * input, calls one ArchiveBackend method with the request's abort signal, and replies. Streams
 * send their headers with the first byte: an error before it gets a real status, one after it
 * can only cut the connection (and is logged).
 */
import type { ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { encodePathStat } from '../../archive/container-archive.js';
import type { ArchiveBackend } from '../../engine/archive.js';
import { InvalidArgumentError } from '../../errors/index.js';
import { firstValue, parseBool } from '../params.js';
import { cutConnection } from '../request-context.js';
import { sendProgramOutput, startResponse } from '../stream.js';

/** PATH_STAT_HEADER carries the stat of the archived path. */
export const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

/** ArchiveHandlers are the route handlers the archive route table points at. */
export interface ArchiveHandlers {
  headContainersArchive(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getContainersArchive(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  putContainersArchive(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getImagesGet(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  getImagesGetAll(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

type Query = Record<string, unknown>;

function pathParam(q: Query): string {
  const p = firstValue(q.path);
  if (p === undefined || p === '') throw new InvalidArgumentError('path is required');
  return p;
}

const idOf = (request: FastifyRequest): string => (request.params as { id: string }).id;

/**
 * LazyResponse is a Writable that sends the 200 and its headers only with the first byte (or
 * at the end), so the engine's failures before it still reach the client as a status.
 */
class LazyResponse extends Writable {
  readonly #start: () => ServerResponse;
  #res: ServerResponse | undefined;

  constructor(start: () => ServerResponse) {
    super({ highWaterMark: 1 << 20 });
    this.#start = start;
  }

  get started(): boolean {
    return this.#res !== undefined;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const res = (this.#res ??= this.#start());
    if (res.destroyed) {
      cb(new Error('client closed the connection'));
      return;
    }
    if (res.write(chunk)) {
      cb();
      return;
    }
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      cb(res.destroyed && !res.writableFinished ? new Error('client closed the connection') : null);
    };
    res.on('drain', done);
    res.on('close', done);
  }

  override _final(cb: (err?: Error | null) => void): void {
    const res = (this.#res ??= this.#start());
    res.end(() => cb());
  }
}

/** archiveHandlers binds the handlers to a backend. */
export function archiveHandlers(backend: ArchiveBackend): ArchiveHandlers {
  const save = async (request: FastifyRequest, reply: FastifyReply, names: string[]): Promise<void> => {
    const out = new LazyResponse(() => startResponse(reply, { 'content-type': 'application/x-tar' }));
    let sentByProgram = false;
    try {
      await backend.imageSave(
        names,
        {
          writable: out,
          program: async (source) => {
            sentByProgram = true;
            await sendProgramOutput(
              request,
              reply,
              { 'content-type': 'application/x-tar' },
              (stdout) => source.open(stdout),
              request.abortSignal,
            );
          },
        },
        request.abortSignal,
      );
    } catch (err) {
      if (sentByProgram) return; // sendProgramOutput has cut the connection and logged why
      if (!out.started) throw err;
      cutConnection(request, reply, err);
    }
  };

  return {
    async headContainersArchive(request, reply) {
      const stat = await backend.containerStatPath(
        idOf(request),
        pathParam(request.query as Query),
        request.abortSignal,
      );
      void reply.header(PATH_STAT_HEADER, encodePathStat(stat));
      void reply.header('content-type', 'application/x-tar');
      return reply.code(200).send();
    },

    async getContainersArchive(request, reply) {
      const signal = request.abortSignal;
      let started = false;
      try {
        await backend.containerArchivePath(
          idOf(request),
          pathParam(request.query as Query),
          async (stat, tar) => {
            started = true;
            const headers = {
              'content-type': 'application/x-tar',
              [PATH_STAT_HEADER]: encodePathStat(stat),
            };
            await sendProgramOutput(request, reply, headers, (stdout) => tar.open(stdout), signal);
          },
          signal,
        );
      } catch (err) {
        // after the head, sendProgramOutput has cut the connection and logged why
        if (!started) throw err;
      }
    },

    async putContainersArchive(request, reply) {
      const q = request.query as Query;
      const path = pathParam(q);
      // The docker CLI may send the tar without a Content-Type: then Fastify leaves the request
      // stream unread, and it is the body.
      const parsed = request.body as Readable | undefined | null;
      const body = parsed === undefined || parsed === null ? (request.raw as Readable) : parsed;
      if (typeof body.pipe !== 'function') {
        throw new InvalidArgumentError('the request body must be a tar archive');
      }
      await backend.containerExtractToDir(
        idOf(request),
        path,
        body,
        { noOverwriteDirNonDir: parseBool(q.noOverwriteDirNonDir), copyUIDGID: parseBool(q.copyUIDGID) },
        request.abortSignal,
      );
      return reply.code(200).send();
    },

    async getImagesGet(request, reply) {
      await save(request, reply, [(request.params as { name: string }).name]);
    },

    async getImagesGetAll(request, reply) {
      const q = request.query as Query;
      const v = q.names;
      const names = (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]).filter(
        (s) => s !== '',
      );
      // /images/user/repo/get arrives here through the multi-segment routes
      const p = request.params as Record<string, string | undefined>;
      const fromPath = [p.ns, p.repo, p.name2].filter((s): s is string => s !== undefined);
      if (fromPath.length > 0) names.unshift(fromPath.join('/'));
      await save(request, reply, names);
    },
  };
}
