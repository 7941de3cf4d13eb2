/**
 * Checkpoint images are data, never authority. CRIU restores, as root, whatever its images say:
 * credentials and capabilities (core-*.img), seccomp modes and filters (core-*.img, seccomp.img),
 * the mount tree (mountpoints-*.img), the namespaces tasks live in (inventory.img, ids-*.img) and
 * tmpfs contents (tmpfs-dev-*.tar.gz.img). Before CRIU runs, every image that carries authority
 * is compared with the OCI spec ckptd itself built for the target container; anything beyond it
 * is refused with an InvalidArgumentError naming the image file and field.
 *
 * checkCheckpointImages is pure (decoded images + spec in, throw or return); loadCheckpointImages
 * reads the few small images it needs (never pages-*.img) with src/criu/images.ts.
 */
import { readFile, readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { InvalidArgumentError } from '../errors/index.js';
import {
  CriuImageError,
  FSTYPE,
  ND_TYPE,
  SECCOMP_MODE,
  readImage,
  type CgroupDirEntry,
  type CgroupEntry,
  type CoreEntry,
  type CredsEntry,
  type InventoryEntry,
  type MntEntry,
  type NetDeviceEntry,
  type PstreeEntry,
  type SeccompEntry,
  type TaskKobjIdsEntry,
} from '../criu/images.js';
import { KNOWN_CAPABILITIES } from '../oci/capabilities.js';

/** CAPABILITIES are Linux capability names by bit number (<linux/capability.h>). */
export const CAPABILITIES = KNOWN_CAPABILITIES;

/** RLIMITS are the RLIMIT_* names by resource number (<asm-generic/resource.h>). */
const RLIMITS = [
  'RLIMIT_CPU',
  'RLIMIT_FSIZE',
  'RLIMIT_DATA',
  'RLIMIT_STACK',
  'RLIMIT_CORE',
  'RLIMIT_RSS',
  'RLIMIT_NPROC',
  'RLIMIT_NOFILE',
  'RLIMIT_MEMLOCK',
  'RLIMIT_AS',
  'RLIMIT_LOCKS',
  'RLIMIT_SIGPENDING',
  'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE',
  'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
];

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
const UNSET_LOGINUID = 4294967295;

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

const MS_RDONLY = 1;

/** NS_FIELDS maps OCI namespace types to CRIU's task_kobj_ids_entry fields. */
const NS_FIELDS: Record<string, keyof TaskKobjIdsEntry> = {
  pid: 'pid_ns_id',
  network: 'net_ns_id',
  ipc: 'ipc_ns_id',
  uts: 'uts_ns_id',
  mount: 'mnt_ns_id',
  user: 'user_ns_id',
  cgroup: 'cgroup_ns_id',
  time: 'time_ns_id',
};

const FSTYPE_NAME = new Map<number, string>(Object.entries(FSTYPE).map(([k, v]) => [v, k.toLowerCase()]));

/** SPEC_FSTYPES are the CRIU fstypes a non-bind spec mount of a type may be restored as. */
const SPEC_FSTYPES: Record<string, number[]> = {
  proc: [FSTYPE.PROC],
  sysfs: [FSTYPE.SYSFS],
  tmpfs: [FSTYPE.TMPFS],
  devpts: [FSTYPE.DEVPTS],
  mqueue: [FSTYPE.MQUEUE],
  // cgroup v1: runc mounts a tmpfs there and binds each hierarchy below it (external mounts)
  cgroup: [FSTYPE.CGROUP, FSTYPE.CGROUP2, FSTYPE.TMPFS],
  cgroup2: [FSTYPE.CGROUP2],
};

function refuse(file: string, why: string): never {
  throw new InvalidArgumentError(`checkpoint image ${file}: ${why}`);
}

/** capBits turns capability names into a set of bit numbers (unknown names are ignored). */
function capBits(names: string[] | undefined): Set<number> {
  const out = new Set<number>();
  for (const n of names ?? []) {
    const i = CAPABILITIES.indexOf(
      n.toUpperCase().startsWith('CAP_') ? n.toUpperCase() : `CAP_${n.toUpperCase()}`,
    );
    if (i >= 0) out.add(i);
  }
  return out;
}

/** wordBits lists the bit numbers set in CRIU's array of 32-bit capability words. */
export function wordBits(words: number[] | undefined): number[] {
  const out: number[] = [];
  (words ?? []).forEach((w, i) => {
    for (let b = 0; b < 32; b++) if (((w >>> b) & 1) === 1) out.push(i * 32 + b);
  });
  return out;
}

function capName(bit: number): string {
  return CAPABILITIES[bit] ?? `capability ${bit}`;
}

/**
 * checkCreds checks one thread's credentials against the spec. Capabilities: the bounding set
 * within the spec's bounding set; permitted, effective and inheritable within what the thread
 * could reach itself (the spec's bounding set: file capabilities and setuid-root programs, or
 * with no_new_privs the spec's permitted set). Ids: a root spec user may hold any id; a
 * non-root one never root, and with no_new_privs only its own uid, gid and groups.
 */
function checkCreds(file: string, tid: string, c: CredsEntry, spec: TrustSpec): void {
  const caps = spec.process?.capabilities ?? {};
  const bounding = capBits(caps.bounding);
  const nnp = spec.process?.noNewPrivileges === true;
  const reachable = nnp ? new Set([...capBits(caps.permitted)].filter((b) => bounding.has(b))) : bounding;
  const sets: [string, number[] | undefined, Set<number>][] = [
    ['effective', c.cap_eff, reachable],
    ['permitted', c.cap_prm, reachable],
    ['inheritable', c.cap_inh, new Set([...reachable, ...capBits(caps.inheritable)])],
    ['bounding', c.cap_bnd, bounding],
  ];
  for (const [what, words, allowed] of sets) {
    for (const bit of wordBits(words)) {
      if (!allowed.has(bit)) {
        refuse(
          file,
          `thread ${tid} capability ${capName(bit)} (${what}) is not in the container's capability set`,
        );
      }
    }
  }

  const user = spec.process?.user ?? {};
  const specUid = user.uid ?? 0;
  const specGid = user.gid ?? 0;
  const specGroups = new Set([specGid, ...(user.additionalGids ?? [])]);
  const uids: [string, number][] = [
    ['uid', c.uid],
    ['euid', c.euid],
    ['suid', c.suid],
    ['fsuid', c.fsuid],
  ];
  const gids: [string, number][] = [
    ['gid', c.gid],
    ['egid', c.egid],
    ['sgid', c.sgid],
    ['fsgid', c.fsgid],
  ];
  if (specUid !== 0) {
    for (const [f, v] of uids) {
      if (v === 0 || (nnp && v !== specUid)) {
        refuse(file, `thread ${tid} ${f} ${v} is not the container's user (${specUid})`);
      }
    }
    for (const [f, v] of gids) {
      if ((v === 0 && !specGroups.has(0)) || (nnp && !specGroups.has(v))) {
        refuse(file, `thread ${tid} ${f} ${v} is not a group of the container's user`);
      }
    }
    for (const g of c.groups ?? []) {
      if (!specGroups.has(g)) {
        refuse(file, `thread ${tid} supplementary group ${g} is not a group of the container's user`);
      }
    }
  } else {
    // root without CAP_SETUID/CAP_SETGID cannot change its ids
    if (!bounding.has(CAPABILITIES.indexOf('CAP_SETUID'))) {
      for (const [f, v] of uids) {
        if (v !== specUid) refuse(file, `thread ${tid} ${f} ${v} is not the container's user (${specUid})`);
      }
    }
    if (!bounding.has(CAPABILITIES.indexOf('CAP_SETGID'))) {
      for (const [f, v] of gids) {
        if (!specGroups.has(v))
          refuse(file, `thread ${tid} ${f} ${v} is not a group of the container's user`);
      }
      for (const g of c.groups ?? []) {
        if (!specGroups.has(g)) {
          refuse(file, `thread ${tid} supplementary group ${g} is not a group of the container's user`);
        }
      }
    }
  }

  // securebits: prctl(PR_SET_SECUREBITS) needs CAP_SETPCAP; only the 8 defined bits exist
  if (c.secbits >>> 8 !== 0)
    refuse(file, `thread ${tid} secbits 0x${c.secbits.toString(16)} has unknown bits`);
  if (c.secbits !== 0 && !bounding.has(CAPABILITIES.indexOf('CAP_SETPCAP'))) {
    refuse(
      file,
      `thread ${tid} secbits 0x${c.secbits.toString(16)} need CAP_SETPCAP, not in the container's capability set`,
    );
  }

  // LSM: never a profile the spec did not name, never policy to load
  if (c.apparmor_data !== undefined && c.apparmor_data.length > 0) {
    refuse(file, `thread ${tid} apparmor_data (a policy to load) is not accepted`);
  }
  const labels = new Set([spec.process?.apparmorProfile, spec.process?.selinuxLabel].filter((x) => !!x));
  for (const [f, v] of [
    ['lsm_profile', c.lsm_profile],
    ['lsm_sockcreate', c.lsm_sockcreate],
  ] as const) {
    if (v !== undefined && v !== '' && !labels.has(v)) {
      refuse(file, `thread ${tid} ${f} ${JSON.stringify(v)} is not the container's security profile`);
    }
  }
}

/**
 * seccompFilterCount validates seccomp.img's chains and returns how many filters it holds.
 * Indices are 0-based (CRIU `se->seccomp_filters[tc->seccomp_filter]`, then `prev`); a `prev`
 * that does not point to an earlier filter would make CRIU loop or read out of bounds.
 */
function seccompFilterCount(s: SeccompEntry | undefined): number {
  const filters = s?.seccomp_filters ?? [];
  filters.forEach((f, i) => {
    if (f.prev !== undefined && f.prev >= i) {
      refuse('seccomp.img', `filter ${i} chains to filter ${f.prev}, which does not precede it`);
    }
  });
  return filters.length;
}

function isUnder(p: string, dir: string): boolean {
  return dir === '/' ? p.startsWith('/') : p === dir || p.startsWith(`${dir}/`);
}

function cleanAbs(file: string, what: string, p: string): string {
  if (!p.startsWith('/') || p.includes('\0') || posix.normalize(p) !== p || p.split('/').includes('..')) {
    refuse(file, `${what} ${JSON.stringify(p)} is not a clean absolute path`);
  }
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * checkMounts checks the container's mount tree: every mount must be one the spec has — the
 * root, a spec mount at its destination with a matching filesystem, a spec bind restored as an
 * external mount (runc hands CRIU its source from the spec, keyed by the destination), the
 * masked and read-only paths runc adds, cgroup v1 hierarchies below the spec's cgroup mount,
 * /dev/console with a terminal — read-only where the spec says so.
 */
function checkMounts(file: string, entries: MntEntry[], spec: TrustSpec): Set<number> {
  const specMounts = new Map((spec.mounts ?? []).map((m) => [m.destination.replace(/(.)\/$/, '$1'), m]));
  const masked = new Set(spec.linux?.maskedPaths ?? []);
  const readonly = new Set(spec.linux?.readonlyPaths ?? []);
  const byId = new Map<number, MntEntry>();
  const seen = new Set<string>();
  for (const e of entries) {
    const mp = cleanAbs(file, 'mountpoint', e.mountpoint);
    if (seen.has(mp)) refuse(file, `mountpoint ${mp} is mounted twice`);
    seen.add(mp);
    byId.set(e.mnt_id, e);
  }
  const roots = entries.filter((e) => e.mountpoint === '/');
  if (roots.length !== 1) refuse(file, 'the mount tree has no root mount');
  const accepted = new Map<number, MntEntry>();
  const tmpfsDevs = new Set<number>();
  const ro = (e: MntEntry) => (e.flags & MS_RDONLY) !== 0;
  const fsName = (e: MntEntry) => FSTYPE_NAME.get(e.fstype) ?? `fstype ${e.fstype}`;
  const isBind = (m: { type?: string; options?: string[] }) =>
    m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
  // parents first, so that a read-only path can be checked against its accepted parent
  const ordered = [...entries].sort(
    (a, b) => a.mountpoint.split('/').length - b.mountpoint.split('/').length,
  );
  for (const e of ordered) {
    const mp = e.mountpoint.length > 1 ? e.mountpoint.replace(/\/$/, '') : e.mountpoint;
    const where = `mount ${mp}`;
    if (mp === '/') {
      if (e.ext_key) refuse(file, `${where}: the root mount cannot be external (${e.ext_key})`);
      if (spec.root?.readonly === true && !ro(e)) refuse(file, `${where}: the container's root is read-only`);
      accepted.set(e.mnt_id, e);
      continue;
    }
    const parent = byId.get(e.parent_mnt_id);
    if (parent === undefined || !isUnder(mp, parent.mountpoint)) {
      refuse(file, `${where}: parent mount ${e.parent_mnt_id} is not a mount above it`);
    }
    const sm = specMounts.get(mp);
    const specRo = (sm?.options ?? []).includes('ro');
    if (e.ext_key !== undefined && e.ext_key !== '') {
      const cg = [...specMounts.values()].find(
        (m) => (m.type === 'cgroup' || m.type === 'cgroup2') && mp.startsWith(`${m.destination}/`),
      );
      if (e.ext_key === '/dev/null' && masked.has(mp)) {
        // runc masks a file with /dev/null
      } else if (e.ext_key === mp && sm !== undefined && isBind(sm)) {
        if (specRo && !ro(e)) refuse(file, `${where}: the container's bind is read-only`);
      } else if (
        e.ext_key === mp &&
        cg !== undefined &&
        (e.fstype === FSTYPE.CGROUP || e.fstype === FSTYPE.CGROUP2) &&
        mp.split('/').length === cg.destination.split('/').length + 1
      ) {
        if ((cg.options ?? []).includes('ro') && !ro(e))
          refuse(file, `${where}: the container's cgroup mount is read-only`);
      } else {
        refuse(
          file,
          `${where} (external ${JSON.stringify(e.ext_key)}, root ${JSON.stringify(e.root)}) is not a bind mount of the container`,
        );
      }
      accepted.set(e.mnt_id, e);
      continue;
    }
    if (e.ext_mount === true) refuse(file, `${where}: external mount without a key`);
    if (sm !== undefined && !isBind(sm)) {
      const fstypes = SPEC_FSTYPES[sm.type ?? ''] ?? [];
      if (!fstypes.includes(e.fstype)) {
        refuse(file, `${where} is ${fsName(e)}, the container mounts ${sm.type ?? 'nothing'} there`);
      }
      if (e.root !== '/')
        refuse(file, `${where}: root ${JSON.stringify(e.root)} is not the filesystem's root`);
      // cgroup v1: runc's tmpfs below the hierarchies is remounted read-only after the dump's view
      const cgroupTmpfs = sm.type === 'cgroup' && e.fstype === FSTYPE.TMPFS;
      if (specRo && !ro(e) && !cgroupTmpfs) refuse(file, `${where}: the container mounts it read-only`);
      if (e.fstype === FSTYPE.TMPFS) {
        // CRIU mounts a tmpfs with the image's options: never a larger size than the spec's
        const limit = tmpfsSize(sm.options ?? []);
        const size = tmpfsSize(e.options.split(','));
        if (limit !== undefined && (size === undefined || size > limit)) {
          refuse(
            file,
            `${where}: tmpfs size ${size === undefined ? 'unlimited' : `${size} bytes`} is above the container's (${limit} bytes)`,
          );
        }
        tmpfsDevs.add(e.root_dev);
      }
      accepted.set(e.mnt_id, e);
      continue;
    }
    if (masked.has(mp) && e.fstype === FSTYPE.TMPFS && e.root === '/') {
      if (!ro(e)) refuse(file, `${where}: a masked path is mounted read-only`);
      accepted.set(e.mnt_id, e);
      tmpfsDevs.add(e.root_dev);
      continue;
    }
    if (readonly.has(mp)) {
      // runc re-binds the path onto itself read-only: same filesystem as the mount above it
      const above = accepted.get(e.parent_mnt_id);
      const expectRoot =
        above === undefined ? undefined : posix.join(above.root, posix.relative(above.mountpoint, mp));
      if (
        above === undefined ||
        above.ext_key ||
        above.fstype !== e.fstype ||
        above.root_dev !== e.root_dev ||
        e.root !== expectRoot
      ) {
        refuse(
          file,
          `${where} (${fsName(e)}, root ${JSON.stringify(e.root)}) is not the read-only path of the container`,
        );
      }
      if (!ro(e)) refuse(file, `${where}: a read-only path is mounted read-write`);
      accepted.set(e.mnt_id, e);
      continue;
    }
    if (mp === '/dev/console' && spec.process?.terminal === true && e.fstype === FSTYPE.DEVPTS) {
      accepted.set(e.mnt_id, e);
      continue;
    }
    refuse(
      file,
      `${where} (${fsName(e)} ${JSON.stringify(e.source)}, root ${JSON.stringify(e.root)}) is not a mount of the container`,
    );
  }
  return tmpfsDevs;
}

/** tmpfsSize reads a tmpfs `size=` option in bytes (k/m/g suffixes; `%` counts as unknown). */
function tmpfsSize(options: string[]): number | undefined {
  for (const o of options) {
    const m = /^size=(\d+)([kKmMgG]?)$/.exec(o.trim());
    if (m?.[1] === undefined) continue;
    const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()] ?? 1;
    return Number(m[1]) * mult;
  }
  return undefined;
}

/** cleanRel is true for a relative cgroup path of plain names (no `.`, `..` or empty part). */
function cleanParts(p: string): boolean {
  return p.split('/').every((x) => x !== '' && x !== '.' && x !== '..' && !x.includes('\0'));
}

/**
 * checkCgroups checks cgroup.img: CRIU places tasks in the cgroups it names, relative to the
 * container's own cgroup (runc's cgroup root), and creates the directories it lists. No path may
 * climb out of the dumped tree (`..`), and every task set must be inside a listed tree.
 */
function checkCgroups(cg: CgroupEntry): void {
  const roots = new Map<string, string[]>();
  const walk = (ctl: string, dirs: CgroupDirEntry[] | undefined, depth: number) => {
    for (const d of dirs ?? []) {
      const ok = depth === 0 ? cleanParts(d.dir_name) : cleanParts(d.dir_name) && !d.dir_name.includes('/');
      if (!ok)
        refuse(
          'cgroup.img',
          `controller ${ctl || '(unified)'} directory ${JSON.stringify(d.dir_name)} is not a plain cgroup name`,
        );
      walk(ctl, d.children, depth + 1);
    }
  };
  for (const c of cg.controllers ?? []) {
    for (const name of c.cnames ?? []) {
      walk(name, c.dirs, 0);
      roots.set(
        name,
        (c.dirs ?? []).map((d) => `/${d.dir_name}`),
      );
    }
  }
  for (const set of cg.sets ?? []) {
    for (const m of set.ctls ?? []) {
      const where = `set ${set.id} controller ${m.name || '(unified)'} path ${JSON.stringify(m.path)}`;
      if (m.path !== '/' && !(m.path.startsWith('/') && cleanParts(m.path.slice(1)))) {
        refuse('cgroup.img', `${where} is not a clean cgroup path`);
      }
      const tops = roots.get(m.name) ?? [];
      if (m.path !== '/' && !tops.some((t) => isUnder(m.path, t))) {
        refuse('cgroup.img', `${where} is outside the container's cgroup`);
      }
    }
  }
}

/** TASK_DEAD is CRIU's task_state of a zombie (compel's COMPEL_TASK_DEAD). */
const TASK_DEAD = 2;

function threadOf(file: string): string {
  return /^core-(\d+)\.img$/.exec(file)?.[1] ?? file;
}

/**
 * checkCheckpointImages refuses (InvalidArgumentError naming the image and field) a checkpoint
 * whose images ask for more than `spec` grants: credentials, capabilities, securebits, LSM
 * labels, oom_score_adj, seccomp modes, namespaces, mounts and tmpfs contents.
 */
export function checkCheckpointImages(img: CheckpointImages, spec: TrustSpec, ctx: TrustContext = {}): void {
  const caps = capBits(spec.process?.capabilities?.bounding);
  const hasCap = (n: string) => caps.has(CAPABILITIES.indexOf(n));

  // legacy per-task credential images (CRIU 4 keeps creds in core-*.img): never read
  for (const f of img.files) {
    if (/^creds-\d+\.img$/.test(f))
      refuse(f, 'separate credential images are not accepted (CRIU 4 writes none)');
  }

  // ---- threads: credentials, seccomp, oom_score_adj ----
  const filterCount = seccompFilterCount(img.seccomp);
  const wantFilter = spec.linux?.seccomp !== undefined && spec.linux.seccomp !== null;
  const specOom = spec.process?.oomScoreAdj ?? 0;
  if (img.cores.size === 0) refuse('core-*.img', 'the checkpoint has no task images');
  // a thread without its own mode inherits the task leader's old_seccomp_mode (pre-3.x images)
  const leaderMode = new Map<string, number | undefined>();
  for (const [file, core] of img.cores) leaderMode.set(threadOf(file), core.tc?.old_seccomp_mode);
  for (const [file, core] of img.cores) {
    const tid = threadOf(file);
    const tc = core.thread_core;
    // a zombie (a child exited, not yet reaped: a shell's `sleep` at the freeze) is dumped by CRIU
    // with no thread_core and restored only to exit again: no credentials, nothing to run
    if (tc === undefined && core.tc?.task_state === TASK_DEAD) continue;
    if (tc?.creds === undefined) refuse(file, `thread ${tid} has no credentials (thread_core.creds)`);
    checkCreds(file, tid, tc.creds, spec);
    const mode = tc.seccomp_mode ?? core.tc?.old_seccomp_mode ?? leaderMode.get(tid) ?? SECCOMP_MODE.disabled;
    if (mode !== SECCOMP_MODE.disabled && mode !== SECCOMP_MODE.strict && mode !== SECCOMP_MODE.filter) {
      refuse(file, `thread ${tid} seccomp_mode ${mode} is unknown`);
    }
    if (wantFilter && mode === SECCOMP_MODE.disabled) {
      refuse(file, `thread ${tid} seccomp_mode is disabled, the container's spec has a seccomp filter`);
    }
    if (mode === SECCOMP_MODE.filter) {
      const idx = tc.seccomp_filter ?? core.tc?.old_seccomp_filter ?? 0;
      if (idx < 0 || idx >= filterCount) {
        refuse(file, `thread ${tid} seccomp_filter ${idx} is not a filter of seccomp.img (${filterCount})`);
      }
    }
    // CRIU writes the task's audit login uid as root: never one the container did not inherit
    const luid = core.tc?.loginuid;
    if (luid !== undefined && luid !== UNSET_LOGINUID && luid !== (ctx.loginuid ?? UNSET_LOGINUID)) {
      refuse(
        file,
        `task ${tid} loginuid ${luid} is not the container's audit identity (${ctx.loginuid ?? UNSET_LOGINUID})`,
      );
    }
    // rlimits: CRIU sets them as root; a hard limit above the spec's needs CAP_SYS_RESOURCE
    if (!hasCap('CAP_SYS_RESOURCE')) {
      (core.tc?.rlimits?.rlimits ?? []).forEach((rl, i) => {
        const name = RLIMITS[i] ?? `rlimit ${i}`;
        const limit = (spec.process?.rlimits ?? []).find((r) => r.type === name);
        if (limit === undefined) return;
        if (BigInt(rl.max) > BigInt(limit.hard) || BigInt(rl.cur) > BigInt(rl.max)) {
          refuse(
            file,
            `task ${tid} ${name} ${rl.cur}/${rl.max} is above the container's hard limit (${limit.hard})`,
          );
        }
      });
    }
    const oom = core.tc?.oom_score_adj;
    if (oom !== undefined && oom < specOom && !hasCap('CAP_SYS_RESOURCE')) {
      refuse(file, `task ${tid} oom_score_adj ${oom} is below the container's (${specOom})`);
    }
  }

  // ---- namespaces ----
  const root = img.pstree[0];
  if (root === undefined) refuse('pstree.img', 'no tasks');
  const rootIds = img.inventory.root_ids;
  if (rootIds === undefined) refuse('inventory.img', 'root_ids (the namespaces of the dump) is missing');
  const idsOf = (pid: number): [string, TaskKobjIdsEntry] => {
    const f = `ids-${pid}.img`;
    const ids = img.ids.get(f) ?? img.cores.get(`core-${pid}.img`)?.ids;
    if (ids === undefined) refuse(f, `task ${pid} has no namespace ids`);
    return [img.ids.has(f) ? f : `core-${pid}.img`, ids];
  };
  const [rootFile, rootTask] = idsOf(root.pid);
  const specNs = new Map((spec.linux?.namespaces ?? []).map((n) => [n.type, n]));
  for (const [type, field] of Object.entries(NS_FIELDS)) {
    const ns = specNs.get(type);
    if (ns?.path) continue; // joined by runc from a path: not CRIU's to create
    const mine = rootTask[field];
    const host = rootIds[field];
    if (ns !== undefined) {
      if (mine === undefined || host === undefined || mine === host) {
        refuse(
          rootFile,
          `task ${root.pid} ${field} ${String(mine)} is the host's ${type} namespace; the container has its own`,
        );
      }
    } else if (mine !== undefined && host !== undefined && mine !== host) {
      // CRIU itself restores tasks into a new time namespace (to keep their monotonic and boot
      // clocks); a checkpoint of a restored container carries it. It only offsets the
      // container's own clocks: no authority over the host.
      if (type === 'time') continue;
      refuse(
        rootFile,
        `task ${root.pid} ${field} ${mine} asks for a new ${type} namespace; the container shares the host's`,
      );
    }
  }
  for (const t of img.pstree.slice(1)) {
    // a zombie has no namespace ids of its own: CRIU recreates it from its parent, only to exit
    const zombie = img.cores.get(`core-${t.pid}.img`);
    if (
      zombie?.thread_core === undefined &&
      zombie?.tc?.task_state === TASK_DEAD &&
      !img.ids.has(`ids-${t.pid}.img`)
    )
      continue;
    const [f, ids] = idsOf(t.pid);
    for (const [type, field] of Object.entries(NS_FIELDS)) {
      if (ids[field] === rootTask[field]) continue;
      if (ids[field] !== undefined && ids[field] === rootIds[field]) {
        refuse(f, `task ${t.pid} ${field} ${ids[field]} is the host's ${type} namespace`);
      }
      if (!hasCap('CAP_SYS_ADMIN')) {
        refuse(
          f,
          `task ${t.pid} ${field} ${String(ids[field])} is a nested ${type} namespace; the container cannot create one (no CAP_SYS_ADMIN)`,
        );
      }
    }
  }

  // ---- mounts and tmpfs contents ----
  const mntNs = rootTask.mnt_ns_id;
  let tmpfsDevs = new Set<number>();
  const tmpfsIds = new Set<number>();
  for (const [file, entries] of img.mounts) {
    if (file !== `mountpoints-${mntNs}.img`) {
      refuse(
        file,
        `mount namespace ${file.replace(/^mountpoints-|\.img$/g, '')} is not the container's (${String(mntNs)})`,
      );
    }
    tmpfsDevs = checkMounts(file, entries, spec);
    for (const e of entries)
      if (e.fstype === FSTYPE.TMPFS && tmpfsDevs.has(e.root_dev)) tmpfsIds.add(e.mnt_id);
  }
  // ---- cgroups and network devices ----
  if (img.cgroup) checkCgroups(img.cgroup);
  for (const [file, devs] of img.netdevs ?? []) {
    for (const dev of devs) {
      // ckptd's containers have network `none` or `host`: a loopback is all a netns can hold
      if (dev.type !== ND_TYPE.LOOPBACK) {
        const type = Object.entries(ND_TYPE).find(([, v]) => v === dev.type)?.[0] ?? String(dev.type);
        refuse(
          file,
          `network device ${JSON.stringify(dev.name)} (${type.toLowerCase()}) is not a device of the container`,
        );
      }
    }
  }

  for (const f of img.files) {
    if (!f.startsWith('tmpfs-')) continue;
    const dev = /^tmpfs-dev-(\d+)\.tar\.gz\.img$/.exec(f);
    const id = /^tmpfs-(\d+)\.tar\.gz\.img$/.exec(f);
    if (dev?.[1] !== undefined && tmpfsDevs.has(Number(dev[1]))) continue;
    if (id?.[1] !== undefined && tmpfsIds.has(Number(id[1]))) continue;
    refuse(f, 'tmpfs contents for a filesystem that is not a tmpfs mount of the container');
  }
}

/**
 * loadCheckpointImages reads the images of `dir` (a checkpoint's CRIU images directory) that
 * checkCheckpointImages needs. Undecodable or oversized images are refused (InvalidArgumentError).
 */
export async function loadCheckpointImages(dir: string): Promise<CheckpointImages> {
  try {
    const files = (await readdir(dir)).sort();
    const [inventory] = await readImage(dir, 'inventory.img', 'INVENTORY');
    if (inventory === undefined) refuse('inventory.img', 'no entry');
    if (inventory.img_version !== 2) refuse('inventory.img', `img_version ${inventory.img_version} is not 2`);
    const pstree = await readImage(dir, 'pstree.img', 'PSTREE');
    const cores = new Map<string, CoreEntry>();
    const ids = new Map<string, TaskKobjIdsEntry>();
    const mounts = new Map<string, MntEntry[]>();
    const netdevs = new Map<string, NetDeviceEntry[]>();
    let seccomp: SeccompEntry | undefined;
    let cgroup: CgroupEntry | undefined;
    const one = <T>(f: string, entries: T[]): T => {
      if (entries.length !== 1) refuse(f, `holds ${entries.length} entries, not 1`);
      return entries[0] as T;
    };
    for (const f of files) {
      if (/^core-\d+\.img$/.test(f)) cores.set(f, one(f, await readImage(dir, f, 'CORE')));
      else if (/^ids-\d+\.img$/.test(f)) ids.set(f, one(f, await readImage(dir, f, 'IDS')));
      else if (/^mountpoints-\d+\.img$/.test(f)) mounts.set(f, await readImage(dir, f, 'MNTS'));
      else if (f === 'seccomp.img') seccomp = one(f, await readImage(dir, f, 'SECCOMP'));
      else if (f === 'cgroup.img') cgroup = one(f, await readImage(dir, f, 'CGROUP'));
      else if (/^netdev-\d+\.img$/.test(f)) netdevs.set(f, await readImage(dir, f, 'NETDEV'));
    }
    return {
      files,
      inventory,
      pstree,
      cores,
      ids,
      mounts,
      netdevs,
      ...(seccomp ? { seccomp } : {}),
      ...(cgroup ? { cgroup } : {}),
    };
  } catch (err) {
    if (err instanceof CriuImageError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/**
 * verifyCheckpointImages loads and checks the images of `dir` against `spec`, with ckptd's own
 * audit login uid as the one a restored task may hold.
 */
export async function verifyCheckpointImages(dir: string, spec: TrustSpec): Promise<void> {
  const text = await readFile('/proc/self/loginuid', 'utf8').catch(() => '');
  const loginuid = /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
  checkCheckpointImages(await loadCheckpointImages(dir), spec, loginuid === undefined ? {} : { loginuid });
}
