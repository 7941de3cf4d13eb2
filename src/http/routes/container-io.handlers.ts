/**
 * Handlers of the container IO routes (moby `router/container/container_routes.go`
 * `getContainersLogs`, `postContainersAttach`, `postContainersResize`, and
 * `router/container/exec.go`). Attach and exec start hijack the connection as dockerd does:
 * the server's HTTP parser lets go of the socket, which then carries output (framed unless
 * TTY) one way and the client's stdin the other.
 */
import { once } from 'node:events';
import type net from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AttachSession, ContainerIOBackend } from '../../engine/io/container-io.js';
import { execStartFailureMessage, type ExecBackend, type ExecConfig } from '../../engine/io/exec.js';
import { formatRFC3339NanoFixed } from '../../engine/io/json-log.js';
import { encodeFrames } from '../../engine/io/mux.js';
import { InvalidArgumentError } from '../../errors/index.js';
import { firstValue, parseBool, parseTimestamp, type QueryValue } from '../params.js';
import { recordError } from '../request-context.js';
import { startResponse } from '../stream.js';

/** MEDIA_TYPE_RAW_STREAM is a TTY's (or pre-1.42 clients') stream content type. */
export const MEDIA_TYPE_RAW_STREAM = 'application/vnd.docker.raw-stream';
/** MEDIA_TYPE_MULTIPLEXED_STREAM is the content type of stdcopy-framed streams (API >= 1.42). */
export const MEDIA_TYPE_MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** streamContentType is dockerd's choice: multiplexed only for non-TTY output on API >= 1.42. */
export function streamContentType(tty: boolean, apiVersion: string): string {
  const [maj = 0, min = 0] = apiVersion.split('.').map(Number);
  const atLeast142 = maj > 1 || (maj === 1 && min >= 42);
  return !tty && atLeast142 ? MEDIA_TYPE_MULTIPLEXED_STREAM : MEDIA_TYPE_RAW_STREAM;
}

/** ContainerIoHandlers are the route handlers the container IO route table points at. */
export interface ContainerIoHandlers {
  getContainersLogs(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersAttach(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainersResize(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainerExecCreate(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  postContainerExecStart(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  postContainerExecResize(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  getExecByID(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

type Query = Record<string, QueryValue>;
type IdParams = { id: string };

function parseTail(v: unknown): number | 'all' {
  const s = firstValue(v);
  if (s === undefined || s === '' || s === 'all') return 'all';
  const n = Number(s);
  // dockerd: a tail that is not a number means all
  return Number.isInteger(n) && n >= 0 ? n : 'all';
}

function parseSize(v: unknown, name: string): number {
  const s = firstValue(v) ?? '';
  const n = Number(s);
  if (s === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`invalid ${name === 'h' ? 'height' : 'width'}: ${JSON.stringify(s)}`);
  }
  return n;
}

function wantsUpgrade(request: FastifyRequest): boolean {
  const conn = String(request.headers.connection ?? '').toLowerCase();
  return conn.split(',').some((t) => t.trim() === 'upgrade') && request.headers.upgrade !== undefined;
}

/**
 * hijack takes the connection from the HTTP server (its data/end listeners would parse stdin
 * as requests and end the socket on the client's half-close) and writes dockerd's answer:
 * `101 UPGRADED` for an upgrade request, else `200 OK`, with the content type and the
 * Docker headers the reply carries.
 */
function hijack(request: FastifyRequest, reply: FastifyReply, contentType: string): net.Socket {
  reply.hijack();
  const socket = request.raw.socket;
  for (const event of ['data', 'end'] as const) {
    for (const l of socket.listeners(event)) {
      if (/socketOn(Data|End)/.test(l.name)) socket.removeListener(event, l as (...a: unknown[]) => void);
    }
  }
  const upgrade = wantsUpgrade(request);
  const lines = [upgrade ? 'HTTP/1.1 101 UPGRADED' : 'HTTP/1.1 200 OK', `Content-Type: ${contentType}`];
  if (upgrade) lines.push('Connection: Upgrade', 'Upgrade: tcp');
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined && name !== 'content-type' && name !== 'connection')
      lines.push(`${name}: ${String(value)}`);
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  // The request log line: the status the client saw.
  reply.raw.statusCode = upgrade ? 101 : 200;
  return socket;
}

/**
 * pumpSession copies a session's output to the socket (framed unless TTY, with backpressure)
 * and the socket's input to the session's stdin, then closes the connection when the output
 * ends. A client that leaves stops both.
 */
async function pumpSession(
  request: FastifyRequest,
  socket: net.Socket,
  session: AttachSession,
  hold?: () => void,
): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  socket.once('close', stop);
  request.abortSignal.addEventListener('abort', stop, { once: true });
  if (socket.destroyed || request.abortSignal.aborted) stop(); // gone before the session began
  socket.on('error', (err) => recordError(request, err));
  const signal = ac.signal;
  const stdin = session.stdin;
  if (stdin) {
    void (async () => {
      for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
        await stdin.write(chunk as Buffer, signal);
      }
      stdin.end();
    })().catch(() => undefined);
  }
  if (hold) {
    // The reader above (if any) is listening now: release the socket held since the hijack.
    socket.off('readable', hold);
    if (!stdin) socket.resume(); // input nobody takes is dropped; the client's close is seen
  }
  const it = session.output[Symbol.asyncIterator]();
  const aborted = new Promise<'aborted'>((r) => {
    if (signal.aborted) r('aborted');
    else signal.addEventListener('abort', () => r('aborted'), { once: true });
  });
  try {
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next === 'aborted' || next.done) break;
      const { stream, data } = next.value;
      const bufs = session.tty ? [data] : encodeFrames(stream, data);
      let ok = true;
      for (const b of bufs) ok = socket.write(b) && ok;
      if (!ok) await once(socket, 'drain', { signal });
    }
  } catch (err) {
    if (!signal.aborted) recordError(request, err);
  } finally {
    void it.return?.(undefined)?.catch(() => undefined);
    socket.off('close', stop);
    request.abortSignal.removeEventListener('abort', stop);
    if (!socket.destroyed) socket.end();
    // After a half-close by the client, end() alone would leave the socket open until it closes.
    socket.once('finish', () => socket.destroySoon());
  }
}

/** containerIoHandlers binds the container IO handlers to their backends. */
export function containerIoHandlers(io: ContainerIOBackend, exec: ExecBackend): ContainerIoHandlers {
  return {
    async getContainersLogs(request, reply) {
      const { id } = request.params as IdParams;
      const q = request.query as Query;
      const sinceNano = parseTimestamp(q.since, 'since');
      const untilNano = parseTimestamp(q.until, 'until');
      const timestamps = parseBool(q.timestamps);
      // moby writeLogStream: details puts the line's attributes (`k=v,...`) and a space first;
      // ckptd's logs carry no attributes (no labels/env log options), so the prefix is a space
      const details = parseBool(q.details);
      const signal = request.abortSignal;
      const { tty, entries } = await io.logs(
        id,
        {
          follow: parseBool(q.follow),
          stdout: parseBool(q.stdout),
          stderr: parseBool(q.stderr),
          tail: parseTail(q.tail),
          ...(sinceNano !== undefined ? { sinceNano } : {}),
          ...(untilNano !== undefined ? { untilNano } : {}),
        },
        signal,
      );
      const res = startResponse(reply, { 'content-type': streamContentType(tty, request.apiVersion) });
      res.flushHeaders();
      const it = entries[Symbol.asyncIterator]();
      const aborted = new Promise<'aborted'>((r) => {
        if (signal.aborted) r('aborted');
        else signal.addEventListener('abort', () => r('aborted'), { once: true });
      });
      try {
        for (;;) {
          const next = await Promise.race([it.next(), aborted]);
          if (next === 'aborted' || next.done) break;
          const e = next.value;
          let data = Buffer.from(e.log);
          if (details) data = Buffer.concat([Buffer.from(' '), data]);
          if (timestamps) data = Buffer.concat([Buffer.from(`${formatRFC3339NanoFixed(e.timeNano)} `), data]);
          const bufs = tty ? [data] : encodeFrames(e.stream, data);
          let ok = true;
          for (const b of bufs) ok = res.write(b) && ok;
          if (!ok) await once(res, 'drain', { signal });
        }
        if (!res.destroyed) res.end();
      } catch (err) {
        if (!signal.aborted) {
          recordError(request, err);
          res.destroy();
        }
      } finally {
        void it.return?.(undefined)?.catch(() => undefined);
      }
    },

    async postContainersAttach(request, reply) {
      const { id } = request.params as IdParams;
      const q = request.query as Query;
      const session = await io.attach(
        id,
        {
          stream: parseBool(q.stream),
          logs: parseBool(q.logs),
          stdin: parseBool(q.stdin),
          stdout: parseBool(q.stdout),
          stderr: parseBool(q.stderr),
        },
        request.abortSignal,
      );
      const socket = hijack(request, reply, streamContentType(session.tty, request.apiVersion));
      await pumpSession(request, socket, session);
    },

    async postContainersResize(request, reply) {
      const { id } = request.params as IdParams;
      const q = request.query as Query;
      await io.resize(id, parseSize(q.h, 'h'), parseSize(q.w, 'w'), request.abortSignal);
      await reply.code(200).send();
    },

    async postContainerExecCreate(request, reply) {
      const { id } = request.params as IdParams;
      const body = (request.body ?? {}) as ExecConfig;
      if (typeof body !== 'object' || Array.isArray(body))
        throw new InvalidArgumentError('invalid exec config');
      const execId = await exec.execCreate(id, body, request.abortSignal);
      void reply.code(201);
      return { Id: execId };
    },

    async postContainerExecStart(request, reply) {
      const { id } = request.params as IdParams;
      const body = (request.body ?? {}) as { Detach?: unknown; Tty?: unknown; ConsoleSize?: unknown };
      const detach = body.Detach === true;
      const tty = typeof body.Tty === 'boolean' ? body.Tty : undefined;
      // moby: a start ConsoleSize counts only with Tty; it overrides the create's
      const size = body.ConsoleSize;
      const consoleSize =
        tty === true &&
        Array.isArray(size) &&
        size.length === 2 &&
        size.every((n) => Number.isInteger(n) && (n as number) >= 0)
          ? (size as [number, number])
          : undefined;
      const pending = await exec.execStart(
        id,
        { detach, ...(tty !== undefined ? { tty } : {}), ...(consoleSize ? { consoleSize } : {}) },
        request.abortSignal,
      );
      if (!pending) {
        await reply.code(200).send();
        return;
      }
      // As dockerd: the response head goes out before the process starts, and a process that
      // cannot start is reported in the stream (its exit code, 126, in GET /exec/{id}/json).
      const socket = hijack(request, reply, streamContentType(pending.tty, request.apiVersion));
      // Hold the client's stdin in the socket until the process can take it (pumpSession). A
      // 'readable' listener, not pause(): it also takes the socket from the HTTP parser, which
      // would otherwise go on consuming the connection's bytes as requests.
      const hold = (): void => undefined;
      socket.on('readable', hold);
      let session: AttachSession;
      try {
        session = await pending.start();
      } catch (err) {
        recordError(request, err);
        const text = Buffer.from(`${execStartFailureMessage(err)}\r\n`);
        if (!socket.destroyed) {
          for (const b of pending.tty ? [text] : encodeFrames('stdout', text)) socket.write(b);
          socket.end();
          socket.once('finish', () => socket.destroySoon());
        }
        return;
      }
      await pumpSession(request, socket, session, hold);
    },

    async postContainerExecResize(request, reply) {
      const { id } = request.params as IdParams;
      const q = request.query as Query;
      await exec.execResize(id, parseSize(q.h, 'h'), parseSize(q.w, 'w'));
      await reply.code(200).send();
    },

    async getExecByID(request) {
      const { id } = request.params as IdParams;
      return exec.execInspect(id);
    },
  };
}
