/**
 * The FIFO set of one process (a container's init or an exec): creation, opening, and merging
 * its output sockets into one async iterable with backpressure.
 */
import { once } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import type net from 'node:net';
import { join } from 'node:path';
import { mkfifo, openFifoReader, openFifoWriter } from './fifo.js';
import type { OutputChunk } from './mux.js';
import type { TaskIO } from './types.js';

/** ProcessFifos are the open ends of one process's FIFOs. */
export interface ProcessFifos {
  io: TaskIO;
  readers: { stream: 'stdout' | 'stderr'; socket: net.Socket }[];
  stdin?: net.Socket;
}

/** fifoPaths names a process's FIFOs in `dir` (containerd's cio uses `<id>-stdout` too). */
export function fifoPaths(dir: string, name: string, opts: { tty: boolean; stdin: boolean }): TaskIO {
  return {
    stdin: opts.stdin ? join(dir, `${name}-stdin`) : '',
    stdout: join(dir, `${name}-stdout`),
    stderr: opts.tty ? '' : join(dir, `${name}-stderr`),
    terminal: opts.tty,
  };
}

/** createFifos makes the FIFOs of `io` (dir 0700) and opens ckptd's ends of them. */
export async function createFifos(dir: string, io: TaskIO): Promise<ProcessFifos> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const p of [io.stdin, io.stdout, io.stderr]) if (p) await mkfifo(p);
  return openFifos(io);
}

/** openFifos opens existing FIFOs (after a restart the shim still holds its ends). */
export function openFifos(io: TaskIO): ProcessFifos {
  const readers: ProcessFifos['readers'] = [{ stream: 'stdout', socket: openFifoReader(io.stdout) }];
  try {
    if (io.stderr) readers.push({ stream: 'stderr', socket: openFifoReader(io.stderr) });
    const stdin = io.stdin ? openFifoWriter(io.stdin) : undefined;
    return { io, readers, ...(stdin ? { stdin } : {}) };
  } catch (err) {
    for (const r of readers) r.socket.destroy();
    throw err;
  }
}

/** closeFifos closes ckptd's ends. */
export function closeFifos(f: ProcessFifos): void {
  for (const r of f.readers) r.socket.destroy();
  f.stdin?.destroy();
}

/** removeFifos deletes a process's FIFO files. */
export async function removeFifos(io: TaskIO): Promise<void> {
  await Promise.all([io.stdin, io.stdout, io.stderr].filter((p) => p).map((p) => rm(p, { force: true })));
}

/** MERGE_HIGH_WATER pauses the FIFOs when this many bytes wait for the consumer. */
export const MERGE_HIGH_WATER = 256 * 1024;

/**
 * mergeOutput yields the chunks of every reader as they come, until all reached EOF. When the
 * consumer lags by MERGE_HIGH_WATER bytes the sockets are paused (the process then blocks on
 * its full pipe, as under dockerd): memory stays bounded.
 */
export async function* mergeOutput(readers: ProcessFifos['readers']): AsyncGenerator<OutputChunk> {
  const queue: OutputChunk[] = [];
  let bytes = 0;
  let open = readers.length;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const cleanups: (() => void)[] = [];
  for (const { stream, socket } of readers) {
    const onData = (data: Buffer) => {
      queue.push({ stream, data });
      bytes += data.length;
      if (bytes >= MERGE_HIGH_WATER) for (const r of readers) r.socket.pause();
      signal();
    };
    let ended = false;
    const onEnd = () => {
      if (ended) return;
      ended = true;
      open--;
      signal();
    };
    const onError = (err: Error) => {
      failure ??= err;
      onEnd();
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    cleanups.push(() => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    });
  }
  try {
    for (;;) {
      const c = queue.shift();
      if (c) {
        bytes -= c.data.length;
        if (bytes < MERGE_HIGH_WATER / 2) for (const r of readers) r.socket.resume();
        yield c;
        continue;
      }
      if (open === 0) break;
      await new Promise<void>((r) => (wake = r));
    }
    if (failure) throw failure;
  } finally {
    for (const c of cleanups) c();
  }
}

/** writeAll writes to a socket honouring backpressure. */
export async function writeAll(s: net.Socket, chunk: Buffer, signal?: AbortSignal): Promise<void> {
  if (s.destroyed) return;
  if (!s.write(chunk)) await once(s, 'drain', signal ? { signal } : {});
}
