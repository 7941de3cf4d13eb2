/**
 * What the checkpoint-trust checks compare CRIU's images with: the spec ckptd built (TrustSpec),
 * the host context, the decoded images, and how a refusal is worded.
 */
import type {
  CgroupEntry,
  CoreEntry,
  InventoryEntry,
  MntEntry,
  NetDeviceEntry,
  PstreeEntry,
  SeccompEntry,
  TaskKobjIdsEntry,
} from '../../criu/images.js';
import { InvalidArgumentError } from '../../errors/index.js';

/** TrustSpec is the part of an OCI runtime spec the checks read (a spec ckptd built). */
export interface TrustSpec {
  process?: {
    terminal?: boolean;
    user?: { uid?: number; gid?: number; additionalGids?: number[] };
    capabilities?: {
      bounding?: string[];
      effective?: string[];
      permitted?: string[];
      inheritable?: string[];
      ambient?: string[];
    };
    noNewPrivileges?: boolean;
    oomScoreAdj?: number;
    rlimits?: { type: string; hard: number; soft: number }[];
    apparmorProfile?: string;
    selinuxLabel?: string;
  };
  root?: { readonly?: boolean };
  mounts?: { destination: string; type?: string; source?: string; options?: string[] }[];
  linux?: {
    namespaces?: { type: string; path?: string }[];
    seccomp?: unknown;
    maskedPaths?: string[];
    readonlyPaths?: string[];
  };
}

/** TrustContext is what the checks need from the host. */
export interface TrustContext {
  /** loginuid is ckptd's own audit login uid (what a task it starts inherits); unset if absent. */
  loginuid?: number;
}

/** UNSET_LOGINUID is the kernel's "no audit login uid" ((uid_t)-1). */
export const UNSET_LOGINUID = 4294967295;

/** CheckpointImages are the decoded images of a checkpoint that carry authority. */
export interface CheckpointImages {
  /** files are the names in the images directory. */
  files: string[];
  inventory: InventoryEntry;
  pstree: PstreeEntry[];
  /** cores by file name (core-<tid>.img). */
  cores: Map<string, CoreEntry>;
  /** ids by file name (ids-<pid>.img). */
  ids: Map<string, TaskKobjIdsEntry>;
  /** mounts by file name (mountpoints-<mnt ns id>.img). */
  mounts: Map<string, MntEntry[]>;
  seccomp?: SeccompEntry;
  cgroup?: CgroupEntry;
  /** network devices by file name (netdev-<net ns id>.img). */
  netdevs?: Map<string, NetDeviceEntry[]>;
}

/** refuse throws the InvalidArgumentError naming the image file and why it is refused. */
export function refuse(file: string, why: string): never {
  throw new InvalidArgumentError(`checkpoint image ${file}: ${why}`);
}
