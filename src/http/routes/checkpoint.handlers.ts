/**
 * Handlers of the checkpoint routes (moby `router/checkpoint/checkpoint_routes.go`, podman
 * `handlers/libpod/containers.go` checkpoint/restore). Each parses its input, calls one
 * CheckpointBackend method with the request's abort signal, and replies.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CompressionKind } from '../../archive/compression.js';
import type { CheckpointBackend } from '../../engine/checkpoint/index.js';
import type { CheckpointImageBackend } from '../../engine/checkpoint/checkpoint-image.js';
import { InvalidArgumentError } from '../../errors/index.js';
import { firstValue, parseBool } from '../params.js';
import { sendProgramOutput } from '../stream.js';

type Query = Record<string, unknown>;

/** CheckpointHandlers are the route handlers the checkpoint route table points at. */
export interface CheckpointHandlers {
  postCheckpointCreate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  getCheckpointList(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  deleteCheckpoint(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainerCheckpoint(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postContainerRestore(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

/** ARCHIVE_CONTENT_TYPES maps an export's compression to its Content-Type (all accepted back by import). */
export const ARCHIVE_CONTENT_TYPES: Record<'none' | 'gzip' | 'zstd', string> = {
  none: 'application/x-tar',
  gzip: 'application/gzip',
  zstd: 'application/zstd',
};

function parseCompress(v: unknown): 'none' | 'gzip' | 'zstd' {
  const s = firstValue(v);
  if (s === undefined || s === '') return 'zstd';
  if (s === 'none' || s === 'gzip' || s === 'zstd') return s;
  throw new InvalidArgumentError(`invalid compress value ${JSON.stringify(s)}: use zstd, gzip or none`);
}

const opt = (k: string, v: string | undefined): Record<string, string> => (v ? { [k]: v } : {});

/** checkpointHandlers binds the checkpoint handlers to a backend. */
export function checkpointHandlers(
  backend: CheckpointBackend,
  images?: CheckpointImageBackend,
): CheckpointHandlers {
  const id = (request: FastifyRequest) => (request.params as { id: string }).id;
  const q = (request: FastifyRequest) => request.query as Query;
  return {
    async postCheckpointCreate(request, reply) {
      const body = (request.body ?? {}) as {
        CheckpointID?: unknown;
        CheckpointDir?: unknown;
        Exit?: unknown;
      };
      if (typeof body !== 'object' || Array.isArray(body))
        throw new InvalidArgumentError('invalid JSON body');
      const name = typeof body.CheckpointID === 'string' ? body.CheckpointID : '';
      const dir = typeof body.CheckpointDir === 'string' ? body.CheckpointDir : '';
      await backend.checkpointCreate(
        id(request),
        { name, ...opt('dir', dir), leaveRunning: body.Exit !== true },
        request.abortSignal,
      );
      void reply.code(201).send();
    },

    async getCheckpointList(request) {
      return backend.checkpointList(
        id(request),
        firstValue(q(request).dir) || undefined,
        request.abortSignal,
      );
    },

    async deleteCheckpoint(request, reply) {
      const { checkpoint } = request.params as { checkpoint: string };
      await backend.checkpointDelete(
        id(request),
        checkpoint,
        firstValue(q(request).dir) || undefined,
        request.abortSignal,
      );
      void reply.code(204).send();
    },

    async postContainerCheckpoint(request, reply) {
      const query = q(request);
      const name = firstValue(query.name);
      const opts = {
        ...(name !== undefined && name !== '' ? { name } : {}),
        ...opt('dir', firstValue(query.dir)),
        leaveRunning: parseBool(query.leaveRunning),
        tcpEstablished: parseBool(query.tcpEstablished),
        fileLocks: parseBool(query.fileLocks),
        ignoreRootfs: parseBool(query.ignoreRootfs),
        ignoreVolumes: parseBool(query.ignoreVolumes),
      };
      const printStats = parseBool(query.printStats);
      const image = firstValue(query.image);
      if (image !== undefined && image !== '') {
        if (images === undefined)
          throw new InvalidArgumentError('image: checkpoint images are not available');
        if (parseBool(query.export)) throw new InvalidArgumentError('image: cannot be combined with export');
        if (firstValue(query.dir)) throw new InvalidArgumentError('image: cannot be combined with dir');
        const c = firstValue(query.compress);
        const compress = c === undefined || c === '' ? 'none' : parseCompress(c);
        const res = await images.checkpointToImage(
          id(request),
          { ...opts, image, compress },
          request.abortSignal,
        );
        void reply.code(201);
        return {
          Id: res.id,
          Image: res.imageId,
          ...(printStats ? { Stats: res.stats } : {}),
        };
      }
      if (!parseBool(query.export)) {
        // no name: the engine answers 404 for an unknown container first, as dockerd orders it
        // volumes go into exported archives only (podman): refuse rather than ignore
        if (opts.ignoreVolumes)
          throw new InvalidArgumentError('ignoreVolumes: only an export (export=true) carries volumes');
        const res = await backend.checkpointCreate(id(request), opts, request.abortSignal);
        void reply.code(201);
        return { Id: res.id, Name: res.name, ...(printStats ? { Stats: res.stats } : {}) };
      }
      const compress: CompressionKind = parseCompress(query.compress);
      const signal = request.abortSignal;
      // CRIU's failures come before any byte: they still get a real status.
      const exp = await backend.checkpointExport(id(request), { ...opts, compress }, signal);
      const headers: Record<string, string> = {
        'content-type': ARCHIVE_CONTENT_TYPES[compress as 'none' | 'gzip' | 'zstd'],
        'x-ckptd-checkpoint': exp.result.name,
      };
      if (printStats) headers['x-ckptd-stats'] = JSON.stringify(exp.result.stats);
      let opened = false;
      try {
        await sendProgramOutput(
          request,
          reply,
          headers,
          (stdout) => {
            opened = true;
            return exp.open(stdout);
          },
          signal,
        );
      } catch {
        // after the head, sendProgramOutput has cut the connection and logged why
      } finally {
        if (!opened) exp.discard();
      }
      return undefined;
    },

    async postContainerRestore(request, reply) {
      const query = q(request);
      const opts = {
        ...opt('checkpoint', firstValue(query.checkpoint)),
        ...opt('dir', firstValue(query.dir)),
        ...opt('name', firstValue(query.name)),
        tcpEstablished: parseBool(query.tcpEstablished),
        ignoreRootfs: parseBool(query.ignoreRootfs),
        keep: parseBool(query.keep),
        ignoreVolumes: parseBool(query.ignoreVolumes),
      };
      const hostConfig = parseHostConfig(firstValue(query.hostConfig));
      if (opts.tcpEstablished) {
        // containerd 1.6's runc shim passes no TCP option to `runc restore`: refuse, never ignore
        throw new InvalidArgumentError(
          'tcpEstablished: restoring established TCP connections is not supported (containerd 1.6 passes no such option to runc restore)',
        );
      }
      if (
        hostConfig !== undefined &&
        !firstValue(query.name) &&
        !parseBool(query.import) &&
        !firstValue(query.image)
      ) {
        throw new InvalidArgumentError(
          'hostConfig: only a restore into a new container (name, import or image) takes a HostConfig',
        );
      }
      if (opts.ignoreVolumes && !parseBool(query.import)) {
        throw new InvalidArgumentError('ignoreVolumes: only an import (import=true) restores volumes');
      }
      const restoreOpts = { ...opts, ...(hostConfig !== undefined ? { hostConfig } : {}) };
      const printStats = parseBool(query.printStats);
      const image = firstValue(query.image);
      if (image !== undefined && image !== '') {
        // like import, `{id}` is not used: the image is the source, the container is new
        if (images === undefined)
          throw new InvalidArgumentError('image: checkpoint images are not available');
        for (const k of ['import', 'checkpoint', 'dir', 'keep'] as const) {
          if (k === 'import' || k === 'keep' ? parseBool(query[k]) : firstValue(query[k])) {
            throw new InvalidArgumentError(`${k}: cannot be combined with image`);
          }
        }
        const res = await images.restoreFromImage(
          image,
          {
            ...opt('name', firstValue(query.name)),
            ignoreRootfs: opts.ignoreRootfs,
            ...(hostConfig !== undefined ? { hostConfig } : {}),
          },
          request.abortSignal,
        );
        void reply.code(201);
        return { Id: res.Id };
      }
      let res;
      if (parseBool(query.import)) {
        const body = request.body as unknown;
        if (body === undefined || body === null || typeof (body as Readable).pipe !== 'function') {
          throw new InvalidArgumentError(
            'import=true needs the checkpoint archive as the body (Content-Type application/x-tar, application/zstd, application/gzip or application/octet-stream)',
          );
        }
        res = await backend.checkpointImport(body as Readable, restoreOpts, request.abortSignal);
      } else {
        res = await backend.checkpointRestore(id(request), restoreOpts, request.abortSignal);
      }
      void reply.code(201);
      return { Id: res.Id, ...(printStats && res.stats ? { Stats: res.stats } : {}) };
    },
  };
}

/** parseHostConfig reads restore's `hostConfig` query parameter: a JSON HostConfig object. */
function parseHostConfig(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new InvalidArgumentError(`hostConfig: invalid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new InvalidArgumentError('hostConfig: must be a JSON object (a HostConfig)');
  }
  return v as Record<string, unknown>;
}
