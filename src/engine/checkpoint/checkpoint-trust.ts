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
import { InvalidArgumentError } from '../../errors/index.js';
import {
  CriuImageError,
  FSTYPE,
  ND_TYPE,
  SECCOMP_MODE,
  readImage,
  type CgroupEntry,
  type CoreEntry,
  type MntEntry,
  type NetDeviceEntry,
  type SeccompEntry,
  type TaskKobjIdsEntry,
} from '../../criu/images.js';
import { INVENTORY_IMG } from './layout.js';
import {
  refuse,
  UNSET_LOGINUID,
  type CheckpointImages,
  type TrustContext,
  type TrustSpec,
} from './trust-spec.js';
import { CAPABILITIES, RLIMITS, capBits, checkCreds, seccompFilterCount } from './trust-creds.js';
import { checkCgroups, checkMounts } from './trust-mounts.js';

export type { CheckpointImages, TrustContext, TrustSpec } from './trust-spec.js';
export { CAPABILITIES, wordBits } from './trust-creds.js';

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

function threadOf(file: string): string {
  return /^core-(\d+)\.img$/.exec(file)?.[1] ?? file;
}

/**
 * checkCheckpointImages refuses (InvalidArgumentError naming the image and field) a checkpoint
 * whose images ask for more than `spec` grants: credentials, capabilities, securebits, LSM
 * labels, oom_score_adj, seccomp modes, namespaces, mounts and tmpfs contents.
 */
/** TASK_DEAD is CRIU's task_state of a zombie (compel's COMPEL_TASK_DEAD). */
const TASK_DEAD = 2;

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
  if (rootIds === undefined) refuse(INVENTORY_IMG, 'root_ids (the namespaces of the dump) is missing');
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
    const [inventory] = await readImage(dir, INVENTORY_IMG, 'INVENTORY');
    if (inventory === undefined) refuse(INVENTORY_IMG, 'no entry');
    if (inventory.img_version !== 2) refuse(INVENTORY_IMG, `img_version ${inventory.img_version} is not 2`);
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
