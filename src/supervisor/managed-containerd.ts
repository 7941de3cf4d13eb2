import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';

/** ManagedContainerdOptions says where a managed containerd keeps its files. */
export interface ManagedContainerdOptions {
  /** dataRoot is ckptd's --data-root; containerd's root, state and socket live under it. */
  dataRoot: string;
  logger: Logger;
  /** binary is the containerd executable (default: `containerd` from PATH). */
  binary?: string;
  /** ready probes containerd (e.g. the Version RPC); resolves true once it answers. */
  ready: (address: string) => Promise<boolean>;
  /** startTimeoutMs bounds how long start() waits for the first ready probe (default 30 s). */
  startTimeoutMs?: number;
}

/** managedContainerdPaths lists where a managed containerd keeps root, state and sockets. */
export function managedContainerdPaths(dataRoot: string): {
  dir: string;
  root: string;
  state: string;
  address: string;
  ttrpcAddress: string;
  config: string;
  pidFile: string;
} {
  const dir = join(dataRoot, 'containerd');
  return {
    dir,
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    address: join(dir, 'containerd.sock'),
    ttrpcAddress: join(dir, 'containerd.sock.ttrpc'),
    config: join(dir, 'config.toml'),
    pidFile: join(dir, 'containerd.pid'),
  };
}

/** containerdConfigToml renders the config of a managed containerd (version 2 schema, containerd 1.6). */
export function containerdConfigToml(p: ReturnType<typeof managedContainerdPaths>): string {
  return [
    'version = 2',
    `root = ${JSON.stringify(p.root)}`,
    `state = ${JSON.stringify(p.state)}`,
    // ckptd speaks the Docker API, not CRI: the CRI plugin would only add start-up time and a
    // second (kubelet-facing) way to create containers.
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '',
    '[grpc]',
    `  address = ${JSON.stringify(p.address)}`,
    '  uid = 0',
    '  gid = 0',
    '',
    '[ttrpc]',
    `  address = ${JSON.stringify(p.ttrpcAddress)}`,
    '',
    '[debug]',
    '  level = "info"',
    '',
  ].join('\n');
}

/**
 * ManagedContainerd starts and supervises a private containerd, as dockerd does when no
 * system containerd answers: it restarts containerd with back-off when it dies unexpectedly
 * and stops it (SIGTERM, then SIGKILL) on stop(). Containers survive: their shims are
 * independent of the containerd process.
 */
export class ManagedContainerd {
  readonly paths: ReturnType<typeof managedContainerdPaths>;
  readonly #opts: ManagedContainerdOptions;
  #child: ChildProcess | undefined;
  #stopping = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(opts: ManagedContainerdOptions) {
    this.#opts = opts;
    this.paths = managedContainerdPaths(opts.dataRoot);
  }

  /** address is the unix socket path the managed containerd serves gRPC on. */
  get address(): string {
    return this.paths.address;
  }

  /** pid is the current containerd process id, if running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** start writes the config, spawns containerd and waits until it answers. */
  async start(): Promise<void> {
    const p = this.paths;
    await mkdir(p.dir, { recursive: true, mode: 0o711 });
    await mkdir(p.root, { recursive: true, mode: 0o711 });
    await mkdir(p.state, { recursive: true, mode: 0o711 });
    await writeFile(p.config, containerdConfigToml(p), { mode: 0o644 });
    await this.#killOrphan();
    // a socket left by a crashed containerd would make its bind fail
    await rm(p.address, { force: true });
    await rm(p.ttrpcAddress, { force: true });
    this.#spawn();
    const deadline = Date.now() + (this.#opts.startTimeoutMs ?? 30_000);
    for (;;) {
      if (await this.#opts.ready(p.address).catch(() => false)) break;
      if (this.#child === undefined || this.#child.exitCode !== null) {
        throw new Error(`managed containerd exited during start-up (see the log above)`);
      }
      if (Date.now() > deadline) throw new Error(`managed containerd did not answer on ${p.address} in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
    this.#opts.logger.info({ address: p.address, pid: this.pid }, 'managed containerd is ready');
  }

  /** #killOrphan stops a containerd left running by a ckptd that died without stopping it. */
  async #killOrphan(): Promise<void> {
    const pid = Number((await readFile(this.paths.pidFile, 'utf8').catch(() => '')).trim());
    if (!(pid > 0)) return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(this.paths.config)) return;
    this.#opts.logger.warn({ pid }, 'stopping a managed containerd left over by an earlier ckptd');
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (!(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''))) return;
    }
    process.kill(pid, 'SIGKILL');
  }

  #spawn(): void {
    const log = this.#opts.logger;
    const child = spawn(this.#opts.binary ?? 'containerd', ['--config', this.paths.config], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // runc finds CRIU on PATH; the CRIU 4 wrapper lives in /usr/local/sbin.
      env: { ...process.env, PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
      // its own process group: a Ctrl-C on ckptd's terminal must not reach containerd directly;
      // ckptd stops it in order, after its own streams are closed
      detached: true,
    });
    this.#child = child;
    if (child.pid) void writeFile(this.paths.pidFile, `${child.pid}\n`).catch(() => undefined);
    for (const s of [child.stdout, child.stderr]) {
      if (!s) continue;
      createInterface({ input: s }).on('line', (line) => log.debug({ containerd: line }, 'containerd'));
    }
    child.on('error', (err) => log.error({ err }, 'managed containerd failed to spawn'));
    child.on('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      if (this.#stopping) return;
      const delay = Math.min(10_000, 200 * 2 ** Math.min(this.#restarts, 6));
      this.#restarts++;
      log.warn({ code, signal, restartInMs: delay }, 'managed containerd exited; restarting');
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined;
        if (!this.#stopping) this.#spawn();
      }, delay);
    });
  }

  /** stop terminates containerd (SIGTERM, SIGKILL after timeoutMs) and stops supervising it. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
    this.#opts.logger.info('managed containerd stopped');
  }
}
