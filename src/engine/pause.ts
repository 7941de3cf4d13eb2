/**
 * Shared pause holds on containers' tasks: commit reads a frozen filesystem, and the archive
 * engine (docker cp) freezes every process that could swap a path component while it works.
 * Holds are counted per container, so overlapping operations (a commit and a cp) pause once
 * and resume once, when the last one releases (containerd `client/task.go`, nerdctl commit).
 */

/** PauseTasks is the part of containerd's Tasks service the pauser needs. */
export interface PauseTasks {
  get(id: string): Promise<{ status: unknown }>;
  pause(id: string): Promise<void>;
  resume(id: string, ctx?: { deadlineMs?: number }): Promise<void>;
}

/** PauseLogger receives failed pauses and resumes; pino-compatible. */
export interface PauseLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** MuteTaskEcho silences the Docker event of the pause or resume about to happen (EventsService). */
export type MuteTaskEcho = (id: string, action: 'pause' | 'unpause') => void;

interface PauseHold {
  count: number;
  /** quiet: the hold's pause and resume emit no pause/unpause events (dockerd does not pause there). */
  quiet: boolean;
  /** paused resolves to true when this hold paused the task (and must resume it). */
  paused: Promise<boolean>;
}

/** PauseRelease ends a hold; calling it twice is a no-op. */
export type PauseRelease = () => Promise<void>;

const RESUME_DEADLINE_MS = 10_000;

/**
 * TaskPauser freezes a container's task for the duration of a filesystem operation, shared by
 * concurrent holders: the first pauses (if the task runs), the last resumes. A container that
 * was already paused is left paused; a failed resume is logged, never swallowed silently.
 */
export class TaskPauser {
  readonly #tasks: PauseTasks;
  readonly #logger: PauseLogger;
  readonly #holds = new Map<string, PauseHold>();
  readonly #mute: MuteTaskEcho | undefined;

  constructor(tasks: PauseTasks, logger: PauseLogger, mute?: MuteTaskEcho) {
    this.#tasks = tasks;
    this.#logger = logger;
    this.#mute = mute;
  }

  /**
   * hold pauses the task of container `id` if it runs and returns the release. With
   * `required`, a failed pause rejects (the caller must not proceed unpaused); otherwise it is
   * logged and the operation continues on a running container. With `quiet`, a pause this hold
   * makes (and its resume) emits no pause/unpause event.
   */
  async hold(id: string, what: string, required = false, quiet = false): Promise<PauseRelease> {
    let hold = this.#holds.get(id);
    if (!hold) {
      const paused = (async () => {
        const task = await this.#tasks.get(id).catch(() => undefined);
        if (!task || String(task.status) !== 'RUNNING') return false;
        try {
          if (quiet) this.#mute?.(id, 'pause');
          await this.#tasks.pause(id);
          return true;
        } catch (err) {
          if (required) throw err;
          this.#logger.warn({ err, id }, `${what}: pausing the container failed; going on with it running`);
          return false;
        }
      })();
      hold = { count: 0, quiet, paused };
      this.#holds.set(id, hold);
    }
    hold.count++;
    const h = hold;
    try {
      await h.paused;
    } catch (err) {
      await this.#unhold(id, h, what);
      throw err;
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.#unhold(id, h, what);
    };
  }

  async #unhold(id: string, h: PauseHold, what: string): Promise<void> {
    h.count--;
    if (h.count > 0) return;
    if (this.#holds.get(id) === h) this.#holds.delete(id);
    if (!(await h.paused.catch(() => false))) return;
    try {
      if (h.quiet) this.#mute?.(id, 'unpause');
      await this.#tasks.resume(id, { deadlineMs: RESUME_DEADLINE_MS });
    } catch (err) {
      this.#logger.error({ err, id }, `${what}: resuming the container failed; it stays paused`);
    }
  }
}
