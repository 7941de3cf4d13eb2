/**
 * PauseMarks remembers, on disk, which containers ckptd itself froze (a commit, a cp, a
 * leave-running checkpoint): a daemon killed while one is frozen would otherwise leave it frozen
 * for good, its user seeing "Paused" they never asked for. The mark is written before the freeze
 * and removed after the thaw; at the next start every marked container still paused is resumed
 * (recover), and a user's own `docker pause` (never marked) is left alone.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors/index.js';

const MARK = 'paused-by-ckptd';

export interface MarkTasks {
  get(id: string): Promise<{ status: unknown }>;
  resume(id: string): Promise<void>;
}

export interface MarkLogger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

/** RecoverOptions tune PauseMarks.recover after a reconnect (at start none is needed). */
export interface RecoverOptions {
  /** skip: containers whose freeze an operation of this run still holds. */
  skip?: (id: string) => boolean;
  /** busy: a dump still works on the container (CRIU freezes it again when done): wait for it. */
  busy?: (id: string) => Promise<boolean>;
  /** waitMs bounds the wait for busy containers (default 10 min). */
  waitMs?: number;
}

export class PauseMarks {
  readonly #containersDir: string;
  /** #live: containers an operation of this run froze and has not finished with. */
  readonly #live = new Set<string>();
  /** #pending: marked containers a recovery could not check or thaw yet (containerd away). */
  readonly #pending = new Set<string>();
  #onDone: (() => void) | undefined;

  constructor(dataRoot: string) {
    this.#containersDir = join(dataRoot, 'containers');
  }

  /** mark records that ckptd is about to freeze container id. */
  async mark(id: string): Promise<void> {
    this.#live.add(id);
    await writeFile(join(this.#containersDir, id, MARK), '', { mode: 0o600 }).catch(() => undefined);
  }

  /** clear records that ckptd thawed it again. */
  async clear(id: string): Promise<void> {
    this.#live.delete(id);
    await rm(join(this.#containersDir, id, MARK), { force: true });
  }

  /**
   * done records that the operation which froze id is over though its thaw failed (containerd
   * was away): the mark stays for recover (at the next reconnect, or the next start).
   */
  done(id: string): void {
    this.#live.delete(id);
    this.#onDone?.();
  }

  /** onDone registers what runs when an operation ends with its thaw failed (the reconnect recovery). */
  onDone(fn: () => void): void {
    this.#onDone = fn;
  }

  /** pending tells whether a recovery left marked containers it could not thaw yet. */
  get pending(): boolean {
    return this.#pending.size > 0;
  }

  /** isLive tells whether an operation of this run still holds the freeze of id. */
  isLive(id: string): boolean {
    return this.#live.has(id);
  }

  /** recover thaws the containers a previous run froze and never thawed; returns their ids. */
  async recover(tasks: MarkTasks, log: MarkLogger, opts: RecoverOptions = {}): Promise<string[]> {
    const thawed: string[] = [];
    const deadline = Date.now() + (opts.waitMs ?? 600_000);
    for (const id of await readdir(this.#containersDir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}$/.test(id)) continue;
      if (opts.skip?.(id)) continue;
      const marked = await readdir(join(this.#containersDir, id))
        .then((n) => n.includes(MARK))
        .catch(() => false);
      if (!marked) continue;
      if (opts.busy && (await opts.busy(id))) {
        log.info({ id }, 'recovery: waiting for a dump of a frozen container to end before thawing it');
        while (Date.now() < deadline && (await opts.busy(id))) await new Promise((r) => setTimeout(r, 250));
        if (opts.skip?.(id)) continue; // an operation of this run took it meanwhile
      }
      let task: { status: unknown } | undefined;
      try {
        task = await tasks.get(id);
      } catch (err) {
        // gone (deleted): nothing to thaw; containerd away: keep the mark for the next try
        if (!(err instanceof NotFoundError)) {
          this.#pending.add(id);
          log.warn({ err, id }, 'recovery: cannot check a container a previous operation froze yet');
          continue;
        }
      }
      this.#pending.delete(id);
      if (task !== undefined && String(task.status) === 'PAUSED') {
        try {
          await tasks.resume(id);
          thawed.push(id);
        } catch (err) {
          this.#pending.add(id);
          log.warn({ err, id }, 'recovery: cannot resume a container a previous run froze');
          continue;
        }
      }
      await this.clear(id);
    }
    if (thawed.length > 0)
      log.info({ containers: thawed }, 'recovery: resumed containers a previous run left frozen');
    return thawed;
  }
}
