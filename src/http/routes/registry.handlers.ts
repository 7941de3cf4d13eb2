/**
 * Handlers of pull, push and login (moby `router/image` postImagesCreate, postImagesPush and
 * `router/system` postAuth). A pull or push answers with a JSON progress stream whose 200 goes
 * out with the first message: a failure before it is an ordinary API error (as dockerd, whose
 * output writer is not flushed yet), a failure after it is written in-band.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DistributionBackend } from '../../engine/distribution.js';
import type { ProgressMessage } from '../../engine/progress.js';
import { InvalidArgumentError, NotImplementedError } from '../../errors/index.js';
import { decodeRegistryAuth, type Credentials } from '../../registry/auth.js';
import { firstValue } from '../params.js';
import { recordError } from '../request-context.js';
import { startResponse } from '../stream.js';
import { jsonError } from './images.handlers.js';

/** RegistryHandlers are the route handlers of the registry routes. */
export interface RegistryHandlers {
  postImagesCreate(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postImagesPush(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postAuth(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

function credentials(request: FastifyRequest): Credentials | undefined {
  const h = request.headers['x-registry-auth'];
  return decodeRegistryAuth(Array.isArray(h) ? h[0] : h);
}

/**
 * LazyStream starts the 200 response on the first message; writes honour nothing but order
 * (progress lines are small and rate-limited).
 */
class LazyStream {
  #res: ServerResponse | undefined;
  readonly #reply: FastifyReply;

  constructor(reply: FastifyReply) {
    this.#reply = reply;
  }

  get started(): boolean {
    return this.#res !== undefined;
  }

  write(m: ProgressMessage): void {
    if (!this.#res) {
      this.#res = startResponse(this.#reply, { 'content-type': 'application/json' });
      this.#res.flushHeaders();
    }
    if (!this.#res.destroyed) this.#res.write(`${JSON.stringify(m)}\n`);
  }

  fail(message: string): void {
    if (this.#res && !this.#res.destroyed) this.#res.write(jsonError(message));
  }

  end(): void {
    if (this.#res && !this.#res.destroyed) this.#res.end();
  }

  destroy(): void {
    this.#res?.destroy();
  }
}

async function runStreamed(
  request: FastifyRequest,
  reply: FastifyReply,
  op: (sink: (m: ProgressMessage) => void) => Promise<void>,
): Promise<unknown> {
  const out = new LazyStream(reply);
  try {
    await op((m) => out.write(m));
  } catch (err) {
    if (!out.started) throw err;
    recordError(request, err);
    if (request.abortSignal.aborted) out.destroy();
    else out.fail(err instanceof Error ? err.message : String(err));
  }
  if (!out.started) out.write({ status: '' });
  out.end();
  return reply;
}

/** registryHandlers binds the handlers to a backend. */
export function registryHandlers(backend: DistributionBackend): RegistryHandlers {
  return {
    async postImagesCreate(request, reply) {
      const q = request.query as Record<string, unknown>;
      const fromSrc = firstValue(q.fromSrc);
      const fromImage = firstValue(q.fromImage);
      if (fromSrc !== undefined && fromSrc !== '') {
        throw new NotImplementedError(
          'fromSrc: importing an image from a tarball (docker import) is not supported by ckptd',
        );
      }
      for (const k of ['repo', 'message', 'changes'] as const) {
        const v = firstValue(q[k]);
        if (v !== undefined && v !== '') {
          throw new InvalidArgumentError(
            `${k}: only used with fromSrc (docker import), which ckptd does not support`,
          );
        }
      }
      if (fromImage === undefined || fromImage === '') {
        throw new InvalidArgumentError('fromImage: an image to pull is required');
      }
      const tag = firstValue(q.tag);
      const platform = firstValue(q.platform);
      const creds = credentials(request);
      return runStreamed(request, reply, (sink) =>
        backend.pullImage({
          fromImage,
          ...(tag !== undefined ? { tag } : {}),
          ...(platform ? { platform } : {}),
          ...(creds ? { credentials: creds } : {}),
          signal: request.abortSignal,
          progress: sink,
        }),
      );
    },

    async postImagesPush(request, reply) {
      const q = request.query as Record<string, unknown>;
      const p = request.params as Record<string, string>;
      const name = p.name ?? [p.ns, p.repo, p.name2].filter((x) => x !== undefined).join('/');
      const platform = firstValue(q.platform);
      if (platform !== undefined && platform !== '') {
        throw new InvalidArgumentError(
          'platform: pushing one platform of an image is not supported by ckptd',
        );
      }
      const tag = firstValue(q.tag);
      const creds = credentials(request);
      return runStreamed(request, reply, (sink) =>
        backend.pushImage({
          name,
          ...(tag !== undefined ? { tag } : {}),
          ...(creds ? { credentials: creds } : {}),
          signal: request.abortSignal,
          progress: sink,
        }),
      );
    },

    async postAuth(request) {
      return backend.login(request.body ?? {}, request.abortSignal);
    },
  };
}
