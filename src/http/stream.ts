/**
 * Long-lived response streams (events, later progress streams): headers first, then one item at
 * a time with backpressure, ending on source end, client disconnect or daemon shutdown.
 */
import { once } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cutConnection } from './request-context.js';

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
  reply.hijack();
  const res = reply.raw;
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) res.setHeader(name, value);
  }
  res.setHeader('content-type', contentType);
  res.writeHead(200);
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
