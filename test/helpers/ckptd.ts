import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** CkptdProcess is a ckptd started by a test as a real child process. */
export interface CkptdProcess {
  socket: string;
  dataRoot: string;
  dir: string;
  child: ChildProcess;
  /** logs holds everything ckptd wrote to stderr/stdout so far. */
  logs(): string;
  /** stop sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** cleanup stops ckptd if needed and removes its temp dir. */
  cleanup(): Promise<void>;
}

/** startCkptd runs `src/main.ts` under tsx with a temp data root and socket, and waits for /_ping. */
export async function startCkptd(
  args: string[] = [],
  opts: { dataRoot?: string } = {},
): Promise<CkptdProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'ckptd-it-'));
  const socket = join(dir, 'ckptd.sock');
  const dataRoot = opts.dataRoot ?? join(dir, 'data');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/main.ts'),
      '-H',
      `unix://${socket}`,
      '--data-root',
      dataRoot,
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ckptd exited during start-up (${child.exitCode}):\n${out}`);
    const ok = await httpRequest(socket, 'GET', '/_ping').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`ckptd did not answer in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const code = await exited;
    // the temp dir holds only the socket unless the data root is in it: a test that restarts
    // ckptd on its own data root never calls cleanup() for the first daemon
    if (!dataRoot.startsWith(`${dir}/`)) await rm(dir, { recursive: true, force: true });
    return code;
  };
  return {
    socket,
    dataRoot,
    dir,
    child,
    logs: () => out,
    stop,
    cleanup: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** HttpResult is a whole HTTP response (tests only: bodies are small). */
export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** HttpBufferResult is a whole HTTP response with its body as bytes (archives, images). */
export interface HttpBufferResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** httpRequest sends one request over a unix socket and reads the whole answer. */
export async function httpRequest(
  socket: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<HttpResult> {
  const r = await httpBuffer(socket, method, path, body, headers, timeoutMs);
  return { ...r, body: r.body.toString() };
}

/** httpBuffer is httpRequest with the answer's body kept as bytes (default timeout 180 s). */
export function httpBuffer(
  socket: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<HttpBufferResult> {
  return new Promise((resolveP, reject) => {
    const req = request({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolveP({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.end(body);
  });
}
