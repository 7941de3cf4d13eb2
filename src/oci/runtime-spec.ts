/**
 * The OCI runtime spec ckptd hands runc for a Docker container, built the way moby's
 * `oci/defaults.go` and `daemon/oci_linux.go` build it: Docker's default mounts, masked and
 * read-only paths, capabilities, device rules and namespaces, plus the process derived from the
 * merged container Config. Pure: file contents (passwd/group) and host paths come from the caller.
 * Everything emitted is understood by runc 1.1.
 */
import { InvalidArgumentError } from '../errors/index.js';
import {
  mergeContainerConfig,
  processArgs,
  processEnv,
  type ContainerRequestConfig,
  type MergedContainerConfig,
} from './container-config.js';
import type { ImageRuntimeConfig } from './image-config.js';
import { parseMounts, specMount } from './mounts.js';
import { applyResources, type LinuxResources, type ResourceSpec } from './resources.js';
import { DEFAULT_CAPABILITIES } from './capabilities.js';
import {
  applyConfinement,
  processConfinementHost,
  type ConfinementHost,
  type ConfinementRequest,
  type LinuxDevice,
} from './confinement.js';
import type { LinuxSeccomp } from './seccomp.js';

/** OCI_VERSION is the runtime-spec version written into specs (runc 1.1 implements 1.0.2). */
export const OCI_VERSION = '1.0.2';

/** DEFAULT_CAPABILITIES is Docker's default capability set (moby `oci/caps/defaults.go`). */
export { DEFAULT_CAPABILITIES };

/** DEFAULT_MASKED_PATHS are the paths Docker 28 hides from containers (bind of /dev/null or empty tmpfs). */
export const DEFAULT_MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
]);

/** DEFAULT_READONLY_PATHS are the paths Docker remounts read-only. */
export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze([
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
]);

/** DEFAULT_SHM_SIZE is Docker's default /dev/shm size in bytes (64 MiB). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** DEFAULT_NOFILE is the RLIMIT_NOFILE (soft and hard) given to container processes. */
export const DEFAULT_NOFILE = 1048576;

/** Mount is an OCI runtime-spec mount. */
export interface Mount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** LinuxNamespace is a namespace entry; a path joins an existing namespace. */
export interface LinuxNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

/** LinuxDeviceCgroup is a device cgroup rule. */
export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: 'a' | 'b' | 'c';
  major?: number;
  minor?: number;
  access?: string;
}

/** POSIXRlimit is a process rlimit. */
export interface POSIXRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** SpecUser is the process identity. */
export interface SpecUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

/** SpecProcess is the container's init process. */
export interface SpecProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: SpecUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
  rlimits: POSIXRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
}

/** RuntimeSpec is the subset of the OCI runtime spec ckptd writes. */
export interface RuntimeSpec {
  ociVersion: string;
  process: SpecProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  domainname?: string;
  mounts: Mount[];
  annotations?: Record<string, string>;
  linux: {
    sysctl?: Record<string, string>;
    resources: LinuxResources & { devices: LinuxDeviceCgroup[] };
    cgroupsPath: string;
    namespaces: LinuxNamespace[];
    devices: LinuxDevice[];
    seccomp?: LinuxSeccomp;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** ResolvedUser is a process identity resolved from a Docker `User` string. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** additionalGids are the supplementary groups (Docker puts the primary gid first). */
  additionalGids?: number[];
}

/** UserResolver resolves a Docker `User` (`name`, `uid`, `name:group`, `uid:gid`, or `''` for root). */
export type UserResolver = (user: string) => ResolvedUser | undefined;

/** EtcFiles are host paths of the per-container files Docker bind-mounts over the image's. */
export interface EtcFiles {
  hosts?: string;
  hostname?: string;
  resolvConf?: string;
}

/** HostConfigInput is the part of the create request's HostConfig the spec reads. */
export interface HostConfigInput extends ConfinementRequest {
  Binds?: string[] | null;
  ReadonlyRootfs?: boolean;
  /** ShmSize in bytes; 0 or absent means DEFAULT_SHM_SIZE. */
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  /** Tmpfs maps container paths to tmpfs mount options (`docker run --tmpfs /path:opts`). */
  Tmpfs?: Record<string, string> | null;
  /** Mounts are `docker run --mount` entries (see oci/mounts.ts). */
  Mounts?: unknown;
}

/** RuntimeSpecInput is everything buildRuntimeSpec needs. */
export interface RuntimeSpecInput {
  /** id is the 64-hex container ID. */
  id: string;
  /**
   * config is the container Config. When `image` is given it is the raw create request and is
   * merged with the image first; otherwise it must already be the merged Config (what the engine
   * stored at create), because merging twice is not idempotent (`Entrypoint: [""]`).
   */
  config: ContainerRequestConfig | MergedContainerConfig;
  /** image is the image config's `config` object, for a raw request. */
  image?: ImageRuntimeConfig;
  hostConfig?: HostConfigInput;
  /** networkMode: `none` gives a fresh, empty network namespace; `host` shares the host's. */
  networkMode: 'none' | 'host';
  /** namespace is the containerd namespace, for the default cgroupsPath `/<namespace>/<id>`. */
  namespace?: string;
  /** cgroupsPath overrides the default cgroupsPath. */
  cgroupsPath?: string;
  /** cgroupVersion picks the cgroup namespace default: private on v2 (Docker's default), host on v1. */
  cgroupVersion?: 1 | 2;
  /** resolveUser resolves User against the image's /etc/passwd and /etc/group (see userResolverFromFiles). */
  resolveUser?: UserResolver;
  etcFiles?: EtcFiles;
  annotations?: Record<string, string>;
  /** consoleSize is the initial TTY size (create request `ConsoleSize` [height, width]). */
  consoleSize?: [number, number];
  /** groupAdd are the resolved HostConfig.GroupAdd gids, appended to the user's groups. */
  groupAdd?: number[];
  /** resources are the HostConfig resources, devices, ulimits and cgroup parent (oci/resources.ts). */
  resources?: ResourceSpec;
  /** confinementHost: host capabilities, arch, kernel, devices (default: this process's, caps all known). */
  confinementHost?: ConfinementHost;
  /** volumeMounts are the container's volumes as bind mounts of their host directories. */
  volumeMounts?: Mount[];
}

const MIN_ID = 0;
const MAX_ID = 2 ** 31 - 1;

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function atoi(s: string): number | undefined {
  return /^[+-]?[0-9]+$/.test(s) ? Number.parseInt(s, 10) : undefined;
}

function lines(text: string | undefined): string[][] {
  if (text === undefined) return [];
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/** parsePasswd parses /etc/passwd text (name:x:uid:gid:gecos:home:shell) as runc's user package. */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  return lines(text).map((p) => ({
    name: p[0] ?? '',
    uid: atoi(p[2] ?? '') ?? 0,
    gid: atoi(p[3] ?? '') ?? 0,
  }));
}

/** parseGroup parses /etc/group text (name:x:gid:member,member) as runc's user package. */
export function parseGroup(text: string | undefined): GroupEntry[] {
  return lines(text).map((p) => ({
    name: p[0] ?? '',
    gid: atoi(p[2] ?? '') ?? 0,
    members: (p[3] ?? '').split(',').filter((m) => m !== ''),
  }));
}

function checkRange(id: number): number {
  if (id < MIN_ID || id > MAX_ID) {
    throw new InvalidArgumentError(`uids and gids must be in range ${MIN_ID}-${MAX_ID}`);
  }
  return id;
}

/**
 * execUserFromFiles resolves a Docker `User` string against passwd and group file contents
 * exactly as runc's `user.GetExecUser` (which Docker calls): `''` is root with root's groups,
 * a numeric uid/gid needs no entry, a name does (`unable to find user x: no matching entries in
 * passwd file`, `unable to find group x: no matching entries in group file`); supplementary
 * groups apply only when no group is given explicitly. The primary gid comes first in
 * additionalGids, as moby's `getUser` puts it.
 */
export function execUserFromFiles(userSpec: string, passwdText?: string, groupText?: string): ResolvedUser {
  const colon = userSpec.indexOf(':');
  const userArg = colon === -1 ? userSpec : userSpec.slice(0, colon);
  const groupArg = colon === -1 ? '' : (userSpec.slice(colon + 1).split(':')[0] ?? '');
  const uidArg = atoi(userArg);
  const gidArg = atoi(groupArg);
  let uid = 0;
  let gid = 0;
  let sgids: number[] = [];

  const users = parsePasswd(passwdText).filter((u) =>
    userArg === '' ? u.uid === 0 : uidArg !== undefined ? u.uid === uidArg : u.name === userArg,
  );
  let matchedName = '';
  const first = users[0];
  if (first !== undefined) {
    matchedName = first.name;
    uid = first.uid;
    gid = first.gid;
  } else if (userArg !== '') {
    if (uidArg === undefined) {
      throw new InvalidArgumentError(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
    uid = checkRange(uidArg);
  }

  if (groupArg !== '' || matchedName !== '') {
    const groups = parseGroup(groupText).filter((g) =>
      groupArg === ''
        ? g.members.includes(matchedName)
        : gidArg !== undefined
          ? g.gid === gidArg
          : g.name === groupArg,
    );
    if (groupArg !== '') {
      const g = groups[0];
      if (g !== undefined) {
        gid = g.gid;
      } else {
        if (gidArg === undefined) {
          throw new InvalidArgumentError(
            `unable to find group ${groupArg}: no matching entries in group file`,
          );
        }
        gid = checkRange(gidArg);
      }
    } else {
      sgids = groups.map((g) => g.gid);
    }
  }
  return { uid, gid, additionalGids: [...new Set([gid, ...sgids])] };
}

/**
 * userResolverFromFiles returns a UserResolver over the text of a rootfs's /etc/passwd and
 * /etc/group (either may be absent), for buildRuntimeSpec's `resolveUser`.
 */
export function userResolverFromFiles(files: { passwd?: string; group?: string }): UserResolver {
  return (user) => execUserFromFiles(user, files.passwd, files.group);
}

const VALID_RW = new Set(['rw', 'ro']);
const VALID_LABEL = new Set(['z', 'Z']);
const VALID_PROPAGATION = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
const VALID_COPY = new Set(['nocopy']);
const VALID_CONSISTENCY = new Set(['consistent', 'cached', 'delegated']);

/** BindMount is a parsed `HostConfig.Binds` entry. */
export interface BindMount {
  source: string;
  destination: string;
  readOnly: boolean;
  propagation: string;
  /**
   * volume is set for a named (`name:/dst`) or anonymous (`/dst`) volume: `source` is then
   * empty and the engine mounts the volume (engine/volumes).
   */
  volume?: { name: string; noCopy: boolean; mode: string };
}

function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    if (VALID_RW.has(o)) counts[0]!++;
    else if (VALID_LABEL.has(o)) counts[1]!++;
    else if (VALID_PROPAGATION.has(o)) counts[2]!++;
    else if (VALID_COPY.has(o)) counts[3]!++;
    else if (VALID_CONSISTENCY.has(o)) counts[4]!++;
    else return false;
  }
  return counts.every((c) => c <= 1);
}

/** cleanPath is Go's path.Clean of an absolute container path (`..` never climbs above `/`). */
export function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

/**
 * parseBind parses one `HostConfig.Binds` entry, `src:dst[:mode]`, with Docker's Linux parser
 * rules (moby `linuxParser.parseMountRaw`): mode is a comma list of at most one each of rw/ro,
 * z/Z, a propagation, nocopy and a consistency. Errors are InvalidArgumentError `invalid volume
 * specification: 'x'` (or `invalid mode: m`, or the mount-config reason appended). A source that
 * is not an absolute path names a volume; a lone destination is an anonymous volume: both come
 * back with `volume` set.
 */
export function parseBind(raw: string): BindMount {
  const arr = raw.split(':');
  const invalid = (why?: string): never => {
    throw new InvalidArgumentError(`invalid volume specification: '${raw}'${why ? `: ${why}` : ''}`);
  };
  if (arr.length > 3 || arr[0] === '') invalid();
  let source = '';
  let destination: string;
  let mode = '';
  if (arr.length === 1) {
    destination = arr[0] ?? '';
  } else if (arr.length === 2) {
    if (validMountMode(arr[1] ?? '')) invalid();
    source = arr[0] ?? '';
    destination = arr[1] ?? '';
  } else {
    source = arr[0] ?? '';
    destination = arr[1] ?? '';
    mode = arr[2] ?? '';
  }
  if (!validMountMode(mode)) throw new InvalidArgumentError(`invalid mode: ${mode}`);
  const isVolume = !source.startsWith('/');
  const type = isVolume ? 'volume' : 'bind';
  const opts = mode === '' ? [] : mode.split(',');
  const cfg = (why: string) => invalid(`invalid mount config for type "${type}": ${why}`);
  if (destination === '') cfg('field Target must not be empty');
  if (!destination.startsWith('/')) cfg(`invalid mount path: '${destination}' mount path must be absolute`);
  if (cleanPath(destination) === '/') cfg(`invalid specification: destination can't be '/'`);
  const propagation = opts.find((o) => VALID_PROPAGATION.has(o));
  if (isVolume) {
    if (propagation !== undefined) cfg('field BindOptions must not be specified');
    if (source === '' && opts.includes('ro')) cfg('must not set ReadOnly mode when using anonymous volumes');
    return {
      source: '',
      destination: cleanPath(destination),
      readOnly: opts.includes('ro'),
      propagation: '',
      volume: { name: source, noCopy: opts.includes('nocopy'), mode },
    };
  }
  if (opts.includes('nocopy')) cfg('field VolumeOptions must not be specified');
  return {
    source: cleanPath(source),
    destination: cleanPath(destination),
    readOnly: opts.includes('ro'),
    propagation: propagation ?? 'rprivate',
  };
}

/** defaultMounts returns Docker's default mounts (moby `oci.DefaultLinuxSpec`) with /dev/shm sized. */
export function defaultMounts(shmSize: number = DEFAULT_SHM_SIZE): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    // "cgroup" as moby writes it: runc 1.1 mounts cgroup2 on a unified host and v1 controllers otherwise.
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['ro', 'nosuid', 'noexec', 'nodev'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
  ];
}

/**
 * defaultDeviceRules returns Docker's device cgroup rules: deny everything, then allow null,
 * zero, full, random, urandom, tty, console and /dev/pts, and keep fuse denied. runc adds its
 * own allow-list for the default device nodes it creates (null, zero, full, random, urandom, tty,
 * ptmx), which is why `linux.devices` stays empty, as in moby.
 */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const allow = (major: number, minor: number): LinuxDeviceCgroup => ({
    allow: true,
    type: 'c',
    major,
    minor,
    access: 'rwm',
  });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5), // zero
    allow(1, 3), // null
    allow(1, 9), // urandom
    allow(1, 8), // random
    allow(1, 7), // full
    allow(5, 0), // tty
    allow(5, 1), // console
    { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/*
    allow(5, 2), // ptmx
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // fuse
  ];
}

function depth(p: string): number {
  return cleanPath(p).split('/').length - 1;
}

/** TMPFS_OPTIONS are the options of a `--tmpfs` mount before the user's (moby `tmpfsOptions`). */
const TMPFS_DEFAULT_OPTIONS = ['noexec', 'nosuid', 'nodev'];
/** TMPFS_OPTION is one tmpfs option a user may give: flags and size/mode/uid/gid/nr_* values. */
const TMPFS_OPTION =
  /^(rw|ro|exec|noexec|suid|nosuid|dev|nodev|atime|noatime|diratime|nodiratime|relatime|norelatime|strictatime|nostrictatime|(size|nr_blocks|nr_inodes|mode|uid|gid|huge|mpol|tmpcopyup)=[\w.:%-]*|tmpcopyup|notmpcopyup)$/;

/**
 * tmpfsMount is a `HostConfig.Tmpfs` entry: an absolute destination and comma-separated
 * options, appended to Docker's noexec,nosuid,nodev (a later `exec` wins, as in mount(8)).
 */
function tmpfsMount(destination: string, options: string): Mount {
  if (!destination.startsWith('/')) {
    throw new InvalidArgumentError(
      `invalid mount config for type "tmpfs": invalid mount path: '${destination}' mount path must be absolute`,
    );
  }
  const dest = cleanPath(destination);
  if (dest === '/')
    throw new InvalidArgumentError("invalid mount config for type \"tmpfs\": destination can't be '/'");
  const user = options === '' ? [] : options.split(',');
  for (const o of user) {
    if (!TMPFS_OPTION.test(o))
      throw new InvalidArgumentError(`invalid tmpfs option ${JSON.stringify(o)} for ${dest}`);
  }
  return { destination: dest, type: 'tmpfs', source: 'tmpfs', options: [...TMPFS_DEFAULT_OPTIONS, ...user] };
}

function bindMount(source: string, destination: string, readOnly: boolean, propagation: string): Mount {
  return {
    destination,
    type: 'bind',
    source,
    options: ['rbind', ...(readOnly ? ['ro'] : []), propagation],
  };
}

function resolveUser(user: string, resolver: UserResolver | undefined): ResolvedUser {
  const resolved = resolver !== undefined ? resolver(user) : execUserFromFiles(user);
  if (resolved === undefined) {
    const name = user.split(':')[0] ?? user;
    throw new InvalidArgumentError(`unable to find user ${name}: no matching entries in passwd file`);
  }
  checkRange(resolved.uid);
  checkRange(resolved.gid);
  return resolved;
}

/**
 * buildRuntimeSpec returns the OCI runtime spec for a Docker container: args from
 * Entrypoint+Cmd, Docker's environment (PATH default, HOSTNAME, TERM=xterm with a TTY), cwd
 * (default `/`), the resolved user, hostname (first 12 chars of the ID unless Config.Hostname),
 * rootfs `rootfs` (read-only with ReadonlyRootfs), pid/ipc/uts/mount namespaces plus network
 * (unless `host`) and cgroup (on cgroup v2), Docker's default mounts, binds and /etc files sorted
 * parents-first, RLIMIT_NOFILE, device rules and the cgroups path; then the confinement of
 * HostConfig (capabilities, seccomp, no_new_privs, masked/read-only paths, privileged devices:
 * see applyConfinement). Errors are InvalidArgumentError (bad
 * command, user, bind).
 */
export function buildRuntimeSpec(input: RuntimeSpecInput): RuntimeSpec {
  if (!/^[a-f0-9]{64}$/.test(input.id)) {
    throw new InvalidArgumentError(`invalid container ID: ${input.id}`);
  }
  // Without an image this only normalizes and re-verifies an already merged Config.
  const config: MergedContainerConfig = mergeContainerConfig(input.config, input.image);
  const hostConfig = input.hostConfig ?? {};
  const hostname = config.Hostname || input.id.slice(0, 12);
  const tty = config.Tty === true;
  const readonlyRootfs = hostConfig.ReadonlyRootfs === true;

  const user = resolveUser(config.User, input.resolveUser);
  const process: SpecProcess = {
    terminal: tty,
    user: {
      uid: user.uid,
      gid: user.gid,
      additionalGids: [...(user.additionalGids ?? [user.gid]), ...(input.groupAdd ?? [])],
    },
    args: processArgs(config.Entrypoint, config.Cmd),
    env: processEnv(config.Env, hostname, tty),
    cwd: config.WorkingDir ? cleanPath(config.WorkingDir) : '/',
    capabilities: {
      bounding: [...DEFAULT_CAPABILITIES],
      effective: [...DEFAULT_CAPABILITIES],
      permitted: [...DEFAULT_CAPABILITIES],
    },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: DEFAULT_NOFILE, soft: DEFAULT_NOFILE }],
    noNewPrivileges: false,
    oomScoreAdj: 0,
  };
  if (tty && input.consoleSize !== undefined) {
    process.consoleSize = { height: input.consoleSize[0], width: input.consoleSize[1] };
  }

  // User mounts: binds, then the per-container /etc files (rw unless the rootfs is read-only).
  const userMounts: Mount[] = [];
  for (const raw of hostConfig.Binds ?? []) {
    const b = parseBind(raw);
    if (b.volume === undefined)
      userMounts.push(bindMount(b.source, b.destination, b.readOnly, b.propagation));
  }
  for (const m of parseMounts(hostConfig.Mounts)) if (m.type !== 'volume') userMounts.push(specMount(m));
  // volumes (named, anonymous, image VOLUME), resolved to their host directories by the engine
  userMounts.push(...(input.volumeMounts ?? []));
  for (const [dest, opts] of Object.entries(hostConfig.Tmpfs ?? {})) {
    userMounts.push(tmpfsMount(dest, typeof opts === 'string' ? opts : ''));
  }
  const etc = input.etcFiles ?? {};
  const etcEntries: [string | undefined, string][] = [
    [etc.resolvConf, '/etc/resolv.conf'],
    [etc.hostname, '/etc/hostname'],
    [etc.hosts, '/etc/hosts'],
  ];
  for (const [src, dst] of etcEntries) {
    // A user bind over the same file wins, as Docker skips network mounts the user mounted.
    if (src !== undefined && !userMounts.some((m) => m.destination === dst)) {
      if (!src.startsWith('/'))
        throw new InvalidArgumentError(`host path of ${dst} must be absolute: ${src}`);
      userMounts.push(bindMount(src, dst, readonlyRootfs, 'rprivate'));
    }
  }
  const seen = new Set<string>();
  for (const m of userMounts) {
    if (seen.has(m.destination)) throw new InvalidArgumentError(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
  }
  // Parents before children (moby sortMounts); Array.prototype.sort is stable.
  userMounts.sort((a, b) => depth(a.destination) - depth(b.destination));

  const shmSize = hostConfig.ShmSize && hostConfig.ShmSize > 0 ? hostConfig.ShmSize : DEFAULT_SHM_SIZE;
  const userDev = seen.has('/dev');
  const mounts = defaultMounts(shmSize).filter(
    (m) => !seen.has(m.destination) && !(userDev && m.destination.startsWith('/dev/')),
  );
  if (readonlyRootfs) {
    for (const m of mounts) {
      if (
        !['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination) &&
        !m.options.includes('ro')
      ) {
        m.options.push('ro');
      }
    }
  }
  mounts.push(...userMounts);

  const namespaces: LinuxNamespace[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (input.networkMode !== 'host') namespaces.push({ type: 'network' });
  if ((input.cgroupVersion ?? 2) === 2) namespaces.push({ type: 'cgroup' });

  const sysctl: Record<string, string> = {};
  if (input.networkMode !== 'host') {
    // moby: unprivileged ICMP echo and low ports inside the container's own network namespace.
    sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  for (const [k, v] of Object.entries(hostConfig.Sysctls ?? {})) {
    // defineProperty, not assignment: a `__proto__` key must stay data.
    Object.defineProperty(sysctl, k, { value: v, enumerable: true, writable: true, configurable: true });
  }

  const spec: RuntimeSpec = {
    ociVersion: OCI_VERSION,
    process,
    root: { path: 'rootfs', readonly: readonlyRootfs },
    hostname,
    mounts,
    linux: {
      resources: { devices: defaultDeviceRules() },
      cgroupsPath: input.cgroupsPath ?? `/${input.namespace ?? 'default'}/${input.id}`,
      namespaces,
      devices: [],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (Object.keys(sysctl).length > 0) spec.linux.sysctl = sysctl;
  if (config.Domainname) spec.domainname = config.Domainname;
  if (input.annotations !== undefined && Object.keys(input.annotations).length > 0) {
    spec.annotations = { ...input.annotations };
  }
  if (input.resources !== undefined) applyResources(spec, input.resources, input.id);
  // last: a privileged container gets every host device and an allow-all device rule (moby WithDevices)
  applyConfinement(spec, hostConfig, input.confinementHost ?? processConfinementHost());
  return spec;
}
