/**
 * Long-lived response streams (events, later progress streams): headers first, then one item at
 * a time with backpressure, ending on source end, client disconnect or daemon shutdown.
 */
import { once } from 'node:events';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cutConnection, markClientGone, markCompleted } from './request-context.js';

const ABORTED = Symbol('aborted');

/**
 * streamJsonLines hijacks the reply, sends status 200 with `contentType` at once (Docker
 * clients wait for headers before reading), then writes each item of `source` as one JSON
 * line, honouring backpressure. It ends the response when `source` ends or `signal` aborts
 * (the client may already be gone). A source error after the headers can only cut the
 * connection: it is recorded for the request's log line and the socket destroyed.
 */
export async function streamJsonLines(
  request: FastifyRequest,
  reply: FastifyReply,
  source: AsyncIterable<unknown>,
  signal: AbortSignal,
  contentType = 'application/json',
): Promise<void> {
  const res = startResponse(reply, { 'content-type': contentType });
  res.flushHeaders();

  const aborted = new Promise<typeof ABORTED>((resolve) => {
    if (signal.aborted) resolve(ABORTED);
    else signal.addEventListener('abort', () => resolve(ABORTED), { once: true });
  });
  const it = source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      // Race each pull against the signal: a source parked on "no event yet" must not keep a
      // gone client's response open.
      const r = await Promise.race([it.next(), aborted]);
      if (r === ABORTED) break;
      if (r.done) {
        done = true;
        break;
      }
      if (res.destroyed) break;
      if (!res.write(`${JSON.stringify(r.value)}\n`)) {
        try {
          await once(res, 'drain', { signal });
        } catch (err) {
          if (signal.aborted) break;
          throw err;
        }
      }
    }
    if (!res.destroyed) res.end();
  } catch (err) {
    cutConnection(request, reply, err);
  } finally {
    // Let the source release what it holds. Not awaited: an async generator parked on a
    // pending next() only runs return() once that settles.
    if (!done) it.return?.().catch(() => undefined);
  }
}

/**
 * startResponse hijacks the reply and sends a 200 head with the reply's headers (Api-Version,
 * Server, ...) and `headers`; the body follows on the returned response.
 */
export function startResponse(reply: FastifyReply, headers: Record<string, string>): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) res.setHeader(name, value);
  }
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.writeHead(200);
  return res;
}

/** DirectBody is a response body that a host program writes straight into the connection. */
export interface DirectBody {
  /** socket is the connection, paused and in blocking mode: a program's stdout. */
  socket: Socket;
  /** end closes the connection; with an error the response is logged as cut by the server. */
  end(err?: unknown): void;
}

/** BROKEN_CONNECTION tells a program's failure to write into a connection its client closed. */
const BROKEN_CONNECTION = /SIGPIPE|EPIPE|ECONNRESET|Broken pipe|Connection reset by peer/;

interface StreamHandle {
  setBlocking?: (blocking: boolean) => number;
  fd?: number;
}

/**
 * openDirectBody hijacks the reply, writes a close-delimited HTTP/1.1 response head (200, no
 * Content-Length, no chunking, `Connection: close`) on the connection itself and hands the
 * connection over for a host program to write the body into: the bytes never pass through
 * Node, whose relaying of a pipe (allocating a buffer per read, collecting them) held archives
 * to a third of what the program produces. The socket is paused (Node reads nothing more
 * from it) and put in blocking mode, as a program expects of its stdout; end() closes it. A
 * client that leaves makes the program's write fail (EPIPE). Undefined when the connection
 * cannot be handed over: stream the body through Node then.
 */
export async function openDirectBody(
  request: FastifyRequest,
  reply: FastifyReply,
  headers: Record<string, string>,
): Promise<DirectBody | undefined> {
  const socket = reply.raw.socket;
  const handle = (socket as unknown as { _handle?: StreamHandle } | null)?._handle;
  if (!socket || socket.destroyed || typeof handle?.setBlocking !== 'function' || !((handle.fd ?? -1) >= 0)) {
    return undefined;
  }
  reply.hijack();
  reply.raw.statusCode = 200;
  const all: Record<string, unknown> = { ...reply.getHeaders(), ...headers };
  let head = `HTTP/1.1 200 ${STATUS_CODES[200] ?? 'OK'}\r\n`;
  for (const [name, value] of Object.entries(all)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) head += `${name}: ${String(one)}\r\n`;
  }
  head += `date: ${new Date().toUTCString()}\r\nconnection: close\r\n\r\n`;
  await new Promise<void>((resolve, reject) => socket.write(head, (err) => (err ? reject(err) : resolve())));
  socket.pause();
  handle.setBlocking(true);
  return {
    socket,
    end: (err?: unknown) => {
      if (err === undefined) markCompleted(request);
      else if (BROKEN_CONNECTION.test(err instanceof Error ? err.message : String(err))) {
        markClientGone(request);
      } else cutConnection(request, reply, err);
      socket.destroy();
    },
  };
}

/**
 * sendProgramOutput answers 200 with what `open` produces (host programs' output): written by
 * the programs straight into the connection when it can be handed over (openDirectBody), else
 * streamed through Node with backpressure. It resolves once the body is sent; a failure after
 * the head cuts the connection and rejects. The client leaving or `signal` stops the programs.
 */
export async function sendProgramOutput(
  request: FastifyRequest,
  reply: FastifyReply,
  headers: Record<string, string>,
  open: (stdout?: Socket) => Readable,
  signal: AbortSignal,
): Promise<void> {
  const direct = await openDirectBody(request, reply, headers);
  if (direct) {
    try {
      // the stream carries no data: it ends when the programs succeeded
      await pipeline(open(direct.socket), discard(), { signal });
    } catch (err) {
      direct.end(err);
      throw err;
    }
    direct.end();
    return;
  }
  const res = startResponse(reply, headers);
  try {
    await pipeline(open(), res, { signal });
  } catch (err) {
    cutConnection(request, reply, err);
    throw err;
  }
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}
