/**
 * Connection and read limits of the HTTP listeners: a cap on open connections across every
 * listener, and a read timeout that cuts clients too slow to send their request. The timeout
 * bounds the headers (Node's headersTimeout) and the silence between body bytes while the
 * server is waiting for them; it is never a deadline on the whole request, so a 10 GiB
 * checkpoint import streams as long as bytes keep coming, and a handler that reads slowly
 * (backpressure) is never blamed on the client.
 */
import type http from 'node:http';
import type net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';

/** HttpLimits are the limits listen() enforces. */
export interface HttpLimits {
  /**
   * readTimeoutMs is how long a client may take to send a request's headers, and how long it
   * may stay silent while the server waits for body bytes; 408 (or a cut connection) beyond.
   */
  readTimeoutMs: number;
  /** maxConnections caps open connections over all listeners; beyond, new ones are closed. */
  maxConnections: number;
}

/** DEFAULT_READ_TIMEOUT_S is the default read timeout in seconds (Go's servers often use 30). */
export const DEFAULT_READ_TIMEOUT_S = 30;
/** DEFAULT_MAX_CONNECTIONS is the default connection cap. */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** DEFAULT_LIMITS are the limits listen() applies when given none. */
export const DEFAULT_LIMITS: HttpLimits = {
  readTimeoutMs: DEFAULT_READ_TIMEOUT_S * 1000,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
};

/** REFUSAL_LOG_INTERVAL_MS spaces the warnings about refused connections. */
const REFUSAL_LOG_INTERVAL_MS = 5000;

/**
 * serverTimeouts are the Node server options for a read timeout: headersTimeout is it, there
 * is no whole-request deadline (requestTimeout 0: event streams and long uploads), and Node
 * checks for late headers often enough to enforce it within a quarter of it.
 */
export function serverTimeouts(readTimeoutMs: number): http.ServerOptions {
  return {
    requestTimeout: 0,
    headersTimeout: readTimeoutMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(readTimeoutMs / 4))),
  };
}

/**
 * ConnectionLimiter counts the open connections of every listener it watches and closes any
 * new one beyond the cap, logging (at most every few seconds) how many it refused.
 */
export class ConnectionLimiter {
  #open = 0;
  #refused = 0;
  #lastLog = 0;

  constructor(
    private readonly max: number,
    private readonly logger: Logger,
  ) {}

  /** open is the number of open connections. */
  get open(): number {
    return this.#open;
  }

  /** watch counts `server`'s connections. */
  watch(server: http.Server): void {
    server.on('connection', (socket: net.Socket) => this.#admit(socket));
  }

  #admit(socket: net.Socket): void {
    if (this.#open >= this.max) {
      socket.destroy();
      this.#refused++;
      const now = Date.now();
      if (now - this.#lastLog >= REFUSAL_LOG_INTERVAL_MS) {
        this.logger.warn(
          { open: this.#open, maxConnections: this.max, refused: this.#refused },
          `connection refused: ${this.#open} connections open (max-connections ${this.max})`,
        );
        this.#lastLog = now;
        this.#refused = 0;
      }
      return;
    }
    this.#open++;
    socket.once('close', () => this.#open--);
  }
}

/**
 * watchRequestBody enforces the read timeout on one request's body. Every quarter of the
 * timeout it looks at the socket: bytes arrived, or the request's buffer is full (the handler
 * is the slow side), count as progress. Silence for the whole timeout while the server waits
 * ends the request: a 408 `{"message"}` with `Connection: close` if no response began, else
 * the connection is destroyed. A response that ends before the body was read closes the
 * connection rather than reading (and keeping) the rest.
 */
export function watchRequestBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  readTimeoutMs: number,
  logger: Logger,
  release?: MemoryRelease,
): void {
  const socket = req.socket;
  // req.socket is null once the response detached it (an early answer, e.g. a 507 while the
  // client still sends): the connection captured here is the one to close
  res.once('finish', () => {
    if (!req.complete) socket.destroySoon();
  });
  if (req.complete) return;
  const bytesAtStart = socket.bytesRead;
  res.once('close', () => {
    if (!req.complete) release?.abandoned(socket.bytesRead - bytesAtStart);
  });
  let lastBytes = socket.bytesRead;
  let lastProgress = Date.now();
  const tick = Math.max(25, Math.floor(readTimeoutMs / 4));
  const timer = setInterval(() => {
    if (req.complete || socket.destroyed) {
      stop();
      return;
    }
    const now = Date.now();
    if (socket.bytesRead !== lastBytes || req.readableLength >= req.readableHighWaterMark) {
      lastBytes = socket.bytesRead;
      lastProgress = now;
      return;
    }
    if (now - lastProgress < readTimeoutMs) return;
    stop();
    const seconds = readTimeoutMs / 1000;
    logger.warn(
      { method: req.method, url: req.url, bytesRead: socket.bytesRead, readTimeout: seconds },
      'request body timed out',
    );
    if (res.headersSent) {
      socket.destroy();
      return;
    }
    const message = `request body timed out: no data received for ${seconds}s (read-timeout)`;
    res.writeHead(408, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ message }));
  }, tick);
  timer.unref();
  const stop = () => clearInterval(timer);
  res.once('close', stop);
  req.once('end', stop);
}

/** RELEASE_THRESHOLD is how many bytes of abandoned request bodies warrant a collection. */
const RELEASE_THRESHOLD = 16 * 1024 * 1024;
/** RELEASE_DELAY_MS is the quiet time after the last abandoned body before collecting. */
const RELEASE_DELAY_MS = 1000;

/**
 * MemoryRelease gives the memory of abandoned request bodies back to the system. Bodies being
 * read are held in the V8 heap (body-policy.ts readBodyText); when clients leave mid-body,
 * nothing else may allocate enough to make V8 collect, and the process would keep its peak
 * size indefinitely. After at least RELEASE_THRESHOLD bytes of bodies were abandoned, one full
 * collection runs once things are quiet (V8 then unmaps the freed pages). A collection of
 * ckptd's small heap takes milliseconds, and it only follows abuse or mass disconnects.
 */
export class MemoryRelease {
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #gc: (() => void) | undefined = exposeGc();

  /** abandoned records a request that ended with `bytes` of its body read and the rest not. */
  abandoned(bytes: number): void {
    if (this.#gc === undefined) return;
    this.#pending += Math.max(0, bytes);
    if (this.#pending < RELEASE_THRESHOLD) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#pending = 0;
      this.#timer = undefined;
      this.#gc?.();
    }, RELEASE_DELAY_MS);
    this.#timer.unref();
  }
}

/** exposeGc returns V8's full collection (as `node --expose-gc` would), undefined if unavailable. */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
