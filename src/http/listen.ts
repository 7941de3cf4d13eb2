/**
 * Serving the app on dockerd-style `-H` addresses: one Node http.Server per address, all
 * sharing the app's handler. Unix sockets are created root:<group> 0660 and are never
 * world-accessible, not even between bind() and chmod(): Node has no bind/listen split, so the
 * socket is born under a strict umask (go-connections `sockets.NewUnixSocket` does the same
 * with chmod between bind and listen).
 */
import { once } from 'node:events';
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConflictError, FailedPreconditionError, InvalidArgumentError } from '../errors/index.js';
import {
  ConnectionLimiter,
  DEFAULT_LIMITS,
  MemoryRelease,
  serverTimeouts,
  watchRequestBody,
  type HttpLimits,
} from './limits.js';
import { unixSocketPath, type ListenTarget } from './socket-activation.js';

/** SOCKET_MODE is the unix socket's final mode: owner and group read/write, nothing for others. */
export const SOCKET_MODE = 0o660;

/** BIND_UMASK is in force during the synchronous bind: the socket is born 0600. */
const BIND_UMASK = 0o177;

/** KEEP_ALIVE_TIMEOUT_MS is how long an idle keep-alive connection stays open (Fastify's default). */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** ListenOptions configure listen(). */
export interface ListenOptions {
  /** group owning unix sockets (name or gid); undefined = `docker` if it exists, else root. */
  group?: string;
  logger: Logger;
  /** group database to resolve names in (tests); default /etc/group. */
  groupFile?: string;
  /** read timeout and connection cap; default DEFAULT_LIMITS. */
  limits?: Partial<HttpLimits>;
}

/** Listener is what listen() returns. */
export interface Listener {
  /** addresses is a printable form of every address served. */
  readonly addresses: string[];
  /**
   * close stops accepting, closes idle keep-alive connections (and each one as soon as its
   * in-flight response ends) and resolves when every connection is gone. Long streams end
   * when the shutdown signal given to buildServer aborts them, or use closeAllConnections().
   */
  close(): Promise<void>;
  /** closeAllConnections destroys every connection now, in-flight or not. */
  closeAllConnections(): void;
}

/** SocketGroup is a resolved owning group. */
export interface SocketGroup {
  name: string;
  gid: number;
}

/**
 * resolveSocketGroup maps the configured group to a gid like dockerd: undefined means `docker`
 * when that group exists and root (gid 0) otherwise; a number is taken as a gid; an unknown
 * name is an error.
 */
export async function resolveSocketGroup(
  group: string | undefined,
  groupFile = '/etc/group',
): Promise<SocketGroup> {
  if (group !== undefined && /^\d+$/.test(group)) return { name: group, gid: Number(group) };
  let db = '';
  try {
    db = await readFile(groupFile, 'utf8');
  } catch (err) {
    if (group !== undefined)
      throw new InvalidArgumentError(`cannot read ${groupFile} to resolve group "${group}"`, { cause: err });
  }
  const wanted = group ?? 'docker';
  for (const line of db.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === wanted && gid !== undefined && /^\d+$/.test(gid)) return { name, gid: Number(gid) };
  }
  if (group !== undefined) throw new InvalidArgumentError(`group "${group}" not found in ${groupFile}`);
  return { name: 'root', gid: 0 };
}

/**
 * listen serves `app` on every address (one http.Server each; the app is made ready first).
 * If any address fails, the ones already bound are closed and the error is thrown.
 */
export async function listen(
  app: FastifyInstance,
  addresses: ListenTarget[],
  opts: ListenOptions,
): Promise<Listener> {
  if (addresses.length === 0) throw new InvalidArgumentError('no address to listen on');
  const needsGroup = addresses.some((a) => a.kind === 'unix');
  const group = needsGroup ? await resolveSocketGroup(opts.group, opts.groupFile) : undefined;
  await app.ready();

  let closing = false;
  const servers: http.Server[] = [];
  const printable: string[] = [];

  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const limiter = new ConnectionLimiter(limits.maxConnections, opts.logger);
  const release = new MemoryRelease();
  const makeServer = (): http.Server => {
    const server = http.createServer(serverTimeouts(limits.readTimeoutMs), (req, res) => {
      if (closing) res.setHeader('connection', 'close');
      watchRequestBody(req, res, limits.readTimeoutMs, opts.logger, release);
      // A response that was in flight when close() began leaves an idle connection behind.
      res.once('close', () => {
        if (closing) server.closeIdleConnections();
      });
      app.routing(req, res);
    });
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    limiter.watch(server);
    return server;
  };

  try {
    for (const addr of addresses) {
      const server = makeServer();
      servers.push(server);
      if (addr.kind === 'activated') {
        // bound by the service manager (ckptd.socket: its SocketMode=/SocketGroup= apply)
        await listenFd(server, addr.fd);
        const bound = server.address();
        const where =
          typeof bound === 'object' && bound !== null
            ? `tcp://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
            : unixSocketPath(addr.fd);
        printable.push(`fd://${addr.fd}`);
        opts.logger.info(
          { fd: addr.fd, name: addr.name, address: where },
          `API listen on fd ${addr.fd}${where ? ` (${where})` : ''}`,
        );
      } else if (addr.kind === 'unix') {
        await listenUnix(server, addr.path, group as SocketGroup);
        printable.push(`unix://${addr.path}`);
        opts.logger.info({ address: addr.path, group: group?.name }, `API listen on ${addr.path}`);
      } else {
        await listenTcp(server, addr.host, addr.port);
        const bound = server.address() as net.AddressInfo;
        const shown = `tcp://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
        printable.push(shown);
        opts.logger.warn(
          { address: shown },
          `Binding to ${shown} without TLS is insecure and gives root access on this machine to everyone who can reach it`,
        );
        opts.logger.info({ address: shown }, `API listen on ${shown}`);
      }
    }
  } catch (err) {
    await Promise.all(servers.filter((s) => s.listening).map((s) => closeServer(s)));
    throw err;
  }

  return {
    addresses: printable,
    async close() {
      closing = true;
      await Promise.all(servers.map((s) => closeServer(s)));
    },
    closeAllConnections() {
      for (const s of servers) s.closeAllConnections();
    },
  };
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    // libuv unlinks a unix socket's path when its server handle closes.
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

async function listenTcp(server: http.Server, host: string, port: number): Promise<void> {
  const listening = once(server, 'listening');
  server.listen({ host, port });
  await listening;
}

async function listenFd(server: http.Server, fd: number): Promise<void> {
  const listening = once(server, 'listening');
  server.listen({ fd });
  await listening;
}

async function listenUnix(server: http.Server, path: string, group: SocketGroup): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await removeStaleSocket(path);
  const listening = once(server, 'listening'); // rejects on 'error' (EADDRINUSE, EACCES...)
  // bind() runs synchronously inside listen(): only this window sees the strict umask, so no
  // other file the process creates meanwhile is affected.
  const previous = process.umask(BIND_UMASK);
  try {
    server.listen(path);
  } finally {
    process.umask(previous);
  }
  await listening;
  try {
    await chown(path, -1, group.gid);
    await chmod(path, SOCKET_MODE);
  } catch (err) {
    await closeServer(server);
    throw new FailedPreconditionError(
      `cannot set owner root:${group.name} and mode 0660 on ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * removeStaleSocket deletes a socket file left by a dead daemon; a live one (something accepts
 * a connection) or a path that is not a socket is an error, never deleted.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new FailedPreconditionError(`${path} exists and is not a socket`);
  if (await socketAnswers(path)) throw new ConflictError(`another daemon is listening on ${path}`);
  await unlink(path);
}

/** socketAnswers tells whether something accepts connections on a unix socket. */
function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.createConnection({ path });
    const done = (answers: boolean) => {
      sock.destroy();
      resolve(answers);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false)); // ECONNREFUSED: nobody home
    // A peer that neither accepts nor refuses (full backlog) is alive: do not delete its socket.
    sock.setTimeout(timeoutMs, () => done(true));
  });
}
