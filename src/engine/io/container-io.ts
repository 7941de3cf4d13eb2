/**
 * ContainerIOService implements ContainerIO (FIFOs and json-file log capture of a container's
 * init process) and serves logs, attach and resize. Output of a run is copied from the FIFOs
 * into the log file (the copier pauses the FIFOs while the file lags: the log gets every byte)
 * and fanned out to attached clients through bounded per-client queues.
 *
 * A container's fanout exists from its first attach or prepare() on, so `docker run` (attach,
 * then start) sees the first bytes: an attach before start subscribes to the fanout the next
 * run publishes into.
 */
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConflictError, InvalidArgumentError } from '../../errors/index.js';
import { Fanout, Subscription, DEFAULT_SUBSCRIBER_LIMIT } from './fanout.js';
import { JsonLogWriter, LineSplitter, nowNano, readLogEntries, type LogEntry } from './json-log.js';
import type { ContainerIoInfo, ContainerLookup } from './lookup.js';
import type { OutputChunk } from './mux.js';
import {
  closeFifos,
  createFifos,
  fifoPaths,
  openFifos,
  removeFifos,
  writeAll,
  type ProcessFifos,
} from './streams.js';
import type { ContainerIO, IoOptions, TaskIO } from './types.js';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import type net from 'node:net';

/** TaskControl is the part of containerd's task service resize and stdin close need. */
export interface TaskControl {
  resizePty(containerId: string, width: number, height: number, execId?: string): Promise<void>;
  /** closeIO closes the process's stdin in the shim (it holds a writer of the FIFO too). */
  closeIO(containerId: string, execId?: string): Promise<void>;
}

/** ContainerIOServiceOptions configure a ContainerIOService. */
export interface ContainerIOServiceOptions {
  /** execRoot holds the FIFOs: `<execRoot>/<id>/init-std{in,out,err}`. */
  execRoot: string;
  /** containersRoot holds the logs: `<containersRoot>/<id>/<id>-json.log`. */
  containersRoot: string;
  lookup: ContainerLookup;
  tasks: TaskControl;
  logger: Logger;
  /** maxLogSize rotates a log file past this size (default 100 MiB, one old file kept). */
  maxLogSize?: number;
  /** subscriberLimit is how far (bytes) an attached client may lag before it is cut off. */
  subscriberLimit?: number;
}

/** LogsOptions are GET /containers/{id}/logs's parameters. */
export interface LogsOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  sinceNano?: bigint;
  untilNano?: bigint;
  tail: number | 'all';
}

/** LogsResult is a logs stream: `tty` decides raw vs multiplexed framing. */
export interface LogsResult {
  tty: boolean;
  entries: AsyncIterable<LogEntry>;
}

/** AttachOptions are POST /containers/{id}/attach's parameters. */
export interface AttachOptions {
  stream: boolean;
  logs: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** StdinSink takes a client's input for a process's stdin. */
export interface StdinSink {
  write(chunk: Buffer, signal?: AbortSignal): Promise<void>;
  /** end is the client's EOF: closes the process's stdin when the container/exec says so. */
  end(): void;
}

/** AttachSession is an attached client's view: output to send, and where its input goes. */
export interface AttachSession {
  tty: boolean;
  output: AsyncIterable<OutputChunk>;
  stdin?: StdinSink;
}

/** ContainerIOBackend is what the container IO routes call. */
export interface ContainerIOBackend {
  logs(ref: string, opts: LogsOptions, signal?: AbortSignal): Promise<LogsResult>;
  attach(ref: string, opts: AttachOptions, signal?: AbortSignal): Promise<AttachSession>;
  resize(ref: string, height: number, width: number, signal?: AbortSignal): Promise<void>;
}

interface Run {
  tty: boolean;
  fifos: ProcessFifos;
  log: JsonLogWriter;
  closed: Promise<void>;
  done: boolean;
  finish: () => void;
}

interface Hub {
  output: Fanout<OutputChunk>;
  lines: Fanout<LogEntry>;
  run?: Run;
  stdinWaiters: (() => void)[];
}

const chunkSize = (c: OutputChunk): number => c.data.length;
const entrySize = (e: LogEntry): number => e.log.length + 64;

/** ContainerIOService is ckptd's ContainerIO and ContainerIOBackend. */
export class ContainerIOService implements ContainerIO, ContainerIOBackend {
  readonly #opts: ContainerIOServiceOptions;
  readonly #hubs = new Map<string, Hub>();
  readonly #limit: number;

  constructor(opts: ContainerIOServiceOptions) {
    this.#opts = opts;
    this.#limit = opts.subscriberLimit ?? DEFAULT_SUBSCRIBER_LIMIT;
  }

  /** logPath is where a container's json-file log lives (inspect's LogPath). */
  logPath(id: string): string {
    return join(this.#opts.containersRoot, id, `${id}-json.log`);
  }

  /** fifoDir is where a container's FIFOs (init and execs) live. */
  fifoDir(id: string): string {
    return join(this.#opts.execRoot, id);
  }

  #hub(id: string): Hub {
    let h = this.#hubs.get(id);
    if (!h) {
      h = {
        output: new Fanout(chunkSize, this.#limit),
        lines: new Fanout(entrySize, this.#limit),
        stdinWaiters: [],
      };
      this.#hubs.set(id, h);
    }
    return h;
  }

  async prepare(containerId: string, opts: IoOptions): Promise<TaskIO> {
    const old = this.#hubs.get(containerId)?.run;
    if (old) this.#endRun(containerId, old);
    const io = fifoPaths(this.fifoDir(containerId), 'init', { tty: opts.tty, stdin: opts.openStdin });
    await removeFifos(io); // stale FIFOs may still hold a dead run's unread bytes
    const fifos = await createFifos(this.fifoDir(containerId), io);
    await this.#startRun(containerId, opts.tty, fifos);
    return io;
  }

  async reattach(containerId: string, opts: IoOptions): Promise<void> {
    if (this.#hubs.get(containerId)?.run) return;
    const io = fifoPaths(this.fifoDir(containerId), 'init', { tty: opts.tty, stdin: opts.openStdin });
    if (!existsSync(io.stdout) || (io.stderr && !existsSync(io.stderr))) return;
    if (io.stdin && !existsSync(io.stdin)) io.stdin = '';
    await this.#startRun(containerId, opts.tty, openFifos(io));
  }

  async #startRun(id: string, tty: boolean, fifos: ProcessFifos): Promise<void> {
    const logPath = this.logPath(id);
    await mkdir(join(this.#opts.containersRoot, id), { recursive: true, mode: 0o710 });
    const log = new JsonLogWriter(logPath, {
      maxSize: this.#opts.maxLogSize ?? undefined,
      onError: (err) =>
        this.#opts.logger.warn(
          { err, container: id },
          'writing the container log failed: its lines are dropped until the file can be written again',
        ),
    });
    const hub = this.#hub(id);
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const run: Run = { tty, fifos, log, closed, done: false, finish: () => undefined };
    const splitters = new Map<string, LineSplitter>();
    const writeLine = (stream: 'stdout' | 'stderr', line: Buffer) => {
      const entry: LogEntry = { stream, log: line.toString('utf8'), timeNano: nowNano() };
      hub.lines.publish(entry);
      if (!log.write(entry)) {
        // The file lags: stop reading the FIFOs until it catches up (the process blocks).
        for (const r of fifos.readers) r.socket.pause();
        void log.drained().then(() => {
          if (!run.done) for (const r of fifos.readers) r.socket.resume();
        });
      }
    };
    let open = fifos.readers.length;
    run.finish = () => {
      if (run.done) return;
      run.done = true;
      for (const [stream, sp] of splitters) {
        const rest = sp.flush();
        if (rest) writeLine(stream as 'stdout' | 'stderr', rest);
      }
      // This run's subscribers end; later attaches wait for the next run.
      hub.output.end();
      hub.lines.end();
      hub.output = new Fanout(chunkSize, this.#limit);
      hub.lines = new Fanout(entrySize, this.#limit);
      resolveClosed();
    };
    for (const { stream, socket } of fifos.readers) {
      const sp = new LineSplitter();
      splitters.set(stream, sp);
      let ended = false;
      const onEnd = () => {
        if (ended) return;
        ended = true;
        if (--open === 0) run.finish();
      };
      socket.on('data', (data: Buffer) => {
        hub.output.publish({ stream, data });
        for (const line of sp.push(data)) writeLine(stream, line);
      });
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.on('error', (err) => {
        this.#opts.logger.warn({ err, container: id, stream }, 'reading container output failed');
        onEnd();
      });
    }
    hub.run = run;
    const waiters = hub.stdinWaiters.splice(0);
    for (const w of waiters) w();
  }

  #endRun(id: string, run: Run): void {
    run.finish();
    closeFifos(run.fifos);
    void run.log.close();
    const hub = this.#hubs.get(id);
    if (hub?.run === run) delete hub.run;
  }

  async closed(containerId: string): Promise<void> {
    await this.#hubs.get(containerId)?.run?.closed;
  }

  async release(containerId: string): Promise<void> {
    const run = this.#hubs.get(containerId)?.run;
    if (!run) return;
    this.#endRun(containerId, run);
    await run.log.close();
    await removeFifos(run.fifos.io);
  }

  async remove(containerId: string): Promise<void> {
    await this.release(containerId);
    const hub = this.#hubs.get(containerId);
    if (hub) {
      hub.output.end();
      hub.lines.end();
      for (const w of hub.stdinWaiters.splice(0)) w();
      this.#hubs.delete(containerId);
    }
    const log = this.logPath(containerId);
    await Promise.all([rm(log, { force: true }), rm(`${log}.1`, { force: true })]);
    await rmdir(join(this.#opts.containersRoot, containerId)).catch(() => undefined);
    await rm(this.fifoDir(containerId), { recursive: true, force: true });
  }

  async logs(ref: string, opts: LogsOptions, signal?: AbortSignal): Promise<LogsResult> {
    if (!opts.stdout && !opts.stderr) throw new InvalidArgumentError('you must choose at least one stream');
    const info = await this.#opts.lookup.lookup(ref, signal);
    const path = this.logPath(info.id);
    const hub = this.#hubs.get(info.id);
    const run = hub?.run && !hub.run.done ? hub.run : undefined;
    const wanted = (e: LogEntry) => (e.stream === 'stdout' ? opts.stdout : opts.stderr);
    const follow = opts.follow && info.running && run !== undefined && hub !== undefined;
    // Subscribe and note the file position in the same tick: the file up to there, then live.
    const sub = follow ? hub.lines.subscribe() : undefined;
    const endOffset = follow ? run.log.position : undefined;
    const read = { tail: opts.tail, sinceNano: opts.sinceNano, untilNano: opts.untilNano, endOffset };
    async function* entries(): AsyncGenerator<LogEntry> {
      try {
        for await (const e of readLogEntries(path, read)) if (wanted(e)) yield e;
        if (!sub) return;
        for await (const e of sub) {
          if (opts.untilNano !== undefined && e.timeNano > opts.untilNano) return;
          if (opts.sinceNano !== undefined && e.timeNano < opts.sinceNano) continue;
          if (wanted(e)) yield e;
        }
      } finally {
        sub?.close();
      }
    }
    return { tty: info.tty, entries: entries() };
  }

  async attach(ref: string, opts: AttachOptions, signal?: AbortSignal): Promise<AttachSession> {
    const info = await this.#opts.lookup.lookup(ref, signal);
    const hub = this.#hub(info.id);
    const sub: Subscription<OutputChunk> | undefined = opts.stream ? hub.output.subscribe() : undefined;
    const wanted = (c: { stream: string }) => (c.stream === 'stdout' ? opts.stdout : opts.stderr);
    const path = this.logPath(info.id);
    async function* output(): AsyncGenerator<OutputChunk> {
      try {
        if (opts.logs) {
          for await (const e of readLogEntries(path)) {
            if (wanted(e)) yield { stream: info.tty ? 'stdout' : e.stream, data: Buffer.from(e.log) };
          }
        }
        if (sub) for await (const c of sub) if (wanted(c)) yield c;
      } finally {
        sub?.close();
      }
    }
    const session: AttachSession = { tty: info.tty, output: output() };
    if (opts.stdin && info.openStdin && opts.stream) session.stdin = this.#stdinSink(info, hub);
    return session;
  }

  #stdinSink(info: ContainerIoInfo, hub: Hub): StdinSink {
    const stdinOf = async (signal?: AbortSignal) => {
      // Attached before start (`docker run -i`): wait for prepare() to open the FIFO.
      while (!hub.run?.fifos.stdin && !signal?.aborted && this.#hubs.get(info.id) === hub) {
        await new Promise<void>((r) => {
          hub.stdinWaiters.push(r);
          signal?.addEventListener('abort', () => r(), { once: true });
        });
      }
      return hub.run?.fifos.stdin;
    };
    return {
      async write(chunk, signal) {
        const s = await stdinOf(signal);
        if (s) await writeAll(s, chunk, signal);
      },
      end: () => {
        if (!info.stdinOnce) return;
        const run = hub.run;
        if (run?.fifos.stdin) {
          // Input may end before the task started (`docker run -i` sends it right after
          // attaching): until the shim opened the FIFO, closing our end would discard what is
          // buffered, and CloseIO would be refused. The shim keeps a writer of its own, so
          // CloseIO (after our buffered input) is the process's EOF.
          const stdin = run.fifos.stdin;
          delete run.fifos.stdin;
          void this.#closeStdinWhenRunning(info.id, stdin);
        }
      },
    };
  }

  async #closeStdinWhenRunning(id: string, stdin: net.Socket): Promise<void> {
    try {
      for (let i = 0; i < 600; i++) {
        const info = await this.#opts.lookup.lookup(id).catch(() => undefined);
        if (!info || !this.#hubs.get(id)?.run || this.#hubs.get(id)?.run?.done) return;
        if (info.running) {
          stdin.destroySoon();
          if (!stdin.closed) await once(stdin, 'close');
          await this.#opts.tasks.closeIO(id).catch(() => undefined);
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      stdin.destroy();
    }
  }

  async resize(ref: string, height: number, width: number, signal?: AbortSignal): Promise<void> {
    const info = await this.#opts.lookup.lookup(ref, signal);
    if (!info.running) throw new ConflictError(`Container ${info.id} is not running`);
    await this.#opts.tasks.resizePty(info.id, width, height);
  }
}
