/**
 * CRIU image files, decoded in Node: the framing of go-criu `crit` (`ReadMagic`, `decodeDefault`)
 * and CRIU's `images/magic.h` — a u32 image magic, possibly preceded by the u32 IMG_COMMON or
 * IMG_SERVICE magic, then entries, each a u32 little-endian size followed by that many bytes of a
 * protobuf message — with the messages of protos/criu/ (a subset of CRIU 4.1's own definitions).
 *
 * Only small images are read, whole and bounded: a file larger than MAX_IMAGE_BYTES, an entry
 * larger than MAX_ENTRY_BYTES, a truncated entry or an undecodable message is refused
 * (CriuImageError naming the file). Memory images (pages-*.img) are never read here.
 */
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../containerd/proto.js';

/** MAX_IMAGE_BYTES bounds the size of one image file ckptd decodes. */
export const MAX_IMAGE_BYTES = 16 * 1024 * 1024;
/** MAX_ENTRY_BYTES bounds one entry (CRIU's own entries here are a few KiB). */
export const MAX_ENTRY_BYTES = 4 * 1024 * 1024;

/** MAGIC holds the image magics ckptd knows (go-criu `magic`, CRIU `images/magic.h`). */
export const MAGIC = {
  IMG_COMMON: 0x54564319,
  IMG_SERVICE: 0x55105940,
  INVENTORY: 0x58313116,
  PSTREE: 0x50273030,
  CORE: 0x55053847,
  IDS: 0x54432030,
  CREDS: 0x54023547,
  MNTS: 0x55563928,
  SECCOMP: 0x64413049,
  CGROUP: 0x59383330,
  NETDEV: 0x57373951,
  FILES: 0x56303138,
  FS: 0x51403912,
} as const;

/** ImageKind names an image type ckptd decodes. */
export type ImageKind =
  | 'INVENTORY'
  | 'PSTREE'
  | 'CORE'
  | 'IDS'
  | 'CREDS'
  | 'MNTS'
  | 'SECCOMP'
  | 'CGROUP'
  | 'NETDEV'
  | 'FILES'
  | 'FS';

const MESSAGE: Record<ImageKind, string> = {
  INVENTORY: 'inventory_entry',
  PSTREE: 'pstree_entry',
  CORE: 'core_entry',
  IDS: 'task_kobj_ids_entry',
  CREDS: 'creds_entry',
  MNTS: 'mnt_entry',
  SECCOMP: 'seccomp_entry',
  CGROUP: 'cgroup_entry',
  NETDEV: 'net_device_entry',
  FILES: 'file_entry',
  FS: 'fs_entry',
};

/** CRIU_PROTO_DIR holds CRIU's image definitions (protos/criu/). */
export const CRIU_PROTO_DIR = join(PROTO_DIR, 'criu');
/** CRIU_PROTO_FILES are the files of protos/criu/. */
export const CRIU_PROTO_FILES = [
  'creds.proto',
  'criu-core.proto',
  'cgroup.proto',
  'netdev.proto',
  'inventory.proto',
  'mnt.proto',
  'pstree.proto',
  'rlimit.proto',
  'seccomp.proto',
  'fown.proto',
  'regfile.proto',
  'fdinfo.proto',
  'fs.proto',
];

/** criuRoot is protos/criu/ loaded with protobufjs (field names as in the .proto files). */
export const criuRoot: protobuf.Root = (() => {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(CRIU_PROTO_DIR, basename(target));
  root.loadSync(CRIU_PROTO_FILES, { keepCase: true });
  root.resolveAll();
  return root;
})();

/** CriuImageError is a refused image: `file` and why. */
export class CriuImageError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`checkpoint image ${file}: ${reason}`);
    this.name = 'CriuImageError';
  }
}

// ---- decoded shapes (the fields of protos/criu/; longs as strings, enums as numbers) ----

/** CredsEntry is creds.proto `creds_entry`. */
export interface CredsEntry {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  suid: number;
  sgid: number;
  fsuid: number;
  fsgid: number;
  cap_inh?: number[];
  cap_prm?: number[];
  cap_eff?: number[];
  cap_bnd?: number[];
  secbits: number;
  groups?: number[];
  lsm_profile?: string;
  lsm_sockcreate?: string;
  apparmor_data?: Buffer;
}

/** TaskKobjIdsEntry is `task_kobj_ids_entry`: the ids of a task's objects and namespaces. */
export interface TaskKobjIdsEntry {
  vm_id: number;
  files_id: number;
  fs_id: number;
  sighand_id: number;
  pid_ns_id?: number;
  net_ns_id?: number;
  ipc_ns_id?: number;
  uts_ns_id?: number;
  mnt_ns_id?: number;
  user_ns_id?: number;
  cgroup_ns_id?: number;
  time_ns_id?: number;
}

/** SECCOMP_MODE is `seccomp_mode` (SECCOMP_MODE_* of <linux/seccomp.h>). */
export const SECCOMP_MODE = { disabled: 0, strict: 1, filter: 2 } as const;

/** CoreEntry is `core_entry` (the subset ckptd declares). */
export interface CoreEntry {
  mtype: number;
  tc?: {
    task_state: number;
    exit_code: number;
    personality: number;
    flags: number;
    blk_sigset: string;
    comm: string;
    /** rlimits by resource number (RLIMIT_*), limits as decimal strings (uint64) */
    rlimits?: { rlimits?: { cur: string; max: string }[] };
    old_seccomp_mode?: number;
    old_seccomp_filter?: number;
    loginuid?: number;
    oom_score_adj?: number;
  };
  ids?: TaskKobjIdsEntry;
  thread_core?: {
    futex_rla: string;
    futex_rla_len: number;
    creds?: CredsEntry;
    seccomp_mode?: number;
    seccomp_filter?: number;
    comm?: string;
  };
}

/** InventoryEntry is `inventory_entry`. */
export interface InventoryEntry {
  img_version: number;
  fdinfo_per_id?: boolean;
  root_ids?: TaskKobjIdsEntry;
  ns_per_id?: boolean;
  root_cg_set?: number;
  lsmtype?: number;
}

/** PstreeEntry is `pstree_entry`. */
export interface PstreeEntry {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  threads?: number[];
}

/** FSTYPE is mnt.proto `fstype`. */
export const FSTYPE = {
  UNSUPPORTED: 0,
  PROC: 1,
  SYSFS: 2,
  DEVTMPFS: 3,
  BINFMT_MISC: 4,
  TMPFS: 5,
  DEVPTS: 6,
  SIMFS: 7,
  PSTORE: 8,
  SECURITYFS: 9,
  FUSECTL: 10,
  DEBUGFS: 11,
  CGROUP: 12,
  AUFS: 13,
  MQUEUE: 14,
  FUSE: 15,
  AUTO: 16,
  OVERLAYFS: 17,
  AUTOFS: 18,
  TRACEFS: 19,
  CGROUP2: 23,
} as const;

/** MntEntry is `mnt_entry`: one mount of a mount namespace. */
export interface MntEntry {
  fstype: number;
  mnt_id: number;
  root_dev: number;
  parent_mnt_id: number;
  flags: number;
  root: string;
  mountpoint: string;
  source: string;
  options: string;
  shared_id?: number;
  master_id?: number;
  with_plugin?: boolean;
  ext_mount?: boolean;
  fsname?: string;
  internal_sharing?: boolean;
  deleted?: boolean;
  sb_flags?: number;
  ext_key?: string;
}

/** SeccompEntry is `seccomp_entry`: the filters, chained by `prev` (1-based; 0 = none). */
export interface SeccompEntry {
  seccomp_filters?: { filter: Buffer; prev?: number; flags?: number }[];
}

/** CgroupEntry is cgroup.proto `cgroup_entry`: the cgroup sets tasks are in, and the dirs. */
export interface CgroupEntry {
  sets?: { id: number; ctls?: { name: string; path: string; cgns_prefix?: number }[] }[];
  controllers?: { cnames?: string[]; dirs?: CgroupDirEntry[]; is_threaded?: boolean }[];
}

/** CgroupDirEntry is `cgroup_dir_entry`: a cgroup directory CRIU may create, with properties. */
export interface CgroupDirEntry {
  dir_name: string;
  children?: CgroupDirEntry[];
  properties?: { name: string; value: string; perms?: { mode: number; uid: number; gid: number } }[];
  dir_perms?: { mode: number; uid: number; gid: number };
}

/** ND_TYPE is netdev.proto `nd_type`. */
export const ND_TYPE = {
  LOOPBACK: 1,
  VETH: 2,
  TUN: 3,
  EXTLINK: 4,
  VENET: 5,
  BRIDGE: 6,
  MACVLAN: 7,
  SIT: 8,
} as const;

/** NetDeviceEntry is `net_device_entry` (the subset ckptd declares). */
export interface NetDeviceEntry {
  type: number;
  ifindex: number;
  mtu: number;
  flags: number;
  name: string;
  address?: Buffer;
  peer_ifindex?: number;
  peer_nsid?: number;
  master?: number;
}

/** ImageEntry maps an image kind to its decoded entry. */
export interface ImageEntry {
  INVENTORY: InventoryEntry;
  PSTREE: PstreeEntry;
  CORE: CoreEntry;
  IDS: TaskKobjIdsEntry;
  CREDS: CredsEntry;
  MNTS: MntEntry;
  SECCOMP: SeccompEntry;
  CGROUP: CgroupEntry;
  NETDEV: NetDeviceEntry;
  FILES: FileEntry;
  FS: FsEntry;
}

/** FileEntry is one entry of files.img (file_entry); ckptd reads regular files only. */
export interface FileEntry {
  type: number;
  id: number;
  reg?: { id: number; name: string; mode?: number };
}

/** FsEntry is fs-<pid>.img (fs_entry): the task's root and cwd as file ids of files.img. */
export interface FsEntry {
  cwd_id: number;
  root_id: number;
  umask?: number;
}

/** FD_TYPE_REG is fd_types.REG: a regular file or directory. */
export const FD_TYPE_REG = 1;

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: Number,
  bytes: Buffer,
  defaults: false,
  arrays: false,
};

/**
 * decodeImage decodes a whole image file's bytes as `kind`: the magic must be that kind's, every
 * entry must fit the file and MAX_ENTRY_BYTES and decode as its message (required fields present).
 */
export function decodeImage<K extends ImageKind>(file: string, buf: Buffer, kind: K): ImageEntry[K][] {
  if (buf.length < 4) throw new CriuImageError(file, 'truncated: no magic');
  let off = 0;
  let magic = buf.readUInt32LE(0);
  off = 4;
  if (magic === MAGIC.IMG_COMMON || magic === MAGIC.IMG_SERVICE) {
    if (buf.length < 8) throw new CriuImageError(file, 'truncated: no image magic');
    magic = buf.readUInt32LE(4);
    off = 8;
  }
  if (magic !== MAGIC[kind]) {
    throw new CriuImageError(
      file,
      `magic 0x${magic.toString(16)} is not ${kind} (0x${MAGIC[kind].toString(16)})`,
    );
  }
  const type = criuRoot.lookupType(MESSAGE[kind]);
  const out: ImageEntry[K][] = [];
  while (off < buf.length) {
    if (buf.length - off < 4) throw new CriuImageError(file, `truncated entry size at offset ${off}`);
    const size = buf.readUInt32LE(off);
    off += 4;
    if (size > MAX_ENTRY_BYTES) {
      throw new CriuImageError(file, `entry of ${size} bytes at offset ${off - 4} is too large`);
    }
    if (buf.length - off < size) {
      throw new CriuImageError(file, `truncated entry at offset ${off - 4} (${size} bytes announced)`);
    }
    let msg: protobuf.Message;
    try {
      msg = type.decode(buf.subarray(off, off + size));
    } catch (err) {
      throw new CriuImageError(file, `entry ${out.length + 1}: ${(err as Error).message}`);
    }
    out.push(type.toObject(msg, TO_OBJECT) as ImageEntry[K]);
    off += size;
  }
  return out;
}

/** encodeImage builds an image file (IMG_COMMON + magic, sized entries); for tests and tools. */
export function encodeImage<K extends ImageKind>(
  kind: K,
  entries: ImageEntry[K][],
  opts: { common?: boolean } = {},
): Buffer {
  const type = criuRoot.lookupType(MESSAGE[kind]);
  const parts: Buffer[] = [];
  const head = Buffer.alloc(opts.common === false ? 4 : 8);
  if (opts.common === false) head.writeUInt32LE(MAGIC[kind], 0);
  else {
    head.writeUInt32LE(MAGIC.IMG_COMMON, 0);
    head.writeUInt32LE(MAGIC[kind], 4);
  }
  parts.push(head);
  for (const e of entries) {
    const body = Buffer.from(type.encode(type.fromObject(e as unknown as Record<string, unknown>)).finish());
    const size = Buffer.alloc(4);
    size.writeUInt32LE(body.length, 0);
    parts.push(size, body);
  }
  return Buffer.concat(parts);
}

/**
 * readImage reads and decodes the image file `dir/name` as `kind`; refused when it is not a
 * regular file or larger than MAX_IMAGE_BYTES. The file is opened without following a symlink.
 */
export async function readImage<K extends ImageKind>(
  dir: string,
  name: string,
  kind: K,
): Promise<ImageEntry[K][]> {
  const { constants } = await import('node:fs');
  let fh;
  try {
    fh = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new CriuImageError(name, `cannot be opened: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new CriuImageError(name, 'is not a regular file');
    if (st.size > MAX_IMAGE_BYTES) throw new CriuImageError(name, `is too large (${st.size} bytes)`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return decodeImage(name, buf.subarray(0, got), kind);
  } finally {
    await fh.close();
  }
}

/**
 * recordedRootMode is the mode CRIU recorded for the root directory of the checkpoint's first
 * task (pstree.img -> fs-<pid>.img root_id -> files.img), which `criu restore` compares with
 * the restored root's ("File . has bad mode"); undefined when the images do not record one.
 */
export async function recordedRootMode(dir: string): Promise<number | undefined> {
  const pid = (await readImage(dir, 'pstree.img', 'PSTREE'))[0]?.pid;
  if (pid === undefined) return undefined;
  const fs = (await readImage(dir, `fs-${pid}.img`, 'FS').catch(() => []))[0];
  if (fs === undefined) return undefined;
  const files = await readImage(dir, 'files.img', 'FILES').catch(() => []);
  const root = files.find((f) => f.type === FD_TYPE_REG && (f.id === fs.root_id || f.reg?.id === fs.root_id));
  return root?.reg?.mode;
}
