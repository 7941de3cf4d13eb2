/**
 * Recovery after containerd comes back. A containerd that restarts under ckptd (managed: the
 * supervisor restarts it; external: its admin does) fails every call in flight: the operations
 * end with a 503, but their cleanup needed containerd too, so what they held stays behind —
 * their leases (content, snapshots and ingests would live until the 24 h expiry) and the
 * containers they froze (a failed thaw). When the channel is READY again, this runs what the
 * start-up recovery runs, minus what this run still holds: leases of this data root not held
 * by a withLease in progress are deleted, and containers ckptd froze are thawed once no
 * operation of this run holds them and no dump still works on them. Each item is logged.
 */
import { join } from 'node:path';
import { holdersOf } from './checkpoint-recovery.js';
import type { MarkTasks, PauseMarks } from './pause-marks.js';
import { removeOwnLeases, type RecoveryLeases, type RecoveryLogger } from './recovery.js';

export interface ReconnectRecoveryOptions {
  /** onReconnect registers the callback run each time the channel is READY again (Connection.onReconnect). */
  onReconnect: (fn: () => void) => () => void;
  leases: RecoveryLeases;
  leaseInUse: (id: string) => boolean;
  tasks: MarkTasks;
  pauseMarks: PauseMarks;
  dataRoot: string;
  logger: RecoveryLogger;
  /** busy tells whether a dump still works on container id (default: processes in its checkpoints dir). */
  busy?: (id: string) => Promise<boolean>;
}

export class ReconnectRecovery {
  readonly #o: ReconnectRecoveryOptions;
  #unwatch: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #retryMs = 500;
  #retry: NodeJS.Timeout | undefined;
  /** runs counts the completed recoveries (tests and logs). */
  runs = 0;

  constructor(o: ReconnectRecoveryOptions) {
    this.#o = o;
  }

  /** start watches the connection. */
  start(): void {
    // an operation whose thaw failed (containerd away) ended: its container is recovery's now
    this.#o.pauseMarks.onDone(() => this.trigger());
    if (this.#o.pauseMarks.pending) this.trigger(); // the start-up recovery could not thaw them
    this.#unwatch ??= this.#o.onReconnect(() => {
      this.#o.logger.warn({}, 'containerd connection is back: recovering what the interruption left');
      this.trigger();
    });
  }

  /** trigger runs a recovery now (or once more after the running one). */
  trigger(): void {
    if (this.#stopped) return;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#run()
      .catch((err: unknown) => this.#o.logger.warn({ err }, 'recovery after the reconnect failed'))
      .finally(() => {
        this.#running = undefined;
        this.runs++;
        if (this.#again) {
          this.#again = false;
          this.trigger();
        } else if (this.#o.pauseMarks.pending && !this.#stopped) {
          // containerd is not back yet for them: try again, backing off to 30 s
          this.#retryMs = Math.min(this.#retryMs * 2, 30_000);
          this.#retry = setTimeout(() => this.trigger(), this.#retryMs);
          this.#retry.unref();
        } else {
          this.#retryMs = 500;
        }
      });
  }

  /** stop stops watching and waits for a recovery in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#unwatch?.();
    // a thaw waiting for a dump is not worth holding the shutdown for: the next start does it
    await Promise.race([this.#running, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  async #run(): Promise<void> {
    const o = this.#o;
    await removeOwnLeases(o.leases, o.dataRoot, o.logger, o.leaseInUse);
    const busy =
      o.busy ??
      (async (id: string) => (await holdersOf(join(o.dataRoot, 'containers', id, 'checkpoints'))).length > 0);
    await o.pauseMarks.recover(o.tasks, o.logger, { skip: (id) => o.pauseMarks.isLive(id), busy });
  }
}
