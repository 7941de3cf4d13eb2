/**
 * Docker's JSON progress messages (pkg/jsonmessage, pkg/streamformatter) as dockerd sends them
 * on pull and push: `{"status","progressDetail","progress","id"}` lines and `aux` results.
 */

/** ProgressMessage is one line of Docker's JSON message stream. */
export interface ProgressMessage {
  status?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  id?: string;
  aux?: unknown;
}

/** ProgressSink receives progress messages in order. */
export type ProgressSink = (m: ProgressMessage) => void;

/**
 * humanSize renders a byte count as go-units' `HumanSize` (decimal units, 4 significant
 * digits, trailing zeros dropped: `536.9MB`, `1.024kB`, `12B`).
 */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** progressBar renders jsonmessage's JSONProgress.String() at dockerd's width (bar and counts). */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return humanSize(current).padStart(8);
  let pct = Math.trunc((current / total) * 100) >> 1;
  if (pct > 50) pct = 50;
  if (pct < 0) pct = 0;
  const bar = `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] `;
  return `${bar}${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** status is a message with a status and an id, with an empty progressDetail as dockerd sends. */
export function status(id: string, text: string): ProgressMessage {
  return { status: text, progressDetail: {}, id };
}

/** progress is a message with byte progress for one id. */
export function progress(id: string, action: string, current: number, total: number): ProgressMessage {
  return {
    status: action,
    progressDetail: { current, total },
    progress: progressBar(current, total),
    id,
  };
}

/** message is an id-less status line (`Digest: ...`, `Status: ...`). */
export function message(text: string): ProgressMessage {
  return { status: text };
}

/**
 * Throttle lets through at most one progress update per interval per id (and always the last),
 * as dockerd's progress reader does (every 512 KiB / 100 ms).
 */
export class Throttle {
  readonly #last = new Map<string, number>();
  readonly #intervalMs: number;

  constructor(intervalMs = 100) {
    this.#intervalMs = intervalMs;
  }

  /** due tells whether an update for `id` may go out now (`final` always may). */
  due(id: string, final = false): boolean {
    const now = Date.now();
    const last = this.#last.get(id) ?? 0;
    if (!final && now - last < this.#intervalMs) return false;
    this.#last.set(id, now);
    return true;
  }
}
