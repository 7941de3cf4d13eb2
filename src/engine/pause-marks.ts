/**
 * PauseMarks remembers, on disk, which containers ckptd itself froze (a commit, a cp, a
 * leave-running checkpoint): a daemon killed while one is frozen would otherwise leave it frozen
 * for good, its user seeing "Paused" they never asked for. The mark is written before the freeze
 * and removed after the thaw; at the next start every marked container still paused is resumed
 * (recover), and a user's own `docker pause` (never marked) is left alone.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const MARK = 'paused-by-ckptd';

export interface MarkTasks {
  get(id: string): Promise<{ status: unknown }>;
  resume(id: string): Promise<void>;
}

export interface MarkLogger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export class PauseMarks {
  readonly #containersDir: string;

  constructor(dataRoot: string) {
    this.#containersDir = join(dataRoot, 'containers');
  }

  /** mark records that ckptd is about to freeze container id. */
  async mark(id: string): Promise<void> {
    await writeFile(join(this.#containersDir, id, MARK), '', { mode: 0o600 }).catch(() => undefined);
  }

  /** clear records that ckptd thawed it again. */
  async clear(id: string): Promise<void> {
    await rm(join(this.#containersDir, id, MARK), { force: true });
  }

  /** recover thaws the containers a previous run froze and never thawed; returns their ids. */
  async recover(tasks: MarkTasks, log: MarkLogger): Promise<string[]> {
    const thawed: string[] = [];
    for (const id of await readdir(this.#containersDir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}$/.test(id)) continue;
      const marked = await readdir(join(this.#containersDir, id))
        .then((n) => n.includes(MARK))
        .catch(() => false);
      if (!marked) continue;
      const task = await tasks.get(id).catch(() => undefined);
      if (task !== undefined && String(task.status) === 'PAUSED') {
        try {
          await tasks.resume(id);
          thawed.push(id);
        } catch (err) {
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
