import * as grpc from '@grpc/grpc-js';
import { CancelledError, type EngineError } from '../errors/index.js';
import { fromGrpcError } from './errors.js';

/**
 * CallContext travels with every containerd call, like Go's context.Context in containerd's
 * client: the namespace and lease go out as gRPC metadata, the deadline becomes the gRPC
 * deadline and aborting the signal cancels the call.
 */
export interface CallContext {
  /** namespace overrides the client's default `containerd-namespace`. */
  namespace?: string;
  /** lease is sent as `containerd-lease`: resources created by the call are held by it. */
  lease?: string;
  /** signal cancels the call (`call.cancel()`); the call then rejects with CancelledError. */
  signal?: AbortSignal;
  /** deadlineMs is relative; unary calls default to DEFAULT_UNARY_DEADLINE_MS, streams to none. */
  deadlineMs?: number;
}

/** DEFAULT_UNARY_DEADLINE_MS bounds a unary call when the context names no deadline. */
export const DEFAULT_UNARY_DEADLINE_MS = 30_000;

/** MAX_MESSAGE_BYTES is containerd's default gRPC message limit (16 MiB) both ways. */
export const MAX_MESSAGE_BYTES = 16 << 20;

/** NAMESPACE_METADATA_KEY is the gRPC metadata key containerd reads the namespace from. */
export const NAMESPACE_METADATA_KEY = 'containerd-namespace';

/** LEASE_METADATA_KEY is the gRPC metadata key containerd reads the lease from. */
export const LEASE_METADATA_KEY = 'containerd-lease';

/**
 * RpcMethod is the part of a generated MethodDefinition a call needs: path and codecs. The
 * generated `<Service>Definition` members satisfy it, which is what types requests and replies.
 */
export interface RpcMethod<Req, Res> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: Req) => Buffer;
  responseDeserialize: (bytes: Buffer) => Res;
}

/** UnaryOptions marks how a unary call is bounded. */
export interface UnaryOptions {
  /** longRunning drops the default deadline (the call may block until something happens). */
  longRunning?: boolean;
}

/** ConnectionOptions tunes a Connection; the defaults suit a local containerd socket. */
export interface ConnectionOptions {
  /** defaultDeadlineMs applies to unary calls whose context has no deadlineMs. */
  defaultDeadlineMs?: number;
  /** channelOptions are merged over CHANNEL_OPTIONS. */
  channelOptions?: grpc.ChannelOptions;
}

/** FLOW_CONTROL_WINDOW_BYTES is the HTTP/2 receive window ckptd asks of containerd. */
export const FLOW_CONTROL_WINDOW_BYTES = 8 << 20;

/**
 * CHANNEL_OPTIONS makes the channel recover quickly after containerd restarts (reconnect
 * backoff 100 ms doubling to at most 1 s instead of grpc's 1 s..120 s) and allows containerd's
 * 16 MiB message limit both ways, with an HTTP/2 window large enough to stream content.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // containerd's socket is local: no DNS, no service config lookups.
  'grpc.service_config_disable_resolution': 1,
  // HTTP/2 receive window (stream and connection). grpc-js keeps the 64 KiB default, so a
  // Content.Read stream stalls for a WINDOW_UPDATE round trip every 64 KiB (docker save ran at
  // ~50-90 MB/s). 8 MiB lets containerd's 1 MiB read messages flow back to back; a paused
  // reader still bounds what is buffered to one window per stream.
  'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
};

/** normalizeAddress turns `/run/containerd/containerd.sock` into `unix:///run/...`. */
export function normalizeAddress(address: string): string {
  if (address.startsWith('/')) return `unix://${address}`;
  return address;
}

/**
 * Connection is the one gRPC channel to one containerd socket, shared by every service adapter
 * (containerd's Go client does the same with one grpc.ClientConn). Calls never wait for the
 * channel to become ready (`waitForReady` stays false), so when containerd is down they fail
 * at once with UNAVAILABLE and the HTTP layer can answer 503; the channel keeps reconnecting
 * in the background and the same Connection works again once containerd is back.
 */
export class Connection {
  /** address is the normalized target, e.g. `unix:///run/containerd/containerd.sock`. */
  readonly address: string;
  readonly #client: grpc.Client;
  readonly #defaultDeadlineMs: number;
  #closed = false;

  constructor(address: string, opts: ConnectionOptions = {}) {
    this.address = normalizeAddress(address);
    this.#defaultDeadlineMs = opts.defaultDeadlineMs ?? DEFAULT_UNARY_DEADLINE_MS;
    this.#client = new grpc.Client(this.address, grpc.credentials.createInsecure(), {
      ...CHANNEL_OPTIONS,
      ...opts.channelOptions,
    });
  }

  /** metadata builds the containerd metadata (namespace, lease) for a call. */
  metadata(ctx: CallContext): grpc.Metadata {
    const md = new grpc.Metadata();
    if (ctx.namespace) md.set(NAMESPACE_METADATA_KEY, ctx.namespace);
    if (ctx.lease) md.set(LEASE_METADATA_KEY, ctx.lease);
    return md;
  }

  /** toEngineError maps a failure of `method` on this connection to an EngineError. */
  toEngineError(err: unknown, method?: string): EngineError {
    return fromGrpcError(err, { address: this.address, ...(method === undefined ? {} : { method }) });
  }

  /**
   * unary runs a unary RPC; it rejects with an EngineError (CancelledError on abort). Calls
   * that legitimately block for long (Tasks.Wait, Tasks.Checkpoint, Diff.Diff...) pass
   * `longRunning` so only an explicit ctx.deadlineMs bounds them.
   */
  unary<Req, Res>(
    method: RpcMethod<Req, Res>,
    request: Req,
    ctx: CallContext = {},
    opts: UnaryOptions = {},
  ): Promise<Res> {
    const early = this.#precheck(method.path, ctx);
    if (early) return Promise.reject(early);
    return new Promise<Res>((resolve, reject) => {
      let detach = (): void => {};
      const call = this.#client.makeUnaryRequest<Req, Res>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(ctx),
        this.#callOptions(ctx, opts.longRunning ? undefined : this.#defaultDeadlineMs),
        (err, value) => {
          detach();
          if (err) reject(this.#mapCallError(err, method.path, ctx));
          else resolve(value as Res);
        },
      );
      detach = onAbort(ctx.signal, () => call.cancel());
    });
  }

  /**
   * serverStream starts a server-streaming RPC and returns grpc-js' object-mode Readable; its
   * 'error' events carry raw grpc errors (map them with toEngineError). Aborting the context's
   * signal cancels the call. Prefer `iterate` unless you need pause/resume.
   */
  serverStream<Req, Res>(
    method: RpcMethod<Req, Res>,
    request: Req,
    ctx: CallContext = {},
  ): grpc.ClientReadableStream<Res> {
    this.#assertOpen();
    const call = this.#client.makeServerStreamRequest<Req, Res>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      this.metadata(ctx),
      this.#callOptions(ctx, undefined),
    );
    const detach = onAbort(ctx.signal, () => call.cancel());
    call.once('status', detach);
    call.once('close', detach);
    return call;
  }

  /**
   * iterate runs a server-streaming RPC as an async generator of messages; errors are mapped to
   * EngineErrors, and leaving the loop early cancels the call.
   */
  async *iterate<Req, Res>(
    method: RpcMethod<Req, Res>,
    request: Req,
    ctx: CallContext = {},
  ): AsyncGenerator<Res> {
    const early = this.#precheck(method.path, ctx);
    if (early) throw early;
    const call = this.serverStream(method, request, ctx);
    let done = false;
    try {
      for await (const msg of call as AsyncIterable<Res>) yield msg;
      done = true;
    } catch (err) {
      done = true;
      throw this.#mapCallError(err, method.path, ctx);
    } finally {
      if (!done) call.cancel();
    }
  }

  /**
   * bidi starts a bidirectional-streaming RPC and returns grpc-js' duplex; its 'error' events
   * carry raw grpc errors (map them with toEngineError). Aborting the signal cancels the call.
   */
  bidi<Req, Res>(method: RpcMethod<Req, Res>, ctx: CallContext = {}): grpc.ClientDuplexStream<Req, Res> {
    this.#assertOpen();
    const call = this.#client.makeBidiStreamRequest<Req, Res>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      this.metadata(ctx),
      this.#callOptions(ctx, undefined),
    );
    const detach = onAbort(ctx.signal, () => call.cancel());
    call.once('status', detach);
    call.once('close', detach);
    return call;
  }

  /** mapStreamError maps a stream's error like unary calls do, honouring the context's signal. */
  mapStreamError(err: unknown, method: string, ctx: CallContext): EngineError {
    return this.#mapCallError(err, method, ctx);
  }

  /**
   * onReconnect calls fn each time the channel becomes READY again after having lost its
   * connection (containerd restarted, or its socket went away and came back), or becomes
   * READY for the first time when it was not at the call. Returns the function that stops watching. Nothing here connects: the
   * calls ckptd keeps making (the event subscription, task waits) bring the channel back.
   */
  onReconnect(fn: () => void): () => void {
    const channel = this.#client.getChannel();
    let stopped = false;
    // a channel not READY when the watch begins (containerd down at start) counts as lost:
    // its first READY runs what could not run then
    let lost = channel.getConnectivityState(false) !== grpc.connectivityState.READY;
    let everReady = false;
    const watch = (): void => {
      if (stopped || this.#closed) return;
      const state = channel.getConnectivityState(false);
      if (state === grpc.connectivityState.READY) {
        if (lost) {
          lost = false;
          fn();
        }
        everReady = true;
      } else if (everReady && state !== grpc.connectivityState.SHUTDOWN) {
        lost = true;
      }
      if (state === grpc.connectivityState.SHUTDOWN) return;
      // re-armed at each change, and hourly (a watch must have a deadline)
      channel.watchConnectivityState(state, Date.now() + 3_600_000, () => watch());
    };
    watch();
    return () => {
      stopped = true;
    };
  }

  /** close shuts the channel down; in-flight calls fail, later calls reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  /** closed tells whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed) throw this.toEngineError(new Error('client is closed'));
  }

  #precheck(method: string, ctx: CallContext): EngineError | undefined {
    if (this.#closed) return this.toEngineError(new Error('client is closed'), method);
    if (ctx.signal?.aborted) return abortedError(method, ctx.signal);
    return undefined;
  }

  #mapCallError(err: unknown, method: string, ctx: CallContext): EngineError {
    // grpc reports our own cancel() as CANCELLED "Cancelled on client": say why instead.
    if (ctx.signal?.aborted) return abortedError(method, ctx.signal, err);
    return this.toEngineError(err, method);
  }

  #callOptions(ctx: CallContext, defaultDeadlineMs: number | undefined): grpc.CallOptions {
    const ms = ctx.deadlineMs ?? defaultDeadlineMs;
    return ms === undefined ? {} : { deadline: Date.now() + ms };
  }
}

function abortedError(method: string, signal: AbortSignal, cause?: unknown): CancelledError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new CancelledError(`containerd call ${method} cancelled: ${why}`, { cause: cause ?? reason });
}

/** onAbort runs fn when signal aborts and returns the function that detaches it. */
function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    queueMicrotask(fn);
    return () => {};
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}
