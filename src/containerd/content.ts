import { createHash, type Hash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import type { ClientDuplexStream, ClientReadableStream } from '@grpc/grpc-js';
import type { ContentDefinition } from '../gen/containerd/services/content/v1/Content.js';
import type { Info as InfoInput, Info__Output } from '../gen/containerd/services/content/v1/Info.js';
import type { ReadContentResponse__Output } from '../gen/containerd/services/content/v1/ReadContentResponse.js';
import type { Status__Output } from '../gen/containerd/services/content/v1/Status.js';
import type { WriteContentRequest } from '../gen/containerd/services/content/v1/WriteContentRequest.js';
import type { WriteContentResponse__Output } from '../gen/containerd/services/content/v1/WriteContentResponse.js';
import {
  AlreadyExistsError,
  CancelledError,
  EngineError,
  InternalError,
  InvalidArgumentError,
} from '../errors/index.js';
import { ServiceAdapter, required } from './adapter.js';
import type { CallContext, Connection } from './connection.js';
import { MAX_MESSAGE_BYTES } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<ContentDefinition>('containerd.services.content.v1.Content');

/** ContentInfo describes a blob in containerd's content store (size as decimal string). */
export type ContentInfo = Info__Output;
/** ContentStatus describes an in-progress ingest (ref, offset, total, expected digest). */
export type ContentStatus = Status__Output;

/** WRITE_WINDOW is how many Content.Write messages may await their acknowledgement at once. */
export const WRITE_WINDOW = 8;

/** WRITE_CHUNK_BYTES is the data size of one Content.Write message: far below the 16 MiB limit. */
export const WRITE_CHUNK_BYTES = 1 << 20;

/** ContentLogger receives best-effort failures (abort of a dead ingest); pino-compatible. */
export interface ContentLogger {
  warn(obj: object, msg?: string): void;
}

/** ReadOptions select a byte range of a blob: from `offset`, `size` bytes (0 = to the end). */
export interface ReadOptions {
  offset?: number;
  size?: number;
}

/** WriterOptions describe an ingest: expected total size and digest, labels for the blob. */
export interface WriterOptions {
  /** total size, if known: containerd checks it at commit. */
  total?: number;
  /** expected digest, if known: when the blob already exists the writer turns into a no-op. */
  expected?: string;
  /** labels set on the committed blob (e.g. `containerd.io/gc.ref.content.*`). */
  labels?: Record<string, string>;
  /** chunkSize of Write messages; defaults to WRITE_CHUNK_BYTES, capped well below 16 MiB. */
  chunkSize?: number;
  /**
   * resume continues an ingest `ref` that is partly there (containerd's STAT offset) instead of
   * starting it over: writes go on from `startOffset`, and commit needs `expected` (containerd
   * re-hashes the whole ingest; this writer only saw the new bytes).
   */
  resume?: boolean;
}

/** ContentStore adapts containerd.services.content.v1.Content (containerd's `contentStore`). */
export class ContentStore extends ServiceAdapter {
  readonly #logger: ContentLogger | undefined;

  constructor(conn: Connection, defaults: CallContext, logger?: ContentLogger) {
    super(conn, defaults);
    this.#logger = logger;
  }

  /** info returns a blob's info (NotFoundError if absent). */
  async info(digest: string, ctx?: CallContext): Promise<ContentInfo> {
    return required((await this.conn.unary(svc.Info, { digest }, this.ctx(ctx))).info, 'content info');
  }

  /** update changes the fields named by fieldpaths (`labels`, `labels.<key>`) of a blob. */
  async update(info: InfoInput, fieldpaths: string[] = [], ctx?: CallContext): Promise<ContentInfo> {
    const req = { info, update_mask: { paths: fieldpaths } };
    return required((await this.conn.unary(svc.Update, req, this.ctx(ctx))).info, 'content info');
  }

  /** list streams the blobs matching any of the filters (e.g. `labels."k"==v`). */
  async *list(filters: string[] = [], ctx?: CallContext): AsyncGenerator<ContentInfo> {
    for await (const batch of this.conn.iterate(svc.List, { filters }, this.ctx(ctx))) yield* batch.info;
  }

  /** delete removes a blob (NotFoundError if absent). */
  async delete(digest: string, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Delete, { digest }, this.ctx(ctx));
  }

  /** status returns an in-progress ingest by ref (NotFoundError if none). */
  async status(ref: string, ctx?: CallContext): Promise<ContentStatus> {
    return required((await this.conn.unary(svc.Status, { ref }, this.ctx(ctx))).status, 'content status');
  }

  /** listStatuses returns the in-progress ingests matching the filters (e.g. `ref~=prefix`). */
  async listStatuses(filters: string[] = [], ctx?: CallContext): Promise<ContentStatus[]> {
    return (await this.conn.unary(svc.ListStatuses, { filters }, this.ctx(ctx))).statuses;
  }

  /** abort drops an in-progress ingest and its data. */
  async abort(ref: string, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Abort, { ref }, this.ctx(ctx));
  }

  /**
   * readStream returns a byte Readable over Content.Read. It honours backpressure: when the
   * consumer stops reading, the gRPC stream is paused (and HTTP/2 flow control stops
   * containerd), so a slow consumer never makes it buffer the blob. Failures destroy the
   * Readable with an EngineError (NotFoundError for an unknown digest).
   */
  readStream(digest: string, opts: ReadOptions = {}, ctx?: CallContext): Readable {
    const c = this.ctx(ctx);
    const conn = this.conn;
    // containerd numbers response offsets from the requested offset (readResponseWriter starts at 0).
    let expected = 0;
    let call: ClientReadableStream<ReadContentResponse__Output> | undefined;
    let ended = false;
    const readable = new Readable({
      highWaterMark: WRITE_CHUNK_BYTES,
      read() {
        if (call) {
          call.resume();
          return;
        }
        if (c.signal?.aborted) {
          readable.destroy(conn.mapStreamError(c.signal.reason, svc.Read.path, c));
          return;
        }
        const req = { digest, offset: opts.offset ?? 0, size: opts.size ?? 0 };
        call = conn.serverStream(svc.Read, req, c);
        call.on('data', (msg: ReadContentResponse__Output) => {
          if (Number(msg.offset) !== expected) {
            readable.destroy(
              new InternalError(`content ${digest}: read offset ${msg.offset}, expected ${expected}`),
            );
            call?.cancel();
            return;
          }
          expected += msg.data.length;
          if (!readable.push(msg.data)) call?.pause();
        });
        call.on('error', (err) => {
          ended = true;
          if (!readable.destroyed) readable.destroy(conn.mapStreamError(err, svc.Read.path, c));
        });
        call.on('end', () => {
          ended = true;
          readable.push(null);
        });
      },
      destroy(err, cb) {
        if (call && !ended) call.cancel();
        cb(err);
      },
    });
    return readable;
  }

  /** readBlob reads a whole small blob (manifest, config, index) into memory, refusing more than maxBytes. */
  async readBlob(digest: string, maxBytes = 4 << 20, ctx?: CallContext): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of this.readStream(digest, {}, ctx) as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes)
        throw new InvalidArgumentError(`content ${digest} is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  /**
   * writer opens an ingest `ref` over the Content.Write bidi stream and returns a Writable:
   * pipe the data in, then `commit()`. Unless committed, destroying it aborts the ingest.
   * Run it inside withLease so the blob survives until something references it.
   */
  writer(ref: string, opts: WriterOptions = {}, ctx?: CallContext): ContentWriter {
    const c = this.ctx(ctx);
    const abortRef = async (): Promise<void> => {
      // Not cancellable by the caller's signal: the ingest must go even when the request died.
      try {
        await this.abort(ref, { namespace: c.namespace, lease: c.lease, deadlineMs: 5000 });
      } catch (err) {
        if (err instanceof EngineError && err.kind === 'NotFound') return;
        this.#logger?.warn({ err, ref }, 'containerd: aborting content ingest failed');
      }
    };
    return new ContentWriter(this.conn, c, ref, opts, abortRef);
  }
}

interface Pending {
  resolve(msg: WriteContentResponse__Output): void;
  reject(err: EngineError): void;
}

/**
 * ContentWriter is a Writable over one Content.Write ingest: data goes out in chunks of at most
 * WRITE_CHUNK_BYTES, each acknowledged offset is checked, and the sha256 of what was written is
 * tracked. `commit()` turns the ingest into a blob and returns its digest. Always either
 * commit() or destroy() it: ending the writes alone keeps the ingest (and its lock) open.
 */
export class ContentWriter extends Writable {
  /** ref names the ingest (containerd locks it while this writer is open). */
  readonly ref: string;
  readonly #conn: Connection;
  readonly #ctx: CallContext;
  readonly #opts: WriterOptions;
  readonly #chunkSize: number;
  readonly #abortRef: () => Promise<void>;
  readonly #hash: Hash = createHash('sha256');
  #call: ClientDuplexStream<WriteContentRequest, WriteContentResponse__Output> | undefined;
  #pending: Pending[] = [];
  #failure: EngineError | undefined;
  #offset = 0;
  /** #sent is the offset after the last WRITE sent (ahead of #offset while acks are pending). */
  #sent = 0;
  readonly #inflight: Promise<void>[] = [];
  #exists = false;
  #committed: string | undefined;
  #startOffset = 0;
  #ready: Promise<void>;
  #readyResolve!: () => void;
  #readyReject!: (err: Error) => void;

  constructor(
    conn: Connection,
    ctx: CallContext,
    ref: string,
    opts: WriterOptions,
    abortRef: () => Promise<void>,
  ) {
    const chunkSize = Math.min(opts.chunkSize ?? WRITE_CHUNK_BYTES, MAX_MESSAGE_BYTES / 4);
    // autoDestroy off: 'finish' (end of data) must not tear the ingest down before commit().
    super({ highWaterMark: chunkSize, autoDestroy: false });
    this.ref = ref;
    this.#conn = conn;
    this.#ctx = ctx;
    this.#opts = opts;
    this.#chunkSize = chunkSize;
    this.#abortRef = abortRef;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.#ready.catch(() => undefined);
  }

  /** ready settles once the ingest is open (or the blob found to exist), or failed to open. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** startOffset is where a resumed ingest continued from (0 for a new one). */
  get startOffset(): number {
    return this.#startOffset;
  }

  /** written is the number of bytes acknowledged by containerd so far. */
  get written(): number {
    return this.#offset;
  }

  /** exists tells that the expected blob was already in the store: writes are skipped. */
  get exists(): boolean {
    return this.#exists;
  }

  /** digest is the sha256 digest (`sha256:<hex>`) of the bytes written so far. */
  digest(): string {
    return `sha256:${this.#hash.copy().digest('hex')}`;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    const call = this.#conn.bidi(svc.Write, this.#ctx);
    this.#call = call;
    call.on('data', (msg: WriteContentResponse__Output) => this.#pending.shift()?.resolve(msg));
    call.on('error', (err) => this.#fail(this.#conn.mapStreamError(err, svc.Write.path, this.#ctx)));
    call.on('end', () =>
      this.#fail(new InternalError(`content ingest ${this.ref}: containerd closed the stream`)),
    );
    const stat: WriteContentRequest = {
      action: 'STAT',
      ref: this.ref,
      total: this.#opts.total ?? 0,
      expected: this.#opts.expected ?? '',
    };
    this.#send(stat).then(
      (res) => {
        if (this.#opts.resume && this.#opts.expected) {
          const at = Number(res.offset);
          if (at > 0 && (!this.#opts.total || at <= this.#opts.total)) {
            this.#startOffset = at;
            this.#offset = at;
            this.#sent = at;
          }
        }
        this.#readyResolve();
        callback();
      },
      (err: EngineError) => {
        if (err instanceof AlreadyExistsError && this.#opts.expected) {
          // The blob is already there (content is addressed by digest): nothing to write.
          this.#exists = true;
          this.#failure = undefined;
          this.#readyResolve();
          callback();
        } else {
          this.#readyReject(err);
          callback(err);
        }
      },
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writeData(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#writeData(Buffer.concat(chunks.map((c) => c.chunk))).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // The ingest stays open: commit() finishes it (or destroy() aborts it); every write is acknowledged first.
    this.settled().then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    const call = this.#call;
    if (this.#committed !== undefined || this.#exists) {
      call?.end();
      callback(err);
      return;
    }
    call?.cancel();
    this.#abortRef().finally(() => callback(err));
  }

  /**
   * commit ends the writes and commits the ingest: containerd checks `size` (default: bytes
   * written) and `expected` (default: the sha256 computed here) and stores the blob with
   * `labels`. AlreadyExists counts as success: content is identical by digest. Returns the digest.
   */
  async commit(size?: number, expected?: string, labels?: Record<string, string>): Promise<string> {
    if (this.#committed !== undefined) return this.#committed;
    await this.#endWrites();
    const want = expected || this.#opts.expected || this.digest();
    if (this.#startOffset > 0 && !(expected || this.#opts.expected)) {
      throw new InternalError(`content ingest ${this.ref}: a resumed ingest needs its expected digest`);
    }
    if (this.#exists) {
      this.#committed = want;
      this.destroy();
      return want;
    }
    const total = size ?? this.#offset;
    try {
      const res = await this.#send({
        action: 'COMMIT',
        ref: this.ref,
        total,
        offset: this.#offset,
        expected: want,
        labels: labels ?? this.#opts.labels ?? {},
      });
      if (total !== 0 && Number(res.offset) !== total) {
        throw new InternalError(
          `content ingest ${this.ref}: committed size ${res.offset}, expected ${total}`,
        );
      }
      if (res.digest !== want) {
        throw new InternalError(
          `content ingest ${this.ref}: committed digest ${res.digest}, expected ${want}`,
        );
      }
      this.#committed = res.digest;
    } catch (err) {
      if (err instanceof AlreadyExistsError) {
        this.#committed = want;
      } else {
        this.destroy(err as Error);
        throw err;
      }
    }
    this.destroy();
    return this.#committed;
  }

  async #endWrites(): Promise<void> {
    if (this.writableFinished) return;
    if (this.destroyed) throw this.#failure ?? new CancelledError(`content ingest ${this.ref} was destroyed`);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.off('finish', onFinish);
        reject(err);
      };
      const onFinish = (): void => {
        this.off('error', onError);
        resolve();
      };
      this.once('error', onError);
      this.once('finish', onFinish);
      if (!this.writableEnded) this.end();
    });
  }

  async #writeData(data: Buffer): Promise<void> {
    if (this.#exists) return;
    for (let pos = 0; pos < data.length; pos += this.#chunkSize) {
      const piece = data.subarray(pos, pos + this.#chunkSize);
      const offset = this.#sent;
      this.#sent = offset + piece.length;
      this.#hash.update(piece);
      // Pipelined: up to WRITE_WINDOW messages in flight (acknowledged in order on the stream),
      // so a busy host does not pay a round trip per chunk.
      const acked = this.#send({ action: 'WRITE', ref: this.ref, offset, data: piece }).then((res) => {
        if (Number(res.offset) !== offset + piece.length) {
          throw new InternalError(
            `content ingest ${this.ref}: containerd acknowledged offset ${res.offset}, expected ${offset + piece.length}`,
          );
        }
        this.#offset = offset + piece.length;
      });
      acked.catch(() => undefined);
      this.#inflight.push(acked);
      while (this.#inflight.length > WRITE_WINDOW) await this.#inflight.shift();
    }
  }

  /** settled waits until containerd acknowledged every write sent so far (`written` is then final). */
  async settled(): Promise<void> {
    while (this.#inflight.length > 0) await this.#inflight.shift();
  }

  #send(req: WriteContentRequest): Promise<WriteContentResponse__Output> {
    if (this.#failure) return Promise.reject(this.#failure);
    const call = this.#call;
    if (!call) return Promise.reject(new InternalError(`content ingest ${this.ref} is not open`));
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      call.write(req);
    });
  }

  #fail(err: EngineError): void {
    this.#failure ??= err;
    for (const p of this.#pending.splice(0)) p.reject(err);
  }
}
