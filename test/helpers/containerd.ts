// Test harness: a real containerd (Debian's 1.6 binary) with its own root, state and sockets in
// a fresh temp dir, CRI disabled. Needs root. Used by the integration tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ContainerdClient } from '../../src/containerd/client.js';

const execFileP = promisify(execFile);

/** RunningContainerd is a harness-managed containerd. */
export interface RunningContainerd {
  /** address is the grpc socket path (bare path, as ckptd's --containerd takes it). */
  address: string;
  root: string;
  state: string;
  /** dir is the temp dir holding everything (config.toml, containerd.log, sockets). */
  dir: string;
  /** stop terminates containerd and its shims, unmounts leftovers and removes dir. */
  stop(): Promise<void>;
  /** kill SIGKILLs containerd (shims survive, as in a crash); dir is kept for restart(). */
  kill(): Promise<void>;
  /** restart starts containerd again on the same config and waits until it answers. */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;

/** startContainerd starts containerd in a fresh temp dir and waits until Version answers. */
export async function startContainerd(): Promise<RunningContainerd> {
  if (process.getuid?.() !== 0) throw new Error('startContainerd needs root (containerd mounts snapshots)');
  const dir = await mkdtemp(join(tmpdir(), 'ckptd-ctd-'));
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  // Shim sockets live under containerd 1.6's fixed /run/containerd/s/<hash of address> (not
  // configurable in 1.6); the shims' bundles and state go under our state dir.
  await writeFile(
    config,
    [
      'version = 2',
      `root = ${JSON.stringify(root)}`,
      `state = ${JSON.stringify(state)}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = ${JSON.stringify(address)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(address + '.ttrpc')}`,
      '[debug]',
      `  address = ${JSON.stringify(join(dir, 'debug.sock'))}`,
      '  level = "info"',
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const log = await open(join(dir, 'containerd.log'), 'a');
    child = spawn('containerd', ['--config', config], { stdio: ['ignore', log.fd, log.fd] });
    child.once('exit', () => void log.close().catch(() => {}));
    await waitReady(address, child, dir);
  };
  const killChild = async (signal: NodeJS.Signals, timeoutMs: number): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    address,
    root,
    state,
    dir,
    async kill() {
      await killChild('SIGKILL', 0);
    },
    async restart() {
      await killChild('SIGKILL', 0);
      await launch();
    },
    async stop() {
      await killChild('SIGTERM', 10_000);
      await killShims(address);
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitReady(address: string, child: ChildProcess, dir: string): Promise<void> {
  const client = new ContainerdClient({ address, namespace: 'default' });
  const end = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = await readFile(join(dir, 'containerd.log'), 'utf8').catch(() => '');
        throw new Error(`containerd exited (${child.exitCode ?? child.signalCode}):\n${log.slice(-2000)}`);
      }
      try {
        await client.version.version({ deadlineMs: 1000 });
        return;
      } catch {
        if (Date.now() > end)
          throw new Error(`containerd did not answer on ${address} within ${READY_TIMEOUT_MS} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    client.close();
  }
}

/** killShims kills the runc shims our containerd started (they outlive containerd by design). */
async function killShims(address: string): Promise<void> {
  let out = '';
  try {
    out = (await execFileP('pgrep', ['-f', `containerd-shim.*-address ${address}`])).stdout;
  } catch {
    return; // none
  }
  for (const pid of out
    .split('\n')
    .map(Number)
    .filter((n) => n > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** unmountUnder lazily unmounts every mount below dir, deepest first. */
export async function unmountUnder(dir: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')))
    .map((p) => p.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    await execFileP('umount', ['-l', p]).catch(() => {});
  }
}
