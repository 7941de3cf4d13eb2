/**
 * The mount tree (mountpoints-*.img) and cgroups (cgroup.img) of CRIU's images, checked against
 * the spec ckptd built (checkpoint-trust): only the spec's mounts, no path out of the container.
 */
import { posix } from 'node:path';
import { FSTYPE, type CgroupDirEntry, type CgroupEntry, type MntEntry } from '../../criu/images.js';
import { refuse, type TrustSpec } from './trust-spec.js';

const MS_RDONLY = 1;

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
export function checkMounts(file: string, entries: MntEntry[], spec: TrustSpec): Set<number> {
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
export function checkCgroups(cg: CgroupEntry): void {
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
