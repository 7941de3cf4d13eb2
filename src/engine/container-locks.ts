import { AsyncLocalStorage } from 'node:async_hooks';

/** A hold is one running critical section: nested calls made while it runs pass through. */
interface Hold {
  readonly id: string;
  readonly parent: Hold | undefined;
  live: boolean;
}

/**
 * ContainerLocks is the one keyed mutex per container that every service changing a container
 * shares (moby holds one lock per container): start, stop, kill, rm, update, checkpoint, restore,
 * cp in and commit of one container run one at a time, whichever service took the request.
 *
 * The lock is re-entrant along one call chain: an operation that holds a container's lock and
 * calls another locked operation on it (a checkpoint that stops its container, a restore that
 * starts one) runs the inner one at once instead of waiting for itself. Re-entry is tracked with
 * AsyncLocalStorage and ends when the outer section ends: work the section left running in the
 * background (an exit watcher that later restarts the container) takes the lock like anyone else.
 */
export class ContainerLocks {
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #als = new AsyncLocalStorage<Hold>();

  /** held tells whether the current call chain holds id's lock. */
  held(id: string): boolean {
    for (let h = this.#als.getStore(); h !== undefined; h = h.parent) if (h.live && h.id === id) return true;
    return false;
  }

  /** run runs fn holding id's lock, after every earlier holder of it has finished. */
  async run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (this.held(id)) return fn();
    const hold: Hold = { id, parent: this.#als.getStore(), live: true };
    const prev = this.#tails.get(id) ?? Promise.resolve();
    const run = prev
      .catch(() => undefined)
      .then(() => this.#als.run(hold, fn))
      .finally(() => {
        hold.live = false;
      });
    const tail = run.catch(() => undefined);
    this.#tails.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    }
  }

  /** size is how many containers have a holder or waiters (for leak tests). */
  get size(): number {
    return this.#tails.size;
  }
}
