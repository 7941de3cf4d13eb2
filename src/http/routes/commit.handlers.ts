/**
 * Handlers of commit, changes and export (moby `postCommit`, `getContainersChanges`,
 * `getContainersExport`). Each parses its input, calls one CommitBackend method with the
 * request's abort signal, and replies. Export streams: headers first, then the tar with
 * backpressure; a client that leaves aborts the pipeline, and the engine releases the mount
 * and lease.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CommitBackend, CommitOptions } from '../../engine/commit.js';
import { InvalidArgumentError } from '../../errors/index.js';
import type { ContainerRequestConfig } from '../../oci/container-config.js';
import type { LayerCompression } from '../../oci/media-types.js';
import { firstValue, parseBool } from '../params.js';
import { sendProgramOutput } from '../stream.js';

/** CommitHandlers are the route handlers the commit route table points at. */
export interface CommitHandlers {
  postCommit(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postContainersCommit(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getContainersChanges(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getContainersExport(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

type Query = Record<string, unknown>;

/** parseChanges reads the repeatable `changes` parameter; each value may hold several lines. */
export function parseChanges(v: unknown): string[] {
  const values = Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)];
  return values.flatMap((s) => s.split('\n')).filter((s) => s.trim() !== '');
}

/** parseCompression reads `compression`: none (default), gzip or zstd. */
export function parseCompression(v: unknown): LayerCompression {
  const s = (firstValue(v) ?? '').trim().toLowerCase();
  if (s === '' || s === 'none' || s === 'uncompressed') return 'none';
  if (s === 'gzip' || s === 'zstd') return s;
  throw new InvalidArgumentError(`invalid compression ${JSON.stringify(s)}: must be none, gzip or zstd`);
}

function commitOptions(container: string, q: Query, body: unknown): CommitOptions {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
    throw new InvalidArgumentError('invalid JSON body: expected a container config object or null');
  }
  const opts: CommitOptions = {
    container,
    pause: parseBool(q.pause, true),
    changes: parseChanges(q.changes),
    compression: parseCompression(q.compression),
    squash: parseBool(q.squash),
    config: (body ?? null) as ContainerRequestConfig | null,
  };
  for (const k of ['repo', 'tag', 'comment', 'author'] as const) {
    const v = firstValue(q[k]);
    if (v !== undefined && v !== '') opts[k] = v;
  }
  return opts;
}

/** commitHandlers binds the handlers to a backend. */
export function commitHandlers(backend: CommitBackend): CommitHandlers {
  return {
    async postCommit(request, reply) {
      const q = request.query as Query;
      const opts = commitOptions(firstValue(q.container) ?? '', q, request.body);
      const res = await backend.createImageFromContainer(opts, request.abortSignal);
      void reply.code(201);
      return res;
    },

    async postContainersCommit(request, reply) {
      const { id } = request.params as { id: string };
      const opts = commitOptions(id, request.query as Query, request.body);
      const res = await backend.createImageFromContainer(opts, request.abortSignal);
      void reply.code(201);
      return res;
    },

    async getContainersChanges(request) {
      const { id } = request.params as { id: string };
      return backend.containerChanges(id, request.abortSignal);
    },

    async getContainersExport(request, reply) {
      const { id } = request.params as { id: string };
      const signal = request.abortSignal;
      let started = false;
      try {
        await backend.containerExport(
          id,
          async (tar) => {
            started = true;
            await sendProgramOutput(
              request,
              reply,
              { 'content-type': 'application/x-tar' },
              (stdout) => tar.open(stdout),
              signal,
            );
          },
          signal,
        );
      } catch (err) {
        // after the head, sendProgramOutput has cut the connection and logged why
        if (!started) throw err;
      }
    },
  };
}
