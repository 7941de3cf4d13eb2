/**
 * The namespace options of a Docker container (HostConfig IpcMode, PidMode, UTSMode,
 * CgroupnsMode, ShmSize), validated and applied to the OCI spec as moby applies them
 * (`daemon/oci_linux.go` WithNamespaces and WithMounts, `daemon/container_operations_unix.go`
 * setupIpcDirs, `daemon/daemon_unix.go` adaptContainerSettings, `runconfig/hostconfig_unix.go`).
 * Joining another container's namespace needs that container's pid, known only when this one
 * starts: the engine calls joinNamespaces then.
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { Mount, RuntimeSpec } from './runtime-spec.js';

/** DEFAULT_IPC_MODE is dockerd's `default-ipc-mode` since 20.10. */
export const DEFAULT_IPC_MODE = 'private';

/** NamespaceModes are the namespace settings in force for a container, as inspect shows them. */
export interface NamespaceModes {
  /** IpcMode: private, shareable, host, none or `container:<id>`. */
  IpcMode: string;
  /** PidMode: '' (private), host or `container:<id>`. */
  PidMode: string;
  /** UTSMode: '' (private) or host. */
  UTSMode: string;
  /** CgroupnsMode: private or host. */
  CgroupnsMode: 'private' | 'host';
}

/** NamespaceModesInput is the part of a create request the modes are read from. */
export interface NamespaceModesInput {
  IpcMode?: unknown;
  PidMode?: unknown;
  UTSMode?: unknown;
  CgroupnsMode?: unknown;
  ShmSize?: unknown;
}

function str(field: string, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new InvalidArgumentError(`HostConfig.${field}: must be a string`);
  return v;
}

/** containerOf returns the container named by a `container:<name|id>` mode, else undefined. */
export function containerOf(mode: string): string | undefined {
  return mode.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

/**
 * checkNamespaceModes validates the namespace modes of a create request and fills dockerd's
 * defaults: IpcMode `private`, CgroupnsMode `private` on cgroup v2 and `host` on v1. Errors are
 * InvalidArgumentError naming the field with dockerd's wording (`invalid IPC mode: x`,
 * `conflicting options: hostname and the UTS mode`, `SHM size can not be less than 0`).
 * `hostname` and `domainname` are the request's own (before ckptd's defaults).
 */
export function checkNamespaceModes(
  hc: NamespaceModesInput,
  config: { Hostname?: unknown; Domainname?: unknown },
  cgroupVersion: 1 | 2,
): NamespaceModes {
  const ipc = str('IpcMode', hc.IpcMode);
  const ipcOk = ['', 'none', 'private', 'host', 'shareable'].includes(ipc) || (containerOf(ipc) ?? '') !== '';
  if (!ipcOk) throw new InvalidArgumentError(`HostConfig.IpcMode: invalid IPC mode: ${ipc}`);

  const pid = str('PidMode', hc.PidMode);
  const pidOk =
    pid === '' || pid === 'host' || (/^container:[^:]+$/.test(pid) && (containerOf(pid) ?? '') !== '');
  if (!pidOk) throw new InvalidArgumentError(`HostConfig.PidMode: invalid PID mode: ${pid}`);

  const uts = str('UTSMode', hc.UTSMode);
  if (uts !== '' && uts !== 'host')
    throw new InvalidArgumentError(`HostConfig.UTSMode: invalid UTS mode: ${uts}`);
  if (uts === 'host' && typeof config.Hostname === 'string' && config.Hostname !== '') {
    throw new InvalidArgumentError('HostConfig.UTSMode: conflicting options: hostname and the UTS mode');
  }
  if (uts === 'host' && typeof config.Domainname === 'string' && config.Domainname !== '') {
    // dockerd passes it to runc as the kernel.domainname sysctl, which runc refuses outside a UTS namespace
    throw new InvalidArgumentError('HostConfig.UTSMode: conflicting options: domainname and the UTS mode');
  }

  const cgroupns = str('CgroupnsMode', hc.CgroupnsMode);
  if (cgroupns !== '' && cgroupns !== 'private' && cgroupns !== 'host') {
    throw new InvalidArgumentError(`HostConfig.CgroupnsMode: invalid cgroup namespace mode: ${cgroupns}`);
  }

  const shm = hc.ShmSize;
  if (shm !== undefined && shm !== null) {
    if (typeof shm !== 'number' || !Number.isInteger(shm))
      throw new InvalidArgumentError('HostConfig.ShmSize: must be an integer');
    if (shm < 0) throw new InvalidArgumentError('HostConfig.ShmSize: SHM size can not be less than 0');
  }

  return {
    IpcMode: ipc === '' ? DEFAULT_IPC_MODE : ipc,
    PidMode: pid,
    UTSMode: uts,
    CgroupnsMode: cgroupns === '' ? (cgroupVersion === 2 ? 'private' : 'host') : cgroupns,
  };
}

/** HOST_SHM is the host's /dev/shm, bound into `--ipc host` containers. */
export const HOST_SHM = '/dev/shm';

function shmBind(source: string): Mount {
  // moby IpcMounts: writable, default propagation
  return { destination: '/dev/shm', type: 'bind', source, options: ['rbind', 'rprivate'] };
}

/**
 * applyNamespaceModes changes a spec built with Docker's default namespaces (pid, ipc, uts,
 * mount, network unless host, cgroup) and /dev/shm tmpfs to the given modes, as moby's
 * WithNamespaces and WithMounts: host modes drop the namespace (UTS host also clears the
 * hostname), private cgroupns adds a cgroup namespace and host removes it; IpcMode none drops
 * /dev/shm, shareable binds `shmPath` (the host tmpfs the engine mounts at start), host binds
 * the host's /dev/shm. A /dev/shm the user mounts (Binds, Mounts, Tmpfs) is left alone, as
 * moby skips its IPC mount then. `container:` modes keep a namespace entry without a path
 * until joinNamespaces fills it in at start.
 */
export function applyNamespaceModes(spec: RuntimeSpec, modes: NamespaceModes, shmPath?: string): void {
  const drop = (type: string) => {
    spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== type);
  };
  const ensure = (type: 'ipc' | 'pid' | 'uts' | 'cgroup') => {
    if (!spec.linux.namespaces.some((n) => n.type === type)) spec.linux.namespaces.push({ type });
  };
  // The default /dev/shm is the tmpfs named `shm`; a user mount there has another source or type.
  const shmIndex = spec.mounts.findIndex(
    (m) => m.destination === '/dev/shm' && m.type === 'tmpfs' && m.source === 'shm',
  );
  const ipc = modes.IpcMode;
  if (ipc === 'host') {
    drop('ipc');
    if (shmIndex >= 0) spec.mounts[shmIndex] = shmBind(HOST_SHM);
  } else {
    ensure('ipc');
    if (ipc === 'none' && shmIndex >= 0) spec.mounts.splice(shmIndex, 1);
    if (ipc === 'shareable' && shmIndex >= 0) {
      if (shmPath === undefined || !shmPath.startsWith('/'))
        throw new InvalidArgumentError('HostConfig.IpcMode: shareable needs the host path of its /dev/shm');
      spec.mounts[shmIndex] = shmBind(shmPath);
    }
  }
  if (modes.PidMode === 'host') drop('pid');
  else ensure('pid');
  if (modes.UTSMode === 'host') {
    drop('uts');
    spec.hostname = '';
    delete spec.domainname;
  } else ensure('uts');
  if (modes.CgroupnsMode === 'private') ensure('cgroup');
  else drop('cgroup');
}

/** JoinTargets are the running containers whose namespaces a starting container joins. */
export interface JoinTargets {
  /**
   * ipc: the donor's init pid and the host path of its /dev/shm; `ownShm` is false when the
   * user mounted something at /dev/shm, which then stays (moby skips its IPC mount).
   */
  ipc?: { pid: number; shmPath: string; ownShm: boolean };
  /** pid: the init pid of the container whose PID namespace is joined. */
  pid?: { pid: number };
}

/**
 * joinNamespaces returns a copy of a stored spec with the `container:` namespaces pointed at
 * the running donors (`/proc/<pid>/ns/ipc`, `/proc/<pid>/ns/pid`) and, for IPC, the donor's
 * /dev/shm bound in place of the container's own, as moby does at each start. It is
 * idempotent: a spec joined before is re-pointed.
 */
export function joinNamespaces(spec: RuntimeSpec, targets: JoinTargets): RuntimeSpec {
  const out = structuredClone(spec);
  const setPath = (type: 'ipc' | 'pid', pid: number) => {
    if (!Number.isInteger(pid) || pid <= 0) throw new InvalidArgumentError(`invalid pid to join: ${pid}`);
    const path = `/proc/${pid}/ns/${type}`;
    const n = out.linux.namespaces.find((x) => x.type === type);
    if (n) n.path = path;
    else out.linux.namespaces.push({ type, path });
  };
  if (targets.ipc) {
    setPath('ipc', targets.ipc.pid);
    if (targets.ipc.ownShm) {
      const bind = shmBind(targets.ipc.shmPath);
      const i = out.mounts.findIndex((m) => m.destination === '/dev/shm');
      if (i >= 0) out.mounts[i] = bind;
      else out.mounts.push(bind);
    }
  }
  if (targets.pid) setPath('pid', targets.pid.pid);
  return out;
}

/** mountsDevShm tells whether the user's Binds, Mounts or Tmpfs put something at /dev/shm. */
export function mountsDevShm(destinations: readonly string[]): boolean {
  return destinations.some((d) => d.replace(/\/+$/, '') === '/dev/shm');
}
