/**
 * Error replies in dockerd's shape: `{"message": "..."}` with the status moby's
 * `httpstatus.FromError` would pick. Mirrors moby `daemon/server/httputils/errors.go`.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { httpStatusOf, isEngineError, isNoSpace, withNoSpaceText } from '../errors/index.js';
import { requestedApiVersion, supportsJsonErrors } from './api-version.js';
import { routeName } from './body-policy.js';
import { isClientGone, recordError } from './request-context.js';

/** HttpError is what an error becomes on the wire. */
export interface HttpError {
  status: number;
  message: string;
}

/** PAGE_NOT_FOUND is dockerd's body text for unknown paths and methods. */
export const PAGE_NOT_FOUND = 'page not found';

/**
 * toHttpError maps any thrown value to a status and message: EngineError by kind, Fastify's
 * validation and body errors to 400/413/415, a cancellation whose client is still there
 * (daemon shutdown) to 503, anything else to 500 with its message (as dockerd does).
 */
export function toHttpError(err: unknown, request?: FastifyRequest): HttpError {
  if (isEngineError(err)) {
    // A live client only sees a cancellation when the daemon is going away: retryable.
    if (err.kind === 'Cancelled') return { status: 503, message: err.message };
    // a full disk an inner layer wrapped as an internal failure (a CRIU or tar stderr, an
    // ENOSPC kept as cause): 507, as the typed NoSpaceError
    if (err.kind === 'Internal' && isNoSpace(err))
      return { status: 507, message: withNoSpaceText(err.message) };
    return { status: httpStatusOf(err), message: err.message };
  }
  const e = err as Partial<FastifyError> & { name?: string };
  if (e?.name === 'AbortError' && request?.abortSignal.aborted) {
    const reason: unknown = request.abortSignal.reason;
    return { status: 503, message: reason instanceof Error ? reason.message : 'request cancelled' };
  }
  if (e?.validation) return { status: 400, message: `invalid request: ${e.message}` };
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const route = request?.routeOptions;
    const limit =
      request && route?.url !== undefined
        ? `: ${routeName(request.method, route.url)} accepts at most ${route.bodyLimit} bytes`
        : '';
    return { status: 413, message: `request body is too large${limit}` };
  }
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return { status: 415, message: e.message ?? 'unsupported media type' };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, message: e.message ?? 'bad request' };
  }
  const message = err instanceof Error ? err.message : String(err);
  if (isNoSpace(err)) return { status: 507, message: withNoSpaceText(message) };
  return { status: 500, message };
}

/**
 * errorHandler is the app-wide Fastify error handler. When the client is already gone it
 * writes nothing (the completion line logs 499); otherwise it replies like dockerd: JSON
 * `{"message"}`, plain text for API <= 1.23, no body for 304.
 */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  recordError(request, err);
  if (isClientGone(request) || reply.raw.destroyed) {
    reply.hijack();
    if (!reply.raw.destroyed) reply.raw.destroy();
    return;
  }
  const { status, message } = toHttpError(err, request);
  reply.code(status);
  if (status === 304) {
    void reply.send();
    return;
  }
  if (!supportsJsonErrors(requestedApiVersion(request.raw))) {
    void reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('x-content-type-options', 'nosniff')
      .send(`${message}\n`);
    return;
  }
  // Exactly `application/json`: the docker CLI only decodes `{"message"}` when the header is
  // that string (docker/client errors.go), and prints the raw body otherwise. A Buffer, because
  // Fastify appends `; charset=utf-8` to string payloads.
  void reply.header('content-type', 'application/json').send(Buffer.from(JSON.stringify({ message })));
}

/** notFoundHandler answers unknown paths and methods like dockerd: 404 `page not found`. */
export function notFoundHandler(_request: FastifyRequest, reply: FastifyReply): void {
  void reply
    .code(404)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ message: PAGE_NOT_FOUND })));
}
