/**
 * Credentials in CRIU's images (core-*.img creds, seccomp.img): capabilities, ids, securebits
 * and seccomp filter chains, checked against the spec ckptd built (checkpoint-trust).
 */
import type { CredsEntry, SeccompEntry } from '../../criu/images.js';
import { KNOWN_CAPABILITIES } from '../../oci/capabilities.js';
import { refuse, type TrustSpec } from './trust-spec.js';

/** CAPABILITIES are Linux capability names by bit number (<linux/capability.h>). */
export const CAPABILITIES = KNOWN_CAPABILITIES;

/** RLIMITS are the RLIMIT_* names by resource number (<asm-generic/resource.h>). */
export const RLIMITS = [
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

/** capBits turns capability names into a set of bit numbers (unknown names are ignored). */
export function capBits(names: string[] | undefined): Set<number> {
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
export function checkCreds(file: string, tid: string, c: CredsEntry, spec: TrustSpec): void {
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
export function seccompFilterCount(s: SeccompEntry | undefined): number {
  const filters = s?.seccomp_filters ?? [];
  filters.forEach((f, i) => {
    if (f.prev !== undefined && f.prev >= i) {
      refuse('seccomp.img', `filter ${i} chains to filter ${f.prev}, which does not precede it`);
    }
  });
  return filters.length;
}
