/**
 * systemd socket activation (sd_listen_fds(3)), as dockerd's `-H fd://`: systemd binds the
 * sockets of ckptd.socket and passes them from fd 3 on, with LISTEN_PID (the pid they are
 * meant for), LISTEN_FDS (how many) and LISTEN_FDNAMES (their FileDescriptorName=, ':'-separated).
 *
 * The variables are read once and removed from the environment whatever they hold (as
 * go-systemd's activation.Files(unsetEnv=true)), so containerd, shims and every other child
 * never see them. Node marks inherited descriptors close-on-exec at start, so children do
 * not inherit the sockets themselves either.
 */
import { closeSync, fstatSync, readFileSync } from 'node:fs';
import type { ListenAddress } from '../config/config.js';
import { InvalidArgumentError } from '../errors/index.js';

/** SD_LISTEN_FDS_START is the first passed descriptor (sd-daemon.h). */
export const SD_LISTEN_FDS_START = 3;

/** ActivatedSocket is one descriptor passed by the service manager. */
export interface ActivatedSocket {
  fd: number;
  /** name is its LISTEN_FDNAMES entry; systemd's default is "unknown". */
  name: string;
}

/** ListenTarget is what listen() binds: a -H address, or a passed socket it was resolved to. */
export type ListenTarget =
  Exclude<ListenAddress, { kind: 'fd' }> | { kind: 'activated'; fd: number; name: string };

const ENV_KEYS = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

/**
 * takeSocketActivation returns the sockets passed to this process and deletes LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES from env. Nothing is returned when LISTEN_PID names another
 * process (the variables were inherited, not meant for us) or LISTEN_FDS is absent or invalid.
 */
export function takeSocketActivation(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): ActivatedSocket[] {
  const listenPid = env.LISTEN_PID;
  const listenFds = env.LISTEN_FDS;
  const names = env.LISTEN_FDNAMES?.split(':') ?? [];
  for (const k of ENV_KEYS) delete env[k];
  if (listenPid === undefined || !/^\d+$/.test(listenPid) || Number(listenPid) !== pid) return [];
  if (listenFds === undefined || !/^\d+$/.test(listenFds)) return [];
  const n = Number(listenFds);
  const out: ActivatedSocket[] = [];
  for (let i = 0; i < n; i++) out.push({ fd: SD_LISTEN_FDS_START + i, name: names[i] || 'unknown' });
  return out;
}

/** ActivationDeps are the descriptor operations resolveListenTargets needs (fakes in tests). */
export interface ActivationDeps {
  /** isSocket tells whether fd is an open socket. */
  isSocket(fd: number): boolean;
  /** close closes a passed descriptor no -H address selected. */
  close(fd: number): void;
}

const realDeps: ActivationDeps = {
  isSocket: (fd) => {
    try {
      return fstatSync(fd).isSocket();
    } catch {
      return false;
    }
  },
  close: (fd) => {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  },
};

/**
 * resolveListenTargets maps every `fd://` address to the passed sockets it selects, with
 * dockerd's rules and messages: `fd://` (or `fd://*`) takes every passed socket, `fd://N` the
 * one at fd N; ckptd also takes `fd://NAME` (a LISTEN_FDNAMES name, e.g. the socket unit's
 * FileDescriptorName=). Passed sockets no address selected are closed, as dockerd does.
 */
export function resolveListenTargets(
  addresses: ListenAddress[],
  passed: ActivatedSocket[],
  deps: ActivationDeps = realDeps,
): ListenTarget[] {
  const out: ListenTarget[] = [];
  const taken = new Set<number>();
  for (const a of addresses) {
    if (a.kind !== 'fd') {
      out.push(a);
      continue;
    }
    const host = `fd://${a.select}`;
    if (passed.length === 0) {
      throw new InvalidArgumentError(
        `${host}: no sockets found via socket activation: make sure the service was started by systemd (LISTEN_PID/LISTEN_FDS not set for this process)`,
      );
    }
    let selected: ActivatedSocket[];
    if (a.select === '') {
      selected = passed;
    } else if (/^\d+$/.test(a.select)) {
      const s = passed.find((p) => p.fd === Number(a.select));
      if (!s) {
        throw new InvalidArgumentError(
          `${host}: too few socket activated files passed in by systemd (passed: ${describe(passed)})`,
        );
      }
      selected = [s];
    } else {
      selected = passed.filter((p) => p.name === a.select);
      if (selected.length === 0) {
        throw new InvalidArgumentError(
          `${host}: no socket activated file named "${a.select}" (passed: ${describe(passed)})`,
        );
      }
    }
    for (const s of selected) {
      if (!deps.isSocket(s.fd))
        throw new InvalidArgumentError(
          `${host}: failed to listen on systemd activated file: fd ${s.fd} is not a socket`,
        );
      if (taken.has(s.fd)) continue; // fd:// next to fd://N: N is served once
      taken.add(s.fd);
      out.push({ kind: 'activated', fd: s.fd, name: s.name });
    }
  }
  for (const p of passed) if (!taken.has(p.fd)) deps.close(p.fd);
  return out;
}

function describe(passed: ActivatedSocket[]): string {
  return passed.map((p) => `fd ${p.fd} "${p.name}"`).join(', ');
}

/**
 * unixSocketPath returns the path a passed unix socket is bound to (from /proc/net/unix, by the
 * socket's inode), for the logs; undefined for another family or an abstract/unnamed socket.
 */
export function unixSocketPath(fd: number, procNetUnix = '/proc/net/unix'): string | undefined {
  try {
    const ino = String(fstatSync(fd).ino);
    for (const line of readFileSync(procNetUnix, 'utf8').split('\n').slice(1)) {
      // Num RefCount Protocol Flags Type St Inode Path
      const f = line.trim().split(/\s+/);
      if (f[6] === ino && f[7]?.startsWith('/')) return f[7];
    }
  } catch {
    // not readable: no path in the logs
  }
  return undefined;
}
