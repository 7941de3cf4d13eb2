/**
 * Docker's json-file log format (moby `daemon/logger/jsonfilelog`): one JSON object per line,
 * `{"log":"...","stream":"stdout|stderr","time":"RFC3339Nano"}`, in
 * `<data-root>/containers/<id>/<id>-json.log`, rotated to `<file>.1` past a size cap.
 */
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  openSync,
  renameSync,
  statSync,
  type WriteStream,
} from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** LogStream is the output stream a log line came from. */
export type LogStream = 'stdout' | 'stderr';

/** LogEntry is one decoded log line. */
export interface LogEntry {
  stream: LogStream;
  /** log is the line as written by the process, trailing newline included (none for a partial line). */
  log: string;
  /** timeNano is the capture time in nanoseconds since the epoch. */
  timeNano: bigint;
}

/** DEFAULT_MAX_LOG_SIZE is where a log file rotates (100 MiB); one rotated file is kept. */
export const DEFAULT_MAX_LOG_SIZE = 100 * 1024 * 1024;

/** MAX_LINE_SIZE splits longer lines into partial entries, as dockerd's copier does (16 KiB). */
export const MAX_LINE_SIZE = 16 * 1024;

const baseWallNs = BigInt(Date.now()) * 1_000_000n;
const baseHr = process.hrtime.bigint();

/** nowNano is the wall-clock time in nanoseconds (ms wall clock refined by the monotonic clock). */
export function nowNano(): bigint {
  return baseWallNs + (process.hrtime.bigint() - baseHr);
}

/** formatRFC3339Nano formats nanoseconds since the epoch as Go's time.RFC3339Nano in UTC. */
export function formatRFC3339Nano(ns: bigint): string {
  const sec = ns >= 0n ? ns / 1_000_000_000n : (ns - 999_999_999n) / 1_000_000_000n;
  const frac = ns - sec * 1_000_000_000n;
  const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  const digits = frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${digits === '' ? '' : `.${digits}`}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** parseRFC3339Nano parses an RFC 3339 time with up to nanosecond precision; undefined when malformed. */
export function parseRFC3339Nano(s: string): bigint | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** encodeLogLine is one json-file line, newline included. */
export function encodeLogLine(e: LogEntry): string {
  return `${JSON.stringify({ log: e.log, stream: e.stream, time: formatRFC3339Nano(e.timeNano) })}\n`;
}

/** decodeLogLine parses one json-file line; undefined for a malformed line (skipped, as dockerd does on a torn write). */
export function decodeLogLine(line: string): LogEntry | undefined {
  try {
    const v = JSON.parse(line) as { log?: unknown; stream?: unknown; time?: unknown };
    if (
      typeof v.log !== 'string' ||
      (v.stream !== 'stdout' && v.stream !== 'stderr') ||
      typeof v.time !== 'string'
    )
      return undefined;
    const timeNano = parseRFC3339Nano(v.time);
    if (timeNano === undefined) return undefined;
    return { log: v.log, stream: v.stream, timeNano };
  } catch {
    return undefined;
  }
}

/**
 * LineSplitter cuts a stream's output into log lines: at each `\n`, or every MAX_LINE_SIZE
 * bytes of a longer line; flush() returns the partial last line.
 */
export class LineSplitter {
  #pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxLine = MAX_LINE_SIZE) {}

  /** push returns the complete lines in `chunk` (with what was pending before it). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl !== -1 && nl < this.maxLine) {
        out.push(buf.subarray(0, nl + 1));
        buf = buf.subarray(nl + 1);
      } else if (buf.length >= this.maxLine) {
        out.push(buf.subarray(0, this.maxLine));
        buf = buf.subarray(this.maxLine);
      } else break;
    }
    this.#pending = Buffer.from(buf);
    return out;
  }

  /** flush returns the pending partial line, if any. */
  flush(): Buffer | undefined {
    if (this.#pending.length === 0) return undefined;
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return rest;
  }
}

/** JsonLogWriterOptions configure a JsonLogWriter. */
export interface JsonLogWriterOptions {
  /** maxSize rotates the file when a line would take it past this many bytes (0: never). */
  maxSize?: number;
  /**
   * onError hears a failed write (a full disk): the lines written until the file can be
   * written again are dropped, as dockerd's json-file logger drops them, rather than blocking
   * the container on its full output pipe. At most one call a minute.
   */
  onError?: (err: Error) => void;
}

/** REOPEN_MS is how often a failed log file is opened again (a full disk may have space again). */
const REOPEN_MS = 1000;

/**
 * JsonLogWriter appends entries to a json-file log, rotating to `<path>.1` (one old file kept,
 * as `max-file=2`). write() reports backpressure like a Writable; the IO copier pauses the
 * FIFOs until drained, so the log always gets every line. `position` counts the bytes queued
 * into the current file, so a follower can read up to it and take the rest live.
 */
export class JsonLogWriter {
  readonly path: string;
  #maxSize: number;
  #out: WriteStream;
  #position: number;
  /** generation increments on each rotation. */
  generation = 0;

  constructor(path: string, opts: JsonLogWriterOptions = {}) {
    this.path = path;
    this.#maxSize = opts.maxSize ?? DEFAULT_MAX_LOG_SIZE;
    this.#onError = opts.onError;
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      size = 0;
    }
    this.#position = size;
    this.#out = this.#open();
  }

  #open(): WriteStream {
    // Opened synchronously: a rotation right after must find the file (a regular file opens at once).
    const fd = openSync(this.path, 'a', 0o640);
    const out = createWriteStream('', { fd });
    out.on('error', (err) => this.#fail(out, err));
    return out;
  }

  // [issue 16] a write that failed (ENOSPC) destroyed the stream: the writer drops lines until
  // the file can be reopened and written, and never leaves a caller waiting for a 'drain'.
  #failedAt = 0;
  #warnedAt = 0;
  #onError: ((err: Error) => void) | undefined;

  #fail(out: WriteStream, err: Error): void {
    if (out !== this.#out || this.#failedAt !== 0) return;
    this.#failedAt = Date.now();
    if (this.#failedAt - this.#warnedAt < 60_000) return;
    this.#warnedAt = this.#failedAt;
    this.#onError?.(err);
  }

  /** #usable reopens a failed file once in a while; false while the line must be dropped. */
  #usable(): boolean {
    if (this.#failedAt === 0 && !this.#out.destroyed) return true;
    if (Date.now() - this.#failedAt < REOPEN_MS) return false;
    try {
      this.#out.destroy();
      this.#out = this.#open();
      this.#position = statSync(this.path).size;
      this.#failedAt = 0;
      return true;
    } catch {
      this.#failedAt = Date.now();
      return false;
    }
  }

  /** position is the size the current file will have once queued writes land. */
  get position(): number {
    return this.#position;
  }

  /** write appends one entry; false means "wait for drained()". */
  write(e: LogEntry): boolean {
    if (!this.#usable()) return true;
    const line = encodeLogLine(e);
    const size = Buffer.byteLength(line);
    if (this.#maxSize > 0 && this.#position > 0 && this.#position + size > this.#maxSize) this.#rotate();
    this.#position += size;
    return this.#out.write(line);
  }

  #rotate(): void {
    const old = this.#out;
    // Queued writes of `old` still land in the renamed file: they go through its fd.
    renameSync(this.path, `${this.path}.1`);
    old.end();
    this.#position = 0;
    this.generation++;
    this.#out = this.#open();
  }

  /** drained resolves once the current file's buffered writes are flushed below the high-water mark. */
  async drained(): Promise<void> {
    const out = this.#out;
    if (!out.writableNeedDrain || out.destroyed) return;
    // one wait per stream, however many lines hit the mark; a failed write destroys the
    // stream: 'close' comes, 'drain' never does
    if (this.#drainOf !== out || this.#drainWait === undefined) {
      this.#drainOf = out;
      this.#drainWait = new Promise<void>((resolve) => {
        const done = () => {
          out.off('drain', done).off('close', done);
          if (this.#drainOf === out) this.#drainWait = undefined;
          resolve();
        };
        out.on('drain', done).on('close', done);
      });
    }
    await this.#drainWait;
  }

  #drainOf: WriteStream | undefined;
  #drainWait: Promise<void> | undefined;

  /** close flushes and closes the file. */
  async close(): Promise<void> {
    const out = this.#out;
    if (out.closed || out.destroyed) return;
    out.end();
    await once(out, 'close').catch(() => undefined);
  }
}

/** ReadLogOptions select what readLogEntries yields. */
export interface ReadLogOptions {
  /** tail keeps only the last N lines of the files ('all' or negative: everything). */
  tail?: number | 'all';
  /** sinceNano skips entries older than this. */
  sinceNano?: bigint;
  /** untilNano stops at the first entry newer than this. */
  untilNano?: bigint;
  /** endOffset reads the current file only up to this byte (what a follower takes live after). */
  endOffset?: number;
}

async function* fileLines(path: string, end?: number): AsyncGenerator<string> {
  if (end === 0) return;
  let input;
  try {
    await stat(path);
    input = createReadStream(path, end === undefined ? {} : { end: end - 1 });
  } catch {
    return;
  }
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) if (line !== '') yield line;
  } finally {
    rl.close();
    input.destroy();
  }
}

/**
 * readLogEntries yields the entries of a json-file log (the rotated file first), as dockerd's
 * reader does: `tail` counts lines of both streams from the end, then since/until filter.
 * Memory is bounded by `tail` lines; without tail the files are streamed.
 */
export async function* readLogEntries(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry> {
  const tail = opts.tail === undefined || opts.tail === 'all' || opts.tail < 0 ? undefined : opts.tail;
  if (tail === 0) return;
  async function* all(): AsyncGenerator<string> {
    yield* fileLines(`${path}.1`);
    yield* fileLines(path, opts.endOffset);
  }
  let lines: AsyncIterable<string> | string[] = all();
  if (tail !== undefined) {
    const ring: string[] = [];
    for await (const l of all()) {
      ring.push(l);
      if (ring.length > tail) ring.shift();
    }
    lines = ring;
  }
  for await (const l of lines) {
    const e = decodeLogLine(l);
    if (!e) continue;
    if (opts.sinceNano !== undefined && e.timeNano < opts.sinceNano) continue;
    if (opts.untilNano !== undefined && e.timeNano > opts.untilNano) return;
    yield e;
  }
}

/** formatRFC3339NanoFixed is Docker's timestamp for `logs --timestamps` (always nine fraction digits). */
export function formatRFC3339NanoFixed(ns: bigint): string {
  const sec = ns >= 0n ? ns / 1_000_000_000n : (ns - 999_999_999n) / 1_000_000_000n;
  const frac = ns - sec * 1_000_000_000n;
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}
