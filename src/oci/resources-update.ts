/**
 * `docker update` as dockerd 20.10 does it (moby `daemon/update.go`, `container/container_unix.go`
 * `UpdateContainer`, `daemon/update_linux.go` `toContainerdResources`, `daemon/container.go`
 * `validateRestartPolicy`): an update body's resources merged into the container's, the
 * LinuxResources for the running task, and the spec resources kept for the next start.
 */
import { HOST_CONFIG_FIELDS, isZero } from './create-fields.js';
import {
  fieldError,
  linuxCpu,
  linuxMemory,
  readInt,
  readResources,
  readString,
  verifyResources,
  type LinuxResources,
  type Raw,
  type Resources,
  type SysInfo,
} from './resources.js';

/** RestartPolicy is `HostConfig.RestartPolicy`. */
export interface RestartPolicy {
  Name: string;
  MaximumRetryCount: number;
}

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

/**
 * mergeUpdate applies an update body's resources to the container's current ones as moby's
 * `Container.UpdateContainer`: a zero field keeps the current value; NanoCpus and CpuPeriod/
 * CpuQuota cannot replace each other; a memory limit above the current memory+swap needs a new
 * MemorySwap. Conflicts are InvalidArgumentError with dockerd's message.
 */
export function mergeUpdate(cur: Resources, u: Resources): Resources {
  const conflict = (f: string, m: string): never => fieldError('', f, m);
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
  const cpu = linuxCpu(u);
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (u.BlkioWeight > 0) out.blockIO = { weight: u.BlkioWeight };
  if (u.PidsLimit !== null) out.pids = { limit: u.PidsLimit <= 0 ? -1 : u.PidsLimit };
  return out;
}

/** validateRestartPolicy checks a restart policy as dockerd's `validateRestartPolicy`. */
export function validateRestartPolicy(p: unknown, prefix = 'HostConfig.'): RestartPolicy | undefined {
  if (p === undefined || p === null) return undefined;
  if (typeof p !== 'object' || Array.isArray(p)) fieldError(prefix, 'RestartPolicy', 'must be an object');
  const o = p as Raw;
  const name = readString(`${prefix}RestartPolicy.`, o, 'Name');
  const max = readInt(`${prefix}RestartPolicy.`, o, 'MaximumRetryCount');
  switch (name) {
    case 'always':
    case 'unless-stopped':
    case 'no':
      if (max !== 0)
        fieldError(
          prefix,
          'RestartPolicy',
          `maximum retry count cannot be used with restart policy '${name}'`,
        );
      break;
    case 'on-failure':
      if (max < 0) fieldError(prefix, 'RestartPolicy', 'maximum retry count cannot be negative');
      break;
    case '':
      return undefined;
    default:
      fieldError(prefix, 'RestartPolicy', `invalid restart policy '${name}'`);
  }
  return { Name: name, MaximumRetryCount: max };
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
      fieldError('', f, 'unknown field (not part of Docker API 1.47 UpdateConfig)');
    const d = HOST_CONFIG_FIELDS[f];
    if (d !== undefined && d.kind === 'refused') fieldError('', f, d.why);
    fieldError(
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
  const memory = linuxMemory(merged);
  if (Object.keys(memory).length > 0) out.memory = memory;
  const cpu = linuxCpu(merged);
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (merged.PidsLimit !== null && merged.PidsLimit > 0) out.pids = { limit: merged.PidsLimit };
  const { weight: _w, ...lists } = old.blockIO ?? {};
  const blockIO = { ...lists, ...(merged.BlkioWeight > 0 ? { weight: merged.BlkioWeight } : {}) };
  if (Object.keys(blockIO).length > 0) out.blockIO = blockIO;
  return out;
}
