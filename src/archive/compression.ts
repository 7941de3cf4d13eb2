/**
 * Compression detection and streaming (de)compressors for image archives and layers.
 *
 * gzip goes through node:zlib. Node 20 has no zstd and neither bzip2 nor xz, so those run the
 * HOST's `zstd`, `bzip2` and `xz` binaries as streaming filters (stdin -> stdout). Never a
 * program from a container rootfs: GHSA-x86f-5xw2-fm2r had dockerd run a container's
 * `/usr/bin/xz` as host root. The binaries are resolved from a fixed list of host directories,
 * not from PATH, for the same reason.
 */
import { tiedCommand } from '../host/tied-spawn.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Duplex, PassThrough, Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import zlib from 'node:zlib';

import { EngineError, InternalError, InvalidArgumentError } from '../errors/index.js';

/** CompressionKind is a stream compression ckptd can detect. */
export type CompressionKind = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** MAGIC_BYTES is how many leading bytes detectCompression needs to tell every kind apart. */
export const MAGIC_BYTES = 6;

/**
 * detectCompression tells the compression of a stream from its first bytes (magic numbers, as
 * moby's `archive.DetectCompression`). Too few bytes, or no known magic, means 'none'.
 */
export function detectCompression(head: Uint8Array): CompressionKind {
  const has = (magic: readonly number[]): boolean =>
    head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (has([0x1f, 0x8b, 0x08])) return 'gzip';
  if (has([0x42, 0x5a, 0x68])) return 'bzip2';
  if (has([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (has([0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  return 'none';
}

const HOST_BIN_DIRS = ['/usr/bin', '/bin', '/usr/local/bin'];
const STDERR_CAP = 4096;

function hostBinary(name: string): string {
  for (const dir of HOST_BIN_DIRS) {
    const candidate = `${dir}/${name}`;
    if (existsSync(candidate)) return candidate;
  }
  throw new InternalError(`${name} is not installed on the host (needed for ${name} streams)`);
}

/** ErrorFactory builds the error a filter reports when its program fails. */
type ErrorFactory = (message: string) => EngineError;

/**
 * ProcessFilter runs a host program as a Duplex: writes go to its stdin, its stdout is the
 * readable side. Backpressure holds both ways (a full stdin pipe delays the write callback, a
 * full readable buffer pauses stdout). destroy() kills the child. A nonzero exit fails the
 * stream with the program's stderr in the message.
 */
class ProcessFilter extends Duplex {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #what: string;
  readonly #makeError: ErrorFactory;
  #stderr = '';
  #pendingWrite: ((err?: Error | null) => void) | null = null;
  #exited = false;

  constructor(program: string, args: string[], what: string, makeError: ErrorFactory) {
    super();
    this.#what = what;
    this.#makeError = makeError;
    this.#child = spawn(...tiedCommand(hostBinary(program), args), { stdio: ['pipe', 'pipe', 'pipe'] });
    const child = this.#child;
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.#stderr.length < STDERR_CAP) this.#stderr += chunk.toString('utf8').slice(0, STDERR_CAP);
    });
    // EPIPE on stdin means the program exited early; its exit status tells why.
    child.stdin.on('error', () => this.#releaseWrite());
    child.on('error', (err) => this.destroy(this.#makeError(`${what}: ${err.message}`)));
    child.on('close', (code, signal) => {
      this.#exited = true;
      this.#releaseWrite();
      if (this.destroyed) return;
      if (code === 0) {
        this.push(null);
        return;
      }
      const detail = this.#stderr.trim() || (signal ? `killed by ${signal}` : 'no error output');
      this.destroy(this.#makeError(`${what} failed (exit ${code ?? signal}): ${detail}`));
    });
  }

  #releaseWrite(): void {
    const cb = this.#pendingWrite;
    this.#pendingWrite = null;
    cb?.();
  }

  override _read(): void {
    this.#child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#exited || this.#child.stdin.destroyed) {
      cb();
      return;
    }
    if (this.#child.stdin.write(chunk)) {
      cb();
      return;
    }
    this.#pendingWrite = cb;
    this.#child.stdin.once('drain', () => this.#releaseWrite());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#child.stdin.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
    this.#child.stdin.destroy();
    this.#child.stdout.destroy();
    this.#child.stderr.destroy();
    this.#releaseWrite();
    cb(err);
  }

  /** pid of the helper process (for diagnostics and tests). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  override toString(): string {
    return `ProcessFilter(${this.#what})`;
  }
}

const badInput: ErrorFactory = (m) => new InvalidArgumentError(m);
const internal: ErrorFactory = (m) => new InternalError(m);

function zlibError<T extends Duplex>(what: string, make: ErrorFactory, stream: T): T {
  // Re-label zlib's errors ("incorrect header check") with what failed and the right kind:
  // the error handed to _destroy's callback is the one emitted and seen by pipeline().
  const destroyImpl = stream._destroy.bind(stream);
  stream._destroy = (err, cb) =>
    destroyImpl(err, (err2) => {
      const e = err2 ?? err;
      cb(e && !(e instanceof EngineError) ? make(`${what}: ${e.message}`) : e);
    });
  return stream;
}

/**
 * decompressStream returns a Duplex that decompresses `kind` (identity for 'none'). Corrupt
 * input fails it with an InvalidArgumentError (the input came from a client).
 */
export function decompressStream(kind: CompressionKind): Duplex {
  if (kind === 'gzip') return zlibError('gzip decompression', badInput, zlib.createGunzip());
  const stage = decompressorStage(kind);
  return stage ? new ProcessFilter(stage.program, stage.args, stage.what, badInput) : new PassThrough();
}

/**
 * compressStream returns a Duplex that compresses to `kind`. Defaults favour speed, as docker
 * and containerd do for layers: gzip 6 (zlib default), zstd 3 multi-threaded, xz 6, bzip2 9.
 * gzip runs in node:zlib, the others as host programs (compressorStage).
 */
export function compressStream(kind: CompressionKind, level?: number): Duplex {
  if (kind === 'gzip') return zlibError('gzip compression', internal, zlib.createGzip({ level: level ?? 6 }));
  const stage = compressorStage(kind, level);
  return stage ? new ProcessFilter(stage.program, stage.args, stage.what, internal) : new PassThrough();
}

/**
 * AutoDecompress peeks at the first bytes written to it, then routes everything through the
 * matching decompressor. `kind` is set once known; 'compression' is emitted with it.
 */
export class AutoDecompress extends Duplex {
  kind: CompressionKind | undefined;
  #head: Buffer[] = [];
  #headLen = 0;
  #inner: Duplex | undefined;

  override _read(): void {
    this.#inner?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#inner) {
      this.#forward(chunk, cb);
      return;
    }
    this.#head.push(chunk);
    this.#headLen += chunk.length;
    if (this.#headLen < MAGIC_BYTES) {
      cb();
      return;
    }
    this.#start();
    this.#forward(this.#takeHead(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.#inner) {
      this.#start();
      const head = this.#takeHead();
      if (head.length > 0) this.#inner!.write(head);
    }
    this.#inner!.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#inner?.destroy();
    cb(err);
  }

  #takeHead(): Buffer {
    const head = Buffer.concat(this.#head);
    this.#head = [];
    return head;
  }

  #start(): void {
    const kind = detectCompression(Buffer.concat(this.#head));
    this.kind = kind;
    this.emit('compression', kind);
    const inner = decompressStream(kind);
    this.#inner = inner;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
  }

  #forward(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const inner = this.#inner!;
    if (inner.write(chunk)) {
      cb();
      return;
    }
    const onDrain = (): void => {
      inner.off('close', onDrain);
      inner.off('drain', onDrain);
      cb();
    };
    inner.on('drain', onDrain);
    inner.on('close', onDrain);
  }
}

/** autoDecompress returns a Duplex that detects the input's compression and undoes it. */
export function autoDecompress(): AutoDecompress {
  return new AutoDecompress();
}

/**
 * ByteLimit passes bytes through and fails with an InvalidArgumentError once more than `limit`
 * have passed: the guard against decompression bombs (CVE-2017-14992).
 */
export class ByteLimit extends Transform {
  readonly #limit: number;
  readonly #what: string;
  #seen = 0;

  constructor(limit: number, what = 'input') {
    super();
    this.#limit = limit;
    this.#what = what;
  }

  /** bytes is how many bytes have passed so far. */
  get bytes(): number {
    return this.#seen;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) {
      cb(new InvalidArgumentError(`${this.#what} exceeds the limit of ${this.#limit} bytes`));
      return;
    }
    cb(null, chunk);
  }
}

/** FAILURE_GRACE_MS is how long the other programs of a failed pipeline may take to exit. */
const FAILURE_GRACE_MS = 300;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  killed: boolean;
}

/** PipelineStage is one host program of spawnPipeline: `what` names it in errors. */
export interface PipelineStage {
  program: string;
  args: string[];
  what: string;
  /** uid and gid to run as (both or neither), e.g. nobody for a program parsing untrusted input */
  user?: { uid: number; gid: number };
  /** working directory, entered before the program drops to `user` */
  cwd?: string;
  /** the program's whole environment (default: the daemon's) */
  env?: Record<string, string>;
}

/**
 * ProcessPipeline runs host programs wired stdout -> stdin, as a shell pipeline: the bytes
 * between them never pass through Node (no buffers to allocate and collect). The last program's
 * stdout is the readable side, with backpressure. It ends once every program exited 0; when one
 * fails, the others are killed and the stream fails with the cause's name and stderr.
 * destroy() kills them all.
 */
class ProcessPipeline extends Readable {
  readonly #children: ChildProcessWithoutNullStreams[] = [];
  readonly #stderr: string[] = [];
  readonly #exits: (Exit | undefined)[] = [];
  /** stages this pipeline killed itself after another failed: never named as the cause */
  readonly #killed = new Set<number>();
  #failing = false;
  readonly #stages: readonly PipelineStage[];
  readonly #makeError: ErrorFactory;
  #allExited!: () => void;
  /** exited resolves once every program has exited (whatever the outcome); it never rejects. */
  readonly exited = new Promise<void>((resolve) => (this.#allExited = resolve));
  /** stdin is the first program's input when the pipeline was opened with `stdin: true`. */
  readonly stdin: Writable | undefined;

  constructor(
    stages: readonly PipelineStage[],
    makeError: ErrorFactory,
    stdout?: Socket | number,
    stdin = false,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.#stages = stages;
    this.#makeError = makeError;
    let upstream: Readable | undefined;
    for (const [i, stage] of stages.entries()) {
      let child: ChildProcessWithoutNullStreams;
      try {
        const out = i === stages.length - 1 && stdout !== undefined ? stdout : 'pipe';
        const input = upstream ?? (stdin ? 'pipe' : 'ignore');
        child = spawn(...tiedCommand(hostBinary(stage.program), stage.args), {
          stdio: [input, out, 'pipe'],
          ...(stage.user ? { uid: stage.user.uid, gid: stage.user.gid } : {}),
          ...(stage.cwd !== undefined ? { cwd: stage.cwd } : {}),
          ...(stage.env !== undefined ? { env: stage.env } : {}),
        }) as unknown as ChildProcessWithoutNullStreams;
      } catch (err) {
        this.#killAll();
        this.#allExited();
        throw err;
      }
      // the child holds its own copy of the pipe: ours must go, or the writer upstream would
      // never see EPIPE when this program exits early
      upstream?.destroy();
      if (i === 0 && stdin) {
        this.stdin = child.stdin;
        // a program that exits before reading all of its input: its status tells why
        child.stdin.on('error', () => undefined);
      }
      this.#children.push(child);
      this.#stderr.push('');
      this.#exits.push(undefined);
      child.stderr.on('data', (chunk: Buffer) => {
        if ((this.#stderr[i] ?? '').length < STDERR_CAP) this.#stderr[i] += chunk.toString('utf8');
      });
      child.on('error', (err) => this.destroy(this.#makeError(`${stage.what}: ${err.message}`)));
      child.on('close', (code, signal) => {
        // a program that had exited before our kill landed keeps its own status
        this.#exits[i] = { code, signal, killed: this.#killed.has(i) && signal === 'SIGKILL' };
        if (this.#exits.length === stages.length && this.#exits.every((x) => x !== undefined)) {
          this.#allExited();
        }
        this.#settle(i);
      });
      upstream = child.stdout;
    }
    // with `stdout`, the last program writes there itself: this stream only reports the end
    const last = this.#children[this.#children.length - 1]!;
    last.stdout?.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) last.stdout.pause();
    });
  }

  #settle(i: number): void {
    if (this.destroyed) return;
    const failed = (x: Exit | undefined) => x !== undefined && x.code !== 0 && !x.killed;
    if (failed(this.#exits[i]) && !this.#failing) {
      // Give the others a moment to end by themselves (the cause may be one of them, still
      // exiting), then stop them (one may be blocked forever); name the cause once all closed.
      this.#failing = true;
      setTimeout(() => {
        for (const [j, c] of this.#children.entries()) {
          if (this.#exits[j] === undefined && c.exitCode === null && c.signalCode === null) {
            this.#killed.add(j);
            c.kill('SIGKILL');
          }
        }
      }, FAILURE_GRACE_MS).unref();
    }
    if (!this.#exits.every((x) => x !== undefined)) return;
    if (!this.#failing) {
      this.push(null);
      return;
    }
    // The cause: the first program (upstream-most) that failed by itself; a writer's broken pipe
    // (SIGPIPE, EPIPE, ECONNRESET: Node's stdio pipes are socketpairs) is only a symptom of its
    // reader's failure, so it is named only when nothing else failed.
    const failures = this.#exits.flatMap((x, j) => (failed(x) ? [j] : []));
    const symptom = (j: number) =>
      this.#exits[j]!.signal === 'SIGPIPE' ||
      /broken pipe|connection reset by peer|EPIPE|ECONNRESET/i.test(this.#stderr[j] ?? '');
    // The last program succeeded and the others only lost their reader: it stopped reading once
    // it had all it needed (GNU tar stops at an archive's end marker), so the rest was padding.
    const lastExit = this.#exits[this.#exits.length - 1];
    if (lastExit?.code === 0 && failures.every(symptom)) {
      this.push(null);
      return;
    }
    const cause = failures.find((j) => !symptom(j)) ?? failures[failures.length - 1]!;
    const e = this.#exits[cause]!;
    const detail =
      (this.#stderr[cause] ?? '').trim() || (e.signal ? `killed by ${e.signal}` : 'no error output');
    this.destroy(
      this.#makeError(`${this.#stages[cause]!.what} failed (exit ${e.code ?? e.signal}): ${detail}`),
    );
  }

  override _read(): void {
    this.#children[this.#children.length - 1]?.stdout?.resume();
  }

  #killAll(): void {
    this.stdin?.destroy();
    for (const c of this.#children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      c.stdout?.destroy();
      c.stderr.destroy();
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#killAll();
    cb(err);
  }

  /** pids of the programs (for diagnostics and tests). */
  get pids(): (number | undefined)[] {
    return this.#children.map((c) => c.pid);
  }
}

/**
 * spawnPipeline starts `stages` as one pipeline of host programs (resolved from fixed host
 * directories, never PATH) and returns the last one's output; failures are InternalErrors
 * unless `makeError` says otherwise. With `stdout` (a connected socket in blocking mode, see
 * the HTTP layer's direct bodies) the last program writes into it itself and the returned
 * stream carries no data: it ends when every program succeeded. With `stdin`, the first
 * program reads what is written to the returned `stdin`.
 */
export function spawnPipeline(
  stages: readonly PipelineStage[],
  opts: { makeError?: ErrorFactory; stdout?: Socket | number; stdin?: boolean } = {},
): ProgramOutput & { readonly pids: (number | undefined)[]; readonly stdin: Writable | undefined } {
  if (stages.length === 0) throw new InternalError('spawnPipeline: no stages');
  return new ProcessPipeline(stages, opts.makeError ?? internal, opts.stdout, opts.stdin);
}

/**
 * ArchiveSource is an archive ready to be produced by host programs: open() starts them, with
 * their output either read through the returned stream or, given `stdout`, written straight
 * into that socket (the returned stream then only ends or fails).
 */
export interface ArchiveSource {
  open(stdout?: Socket): ProgramOutput;
}

/** ProgramOutput is the output of host programs; `exited` resolves once they all exited. */
export type ProgramOutput = Readable & { readonly exited: Promise<void> };

/** pipelineSource is the ArchiveSource of a fixed pipeline of host programs. */
export function pipelineSource(stages: readonly PipelineStage[]): ArchiveSource {
  return { open: (stdout) => spawnPipeline(stages, stdout ? { stdout } : {}) };
}

/** EMPTY_TAR is a stage writing an empty tar (its two end blocks): GNU tar refuses to. */
export const EMPTY_TAR: PipelineStage = {
  program: 'head',
  args: ['-c', '1024', '/dev/zero'],
  what: 'empty tar',
};

/**
 * sendSource lets `send` open `source` and, however send ends, stops its programs and waits
 * until they are gone: what they read (a mount, a pinned directory) may be released after.
 */
export async function sendSource(
  source: ArchiveSource,
  send: (source: ArchiveSource) => Promise<void>,
): Promise<void> {
  let out: ProgramOutput | undefined;
  try {
    await send({ open: (stdout) => (out = source.open(stdout)) });
  } finally {
    out?.destroy();
    await out?.exited;
  }
}

/**
 * decompressorStage is the host program that undoes `kind` (undefined for 'none'), reading
 * stdin and writing stdout; decompressStream runs gzip in node:zlib, the others this way.
 */
export function decompressorStage(kind: CompressionKind): PipelineStage | undefined {
  switch (kind) {
    case 'none':
      return undefined;
    case 'gzip':
      return { program: 'gzip', args: ['-dc'], what: 'gzip decompression' };
    case 'zstd':
      return { program: 'zstd', args: ['-dcq'], what: 'zstd decompression' };
    case 'xz':
      return { program: 'xz', args: ['-dc', '-T0'], what: 'xz decompression' };
    case 'bzip2':
      return { program: 'bzip2', args: ['-dc'], what: 'bzip2 decompression' };
  }
}

/**
 * compressorStage is the host program that compresses `kind` (undefined for 'none'), with
 * compressStream's default levels; gzip as the host's gzip, for a pipeline of programs.
 */
export function compressorStage(kind: CompressionKind, level?: number): PipelineStage | undefined {
  switch (kind) {
    case 'none':
      return undefined;
    case 'gzip':
      return { program: 'gzip', args: ['-c', `-${level ?? 6}`], what: 'gzip compression' };
    case 'zstd':
      return { program: 'zstd', args: ['-cq', '-T0', `-${level ?? 3}`], what: 'zstd compression' };
    case 'xz':
      return { program: 'xz', args: ['-c', '-T0', `-${level ?? 6}`], what: 'xz compression' };
    case 'bzip2':
      return { program: 'bzip2', args: ['-c', `-${level ?? 9}`], what: 'bzip2 compression' };
  }
}
