// Test harness: Debian's dockerd 20.10 (package docker.io) as the reference the side-by-side
// test compares ckptd with. It runs on a containerd of its own (startContainerd: private root,
// state and sockets, never /run/containerd/containerd.sock) with its own data root, exec root,
// unix socket, pidfile, config file and key file, no iptables and no bridge: nothing of the
// host's Docker setup is read or written. Experimental is on (checkpoint routes). Needs root.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { httpRequest } from './ckptd.js';
import { startContainerd, unmountUnder, type RunningContainerd } from './containerd.js';

const execFileP = promisify(execFile);

/** DOCKERD is where Debian's docker.io installs dockerd. */
export const DOCKERD = '/usr/sbin/dockerd';

/** RunningDockerd is a test-started dockerd 20.10. */
export interface RunningDockerd {
  socket: string;
  dir: string;
  version: string;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/** dockerdMissing says why the reference dockerd cannot run here, or undefined when it can. */
export async function dockerdMissing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(DOCKERD))
    return `${DOCKERD} not installed (Debian package docker.io: scripts/setup-host.sh)`;
  try {
    const { stdout } = await execFileP(DOCKERD, ['--version']);
    if (!/Docker version 20\.10\./.test(stdout)) return `${DOCKERD} is not 20.10: ${stdout.trim()}`;
  } catch (err) {
    return `${DOCKERD} --version failed: ${String(err)}`;
  }
  return undefined;
}

/** startDockerd starts containerd and dockerd in a fresh temp dir and waits for /_ping. */
export async function startDockerd(): Promise<RunningDockerd> {
  const ctd: RunningContainerd = await startContainerd();
  const dir = await mkdtemp(join(tmpdir(), 'ckptd-dockerd-'));
  const socket = join(dir, 'docker.sock');
  const configFile = join(dir, 'daemon.json');
  // the trust key goes to /etc/docker/key.json unless the config file says where (no flag in 20.10)
  await writeFile(configFile, `${JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') })}\n`);
  const logPath = join(dir, 'dockerd.log');
  const log = await open(logPath, 'a');
  const child: ChildProcess = spawn(
    DOCKERD,
    [
      `--containerd=${ctd.address}`,
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'exec')}`,
      `--pidfile=${join(dir, 'docker.pid')}`,
      `--config-file=${configFile}`,
      '-H',
      `unix://${socket}`,
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--userland-proxy=false',
      '--group=root',
      // checkpoint routes exist in 20.10 only with experimental on
      '--experimental',
    ],
    { stdio: ['ignore', log.fd, log.fd] },
  );
  child.once('exit', () => void log.close().catch(() => {}));
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await ctd.stop();
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const out = await readFile(logPath, 'utf8').catch(() => '');
      await stop();
      throw new Error(`dockerd exited during start-up:\n${out.slice(-3000)}`);
    }
    const ok = await httpRequest(socket, 'GET', '/_ping').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      const out = await readFile(logPath, 'utf8').catch(() => '');
      await stop();
      throw new Error(`dockerd did not answer in time:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const version = JSON.parse((await httpRequest(socket, 'GET', '/version')).body) as { Version: string };
  return { socket, dir, version: version.Version, logs: () => readFile(logPath, 'utf8'), stop };
}
