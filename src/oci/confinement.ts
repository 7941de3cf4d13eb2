/**
 * A container's confinement, applied to its OCI spec the way moby's createSpec does it
 * (daemon/oci_linux.go: WithCapabilities, WithSeccomp, WithDevices, withMounts' privileged
 * branch, WithNoNewPrivileges, WithMaskedPaths/WithReadonlyPaths): capabilities from
 * CapAdd/CapDrop/Privileged, seccomp from SecurityOpt (default profile, unconfined or a custom
 * profile, none when privileged), no_new_privs, masked and read-only paths, and for a privileged
 * container every host device, an allow-all device cgroup and writable /sys and cgroup mounts.
 * Pure: host facts (capabilities, arch, kernel, /dev) come from the caller.
 */
import { hostArchitecture } from '../host/platform.js';
import os from 'node:os';
import { InternalError, InvalidArgumentError } from '../errors/index.js';
import { hostCapabilitiesFromStatus, tweakCapabilities, type HostCapabilities } from './capabilities.js';
import type { RuntimeSpec } from './runtime-spec.js';
import { defaultSeccomp, loadSeccompProfile, parseKernelRelease, type KernelVersion } from './seccomp.js';
import { parseSecurityOpt } from './security-opt.js';

/** LinuxDevice is an OCI `linux.devices` entry (a node runc creates in the container's /dev). */
export interface LinuxDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** ConfinementHost are the host facts confinement depends on. */
export interface ConfinementHost {
  capabilities: HostCapabilities;
  /** goArch is the host's GOARCH (amd64, arm64, ...). */
  goArch: string;
  kernel: KernelVersion;
  /** devices lists the host's /dev (moby `HostDevices()`); needed only for privileged containers. */
  devices?: readonly LinuxDevice[];
}

/** ConfinementRequest is the part of HostConfig that decides confinement. */
export interface ConfinementRequest {
  Privileged?: boolean;
  CapAdd?: readonly unknown[] | null;
  CapDrop?: readonly unknown[] | null;
  SecurityOpt?: readonly unknown[] | null;
  MaskedPaths?: readonly unknown[] | null;
  ReadonlyPaths?: readonly unknown[] | null;
}

/**
 * processConfinementHost describes the running process's host from `process.arch`, the kernel
 * release and, when given, /proc/self/status and /proc/sys/kernel/cap_last_cap texts (without
 * them every known capability counts as available). Used when the caller gives no host.
 */
export function processConfinementHost(status?: string, capLastCap?: string): ConfinementHost {
  return {
    capabilities: hostCapabilitiesFromStatus(status ?? '', capLastCap),
    goArch: hostArchitecture(),
    kernel: parseKernelRelease(os.release()),
  };
}

function pathList(v: readonly unknown[], field: string): string[] {
  return v.map((p) => {
    if (typeof p !== 'string' || !p.startsWith('/')) {
      throw new InvalidArgumentError(`${field}: ${JSON.stringify(p)} is not an absolute path`);
    }
    return p;
  });
}

function clearReadOnly(options: string[]): string[] {
  return options.filter((o) => o !== 'ro');
}

/**
 * applyConfinement sets the spec's capabilities, seccomp, noNewPrivileges, masked/read-only
 * paths and (privileged) devices from `req`, in moby's order: capabilities first (the seccomp
 * profile's capability filters read the final bounding set), then seccomp, then the paths (an
 * explicit MaskedPaths/ReadonlyPaths wins, even over privileged). It runs after the mounts are
 * built, so a privileged container's /sys and cgroup mounts lose `ro` even with a read-only
 * rootfs, as in moby. Errors are InvalidArgumentError naming the HostConfig field.
 */
export function applyConfinement(spec: RuntimeSpec, req: ConfinementRequest, host: ConfinementHost): void {
  const privileged = req.Privileged === true;
  const sec = parseSecurityOpt(req.SecurityOpt);

  const caps = tweakCapabilities(req, host.capabilities);
  spec.process.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
  spec.process.noNewPrivileges = sec.noNewPrivileges;

  delete spec.linux.seccomp;
  const wanted = sec.seccomp;
  if (!privileged && wanted !== 'unconfined') {
    const target = { goArch: host.goArch, kernel: host.kernel, bounding: caps };
    const seccomp =
      wanted === 'default'
        ? defaultSeccomp(target)
        : prefixed(() => loadSeccompProfile(wanted.profile, target));
    if (seccomp !== undefined) spec.linux.seccomp = seccomp;
  }

  if (privileged) {
    if (host.devices === undefined)
      throw new InternalError('privileged container: host devices were not listed');
    // every host device, then the user's --device mappings (moby WithDevices); cgroup rules give way to allow-all
    const mapped = spec.linux.devices;
    const paths = new Set(mapped.map((d) => d.path));
    spec.linux.devices = [
      ...host.devices.filter((d) => !paths.has(d.path)).map((d) => ({ ...d })),
      ...mapped,
    ];
    spec.linux.resources.devices = [{ allow: true, access: 'rwm' }];
    for (const m of spec.mounts) {
      if ((m.destination === '/sys' && m.type === 'sysfs') || m.type === 'cgroup' || m.type === 'cgroup2') {
        m.options = clearReadOnly(m.options);
      }
    }
    spec.linux.maskedPaths = [];
    spec.linux.readonlyPaths = [];
  }
  if (sec.systemPathsUnconfined) {
    spec.linux.maskedPaths = [];
    spec.linux.readonlyPaths = [];
  }
  if (req.MaskedPaths !== undefined && req.MaskedPaths !== null) {
    spec.linux.maskedPaths = pathList(req.MaskedPaths, 'HostConfig.MaskedPaths');
  }
  if (req.ReadonlyPaths !== undefined && req.ReadonlyPaths !== null) {
    spec.linux.readonlyPaths = pathList(req.ReadonlyPaths, 'HostConfig.ReadonlyPaths');
  }
}

function prefixed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError && !err.message.startsWith('HostConfig.')) {
      throw new InvalidArgumentError(`HostConfig.SecurityOpt: seccomp: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * recordedPaths returns HostConfig.MaskedPaths/ReadonlyPaths as dockerd records them at create
 * (what `docker inspect` shows): the paths in force when the request left them null on a
 * non-privileged container, else the request's own value (null for privileged).
 */
export function recordedPaths(
  req: ConfinementRequest,
  spec: RuntimeSpec,
): { MaskedPaths: string[] | null; ReadonlyPaths: string[] | null } {
  const privileged = req.Privileged === true;
  const pick = (v: readonly unknown[] | null | undefined, inForce: string[]): string[] | null =>
    v !== undefined && v !== null ? [...inForce] : privileged ? null : [...inForce];
  return {
    MaskedPaths: pick(req.MaskedPaths, spec.linux.maskedPaths),
    ReadonlyPaths: pick(req.ReadonlyPaths, spec.linux.readonlyPaths),
  };
}
