/**
 * The host's device nodes, listed as containerd's `oci.HostDevices()` (which moby gives a
 * privileged container): every block and character device under /dev, recursively, skipping
 * the pts, shm, fd, mqueue, .lxc, .lxd-mounts and .udev directories, /dev/console, symlinks
 * and FIFOs; a node that vanishes while listed is skipped.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** HostDevice is one device node: its path, type (c or b), numbers, permission bits and owner. */
export interface HostDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
const S_IFMT = 0o170000n;
const S_IFBLK = 0o060000n;
const S_IFCHR = 0o020000n;

/** devMajor and devMinor decode a Linux dev_t as glibc's gnu_dev_major/minor. */
export function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn & 0xffffffffn));
}

/** devMinor is the minor number of a Linux dev_t. */
export function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn & 0xffffffffn));
}

/** hostDevices lists the device nodes under `dir` (default /dev). */
export async function hostDevices(dir = '/dev'): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (SKIPPED_DIRS.has(e.name)) continue;
      out.push(...(await hostDevices(path)));
      continue;
    }
    if (e.name === 'console') continue;
    const st = await lstat(path, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (st === undefined) continue;
    const fmt = st.mode & S_IFMT;
    if (fmt !== S_IFBLK && fmt !== S_IFCHR) continue;
    out.push({
      path,
      type: fmt === S_IFBLK ? 'b' : 'c',
      major: devMajor(st.rdev),
      minor: devMinor(st.rdev),
      fileMode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
    });
  }
  return out;
}
