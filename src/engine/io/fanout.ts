/**
 * Live fan-out of a process's output to attached clients, each with a bounded queue: the
 * copier never waits for a client (the log file, not a client, is what must get every byte),
 * and a client that falls more than `limit` bytes behind is cut off instead of making ckptd
 * buffer without bound. dockerd blocks its copier on the slowest client; bounding per client
 * keeps one stuck `docker attach` from stalling the container and its log.
 */

/** SlowConsumerError ends a subscription whose client fell too far behind. */
export class SlowConsumerError extends Error {
  readonly code = 'CKPTD_SLOW_CONSUMER';
  constructor(limit: number) {
    super(`client fell more than ${limit} bytes behind the container's output: disconnected`);
  }
}

/** DEFAULT_SUBSCRIBER_LIMIT is the bytes a client may lag behind before it is cut off (4 MiB). */
export const DEFAULT_SUBSCRIBER_LIMIT = 4 * 1024 * 1024;

/** Subscription is one client's bounded queue; iterate it to consume. */
export class Subscription<T> implements AsyncIterable<T> {
  #queue: T[] = [];
  #bytes = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #onClose: (() => void) | undefined;

  constructor(
    private readonly sizeOf: (item: T) => number,
    readonly limit: number,
    onClose?: () => void,
  ) {
    this.#onClose = onClose;
  }

  /** queuedBytes is how much this subscriber has not consumed yet. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** done tells whether the subscription ended (source end, error or close). */
  get done(): boolean {
    return this.#ended || this.#error !== undefined;
  }

  /** push queues an item; past the limit the subscription fails with SlowConsumerError. */
  push(item: T): void {
    if (this.done) return;
    this.#bytes += this.sizeOf(item);
    if (this.#bytes > this.limit) {
      this.fail(new SlowConsumerError(this.limit));
      return;
    }
    this.#queue.push(item);
    this.#signal();
  }

  /** end lets the consumer drain what is queued, then finish. */
  end(): void {
    if (this.done) return;
    this.#ended = true;
    this.#signal();
    this.#detach();
  }

  /** fail drops what is queued and makes the consumer throw `err`. */
  fail(err: Error): void {
    if (this.done) return;
    this.#error = err;
    this.#queue = [];
    this.#bytes = 0;
    this.#signal();
    this.#detach();
  }

  /** close unsubscribes (the consumer is gone). */
  close(): void {
    this.#ended = true;
    this.#queue = [];
    this.#bytes = 0;
    this.#signal();
    this.#detach();
  }

  #detach(): void {
    const f = this.#onClose;
    this.#onClose = undefined;
    f?.();
  }

  #signal(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.#error) throw this.#error;
        const item = this.#queue.shift();
        if (item !== undefined) {
          this.#bytes -= this.sizeOf(item);
          yield item;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((r) => (this.#wake = r));
      }
    } finally {
      this.close();
    }
  }
}

/** Fanout hands each published item to every current subscriber. */
export class Fanout<T> {
  #subs = new Set<Subscription<T>>();
  #ended = false;

  constructor(
    private readonly sizeOf: (item: T) => number,
    private readonly limit = DEFAULT_SUBSCRIBER_LIMIT,
  ) {}

  /** size is the number of live subscribers. */
  get size(): number {
    return this.#subs.size;
  }

  /** ended tells whether end() was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** subscribe adds a subscriber; on an ended fanout it is ended at once. */
  subscribe(limit = this.limit): Subscription<T> {
    const sub: Subscription<T> = new Subscription(this.sizeOf, limit, () => this.#subs.delete(sub));
    if (this.#ended) sub.end();
    else this.#subs.add(sub);
    return sub;
  }

  /** publish queues `item` for every subscriber (never blocks). */
  publish(item: T): void {
    for (const s of [...this.#subs]) s.push(item);
  }

  /** end finishes every subscription after it drains. */
  end(): void {
    this.#ended = true;
    for (const s of [...this.#subs]) s.end();
  }
}
