/**
 * What this host's cgroups can enforce, read as moby's `pkg/sysinfo` reads it (the cgroup v1
 * controllers' mount points from mountinfo and the files they offer; on cgroup v2 the root's
 * `cgroup.controllers`), and the device lookups of `--device` and the blkio options.
 */
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  type BigIntStats,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { DeviceHost, FileNode, SysInfo } from '../oci/resources.js';

/** SysInfoReader is the file access sysInfoFrom needs (fakes in tests). */
export interface SysInfoReader {
  exists(path: string): boolean;
  read(path: string): string | undefined;
}

/** cgroupV1Mounts maps each cgroup v1 controller to its mount point, from mountinfo text. */
export function cgroupV1Mounts(mountinfo: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup') continue;
    const point = (line.slice(0, sep).split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    for (const opt of superOpts.split(',')) {
      if (!out.has(opt)) out.set(opt, point);
    }
  }
  return out;
}

const NONE: Omit<SysInfo, 'cgroupVersion' | 'ncpu'> = {
  memoryLimit: false,
  swapLimit: false,
  memoryReservation: false,
  oomKillDisable: false,
  memorySwappiness: false,
  kernelMemory: false,
  kernelMemoryTCP: false,
  cpuShares: false,
  cpuCfs: false,
  cpuRealtime: false,
  cpuset: false,
  cpus: '',
  mems: '',
  pidsLimit: false,
  blkioWeight: false,
  blkioWeightDevice: false,
  blkioReadBpsDevice: false,
  blkioWriteBpsDevice: false,
  blkioReadIOpsDevice: false,
  blkioWriteIOpsDevice: false,
  devicesCgroup: false,
};

/**
 * sysInfoFrom computes SysInfo as moby's `sysinfo.New`: on cgroup v1 each controller's files
 * (memory.memsw.limit_in_bytes for swap, cpu.cfs_quota_us for CFS, blkio.weight, ...); on v2
 * the root's controllers. Kernel memory limits are reported unsupported: ckptd refuses them.
 */
export function sysInfoFrom(
  r: SysInfoReader,
  mountinfo: string,
  ncpu: number,
  root = '/sys/fs/cgroup',
): SysInfo {
  if (r.exists(join(root, 'cgroup.controllers'))) {
    const ctl = new Set((r.read(join(root, 'cgroup.controllers')) ?? '').trim().split(/\s+/));
    const own = /^0::(.*)$/m.exec(r.read('/proc/self/cgroup') ?? '')?.[1] ?? '/';
    const io = ctl.has('io');
    return {
      ...NONE,
      cgroupVersion: 2,
      ncpu,
      memoryLimit: ctl.has('memory'),
      swapLimit: ctl.has('memory') && r.exists(join(root, own, 'memory.swap.max')),
      memoryReservation: ctl.has('memory'),
      cpuShares: ctl.has('cpu'),
      cpuCfs: ctl.has('cpu'),
      cpuset: ctl.has('cpuset'),
      cpus: ctl.has('cpuset') ? (r.read(join(root, 'cpuset.cpus.effective'))?.trim() ?? '') : '',
      mems: ctl.has('cpuset') ? (r.read(join(root, 'cpuset.mems.effective'))?.trim() ?? '') : '',
      pidsLimit: ctl.has('pids'),
      blkioWeight: io,
      blkioWeightDevice: io,
      blkioReadBpsDevice: io,
      blkioWriteBpsDevice: io,
      blkioReadIOpsDevice: io,
      blkioWriteIOpsDevice: io,
      devicesCgroup: true,
    };
  }
  const mounts = cgroupV1Mounts(mountinfo);
  const has = (ctl: string, file: string): boolean => {
    const m = mounts.get(ctl);
    return m !== undefined && r.exists(join(m, file));
  };
  const cpuset = mounts.get('cpuset');
  const memory = mounts.has('memory');
  return {
    ...NONE,
    cgroupVersion: 1,
    ncpu,
    memoryLimit: memory,
    swapLimit: has('memory', 'memory.memsw.limit_in_bytes'),
    memoryReservation: has('memory', 'memory.soft_limit_in_bytes'),
    oomKillDisable: has('memory', 'memory.oom_control'),
    memorySwappiness: has('memory', 'memory.swappiness'),
    cpuShares: has('cpu', 'cpu.shares'),
    cpuCfs: has('cpu', 'cpu.cfs_quota_us'),
    cpuRealtime: has('cpu', 'cpu.rt_period_us'),
    cpuset: cpuset !== undefined,
    cpus: cpuset !== undefined ? (r.read(join(cpuset, 'cpuset.cpus'))?.trim() ?? '') : '',
    mems: cpuset !== undefined ? (r.read(join(cpuset, 'cpuset.mems'))?.trim() ?? '') : '',
    pidsLimit: mounts.has('pids'),
    blkioWeight: has('blkio', 'blkio.weight'),
    blkioWeightDevice: has('blkio', 'blkio.weight_device'),
    blkioReadBpsDevice: has('blkio', 'blkio.throttle.read_bps_device'),
    blkioWriteBpsDevice: has('blkio', 'blkio.throttle.write_bps_device'),
    blkioReadIOpsDevice: has('blkio', 'blkio.throttle.read_iops_device'),
    blkioWriteIOpsDevice: has('blkio', 'blkio.throttle.write_iops_device'),
    devicesCgroup: mounts.has('devices'),
  };
}

/** readHostSysInfo reads this host's SysInfo (once at start-up: cgroup mounts do not change). */
export function readHostSysInfo(): SysInfo {
  const reader: SysInfoReader = {
    exists: (p) => existsSync(p),
    read: (p) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    },
  };
  return sysInfoFrom(reader, reader.read('/proc/self/mountinfo') ?? '', availableParallelism());
}

/** readProcBool reads a 0/1 proc file (moby `readProcBool`): true only for `1`. */
export function readProcBool(path: string): boolean {
  try {
    return readFileSync(path, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  EPERM: 'operation not permitted',
};

/** goPathError words a Node fs error as Go's `*os.PathError` (`lstat /x: no such file or directory`). */
export function goPathError(op: string, path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return new Error(`${op} ${path}: ${ERRNO_TEXT[code] ?? (err as Error).message}`);
}

/** nodeOf turns bigint stats into a FileNode (glibc's major/minor split of st_rdev). */
export function nodeOf(s: BigIntStats): FileNode {
  const kind: FileNode['kind'] = s.isCharacterDevice()
    ? 'char'
    : s.isBlockDevice()
      ? 'block'
      : s.isFIFO()
        ? 'fifo'
        : s.isDirectory()
          ? 'dir'
          : s.isSymbolicLink()
            ? 'symlink'
            : s.isFile()
              ? 'file'
              : 'other';
  const dev = s.rdev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { kind, major, minor, mode: Number(s.mode & 0o7777n), uid: Number(s.uid), gid: Number(s.gid) };
}

/** hostDevices is the DeviceHost over this machine's filesystem. */
export const hostDevices: DeviceHost = {
  lstat(path) {
    try {
      return nodeOf(lstatSync(path, { bigint: true }));
    } catch (err) {
      throw goPathError('lstat', path, err);
    }
  },
  stat(path) {
    try {
      return nodeOf(statSync(path, { bigint: true }));
    } catch (err) {
      throw goPathError('stat', path, err);
    }
  },
  realpath(path) {
    try {
      return realpathSync(path);
    } catch (err) {
      throw goPathError('lstat', path, err);
    }
  },
  readdir(path) {
    try {
      return readdirSync(path);
    } catch (err) {
      throw goPathError('open', path, err);
    }
  },
};
