/**
 * FIFOs between ckptd and containerd's shim. Node has no mkfifo(3): `mkfifo` from coreutils
 * creates them. Read ends are opened O_RDONLY|O_NONBLOCK and wrapped in a net.Socket (a libuv
 * pipe polled by epoll) rather than fs streams, which would park a threadpool thread per FIFO.
 * Before the shim opens its write end, epoll reports nothing (Linux raises HUP only after a
 * writer came and went), so no early EOF is seen.
 */
import { execFile } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** mkfifo creates a FIFO at `path` (mode 0600) unless one exists there already. */
export async function mkfifo(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (st.isFIFO()) return;
    throw new Error(`${path} exists and is not a FIFO`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await execFileP('mkfifo', ['-m', '0600', path]);
}

/** openFifoReader opens a FIFO's read end without blocking, as a readable socket. */
export function openFifoReader(path: string): net.Socket {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return new net.Socket({ fd, readable: true, writable: false });
}

/**
 * openFifoWriter opens a FIFO for writing. O_RDWR makes open() succeed before the shim opened
 * its read end; closing the socket is the process's stdin EOF (ckptd is the only writer).
 */
export function openFifoWriter(path: string): net.Socket {
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  const s = new net.Socket({ fd, readable: false, writable: true });
  s.on('error', () => undefined); // EPIPE after the process exited: nothing to tell anyone
  return s;
}
