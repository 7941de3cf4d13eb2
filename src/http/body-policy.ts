/**
 * What each route does with a request body, decided per route (ROUTE_BODIES):
 * - `none`: the route takes no body. An empty body passes. So does a small JSON body that only
 *   repeats the query (dockerode/docker-modem sends `JSON.stringify(opts)` as the body of every
 *   POST whose options it also puts in the query: `{}` for start, `{"t":10}` for stop); so do
 *   `null` and `{}`. Anything else is refused with a 400 naming the route, a large one without
 *   being read (Content-Length beyond NO_BODY_MAX). dockerd reads none of these bodies; its
 *   own start refuses bodies of more than 7 bytes on API >= 1.24.
 * - `json`: parsed as JSON, capped by the app's bodyLimit (413 beyond, unread when the
 *   Content-Length already says so). A body of another Content-Type is refused as moby's
 *   `httputils.CheckForJSON` does; a body without Content-Type is decoded as JSON like moby.
 * - `stream`: handed to the handler unread (`request.body` / `request.raw`) with backpressure:
 *   image load, archive PUT, checkpoint import.
 * Slow bodies of every kind are cut by listen.ts's read timeout; a response that ends before
 * its request body was read closes the connection (the rest is never read).
 */
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { InvalidArgumentError } from '../errors/index.js';
import { parseBool } from './params.js';
import { UNSUPPORTED_ROUTE_KEYS } from './routes/unsupported.routes.js';

/** BodyKind is what a route does with a request body. */
export type BodyKind = 'none' | 'json' | 'stream';

/** BodyPolicy is a route's kind, or a choice made from the request's query. */
export type BodyPolicy = BodyKind | ((query: Record<string, unknown>) => BodyKind);

/**
 * ROUTE_BODIES decides every route's body, keyed `METHOD url` with Fastify's url. A route
 * missing here keeps the parsers' defaults (JSON parsed and capped, other types streamed); a
 * unit test requires every route of the daemon to be listed.
 */
export const ROUTE_BODIES: Readonly<Record<string, BodyPolicy>> = {
  // system
  'GET /_ping': 'none',
  'HEAD /_ping': 'none',
  'GET /version': 'none',
  'GET /info': 'none',
  'GET /events': 'none',
  'GET /openapi.json': 'none',
  // containers
  'GET /containers/json': 'none',
  'GET /containers/:id/json': 'none',
  'POST /containers/create': 'json',
  'POST /containers/:id/update': 'json',
  'POST /containers/:id/start': 'none',
  'POST /containers/:id/stop': 'none',
  'POST /containers/:id/restart': 'none',
  'POST /containers/:id/kill': 'none',
  'POST /containers/:id/wait': 'none',
  'POST /containers/:id/pause': 'none',
  'POST /containers/:id/unpause': 'none',
  'POST /containers/prune': 'none',
  'POST /containers/:id/rename': 'none',
  'GET /containers/:id/top': 'none',
  'GET /containers/:id/stats': 'none',
  'DELETE /containers/:id': 'none',
  // volumes
  'GET /volumes': 'none',
  'POST /volumes/create': 'json',
  'POST /volumes/prune': 'none',
  'GET /volumes/:name': 'none',
  'DELETE /volumes/:name': 'none',
  // container IO (attach and exec start hijack the connection after the request)
  'GET /containers/:id/logs': 'none',
  'POST /containers/:id/attach': 'none',
  'POST /containers/:id/resize': 'none',
  'POST /containers/:id/exec': 'json',
  'POST /exec/:id/start': 'json',
  'POST /exec/:id/resize': 'none',
  'GET /exec/:id/json': 'none',
  // archives
  'HEAD /containers/:id/archive': 'none',
  'GET /containers/:id/archive': 'none',
  'PUT /containers/:id/archive': 'stream',
  'GET /images/get': 'none',
  'GET /images/:name/get': 'none',
  'GET /images/:ns/:repo/get': 'none',
  'GET /images/:ns/:repo/:name2/get': 'none',
  // images
  'GET /images/json': 'none',
  'POST /images/load': 'stream',
  'POST /images/create': 'none',
  'POST /images/:name/push': 'none',
  'POST /images/:ns/:repo/push': 'none',
  'POST /images/:ns/:repo/:name2/push': 'none',
  'POST /auth': 'json',
  'POST /images/prune': 'none',
  'GET /images/:name/json': 'none',
  'GET /images/:name/history': 'none',
  'POST /images/:name/tag': 'none',
  'DELETE /images/:name': 'none',
  'GET /images/*': 'none',
  'POST /images/*': 'none',
  'DELETE /images/*': 'none',
  // commit, changes, export
  'POST /commit': 'json',
  'POST /containers/:id/commit': 'json',
  'GET /containers/:id/changes': 'none',
  'GET /containers/:id/export': 'none',
  // checkpoint and restore
  'POST /containers/:id/checkpoints': 'json',
  'GET /containers/:id/checkpoints': 'none',
  'DELETE /containers/:id/checkpoints/:checkpoint': 'none',
  'POST /containers/:id/checkpoint': 'none',
  'POST /containers/:id/restore': (query) => (parseBool(query.import) ? 'stream' : 'none'),
  // networks and disk usage
  'GET /networks': 'none',
  'POST /networks/create': 'json',
  'POST /networks/prune': 'none',
  'GET /networks/:id': 'none',
  'POST /networks/:id/connect': 'json',
  'POST /networks/:id/disconnect': 'json',
  'DELETE /networks/:id': 'none',
  'GET /system/df': 'none',
  // refused Docker routes (unsupported.routes.ts): bodies are never read
  ...Object.fromEntries(UNSUPPORTED_ROUTE_KEYS.map((k) => [k, 'stream' as const])),
};

/** NO_BODY_MAX is the largest body a `none` route reads to check it repeats the query. */
export const NO_BODY_MAX = 64 * 1024;

/** routeKey is a route's ROUTE_BODIES key. */
export function routeKey(method: string, url: string): string {
  return `${method} ${url}`;
}

/** routeName shows a route like the API reference: `POST /containers/{id}/start`. */
export function routeName(method: string, url: string): string {
  return `${method} ${url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{name}')}`;
}

/** bodyKindOf is the body kind of a request's route, undefined for a route not in ROUTE_BODIES. */
export function bodyKindOf(
  method: string,
  url: string,
  query: Record<string, unknown>,
): BodyKind | undefined {
  const policy = ROUTE_BODIES[routeKey(method, url)];
  return typeof policy === 'function' ? policy(query) : policy;
}

/** hasBody tells whether a request announces a body (a non-zero Content-Length or chunks). */
export function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const cl = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (cl !== undefined && Number(cl) !== 0);
}

/**
 * ignorableBodyProblem returns why `text`, the body of a route that takes none, is refused, or
 * undefined when it says nothing: blank, `null`, or a JSON object each of whose members is
 * also the query parameter of that name with the same value (objects compared as JSON, as
 * docker-modem serialises them into the query).
 */
export function ignorableBodyProblem(text: string, query: Record<string, unknown>): string | undefined {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the body is not JSON';
  }
  if (value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return 'the body is not a JSON object';
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const q = query[key];
    if (q === undefined) return `body field "${key}" is not a query parameter`;
    const want = typeof v === 'object' && v !== null ? JSON.stringify(v) : v === null ? '' : String(v);
    const got = Array.isArray(q) ? q : [q];
    if (got.length !== 1 || got[0] !== want)
      return `body field "${key}" differs from query parameter "${key}"`;
  }
  return undefined;
}

/** noBodyError is the 400 a `none` route answers to a body. */
function noBodyError(request: FastifyRequest, why: string): InvalidArgumentError {
  const name = routeName(request.method, request.routeOptions.url ?? request.url);
  return new InvalidArgumentError(
    `${name} takes no request body (${why}); send its options as query parameters`,
  );
}

/** readSmall reads a whole stream of at most `max` bytes, or undefined when it is longer. */
async function readSmall(payload: Readable, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > max) return undefined;
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/**
 * readBodyText reads a whole body as UTF-8 text of at most `limit` bytes, checking it against
 * the announced Content-Length. The text accumulates as V8 strings, not as a list of Buffers:
 * buffers are malloc'd and a hundred clients each holding a megabyte would leave the C heap
 * fragmented (RSS kept) after they leave, while V8 returns its pages once the strings die.
 * Errors are Fastify's (413 too large, 400 length mismatch); reading stops without destroying
 * the request, so the error can still be answered.
 */
export function readBodyText(payload: Readable, limit: number, contentLength: number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (contentLength > limit) {
      reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    const decoder = new StringDecoder('utf8');
    let text = '';
    let received = 0;
    const cleanup = () => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += buf.length;
      if (received > limit) {
        cleanup();
        payload.pause();
        reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
        return;
      }
      text += decoder.write(buf);
    };
    const onEnd = () => {
      cleanup();
      // A preParsing stream that consumed the body says how much it read.
      const { receivedEncodedLength } = payload as { receivedEncodedLength?: number };
      if (!Number.isNaN(contentLength) && (receivedEncodedLength ?? received) !== contentLength) {
        reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        return;
      }
      resolve(text + decoder.end());
    };
    const onError = (err: Error & { statusCode?: number }) => {
      cleanup();
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      reject(err);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
  });
}

/** isJsonType tells whether a Content-Type is `application/json` (parameters allowed), as moby checks. */
function isJsonType(ct: string): boolean {
  return (ct.split(';')[0] ?? '').trim().toLowerCase() === 'application/json';
}

/**
 * installBodyPolicy enforces ROUTE_BODIES before any body is parsed (a preParsing hook), and
 * makes a response that ends before its request body was read close the connection.
 */
export function installBodyPolicy(app: FastifyInstance): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    const url = request.routeOptions.url;
    if (url === undefined || !hasBody(request.headers)) return payload; // 404s: closed below
    const kind = bodyKindOf(request.method, url, request.query as Record<string, unknown>);
    if (kind === undefined || kind === 'stream') return payload;
    const ct = request.headers['content-type'];
    if (kind === 'json') {
      if (ct === undefined || ct.trim() === '') request.headers['content-type'] = 'application/json';
      else if (!isJsonType(ct))
        throw new InvalidArgumentError(`unsupported Content-Type header (${ct}): must be 'application/json'`);
      return payload;
    }
    const cl = request.headers['content-length'];
    if (cl !== undefined && Number(cl) > NO_BODY_MAX) throw noBodyError(request, `${cl} bytes sent`);
    const body = await readSmall(payload, NO_BODY_MAX);
    if (body === undefined) throw noBodyError(request, `more than ${NO_BODY_MAX} bytes sent`);
    const why = ignorableBodyProblem(body.toString('utf8'), request.query as Record<string, unknown>);
    if (why !== undefined) throw noBodyError(request, why);
    // The parser that runs next sees an empty body of the announced length.
    return Object.assign(Readable.from([]), { receivedEncodedLength: body.length });
  });
  app.addHook('onSend', async (request, reply) => {
    if (!request.raw.complete) void reply.header('connection', 'close');
  });
}
