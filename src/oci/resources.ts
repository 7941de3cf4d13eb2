/**
 * Container resources as dockerd 20.10 applies them (moby `daemon/daemon_unix.go`
 * `verifyPlatformContainerResources`, `adaptContainerSettings`, `daemon/oci_linux.go`
 * `WithResources`/`WithDevices`/`WithRlimits`/`WithCgroups`/`WithOOMScore`, `oci/devices_linux.go`,
 * `container/container_unix.go` `UpdateContainer`, `daemon/update_linux.go`): a create or update
 * request's resource fields are read and checked against what the host's cgroups offer, then
 * turned into the OCI `linux.resources`, `linux.devices`, `process.rlimits`, `process.oomScoreAdj`
 * and `linux.cgroupsPath` runc applies (runc writes cgroup v1 or v2 files itself).
 *
 * Where dockerd warns and silently discards a limit the host cannot enforce, ckptd refuses it
 * (400 naming the field): a limit is applied or refused, never dropped. Pure: what the host has
 * comes in through ResourceHost (cgroup capabilities, device nodes).
 */
import { InvalidArgumentError } from '../errors/index.js';
import { HOST_CONFIG_FIELDS, isZero } from './create-fields.js';
import type { LinuxDeviceCgroup, POSIXRlimit, RuntimeSpec } from './runtime-spec.js';

/** SysInfo is what the host's cgroups can enforce (moby `pkg/sysinfo.SysInfo`). */
export interface SysInfo {
  cgroupVersion: 1 | 2;
  memoryLimit: boolean;
  swapLimit: boolean;
  memoryReservation: boolean;
  oomKillDisable: boolean;
  memorySwappiness: boolean;
  kernelMemory: boolean;
  kernelMemoryTCP: boolean;
  cpuShares: boolean;
  cpuCfs: boolean;
  cpuRealtime: boolean;
  cpuset: boolean;
  /** cpus is the root cpuset's cpus (`0-1`). */
  cpus: string;
  /** mems is the root cpuset's memory nodes (`0`). */
  mems: string;
  pidsLimit: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioReadBpsDevice: boolean;
  blkioWriteBpsDevice: boolean;
  blkioReadIOpsDevice: boolean;
  blkioWriteIOpsDevice: boolean;
  devicesCgroup: boolean;
  /** ncpu is the number of CPUs ckptd may run on (sched_getaffinity, as moby `sysinfo.NumCPU`). */
  ncpu: number;
}

/** FileNode is what lstat/stat say about a host path. */
export interface FileNode {
  kind: 'char' | 'block' | 'fifo' | 'dir' | 'symlink' | 'file' | 'other';
  major: number;
  minor: number;
  /** mode is the permission bits (st_mode without the file type). */
  mode: number;
  uid: number;
  gid: number;
}

/**
 * DeviceHost reads host paths for device mappings and blkio devices. Its methods throw an
 * Error whose message is Go's `*os.PathError` text (`lstat /dev/x: no such file or directory`).
 */
export interface DeviceHost {
  lstat(path: string): FileNode;
  stat(path: string): FileNode;
  /** realpath resolves every symlink (Go `filepath.EvalSymlinks`). */
  realpath(path: string): string;
  /** readdir lists a directory's entry names. */
  readdir(path: string): string[];
}

/** ResourceHost is everything about the host the resource builder reads. */
export interface ResourceHost {
  sys: SysInfo;
  devices: DeviceHost;
}

/** WeightDevice is a `BlkioWeightDevice` entry. */
export interface WeightDevice {
  Path: string;
  Weight: number;
}

/** ThrottleDevice is a `BlkioDevice{Read,Write}{Bps,IOps}` entry. */
export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

/** Ulimit is a `HostConfig.Ulimits` entry. */
export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** DeviceMapping is a `HostConfig.Devices` entry (`--device /dev/a:/dev/b:rwm`). */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** RestartPolicy is `HostConfig.RestartPolicy`. */
export interface RestartPolicy {
  Name: string;
  MaximumRetryCount: number;
}

/**
 * Resources are the resource fields of a HostConfig, read and normalised: zero values where the
 * request left a field out, `null` for the pointer fields dockerd leaves nil.
 */
export interface Resources {
  Memory: number;
  MemorySwap: number;
  MemoryReservation: number;
  MemorySwappiness: number | null;
  OomKillDisable: boolean | null;
  NanoCpus: number;
  CpuShares: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  CpusetMems: string;
  PidsLimit: number | null;
  BlkioWeight: number;
  BlkioWeightDevice: WeightDevice[];
  BlkioDeviceReadBps: ThrottleDevice[];
  BlkioDeviceWriteBps: ThrottleDevice[];
  BlkioDeviceReadIOps: ThrottleDevice[];
  BlkioDeviceWriteIOps: ThrottleDevice[];
  CgroupParent: string;
  OomScoreAdj: number;
  Ulimits: Ulimit[];
  Devices: DeviceMapping[];
  DeviceCgroupRules: string[];
}

/** RESOURCE_FIELDS are the HostConfig fields this module reads, in Docker's order. */
export const RESOURCE_FIELDS: readonly (keyof Resources)[] = Object.freeze([
  'CpuShares',
  'Memory',
  'NanoCpus',
  'CgroupParent',
  'BlkioWeight',
  'BlkioWeightDevice',
  'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps',
  'BlkioDeviceReadIOps',
  'BlkioDeviceWriteIOps',
  'CpuPeriod',
  'CpuQuota',
  'CpusetCpus',
  'CpusetMems',
  'Devices',
  'DeviceCgroupRules',
  'MemoryReservation',
  'MemorySwap',
  'MemorySwappiness',
  'OomKillDisable',
  'PidsLimit',
  'Ulimits',
  'OomScoreAdj',
]);

/**
 * UPDATABLE_FIELDS are the Resources fields `docker update` changes (moby `UpdateContainer`);
 * dockerd ignores the others in an update body, ckptd refuses them when set.
 */
export const UPDATABLE_FIELDS: ReadonlySet<string> = new Set([
  'BlkioWeight',
  'CpuShares',
  'NanoCpus',
  'CpuPeriod',
  'CpuQuota',
  'CpusetCpus',
  'CpusetMems',
  'Memory',
  'MemorySwap',
  'MemoryReservation',
  'PidsLimit',
]);

/** LINUX_MIN_MEMORY is moby's `linuxMinMemory` (6 MiB). */
export const LINUX_MIN_MEMORY = 6 * 1024 * 1024;
/** CPU_SHARES_MIN and CPU_SHARES_MAX are the kernel's cpu.shares bounds (runc checks them). */
export const CPU_SHARES_MIN = 2;
export const CPU_SHARES_MAX = 262144;
/** CFS_PERIOD_US is the period NanoCpus is expressed in (100 ms). */
export const CFS_PERIOD_US = 100_000;

/** LinuxDevice is an OCI `linux.devices` entry (a node runc creates in the container's /dev). */
export interface LinuxDevice {
  path: string;
  type: string;
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** LinuxWeightDevice is an OCI blkio weight device. */
export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight: number;
}

/** LinuxThrottleDevice is an OCI blkio throttle device. */
export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

/** LinuxResources is the OCI `linux.resources` object ckptd writes (and sends to Tasks.Update). */
export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: {
    limit?: number;
    reservation?: number;
    swap?: number;
    swappiness?: number;
    disableOOMKiller?: boolean;
  };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: {
    weight?: number;
    weightDevice?: LinuxWeightDevice[];
    throttleReadBpsDevice?: LinuxThrottleDevice[];
    throttleWriteBpsDevice?: LinuxThrottleDevice[];
    throttleReadIOPSDevice?: LinuxThrottleDevice[];
    throttleWriteIOPSDevice?: LinuxThrottleDevice[];
  };
}

/** ResourceSpec is what buildResources adds to a runtime spec (applyResources puts it there). */
export interface ResourceSpec {
  resources: LinuxResources;
  /** devicePermissions are appended to the default device cgroup rules. */
  devicePermissions: LinuxDeviceCgroup[];
  devices: LinuxDevice[];
  rlimits: POSIXRlimit[];
  oomScoreAdj: number;
  /** cgroupParent, when set, replaces the default parent of the cgroups path. */
  cgroupParent?: string;
}

// ---- reading a request ----

type Raw = Record<string, unknown>;

function bad(prefix: string, field: string, why: string): never {
  throw new InvalidArgumentError(`${prefix}${field}: ${why}`);
}

function int(prefix: string, o: Raw, f: string, def = 0): number {
  const v = o[f];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    bad(prefix, f, `must be an integer, not ${JSON.stringify(v)}`);
  return v;
}

function str(prefix: string, o: Raw, f: string): string {
  const v = o[f];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') bad(prefix, f, `must be a string, not ${JSON.stringify(v)}`);
  return v;
}

function list(prefix: string, o: Raw, f: string): Raw[] {
  const v = o[f];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(prefix, f, 'must be an array');
  return v.map((e: unknown, i) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e))
      bad(prefix, `${f}[${i}]`, 'must be an object');
    return e as Raw;
  });
}

/**
 * readResources reads the resource fields of a HostConfig (create, `prefix` `HostConfig.`) or
 * of an update body (`prefix` ''), checking JSON types only. As dockerd's routes do,
 * PidsLimit <= 0 becomes null (no limit) at create and 0 (remove the limit) at update, and
 * MemorySwappiness -1 becomes null (`fixMemorySwappiness`).
 */
export function readResources(hc: Raw, prefix: string, update = false): Resources {
  const swappiness = hc.MemorySwappiness;
  let memorySwappiness: number | null = null;
  if (swappiness !== undefined && swappiness !== null) {
    memorySwappiness = int(prefix, hc, 'MemorySwappiness');
    if (memorySwappiness === -1) memorySwappiness = null;
  }
  const oom = hc.OomKillDisable;
  if (oom !== undefined && oom !== null && typeof oom !== 'boolean')
    bad(prefix, 'OomKillDisable', 'must be a boolean');
  let pids: number | null = null;
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null) {
    pids = int(prefix, hc, 'PidsLimit');
    if (pids <= 0) pids = update ? 0 : null;
  }
  const throttle = (f: string): ThrottleDevice[] =>
    list(prefix, hc, f).map((e, i) => ({
      Path: str(`${prefix}${f}[${i}].`, e, 'Path'),
      Rate: int(`${prefix}${f}[${i}].`, e, 'Rate'),
    }));
  const rules = hc.DeviceCgroupRules;
  if (
    rules !== undefined &&
    rules !== null &&
    (!Array.isArray(rules) || rules.some((r) => typeof r !== 'string'))
  )
    bad(prefix, 'DeviceCgroupRules', 'must be an array of strings');
  return {
    Memory: int(prefix, hc, 'Memory'),
    MemorySwap: int(prefix, hc, 'MemorySwap'),
    MemoryReservation: int(prefix, hc, 'MemoryReservation'),
    MemorySwappiness: memorySwappiness,
    OomKillDisable: typeof oom === 'boolean' ? oom : null,
    NanoCpus: int(prefix, hc, 'NanoCpus'),
    CpuShares: int(prefix, hc, 'CpuShares'),
    CpuPeriod: int(prefix, hc, 'CpuPeriod'),
    CpuQuota: int(prefix, hc, 'CpuQuota'),
    CpusetCpus: str(prefix, hc, 'CpusetCpus'),
    CpusetMems: str(prefix, hc, 'CpusetMems'),
    PidsLimit: pids,
    BlkioWeight: int(prefix, hc, 'BlkioWeight'),
    BlkioWeightDevice: list(prefix, hc, 'BlkioWeightDevice').map((e, i) => ({
      Path: str(`${prefix}BlkioWeightDevice[${i}].`, e, 'Path'),
      Weight: int(`${prefix}BlkioWeightDevice[${i}].`, e, 'Weight'),
    })),
    BlkioDeviceReadBps: throttle('BlkioDeviceReadBps'),
    BlkioDeviceWriteBps: throttle('BlkioDeviceWriteBps'),
    BlkioDeviceReadIOps: throttle('BlkioDeviceReadIOps'),
    BlkioDeviceWriteIOps: throttle('BlkioDeviceWriteIOps'),
    CgroupParent: str(prefix, hc, 'CgroupParent'),
    OomScoreAdj: int(prefix, hc, 'OomScoreAdj'),
    Ulimits: list(prefix, hc, 'Ulimits').map((e, i) => ({
      Name: str(`${prefix}Ulimits[${i}].`, e, 'Name'),
      Soft: int(`${prefix}Ulimits[${i}].`, e, 'Soft'),
      Hard: int(`${prefix}Ulimits[${i}].`, e, 'Hard'),
    })),
    Devices: list(prefix, hc, 'Devices').map((e, i) => ({
      PathOnHost: str(`${prefix}Devices[${i}].`, e, 'PathOnHost'),
      PathInContainer: str(`${prefix}Devices[${i}].`, e, 'PathInContainer'),
      CgroupPermissions: str(`${prefix}Devices[${i}].`, e, 'CgroupPermissions'),
    })),
    DeviceCgroupRules: (rules as string[] | null | undefined) ?? [],
  };
}

// ---- verifying against the host (verifyPlatformContainerResources) ----

/**
 * parseUintList parses a cpuset list (`0-2,4`) as moby's `parsers.ParseUintListMaximum`; throws
 * `invalid format: <val>` or `value of out range, maximum is <max>`.
 */
export function parseUintList(val: string, maximum = 0): Set<number> {
  const out = new Set<number>();
  if (val === '') return out;
  const invalid = () => new Error(`invalid format: ${val}`);
  const atoi = (s: string): number => {
    if (!/^[+-]?\d+$/.test(s)) throw invalid();
    return Number(s);
  };
  const check = (v: number) => {
    if (maximum !== 0 && v > maximum) throw new Error(`value of out range, maximum is ${maximum}`);
  };
  for (const r of val.split(',')) {
    const dash = r.indexOf('-');
    if (dash === -1) {
      const v = atoi(r);
      check(v);
      out.add(v);
    } else {
      const min = atoi(r.slice(0, dash));
      const max = atoi(r.slice(dash + 1));
      if (max < min) throw invalid();
      check(max);
      for (let i = min; i <= max; i++) out.add(i);
    }
  }
  return out;
}

function cpusetAvailable(provided: string, available: string): boolean {
  const avail = parseUintList(available);
  const max = Math.max(8192, ...avail);
  for (const k of parseUintList(provided, max)) if (!avail.has(k)) return false;
  return true;
}

const NO_SUPPORT = 'your kernel does not support';

/**
 * verifyResources checks resources against the host as dockerd's
 * `verifyPlatformContainerResources` (and `verifyPlatformContainerSettings` for OomScoreAdj),
 * with dockerd's messages after the field name. A limit dockerd would warn about and drop
 * because the host lacks the cgroup file is refused instead. It may normalise `r` in place
 * (a memory limit without swap accounting runs with MemorySwap -1, as dockerd) and returns
 * dockerd's warnings.
 */
export function verifyResources(r: Resources, sys: SysInfo, prefix: string, update = false): string[] {
  const warnings: string[] = [];
  const fail = (f: string, why: string): never => bad(prefix, f, why);

  // memory
  if (r.Memory !== 0 && r.Memory < LINUX_MIN_MEMORY) fail('Memory', 'Minimum memory limit allowed is 6MB');
  if (r.Memory > 0 && !sys.memoryLimit)
    fail('Memory', `${NO_SUPPORT} memory limit capabilities or the cgroup is not mounted`);
  if (r.Memory > 0 && r.MemorySwap !== -1 && !sys.swapLimit) {
    if (r.MemorySwap > 0)
      fail('MemorySwap', `${NO_SUPPORT} swap limit capabilities or the cgroup is not mounted`);
    warnings.push(
      'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
    );
    r.MemorySwap = -1;
  }
  if (r.MemorySwap < -1) fail('MemorySwap', `invalid value ${r.MemorySwap} (-1 means unlimited swap)`);
  if (r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory)
    fail('MemorySwap', 'Minimum memoryswap limit should be larger than memory limit, see usage');
  if (r.Memory === 0 && r.MemorySwap > 0 && !update)
    fail('MemorySwap', 'You should always set the Memory limit when using Memoryswap limit, see usage');
  if (r.MemorySwappiness !== null) {
    if (!sys.memorySwappiness)
      fail(
        'MemorySwappiness',
        `${NO_SUPPORT} memory swappiness capabilities or the cgroup is not mounted` +
          (sys.cgroupVersion === 2 ? ' (cgroup v2 has no memory.swappiness)' : ''),
      );
    const s = r.MemorySwappiness;
    if (s < 0 || s > 100)
      fail('MemorySwappiness', `Invalid value: ${s}, valid memory swappiness range is 0-100`);
  }
  if (r.MemoryReservation > 0 && !sys.memoryReservation)
    fail('MemoryReservation', `${NO_SUPPORT} memory soft limit capabilities or the cgroup is not mounted`);
  if (r.MemoryReservation !== 0 && r.MemoryReservation < LINUX_MIN_MEMORY)
    fail('MemoryReservation', 'Minimum memory reservation allowed is 6MB');
  if (r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation)
    fail(
      'MemoryReservation',
      'Minimum memory limit can not be less than memory reservation limit, see usage',
    );
  if (r.OomKillDisable !== null && !sys.oomKillDisable) {
    if (r.OomKillDisable)
      fail(
        'OomKillDisable',
        `${NO_SUPPORT} OomKillDisable` + (sys.cgroupVersion === 2 ? ' (cgroup v2)' : ''),
      );
    r.OomKillDisable = null;
  }
  if (r.OomKillDisable === true && r.Memory === 0)
    warnings.push(
      'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
    );
  if (r.PidsLimit !== null && r.PidsLimit > 0 && !sys.pidsLimit)
    fail('PidsLimit', `${NO_SUPPORT} PIDs limit capabilities or the cgroup is not mounted`);

  // cpu
  if (r.NanoCpus > 0 && r.CpuPeriod > 0)
    fail('NanoCpus', 'Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (r.NanoCpus > 0 && r.CpuQuota > 0)
    fail('NanoCpus', 'Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (r.NanoCpus > 0 && !sys.cpuCfs)
    fail(
      'NanoCpus',
      'NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted',
    );
  if (r.NanoCpus < 0 || r.NanoCpus > sys.ncpu * 1e9)
    fail(
      'NanoCpus',
      `Range of CPUs is from 0.01 to ${sys.ncpu}.00, as there are only ${sys.ncpu} CPUs available`,
    );
  if (r.CpuShares < 0) fail('CpuShares', 'shares: invalid argument');
  if (r.CpuShares > 0 && !sys.cpuShares)
    fail('CpuShares', `${NO_SUPPORT} CPU shares or the cgroup is not mounted`);
  // The kernel clamps cpu.shares and runc then fails the start: refuse before.
  if (r.CpuShares > 0 && r.CpuShares < CPU_SHARES_MIN)
    fail('CpuShares', `the minimum allowed cpu-shares is ${CPU_SHARES_MIN}`);
  if (r.CpuShares > CPU_SHARES_MAX) fail('CpuShares', `the maximum allowed cpu-shares is ${CPU_SHARES_MAX}`);
  if ((r.CpuPeriod !== 0 || r.CpuQuota !== 0) && !sys.cpuCfs)
    fail(r.CpuPeriod !== 0 ? 'CpuPeriod' : 'CpuQuota', `${NO_SUPPORT} CPU CFS scheduler`);
  if (r.CpuPeriod !== 0 && (r.CpuPeriod < 1000 || r.CpuPeriod > 1000000))
    fail('CpuPeriod', 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (r.CpuQuota > 0 && r.CpuQuota < 1000)
    fail('CpuQuota', 'CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (r.CpuQuota < -1) fail('CpuQuota', `invalid value ${r.CpuQuota} (-1 means no quota)`);

  // cpuset
  if ((r.CpusetCpus !== '' || r.CpusetMems !== '') && !sys.cpuset)
    fail(
      r.CpusetCpus !== '' ? 'CpusetCpus' : 'CpusetMems',
      `${NO_SUPPORT} cpuset or the cgroup is not mounted`,
    );
  const cpusetCheck = (f: 'CpusetCpus' | 'CpusetMems', what: string, available: string, noun: string) => {
    let ok = false;
    try {
      ok = cpusetAvailable(r[f], available);
    } catch (err) {
      fail(f, `Invalid value ${r[f]} for cpuset ${what}: ${(err as Error).message}`);
    }
    if (!ok) fail(f, `Requested ${noun} are not available - requested ${r[f]}, available: ${available}`);
  };
  cpusetCheck('CpusetCpus', 'cpus', sys.cpus, 'CPUs');
  cpusetCheck('CpusetMems', 'mems', sys.mems, 'memory nodes');

  // blkio
  if (r.BlkioWeight > 0 && !sys.blkioWeight)
    fail(
      'BlkioWeight',
      `${NO_SUPPORT} Block I/O weight or the cgroup is not mounted` +
        (sys.cgroupVersion === 1 ? ' (cgroup v1 blkio.weight needs the BFQ I/O scheduler)' : ''),
    );
  if (r.BlkioWeight !== 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000))
    fail('BlkioWeight', 'Range of blkio weight is from 10 to 1000');
  const blkio: [keyof Resources, boolean, string][] = [
    ['BlkioWeightDevice', sys.blkioWeightDevice, 'Block I/O weight_device'],
    ['BlkioDeviceReadBps', sys.blkioReadBpsDevice, 'BPS Block I/O read limit'],
    ['BlkioDeviceWriteBps', sys.blkioWriteBpsDevice, 'BPS Block I/O write limit'],
    ['BlkioDeviceReadIOps', sys.blkioReadIOpsDevice, 'IOPS Block read limit'],
    ['BlkioDeviceWriteIOps', sys.blkioWriteIOpsDevice, 'IOPS Block write limit'],
  ];
  for (const [f, ok, what] of blkio) {
    if ((r[f] as unknown[]).length > 0 && !ok) fail(f, `${NO_SUPPORT} ${what} or the cgroup is not mounted`);
  }
  for (const [i, d] of r.BlkioWeightDevice.entries()) {
    if (d.Weight !== 0 && (d.Weight < 10 || d.Weight > 1000))
      fail(`BlkioWeightDevice[${i}]`, `invalid weight for device: ${d.Path}:${d.Weight}`);
  }
  for (const f of [
    'BlkioDeviceReadBps',
    'BlkioDeviceWriteBps',
    'BlkioDeviceReadIOps',
    'BlkioDeviceWriteIOps',
  ] as const) {
    for (const [i, d] of r[f].entries())
      if (d.Rate < 0) fail(`${f}[${i}]`, `invalid rate for device: ${d.Path}:${d.Rate}`);
  }

  // HostConfig settings next to the resources
  if (r.OomScoreAdj < -1000 || r.OomScoreAdj > 1000)
    fail('OomScoreAdj', `Invalid value ${r.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  if (r.CgroupParent !== '') {
    if (r.CgroupParent.endsWith('.slice'))
      fail(
        'CgroupParent',
        `${JSON.stringify(r.CgroupParent)} is a systemd slice, but ckptd uses the cgroupfs cgroup driver (give a cgroup path)`,
      );
    if (r.CgroupParent.includes(':') || r.CgroupParent.includes('\0'))
      fail('CgroupParent', `invalid cgroup path ${JSON.stringify(r.CgroupParent)}`);
  }
  for (const [i, u] of r.Ulimits.entries()) checkUlimit(prefix, i, u);
  for (const [i, d] of r.Devices.entries()) checkDeviceMapping(prefix, i, d);
  for (const rule of r.DeviceCgroupRules) parseDeviceCgroupRule(rule, prefix);
  if ((r.Devices.length > 0 || r.DeviceCgroupRules.length > 0) && !sys.devicesCgroup)
    fail(r.Devices.length > 0 ? 'Devices' : 'DeviceCgroupRules', `${NO_SUPPORT} the devices cgroup`);
  return warnings;
}

/**
 * adaptResources applies dockerd's create-time defaults (`adaptContainerSettings`): a memory
 * limit without MemorySwap gets twice as much memory+swap, OomKillDisable defaults to false.
 */
export function adaptResources(r: Resources): void {
  if (r.Memory > 0 && r.MemorySwap === 0) r.MemorySwap = r.Memory * 2;
  if (r.OomKillDisable === null) r.OomKillDisable = false;
}

// ---- ulimits, devices, device cgroup rules ----

/** RLIMITS are the rlimit names runc knows (`RLIMIT_<NAME>`); the docker CLI offers all but `as`. */
const RLIMITS = new Set([
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

function checkUlimit(prefix: string, i: number, u: Ulimit): void {
  const f = `Ulimits[${i}]`;
  if (!RLIMITS.has(u.Name)) bad(prefix, f, `invalid ulimit type: ${u.Name}`);
  if (u.Soft < 0 || u.Hard < 0)
    bad(prefix, f, `${u.Name}: negative (unlimited) values are not supported by ckptd; give a number`);
  if (u.Soft > u.Hard)
    bad(prefix, f, `ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
}

function checkDeviceMapping(prefix: string, i: number, d: DeviceMapping): void {
  const f = `Devices[${i}]`;
  if (d.PathOnHost === '') bad(prefix, f, 'PathOnHost must be given');
  if (!d.PathInContainer.startsWith('/'))
    bad(prefix, f, `${JSON.stringify(d.PathInContainer)} is not an absolute path (PathInContainer)`);
  const p = d.CgroupPermissions;
  if (p === '' || p.length > 3 || !/^[rwm]+$/.test(p) || new Set(p).size !== p.length)
    bad(prefix, f, `invalid device mode: ${JSON.stringify(p)} (CgroupPermissions, a combination of r, w, m)`);
}

const DEVICE_CGROUP_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** parseDeviceCgroupRule reads `c 1:3 rwm` as moby's `AppendDevicePermissionsFromCgroupRules`. */
export function parseDeviceCgroupRule(rule: string, prefix = 'HostConfig.'): LinuxDeviceCgroup {
  const m = DEVICE_CGROUP_RULE.exec(rule);
  if (!m) bad(prefix, 'DeviceCgroupRules', `invalid device cgroup rule format: '${rule}'`);
  const num = (s: string) => (s === '*' ? -1 : Number(s));
  const major = num(m[2]!);
  const minor = num(m[3]!);
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor))
    bad(prefix, 'DeviceCgroupRules', `invalid major or minor value in device cgroup rule format: '${rule}'`);
  return { allow: true, type: m[1] as 'a' | 'b' | 'c', major, minor, access: m[4]! };
}

const NODE_TYPE: Partial<Record<FileNode['kind'], string>> = { char: 'c', block: 'b', fifo: 'p' };

/**
 * devicesFromPath maps one `--device` as moby's `oci.DevicesFromPath`: a symlink is resolved
 * first; a device node (char, block or fifo) becomes one device; a directory becomes every
 * device node below it (its path in the container after the prefix swap); anything else is
 * `error gathering device information while adding custom device "<path>": <why>`.
 */
export function devicesFromPath(
  host: DeviceHost,
  pathOnHost: string,
  pathInContainer: string,
  permissions: string,
): { devices: LinuxDevice[]; permissions: LinuxDeviceCgroup[] } {
  let resolved = pathOnHost;
  try {
    if (host.lstat(pathOnHost).kind === 'symlink') resolved = host.realpath(pathOnHost);
  } catch {
    // lstat fails again below, with the reason
  }
  const devices: LinuxDevice[] = [];
  const perms: LinuxDeviceCgroup[] = [];
  const add = (node: FileNode, path: string) => {
    const type = NODE_TYPE[node.kind]!;
    devices.push({
      path,
      type,
      major: node.major,
      minor: node.minor,
      fileMode: node.mode,
      uid: node.uid,
      gid: node.gid,
    });
    perms.push({
      allow: true,
      type: type as 'b' | 'c',
      major: node.major,
      minor: node.minor,
      access: permissions,
    });
  };
  let why: string;
  try {
    const node = host.lstat(resolved);
    if (NODE_TYPE[node.kind] !== undefined) {
      add(node, pathInContainer);
      return { devices, permissions: perms };
    }
    why = 'not a device node';
    if (node.kind === 'dir') {
      const walk = (dir: string) => {
        let names: string[];
        try {
          names = host.readdir(dir).sort();
        } catch {
          return;
        }
        for (const name of names) {
          const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
          let n: FileNode;
          try {
            n = host.lstat(p);
          } catch {
            continue;
          }
          if (NODE_TYPE[n.kind] !== undefined) add(n, p.replace(resolved, pathInContainer));
          else if (n.kind === 'dir') walk(p);
        }
      };
      walk(resolved);
    }
  } catch (err) {
    why = (err as Error).message;
  }
  if (devices.length > 0) return { devices, permissions: perms };
  throw new Error(
    `error gathering device information while adding custom device ${JSON.stringify(pathOnHost)}: ${why}`,
  );
}

function blockDevice(host: DeviceHost, path: string): { major: number; minor: number } {
  const node = host.stat(path); // moby: unix.Stat (follows symlinks)
  if (node.kind !== 'block') throw new Error(`${path} is not a block device`);
  return { major: node.major, minor: node.minor };
}

// ---- building the spec parts ----

function memoryOf(r: Resources): NonNullable<LinuxResources['memory']> {
  const m: NonNullable<LinuxResources['memory']> = {};
  if (r.Memory > 0) m.limit = r.Memory;
  if (r.MemoryReservation > 0) m.reservation = r.MemoryReservation;
  if (r.MemorySwap > 0) m.swap = r.MemorySwap;
  if (r.MemorySwappiness !== null) m.swappiness = r.MemorySwappiness;
  if (r.OomKillDisable !== null) m.disableOOMKiller = r.OomKillDisable;
  return m;
}

function cpuOf(r: Resources): NonNullable<LinuxResources['cpu']> {
  const c: NonNullable<LinuxResources['cpu']> = {};
  if (r.CpuShares > 0) c.shares = r.CpuShares;
  if (r.CpusetCpus !== '') c.cpus = r.CpusetCpus;
  if (r.CpusetMems !== '') c.mems = r.CpusetMems;
  if (r.NanoCpus > 0) {
    c.period = CFS_PERIOD_US;
    c.quota = Math.trunc((r.NanoCpus * CFS_PERIOD_US) / 1e9);
  }
  if (r.CpuPeriod !== 0) c.period = r.CpuPeriod;
  if (r.CpuQuota !== 0) c.quota = r.CpuQuota;
  return c;
}

/**
 * buildResources turns verified Resources into the spec parts (moby `WithResources`,
 * `WithDevices`, `WithRlimits`, `WithOOMScore`, `WithCgroups`). Device paths are read on the
 * host: errors name the field (`HostConfig.Devices: error gathering device information ...`,
 * `HostConfig.BlkioDeviceReadBps: stat /dev/x: no such file or directory`).
 */
export function buildResources(r: Resources, host: DeviceHost, prefix = 'HostConfig.'): ResourceSpec {
  const resolve = <T>(f: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      return bad(prefix, f, (err as Error).message);
    }
  };
  const throttle = (f: keyof Resources & `BlkioDevice${string}`): LinuxThrottleDevice[] =>
    r[f].map((d) => ({ ...resolve(f, () => blockDevice(host, d.Path)), rate: d.Rate }));
  const blockIO: NonNullable<LinuxResources['blockIO']> = {};
  if (r.BlkioWeight > 0) blockIO.weight = r.BlkioWeight;
  const weightDevice = r.BlkioWeightDevice.map((d) => ({
    ...resolve('BlkioWeightDevice', () => blockDevice(host, d.Path)),
    weight: d.Weight,
  }));
  if (weightDevice.length > 0) blockIO.weightDevice = weightDevice;
  const lists = [
    ['throttleReadBpsDevice', 'BlkioDeviceReadBps'],
    ['throttleWriteBpsDevice', 'BlkioDeviceWriteBps'],
    ['throttleReadIOPSDevice', 'BlkioDeviceReadIOps'],
    ['throttleWriteIOPSDevice', 'BlkioDeviceWriteIOps'],
  ] as const;
  for (const [k, f] of lists) {
    const l = throttle(f);
    if (l.length > 0) blockIO[k] = l;
  }

  const resources: LinuxResources = {};
  const memory = memoryOf(r);
  if (Object.keys(memory).length > 0) resources.memory = memory;
  const cpu = cpuOf(r);
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;
  if (r.PidsLimit !== null && r.PidsLimit > 0) resources.pids = { limit: r.PidsLimit };
  if (Object.keys(blockIO).length > 0) resources.blockIO = blockIO;

  const devices: LinuxDevice[] = [];
  const devicePermissions: LinuxDeviceCgroup[] = [];
  for (const d of r.Devices) {
    const got = resolve('Devices', () =>
      devicesFromPath(host, d.PathOnHost, d.PathInContainer, d.CgroupPermissions),
    );
    devices.push(...got.devices);
    devicePermissions.push(...got.permissions);
  }
  for (const rule of r.DeviceCgroupRules) devicePermissions.push(parseDeviceCgroupRule(rule, prefix));

  const rlimits = r.Ulimits.map((u) => ({
    type: `RLIMIT_${u.Name.toUpperCase()}`,
    soft: u.Soft,
    hard: u.Hard,
  }));
  const out: ResourceSpec = { resources, devicePermissions, devices, rlimits, oomScoreAdj: r.OomScoreAdj };
  if (r.CgroupParent !== '') out.cgroupParent = r.CgroupParent;
  return out;
}

/** cgroupsPathFor is the cgroupfs path of a container under `parent` (moby: `filepath.Join(parent, id)`, made absolute). */
export function cgroupsPathFor(parent: string, id: string): string {
  const parts: string[] = [];
  for (const seg of `${parent}/${id}`.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

/**
 * applyResources puts the resource parts into a runtime spec: `linux.resources` (after the
 * default device rules, the mapped devices' and DeviceCgroupRules' permissions), the device
 * nodes, the ulimits (replacing a default of the same type, as dockerd merges its default
 * ulimits), oomScoreAdj and, with a CgroupParent, the cgroups path `/<parent>/<id>`.
 */
export function applyResources(spec: RuntimeSpec, parts: ResourceSpec, id: string): void {
  const devices = spec.linux.resources.devices;
  spec.linux.resources = { ...parts.resources, devices: [...devices, ...parts.devicePermissions] };
  spec.linux.devices = [...spec.linux.devices, ...parts.devices];
  const given = new Set(parts.rlimits.map((l) => l.type));
  spec.process.rlimits = [...spec.process.rlimits.filter((l) => !given.has(l.type)), ...parts.rlimits];
  spec.process.oomScoreAdj = parts.oomScoreAdj;
  if (parts.cgroupParent !== undefined) spec.linux.cgroupsPath = cgroupsPathFor(parts.cgroupParent, id);
}

// ---- docker update ----

/**
 * mergeUpdate applies an update body's resources to the container's current ones as moby's
 * `Container.UpdateContainer`: a zero field keeps the current value; NanoCpus and CpuPeriod/
 * CpuQuota cannot replace each other; a memory limit above the current memory+swap needs a new
 * MemorySwap. Conflicts are InvalidArgumentError with dockerd's message.
 */
export function mergeUpdate(cur: Resources, u: Resources): Resources {
  const conflict = (f: string, m: string): never => bad('', f, m);
  if (u.NanoCpus > 0 && cur.CpuPeriod > 0)
    conflict(
      'NanoCpus',
      'Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set',
    );
  if (u.NanoCpus > 0 && cur.CpuQuota > 0)
    conflict(
      'NanoCpus',
      'Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set',
    );
  if (u.CpuPeriod > 0 && cur.NanoCpus > 0)
    conflict(
      'CpuPeriod',
      'Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set',
    );
  if (u.CpuQuota > 0 && cur.NanoCpus > 0)
    conflict('CpuQuota', 'Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  const n: Resources = { ...cur };
  if (u.BlkioWeight !== 0) n.BlkioWeight = u.BlkioWeight;
  if (u.CpuShares !== 0) n.CpuShares = u.CpuShares;
  if (u.NanoCpus !== 0) n.NanoCpus = u.NanoCpus;
  if (u.CpuPeriod !== 0) n.CpuPeriod = u.CpuPeriod;
  if (u.CpuQuota !== 0) n.CpuQuota = u.CpuQuota;
  if (u.CpusetCpus !== '') n.CpusetCpus = u.CpusetCpus;
  if (u.CpusetMems !== '') n.CpusetMems = u.CpusetMems;
  if (u.Memory !== 0) {
    if (u.Memory > cur.MemorySwap && u.MemorySwap === 0)
      conflict(
        'Memory',
        'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time',
      );
    n.Memory = u.Memory;
  }
  if (u.MemorySwap !== 0) n.MemorySwap = u.MemorySwap;
  if (u.MemoryReservation !== 0) n.MemoryReservation = u.MemoryReservation;
  if (u.PidsLimit !== null) n.PidsLimit = u.PidsLimit;
  return n;
}

/**
 * updateLinuxResources is the LinuxResources sent to Tasks.Update for an update body (moby
 * `toContainerdResources`): only what the body changes (runc leaves zero values alone). Unlike
 * dockerd, MemorySwap -1 is sent too, so that the live limit matches what inspect then shows.
 */
export function updateLinuxResources(u: Resources): LinuxResources {
  const out: LinuxResources = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (u.Memory > 0) memory.limit = u.Memory;
  if (u.MemoryReservation > 0) memory.reservation = u.MemoryReservation;
  if (u.MemorySwap !== 0) memory.swap = u.MemorySwap;
  if (Object.keys(memory).length > 0) out.memory = memory;
  const cpu = cpuOf(u);
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (u.BlkioWeight > 0) out.blockIO = { weight: u.BlkioWeight };
  if (u.PidsLimit !== null) out.pids = { limit: u.PidsLimit <= 0 ? -1 : u.PidsLimit };
  return out;
}

/** validateRestartPolicy checks a restart policy as dockerd's `validateRestartPolicy`. */
export function validateRestartPolicy(p: unknown, prefix = 'HostConfig.'): RestartPolicy | undefined {
  if (p === undefined || p === null) return undefined;
  if (typeof p !== 'object' || Array.isArray(p)) bad(prefix, 'RestartPolicy', 'must be an object');
  const o = p as Raw;
  const name = str(`${prefix}RestartPolicy.`, o, 'Name');
  const max = int(`${prefix}RestartPolicy.`, o, 'MaximumRetryCount');
  switch (name) {
    case 'always':
    case 'unless-stopped':
    case 'no':
      if (max !== 0)
        bad(prefix, 'RestartPolicy', `maximum retry count cannot be used with restart policy '${name}'`);
      break;
    case 'on-failure':
      if (max < 0) bad(prefix, 'RestartPolicy', 'maximum retry count cannot be negative');
      break;
    case '':
      return undefined;
    default:
      bad(prefix, 'RestartPolicy', `invalid restart policy '${name}'`);
  }
  return { Name: name, MaximumRetryCount: max };
}

// ---- the create and update steps the engine calls ----

/** CreateResources are a create request's resources, checked and turned into spec parts. */
export interface CreateResources {
  /** record is the normalised resource fields to keep in the container record (inspect shows them). */
  record: Resources;
  spec: ResourceSpec;
  warnings: string[];
}

/**
 * resourcesForCreate reads, verifies, adapts and builds a create request's HostConfig resources
 * (InvalidArgumentError naming the field for anything ckptd cannot apply on this host).
 */
export function resourcesForCreate(hc: Raw, host: ResourceHost): CreateResources {
  const r = readResources(hc, 'HostConfig.');
  const warnings = verifyResources(r, host.sys, 'HostConfig.');
  adaptResources(r);
  return { record: r, spec: buildResources(r, host.devices), warnings };
}

/** DOCKER_RESOURCES_FIELDS are the JSON names of Docker's `container.Resources` (API 1.47). */
const DOCKER_RESOURCES_FIELDS = new Set([
  'CpuShares',
  'Memory',
  'NanoCpus',
  'CgroupParent',
  'BlkioWeight',
  'BlkioWeightDevice',
  'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps',
  'BlkioDeviceReadIOps',
  'BlkioDeviceWriteIOps',
  'CpuPeriod',
  'CpuQuota',
  'CpuRealtimePeriod',
  'CpuRealtimeRuntime',
  'CpusetCpus',
  'CpusetMems',
  'Devices',
  'DeviceCgroupRules',
  'DeviceRequests',
  'KernelMemory',
  'KernelMemoryTCP',
  'MemoryReservation',
  'MemorySwap',
  'MemorySwappiness',
  'OomKillDisable',
  'PidsLimit',
  'Ulimits',
  'CpuCount',
  'CpuPercent',
  'IOMaximumIOps',
  'IOMaximumBandwidth',
]);

/** UpdateResources is a checked `docker update` body. */
export interface UpdateResources {
  /** changes are the body's resources (zero = unchanged). */
  changes: Resources;
  /** restartPolicy is the new policy, when the body names one. */
  restartPolicy?: RestartPolicy;
  warnings: string[];
}

/**
 * checkUpdateBody reads a `POST /containers/{id}/update` body (Docker's `container.UpdateConfig`:
 * Resources plus RestartPolicy) as dockerd's `ContainerUpdate`: the resources are verified with
 * `update` set. A set field `docker update` cannot change (Devices, Ulimits, CgroupParent, ...:
 * dockerd drops them silently) or ckptd refuses (KernelMemory, CpuRealtime*, ...) is a 400
 * naming it, as is an unknown field; a field the client left at its zero value is unset.
 */
export function checkUpdateBody(body: Raw, sys: SysInfo): UpdateResources {
  for (const [f, v] of Object.entries(body)) {
    if (f === 'RestartPolicy' || isZero(f, v) || UPDATABLE_FIELDS.has(f)) continue;
    if (!DOCKER_RESOURCES_FIELDS.has(f))
      bad('', f, 'unknown field (not part of Docker API 1.47 UpdateConfig)');
    const d = HOST_CONFIG_FIELDS[f];
    if (d !== undefined && d.kind === 'refused') bad('', f, d.why);
    bad(
      '',
      f,
      'cannot be changed by docker update (dockerd ignores it there); recreate the container to change it',
    );
  }
  const changes = readResources(body, '', true);
  const warnings = verifyResources(changes, sys, '', true);
  const restartPolicy = validateRestartPolicy(body.RestartPolicy, '');
  return { changes, warnings, ...(restartPolicy ? { restartPolicy } : {}) };
}

/**
 * specResourcesAfterUpdate is a container spec's `linux.resources` once `merged` is in force:
 * memory, cpu, pids and the blkio weight from `merged`; the device rules and blkio device lists
 * (which update cannot change) kept from `old`.
 */
export function specResourcesAfterUpdate(old: LinuxResources, merged: Resources): LinuxResources {
  const out: LinuxResources = {};
  if (old.devices !== undefined) out.devices = old.devices;
  const memory = memoryOf(merged);
  if (Object.keys(memory).length > 0) out.memory = memory;
  const cpu = cpuOf(merged);
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (merged.PidsLimit !== null && merged.PidsLimit > 0) out.pids = { limit: merged.PidsLimit };
  const { weight: _w, ...lists } = old.blockIO ?? {};
  const blockIO = { ...lists, ...(merged.BlkioWeight > 0 ? { weight: merged.BlkioWeight } : {}) };
  if (Object.keys(blockIO).length > 0) out.blockIO = blockIO;
  return out;
}
