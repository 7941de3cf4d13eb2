// Shared pieces of the fault tests (crash-ops, containerd-restart): requests whose body is sent
// or whose answer is read at a bounded rate (so a kill lands in the middle of the operation), a
// throttling proxy in front of a registry, and a loopback docker-registry.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http, { request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SlowRequest is a request in flight: `sent` counts body bytes written, `result` its end. */
export interface SlowRequest {
  sent(): number;
  received(): number;
  /** result resolves with the status and body, or with the transport error (a killed daemon). */
  result: Promise<{ status: number; body: string } | { error: string }>;
  abort(): void;
}

/**
 * slowRequest sends `file` (when given) as the body at about bytesPerSec; the answer is read
 * at readBytesPerSec (default: as fast as it comes).
 */
export function slowRequest(
  socket: string,
  method: string,
  path: string,
  opts: {
    file?: string;
    body?: string;
    bytesPerSec?: number;
    readBytesPerSec?: number;
    headers?: Record<string, string>;
  } = {},
): SlowRequest {
  let sent = 0;
  let received = 0;
  const chunks: Buffer[] = [];
  let abort = (): void => {};
  const result = new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
    const req = request({ socketPath: socket, method, path, headers: opts.headers ?? {} }, (res) => {
      readSlowly(res, opts.readBytesPerSec, (c) => {
        received += c.length;
        if (chunks.length < 64) chunks.push(c);
      });
      // a body cut short (the daemon died) is an error, whatever the parser reports at the end
      res.on('end', () =>
        resolve(
          res.complete
            ? { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }
            : { error: 'incomplete body' },
        ),
      );
      res.on('close', () => {
        if (!res.complete) resolve({ error: 'incomplete body' });
      });
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('error', (err) => resolve({ error: err.message }));
    abort = () => req.destroy();
    if (opts.file === undefined) {
      req.end(opts.body);
      return;
    }
    const rate = opts.bytesPerSec ?? 8 << 20;
    const src = createReadStream(opts.file, { highWaterMark: 256 << 10 });
    const t0 = Date.now();
    src.on('data', (c) => {
      sent += c.length;
      if (!req.write(c)) src.pause();
      const ahead = (sent / rate) * 1000 - (Date.now() - t0);
      if (ahead > 0) {
        src.pause();
        setTimeout(() => src.resume(), ahead);
      }
    });
    req.on('drain', () => src.resume());
    src.on('end', () => req.end());
    req.on('close', () => src.destroy());
  });
  return { sent: () => sent, received: () => received, result, abort };
}

function readSlowly(res: IncomingMessage, rate: number | undefined, onChunk: (c: Buffer) => void): void {
  if (rate === undefined) {
    res.on('data', onChunk);
    return;
  }
  let got = 0;
  const t0 = Date.now();
  res.on('data', (c: Buffer) => {
    got += c.length;
    onChunk(c);
    const ahead = (got / rate) * 1000 - (Date.now() - t0);
    if (ahead > 0) {
      res.pause();
      setTimeout(() => res.resume(), ahead);
    }
  });
}

/** waitFor polls cond every 50 ms until it holds (true) or timeoutMs passes (false). */
export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(50);
  }
  return false;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  return port;
}

/** Registry is a loopback Debian docker-registry (distribution 2.8). */
export interface Registry {
  host: string;
  kill(): Promise<void>;
}

/** startRegistry serves a plain-HTTP registry on 127.0.0.1 (insecure by default, as in dockerd). */
export async function startRegistry(dir: string): Promise<Registry> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const cfg = join(dir, 'config.yml');
  await writeFile(
    cfg,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', cfg], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const ok = await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const r = http.get(`http://127.0.0.1:${port}/v2/`, (res) => {
          res.resume();
          resolve(true);
        });
        r.on('error', () => resolve(false));
      }),
    20_000,
  );
  if (!ok) {
    child.kill('SIGKILL');
    throw new Error(`docker-registry did not start: ${err}`);
  }
  return {
    host: `127.0.0.1:${port}`,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
  };
}

/** ThrottleProxy forwards to a registry, sending blob bodies at a bounded rate. */
export interface ThrottleProxy {
  host: string;
  /** blobBytes counts the blob bytes sent so far. */
  blobBytes(): number;
  close(): Promise<void>;
}

/** startThrottleProxy listens on 127.0.0.1 and forwards to target (host:port) at bytesPerSec. */
export async function startThrottleProxy(target: string, bytesPerSec: number): Promise<ThrottleProxy> {
  const [thost, tport] = target.split(':');
  let blobBytes = 0;
  const server = http.createServer((req, res) => {
    const up = request(
      { host: thost, port: Number(tport), method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        if (!req.url?.includes('/blobs/')) {
          ur.pipe(res);
          return;
        }
        readSlowly(ur, bytesPerSec, (c) => {
          blobBytes += c.length;
          if (!res.write(c)) {
            ur.pause();
            res.once('drain', () => ur.resume());
          }
        });
        ur.on('end', () => res.end());
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    blobBytes: () => blobBytes,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
