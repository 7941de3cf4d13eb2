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
import {
  checkDeviceMapping,
  checkUlimit,
  devicesFromPath,
  blockDevice,
  parseDeviceCgroupRule,
} from './devices.js';
import type { LinuxDeviceCgroup, POSIXRlimit, RuntimeSpec } from './runtime-spec.js';
import type { LinuxDevice } from './confinement.js';
export type { LinuxDevice } from './confinement.js';

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

/** LINUX_MIN_MEMORY is moby's `linuxMinMemory` (6 MiB). */
export const LINUX_MIN_MEMORY = 6 * 1024 * 1024;
/** CPU_SHARES_MIN and CPU_SHARES_MAX are the kernel's cpu.shares bounds (runc checks them). */
export const CPU_SHARES_MIN = 2;
export const CPU_SHARES_MAX = 262144;
/** CFS_PERIOD_US is the period NanoCpus is expressed in (100 ms). */
export const CFS_PERIOD_US = 100_000;

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

/** Raw is a request object as decoded from JSON. */
export type Raw = Record<string, unknown>;

/** fieldError is the InvalidArgumentError naming a field: `<prefix><field>: <why>`. */
export function fieldError(prefix: string, field: string, why: string): never {
  throw new InvalidArgumentError(`${prefix}${field}: ${why}`);
}

/** readInt reads an integer field (absent or null: `def`); 400 naming it otherwise. */
export function readInt(prefix: string, o: Raw, f: string, def = 0): number {
  const v = o[f];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    fieldError(prefix, f, `must be an integer, not ${JSON.stringify(v)}`);
  return v;
}

/** readString reads a string field (absent or null: ''); 400 naming it otherwise. */
export function readString(prefix: string, o: Raw, f: string): string {
  const v = o[f];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fieldError(prefix, f, `must be a string, not ${JSON.stringify(v)}`);
  return v;
}

function list(prefix: string, o: Raw, f: string): Raw[] {
  const v = o[f];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fieldError(prefix, f, 'must be an array');
  return v.map((e: unknown, i) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e))
      fieldError(prefix, `${f}[${i}]`, 'must be an object');
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
    memorySwappiness = readInt(prefix, hc, 'MemorySwappiness');
    if (memorySwappiness === -1) memorySwappiness = null;
  }
  const oom = hc.OomKillDisable;
  if (oom !== undefined && oom !== null && typeof oom !== 'boolean')
    fieldError(prefix, 'OomKillDisable', 'must be a boolean');
  let pids: number | null = null;
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null) {
    pids = readInt(prefix, hc, 'PidsLimit');
    if (pids <= 0) pids = update ? 0 : null;
  }
  const throttle = (f: string): ThrottleDevice[] =>
    list(prefix, hc, f).map((e, i) => ({
      Path: readString(`${prefix}${f}[${i}].`, e, 'Path'),
      Rate: readInt(`${prefix}${f}[${i}].`, e, 'Rate'),
    }));
  const rules = hc.DeviceCgroupRules;
  if (
    rules !== undefined &&
    rules !== null &&
    (!Array.isArray(rules) || rules.some((r) => typeof r !== 'string'))
  )
    fieldError(prefix, 'DeviceCgroupRules', 'must be an array of strings');
  return {
    Memory: readInt(prefix, hc, 'Memory'),
    MemorySwap: readInt(prefix, hc, 'MemorySwap'),
    MemoryReservation: readInt(prefix, hc, 'MemoryReservation'),
    MemorySwappiness: memorySwappiness,
    OomKillDisable: typeof oom === 'boolean' ? oom : null,
    NanoCpus: readInt(prefix, hc, 'NanoCpus'),
    CpuShares: readInt(prefix, hc, 'CpuShares'),
    CpuPeriod: readInt(prefix, hc, 'CpuPeriod'),
    CpuQuota: readInt(prefix, hc, 'CpuQuota'),
    CpusetCpus: readString(prefix, hc, 'CpusetCpus'),
    CpusetMems: readString(prefix, hc, 'CpusetMems'),
    PidsLimit: pids,
    BlkioWeight: readInt(prefix, hc, 'BlkioWeight'),
    BlkioWeightDevice: list(prefix, hc, 'BlkioWeightDevice').map((e, i) => ({
      Path: readString(`${prefix}BlkioWeightDevice[${i}].`, e, 'Path'),
      Weight: readInt(`${prefix}BlkioWeightDevice[${i}].`, e, 'Weight'),
    })),
    BlkioDeviceReadBps: throttle('BlkioDeviceReadBps'),
    BlkioDeviceWriteBps: throttle('BlkioDeviceWriteBps'),
    BlkioDeviceReadIOps: throttle('BlkioDeviceReadIOps'),
    BlkioDeviceWriteIOps: throttle('BlkioDeviceWriteIOps'),
    CgroupParent: readString(prefix, hc, 'CgroupParent'),
    OomScoreAdj: readInt(prefix, hc, 'OomScoreAdj'),
    Ulimits: list(prefix, hc, 'Ulimits').map((e, i) => ({
      Name: readString(`${prefix}Ulimits[${i}].`, e, 'Name'),
      Soft: readInt(`${prefix}Ulimits[${i}].`, e, 'Soft'),
      Hard: readInt(`${prefix}Ulimits[${i}].`, e, 'Hard'),
    })),
    Devices: list(prefix, hc, 'Devices').map((e, i) => ({
      PathOnHost: readString(`${prefix}Devices[${i}].`, e, 'PathOnHost'),
      PathInContainer: readString(`${prefix}Devices[${i}].`, e, 'PathInContainer'),
      CgroupPermissions: readString(`${prefix}Devices[${i}].`, e, 'CgroupPermissions'),
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
  const fail = (f: string, why: string): never => fieldError(prefix, f, why);

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

// ---- building the spec parts ----

/** linuxMemory is the OCI memory section of resources. */
export function linuxMemory(r: Resources): NonNullable<LinuxResources['memory']> {
  const m: NonNullable<LinuxResources['memory']> = {};
  if (r.Memory > 0) m.limit = r.Memory;
  if (r.MemoryReservation > 0) m.reservation = r.MemoryReservation;
  if (r.MemorySwap > 0) m.swap = r.MemorySwap;
  if (r.MemorySwappiness !== null) m.swappiness = r.MemorySwappiness;
  if (r.OomKillDisable !== null) m.disableOOMKiller = r.OomKillDisable;
  return m;
}

/** linuxCpu is the OCI cpu section of resources (NanoCpus as quota over a 100 ms period). */
export function linuxCpu(r: Resources): NonNullable<LinuxResources['cpu']> {
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
      return fieldError(prefix, f, (err as Error).message);
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
  const memory = linuxMemory(r);
  if (Object.keys(memory).length > 0) resources.memory = memory;
  const cpu = linuxCpu(r);
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
