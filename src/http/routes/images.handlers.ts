/**
 * Handlers of the image routes (moby `router/image/image_routes.go`). Each parses its input,
 * calls one ImagesBackend method with the request's abort signal, and replies.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ImageInspect, ImageSummary, ImagesBackend } from '../../engine/images/backend.js';
import { parseFilters } from '../../oci/filters.js';
import { compareVersions } from '../api-version.js';
import { firstValue, parseBool, type QueryValue } from '../params.js';
import { recordError } from '../request-context.js';
import { startResponse } from '../stream.js';

/** ImagesHandlers are the route handlers the image route table points at. */
export interface ImagesHandlers {
  getImagesJSON(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postImagesLoad(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  getImagesByName(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  getImagesHistory(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postImagesTag(request: FastifyRequest, reply: FastifyReply): Promise<string>;
  deleteImages(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postImagesPrune(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  /** imagesWildcard serves the same routes for names holding `/` (`user/repo`), which `:name` cannot match. */
  imagesWildcard(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

/** jsonMessage is one line of Docker's JSON message stream (pkg/jsonmessage). */
export function jsonMessage(stream: string): string {
  return `${JSON.stringify({ stream })}\n`;
}

/** jsonError is an in-band error of Docker's JSON message stream (streamformatter.FormatError). */
export function jsonError(message: string): string {
  return `${JSON.stringify({ errorDetail: { message }, error: message })}\n`;
}

function nameParam(request: FastifyRequest): string {
  return (request.params as { name: string }).name;
}

const before = (request: FastifyRequest, version: string): boolean =>
  compareVersions(request.apiVersion, version) < 0;

function pageNotFound(reply: FastifyReply): { message: string } {
  void reply.code(404);
  return { message: 'page not found' };
}

/** imagesHandlers binds the image handlers to a backend. */
export function imagesHandlers(backend: ImagesBackend): ImagesHandlers {
  const h: ImagesHandlers = {
    async getImagesJSON(request) {
      const q = request.query as { all?: QueryValue; filters?: QueryValue };
      const filters = parseFilters(firstValue(q.filters));
      const list = await backend.images({ all: parseBool(q.all), filters }, request.abortSignal);
      // VirtualSize left the API in 1.44.
      if (!before(request, '1.44')) for (const s of list as ImageSummary[]) delete s.VirtualSize;
      return list;
    },

    // Always 200 with a JSON message stream: headers go out at once, the archive streams in,
    // and a failure is written in-band (moby postImagesLoad). `quiet` defaults to true; ckptd
    // sends no progress either way, only the final lines.
    async postImagesLoad(request, reply) {
      const q = request.query as { quiet?: QueryValue };
      parseBool(q.quiet, true);
      const signal = request.abortSignal;
      const input = request.raw;
      const res = startResponse(reply, { 'content-type': 'application/json' });
      res.flushHeaders();
      try {
        const loaded = await backend.loadImage(input, signal);
        for (const img of loaded) {
          if (img.repoTags.length === 0) res.write(jsonMessage(`Loaded image ID: ${img.id}\n`));
          for (const tag of img.repoTags) res.write(jsonMessage(`Loaded image: ${tag}\n`));
        }
      } catch (err) {
        recordError(request, err);
        if (signal.aborted || res.destroyed) {
          res.destroy();
          return;
        }
        res.write(jsonError(err instanceof Error ? err.message : String(err)));
        // The client may still be sending: discard the rest so it reads our answer.
        input.resume();
      }
      res.end();
    },

    async getImagesByName(request) {
      const img: Partial<ImageInspect> = await backend.imageInspect(nameParam(request), request.abortSignal);
      if (!before(request, '1.44')) delete img.VirtualSize;
      if (!before(request, '1.45')) {
        delete img.Container;
        delete img.ContainerConfig;
      }
      return img;
    },

    async getImagesHistory(request) {
      return backend.imageHistory(nameParam(request), request.abortSignal);
    },

    async postImagesTag(request, reply) {
      const q = request.query as { repo?: QueryValue; tag?: QueryValue };
      await backend.tagImage(
        nameParam(request),
        firstValue(q.repo) ?? '',
        firstValue(q.tag) ?? '',
        request.abortSignal,
      );
      void reply.code(201);
      return '';
    },

    async deleteImages(request) {
      const q = request.query as { force?: QueryValue; noprune?: QueryValue };
      return backend.imageDelete(
        nameParam(request),
        { force: parseBool(q.force), noprune: parseBool(q.noprune) },
        request.abortSignal,
      );
    },

    async postImagesPrune(request) {
      const q = request.query as { filters?: QueryValue };
      return backend.imagesPrune(parseFilters(firstValue(q.filters)), request.abortSignal);
    },

    async imagesWildcard(request, reply) {
      const rest = (request.params as { '*': string })['*'];
      const withName = (name: string): FastifyRequest => {
        (request.params as { name?: string }).name = name;
        return request;
      };
      if (request.method === 'DELETE') return h.deleteImages(withName(rest), reply);
      const slash = rest.lastIndexOf('/');
      if (slash <= 0) return pageNotFound(reply);
      const name = rest.slice(0, slash);
      const action = rest.slice(slash + 1);
      if (request.method === 'GET' && action === 'json') return h.getImagesByName(withName(name), reply);
      if (request.method === 'GET' && action === 'history') return h.getImagesHistory(withName(name), reply);
      if (request.method === 'POST' && action === 'tag') return h.postImagesTag(withName(name), reply);
      return pageNotFound(reply);
    },
  };
  return h;
}
