/**
 * Per-request state every route shares: the negotiated API version, an AbortSignal that fires
 * when the client goes away or the daemon shuts down, and the single completion log line.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CancelledError } from '../errors/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** apiVersion is the API version the request asked for (`/v1.NN/` prefix), else API_VERSION. */
    apiVersion: string;
    /**
     * abortSignal aborts when the client disconnects before the response completes or the
     * daemon shuts down; its reason is a CancelledError. Pass it to every backend call.
     * (Fastify's own `request.signal` only tracks the client.)
     */
    abortSignal: AbortSignal;
  }
}

interface RequestState {
  clientGone: boolean;
  /** a direct body (see stream.ts) was sent whole: the connection's close is its normal end. */
  completed: boolean;
  /** the server cut the connection after the headers (a stream source failed). */
  cutByServer: boolean;
  error: unknown;
  logged: boolean;
}

const states = new WeakMap<FastifyRequest, RequestState>();

/** CLIENT_CLOSED_REQUEST is the status logged when the client left first (nginx's and moby's 499). */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * trackRequest sets up `request.abortSignal` and arranges one pino line when the response
 * finishes or the connection closes first. Call it once per request, as early as possible.
 */
export function trackRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  shutdownSignal?: AbortSignal,
  forceSignal?: AbortSignal,
): void {
  if (states.has(request)) return;
  const state: RequestState = {
    clientGone: false,
    completed: false,
    cutByServer: false,
    error: undefined,
    logged: false,
  };
  states.set(request, state);

  const ac = new AbortController();
  request.abortSignal = ac.signal;
  // Shutdown comes in two steps: `shutdownSignal` ends long streams (responses whose headers
  // already went out, hijacked attach/exec streams); short requests still running then get
  // until `forceSignal` to finish. One listener per request on each long-lived signal, removed
  // when the request ends (AbortSignal.any would hold a reference per request until then).
  const abortNow = () => ac.abort(new CancelledError('daemon is shutting down'));
  const onShutdown = () => {
    if (reply.raw.headersSent || reply.sent) abortNow();
    else if (forceSignal?.aborted) abortNow();
    else forceSignal?.addEventListener('abort', abortNow, { once: true });
  };
  if (shutdownSignal?.aborted) onShutdown();
  else shutdownSignal?.addEventListener('abort', onShutdown, { once: true });
  const detach = () => {
    shutdownSignal?.removeEventListener('abort', onShutdown);
    forceSignal?.removeEventListener('abort', abortNow);
  };

  const res = reply.raw;
  let finished = false;
  res.once('finish', () => {
    finished = true;
    detach();
    logCompletion(request, reply, state);
  });
  res.once('close', () => {
    detach();
    if (finished) return;
    if (state.completed) {
      logCompletion(request, reply, state);
      return;
    }
    if (state.cutByServer) {
      ac.abort(new CancelledError('response failed'));
    } else {
      state.clientGone = true;
      ac.abort(new CancelledError('client disconnected'));
    }
    logCompletion(request, reply, state);
  });
}

/** recordError keeps a request's error for its completion log line. */
export function recordError(request: FastifyRequest, err: unknown): void {
  const state = states.get(request);
  if (state && state.error === undefined) state.error = err;
}

/**
 * cutConnection records a failure that happened after the headers went out and destroys the
 * connection: the only way left to tell the client the response is incomplete.
 */
export function cutConnection(request: FastifyRequest, reply: FastifyReply, err: unknown): void {
  const state = states.get(request);
  if (state && !state.clientGone) {
    state.cutByServer = true;
    recordError(request, err);
  }
  reply.raw.destroy();
}

/**
 * markCompleted records that a response written outside Node's HTTP writer (a close-delimited
 * direct body) is complete: closing the connection is its normal end, logged as a success.
 */
export function markCompleted(request: FastifyRequest): void {
  const state = states.get(request);
  if (state) state.completed = true;
}

/**
 * markClientGone records that the client left while a direct body was being written (the
 * program writing it hit a broken connection): logged as the client's doing (499), not an error.
 */
export function markClientGone(request: FastifyRequest): void {
  const state = states.get(request);
  if (state) state.clientGone = true;
}

/** isClientGone tells whether the client closed the connection before the response completed. */
export function isClientGone(request: FastifyRequest): boolean {
  return states.get(request)?.clientGone ?? false;
}

function logCompletion(request: FastifyRequest, reply: FastifyReply, state: RequestState): void {
  if (state.logged) return;
  state.logged = true;
  const res = reply.raw;
  // Headers already out (a stream the client left): log what the client saw, flagged.
  const status = state.clientGone && !res.headersSent ? CLIENT_CLOSED_REQUEST : res.statusCode;
  const line: Record<string, unknown> = {
    method: request.method,
    route: request.routeOptions.url ?? null,
    url: request.originalUrl,
    status,
    durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
  };
  if (state.clientGone) line.clientGone = true;
  const streamFailed = state.cutByServer;
  if (state.error !== undefined) {
    if (status >= 500 || streamFailed) line.err = state.error;
    else line.error = state.error instanceof Error ? state.error.message : String(state.error);
  }
  if (status >= 500) request.log.error(line, 'request completed');
  else if (streamFailed) request.log.error(line, 'request failed after headers were sent');
  else request.log.info(line, 'request completed');
}
